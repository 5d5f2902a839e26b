// Encryption at rest of the SQLite store: nothing readable reaches the file, the right key opens it,
// any other key (or none) is refused with a clear error, and SQLite keeps all its guarantees through
// the encrypting VFS (rollback, every journal mode, odd page sizes, readers beside a writer).
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <cstddef>
#include <memory>

#include <gtest/gtest.h>

#include "brandcoach/store/sqlite/encrypted_vfs.hpp"
#include "brandcoach/store/store.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::store {
namespace {

using brandcoach::testing::TempDir;
namespace fs = std::filesystem;

constexpr const char* kHexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
constexpr const char* kSecret = "Zanzibar marmalade";

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every byte the store left in its folder, all files together.
std::string folder_bytes(const fs::path& folder) {
  std::string all;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) all += file_bytes(entry.path());
  }
  return all;
}

Message said(int64_t user_id, std::string text) {
  Message m;
  m.user_id = user_id;
  m.role = "user";
  m.text = std::move(text);
  return m;
}

// Writes enough messages that pages move from the WAL into the database file, then closes.
void write_secrets(const std::string& path, const std::string& key) {
  auto store = open_sqlite({path, 2, 10000, key});
  ASSERT_TRUE(store) << store.error().message;
  auto user = (*store)->ensure_user("dana");
  ASSERT_TRUE(user) << user.error().message;
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE((*store)->append_message(said(user->id, std::string(kSecret) + " jar " + std::to_string(i))));
  }
}

TEST(EncryptedStore, WritesNoPlaintextAndReadsBackWithTheKey) {
  TempDir plain_dir;
  write_secrets((plain_dir / "plain.sqlite3").string(), "");
  // The check below can fail: a plain store does hold the words.
  EXPECT_NE(folder_bytes(plain_dir.path()).find(kSecret), std::string::npos);

  for (const std::string& key : {std::string(kHexKey), std::string("correct horse battery staple")}) {
    TempDir dir;
    const std::string path = (dir / "brandcoach.sqlite3").string();
    write_secrets(path, key);
    const std::string bytes = folder_bytes(dir.path());
    EXPECT_EQ(bytes.find(kSecret), std::string::npos) << "plaintext in the encrypted store's files";
    EXPECT_EQ(bytes.find("Zanzibar"), std::string::npos);
    EXPECT_EQ(bytes.find("SQLite format 3"), std::string::npos);
    EXPECT_EQ(sqlite::database_format(path), sqlite::DatabaseFormat::encrypted);

    auto store = open_sqlite({path, 2, 10000, key});
    ASSERT_TRUE(store) << store.error().message;
    auto user = (*store)->ensure_user("dana");
    ASSERT_TRUE(user);
    auto recent = (*store)->recent_messages(user->id, 500);
    ASSERT_TRUE(recent) << recent.error().message;
    ASSERT_EQ(recent->size(), 400u);
    EXPECT_EQ(recent->back().text, std::string(kSecret) + " jar 399");
  }
}

TEST(EncryptedStore, RefusesAWrongKeyNoKeyAndAKeyForAPlainFile) {
  TempDir dir;
  const std::string path = (dir / "brandcoach.sqlite3").string();
  write_secrets(path, kHexKey);
  const std::string before = file_bytes(path);

  auto wrong =
      open_sqlite({path, 1, 10000, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::invalid_config);
  EXPECT_NE(wrong.error().message.find("wrong key"), std::string::npos) << wrong.error().message;

  auto none = open_sqlite({path, 1, 10000, ""});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::invalid_config);
  EXPECT_NE(none.error().message.find("is encrypted"), std::string::npos) << none.error().message;
  EXPECT_EQ(file_bytes(path), before) << "a refused open changed the file";

  const std::string plain = (dir / "plain.sqlite3").string();
  write_secrets(plain, "");
  auto keyed = open_sqlite({plain, 1, 10000, kHexKey});
  ASSERT_FALSE(keyed);
  EXPECT_EQ(keyed.error().kind, ErrorKind::invalid_config);
  EXPECT_NE(keyed.error().message.find("plain SQLite database"), std::string::npos) << keyed.error().message;

  auto right = open_sqlite({path, 1, 10000, kHexKey});
  ASSERT_TRUE(right) << right.error().message;
  auto user = (*right)->ensure_user("dana");
  ASSERT_TRUE(user);
  EXPECT_EQ((*right)->recent_messages(user->id, 1000)->size(), 400u);
}

