// `brandcoach serve` answering from a model: a fake OpenAI-compatible server on loopback stands in
// for the hosted LLM, with its faults; everything else is the real binary over real sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/fake_openai_server.hpp"
#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/sse.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::vector<std::string> model_flags(const std::string& provider, const FakeOpenAiServer& model,
                                     std::vector<std::string> more = {}) {
  std::vector<std::string> flags = {
      "--set", "llm.provider=" + provider, "--set", "llm.base_url=" + model.base_url(),
      "--set", "llm.model=gpt-4o-mini",    "--set", "llm.timeout_ms=3000"};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

HttpReply post_chat(int port, const std::string& message, bool stream, const std::string& user = "ana") {
  return request(port, "POST", "/api/chat", json{{"message", message}, {"stream", stream}}.dump(),
                 {{"Content-Type", "application/json"}, {"X-Brandcoach-User", user}});
}

json history(int port, const std::string& user) {
  return json::parse(request(port, "GET", "/api/me/history", "", {{"X-Brandcoach-User", user}}).body);
}

bool eventually(const std::function<bool()>& condition, milliseconds limit = milliseconds(5000)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return condition();
}

ModelScript pieces(std::vector<std::string> words, milliseconds delay = milliseconds(0)) {
  ModelScript s;
  s.pieces = std::move(words);
  s.piece_delay = delay;
  return s;
}

TEST(LlmServer, ModelDeltasReachTheClientInOrderAndTheTurnRecordsUsageAndCost) {
  TempDir dir;
  const std::vector<std::string> words = {"Price ", "by the ", "value ", "you deliver ", "[1]."};
  FakeOpenAiServer model(chat_handler([&](const json&) { return pieces(words, milliseconds(20)); }));
  ServerProcess server(dir.path(), model_flags("chat", model));
  const auto reply = post_chat(server.port(), "How should I price my consulting packages?", true);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto events = parse_sse(reply.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.front().name, "route");
  std::vector<std::string> deltas;
  for (const auto& e : events) {
    if (e.name == "delta") deltas.push_back(e.data["text"]);
  }
  EXPECT_EQ(deltas, words) << "each model delta is forwarded as it comes, in order";
  const auto& done = events.back().data;
  ASSERT_EQ(events.back().name, "done");
  EXPECT_EQ(done["reply"], "Price by the value you deliver [1].");
  EXPECT_EQ(done["provider"], "chat");
  EXPECT_EQ(done["model"], "gpt-4o-mini");
  EXPECT_EQ(done["degraded"], false);
  EXPECT_EQ(done["usage"]["input_tokens"], 321);
  EXPECT_EQ(done["usage"]["output_tokens"], 17);
  EXPECT_NEAR(done["usage"]["cost_usd"].get<double>(), (321 * 0.15 + 17 * 0.6) / 1e6, 1e-9);
  ASSERT_EQ(done["citations"].size(), 1u);
  EXPECT_EQ(done["citations"][0]["number"], 1);

  // The model saw the assistant's instructions, numbered sources and the message.
  const auto body = model.requests().at(0).json();
  EXPECT_EQ(body["messages"][0]["role"], "system");
  const std::string turn = body["messages"].back()["content"];
  EXPECT_NE(turn.find("[1] ("), std::string::npos) << turn;
  EXPECT_NE(turn.find("How should I price my consulting packages?"), std::string::npos);

  // The reply is stored with the thread and its cost is in the user's usage ledger.
  const auto thread = history(server.port(), "ana");
  ASSERT_EQ(thread["messages"].size(), 2u);
  EXPECT_EQ(thread["messages"][1]["text"], "Price by the value you deliver [1].");
  const auto exported =
      json::parse(request(server.port(), "GET", "/api/me/export", "", {{"X-Brandcoach-User", "ana"}}).body);
  ASSERT_FALSE(exported["usage"].empty()) << exported.dump();
  EXPECT_GT(exported["usage"][0]["cost_usd"].get<double>(), 0.0);
  const auto metrics = request(server.port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("openai_token_usage_total{assistant_type=\"canvas\",token_type=\"input\"} 321"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("brandcoach_llm_calls_total{provider=\"chat\",outcome=\"ok\"} 1"),
            std::string::npos);
}

TEST(LlmServer, TheResponsesApiContinuesEachUsersThreadWithPreviousResponseId) {
  TempDir dir;
  FakeOpenAiServer model(responses_handler([](const json&) { return ModelScript{}; }));
  ServerProcess server(dir.path(), model_flags("openai", model, {"--set", "llm.chain=true"}));
  ASSERT_EQ(post_chat(server.port(), "How do I find my ideal customer?", false).status, 200);
  const auto second = post_chat(server.port(), "And where do they spend time online?", false);
  ASSERT_EQ(second.status, 200) << second.body;
  ASSERT_EQ(post_chat(server.port(), "How do I find my ideal customer?", false, "bob").status, 200);
  const auto requests = model.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_FALSE(requests[0].json().contains("previous_response_id"));
  EXPECT_EQ(requests[1].json()["previous_response_id"], "resp_1") << "ana's second turn continues her first";
  EXPECT_FALSE(requests[2].json().contains("previous_response_id")) << "bob's thread is his own";
  EXPECT_EQ(requests[1].json()["store"], true);
  EXPECT_EQ(requests[0].target, "/v1/responses");
}

TEST(LlmServer, AFailingModelIsAnsweredOfflineWithANoticeAndNothingIsLost) {
  TempDir dir;
  FakeOpenAiServer model([](const FakeOpenAiServer::Request&) {
    return FakeOpenAiServer::Reply::openai_error(500, "upstream exploded");
  });
  ServerProcess server(dir.path(), model_flags("chat", model, {"--set", "llm.max_retries=1"}));
  const auto reply = post_chat(server.port(), "How do I find my ideal customer?", false);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  EXPECT_EQ(body["degraded"], true);
  EXPECT_EQ(body["provider"], "offline");
  EXPECT_NE(body["notice"].get<std::string>().find("upstream exploded"), std::string::npos) << body.dump();
  EXPECT_EQ(body["reply"].get<std::string>().rfind("_The language model could not answer just now", 0), 0u);
  EXPECT_FALSE(body["citations"].empty());
  EXPECT_EQ(model.request_count(), 2u) << "one retry";
  const auto thread = history(server.port(), "ana");
  ASSERT_EQ(thread["messages"].size(), 2u);
  EXPECT_EQ(thread["messages"][0]["text"], "How do I find my ideal customer?");
  const auto metrics = request(server.port(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("outcome=\"fallback\"} 1"), std::string::npos) << metrics;
}

TEST(LlmServer, AnOpenBreakerStopsCallingTheModelUntilItsCoolDownEnds) {
  TempDir dir;
  FakeOpenAiServer model(chat_handler([](const json&) { return ModelScript{}; }));
  model.inject(FakeOpenAiServer::Fault::server_error, 2);
  ServerProcess server(dir.path(),
                       model_flags("chat", model,
                                   {"--set", "llm.max_retries=0", "--set", "llm.breaker_failures=2", "--set",
                                    "llm.breaker_cooldown_ms=700"}));
  for (int i = 0; i < 3; ++i) {
    const auto body = json::parse(post_chat(server.port(), "How do I price my product?", false).body);
    EXPECT_EQ(body["degraded"], true) << i;
  }
  EXPECT_EQ(model.request_count(), 2u) << "the third turn never reached the failing model";
  std::this_thread::sleep_for(milliseconds(800));
  const auto recovered = json::parse(post_chat(server.port(), "How do I price my product?", false).body);
  EXPECT_EQ(recovered["degraded"], false) << recovered.dump();
  EXPECT_EQ(recovered["provider"], "chat");
  EXPECT_EQ(model.request_count(), 3u);
}

TEST(LlmServer, AClientThatDisconnectsCancelsTheUpstreamCall) {
  TempDir dir;
  FakeOpenAiServer model(chat_handler(
      [](const json&) { return pieces(std::vector<std::string>(80, "word "), milliseconds(50)); }));
  ServerProcess server(dir.path(), model_flags("chat", model));
  const int fd = connect_local(server.port());
  ASSERT_GE(fd, 0);
  const std::string body = json{{"message", "Tell me how to price my product"}, {"stream", true}}.dump();
  send_all(fd, "POST /api/chat HTTP/1.1\r\nHost: x\r\nX-Brandcoach-User: ana\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
  std::string seen;
  char buffer[4096];
  while (seen.find("event: delta") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    ASSERT_GT(n, 0) << seen;
    seen.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_TRUE(eventually([&] { return model.cut_streams() == 1; })) << "the model call was not cancelled";
  EXPECT_EQ(model.finished_streams(), 0u);
  // The message was durable before the model was called.
  EXPECT_TRUE(eventually([&] { return history(server.port(), "ana")["messages"].size() >= 1; }));
  EXPECT_EQ(history(server.port(), "ana")["messages"][0]["text"], "Tell me how to price my product");
}

// A model that starts answering only once `expected` calls are waiting for it at the same time (or
// gives up after 20 s, and says so). With one turn worker, that can happen only if no worker waits
// for the model while it answers.
struct Rendezvous {
  explicit Rendezvous(int expected) : expected(expected) {}
  ModelScript operator()(const json&) {
    ++arrived;
    if (!eventually([&] { return arrived.load() >= expected; }, milliseconds(20000))) gave_up = true;
    return pieces(std::vector<std::string>(8, "word "), milliseconds(20));
  }
  const int expected;
  std::atomic<int> arrived{0};
  std::atomic<bool> gave_up{false};
};

constexpr const char* kEightWords = "word word word word word word word word ";

TEST(LlmServer, OpenStreamsDoNotHoldTheWorkers) {
  TempDir dir;
  constexpr int kStreams = 4;
  Rendezvous together(kStreams);
  FakeOpenAiServer model(chat_handler(std::ref(together)));
  ServerProcess server(
      dir.path(), model_flags("chat", model, {"--set", "server.workers=1", "--set", "llm.timeout_ms=60000"}));
  std::vector<int> sockets;
  for (int i = 0; i < kStreams; ++i) {
    const int fd = connect_local(server.port());
    ASSERT_GE(fd, 0);
    const std::string body = json{{"message", "How should I price my product?"}, {"stream", true}}.dump();
    send_all(fd, "POST /api/chat HTTP/1.1\r\nHost: x\r\nX-Brandcoach-User: user" + std::to_string(i) +
                     "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    sockets.push_back(fd);
  }
  ASSERT_TRUE(eventually([&] { return together.arrived.load() == kStreams; }, milliseconds(30000)));
  const auto health = request(server.port(), "GET", "/healthz", "", {});
  EXPECT_EQ(health.status, 200) << "the worker is free for other requests while the streams are open";
  char buffer[4096];
  for (int i = 0; i < kStreams; ++i) {
    std::string seen;
    while (seen.find("event: done") == std::string::npos) {
      const ssize_t n = ::recv(sockets[i], buffer, sizeof buffer, 0);
      ASSERT_GT(n, 0) << seen;
      seen.append(buffer, static_cast<size_t>(n));
    }
    ::close(sockets[i]);
  }
  EXPECT_FALSE(together.gave_up) << "every stream was waiting for the model at once";
  for (int i = 0; i < kStreams; ++i) {
    const auto messages = history(server.port(), "user" + std::to_string(i))["messages"];
    ASSERT_EQ(messages.size(), 2u) << "the reply is durable once the stream is done";
    EXPECT_EQ(messages[1]["text"], kEightWords);
  }
}

TEST(LlmServer, PlainAnswersWaitingForTheModelDoNotHoldTheWorkers) {
  TempDir dir;
  Rendezvous together(3);
  FakeOpenAiServer model(chat_handler(std::ref(together)));
  ServerProcess server(
      dir.path(), model_flags("chat", model, {"--set", "server.workers=1", "--set", "llm.timeout_ms=60000"}));
  std::vector<std::future<HttpReply>> replies;
  for (int i = 0; i < 3; ++i) {
    replies.push_back(std::async(std::launch::async, [&, i] {
      return post_chat(server.port(), "How should I price my product?", false, "plain" + std::to_string(i));
    }));
  }
  for (auto& reply : replies) {
    const auto answer = reply.get();
    ASSERT_EQ(answer.status, 200) << answer.body;
    EXPECT_EQ(json::parse(answer.body)["reply"], kEightWords);
  }
  EXPECT_FALSE(together.gave_up) << "all three were waiting for the model at once";
}

TEST(LlmServer, AFullQueueAnswers503WithRetryAfter) {
  TempDir dir;
  FakeOpenAiServer model(chat_handler(
      [](const json&) { return pieces(std::vector<std::string>(20, "slow "), milliseconds(50)); }));
  ServerProcess server(
      dir.path(), model_flags("chat", model, {"--set", "llm.max_concurrency=1", "--set", "llm.max_queue=0"}));
  auto first =
      std::async(std::launch::async, [&] { return post_chat(server.port(), "How do I price it?", false); });
  ASSERT_TRUE(eventually([&] { return model.request_count() == 1; }));
  const auto refused = post_chat(server.port(), "How do I price it?", false, "bob");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.headers.at("retry-after"), "1");
  EXPECT_EQ(json::parse(refused.body)["error"]["type"], "service_unavailable_error");
  EXPECT_EQ(first.get().status, 200);
}

TEST(LlmServer, AModelProviderWithoutItsSettingsDoesNotStart) {
  TempDir dir;
  const auto r = run_brandcoach({"--data-dir", dir.path().string(), "--set", "llm.provider=chat", "serve"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("llm.base_url"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace brandcoach::testing
