// Metrics, analytics, probes and alerts: the exposition read back by a strict parser, counts exact
// under concurrency, and every analytics number worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "brandcoach/memory/memory.hpp"
#include "brandcoach/obs/obs.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::obs {
namespace {

using nlohmann::json;

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// A strict reader of the text format 0.0.4: every sample belongs to the family announced by the
// HELP and TYPE lines before it, label syntax and escapes are valid, no series appears twice, and
// histogram buckets are cumulative, end with +Inf and agree with _count. Returns the problems found
// and fills `values` with series -> value.
std::vector<std::string> check_exposition(const std::string& text, std::map<std::string, double>& values) {
  std::vector<std::string> problems;
  const std::regex help_re(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  const std::regex type_re(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  const std::regex sample_re(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$)");
  std::set<std::string> families_seen;
  std::string family;
  std::string type;
  std::string last_help;
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // series without le -> (le, value)
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::smatch m;
    const auto where = [&] { return "line " + std::to_string(number) + ": " + line; };
    if (line.empty()) {
      problems.push_back("empty line at " + std::to_string(number));
    } else if (std::regex_match(line, m, help_re)) {
      last_help = m[1];
    } else if (std::regex_match(line, m, type_re)) {
      if (m[1] != last_help) problems.push_back("TYPE without its HELP: " + where());
      family = m[1];
      type = m[2];
      if (!families_seen.insert(family).second) problems.push_back("family written twice: " + where());
    } else if (std::regex_match(line, m, sample_re)) {
      const std::string name = m[1];
      std::string base = name;
      if (type == "histogram") {
        for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
          if (name.size() > suffix.size() && name.ends_with(suffix))
            base = name.substr(0, name.size() - suffix.size());
        }
      }
      if (base != family) problems.push_back("sample outside its family (" + family + "): " + where());
      const std::string series = name + "{" + std::string(m[3]) + "}";
      char* end = nullptr;
      const std::string value_text = m[4];
      double value = 0;
      if (value_text == "+Inf") {
        value = INFINITY;
      } else if (value_text == "-Inf") {
        value = -INFINITY;
      } else if (value_text == "NaN") {
        value = NAN;
      } else {
        value = std::strtod(value_text.c_str(), &end);
        if (end == nullptr || *end != '\0') problems.push_back("bad value: " + where());
      }
      if (!values.emplace(series, value).second) problems.push_back("duplicate series: " + where());
      if (type == "counter" && value < 0) problems.push_back("negative counter: " + where());
      if (name.ends_with("_bucket")) {
        const std::string labels = m[3];
        const std::regex le_re(R"re((^|,)le="([^"]*)")re");
        std::smatch le;
        if (!std::regex_search(labels, le, le_re)) {
          problems.push_back("bucket without le: " + where());
        } else {
          const std::string le_text = le[2];
          const double bound = le_text == "+Inf" ? INFINITY : std::strtod(le_text.c_str(), nullptr);
          std::string rest = std::regex_replace(labels, le_re, "");
          buckets[base + "{" + rest + "}"].emplace_back(bound, value);
        }
      }
    } else {
      problems.push_back("unparsable: " + where());
    }
  }
  for (const auto& [series, points] : buckets) {
    for (size_t i = 1; i < points.size(); ++i) {
      if (points[i].first <= points[i - 1].first) problems.push_back("buckets out of order in " + series);
      if (points[i].second < points[i - 1].second) problems.push_back("buckets not cumulative in " + series);
    }
    if (points.empty() || !std::isinf(points.back().first)) problems.push_back("no +Inf bucket in " + series);
  }
  return problems;
}

TEST(Metrics, TheExpositionPassesAStrictReadingAndHoldsWhatWasObserved) {
  Metrics metrics;
  metrics.observe_request("/api/chat", "POST", 200, 0.003);
  metrics.observe_request("/api/chat", "POST", 200, 0.7);
  metrics.observe_request("/api/chat", "POST", 503, 0.002);
  metrics.observe_request("unmatched", "", 404, 0.0001);
  metrics.observe_turn({"canvas", "classifier", "chat", 300, 20, 0.0012, false, true, 0.8, 0.91});
  metrics.observe_turn({"canvas", "classifier", "chat", 100, 10, 0.0005, true, false, 6.5, 0.55});
  metrics.observe_turn({"core", "fallback", "offline", 0, 40, 0, false, true, 0.004, 0.2});
  metrics.count_memory_operation("recall", "ok");
  metrics.count_memory_operation("recall", "miss");
  metrics.count_memory_operation("probe", "fail");
  metrics.add_collector([](Exposition& out) {
    out.family("brandcoach_test_gauge", "gauge", "A label that needs \"escaping\".");
    out.sample("brandcoach_test_gauge", {{"path", "a\\b\"c\nd"}}, 2.5);
  });
  std::map<std::string, double> v;
  const auto problems = check_exposition(metrics.render(), v);
  EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems) << metrics.render();

  EXPECT_EQ(v[R"(brandcoach_http_requests_total{route="/api/chat",method="POST",status="200"})"], 2);
  EXPECT_EQ(v[R"(brandcoach_http_requests_total{route="/api/chat",method="POST",status="503"})"], 1);
  EXPECT_EQ(v[R"(brandcoach_http_request_duration_seconds_bucket{route="/api/chat",le="0.0025"})"], 1);
  EXPECT_EQ(v[R"(brandcoach_http_request_duration_seconds_bucket{route="/api/chat",le="0.005"})"], 2);
  EXPECT_EQ(v[R"(brandcoach_http_request_duration_seconds_bucket{route="/api/chat",le="1"})"], 3);
  EXPECT_EQ(v[R"(brandcoach_http_request_duration_seconds_count{route="/api/chat"})"], 3);
  EXPECT_NEAR(v[R"(brandcoach_http_request_duration_seconds_sum{route="/api/chat"})"], 0.705, 1e-9);
  EXPECT_EQ(v[R"(assistant_response_time_seconds_count{assistant_type="canvas"})"], 2);
  EXPECT_EQ(v[R"(assistant_response_time_seconds_bucket{assistant_type="canvas",le="1"})"], 1);
  EXPECT_EQ(v[R"(assistant_response_time_seconds_bucket{assistant_type="canvas",le="10"})"], 2);
  EXPECT_EQ(v[R"(openai_token_usage_total{assistant_type="canvas",token_type="input"})"], 400);
  EXPECT_EQ(v[R"(openai_token_usage_total{assistant_type="core",token_type="output"})"], 40);
  EXPECT_EQ(v[R"(memory_operations_total{operation_type="recall",status="miss"})"], 1);
  EXPECT_EQ(v[R"(brandcoach_routing_decisions_total{method="classifier",assistant="canvas"})"], 2);
  EXPECT_EQ(v[R"(brandcoach_routing_confidence_bucket{le="0.2"})"], 1);
  EXPECT_EQ(v[R"(brandcoach_routing_confidence_bucket{le="0.6"})"], 2);
  EXPECT_EQ(v[R"(brandcoach_routing_confidence_count{})"], 3);
  EXPECT_EQ(v[R"(brandcoach_llm_calls_total{provider="chat",outcome="fallback"})"], 1);
  EXPECT_NEAR(v[R"(brandcoach_llm_cost_usd_total{assistant_type="canvas"})"], 0.0017, 1e-9);
  EXPECT_EQ(v[R"(brandcoach_conversations_total{})"], 2);
  EXPECT_EQ(v[R"(brandcoach_test_gauge{path="a\\b\"c\nd"})"], 2.5);

  const auto totals = metrics.totals();
  EXPECT_EQ(totals.requests, 4u);
  EXPECT_EQ(totals.server_errors, 1u);
  EXPECT_EQ(totals.turns, 3u);
  EXPECT_NEAR(totals.turn_seconds, 7.304, 1e-9);
  EXPECT_EQ(totals.model_answers, 2u) << "the offline composer by choice is no model answer";
  EXPECT_EQ(totals.fallbacks, 1u);
  EXPECT_EQ(totals.tokens, 470u);
  EXPECT_EQ(totals.memory_operations, 3u);
  EXPECT_EQ(totals.memory_failures, 1u);
}

TEST(Metrics, ConcurrentObservationsAreAllCountedAndInstancesNeverShareChildren) {
  Metrics first;
  Metrics second;
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        first.observe_request(t % 2 == 0 ? "/a" : "/b", "GET", 200, 0.001);
        first.count_memory_operation("extract", "ok");
        if (i % 10 == 0) second.count_memory_operation("extract", "ok");
      }
    });
  }
  for (auto& t : threads) t.join();
  std::map<std::string, double> v;
  EXPECT_TRUE(check_exposition(first.render(), v).empty());
  EXPECT_EQ(v[R"(brandcoach_http_requests_total{route="/a",method="GET",status="200"})"], 2 * kEach);
  EXPECT_EQ(v[R"(brandcoach_http_requests_total{route="/b",method="GET",status="200"})"], 2 * kEach);
  EXPECT_EQ(v[R"(memory_operations_total{operation_type="extract",status="ok"})"], kThreads * kEach);
  std::map<std::string, double> w;
  EXPECT_TRUE(check_exposition(second.render(), w).empty());
  EXPECT_EQ(w[R"(memory_operations_total{operation_type="extract",status="ok"})"], kThreads * kEach / 10);
}

