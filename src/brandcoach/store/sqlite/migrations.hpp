// Forward-only schema migrations for the SQLite store, private to the store module.
#pragma once

#include "brandcoach/store/sqlite/connection.hpp"

namespace brandcoach::store::sqlite {

/// Brings the database to the latest schema version, one transaction per migration.
/// Refuses a database whose version is newer than this build knows.
Result<int> migrate(Connection& connection);

/// The version of the last migration this build carries.
int latest_version();

}  // namespace brandcoach::store::sqlite
