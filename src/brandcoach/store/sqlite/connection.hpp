// Thin RAII layer over the SQLite C API, private to the store module.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::store::sqlite {

/// A prepared statement borrowed from a connection's cache; reset and unbound when released.
class Statement {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind_null(int index);
  Statement& bind_blob(int index, std::string_view bytes);

  /// Advances; true when a row is available, false when done. Errors become an Error value.
  Result<bool> step();
  /// Rewinds a stepped statement so it can be bound and stepped again.
  void reset() { sqlite3_reset(stmt_); }
  /// Runs to completion, ignoring rows.
  Status run();

  int64_t column_int(int index) const { return sqlite3_column_int64(stmt_, index); }
  double column_double(int index) const { return sqlite3_column_double(stmt_, index); }
  std::string column_text(int index) const;
  /// The column's bytes, valid until the next step/reset.
  std::string_view column_blob(int index) const;
  bool column_is_null(int index) const { return sqlite3_column_type(stmt_, index) == SQLITE_NULL; }

 private:
  Statement& check(int rc);
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;  // the first failed bind, reported by step()
};

/// One database connection with its own cache of prepared statements. Used by one thread at a time.
class Connection {
  struct Key {};  // only open() can construct, but make_unique still can

 public:
  /// `vfs` empty: the platform VFS; otherwise a registered VFS (the encrypting one) by name.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, int busy_timeout_ms,
                                                  const std::string& vfs = {});
  Connection(sqlite3* db, Key) : db_(db) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Runs one or more statements without results (DDL, PRAGMA, BEGIN/COMMIT).
  Status exec(std::string_view sql);
  /// A cached prepared statement for `sql`.
  Result<std::unique_ptr<Statement>> prepare(const std::string& sql);
  int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }
  /// The lock this process's write transactions on the database take (set by the pool).
  std::mutex* writer() const { return writer_; }
  void share_writer(std::mutex* writer) { writer_ = writer; }

 private:
  sqlite3* db_;
  std::mutex* writer_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

/// Steps through every row, turning each into a value with `read(statement)`.
template <class Read>
auto collect(Statement& statement, Read read) -> Result<std::vector<decltype(read(statement))>> {
  std::vector<decltype(read(statement))> rows;
  while (true) {
    auto row = statement.step();
    if (!row) return row.error();
    if (!*row) return rows;
    rows.push_back(read(statement));
  }
}

/// An error value from the connection's last failure.
Error sqlite_error(sqlite3* db, std::string_view what);

/// A fixed set of connections handed out one at a time.
class Pool {
 public:
  explicit Pool(std::vector<std::unique_ptr<Connection>> connections) : idle_(std::move(connections)) {
    for (auto& connection : idle_) connection->share_writer(&writer_);
  }

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (connection_) pool_->give_back(std::move(connection_));
    }
    Connection* operator->() { return connection_.get(); }
    Connection& operator*() { return *connection_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  /// Blocks until a connection is free.
  Lease acquire();

 private:
  void give_back(std::unique_ptr<Connection> connection);
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  // SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to 100 ms
  // each); this process's writers queue here instead, and the next one starts the moment the last
  // commits. Other processes still meet SQLite's own lock.
  std::mutex writer_;
};

/// Writes of many threads committed together. Each commit costs a WAL write, an fsync and, for a
/// full-text table, a new FTS5 segment; while one batch commits, the writes that arrive meanwhile queue
/// and the first of their callers commits them all in one transaction. No caller returns before its
/// own write is committed, so durability is unchanged; under load N writers pay for one commit.
class GroupCommit {
 public:
  using Work = std::function<Status(Connection&)>;
  explicit GroupCommit(Pool& pool) : pool_(pool) {}

  /// Runs `work` in a transaction shared with other callers' work; returns once it is committed or
  /// failed. When any work of a batch fails, the batch is rolled back and each work runs again in a
  /// transaction of its own, so one caller's error never undoes another's write: `work` must leave
  /// its results only in what it captures, and may run twice.
  Status run(const Work& work);

 private:
  struct Job {
    const Work* work;
    Status status;
    bool done = false;
  };
  void commit_batch(const std::vector<Job*>& batch);

  Pool& pool_;
  std::mutex mutex_;
  std::condition_variable finished_;
  std::vector<Job*> waiting_;  // guarded by mutex_
  bool committing_ = false;    // guarded by mutex_: a caller is committing a batch
};

/// BEGIN IMMEDIATE … COMMIT, rolled back on destruction unless committed.
/// Holds the connection's writer lock, when it has one, for its whole life.
class Transaction {
 public:
  static Result<Transaction> begin(Connection& connection);
  Transaction(Transaction&& other) noexcept
      : writer_(std::move(other.writer_)), connection_(std::exchange(other.connection_, nullptr)) {}
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status commit();

 private:
  Transaction(Connection& connection, std::unique_lock<std::mutex> writer)
      : writer_(std::move(writer)), connection_(&connection) {}
  std::unique_lock<std::mutex> writer_;  // released after COMMIT or ROLLBACK (members die in reverse)
  Connection* connection_;
};

}  // namespace brandcoach::store::sqlite
