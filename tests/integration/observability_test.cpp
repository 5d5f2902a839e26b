// Observability from the outside: real traffic through the real binary, a model that fails partway
// (the fake OpenAI-compatible server), and what /metrics, the analytics endpoints, the alerts and the
// alert webhook say about it afterwards.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include "support/fake_openai_server.hpp"
#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

HttpReply chat(int port, const std::string& user, const std::string& message) {
  return request(port, "POST", "/api/chat", json{{"message", message}}.dump(),
                 {{"Content-Type", "application/json"}, {"X-Brandcoach-User", user}});
}

json get_json(int port, const std::string& path) {
  const auto reply = request(port, "GET", path);
  EXPECT_EQ(reply.status, 200) << path << ": " << reply.body;
  return json::parse(reply.body, nullptr, false);
}

// Series -> value of an exposition (lines that are not comments).
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  const std::regex line_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$)");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (!line.starts_with("#") && std::regex_match(line, m, line_re)) out[m[1]] = std::stod(m[2]);
  }
  return out;
}

// The model answers until told to fail; then every call is a 500. Webhook posts are answered 200.
struct FlakyModel {
  std::shared_ptr<std::atomic<bool>> failing = std::make_shared<std::atomic<bool>>(false);
  FakeOpenAiServer server;
  FlakyModel()
      : server([failing = failing, ok = chat_handler([](const json&) { return ModelScript{}; })](
                   const FakeOpenAiServer::Request& request) {
          if (request.target.starts_with("/hooks/"))
            return FakeOpenAiServer::Reply::json({{"received", true}});
          if (*failing) return FakeOpenAiServer::Reply::openai_error(500, "the model is down");
          return ok(request);
        }) {}
};

