#include <algorithm>
#include <cmath>
#include <mutex>

#include <fmt/format.h>

#include "brandcoach/obs/obs.hpp"

namespace brandcoach::obs {

namespace {

// Label values are escaped as the exposition format requires: backslash, quote and newline.
std::string escape_label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

template <class Map, class Key, class Make>
auto& find_or_add(std::shared_mutex& mutex, Map& map, const Key& key, Make make) {
  {
    std::shared_lock lock(mutex);
    if (auto it = map.find(key); it != map.end()) return *it->second;
  }
  std::unique_lock lock(mutex);
  auto& slot = map[key];
  if (!slot) slot = make();
  return *slot;
}

// Counter families beyond HTTP and turns. Costs are kept in micro-dollars so they stay atomic
// integers; `scale` turns them back into dollars when rendered.
struct Family {
  std::string_view name;
  std::string_view help;
  double scale = 1;
};

constexpr std::array<Family, 4> kFamilies = {{
    {"openai_token_usage_total", "Tokens used by the answering model, by assistant and token type.", 1},
    {"brandcoach_llm_calls_total",
     "Answers by provider and outcome (ok, or fallback to the offline composer).", 1},
    {"brandcoach_llm_cost_usd_total", "What the answering model's tokens cost, by assistant (USD).", 1e-6},
    {"brandcoach_conversations_total", "Sessions opened (the denominator of cost per conversation).", 1},
}};

}  // namespace

std::atomic<uint64_t>& Metrics::counter(std::string_view family, std::string labels) {
  return find_or_add(mutex_, counters_, std::pair{std::string(family), std::move(labels)},
                     [] { return std::make_unique<std::atomic<uint64_t>>(0); });
}

void Metrics::observe_turn(const TurnSample& sample) {
  count_turn(sample.assistant, sample.method);
  const std::string assistant = escape_label(sample.assistant);
  counter("openai_token_usage_total", fmt::format("assistant_type=\"{}\",token_type=\"input\"", assistant))
      .fetch_add(static_cast<uint64_t>(std::max<int64_t>(sample.input_tokens, 0)), std::memory_order_relaxed);
  counter("openai_token_usage_total", fmt::format("assistant_type=\"{}\",token_type=\"output\"", assistant))
      .fetch_add(static_cast<uint64_t>(std::max<int64_t>(sample.output_tokens, 0)),
                 std::memory_order_relaxed);
  counter("brandcoach_llm_calls_total",
          fmt::format("provider=\"{}\",outcome=\"{}\"", escape_label(sample.provider),
                      sample.degraded ? "fallback" : "ok"))
      .fetch_add(1, std::memory_order_relaxed);
  counter("brandcoach_llm_cost_usd_total", fmt::format("assistant_type=\"{}\"", assistant))
      .fetch_add(static_cast<uint64_t>(std::llround(std::max(sample.cost_usd, 0.0) * 1e6)),
                 std::memory_order_relaxed);
  if (sample.new_session)
    counter("brandcoach_conversations_total", "").fetch_add(1, std::memory_order_relaxed);
}

std::atomic<uint64_t>& Metrics::request_counter(const RequestKey& key) {
  return find_or_add(mutex_, requests_, key, [] { return std::make_unique<std::atomic<uint64_t>>(0); });
}

Metrics::Histogram& Metrics::histogram(const std::string& route) {
  return find_or_add(mutex_, latency_, route, [] { return std::make_unique<Histogram>(); });
}

std::atomic<uint64_t>& Metrics::turn_counter(const TurnKey& key) {
  return find_or_add(mutex_, turns_, key, [] { return std::make_unique<std::atomic<uint64_t>>(0); });
}

void Metrics::observe_request(std::string_view route, std::string_view method, int status, double seconds) {
  request_counter({std::string(route), std::string(method), status}).fetch_add(1, std::memory_order_relaxed);
  auto& h = histogram(std::string(route));
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) h.buckets[i].fetch_add(1, std::memory_order_relaxed);
  }
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum_micros.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Metrics::record_error(ErrorRecord error) {
  std::lock_guard lock(errors_mutex_);
  errors_.push_front(std::move(error));
  if (errors_.size() > kRecentErrors) errors_.pop_back();
}

std::vector<ErrorRecord> Metrics::recent_errors() const {
  std::lock_guard lock(errors_mutex_);
  return {errors_.begin(), errors_.end()};
}

RequestTotals Metrics::request_totals() const {
  RequestTotals totals;
  std::shared_lock lock(mutex_);
  for (const auto& [key, count] : requests_) {
    const uint64_t n = count->load(std::memory_order_relaxed);
    totals.requests += n;
    if (std::get<2>(key) >= 500) totals.server_errors += n;
  }
  return totals;
}

void Metrics::count_turn(std::string_view assistant, std::string_view method) {
  turn_counter({std::string(assistant), std::string(method)}).fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render() const {
  std::shared_lock lock(mutex_);
  std::string out;
  out += "# HELP brandcoach_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE brandcoach_http_requests_total counter\n";
  for (const auto& [key, value] : requests_) {
    const auto& [route, method, status] = key;
    out += fmt::format("brandcoach_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {}\n",
                       escape_label(route), escape_label(method), status, value->load());
  }
  out += "# HELP brandcoach_http_request_duration_seconds HTTP request latency by route.\n";
  out += "# TYPE brandcoach_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    const std::string label = escape_label(route);
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      out += fmt::format("brandcoach_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                         label, kLatencyBuckets[i], h->buckets[i].load());
    }
    out += fmt::format("brandcoach_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                       label, h->count.load());
    out += fmt::format("brandcoach_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label,
                       static_cast<double>(h->sum_micros.load()) / 1e6);
    out += fmt::format("brandcoach_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", label,
                       h->count.load());
  }
  out += "# HELP brandcoach_turns_total Coach turns by answering assistant and routing method.\n";
  out += "# TYPE brandcoach_turns_total counter\n";
  for (const auto& [key, value] : turns_) {
    out += fmt::format("brandcoach_turns_total{{assistant=\"{}\",method=\"{}\"}} {}\n",
                       escape_label(key.first), escape_label(key.second), value->load());
  }
  for (const auto& family : kFamilies) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", family.name, family.help, family.name);
    for (const auto& [key, value] : counters_) {
      if (key.first != family.name) continue;
      const std::string labels = key.second.empty() ? "" : "{" + key.second + "}";
      if (family.scale == 1) {
        out += fmt::format("{}{} {}\n", family.name, labels, value->load());
      } else {
        out +=
            fmt::format("{}{} {}\n", family.name, labels, static_cast<double>(value->load()) * family.scale);
      }
    }
  }
  return out;
}

}  // namespace brandcoach::obs
