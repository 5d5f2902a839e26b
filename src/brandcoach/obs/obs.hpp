// brandcoach obs: the metrics the server exports in Prometheus text format (0.0.4), the analytics the
// admin API computes from what the store keeps, memory self-test probes, and alerts.
//
// Observations are atomic increments. A label set is looked up in a per-thread table after its first
// use on that thread, so the hot path takes no lock; the shared table is locked only when a thread
// meets a label set for the first time, and when the exposition is rendered.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/core/core.hpp"

namespace brandcoach::store {
class Store;
struct ReplyRecord;
struct UsageTotal;
struct Message;
}  // namespace brandcoach::store

namespace brandcoach::memory {
class Memory;
}

namespace brandcoach::net {
class Upstream;
}

namespace brandcoach::obs {

/// Upper bounds (seconds) of the HTTP request latency histogram buckets.
inline constexpr std::array<double, 13> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1.0,   2.5,  5.0};
/// Upper bounds (seconds) of a whole turn's buckets: milliseconds offline, up to a minute with a model.
inline constexpr std::array<double, 13> kTurnBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,
                                                        1.0,   2.5,  5.0,   10.0, 30.0, 60.0};
/// Upper bounds of the routing confidence histogram.
inline constexpr std::array<double, 10> kConfidenceBuckets = {0.1, 0.2, 0.3, 0.4, 0.5,
                                                              0.6, 0.7, 0.8, 0.9, 1.0};

// ---------------------------------------------------------------------------------------------
// Primitives

/// Label values, rendered once per label set: {"core", "input"} for labels {assistant_type, token_type}.
using LabelValues = std::initializer_list<std::string_view>;

class Counter {
 public:
  void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// Cumulative buckets, a count and a sum. `bounds` must outlive the histogram (use the constants above).
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  std::span<const double> bounds() const { return bounds_; }
  /// Observations at or below bounds()[i] (cumulative, as exported).
  uint64_t bucket(size_t i) const;

 private:
  std::span<const double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// One metric family: a name, its help, its label names, and one child (Counter or Histogram) per
/// label set. Children live as long as the family.
template <class Child>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::span<const double> bounds = {});
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  /// The child for these label values (as many as the family has labels), created on first use.
  Child& with(LabelValues values);
  const std::string& name() const { return name_; }
  /// Visits every child with its rendered label pairs (`a="x",b="y"`), in label order.
  void each(const std::function<void(const std::string& labels, const Child& child)>& visit) const;

 private:
  Child& create(std::string key);
  const uint64_t id_;  // identifies the family in the per-thread lookup tables
  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::span<const double> bounds_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::unique_ptr<Child>> children_;  // rendered label pairs -> child
  friend class Exposition;
};

