#include "brandcoach/store/postgres/connection.hpp"

#include <fmt/format.h>

#include <cstring>
#include <functional>

namespace brandcoach::store::postgres {

namespace {

// SQLSTATE classes (PostgreSQL appendix A).
bool state_is(const pqxx::sql_error& error, std::string_view prefix) {
  return error.sqlstate().starts_with(prefix);
}

}  // namespace

bool retryable(const pqxx::sql_error& error) {
  return error.sqlstate() == "40001" || error.sqlstate() == "40P01";
}

Error pg_error(const std::exception& error, std::string_view what) {
  if (dynamic_cast<const pqxx::broken_connection*>(&error) ||
      dynamic_cast<const pqxx::in_doubt_error*>(&error)) {
    return Error::unavailable(
        fmt::format("{}: the PostgreSQL server cannot be reached ({})", what, error.what()));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    std::string message = sql->what();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    if (state_is(*sql, "23505")) return {ErrorKind::conflict, fmt::format("{}: {}", what, message), {}};
    if (state_is(*sql, "22") || state_is(*sql, "23")) {
      return Error::invalid(fmt::format("{}: {}", what, message));
    }
    // Too many connections, shutting down, cannot connect now, statement timeout, lock timeout.
    if (state_is(*sql, "53") || state_is(*sql, "57") || state_is(*sql, "08") || state_is(*sql, "55P03")) {
      return Error::unavailable(fmt::format("{}: {}", what, message));
    }
    return Error::internal(fmt::format("{}: {} (SQLSTATE {})", what, message, sql->sqlstate()));
  }
  return Error::internal(fmt::format("{}: {}", what, error.what()));
}

std::string statement_name(const std::string& sql) {
  return fmt::format("bc_{:016x}", std::hash<std::string>{}(sql));
}

std::string int_array(const std::vector<int64_t>& values) {
  return fmt::format("{{{}}}", fmt::join(values, ","));
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string tsquery_operand(std::string_view term) {
  std::string out = "'";
  for (char c : term) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  out += '\'';
  return out;
}

std::string tsquery_text(const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& term : terms) {
    if (!out.empty()) out += " | ";
    out += tsquery_operand(term);
  }
  return out;
}

pqxx::binarystring vector_bytes(const std::vector<float>& vector) {
  return pqxx::binarystring(vector.data(), vector.size() * sizeof(float));
}

std::vector<float> read_vector(const pqxx::field& field) {
  if (field.is_null()) return {};
  pqxx::binarystring bytes(field);
  std::vector<float> vector(bytes.size() / sizeof(float));
  if (!vector.empty()) std::memcpy(vector.data(), bytes.data(), vector.size() * sizeof(float));
  return vector;
}

Result<std::unique_ptr<Pool>> Pool::open(std::string url, int size) {
  auto pool = std::make_unique<Pool>(std::move(url), size < 1 ? 1 : size);
  // Connect once now, so a wrong URL or an unreachable server is reported at start-up.
  auto first = pool->acquire();
  if (!first) return first.error();
  pool->give_back(std::move(first).value(), false);
  return pool;
}

Result<std::unique_ptr<pqxx::connection>> Pool::acquire() {
  std::unique_ptr<pqxx::connection> connection;
  {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return free_slots_ > 0; });
    --free_slots_;
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (connection && connection->is_open()) return connection;
  try {
    return std::make_unique<pqxx::connection>(url_);
  } catch (const std::exception& error) {
    give_back(nullptr, true);
    // The URL may hold a password: report the failure without it.
    return Error::unavailable(fmt::format("cannot connect to PostgreSQL: {}", error.what()));
  }
}

void Pool::give_back(std::unique_ptr<pqxx::connection> connection, bool broken) {
  {
    std::lock_guard lock(mutex_);
    ++free_slots_;
    if (connection && !broken) idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

}  // namespace brandcoach::store::postgres
