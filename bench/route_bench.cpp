// Measures one routing decision in-process, single-threaded: the coach's router (rule, context,
// fastText classifier) against the keyword-only router as the baseline, over the same messages.
// Also reports the time to train the classifier from the bundled data and to load it from cache.
// Usage: route_bench MESSAGES.jsonl [rounds=20]   (lines {"text", "history"?}; labels are ignored)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/route/route.hpp"
#include "support/temp_dir.hpp"

namespace route = brandcoach::route;
using Clock = std::chrono::steady_clock;

namespace {

struct Message {
  std::string text;
  std::vector<route::Turn> history;
};

std::vector<Message> read_messages(const std::string& path) {
  std::ifstream in(path);
  std::vector<Message> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (!json.is_object() || !json.contains("text")) continue;
    Message message{json["text"].get<std::string>(), {}};
    for (const auto& turn : json.value("history", nlohmann::json::array())) {
      message.history.push_back(
          {turn.value("role", "user"), turn.value("text", ""), turn.value("assistant", "")});
    }
    out.push_back(std::move(message));
  }
  return out;
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

void measure(const char* name, const route::Router& router, const std::vector<Message>& messages,
             int rounds) {
  std::vector<double> micros;
  micros.reserve(messages.size() * static_cast<size_t>(rounds));
  size_t checksum = 0;
  const auto started = Clock::now();
  for (int round = 0; round < rounds; ++round) {
    for (const auto& message : messages) {
      const auto begin = Clock::now();
      const auto decision = router.route({message.text, message.history});
      micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
      checksum += decision.assistant.size();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf(
      "%-28s: %8.0f decisions/s   p50 %6.1f us   p95 %6.1f us   p99 %6.1f us   max %7.1f us  (%zu decisions, "
      "check %zu)\n",
      name, static_cast<double>(micros.size()) / seconds, percentile(micros, 0.50), percentile(micros, 0.95),
      percentile(micros, 0.99), percentile(micros, 1.0), micros.size(), checksum);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: route_bench MESSAGES.jsonl [rounds=20]\n");
    return 2;
  }
  const auto messages = read_messages(argv[1]);
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  if (messages.empty()) {
    std::fprintf(stderr, "route_bench: no messages in %s\n", argv[1]);
    return 2;
  }
  auto training = route::load_training_set(brandcoach::coach::bundled_data_dir() / "routing");
  if (!training) {
    std::fprintf(stderr, "route_bench: %s\n", training.error().message.c_str());
    return 1;
  }
  brandcoach::testing::TempDir models;
  auto started = Clock::now();
  auto trained = route::Classifier::load_or_train(*training, models.path());
  const double train_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  started = Clock::now();
  auto classifier = route::Classifier::load_or_train(*training, models.path());
  const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (!trained || !classifier) {
    std::fprintf(stderr, "route_bench: cannot train the classifier\n");
    return 1;
  }
  std::printf("classifier: %zu examples, trained in %.0f ms, loaded from cache in %.1f ms, model %.1f MB\n",
              training->examples.size(), train_ms, load_ms,
              static_cast<double>(std::filesystem::file_size(classifier->model_path())) / 1e6);
  const route::KeywordRouter keywords;
  const route::IdeaRouter router(std::move(classifier).value());
  measure("keyword router (baseline)", keywords, messages, rounds);
  measure("idea router", router, messages, rounds);
  return 0;
}