TEST(Metrics, TheStrictReaderRejectsWhatPrometheusWouldReject) {
  std::map<std::string, double> v;
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a counter\nb 1\n", v).empty()) << "sample outside family";
  v.clear();
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a counter\na{x=\"1} 1\n", v).empty()) << "bad label";
  v.clear();
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a counter\na 1\na 2\n", v).empty()) << "duplicate";
  v.clear();
  EXPECT_FALSE(
      check_exposition("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"2\"} 2\n", v)
          .empty())
      << "not cumulative, no +Inf";
}

// ---------------------------------------------------------------------------------------------

Totals at(int64_t ms) {
  Totals t;
  t.at_ms = ms;
  return t;
}

TEST(Alerts, EachSeedThresholdFiresAboveItAndNotBelow) {
  const AlertThresholds thresholds;  // the seed's: 5 s, 5%, 2×, 10%
  std::deque<Totals> history = {at(0), at(5 * kMinute)};
  // 10 turns averaging 6 s; 100 requests with 6 server errors; 20 model answers, 1 fallback;
  // 50 memory operations with 6 failures.
  auto& now = history.back();
  now.turns = 10;
  now.turn_seconds = 60;
  now.requests = 100;
  now.server_errors = 6;
  now.model_answers = 20;
  now.fallbacks = 1;
  now.memory_operations = 50;
  now.memory_failures = 6;
  auto alerts = evaluate_alerts(history, 5 * kMinute, thresholds);
  std::set<std::string> names;
  for (const auto& a : alerts) names.insert(a.name);
  EXPECT_EQ(names, (std::set<std::string>{"high_response_time", "high_error_rate", "memory_failures"}));
  for (const auto& a : alerts) {
    EXPECT_FALSE(a.suggested_action.empty());
    if (a.name == "high_response_time") {
      EXPECT_EQ(a.severity, "HIGH");
      EXPECT_EQ(a.type, "PERFORMANCE");
      EXPECT_DOUBLE_EQ(a.value, 6.0);
      EXPECT_EQ(a.suggested_action, "Scale assistant pool or optimize queries");
    }
    if (a.name == "high_error_rate") {
      EXPECT_EQ(a.severity, "CRITICAL");
      EXPECT_DOUBLE_EQ(a.value, 0.06);
      EXPECT_NE(a.message.find("server error"), std::string::npos) << a.message;
    }
    if (a.name == "memory_failures") {
      EXPECT_DOUBLE_EQ(a.value, 0.12);
    }
  }
  // Just under every threshold: nothing fires.
  now.turn_seconds = 49.9;
  now.server_errors = 5;
  now.fallbacks = 1;
  now.memory_failures = 5;
  EXPECT_TRUE(evaluate_alerts(history, 5 * kMinute, thresholds).empty());
  // A model failing over more than 5% of its answers is an error rate too.
  now.fallbacks = 2;
  alerts = evaluate_alerts(history, 5 * kMinute, thresholds);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name, "high_error_rate");
  EXPECT_DOUBLE_EQ(alerts[0].value, 0.1);
  EXPECT_NE(alerts[0].message.find("offline composer"), std::string::npos) << alerts[0].message;
}

