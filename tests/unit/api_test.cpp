#include <gtest/gtest.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {
namespace {

TEST(ChatRequest, AcceptsMessageAndOptionalStream) {
  auto parsed = parse_chat_request(R"({"message": "hello there", "stream": true})");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->message, "hello there");
  EXPECT_TRUE(parsed->stream);
  parsed = parse_chat_request(R"({"message": "hi"})");
  ASSERT_TRUE(parsed);
  EXPECT_FALSE(parsed->stream);
}

TEST(ChatRequest, RejectsEveryMalformedBodyWithTheOffendingField) {
  struct Case {
    std::string body;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"", ""},
      {"not json", ""},
      {"[\"message\"]", ""},
      {R"({"message": null})", "message"},
      {R"({"message": ["a"]})", "message"},
      {R"({"message": ""})", "message"},
      {R"({"message": "ok", "stream": 1})", "stream"},
      {R"({"message": "ok", "extra": 1})", "extra"},
      {R"({})", "message"},
      {"{\"message\": \"\xff\"}", ""},
  };
  for (const auto& c : cases) {
    auto parsed = parse_chat_request(c.body);
    ASSERT_FALSE(parsed) << c.body;
    EXPECT_EQ(parsed.error().param, c.param) << c.body;
    EXPECT_EQ(http_status(parsed.error().kind), 400) << c.body;
  }
}

TEST(ChatRequest, OverlongMessageIs413) {
  auto parsed = parse_chat_request(nlohmann::json{{"message", std::string(40000, 'a')}}.dump());
  ASSERT_FALSE(parsed);
  EXPECT_EQ(http_status(parsed.error().kind), 413);
}

TEST(ErrorResponse, HasTypeMessageAndParam) {
  const auto response = error_response(Error::invalid("message must be a string", "message"));
  EXPECT_EQ(response.status, 400);
  const auto body = nlohmann::json::parse(response.body);
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_EQ(body["error"]["message"], "message must be a string");
  EXPECT_EQ(body["error"]["param"], "message");
  const auto no_param = nlohmann::json::parse(error_response(Error::not_found("gone")).body);
  EXPECT_TRUE(no_param["error"]["param"].is_null());
}

TEST(RequestUser, DefaultsToLocalAndValidatesTheHeader) {
  Request request;
  EXPECT_EQ(request_user(request).value(), "local");
  request.user_header = "ana@example.com";
  EXPECT_EQ(request_user(request).value(), "ana@example.com");
  request.user_header = "../etc/passwd";
  EXPECT_FALSE(request_user(request));
  request.user_header = std::string(200, 'a');
  EXPECT_FALSE(request_user(request));
}

TEST(SseEvent, FramesEventAndSingleLineData) {
  EXPECT_EQ(sse_event("delta", {{"text", "a\nb"}}), "event: delta\ndata: {\"text\":\"a\\nb\"}\n\n");
}

TEST(Routes, KnownPathsListTheirMethods) {
  EXPECT_EQ(match_route("/api/chat").methods, std::vector<std::string>{"POST"});
  EXPECT_EQ(match_route("/healthz").methods, std::vector<std::string>{"GET"});
  EXPECT_EQ(match_route("/api/chat/").route, "unmatched");
}

TEST(BindAddress, OnlyLoopbackUntilAuthExists) {
  EXPECT_TRUE(check_bind_address("127.0.0.1"));
  EXPECT_TRUE(check_bind_address("::1"));
  EXPECT_FALSE(check_bind_address("0.0.0.0"));
  EXPECT_FALSE(check_bind_address("192.168.1.4"));
  EXPECT_FALSE(check_bind_address("localhost-ish"));
}

}  // namespace
}  // namespace brandcoach::http
