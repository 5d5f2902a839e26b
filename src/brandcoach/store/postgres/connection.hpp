// A small layer over libpqxx, private to the store module: a connection pool, prepared statements by
// their SQL, and the one place where database exceptions become Error values.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::store::postgres {

/// The error value for a database exception: unique violations are conflicts, bad data is
/// invalid input, a lost or unreachable server is unavailable, anything else internal.
Error pg_error(const std::exception& error, std::string_view what);

/// True for failures that a retry of the whole transaction may cure (serialisation failure,
/// deadlock).
bool retryable(const pqxx::sql_error& error);

/// libpqxx 6 takes no string_view parameters; everything else passes through unchanged.
inline std::string param(std::string_view text) {
  return std::string(text);
}
inline std::string param(const char* text) {
  return std::string(text);
}
template <class T>
T&& param(T&& value) requires(!std::is_convertible_v<T, std::string_view>) {
  return std::forward<T>(value);
}
inline const std::string& param(const std::string& text) {
  return text;
}

/// The statement's name on every connection: derived from its text, so each distinct SQL string is
/// prepared once per connection and reused by every later call.
std::string statement_name(const std::string& sql);

/// Runs `sql` (parameters written $1, $2, …) as a prepared statement in the transaction.
template <class... Args>
pqxx::result exec(pqxx::transaction_base& tx, const std::string& sql, Args&&... args) {
  const std::string name = statement_name(sql);
  tx.conn().prepare(name, sql);  // a no-op when this connection already knows it
  return tx.exec_prepared(name, param(std::forward<Args>(args))...);
}

/// A PostgreSQL array literal of integers ("{1,2,3}") for `= ANY($n::bigint[])`.
std::string int_array(const std::vector<int64_t>& values);
/// A PostgreSQL array literal of strings, each quoted and escaped, for `= ANY($n::text[])`.
std::string text_array(const std::vector<std::string>& values);

/// A stem as a tsquery operand: quoted (quotes and backslashes escaped), so no text is ever query
/// syntax.
std::string tsquery_operand(std::string_view term);
/// The stems OR-ed, for to_tsquery('simple', …): the 'simple' configuration only splits them, as the
/// `search` columns' to_tsvector did the stored stems, so query and index agree on every lexeme.
std::string tsquery_text(const std::vector<std::string>& terms);

/// float32 vectors as bytea: the floats' bytes, little-endian as on every platform we build for.
pqxx::binarystring vector_bytes(const std::vector<float>& vector);
std::vector<float> read_vector(const pqxx::field& field);

/// Text of a nullable column ("" for NULL).
inline std::string text(const pqxx::field& field) {
  return field.is_null() ? std::string() : std::string(field.c_str(), field.size());
}
/// Integer of a nullable column (0 for NULL).
inline int64_t integer(const pqxx::field& field) {
  return field.is_null() ? 0 : field.as<int64_t>();
}

/// A fixed number of connections, opened on demand, handed out one at a time.
class Pool {
 public:
  static Result<std::unique_ptr<Pool>> open(std::string url, int size);
  Pool(std::string url, int size) : url_(std::move(url)), free_slots_(size) {}

  /// Runs `body(connection)`, which returns a Result and may throw database exceptions: they become
  /// Error values here. A transaction that failed on a serialisation conflict or deadlock is run
  /// again; a broken connection is replaced and the call retried unless its commit may have
  /// happened (then the caller learns it is unavailable and must not assume either outcome).
  template <class Body>
  auto run(std::string_view what, Body&& body) -> std::invoke_result_t<Body&, pqxx::connection&> {
    for (int attempt = 1;; ++attempt) {
      auto connection = acquire();
      if (!connection) return connection.error();
      Lease lease(*this, std::move(connection).value());
      try {
        return body(*lease.connection);
      } catch (const pqxx::in_doubt_error& error) {
        lease.broken = true;
        return pg_error(error, what);
      } catch (const pqxx::broken_connection& error) {
        lease.broken = true;
        if (attempt >= 3) return pg_error(error, what);
      } catch (const pqxx::sql_error& error) {
        if (!retryable(error) || attempt >= 5) return pg_error(error, what);
      } catch (const std::exception& error) {
        return pg_error(error, what);
      }
    }
  }

 private:
  struct Lease {
    Lease(Pool& pool, std::unique_ptr<pqxx::connection> held) : pool(pool), connection(std::move(held)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool.give_back(std::move(connection), broken); }
    Pool& pool;
    std::unique_ptr<pqxx::connection> connection;
    bool broken = false;
  };
  /// Waits for a free slot; reuses an idle connection or opens a new one.
  Result<std::unique_ptr<pqxx::connection>> acquire();
  void give_back(std::unique_ptr<pqxx::connection> connection, bool broken);

  std::string url_;
  std::mutex mutex_;
  std::condition_variable available_;
  int free_slots_;                                       // guarded by mutex_
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mutex_
};

}  // namespace brandcoach::store::postgres