// A raw connection through the encrypting VFS.
class RawEncrypted {
 public:
  RawEncrypted(const std::string& path, const std::string& vfs) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs.c_str()) !=
        SQLITE_OK)
      ADD_FAILURE() << "open: " << sqlite3_errmsg(db_);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawEncrypted() { sqlite3_close(db_); }
  RawEncrypted(const RawEncrypted&) = delete;
  RawEncrypted& operator=(const RawEncrypted&) = delete;

  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK)
      ADD_FAILURE() << sql << ": " << (message ? message : "?");
    sqlite3_free(message);
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out = "(error)";
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  }
  void put(int64_t id, const std::string& body) {
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO t (id, body) VALUES (?, ?)", -1, &stmt, nullptr);
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_blob(stmt, 2, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
    EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
  }
  std::map<int64_t, std::string> all() {
    std::map<int64_t, std::string> rows;
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db_, "SELECT id, body FROM t", -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, 1));
      rows[sqlite3_column_int64(stmt, 0)] = std::string(data ? data : "", sqlite3_column_bytes(stmt, 1));
    }
    sqlite3_finalize(stmt);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct VfsCase {
  const char* journal_mode;
  int page_size;
};

class EncryptedVfsSemantics : public ::testing::TestWithParam<VfsCase> {};

// Random inserts, overwrites, deletes and rolled-back transactions of rows from a few bytes to
// several pages, checked against a model after every transaction, after VACUUM and after reopening.
TEST_P(EncryptedVfsSemantics, MatchesAModelThroughCommitsRollbacksVacuumAndReopen) {
  TempDir dir;
  const std::string path = (dir / "t.sqlite3").string();
  std::map<int64_t, std::string> model;
  std::mt19937 random(7);
  auto vfs = sqlite::EncryptedVfs::create(path, kHexKey);
  ASSERT_TRUE(vfs) << vfs.error().message;
  {
    RawEncrypted db(path, (*vfs)->name());
    db.exec("PRAGMA page_size=" + std::to_string(GetParam().page_size));
    db.exec(std::string("PRAGMA journal_mode=") + GetParam().journal_mode);
    db.exec("PRAGMA synchronous=FULL");
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)");
    for (int transaction = 0; transaction < 60; ++transaction) {
      const bool keep = random() % 4 != 0;
      std::map<int64_t, std::string> next = model;
      db.exec("BEGIN");
      for (int op = 0; op < 12; ++op) {
        const int64_t id = random() % 80;
        if (random() % 5 == 0) {
          db.exec("DELETE FROM t WHERE id = " + std::to_string(id));
          next.erase(id);
          continue;
        }
        std::string body(1 + random() % (random() % 3 == 0 ? 20000 : 300), '\0');
        for (char& c : body) c = static_cast<char>(random());
        db.put(id, body);
        next[id] = body;
      }
      db.exec(keep ? "COMMIT" : "ROLLBACK");
      if (keep) model = std::move(next);
      ASSERT_EQ(db.all(), model) << "after transaction " << transaction;
    }
    EXPECT_EQ(db.text("PRAGMA integrity_check"), "ok");
    db.exec("VACUUM");
    EXPECT_EQ(db.all(), model);
  }
  RawEncrypted reopened(path, (*vfs)->name());
  EXPECT_EQ(reopened.text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(reopened.all(), model);
  EXPECT_EQ(reopened.text("PRAGMA page_size"), std::to_string(GetParam().page_size));
}

INSTANTIATE_TEST_SUITE_P(JournalModesAndPageSizes, EncryptedVfsSemantics,
                         ::testing::Values(VfsCase{"WAL", 4096}, VfsCase{"WAL", 1024}, VfsCase{"WAL", 65536},
                                           VfsCase{"DELETE", 4096}, VfsCase{"TRUNCATE", 512},
                                           VfsCase{"PERSIST", 8192}),
                         [](const auto& info) {
                           return std::string(info.param.journal_mode) + "_" +
                                  std::to_string(info.param.page_size);
                         });

// One file through the VFS's own methods, against a byte-string model: writes that leave gaps,
// tails shorter than an AES block, truncations that cut a unit or grow the file, and reopening.
class VfsFile {
 public:
  VfsFile(sqlite3_vfs* vfs, const std::string& path) : memory_((vfs->szOsFile + 15) / 16 + 1) {
    file_ = reinterpret_cast<sqlite3_file*>(memory_.data());
    int out = 0;
    opened_ =
        vfs->xOpen(vfs, path.c_str(), file_,
                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_TEMP_JOURNAL, &out) == SQLITE_OK;
  }
  ~VfsFile() {
    if (file_->pMethods) file_->pMethods->xClose(file_);
  }
  VfsFile(const VfsFile&) = delete;
  VfsFile& operator=(const VfsFile&) = delete;

  bool opened() const { return opened_; }
  int write(const std::string& bytes, int64_t offset) {
    return file_->pMethods->xWrite(file_, bytes.data(), static_cast<int>(bytes.size()), offset);
  }
  int truncate(int64_t size) { return file_->pMethods->xTruncate(file_, size); }
  int64_t size() {
    sqlite3_int64 size = -1;
    file_->pMethods->xFileSize(file_, &size);
    return size;
  }
  std::string read(int64_t offset, int amount, int& rc) {
    std::string out(static_cast<size_t>(amount), 'x');
    rc = file_->pMethods->xRead(file_, out.data(), amount, offset);
    return out;
  }

