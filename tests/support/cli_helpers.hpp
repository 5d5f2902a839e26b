// Small helpers the black-box CLI tests share: writing input files and reading output lines.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

namespace brandcoach::testing {

/// What one run of the brandcoach binary produced.
struct Run {
  int code;
  std::string out;
  std::string err;
};

/// Runs the binary with `args`, `input` on stdin and extra environment `env` ("K=V"); killed (exit
/// 137) after `timeout`.
inline Run run_brandcoach(std::vector<std::string> args, const std::string& input = {},
                          std::vector<std::string> env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(120)) {
  args.insert(args.begin(), BRANDCOACH_BINARY);
  Process process(args, input, false, std::move(env));
  const int code = process.wait(timeout);
  return {code, process.out(), process.err()};
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

/// The lines of `text`, without their newlines.
inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    out.push_back(text.substr(pos, end - pos));
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return out;
}

/// The "id" of each result of one `kb search` answer line, best first.
inline std::vector<std::string> result_ids(const nlohmann::json& answer) {
  std::vector<std::string> ids;
  for (const auto& r : answer.at("results")) ids.push_back(r.at("id").get<std::string>());
  return ids;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

/// A markdown document with topic/level front matter.
inline std::string markdown(const std::string& topic, const std::string& level, const std::string& body) {
  return "---\ntopic: " + topic + "\nlevel: " + level + "\n---\n" + body;
}

}  // namespace brandcoach::testing
