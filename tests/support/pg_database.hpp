// A PostgreSQL database of its own for one test: created on the server the test run's backend
// services started (see services.hpp), dropped when the test ends. Tests run in parallel and each
// must start empty, so none shares a database with another.
//
// libpq is used only to create and drop the database; what the test checks goes through the code
// under test (the Store interface, or the real binary with storage.url = url()).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>

namespace brandcoach::testing {

/// A libpq connection to the server's admin database, for creating and dropping test databases.
class PostgresAdmin {
 public:
  explicit PostgresAdmin(const std::string& url) : connection_(PQconnectdb(url.c_str())) {}
  ~PostgresAdmin() { PQfinish(connection_); }
  PostgresAdmin(const PostgresAdmin&) = delete;
  PostgresAdmin& operator=(const PostgresAdmin&) = delete;

  /// Why the connection failed; empty when it is up.
  std::string connect_error() const {
    return PQstatus(connection_) == CONNECTION_OK ? std::string() : PQerrorMessage(connection_);
  }
  /// Runs one statement; the server's message when it fails, empty when it succeeds.
  std::string exec(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    std::string error = PQresultStatus(result) == PGRES_COMMAND_OK ? "" : PQresultErrorMessage(result);
    PQclear(result);
    return error;
  }

 private:
  PGconn* connection_;
};

/// The URL with its database name replaced: "postgresql://u@h:5432/postgres?x=1" -> ".../name?x=1".
inline std::string with_database(const std::string& url, const std::string& database) {
  const size_t scheme = url.find("://");
  const size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t query = url.find('?', authority);
  const size_t path = url.find('/', authority);
  if (path == std::string::npos || path > query) {
    std::string out = url;
    return out.insert(query == std::string::npos ? out.size() : query, "/" + database);
  }
  const size_t end = query == std::string::npos ? url.size() : query;
  return url.substr(0, path + 1) + database + url.substr(end);
}

/// A fresh, empty database with a name never used before, dropped on destruction (with FORCE: a
/// process that still holds a connection, or leaked one, must not leave the database behind).
class PostgresDatabase {
 public:
  /// The database, or nullptr with `error` saying why it could not be made.
  static std::unique_ptr<PostgresDatabase> create(const std::string& admin_url, std::string& error) {
    std::unique_ptr<PostgresDatabase> database(new PostgresDatabase(admin_url));
    if (error = database->admin_.connect_error(); !error.empty()) {
      error = "cannot connect to PostgreSQL at " + admin_url + ": " + error;
      return nullptr;
    }
    if (error = database->admin_.exec("CREATE DATABASE " + database->name_); !error.empty()) {
      error = "CREATE DATABASE " + database->name_ + ": " + error;
      return nullptr;
    }
    database->created_ = true;
    return database;
  }
  /// Drops it if drop() was not called (a test that wants to see a failed drop calls drop()).
  ~PostgresDatabase() { drop(); }
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  /// The libpq connection URL of this database (what storage.url takes).
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  /// Drops the database now; the server's message when that fails, empty when it worked.
  std::string drop() {
    if (!created_) return {};
    created_ = false;
    return admin_.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }

 private:
  explicit PostgresDatabase(const std::string& admin_url) : admin_(admin_url) {
    std::random_device random;
    const uint64_t bits = (uint64_t{random()} << 32) ^ random();
    static constexpr char kHex[] = "0123456789abcdef";
    name_ = "bc_";  // a valid unquoted identifier
    for (int shift = 60; shift >= 0; shift -= 4) name_ += kHex[(bits >> shift) & 0xf];
    url_ = with_database(admin_url, name_);
  }

  PostgresAdmin admin_;
  std::string name_;
  std::string url_;
  bool created_ = false;
};

}  // namespace brandcoach::testing
