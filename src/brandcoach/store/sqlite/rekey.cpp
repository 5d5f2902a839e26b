// Turning encryption at rest on or off for an existing SQLite store: a page-for-page copy through the
// SQLite backup API into a sibling file, checked, then renamed over the original.
#include <sqlite3.h>

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "brandcoach/store/sqlite/encrypted_vfs.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::store {
namespace {

namespace fs = std::filesystem;
using sqlite::DatabaseFormat;
using sqlite::EncryptedVfs;

class Handle {
 public:
  Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { close(); }
  sqlite3** out() { return &db_; }
  sqlite3* get() const { return db_; }
  void close() {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

Status open(Handle& handle, const std::string& path, int flags, const EncryptedVfs* vfs) {
  if (sqlite3_open_v2(path.c_str(), handle.out(), flags, vfs ? vfs->name().c_str() : nullptr) != SQLITE_OK)
    return Error::unavailable(fmt::format("cannot open {}: {}", path, sqlite3_errmsg(handle.get())));
  return ok();
}

Result<std::string> one_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK)
    return Error::unavailable(fmt::format("{}: {}", sql, sqlite3_errmsg(db)));
  std::string text;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0))
    text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
      return Error{ErrorKind::conflict,
                   "the database is in use: stop the server and other brandcoach commands first",
                   {}};
    }
    return Error::unavailable(fmt::format("{}: {}", sql, sqlite3_errmsg(db)));
  }
  return text;
}

void remove_with_companions(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix, ec);
}

// Copies every page of `source` into the new file `target` in one backup step (one read transaction,
// so one consistent moment of it) and checks the copy; any failure removes the copy. With
// `expected_pages`, the copy must also have that many pages (a source nobody else writes to).
Status copy_checked(sqlite3* source, const std::string& target, const EncryptedVfs* target_vfs,
                    const std::optional<std::string>& expected_pages) {
  Handle copy;
  if (auto status = open(copy, target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, target_vfs); !status)
    return status;
  sqlite3_backup* backup = sqlite3_backup_init(copy.get(), "main", source, "main");
  if (backup == nullptr)
    return Error::unavailable("cannot copy the database: " + std::string(sqlite3_errmsg(copy.get())));
  const int stepped = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (stepped != SQLITE_DONE) {
    copy.close();
    remove_with_companions(target);
    return Error::unavailable(fmt::format("copying the database failed: {}", sqlite3_errstr(stepped)));
  }
  auto check = one_text(copy.get(), "PRAGMA integrity_check");
  auto copied = one_text(copy.get(), "PRAGMA page_count");
  copy.close();
  if (!check || *check != "ok" || !copied || (expected_pages && *copied != *expected_pages)) {
    remove_with_companions(target);
    return Error::internal(
        fmt::format("the copy did not check out ({})", check ? *check : check.error().message));
  }
  return ok();
}

Status convert(const std::string& path, std::string_view key, bool encrypt) {
  switch (sqlite::database_format(path)) {
    case DatabaseFormat::missing:
      return Error::not_found("no database at " + path);
    case DatabaseFormat::unknown:
      return Error::invalid(path + " is neither a SQLite database nor an encrypted brandcoach store");
    case DatabaseFormat::encrypted:
      if (encrypt) return Error{ErrorKind::conflict, path + " is encrypted already", {}};
      break;
    case DatabaseFormat::plain:
      if (!encrypt) return Error{ErrorKind::conflict, path + " is not encrypted", {}};
      break;
  }
  const std::string target = path + ".converting";
  remove_with_companions(target);  // left by an interrupted run; the original is still whole

  std::unique_ptr<EncryptedVfs> source_vfs;
  std::unique_ptr<EncryptedVfs> target_vfs;
  auto& keyed = encrypt ? target_vfs : source_vfs;
  auto created = EncryptedVfs::create(encrypt ? target : path, key);
  if (!created) return created.error();
  keyed = std::move(created).value();

  Handle source;
  if (auto status = open(source, path, SQLITE_OPEN_READWRITE, source_vfs.get()); !status) return status;
  // Held until the copy has replaced the file: no other process writes to the old one meanwhile.
  // Leaving WAL mode folds the log into the file and deletes it, so no log of the old file is left
  // beside the new one (the store turns WAL on again when it opens the copy).
  for (const char* sql :
       {"PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE", "COMMIT", "PRAGMA journal_mode=DELETE"}) {
    if (auto done = one_text(source.get(), sql); !done) return done.error();
  }
  auto pages = one_text(source.get(), "PRAGMA page_count");
  if (!pages) return pages.error();

  if (auto copied = copy_checked(source.get(), target, target_vfs.get(), *pages); !copied) {
    return Error{copied.error().kind, copied.error().message + "; the original is unchanged", {}};
  }
  std::error_code ec;
  fs::rename(target, path, ec);
  if (ec) {
    remove_with_companions(target);
    return Error::unavailable(fmt::format("cannot replace {}: {}", path, ec.message()));
  }
  return ok();
}

}  // namespace

Status backup_sqlite_file(const std::string& path, std::string_view key, const std::string& destination) {
  const auto format = sqlite::database_format(path);
  if (format == DatabaseFormat::missing) return Error::not_found("no database at " + path);
  if (std::error_code ec; fs::exists(destination, ec))
    return Error{ErrorKind::conflict, destination + " exists already; back up to a new file", {}};
  std::unique_ptr<EncryptedVfs> source_vfs;
  std::unique_ptr<EncryptedVfs> target_vfs;
  if (!key.empty()) {
    auto source = EncryptedVfs::create(path, key);
    if (!source) return source.error();
    source_vfs = std::move(source).value();
    auto target = EncryptedVfs::create(destination, key);
    if (!target) return target.error();
    target_vfs = std::move(target).value();
  } else if (format == DatabaseFormat::encrypted) {
    return Error::config(path + " is encrypted: set storage.encryption_key", "storage.encryption_key");
  }
  Handle source;
  if (auto status = open(source, path, SQLITE_OPEN_READONLY, source_vfs.get()); !status) return status;
  sqlite3_busy_timeout(source.get(), 10000);
  // The server may go on writing: the copy is of one moment, whatever the page count is by then.
  if (auto copied = copy_checked(source.get(), destination, target_vfs.get(), std::nullopt); !copied) {
    return Error{
        copied.error().kind, "the backup failed: " + copied.error().message + "; nothing was written", {}};
  }
  return ok();
}

Status encrypt_sqlite_file(const std::string& path, std::string_view key) {
  return convert(path, key, true);
}

Status decrypt_sqlite_file(const std::string& path, std::string_view key) {
  return convert(path, key, false);
}

}  // namespace brandcoach::store