 private:
  std::vector<std::max_align_t> memory_;
  sqlite3_file* file_ = nullptr;
  bool opened_ = false;
};

TEST(EncryptedVfs, FileOperationsMatchAByteModel) {
  TempDir dir;
  const std::string path = (dir / "f.bin").string();
  auto vfs = sqlite::EncryptedVfs::create((dir / "unused.sqlite3").string(), kHexKey);
  ASSERT_TRUE(vfs) << vfs.error().message;
  sqlite3_vfs* encrypting = sqlite3_vfs_find((*vfs)->name().c_str());
  ASSERT_NE(encrypting, nullptr);
  std::mt19937 random(3);
  std::string model;
  auto file = std::make_unique<VfsFile>(encrypting, path);
  ASSERT_TRUE(file->opened());
  for (int op = 0; op < 400; ++op) {
    const int kind = static_cast<int>(random() % 10);
    if (kind < 6) {
      const int64_t size = static_cast<int64_t>(model.size());
      const int64_t offset = random() % 3 == 0 ? size + random() % 9000 : random() % (size + 1);
      std::string bytes(1 + random() % (random() % 2 ? 15 : 6000), '\0');
      for (char& c : bytes) c = static_cast<char>(random());
      ASSERT_EQ(file->write(bytes, offset), SQLITE_OK);
      if (model.size() < static_cast<size_t>(offset) + bytes.size())
        model.resize(offset + bytes.size(), '\0');
      model.replace(static_cast<size_t>(offset), bytes.size(), bytes);
    } else if (kind < 8) {
      const int64_t size = static_cast<int64_t>(random() % (model.size() + 5000));
      ASSERT_EQ(file->truncate(size), SQLITE_OK);
      model.resize(static_cast<size_t>(size), '\0');
    } else if (kind == 8) {
      file.reset();
      file = std::make_unique<VfsFile>(encrypting, path);
      ASSERT_TRUE(file->opened());
    }
    ASSERT_EQ(file->size(), static_cast<int64_t>(model.size())) << "after op " << op;
    int rc = 0;
    if (!model.empty()) {
      ASSERT_EQ(file->read(0, static_cast<int>(model.size()), rc), model) << "after op " << op;
      ASSERT_EQ(rc, SQLITE_OK);
    }
    // Past the end, also inside the last unit: zeros and a short read.
    const std::string beyond = file->read(static_cast<int64_t>(model.size()) + 5, 8, rc);
    EXPECT_EQ(rc, SQLITE_IOERR_SHORT_READ);
    EXPECT_EQ(beyond, std::string(8, '\0'));
    if (model.size() >= 3) {
      const std::string past = file->read(static_cast<int64_t>(model.size()) - 3, 10, rc);
      EXPECT_EQ(rc, SQLITE_IOERR_SHORT_READ);
      EXPECT_EQ(past.substr(0, 3), model.substr(model.size() - 3));
      EXPECT_EQ(past.substr(3), std::string(7, '\0'));
    }
  }
  EXPECT_EQ(file_bytes(path).find(model.substr(0, std::min<size_t>(model.size(), 64))), std::string::npos);
}

// Transfers between accounts keep the total; a reader on its own connection must always see it.
TEST(EncryptedVfs, ReadersBesideAWriterAlwaysSeeACommittedState) {
  TempDir dir;
  const std::string path = (dir / "bank.sqlite3").string();
  auto vfs = sqlite::EncryptedVfs::create(path, kHexKey);
  ASSERT_TRUE(vfs) << vfs.error().message;
  RawEncrypted writer(path, (*vfs)->name());
  writer.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  writer.exec("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER, memo TEXT)");
  writer.exec("BEGIN");
  for (int i = 0; i < 200; ++i)
    writer.exec("INSERT INTO accounts VALUES (" + std::to_string(i) + ", 1000, '" + std::string(300, 'm') +
                "')");
  writer.exec("COMMIT");

  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  std::string seen_wrong;
  std::thread reader([&] {
    RawEncrypted db(path, (*vfs)->name());
    while (!done) {
      const std::string total = db.text("SELECT SUM(balance) FROM accounts");
      if (total != "200000" && seen_wrong.empty()) seen_wrong = total;
      ++checks;
    }
  });
  std::mt19937 random(11);
  for (int i = 0; i < 400; ++i) {
    const int from = static_cast<int>(random() % 200);
    const int to = static_cast<int>(random() % 200);
    const int amount = static_cast<int>(random() % 50);
    writer.exec("BEGIN; UPDATE accounts SET balance = balance - " + std::to_string(amount) +
                ", memo = hex(randomblob(150)) WHERE id = " + std::to_string(from) +
                "; UPDATE accounts SET balance = balance + " + std::to_string(amount) +
                " WHERE id = " + std::to_string(to) + "; COMMIT");
    if (i % 100 == 99) writer.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }
  done = true;
  reader.join();
  EXPECT_EQ(seen_wrong, "") << "a reader saw a state no transaction committed";
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(writer.text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace brandcoach::store
