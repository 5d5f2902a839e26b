// Server-sent events as brandcoach's /api/chat streams them: "event: NAME\ndata: JSON\n\n".
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace brandcoach::testing {

struct SseEvent {
  std::string name;
  nlohmann::json data;
};

/// Splits a complete event stream; every frame must have exactly an event line and a data line.
inline std::vector<SseEvent> parse_sse(const std::string& body) {
  std::vector<SseEvent> events;
  size_t pos = 0;
  while (pos < body.size()) {
    const auto end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string frame = body.substr(pos, end - pos);
    pos = end + 2;
    SseEvent event;
    const auto newline = frame.find('\n');
    EXPECT_EQ(frame.rfind("event: ", 0), 0u) << frame;
    event.name = frame.substr(7, newline - 7);
    EXPECT_EQ(frame.compare(newline + 1, 6, "data: "), 0) << frame;
    event.data = nlohmann::json::parse(frame.substr(newline + 7));
    events.push_back(std::move(event));
  }
  EXPECT_EQ(pos, body.size()) << "trailing bytes after the last event";
  return events;
}

}  // namespace brandcoach::testing
