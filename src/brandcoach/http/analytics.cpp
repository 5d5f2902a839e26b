// The admin dashboard's numbers, computed by the server from what it stores (every reply's timings,
// tokens, cost and memory use) and what it counts (requests, errors), never by the browser.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

using json = nlohmann::json;

constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;
// The seed's alert thresholds.
constexpr double kSlowP95Ms = 5000;
constexpr double kRetentionFloor = 0.9;
constexpr double kCostSpikeFactor = 1.5;
constexpr double kErrorRateCeiling = 0.05;

std::string day_of(int64_t unix_ms) {
  return iso_time(unix_ms).substr(0, 10);
}

using obs::percentile;
using obs::round_to;

json latency_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {{"p50", round_to(percentile(values, 50), 0.1)},
          {"p95", round_to(percentile(values, 95), 0.1)},
          {"p99", round_to(percentile(values, 99), 0.1)}};
}

struct DayTotals {
  int64_t turns = 0;
  std::vector<double> latencies;
  std::map<std::string, int64_t> by_assistant;
  std::map<std::string, double> cost_by_assistant;
  double cost = 0;
};

json maybe_ratio(int64_t part, int64_t whole) {
  return whole > 0 ? json(static_cast<double>(part) / static_cast<double>(whole)) : json(nullptr);
}

// Hits of this node's in-process and answer caches since start; unknown before any lookup.
json cache_hit_rate(const Services& services) {
  uint64_t hits = 0;
  uint64_t lookups = 0;
  const auto add = [&](const cache::LayerStats& stats) {
    hits += stats.hits.load();
    lookups += stats.hits.load() + stats.misses.load();
  };
  if (services.cache) add(services.cache->l1_stats());
  if (services.answers) add(services.answers->stats());
  return lookups > 0 ? json(static_cast<double>(hits) / static_cast<double>(lookups)) : json(nullptr);
}

}  // namespace

