// PostgreSQL schema migrations, private to the store module.
#pragma once

#include <pqxx/pqxx>

#include "brandcoach/core/core.hpp"

namespace brandcoach::store::postgres {

int latest_version();
/// Brings the database to the latest schema; returns the version it is at. Many processes may call
/// it at once: a transaction-scoped advisory lock lets one migrate while the others wait.
Result<int> migrate(pqxx::connection& connection);

}  // namespace brandcoach::store::postgres
