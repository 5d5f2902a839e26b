// Alerts with the seed's thresholds, evaluated from differences of the metrics' running totals, so
// they mean what the Prometheus rules in deploy/prometheus/alerts.yml mean.
#include <algorithm>
#include <condition_variable>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/net/net.hpp"
#include "brandcoach/obs/obs.hpp"

namespace brandcoach::obs {

namespace {

// The newest sample taken at or before `at_ms`; the oldest one when none is that old.
const Totals& sample_at(const std::deque<Totals>& history, int64_t at_ms) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->at_ms <= at_ms) return *it;
  }
  return history.front();
}

std::string percent(double share) {
  return fmt::format("{:.2f}%", share * 100);
}

double ratio(double part, double whole) {
  return whole > 0 ? part / whole : 0;
}

Alert make_alert(std::string name, std::string severity, std::string type, std::string message,
                 std::string action, double value, double threshold) {
  Alert alert;
  alert.name = std::move(name);
  alert.severity = std::move(severity);
  alert.type = std::move(type);
  alert.message = std::move(message);
  alert.suggested_action = std::move(action);
  alert.value = value;
  alert.threshold = threshold;
  return alert;
}

// "http://host:8080/hooks/alerts" -> {"http://host:8080", "hooks/alerts"}.
std::pair<std::string, std::string> split_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  const auto path_start = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_start == std::string::npos) return {url, ""};
  return {url.substr(0, path_start), url.substr(path_start + 1)};
}

}  // namespace

std::vector<Alert> evaluate_alerts(const std::deque<Totals>& history, int64_t window_ms,
                                   const AlertThresholds& thresholds, int baseline_windows) {
  std::vector<Alert> alerts;
  if (history.size() < 2) return alerts;
  const Totals& now = history.back();
  const Totals& base = sample_at(history, now.at_ms - window_ms);
  const double minutes = static_cast<double>(window_ms) / 60000.0;

  const uint64_t turns = now.turns - base.turns;
  if (turns > 0) {
    const double average = (now.turn_seconds - base.turn_seconds) / static_cast<double>(turns);
    if (average > thresholds.response_time_s) {
      alerts.push_back(
          make_alert("high_response_time", "HIGH", "PERFORMANCE",
                     fmt::format("Response time {:.2f}s exceeds threshold ({:.0f}s) over the last {:g} min "
                                 "({} turns)",
                                 average, thresholds.response_time_s, minutes, turns),
                     "Scale assistant pool or optimize queries", average, thresholds.response_time_s));
    }
  }

  const double http_rate = ratio(static_cast<double>(now.server_errors - base.server_errors),
                                 static_cast<double>(now.requests - base.requests));
  const double model_rate = ratio(static_cast<double>(now.fallbacks - base.fallbacks),
                                  static_cast<double>(now.model_answers - base.model_answers));
  const double error_rate = std::max(http_rate, model_rate);
  if (error_rate > thresholds.error_rate) {
    const std::string what =
        model_rate >= http_rate
            ? fmt::format("{} of model answers failed over to the offline composer", percent(model_rate))
            : fmt::format("{} of requests failed with a server error", percent(http_rate));
    alerts.push_back(
        make_alert("high_error_rate", "CRITICAL", "RELIABILITY",
                   fmt::format("Error rate {} exceeds threshold ({}) over the last {:g} min: {}",
                               percent(error_rate), percent(thresholds.error_rate), minutes, what),
                   "Investigate error logs and implement fixes", error_rate, thresholds.error_rate));
  }

  // The window's tokens against the average window of the trailing baseline before it.
  const Totals& baseline = sample_at(history, base.at_ms - baseline_windows * window_ms);
  const int64_t baseline_span = base.at_ms - baseline.at_ms;
  if (baseline_span >= window_ms) {
    const double windows = static_cast<double>(baseline_span) / static_cast<double>(window_ms);
    const double average = static_cast<double>(base.tokens - baseline.tokens) / windows;
    const auto tokens = static_cast<double>(now.tokens - base.tokens);
    if (average > 0 && tokens > thresholds.token_spike * average) {
      alerts.push_back(make_alert("token_usage_spike", "MEDIUM", "COST",
                                  fmt::format("Unusual token usage: {:.0f} tokens in the last {:g} min, "
                                              "{:.1f}× the trailing average of {:.0f}",
                                              tokens, minutes, tokens / average, average),
                                  "Review recent interactions for inefficiencies", tokens / average,
                                  thresholds.token_spike));
    }
  }

  const uint64_t operations = now.memory_operations - base.memory_operations;
  if (operations > 0) {
    const double rate = ratio(static_cast<double>(now.memory_failures - base.memory_failures),
                              static_cast<double>(operations));
    if (rate > thresholds.memory_failure_rate) {
      alerts.push_back(make_alert(
          "memory_failures", "CRITICAL", "MEMORY",
          fmt::format("Memory failure rate {} exceeds threshold ({}) over the last {:g} min ({} operations)",
                      percent(rate), percent(thresholds.memory_failure_rate), minutes, operations),
          "Check the store and the extraction queue; GET /api/admin/analytics/memory lists the facts the "
          "probes missed",
          rate, thresholds.memory_failure_rate));
    }
  }
  return alerts;
}