TEST(Observability, TrafficAndModelFailuresShowInMetricsAnalyticsAlertsAndTheWebhook) {
  TempDir dir;
  FlakyModel model;
  const std::string hook = "http://127.0.0.1:" + std::to_string(model.server.port()) + "/hooks/alerts";
  ServerProcess server(
      dir.path(), {"--set", "llm.provider=chat",          "--set", "llm.base_url=" + model.server.base_url(),
                   "--set", "llm.model=gpt-4o-mini",      "--set", "llm.max_retries=1",
                   "--set", "llm.breaker_failures=2",     "--set", "llm.breaker_cooldown_ms=600000",
                   "--set", "alerts.interval_s=3600",     "--set", "alerts.window_s=3600",
                   "--set", "alerts.webhook_url=" + hook, "--set", "memory.probe_interval_s=0"});
  const int port = server.port();

  // Three answered turns with facts in them, then three while the model is down: two calls fail
  // (each retried once) and open the breaker, the third is refused by it. All six are answered.
  ASSERT_EQ(chat(port, "ana", "Our main competitor is Casa Verde.").status, 200);
  ASSERT_EQ(chat(port, "ana", "We charge $14 per taco plate.").status, 200);
  ASSERT_EQ(chat(port, "bob", "Our target market is busy office workers downtown.").status, 200);
  *model.failing = true;
  for (int i = 0; i < 3; ++i) {
    const auto reply = chat(port, "ana", "How do I describe my brand personality?");
    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_EQ(json::parse(reply.body)["degraded"], true);
  }

  const auto text = request(port, "GET", "/metrics").body;
  auto v = samples(text);
  EXPECT_EQ(v[R"(brandcoach_llm_calls_total{provider="chat",outcome="ok"})"], 3) << text;
  EXPECT_EQ(v[R"(brandcoach_llm_calls_total{provider="chat",outcome="fallback"})"], 3);
  EXPECT_EQ(v[R"(brandcoach_llm_requests_total{provider="chat"})"], 5) << "the refused call never went out";
  EXPECT_EQ(v[R"(brandcoach_llm_retries_total{provider="chat"})"], 2);
  EXPECT_EQ(v[R"(brandcoach_llm_errors_total{provider="chat"})"], 2);
  EXPECT_EQ(v[R"(brandcoach_llm_rejected_total{provider="chat",reason="breaker_open"})"], 1);
  EXPECT_EQ(v[R"(brandcoach_llm_circuit_breaker_state{provider="chat"})"], 2);
  double turns = 0;
  double decisions = 0;
  for (const auto& [series, value] : v) {
    if (series.starts_with("assistant_response_time_seconds_count")) turns += value;
    if (series.starts_with("brandcoach_routing_decisions_total")) decisions += value;
  }
  EXPECT_EQ(turns, 6);
  EXPECT_EQ(decisions, 6);
  EXPECT_EQ(v[R"(memory_operations_total{operation_type="extract",status="ok"})"], 6);
  EXPECT_EQ(v[R"(brandcoach_http_requests_total{route="/api/chat",method="POST",status="200"})"], 6);
  EXPECT_EQ(v[R"(brandcoach_active_users{window="5m"})"], 2);
  EXPECT_GE(v[R"(brandcoach_facts{status="active"})"], 3);
  EXPECT_GT(v[R"(brandcoach_knowledge_store_chunks{store="canvas"})"], 0);
  EXPECT_EQ(v[R"(brandcoach_extraction_queue_depth)"], 0);
  EXPECT_EQ(v[R"(brandcoach_http_inflight_requests)"], 1) << "the scrape itself";

  // The alerts, evaluated now: half of the model's answers fell back, far over 5%.
  const auto evaluated = request(port, "POST", "/api/admin/alerts/evaluate");
  ASSERT_EQ(evaluated.status, 200) << evaluated.body;
  const auto alerts = json::parse(evaluated.body);
  ASSERT_EQ(alerts["firing"].size(), 1u) << alerts.dump();
  const auto& alert = alerts["firing"][0];
  EXPECT_EQ(alert["name"], "high_error_rate");
  EXPECT_EQ(alert["severity"], "CRITICAL");
  EXPECT_DOUBLE_EQ(alert["value"].get<double>(), 0.5);
  EXPECT_EQ(alert["suggested_action"], "Investigate error logs and implement fixes");
  EXPECT_EQ(alerts["thresholds"]["error_rate"], 0.05);
  EXPECT_EQ(get_json(port, "/api/admin/alerts")["firing"].size(), 1u) << "listed until it resolves";
  const auto hooks = model.server.requests();
  const auto posted =
      std::find_if(hooks.begin(), hooks.end(), [](const auto& r) { return r.target == "/hooks/alerts"; });
  ASSERT_NE(posted, hooks.end()) << "the webhook was told";
  EXPECT_EQ(posted->json()["status"], "firing");
  EXPECT_EQ(posted->json()["alert"]["name"], "high_error_rate");
  EXPECT_EQ(
      samples(request(port, "GET", "/metrics").body)[R"(brandcoach_alerts_firing{alert="high_error_rate"})"],
      1);

  // Analytics: routing, latency, costs, a journey and the memory probes.
  const auto routing = get_json(port, "/api/admin/analytics/routing");
  EXPECT_EQ(routing["turns"], 6);
  int64_t routed = 0;
  for (const auto& [_, entry] : routing["distribution"].items()) routed += entry["count"].get<int64_t>();
  EXPECT_EQ(routed, 6);
  const auto latency = get_json(port, "/api/admin/analytics/latency");
  EXPECT_EQ(latency["windows"]["5m"]["all"]["count"], 6);
  EXPECT_GT(latency["windows"]["5m"]["all"]["p99"].get<double>(), 0);
  const auto costs = get_json(port, "/api/admin/analytics/costs");
  // The fake model reports 321 input and 17 output tokens per answer; gpt-4o-mini costs $0.15/$0.60.
  EXPECT_NEAR(costs["total_usd"].get<double>(), 3 * (321 * 0.15 + 17 * 0.6) / 1e6, 1e-9) << costs.dump();
  EXPECT_EQ(costs["users"], 2);
  EXPECT_GE(costs["projected_month_usd"].get<double>(), costs["month_to_date_usd"].get<double>());
  const auto journey = get_json(port, "/api/admin/analytics/journey/ana");
  EXPECT_EQ(journey["user"], "ana");
  EXPECT_EQ(journey["total_sessions"], 1);
  EXPECT_EQ(journey["total_messages"], 10);
  EXPECT_GT(journey["engagement_score"].get<double>(), 0);
  const auto probed = request(port, "POST", "/api/admin/analytics/memory/probe");
  ASSERT_EQ(probed.status, 200) << probed.body;
  const auto memory = json::parse(probed.body);
  EXPECT_GE(memory["probes"].get<int64_t>(), 3);
  EXPECT_DOUBLE_EQ(memory["fact_retrieval_accuracy"].get<double>(), 1.0) << memory.dump();
  EXPECT_EQ(memory["total_facts_stored"], memory["facts_by_status"]["active"]);

  // The exposition passes promtool's own check, and every metric the dashboard and the alert
  // rules use is one this server exports.
  const auto scraped = dir.path() / "metrics.txt";
  std::ofstream(scraped) << request(port, "GET", "/metrics").body;
  const std::string check =
      std::string(BRANDCOACH_TEST_DATA_DIR) + "/../deploy/check-monitoring " + scraped.string();
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
}

TEST(Observability, AnalyticsRejectBadParametersAndUnknownUsers) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--set", "memory.probe_interval_s=0"});
  const int port = server.port();
  for (const std::string path : {"/api/admin/analytics/costs?days=0", "/api/admin/analytics/costs?days=abc",
                                 "/api/admin/analytics/routing?days=91"}) {
    const auto reply = request(port, "GET", path);
    EXPECT_EQ(reply.status, 400) << path << ": " << reply.body;
    EXPECT_EQ(json::parse(reply.body)["error"]["param"], "days");
  }
  const auto unknown = request(port, "GET", "/api/admin/analytics/journey/nobody");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(request(port, "GET", "/api/admin/alerts/evaluate").status, 405);
  EXPECT_EQ(request(port, "DELETE", "/api/admin/analytics/memory").status, 405);
  // With no traffic yet, the reports are empty but whole.
  const auto memory = get_json(port, "/api/admin/analytics/memory");
  EXPECT_EQ(memory["probes"], 0);
  EXPECT_TRUE(memory["fact_retrieval_accuracy"].is_null());
  EXPECT_EQ(get_json(port, "/api/admin/alerts")["firing"].size(), 0u);
}

}  // namespace
}  // namespace brandcoach::testing