TEST(Alerts, OnlyTheWindowCountsNotWhatCameBefore) {
  // A slow hour long ago, then five quick minutes: the average over the window is what matters.
  std::deque<Totals> history = {at(0), at(60 * kMinute), at(65 * kMinute)};
  history[1].turns = 100;
  history[1].turn_seconds = 1000;
  history[2].turns = 110;
  history[2].turn_seconds = 1001;
  EXPECT_TRUE(evaluate_alerts(history, 5 * kMinute, {}).empty());
}

TEST(Alerts, ATokenSpikeNeedsATrailingBaselineAndTwiceItsAverage) {
  std::deque<Totals> history;
  for (int i = 0; i <= 12; ++i) {
    history.push_back(at(i * 5 * kMinute));
    history.back().tokens = static_cast<uint64_t>(i) * 1000;  // 1,000 tokens per window
  }
  history.push_back(at(13 * 5 * kMinute));
  history.back().tokens = 12000 + 2000;  // exactly 2×: not over it
  EXPECT_TRUE(evaluate_alerts(history, 5 * kMinute, {}).empty());
  history.back().tokens = 12000 + 2500;
  auto alerts = evaluate_alerts(history, 5 * kMinute, {});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].name, "token_usage_spike");
  EXPECT_EQ(alerts[0].severity, "MEDIUM");
  EXPECT_EQ(alerts[0].type, "COST");
  EXPECT_DOUBLE_EQ(alerts[0].value, 2.5);
  // No history before the window: no baseline, no spike however many tokens.
  std::deque<Totals> young = {at(0), at(5 * kMinute)};
  young.back().tokens = 1'000'000;
  EXPECT_TRUE(evaluate_alerts(young, 5 * kMinute, {}).empty());
}