Response admin_analytics(const Request& request, const Services& services) {
  auto days = integer_param(request.query, "days", 14, 1, 90);
  if (!days) return error_response(days.error());
  const int64_t now = unix_millis();
  // Days are UTC calendar days; the window starts at the first one's midnight.
  const int64_t today_start = now - now % kDayMs;
  const int64_t from = today_start - (*days - 1) * kDayMs;
  auto replies = services.store.replies_since(from);
  if (!replies) return error_response(replies.error());
  auto counts = services.store.counts();
  if (!counts) return error_response(counts.error());

  std::map<std::string, DayTotals> by_day;
  for (int64_t d = 0; d < *days; ++d) by_day[day_of(from + d * kDayMs)];
  std::set<int64_t> users_today;
  std::set<int64_t> users_week;
  std::set<std::pair<int64_t, int64_t>> conversations_today;
  std::set<std::pair<int64_t, int64_t>> conversations;
  std::vector<double> latency_today;
  std::map<std::string, int64_t> distribution;
  int64_t tokens = 0;
  double cost = 0;
  double cost_today = 0;
  int64_t memory_questions = 0;
  int64_t memory_answered = 0;
  for (const auto& r : *replies) {
    auto& day = by_day[day_of(r.created_at)];
    ++day.turns;
    if (r.total_ms > 0) day.latencies.push_back(r.total_ms);
    ++day.by_assistant[r.assistant];
    day.cost_by_assistant[r.assistant] += r.cost_usd;
    day.cost += r.cost_usd;
    ++distribution[r.assistant];
    tokens += r.input_tokens + r.output_tokens;
    cost += r.cost_usd;
    conversations.insert({r.user_id, r.session_no});
    if (r.created_at >= now - 7 * kDayMs) users_week.insert(r.user_id);
    if (r.created_at >= today_start) {
      users_today.insert(r.user_id);
      conversations_today.insert({r.user_id, r.session_no});
      if (r.total_ms > 0) latency_today.push_back(r.total_ms);
      cost_today += r.cost_usd;
    }
    if (r.memory_question == 1) {
      ++memory_questions;
      if (r.memory_used) ++memory_answered;
    }
  }

  json series = json::array();
  double earlier_cost = 0;
  int64_t earlier_days = 0;
  for (auto& [day, totals] : by_day) {
    std::sort(totals.latencies.begin(), totals.latencies.end());
    json cost_by_assistant = json::object();
    for (const auto& [assistant, usd] : totals.cost_by_assistant) cost_by_assistant[assistant] = usd;
    series.push_back({{"day", day},
                      {"turns", totals.turns},
                      {"latency_p50_ms", round_to(percentile(totals.latencies, 50), 0.1)},
                      {"latency_p95_ms", round_to(percentile(totals.latencies, 95), 0.1)},
                      {"latency_p99_ms", round_to(percentile(totals.latencies, 99), 0.1)},
                      {"by_assistant", totals.by_assistant},
                      {"cost_by_assistant_usd", std::move(cost_by_assistant)},
                      {"cache_hit_rate", nullptr}});
    if (day != day_of(now) && totals.turns > 0) {
      earlier_cost += totals.cost;
      ++earlier_days;
    }
  }

  const auto requests = services.metrics.request_totals();
  const json error_rate =
      requests.requests > 0
          ? json(static_cast<double>(requests.server_errors) / static_cast<double>(requests.requests))
          : json(nullptr);
  const json retention = maybe_ratio(memory_answered, memory_questions);
  const json latency = latency_of(latency_today);
  const int64_t conversation_count = static_cast<int64_t>(conversations.size());

  json alerts = json::array();
  if (latency["p95"].get<double>() > kSlowP95Ms) {
    alerts.push_back({{"severity", "warning"},
                      {"name", "High response time"},
                      {"message", fmt::format("p95 latency today is {:.0f} ms (over {:.0f} ms)",
                                              latency["p95"].get<double>(), kSlowP95Ms)}});
  }
  if (retention.is_number() && retention.get<double>() < kRetentionFloor) {
    alerts.push_back(
        {{"severity", "critical"},
         {"name", "Memory failure"},
         {"message", fmt::format("only {:.0f}% of questions about the past were answered from memory",
                                 100 * retention.get<double>())}});
  }
  if (earlier_days > 0 &&
      cost_today > kCostSpikeFactor * (earlier_cost / static_cast<double>(earlier_days)) && cost_today > 0) {
    alerts.push_back(
        {{"severity", "info"},
         {"name", "Cost spike"},
         {"message", fmt::format("today's cost ${:.4f} is over 1.5× the daily average ${:.4f}", cost_today,
                                 earlier_cost / static_cast<double>(earlier_days))}});
  }
  if (error_rate.is_number() && error_rate.get<double>() > kErrorRateCeiling) {
    alerts.push_back({{"severity", "warning"},
                      {"name", "Errors"},
                      {"message", fmt::format("{:.1f}% of requests since start failed with a server error",
                                              100 * error_rate.get<double>())}});
  }

  json errors = json::array();
  for (const auto& e : services.metrics.recent_errors()) {
    errors.push_back({{"at", iso_time(e.at_ms)},
                      {"status", e.status},
                      {"route", e.route},
                      {"message", e.message},
                      {"request_id", e.request_id}});
  }

  return json_response(
      200, {{"days", *days},
            {"overview",
             {{"users_total", counts->users},
              {"active_users_today", users_today.size()},
              {"active_users_7d", users_week.size()},
              {"turns_today", by_day[day_of(now)].turns},
              {"conversations_today", conversations_today.size()},
              {"latency_ms", latency},
              {"error_rate", error_rate},
              {"requests_total", requests.requests},
              {"tokens_per_conversation",
               conversation_count > 0 ? json(tokens / conversation_count) : json(nullptr)},
              {"cost_per_conversation_usd",
               conversation_count > 0 ? json(cost / static_cast<double>(conversation_count)) : json(nullptr)},
              {"cost_today_usd", cost_today},
              {"memory_retention_rate", retention},
              {"cache_hit_rate", cache_hit_rate(services)}}},
            {"series", std::move(series)},
            {"assistant_distribution", distribution},
            {"errors", std::move(errors)},
            {"alerts", std::move(alerts)}});
}

