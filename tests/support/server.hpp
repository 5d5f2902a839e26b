// Starts the real `brandcoach serve` on a free port with its own data dir.
#pragma once

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace brandcoach::testing {

class ServerProcess {
 public:
  /// `global_args` go before the subcommand (e.g. {"--set", "server.body_limit_bytes=2048"}).
  explicit ServerProcess(const std::filesystem::path& data_dir, std::vector<std::string> global_args = {}) {
    std::vector<std::string> args = {BRANDCOACH_BINARY, "--data-dir", data_dir.string()};
    args.insert(args.end(), global_args.begin(), global_args.end());
    for (const char* a : {"serve", "--port", "0"}) args.emplace_back(a);
    process_ = std::make_unique<Process>(args);
    const auto line = process_->read_line();
    const std::string marker = "://127.0.0.1:";  // http or https
    if (!line || line->find(marker) == std::string::npos) {
      process_->wait(std::chrono::seconds(5));
      throw std::runtime_error("server did not start: " + line.value_or("<no output>") + "\n" +
                               process_->err());
    }
    port_ = std::stoi(line->substr(line->find(marker) + marker.size()));
  }

  int port() const { return port_; }
  Process& process() { return *process_; }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

}  // namespace brandcoach::testing