TEST(Alerts, TheAlerterKeepsWhenAnAlertStartedAndMovesItToResolved) {
  Metrics metrics;
  Alerter::Options options;
  options.interval_ms = 3'600'000;  // evaluated by hand here
  options.window_ms = 3'600'000;
  options.thresholds.response_time_s = 1.0;
  Alerter alerter(metrics, options);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the thread takes its first sample
  metrics.observe_turn({"core", "keyword", "offline", 0, 10, 0, false, false, 2.0, 0.9});
  alerter.evaluate();
  auto firing = alerter.firing();
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].name, "high_response_time");
  const int64_t since = firing[0].since_ms;
  EXPECT_GT(since, 0);
  alerter.evaluate();
  ASSERT_EQ(alerter.firing().size(), 1u);
  EXPECT_EQ(alerter.firing()[0].since_ms, since) << "still the same episode";
  // Enough quick turns bring the window's average under the threshold.
  for (int i = 0; i < 10; ++i)
    metrics.observe_turn({"core", "keyword", "offline", 0, 10, 0, false, false, 0.01, 0.9});
  alerter.evaluate();
  EXPECT_TRUE(alerter.firing().empty());
  ASSERT_EQ(alerter.resolved().size(), 1u);
  EXPECT_EQ(alerter.resolved()[0].name, "high_response_time");
  EXPECT_GE(alerter.resolved()[0].resolved_ms, since);
  Exposition out;
  alerter.collect(out);
  EXPECT_NE(out.text().find("brandcoach_alerts_firing{alert=\"high_response_time\"} 0"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------

store::Message message(int64_t session, int64_t at_ms, std::string role, std::string text,
                       std::string assistant = "") {
  store::Message m;
  m.session_no = session;
  m.created_at = at_ms;
  m.role = std::move(role);
  m.text = std::move(text);
  m.assistant = std::move(assistant);
  return m;
}

TEST(Analytics, AJourneyHasItsSessionsPreferencesTopicsAndWeightedEngagement) {
  const int64_t start = 1'700'010'000'000;  // 2023-11-15 01:00 UTC
  std::vector<store::Message> thread = {
      // Session 1: two questions about pricing, answered by canvas, 10 minutes.
      message(1, start, "user", "How should I price my catering menus?"),
      message(1, start + kMinute, "assistant", "…", "canvas"),
      message(1, start + 9 * kMinute, "user", "Is pricing per guest better for catering?"),
      message(1, start + 10 * kMinute, "assistant", "…", "canvas"),
      // Session 2, the same day: one question about customers, answered by avatar.
      message(2, start + 3 * kHour, "user", "Who are my ideal customers for weddings?"),
      message(2, start + 3 * kHour + kMinute, "assistant", "…", "avatar"),
      // Session 3, two days later: content, answered by capture, then core.
      message(3, start + 2 * kDay, "user", "What should my wedding content calendar look like?"),
      message(3, start + 2 * kDay + kMinute, "assistant", "…", "capture"),
      message(3, start + 2 * kDay + 2 * kMinute, "user", "And my brand story?"),
      message(3, start + 2 * kDay + 4 * kMinute, "assistant", "…", "core"),
  };
  const auto journey = user_journey(thread, start + 7 * kDay);
  EXPECT_EQ(journey["total_sessions"], 3);
  EXPECT_EQ(journey["total_messages"], 10);
  EXPECT_DOUBLE_EQ(journey["avg_session_length"]["user_turns"].get<double>(), 1.67);
  EXPECT_DOUBLE_EQ(journey["avg_session_length"]["minutes"].get<double>(), 5);  // (10 + 1 + 4) / 3
  EXPECT_EQ(journey["assistant_preferences"]["canvas"]["count"], 2);
  EXPECT_DOUBLE_EQ(journey["assistant_preferences"]["canvas"]["share"].get<double>(), 0.4);
  ASSERT_EQ(journey["topic_progression"].size(), 3u);
  EXPECT_EQ(journey["topic_progression"][0]["assistant"], "canvas");
  EXPECT_EQ(journey["topic_progression"][0]["topics"][0], "catering") << journey["topic_progression"].dump();
  EXPECT_EQ(journey["topic_progression"][1]["assistant"], "avatar");
  // Factors: 3 sessions in one week (full frequency: 100); 5/3 turns a session of 10 (16.7);
  // 4 of 5 assistants (80); of the 2 later sessions one came on another day (50).
  const auto& f = journey["engagement_factors"];
  EXPECT_DOUBLE_EQ(f["session_frequency"].get<double>(), 100);
  EXPECT_DOUBLE_EQ(f["depth_of_interaction"].get<double>(), 16.7);
  EXPECT_DOUBLE_EQ(f["topic_diversity"].get<double>(), 80);
  EXPECT_DOUBLE_EQ(f["return_rate"].get<double>(), 50);
  EXPECT_NEAR(journey["engagement_score"].get<double>(), 0.3 * 100 + 0.3 * 100.0 / 6 + 0.2 * 80 + 0.2 * 50,
              0.06);
  EXPECT_EQ(user_journey({}, start)["total_sessions"], 0);
  EXPECT_EQ(user_journey({}, start)["engagement_score"], 0);
}

store::ReplyRecord reply(int64_t at_ms, std::string assistant, double ms, std::string route_json,
                         double cost = 0, int64_t user = 1, int64_t session = 1) {
  store::ReplyRecord r;
  r.created_at = at_ms;
  r.assistant = std::move(assistant);
  r.total_ms = ms;
  r.route_json = std::move(route_json);
  r.cost_usd = cost;
  r.user_id = user;
  r.session_no = session;
  return r;
}

TEST(Analytics, RoutingCountsMethodsConfidenceAndFallbacks) {
  const std::vector<store::ReplyRecord> replies = {
      reply(0, "canvas", 3, R"({"method":"classifier","confidence":0.91,"fallback":"core"})"),
      reply(0, "canvas", 3, R"({"method":"classifier","confidence":0.95,"fallback":"core"})"),
      reply(0, "core", 3, R"({"method":"fallback","confidence":0.25,"fallback":"canvas"})"),
      reply(0, "avatar", 3, R"({"method":"rule","confidence":1.0001,"fallback":"core"})"),
      reply(0, "core", 3, "not json"),
  };
  const auto report = routing_report(replies);
  EXPECT_EQ(report["turns"], 5);
  EXPECT_EQ(report["distribution"]["canvas"]["count"], 2);
  EXPECT_DOUBLE_EQ(report["distribution"]["core"]["share"].get<double>(), 0.4);
  EXPECT_EQ(report["methods"]["classifier"]["count"], 2);
  EXPECT_EQ(report["methods"]["fallback"]["count"], 1);
  EXPECT_EQ(report["methods"]["unknown"]["count"], 1);
  EXPECT_EQ(report["confidence_histogram"][2]["count"], 1);  // 0.25
  EXPECT_EQ(report["confidence_histogram"][9]["count"], 3);  // 0.91, 0.95, 1.0 (1.0001 is float noise)
  EXPECT_EQ(report["fallbacks"], 1);
  EXPECT_DOUBLE_EQ(report["fallback_rate"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(report["mean_confidence"].get<double>(), 0.778);  // (0.91 + 0.95 + 0.25 + 1) / 4
}

TEST(Analytics, LatencyPercentilesAreOverTheirOwnWindows) {
  const int64_t now = 1'700'000'000'000;
  std::vector<store::ReplyRecord> replies;
  for (int i = 1; i <= 100; ++i)
    replies.push_back(reply(now - 2 * kDay, "canvas", 1000 + i, "{}"));                     // old, slow
  for (int i = 1; i <= 100; ++i) replies.push_back(reply(now - kMinute, "core", i, "{}"));  // recent
  const auto report = latency_report(replies, now);
  const auto& recent = report["windows"]["5m"]["all"];
  EXPECT_EQ(recent["count"], 100);
  EXPECT_DOUBLE_EQ(recent["p50"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(recent["p95"].get<double>(), 95);
  EXPECT_DOUBLE_EQ(recent["p99"].get<double>(), 99);
  EXPECT_EQ(report["windows"]["7d"]["all"]["count"], 200);
  EXPECT_DOUBLE_EQ(report["windows"]["7d"]["by_assistant"]["canvas"]["p50"].get<double>(), 1050);
  EXPECT_EQ(report["windows"]["24h"]["by_assistant"].count("canvas"), 0u);
  EXPECT_EQ(report["hourly"].size(), 24u);
  EXPECT_EQ(report["hourly"][23]["count"], 100);
}

TEST(Analytics, CostsAreSplitEveryWayAndTheMonthProjectedFromItsDaysSoFar) {
  // 2026-11-10 12:00 UTC: ten days of November gone.
  const int64_t now = 1'794'312'000'000;
  const std::vector<store::UsageTotal> usage = {
      {"2026-11-01", "canvas", "ana", 1000, 100, 1.0},
      {"2026-11-05", "core", "ana", 1000, 100, 2.0},
      {"2026-11-10", "canvas", "bob", 1000, 100, 2.0},
      {"2026-10-31", "canvas", "bob", 1000, 100, 4.0},  // last month: not in the month so far
  };
  const std::vector<store::ReplyRecord> replies = {reply(now, "canvas", 1, "{}", 1.0, 1, 1),
                                                   reply(now, "core", 1, "{}", 2.0, 1, 1),
                                                   reply(now, "canvas", 1, "{}", 6.0, 2, 1)};
  const auto report = cost_report(usage, replies, now);
  EXPECT_DOUBLE_EQ(report["total_usd"].get<double>(), 9.0);
  EXPECT_EQ(report["tokens"], 4400);
  EXPECT_DOUBLE_EQ(report["per_user_avg_usd"].get<double>(), 4.5);
  EXPECT_EQ(report["top_users"][0]["user"], "bob");
  EXPECT_DOUBLE_EQ(report["per_assistant_usd"]["canvas"].get<double>(), 7.0);
  EXPECT_EQ(report["conversations"], 2);
  EXPECT_DOUBLE_EQ(report["per_conversation_avg_usd"].get<double>(), 4.5);
  EXPECT_EQ(report["month"], "2026-11");
  EXPECT_DOUBLE_EQ(report["month_to_date_usd"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(report["projected_month_usd"].get<double>(), 15.0);  // 5 / 10 days × 30
}

// ---------------------------------------------------------------------------------------------

class Probes : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bc-obs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto opened = store::open_sqlite({(dir_ / "db.sqlite3").string(), 2, 5000});
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(opened).value();
    memory_ = std::make_unique<memory::Memory>(*store_);
  }
  void TearDown() override {
    memory_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // A user message, stored and observed as a turn would.
  void tell(const std::string& user, const std::string& text, int64_t session) {
    auto u = store_->ensure_user(user);
    ASSERT_TRUE(u);
    store::Message m;
    m.user_id = u->id;
    m.role = "user";
    m.text = text;
    m.session_no = session;
    auto stored = store_->append_message(m);
    ASSERT_TRUE(stored) << stored.error().message;
    auto observed = memory_->observe(*stored);
    ASSERT_TRUE(observed) << observed.error().message;
  }
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<memory::Memory> memory_;
};

TEST_F(Probes, StoredFactsAreAskedAboutAsAUserWouldAndFoundAcrossSessions) {
  tell("ana", "Our main competitor is Casa Verde.", 1);
  tell("ana", "We charge $14 per taco plate.", 1);
  tell("ana", "Our target market is busy office workers downtown.", 2);
  tell("bob", "We are a team of 6 people.", 1);
  Metrics metrics;
  MemoryProber prober(*store_, *memory_, &metrics, {10, 100});
  ASSERT_TRUE(prober.run_once());
  const auto results = prober.results();
  auto facts_ana = store_->list_facts(store_->find_user("ana").value()->id, false).value();
  auto facts_bob = store_->list_facts(store_->find_user("bob").value()->id, false).value();
  ASSERT_EQ(results.size(), facts_ana.size() + facts_bob.size()) << "every active fact, once";
  ASSERT_GE(results.size(), 4u);
  int cross = 0;
  for (const auto& r : results) {
    EXPECT_TRUE(r.found) << r.key << ": " << r.question;
    EXPECT_TRUE(r.question.starts_with("Remind me")) << r.question;
    cross += r.cross_session ? 1 : 0;
  }
  EXPECT_EQ(cross, static_cast<int>(facts_ana.size()) - 1)
      << "ana's session-1 facts; her latest session is 2";
  EXPECT_EQ(prober.accuracy(), 1.0);
  std::map<std::string, double> v;
  check_exposition(metrics.render(), v);
  EXPECT_EQ(v[R"(memory_operations_total{operation_type="probe",status="ok"})"],
            static_cast<double>(results.size()));

  // The report: all found, none decayed; the ledger of probes and the facts by status.
  const auto activity = store_->activity({}).value();
  const auto report = memory_report(activity.facts_by_status, results, {}, metrics.memory_operation_counts());
  EXPECT_EQ(report["total_facts_stored"], static_cast<int64_t>(results.size()));
  EXPECT_DOUBLE_EQ(report["fact_retrieval_accuracy"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(report["cross_session_retention"].get<double>(), 1.0);
  EXPECT_EQ(report["decay_by_fact_age"]["under_1d"]["probes"], static_cast<int64_t>(results.size()));
  EXPECT_DOUBLE_EQ(report["memory_decay_rate"].get<double>(), 0.0);
  EXPECT_TRUE(report["recent_failed_probes"].empty());
}

TEST_F(Probes, ASupersededValueIsNotWhatAProbeExpectsAndAnEmptyStoreProbesNothing) {
  Metrics metrics;
  MemoryProber empty(*store_, *memory_, &metrics);
  ASSERT_TRUE(empty.run_once());
  EXPECT_TRUE(empty.results().empty());
  EXPECT_EQ(empty.accuracy(), std::nullopt);

  tell("ana", "We charge $14 per plate.", 1);
  tell("ana", "Actually, we changed our price to $16 per plate.", 1);
  MemoryProber prober(*store_, *memory_, &metrics, {10, 100});
  ASSERT_TRUE(prober.run_once());
  const auto results = prober.results();
  ASSERT_EQ(results.size(), 1u) << "only the current price is probed";
  EXPECT_TRUE(results[0].found);
  EXPECT_FALSE(results[0].cross_session);
}

TEST_F(Probes, RunsGoRoundTheUsersAFewAtATime) {
  const std::vector<std::string> rivals = {"Acme", "Birch", "Cobalt", "Delta", "Ember", "Fjord"};
  for (size_t i = 0; i < rivals.size(); ++i)
    tell("user" + std::to_string(i), "Our main competitor is " + rivals[i] + " Bakery.", 1);
  Metrics metrics;
  MemoryProber prober(*store_, *memory_, &metrics, {2, 100});
  std::set<int64_t> users;
  for (int run = 0; run < 3; ++run) {
    ASSERT_TRUE(prober.run_once());
  }
  for (const auto& r : prober.results()) users.insert(r.user_id);
  EXPECT_EQ(prober.results().size(), 6u);
  EXPECT_EQ(users.size(), 6u) << "three runs of two probes reach all six users";
}

TEST(ProbeQuestions, AskAboutTheKeyByItsLabel) {
  EXPECT_EQ(probe_question("price"), "Remind me what I told you about my price.");
  EXPECT_EQ(probe_question("person:designer"), "Remind me who my designer is.");
}

}  // namespace
}  // namespace brandcoach::obs
