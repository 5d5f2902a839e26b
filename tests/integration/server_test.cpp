// Black-box tests of `brandcoach serve`: the real binary, a real socket, a real SQLite file.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/sse.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

json chat(int port, const std::string& message, const std::string& user = "", int* status = nullptr) {
  std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}};
  if (!user.empty()) headers["X-Brandcoach-User"] = user;
  const auto reply = request(port, "POST", "/api/chat", json{{"message", message}}.dump(), headers);
  if (status) *status = reply.status;
  return json::parse(reply.body);
}

void expect_json_error(const HttpReply& reply, int status, const std::string& param = {}) {
  EXPECT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.headers.at("content-type"), "application/json");
  const auto body = json::parse(reply.body);
  ASSERT_TRUE(body.contains("error")) << reply.body;
  EXPECT_TRUE(body["error"]["type"].is_string());
  EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  if (!param.empty()) {
    EXPECT_EQ(body["error"]["param"], param) << reply.body;
  }
}

class Server : public ::testing::Test {
 protected:
  TempDir dir;
  std::unique_ptr<ServerProcess> server = std::make_unique<ServerProcess>(dir.path());
  int port() const { return server->port(); }
};

TEST_F(Server, HealthAndReadinessReportOk) {
  const auto health = request(port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(json::parse(health.body)["status"], "ok");
  const auto ready = request(port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_GT(json::parse(ready.body)["chunks"].get<int>(), 0);
}

TEST_F(Server, IdealCustomerQuestionIsAnsweredByAvatarWithCitations) {
  int status = 0;
  const auto body = chat(port(), "How do I find my ideal customer?", "", &status);
  ASSERT_EQ(status, 200) << body.dump();
  EXPECT_EQ(body["assistant"], "avatar");
  EXPECT_EQ(body["route"]["method"], "rule") << "\"ideal customer\" is distinctive of avatar";
  EXPECT_GT(body["route"]["confidence"].get<double>(), 0.0);
  ASSERT_FALSE(body["citations"].empty());
  for (const auto& citation : body["citations"]) {
    EXPECT_EQ(citation["store"], "avatar");
    EXPECT_FALSE(citation["file"].get<std::string>().empty());
    EXPECT_GT(citation["chunk"].get<int>(), 0);
    EXPECT_FALSE(citation["snippet"].get<std::string>().empty());
  }
  const std::string reply = body["reply"];
  EXPECT_NE(reply.find("[1]"), std::string::npos) << reply;
  EXPECT_NE(reply.find("**Next step:**"), std::string::npos) << reply;
  EXPECT_GT(body["usage"]["output_tokens"].get<int>(), 0);
  for (const char* stage : {"load", "route", "retrieve", "generate", "persist", "total"}) {
    EXPECT_TRUE(body["timings_ms"].contains(stage)) << stage;
  }
}

TEST_F(Server, ResponsesCarryARequestId) {
  const auto reply = request(port(), "GET", "/healthz");
  ASSERT_TRUE(reply.headers.contains("x-request-id"));
  EXPECT_EQ(reply.headers.at("x-request-id").rfind("req_", 0), 0u);
}

TEST_F(Server, MalformedJsonIs400) {
  expect_json_error(request(port(), "POST", "/api/chat", "{\"message\": "), 400);
  expect_json_error(request(port(), "POST", "/api/chat", "[1,2]"), 400);
  expect_json_error(request(port(), "POST", "/api/chat", ""), 400);
}

TEST_F(Server, InvalidUtf8Is400) {
  const auto reply = request(port(), "POST", "/api/chat", "{\"message\": \"caf\xC3\x28 brand\"}");
  expect_json_error(reply, 400);
  EXPECT_NE(reply.body.find("UTF-8"), std::string::npos) << reply.body;
}

TEST_F(Server, InvalidFieldsAre400NamingTheField) {
  expect_json_error(request(port(), "POST", "/api/chat", R"({"stream": false})"), 400, "message");
  expect_json_error(request(port(), "POST", "/api/chat", R"({"message": 42})"), 400, "message");
  expect_json_error(request(port(), "POST", "/api/chat", R"({"message": "   "})"), 400, "message");
  expect_json_error(request(port(), "POST", "/api/chat", R"({"message": "hi", "stream": "yes"})"), 400,
                    "stream");
  expect_json_error(request(port(), "POST", "/api/chat", R"({"message": "hi", "temperature": 2})"), 400,
                    "temperature");
  expect_json_error(
      request(port(), "POST", "/api/chat", R"({"message": "hi"})", {{"X-Brandcoach-User", "a b/c"}}), 400,
      "X-Brandcoach-User");
}

TEST_F(Server, UnknownPathIs404) {
  expect_json_error(request(port(), "GET", "/api/nothing-here"), 404);
}

TEST_F(Server, WrongMethodIs405WithAllowHeader) {
  const auto reply = request(port(), "GET", "/api/chat");
  expect_json_error(reply, 405);
  EXPECT_EQ(reply.headers.at("allow"), "POST");
  expect_json_error(request(port(), "DELETE", "/healthz"), 405);
}

TEST_F(Server, MalformedHttpIs400) {
  const auto reply = raw_request(port(), "GARBAGE\r\n\r\n");
  EXPECT_EQ(reply.status, 400);
}

TEST(ServerLimits, BodyOverTheLimitIs413) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--set", "server.body_limit_bytes=2048"});
  const std::string big = json{{"message", std::string(4096, 'a')}}.dump();
  const auto reply = request(server.port(), "POST", "/api/chat", big);
  expect_json_error(reply, 413);
  // Under the limit still works.
  int status = 0;
  chat(server.port(), "What should my brand values be?", "", &status);
  EXPECT_EQ(status, 200);
}

TEST(ServerLimits, AClientThatStopsMidRequestIsDisconnectedAfterTheTimeout) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--set", "server.request_timeout_ms=300"});
  const int fd = connect_local(server.port());
  ASSERT_GE(fd, 0);
  send_all(fd, "POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"message\":");
  char buffer[256];
  const ssize_t n = recv(fd, buffer, sizeof buffer, 0);  // blocks until the server gives up on us
  close(fd);
  EXPECT_LE(n, 0) << "the connection is closed without a response";
  // The server is still healthy for everyone else.
  EXPECT_EQ(request(server.port(), "GET", "/healthz").status, 200);
}