/// Writes the text exposition format: HELP and TYPE once per family, escaped label values, numbers
/// as Prometheus reads them. Families must be written whole, one after another.
class Exposition {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help);
  /// One sample of the current family; `labels` as pairs.
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels, double value);
  void sample_rendered(std::string_view name, std::string_view labels, double value);
  void counters(const Family<Counter>& family, double scale = 1);
  void histograms(const Family<Histogram>& family);
  /// Text already in the format (whole families).
  void append(std::string_view text) { text_ += text; }
  std::string take() { return std::move(text_); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

/// A label value as the exposition format needs it (backslash, quote and newline escaped).
std::string escape_label(std::string_view value);

// ---------------------------------------------------------------------------------------------
// The server's metrics

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
  double seconds = 0;        // the turn's wall time
  double confidence = 0;     // the routing decision's
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

/// Cumulative totals since start, sampled by the alerter: differences of two samples are what
/// happened between them.
struct Totals {
  int64_t at_ms = 0;
  uint64_t requests = 0;
  uint64_t server_errors = 0;
  uint64_t turns = 0;
  double turn_seconds = 0;
  uint64_t model_answers = 0;  // turns a model (not the offline composer by choice) was asked to answer
  uint64_t fallbacks = 0;      // of those, answered by the offline composer because the model failed
  uint64_t tokens = 0;
  uint64_t memory_operations = 0;
  uint64_t memory_failures = 0;  // status error or fail
};

class Metrics {
 public:
  Metrics();

  /// One finished HTTP request. `route` is the matched route pattern ("unmatched" otherwise).
  void observe_request(std::string_view route, std::string_view method, int status, double seconds);
  /// One finished turn: response time, routing, tokens, cost, fallbacks.
  void observe_turn(const TurnSample& sample);
  /// One memory operation (the seed's memory_operations_total): extract, recall, search, summary,
  /// llm_extract, fact_change, probe, export, erase; status ok, miss, error or fail.
  void count_memory_operation(std::string_view operation, std::string_view status);
  /// HTTP requests being handled now (a gauge).
  void request_started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }

  /// Keeps a server error (the newest kRecentErrors).
  void record_error(ErrorRecord error);
  /// The kept errors, newest first.
  std::vector<ErrorRecord> recent_errors() const;
  static constexpr size_t kRecentErrors = 100;
  /// Requests and server errors since start.
  RequestTotals request_totals() const;
  /// Everything the alerter compares over time.
  Totals totals() const;
  /// memory_operations_total by rendered labels (`operation_type="recall",status="ok"`).
  std::vector<std::pair<std::string, uint64_t>> memory_operation_counts() const;

  /// Adds samples computed when scraped (gauges from the store, caches, upstreams); called in order
  /// of registration from render(). Register before serving.
  void add_collector(std::function<void(Exposition&)> collector);
  /// Everything, in the Prometheus text exposition format.
  std::string render() const;

 private:
  Family<Counter> requests_;
  Family<Histogram> request_seconds_;
  Family<Histogram> response_seconds_;
  Family<Counter> tokens_;
  Family<Counter> memory_operations_;
  Family<Counter> routing_decisions_;
  Family<Histogram> routing_confidence_;
  Family<Counter> turns_;
  Family<Counter> llm_calls_;
  Family<Counter> cost_micro_usd_;
  Counter conversations_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> server_errors_{0};
  std::atomic<uint64_t> request_count_{0};
  std::atomic<uint64_t> memory_failures_{0};
  std::atomic<uint64_t> fallbacks_{0};
  std::atomic<uint64_t> model_answers_{0};
  const double started_s_;
  std::vector<std::function<void(Exposition&)>> collectors_;
  mutable std::mutex errors_mutex_;
  std::deque<ErrorRecord> errors_;  // guarded by errors_mutex_, newest first
};

/// Samples of a model provider's breaker, queue and call counts.
void collect_upstream(Exposition& out, std::string_view provider, const net::Upstream& upstream);

/// Gauges read from the store (facts by status, active users, knowledge store sizes, queue depth),
/// refreshed at most every `max_age_ms` so scrapes stay cheap; thread-safe.
class StoreGauges {
 public:
  StoreGauges(store::Store& store, int64_t max_age_ms = 15000);
  void collect(Exposition& out);

 private:
  store::Store& store_;
  int64_t max_age_ms_;
  std::mutex mutex_;
  int64_t read_at_ms_ = -1;  // guarded by mutex_
  std::string text_;         // guarded by mutex_
};

// ---------------------------------------------------------------------------------------------
// Analytics (the admin API's numbers; each takes what the store returned and the time now)

/// Nearest-rank percentile (p in 0..100) of values sorted ascending; 0 for none.
double percentile(const std::vector<double>& sorted, double p);
/// `value` rounded to a multiple of `step` (0.1 for tenths).
double round_to(double value, double step);

/// A user's journey (the seed's analyze_user_journey): sessions, their average length, assistant
/// preferences, topic progression and the engagement score (0-100) with its four weighted factors
/// (0.3 session frequency, 0.3 depth of interaction, 0.2 topic diversity, 0.2 return rate).
nlohmann::json user_journey(const std::vector<store::Message>& thread, int64_t now_ms);

/// Routing: distribution by assistant and by method, the confidence histogram, the fallback rate.
nlohmann::json routing_report(const std::vector<store::ReplyRecord>& replies);

/// Turn latency percentiles over trailing windows (5 min, 1 h, 24 h, 7 d), overall and per assistant.
nlohmann::json latency_report(const std::vector<store::ReplyRecord>& replies, int64_t now_ms);

/// Costs: total, per user, per assistant, per conversation, per day, and the month's projection.
nlohmann::json cost_report(const std::vector<store::UsageTotal>& usage,
                           const std::vector<store::ReplyRecord>& replies, int64_t now_ms);

/// One self-test of the memory: a stored fact asked about as a user would.
struct ProbeResult {
  int64_t at_ms = 0;
  int64_t user_id = 0;
  int64_t fact_id = 0;
  std::string key;
  std::string question;
  bool found = false;
  bool cross_session = false;  // the fact was told in an earlier session than the user's latest
  int64_t fact_age_ms = 0;
};

