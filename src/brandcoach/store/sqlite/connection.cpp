#include "brandcoach/store/sqlite/connection.hpp"

#include <fmt/format.h>

namespace brandcoach::store::sqlite {

Error sqlite_error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  std::string message = fmt::format("{}: {} (sqlite {})", what, sqlite3_errmsg(db), code);
  const int primary = code & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL ||
      primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY) {
    return Error::unavailable(std::move(message));
  }
  if (primary == SQLITE_CONSTRAINT) return {ErrorKind::conflict, std::move(message), {}};
  return Error::internal(std::move(message));
}

Statement::~Statement() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Statement& Statement::check(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::bind(int index, int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind(int index, double value) {
  return check(sqlite3_bind_double(stmt_, index, value));
}

Statement& Statement::bind(int index, std::string_view value) {
  return check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}

Statement& Statement::bind_null(int index) {
  return check(sqlite3_bind_null(stmt_, index));
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  return check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
}

std::string_view Statement::column_blob(int index) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, index));
  if (!data) return {};
  return {data, static_cast<size_t>(sqlite3_column_bytes(stmt_, index))};
}

Result<bool> Statement::step() {
  if (bind_error_ != SQLITE_OK) {
    return Error::internal(std::string("cannot bind query parameter: ") + sqlite3_errstr(bind_error_));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(sqlite3_db_handle(stmt_), "query failed");
}

Status Statement::run() {
  while (true) {
    auto more = step();
    if (!more) return more.error();
    if (!*more) {
      // Ready for the next bind/step cycle when the statement is reused (bindings are kept).
      sqlite3_reset(stmt_);
      return ok();
    }
  }
}

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
  if (!text) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, int busy_timeout_ms,
                                                     const std::string& vfs) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, vfs.empty() ? nullptr : vfs.c_str()) != SQLITE_OK) {
    Error error = sqlite_error(db, "cannot open database " + path);
    sqlite3_close_v2(db);
    return error;
  }
  auto connection = std::make_unique<Connection>(db, Key{});
  sqlite3_busy_timeout(db, busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable (the
  // acknowledged-message promise), not merely consistent. secure_delete overwrites freed content, so
  // an erased user's words do not linger in free pages of the file.
  auto status = connection->exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
      "PRAGMA secure_delete=ON;");
  if (!status) return status.error();
  return connection;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string reason = message ? message : "unknown error";
    sqlite3_free(message);
    Error error = sqlite_error(db_, "statement failed");
    error.message = reason + " (" + error.message + ")";
    return error;
  }
  return ok();
}

Result<std::unique_ptr<Statement>> Connection::prepare(const std::string& sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                           nullptr) != SQLITE_OK) {
      return sqlite_error(db_, "cannot prepare statement");
    }
    found = statements_.emplace(sql, stmt).first;
  }
  return std::make_unique<Statement>(found->second);
}

Pool::Lease Pool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [this] { return !idle_.empty(); });
  auto connection = std::move(idle_.back());
  idle_.pop_back();
  return Lease(*this, std::move(connection));
}

void Pool::give_back(std::unique_ptr<Connection> connection) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

Status GroupCommit::run(const Work& work) {
  Job job{&work, ok()};
  std::unique_lock lock(mutex_);
  waiting_.push_back(&job);
  // A batch taken by another caller is done before that caller lets anyone else commit.
  finished_.wait(lock, [&] { return job.done || !committing_; });
  if (job.done) return job.status;
  committing_ = true;
  const std::vector<Job*> batch = std::exchange(waiting_, {});
  lock.unlock();
  commit_batch(batch);
  lock.lock();
  for (Job* taken : batch) taken->done = true;
  committing_ = false;
  lock.unlock();
  finished_.notify_all();
  return job.status;
}

void GroupCommit::commit_batch(const std::vector<Job*>& batch) {
  auto db = pool_.acquire();
  auto alone = [&db](Job& job) {
    auto tx = Transaction::begin(*db);
    if (!tx) {
      job.status = tx.error();
      return;
    }
    job.status = (*job.work)(*db);
    if (job.status) job.status = tx->commit();
  };
  if (batch.size() == 1) return alone(*batch.front());
  {
    auto tx = Transaction::begin(*db);
    bool all_written = static_cast<bool>(tx);
    for (Job* job : batch) {
      if (!all_written) break;
      job->status = (*job->work)(*db);
      all_written = static_cast<bool>(job->status);
    }
    if (all_written && tx->commit()) return;
  }  // rolled back here unless committed
  for (Job* job : batch) alone(*job);
}

Result<Transaction> Transaction::begin(Connection& connection) {
  std::unique_lock<std::mutex> writer;
  if (connection.writer() != nullptr) writer = std::unique_lock(*connection.writer());
  if (auto status = connection.exec("BEGIN IMMEDIATE"); !status) return status.error();
  return Transaction(connection, std::move(writer));
}

Transaction::~Transaction() {
  if (connection_) (void)connection_->exec("ROLLBACK");
}

Status Transaction::commit() {
  auto status = connection_->exec("COMMIT");
  if (status) {
    connection_ = nullptr;
    if (writer_.owns_lock()) writer_.unlock();
  }
  return status;
}

}  // namespace brandcoach::store::sqlite