TEST_F(Server, KeepAliveServesSeveralRequestsOnOneConnection) {
  const std::string one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const int fd = connect_local(port());
  ASSERT_GE(fd, 0);
  send_all(fd, one + one + last);
  std::string raw;
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) raw.append(buffer, static_cast<size_t>(n));
  close(fd);
  size_t count = 0;
  for (size_t at = raw.find("HTTP/1.1 200"); at != std::string::npos; at = raw.find("HTTP/1.1 200", at + 1))
    ++count;
  EXPECT_EQ(count, 3u) << raw;
}

TEST_F(Server, MetricsExposeRequestCountsAndLatencyHistogram) {
  chat(port(), "How should I price my service?");
  request(port(), "GET", "/nope");
  const auto reply = request(port(), "GET", "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_NE(reply.headers.at("content-type").find("text/plain; version=0.0.4"), std::string::npos);
  const std::string& text = reply.body;
  EXPECT_NE(text.find(R"(brandcoach_http_requests_total{route="/api/chat",method="POST",status="200"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(brandcoach_http_requests_total{route="unmatched",method="GET",status="404"} 1)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(brandcoach_http_request_duration_seconds_bucket{route="/api/chat",le="+Inf"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(brandcoach_turns_total{assistant="canvas",method="classifier"} 1)"),
            std::string::npos)
      << text;
  // Every line is a comment or a well-formed sample.
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"]*",?)*\})? [0-9.eE+-]+$)");
  size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
  }
}

TEST_F(Server, StreamingChatSendsRouteDeltasCitationsThenDone) {
  const auto reply =
      request(port(), "POST", "/api/chat",
              json{{"message", "What channels should I use to sell?"}, {"stream", true}}.dump());
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers.at("content-type"), "text/event-stream");
  const auto events = parse_sse(reply.body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.front().name, "route");
  EXPECT_EQ(events.front().data["assistant"], "canvas");
  EXPECT_EQ(events.back().name, "done");
  std::string streamed;
  size_t deltas = 0, citations = 0;
  bool seen_citation = false;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    if (events[i].name == "delta") {
      EXPECT_FALSE(seen_citation) << "delta after a citation";
      streamed += events[i].data["text"].get<std::string>();
      ++deltas;
    } else {
      EXPECT_EQ(events[i].name, "citation");
      seen_citation = true;
      ++citations;
    }
  }
  EXPECT_GT(deltas, 1u);
  const auto& done = events.back().data;
  EXPECT_EQ(streamed, done["reply"].get<std::string>());
  EXPECT_EQ(citations, done["citations"].size());
  EXPECT_EQ(done["assistant"], "canvas");
}

