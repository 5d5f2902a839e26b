#pragma once
// Encryption at rest for the embedded store: a SQLite VFS that encrypts every file of one database
// (the database, its write-ahead log, journals and temporary files) with AES-256-XTS, the cipher mode
// of disk encryption, as a shim over the platform VFS.
//
// Debian's SQLCipher is built on a SQLite without FTS5, JSON functions and UPSERT, which the schema
// needs; a VFS keeps the system SQLite and encrypts below it. Each file starts with a plaintext
// 4 KiB header (magic, random salt, key check); the rest is encrypted in 4 KiB units whose tweak is
// the unit number, so a unit rewrites in place and a file keeps its length. The VFS reports no
// powersafe overwrite and 4 KiB sectors, so SQLite never relies on bytes of a unit it did not write
// surviving a torn write of that unit (a commit pads the WAL to a unit boundary). The shared-memory
// WAL index (-shm) holds page numbers and checksums, no content, and stays plaintext.
#include <memory>
#include <string>
#include <string_view>

#include "brandcoach/core/core.hpp"

namespace brandcoach::store::sqlite {

/// What the first bytes of a database file say about it.
enum class DatabaseFormat { missing, plain, encrypted, unknown };
DatabaseFormat database_format(const std::string& path);

/// A registered VFS that encrypts the database at `database_path` (which may not exist yet) with a
/// key derived from `key`: 64 hex digits are used as a raw 256-bit key, anything else is a
/// passphrase stretched with PBKDF2-HMAC-SHA256 and the database's salt. Fails with invalid_config
/// when the file is a plain database or the key does not open it. Connections opened with name()
/// must be closed before this object is destroyed.
class EncryptedVfs {
 public:
  static Result<std::unique_ptr<EncryptedVfs>> create(const std::string& database_path, std::string_view key);
  ~EncryptedVfs();
  EncryptedVfs(const EncryptedVfs&) = delete;
  EncryptedVfs& operator=(const EncryptedVfs&) = delete;

  /// The name to pass to sqlite3_open_v2 (unique per object).
  const std::string& name() const;

  struct State;
  explicit EncryptedVfs(std::unique_ptr<State> state);

 private:
  std::unique_ptr<State> state_;
};

}  // namespace brandcoach::store::sqlite
