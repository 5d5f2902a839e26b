// brandcoach obs: metrics the server exports in Prometheus text format (0.0.4).
//
// Observations are atomic increments; a lock is taken only the first time a label set is seen.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>
#include <deque>
#include <mutex>

namespace brandcoach::obs {

/// Upper bounds (seconds) of the request latency histogram buckets.
inline constexpr std::array<double, 13> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1.0,   2.5,  5.0};

/// What one finished turn reports to the metrics.
struct TurnSample {
  std::string_view assistant;
  std::string_view method;    // how it was routed
  std::string_view provider;  // offline | openai | chat
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  bool degraded = false;     // the model failed and the offline composer answered
  bool new_session = false;  // the turn opened a conversation
};

/// A request that failed on the server's side, kept for the dashboard's error table.
struct ErrorRecord {
  int64_t at_ms = 0;
  int status = 0;
  std::string route;
  std::string message;
  std::string request_id;
};

struct RequestTotals {
  uint64_t requests = 0;
  uint64_t server_errors = 0;  // status 5xx
};

class Metrics {
 public:
  /// Keeps a server error (the newest kRecentErrors).
  void record_error(ErrorRecord error);
  /// The kept errors, newest first.
  std::vector<ErrorRecord> recent_errors() const;
  /// Requests and server errors since start.
  RequestTotals request_totals() const;
  static constexpr size_t kRecentErrors = 100;

  /// One finished HTTP request. `route` is the matched route pattern ("unmatched" otherwise).
  void observe_request(std::string_view route, std::string_view method, int status, double seconds);
  /// One finished coach turn, by the assistant that answered and how it was routed.
  void count_turn(std::string_view assistant, std::string_view method);
  /// One finished turn: routing, tokens (the seed's openai_token_usage_total), cost, fallbacks.
  void observe_turn(const TurnSample& sample);
  /// Everything, in the Prometheus text exposition format.
  std::string render() const;

 private:
  struct Histogram {
    std::array<std::atomic<uint64_t>, kLatencyBuckets.size()> buckets{};
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_micros{0};
  };
  using RequestKey = std::tuple<std::string, std::string, int>;
  using TurnKey = std::pair<std::string, std::string>;

  std::atomic<uint64_t>& request_counter(const RequestKey& key);
  Histogram& histogram(const std::string& route);
  std::atomic<uint64_t>& turn_counter(const TurnKey& key);
  // A counter of one family by its rendered label set ("assistant_type=\"core\",token_type=\"input\"").
  std::atomic<uint64_t>& counter(std::string_view family, std::string labels);

  mutable std::shared_mutex mutex_;  // guards the maps' shape; values are atomics
  std::map<RequestKey, std::unique_ptr<std::atomic<uint64_t>>> requests_;
  std::map<std::string, std::unique_ptr<Histogram>> latency_;
  std::map<TurnKey, std::unique_ptr<std::atomic<uint64_t>>> turns_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<std::atomic<uint64_t>>> counters_;
  mutable std::mutex errors_mutex_;
  std::deque<ErrorRecord> errors_;  // guarded by errors_mutex_, newest first
};

}  // namespace brandcoach::obs