TEST_F(Server, StreamingRejectsBadUserBeforeStreaming) {
  const auto reply = request(port(), "POST", "/api/chat", json{{"message", "hello"}, {"stream", true}}.dump(),
                             {{"X-Brandcoach-User", "bad user!"}});
  expect_json_error(reply, 400, "X-Brandcoach-User");
}

TEST(ServerRestart, ASecondProcessOnTheSameDataDirRemembersTheThread) {
  TempDir dir;
  {
    ServerProcess first(dir.path());
    int status = 0;
    const auto turn = chat(first.port(), "Hi, my name is Ana and I run a candle shop", "ana", &status);
    ASSERT_EQ(status, 200) << turn.dump();
    EXPECT_EQ(turn["thread"]["message_seq"], 1);
    first.process().signal(SIGTERM);
    EXPECT_EQ(first.process().wait(), 0) << first.process().err();
  }
  ServerProcess second(dir.path());
  int status = 0;
  const auto turn = chat(second.port(), "Who is my ideal customer?", "ana", &status);
  ASSERT_EQ(status, 200);
  EXPECT_EQ(turn["thread"]["message_seq"], 3) << "the earlier turn is part of the same thread";
  EXPECT_EQ(turn["reply"].get<std::string>().rfind("Hi Ana!", 0), 0u) << turn["reply"];
  // Another user's thread is separate.
  const auto other = chat(second.port(), "Who is my ideal customer?", "ben");
  EXPECT_EQ(other["thread"]["message_seq"], 1);
  EXPECT_EQ(other["reply"].get<std::string>().find("Ana"), std::string::npos);
}

TEST(ServerBinding, NonLoopbackAddressIsRefusedWithoutAuth) {
  TempDir dir;
  Process process(
      {BRANDCOACH_BINARY, "--data-dir", dir.path().string(), "serve", "--host", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(process.wait(), 2);
  EXPECT_NE(process.err().find("loopback"), std::string::npos) << process.err();
}

struct Ack {
  std::string user;
  int message_seq;
  int reply_seq;
  std::string message;
};

TEST(ServerShutdown, SigtermDuringLoadLosesNoAcknowledgedMessage) {
  TempDir dir;
  ServerProcess server(dir.path());
  std::mutex mutex;
  std::vector<Ack> acks;
  std::atomic<bool> stop{false};
  std::atomic<int> attempts{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      const std::string user = "user" + std::to_string(c);
      for (int i = 0; !stop; ++i) {
        const std::string message = "How do I price my service, question " + std::to_string(i) + "?";
        HttpReply reply;
        try {
          ++attempts;
          reply = request(server.port(), "POST", "/api/chat", json{{"message", message}}.dump(),
                          {{"X-Brandcoach-User", user}});
        } catch (const std::exception&) {
          return;  // the listener is gone
        }
        if (reply.status != 200) continue;  // not acknowledged: nothing promised
        const auto body = json::parse(reply.body);
        std::lock_guard lock(mutex);
        acks.push_back({user, body["thread"]["message_seq"], body["thread"]["reply_seq"], message});
      }
    });
  }
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (attempts < 40 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server.process().signal(SIGTERM);
  EXPECT_EQ(server.process().wait(), 0) << server.process().err();
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_FALSE(acks.empty());

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "brandcoach.sqlite3").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT m.role, m.text FROM messages m JOIN users u ON u.id = m.user_id "
                               "WHERE u.external_id = ? AND m.seq = ?",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  for (const auto& ack : acks) {
    for (const auto& [seq, role] : {std::pair{ack.message_seq, "user"}, {ack.reply_seq, "assistant"}}) {
      sqlite3_reset(stmt);
      sqlite3_bind_text(stmt, 1, ack.user.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(stmt, 2, seq);
      ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW) << ack.user << " seq " << seq;
      EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), role);
      if (std::string(role) == "user") {
        EXPECT_EQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)), ack.message);
      }
    }
  }
  sqlite3_finalize(stmt);
  // Each thread is gapless: seqs run 1..max with no holes.
  sqlite3_stmt* gaps = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT user_id, COUNT(*), MAX(seq) FROM messages GROUP BY user_id", -1,
                               &gaps, nullptr),
            SQLITE_OK);
  while (sqlite3_step(gaps) == SQLITE_ROW)
    EXPECT_EQ(sqlite3_column_int(gaps, 1), sqlite3_column_int(gaps, 2));
  sqlite3_finalize(gaps);
  sqlite3_close(db);
  // After shutdown nobody listens.
  EXPECT_LT(connect_local(server.port()), 0);
}

}  // namespace
}  // namespace brandcoach::testing
