// What every fuzz target shares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <spdlog/spdlog.h>

namespace brandcoach::fuzz {

/// Log lines would only slow the fuzzer down.
inline void quiet_logs() {
  spdlog::set_level(spdlog::level::off);
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace brandcoach::fuzz