Response analytics_journey(const Request& request, const std::string& route, const Services& services) {
  const std::string external_id = path_parameter(route, request.path);
  auto user = services.store.find_user(external_id);
  if (!user) return error_response(user.error());
  if (!*user) return error_response(Error::not_found("no user " + external_id, "user"));
  auto thread = services.store.messages_between((*user)->id, 0, INT64_MAX, -1);
  if (!thread) return error_response(thread.error());
  auto journey = obs::user_journey(*thread, unix_millis());
  journey["user"] = external_id;
  return json_response(200, journey);
}

Response analytics_memory(const Services& services, bool probe_now) {
  if (probe_now) {
    if (!services.prober)
      return error_response(Error::unavailable("memory probes are not running on this server"));
    if (auto status = services.prober->run_once(); !status) return error_response(status.error());
  }
  auto activity = services.store.activity({});
  if (!activity) return error_response(activity.error());
  auto replies = services.store.replies_since(unix_millis() - 30 * kDayMs);
  if (!replies) return error_response(replies.error());
  const auto probes = services.prober ? services.prober->results() : std::vector<obs::ProbeResult>{};
  return json_response(200, obs::memory_report(activity->facts_by_status, probes, *replies,
                                               services.metrics.memory_operation_counts()));
}

Response analytics_costs(const Request& request, const Services& services) {
  auto days = integer_param(request.query, "days", 30, 1, 366);
  if (!days) return error_response(days.error());
  const int64_t now = unix_millis();
  const int64_t from = now - now % kDayMs - (*days - 1) * kDayMs;
  auto usage = services.store.usage_totals(iso_time(from).substr(0, 10), "");
  if (!usage) return error_response(usage.error());
  auto replies = services.store.replies_since(from);
  if (!replies) return error_response(replies.error());
  auto report = obs::cost_report(*usage, *replies, now);
  report["days"] = *days;
  return json_response(200, report);
}

Response analytics_routing(const Request& request, const Services& services) {
  auto days = integer_param(request.query, "days", 7, 1, 90);
  if (!days) return error_response(days.error());
  auto replies = services.store.replies_since(unix_millis() - *days * kDayMs);
  if (!replies) return error_response(replies.error());
  auto report = obs::routing_report(*replies);
  report["days"] = *days;
  return json_response(200, report);
}

Response analytics_latency(const Services& services) {
  const int64_t now = unix_millis();
  auto replies = services.store.replies_since(now - 7 * kDayMs);
  if (!replies) return error_response(replies.error());
  return json_response(200, obs::latency_report(*replies, now));
}

Response admin_alerts(const Services& services, bool evaluate_now) {
  if (!services.alerter) return error_response(Error::unavailable("alerts are not evaluated on this server"));
  if (evaluate_now) services.alerter->evaluate();
  nlohmann::json firing = nlohmann::json::array();
  for (const auto& alert : services.alerter->firing()) firing.push_back(obs::to_json(alert));
  nlohmann::json resolved = nlohmann::json::array();
  for (const auto& alert : services.alerter->resolved()) resolved.push_back(obs::to_json(alert));
  const auto& options = services.alerter->options();
  const int64_t evaluated = services.alerter->evaluated_at_ms();
  return json_response(
      200, {{"firing", std::move(firing)},
            {"resolved", std::move(resolved)},
            {"evaluated_at", evaluated > 0 ? nlohmann::json(iso_time(evaluated)) : nlohmann::json(nullptr)},
            {"interval_s", static_cast<double>(options.interval_ms) / 1000.0},
            {"window_s", static_cast<double>(options.window_ms) / 1000.0},
            {"thresholds",
             {{"response_time_s", options.thresholds.response_time_s},
              {"error_rate", options.thresholds.error_rate},
              {"token_usage_spike", options.thresholds.token_spike},
              {"memory_failure_rate", options.thresholds.memory_failure_rate}}},
            {"webhook", !options.webhook_url.empty()}});
}

}  // namespace brandcoach::http
