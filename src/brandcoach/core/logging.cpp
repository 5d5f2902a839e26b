#include <unistd.h>

#include <mutex>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "brandcoach/core/core.hpp"

namespace brandcoach {

namespace {

// One JSON object per line on stderr, for log collectors. spdlog's pattern formatter cannot escape
// the message, so the sink builds the object itself.
class JsonLinesSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    using namespace std::chrono;
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count();
    nlohmann::json line = {
        {"ts", iso_time(ms)},
        {"level", spdlog::level::to_string_view(msg.level).data()},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
    };
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

Status setup_logging(const Config::Log& log) {
  const auto level = spdlog::level::from_str(log.level);
  if (level == spdlog::level::off && log.level != "off") {
    return Error::config("unknown log level '" + log.level + "' (trace, debug, info, warn, error, off)",
                         "log.level");
  }
  bool json = false;
  if (log.format == "json") {
    json = true;
  } else if (log.format == "auto") {
    json = isatty(STDERR_FILENO) == 0;
  } else if (log.format != "human") {
    return Error::config("unknown log format '" + log.format + "' (auto, human, json)", "log.format");
  }
  std::shared_ptr<spdlog::logger> logger;
  if (json) {
    logger = std::make_shared<spdlog::logger>("brandcoach", std::make_shared<JsonLinesSink>());
  } else {
    logger = std::make_shared<spdlog::logger>("brandcoach",
                                              std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return ok();
}

}  // namespace brandcoach
