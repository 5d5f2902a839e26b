// Where the backend services of a test run listen (PostgreSQL, Redis).
//
// ctest's Services.Start fixture runs `scripts/services start <build>/services`, which writes the
// URLs to <build>/services/services.env; the build compiles that path in as BRANDCOACH_SERVICES_ENV.
// BRANDCOACH_TEST_PG_URL / BRANDCOACH_TEST_REDIS_URL in the environment win over the file, so a test
// binary run by hand can point at any server.
#pragma once

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

#ifndef BRANDCOACH_SERVICES_ENV
#define BRANDCOACH_SERVICES_ENV ""
#endif

namespace brandcoach::testing {

/// The env file scripts/services writes (may not exist).
inline std::string services_env_path() {
  return BRANDCOACH_SERVICES_ENV;
}

/// The URL of a service by name ("PG" or "REDIS"): $BRANDCOACH_TEST_<name>_URL, else that line of
/// the services env file; nullopt when neither has one.
inline std::optional<std::string> service_url(std::string_view name) {
  const std::string variable = "BRANDCOACH_TEST_" + std::string(name) + "_URL";
  if (const char* value = std::getenv(variable.c_str()); value && *value) return std::string(value);
  std::ifstream file(services_env_path());
  const std::string prefix = variable + "=";
  for (std::string line; std::getline(file, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with(prefix) && line.size() > prefix.size()) return line.substr(prefix.size());
  }
  return std::nullopt;
}

}  // namespace brandcoach::testing