/// Asks the memory about stored facts, a few users per run in turn, the way the coach does for a
/// user's question ("remind me what my price is"), and keeps the last results. Probes read only:
/// nothing is written to any thread.
class MemoryProber {
 public:
  struct Options {
    int facts_per_run = 25;
    size_t keep = 2000;  // results kept (newest)
  };
  MemoryProber(store::Store& store, memory::Memory& memory, Metrics* metrics, Options options);
  MemoryProber(store::Store& store, memory::Memory& memory, Metrics* metrics)
      : MemoryProber(store, memory, metrics, Options{}) {}
  /// One run: probes up to facts_per_run active facts, continuing after the last user probed.
  Status run_once();
  std::vector<ProbeResult> results() const;
  /// Accuracy of the last `n` results (nullopt when none).
  std::optional<double> accuracy(size_t n = 200) const;
  /// brandcoach_memory_probe_accuracy (of the last 200 probes; no sample before the first run).
  void collect(Exposition& out) const;

 private:
  Result<std::vector<ProbeResult>> probe_user(const std::string& external_id, int limit);
  store::Store& store_;
  memory::Memory& memory_;
  Metrics* metrics_;
  Options options_;
  mutable std::mutex mutex_;
  std::string next_user_;            // guarded by mutex_: where the next run starts
  std::deque<ProbeResult> results_;  // guarded by mutex_, oldest first
};

/// The question a probe asks about a fact key ("Remind me what I told you my price is.").
std::string probe_question(std::string_view key);

/// The memory analytics: facts stored, probe accuracy, cross-session retention, decay by fact age,
/// and how often questions about the past were answered from memory.
nlohmann::json memory_report(const std::map<std::string, int64_t>& facts_by_status,
                             const std::vector<ProbeResult>& probes,
                             const std::vector<store::ReplyRecord>& replies,
                             const std::vector<std::pair<std::string, uint64_t>>& operations);

// ---------------------------------------------------------------------------------------------
// Alerts

/// The seed's thresholds (AlertingSystem.alert_thresholds).
struct AlertThresholds {
  double response_time_s = 5.0;
  double error_rate = 0.05;
  double token_spike = 2.0;  // × the trailing average
  double memory_failure_rate = 0.1;
};

struct Alert {
  std::string name;      // high_response_time | high_error_rate | token_usage_spike | memory_failures
  std::string severity;  // HIGH | CRITICAL | MEDIUM
  std::string type;      // PERFORMANCE | RELIABILITY | COST | MEMORY
  std::string message;
  std::string suggested_action;
  double value = 0;
  double threshold = 0;
  int64_t since_ms = 0;     // when it started firing
  int64_t resolved_ms = 0;  // 0 while firing
};

/// The alerts that fire over `history` (samples oldest first, the last one now): averages and rates
/// over the last `window_ms`; the token spike compares the window with the average window of the
/// trailing `baseline_windows` before it (no baseline yet: no spike).
std::vector<Alert> evaluate_alerts(const std::deque<Totals>& history, int64_t window_ms,
                                   const AlertThresholds& thresholds, int baseline_windows = 12);

/// Evaluates the alerts every `interval_ms` on its own thread, keeps what fires and what resolved,
/// and POSTs each change to a webhook when one is configured.
class Alerter {
 public:
  struct Options {
    int64_t interval_ms = 60000;
    int64_t window_ms = 300000;
    int baseline_windows = 12;
    AlertThresholds thresholds;
    std::string webhook_url;  // empty: none
    size_t keep_resolved = 100;
  };
  Alerter(Metrics& metrics, Options options);
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  /// Samples the totals and evaluates now (the thread calls this every interval).
  void evaluate();
  /// Firing alerts, then the most recently resolved ones.
  std::vector<Alert> firing() const;
  std::vector<Alert> resolved() const;
  int64_t evaluated_at_ms() const;
  const Options& options() const { return options_; }
  /// brandcoach_alerts_firing for each alert.
  void collect(Exposition& out) const;

 private:
  void notify(const Alert& alert, std::string_view state);
  Metrics& metrics_;
  Options options_;
  mutable std::mutex mutex_;
  std::deque<Totals> history_;   // guarded by mutex_
  std::vector<Alert> firing_;    // guarded by mutex_
  std::deque<Alert> resolved_;   // guarded by mutex_, newest first
  int64_t evaluated_at_ms_ = 0;  // guarded by mutex_
  std::jthread thread_;          // last: starts after the members it uses
};

nlohmann::json to_json(const Alert& alert);

}  // namespace brandcoach::obs