nlohmann::json to_json(const Alert& alert) {
  return {{"name", alert.name},
          {"severity", alert.severity},
          {"type", alert.type},
          {"message", alert.message},
          {"suggested_action", alert.suggested_action},
          {"value", alert.value},
          {"threshold", alert.threshold},
          {"since", iso_time(alert.since_ms)},
          {"resolved_at",
           alert.resolved_ms > 0 ? nlohmann::json(iso_time(alert.resolved_ms)) : nlohmann::json(nullptr)}};
}

Alerter::Alerter(Metrics& metrics, Options options)
    : metrics_(metrics), options_(std::move(options)), thread_([this](std::stop_token stop) {
        std::mutex wait_mutex;
        std::condition_variable_any wake;
        {
          std::lock_guard history_lock(mutex_);
          history_.push_back(metrics_.totals());  // the baseline every window starts from
        }
        while (true) {
          std::unique_lock lock(wait_mutex);
          if (wake.wait_for(lock, stop, std::chrono::milliseconds(options_.interval_ms),
                            [] { return false; }) ||
              stop.stop_requested())
            return;
          lock.unlock();
          evaluate();
        }
      }) {}

Alerter::~Alerter() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void Alerter::evaluate() {
  std::vector<std::pair<Alert, std::string>> changes;
  {
    std::lock_guard lock(mutex_);
    history_.push_back(metrics_.totals());
    const Totals& now = history_.back();
    // Keep what the longest comparison needs (the baseline windows before the current one), and a bit.
    const int64_t keep_ms = (static_cast<int64_t>(options_.baseline_windows) + 2) * options_.window_ms;
    while (history_.size() > 2 && history_[1].at_ms < now.at_ms - keep_ms) history_.pop_front();
    auto current =
        evaluate_alerts(history_, options_.window_ms, options_.thresholds, options_.baseline_windows);
    for (auto& alert : current) {
      const auto was =
          std::find_if(firing_.begin(), firing_.end(), [&](const Alert& a) { return a.name == alert.name; });
      if (was != firing_.end()) {
        alert.since_ms = was->since_ms;
      } else {
        alert.since_ms = now.at_ms;
        changes.emplace_back(alert, "firing");
      }
    }
    for (auto& old : firing_) {
      const bool still =
          std::any_of(current.begin(), current.end(), [&](const Alert& a) { return a.name == old.name; });
      if (still) continue;
      old.resolved_ms = now.at_ms;
      changes.emplace_back(old, "resolved");
      resolved_.push_front(old);
      if (resolved_.size() > options_.keep_resolved) resolved_.pop_back();
    }
    firing_ = std::move(current);
    evaluated_at_ms_ = now.at_ms;
  }
  for (const auto& [alert, state] : changes) {
    if (state == "firing") {
      spdlog::warn("alert {}: {}", alert.name, alert.message);
    } else {
      spdlog::info("alert {} resolved", alert.name);
    }
    notify(alert, state);
  }
}

void Alerter::notify(const Alert& alert, std::string_view state) {
  if (options_.webhook_url.empty()) return;
  const auto [base, path] = split_url(options_.webhook_url);
  net::Client client(base, {"", 1, 2000, 5000, nullptr});
  const nlohmann::json body = {{"source", "brandcoach"}, {"status", state}, {"alert", to_json(alert)}};
  if (auto sent = client.post(path, body.dump(), "alert webhook"); !sent)
    spdlog::warn("alert webhook: {}", sent.error().message);
}

void Alerter::collect(Exposition& out) const {
  const auto now_firing = firing();
  out.family("brandcoach_alerts_firing", "gauge", "1 while the server's own alert of this name fires.");
  for (const std::string_view name :
       {"high_response_time", "high_error_rate", "token_usage_spike", "memory_failures"}) {
    const bool on =
        std::any_of(now_firing.begin(), now_firing.end(), [&](const Alert& a) { return a.name == name; });
    out.sample("brandcoach_alerts_firing", {{"alert", name}}, on ? 1 : 0);
  }
}

std::vector<Alert> Alerter::firing() const {
  std::lock_guard lock(mutex_);
  return firing_;
}

std::vector<Alert> Alerter::resolved() const {
  std::lock_guard lock(mutex_);
  return {resolved_.begin(), resolved_.end()};
}

int64_t Alerter::evaluated_at_ms() const {
  std::lock_guard lock(mutex_);
  return evaluated_at_ms_;
}

}  // namespace brandcoach::obs
