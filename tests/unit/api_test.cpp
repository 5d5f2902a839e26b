#include <gtest/gtest.h>
#include <filesystem>
#include <functional>

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

namespace brandcoach::http {
namespace {

TEST(Multipart, SplitsFilesAndFields) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"attributes\"\r\n\r\n{\"topic\":\"pricing\"}\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../notes/a b.md\"\r\n"
      "Content-Type: text/markdown\r\n\r\n# Title\r\n\r\nBody with --XyZ inside a line\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\n\r\n"
      "--XyZ--\r\n";
  auto parts = parse_multipart("multipart/form-data; boundary=XyZ", body);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "attributes");
  EXPECT_EQ((*parts)[0].data, "{\"topic\":\"pricing\"}");
  EXPECT_EQ((*parts)[1].filename, "../notes/a b.md");
  EXPECT_EQ((*parts)[1].content_type, "text/markdown");
  EXPECT_EQ((*parts)[1].data, "# Title\r\n\r\nBody with --XyZ inside a line");
  EXPECT_EQ((*parts)[2].data, "") << "an empty file is a part with no bytes";
  auto quoted = parse_multipart("multipart/form-data; boundary=\"a;b\"",
                                "--a;b\r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--a;b--");
  ASSERT_TRUE(quoted) << quoted.error().message;
  EXPECT_EQ(quoted->front().data, "1");
}

TEST(Multipart, MalformedBodiesAreClearErrors) {
  const auto error = [](std::string_view type, std::string_view body) {
    auto parts = parse_multipart(type, body);
    EXPECT_FALSE(parts) << body;
    return parts ? std::string() : parts.error().message;
  };
  EXPECT_NE(error("application/json", "{}").find("multipart/form-data"), std::string::npos);
  EXPECT_NE(error("multipart/form-data", "--x\r\n").find("boundary"), std::string::npos);
  EXPECT_NE(error("multipart/form-data; boundary=x", "no boundary here").find("no boundary line"),
            std::string::npos);
  EXPECT_NE(error("multipart/form-data; boundary=x",
                  "--x\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nunterminated")
                .find("ends inside a part"),
            std::string::npos);
  EXPECT_NE(
      error("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--")
          .find("no name"),
      std::string::npos);
  EXPECT_NE(error("multipart/form-data; boundary=x",
                  "--x\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--x--")
                .find("not form-data"),
            std::string::npos);
}

TEST(OpenApi, DescribesExactlyTheRoutesThatExist) {
  const auto doc = openapi_document();
  EXPECT_EQ(doc["openapi"], "3.1.0");
  const auto& paths = doc["paths"];
  for (const auto& route : routes()) {
    if (route.route.rfind("/v1/", 0) == 0) continue;  // the OpenAI surface is OpenAI's own document
    if (route.route == "/" || route.route == "/admin" || route.route == "/assets/{file}") continue;  // pages
    ASSERT_TRUE(paths.contains(route.route)) << route.route << " is served but not documented";
    for (const auto& method : route.methods) {
      std::string lower = method;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_TRUE(paths[route.route].contains(lower)) << method << " " << route.route << " is not documented";
    }
    EXPECT_EQ(paths[route.route].size(), route.methods.size())
        << route.route << " documents a method it lacks";
  }
  for (const auto& [path, operations] : paths.items()) {
    EXPECT_EQ(match_route(path).route, path) << path << " is documented but not served";
  }
  // Every reference points at a component that exists.
  const std::function<void(const nlohmann::json&)> check_refs = [&](const nlohmann::json& node) {
    if (node.is_object()) {
      if (node.contains("$ref")) {
        const std::string ref = node["$ref"];
        ASSERT_EQ(ref.rfind("#/components/", 0), 0u) << ref;
        const auto pointer = nlohmann::json::json_pointer(ref.substr(1));
        EXPECT_TRUE(doc.contains(pointer)) << ref;
      }
      for (const auto& [key, value] : node.items()) check_refs(value);
    } else if (node.is_array()) {
      for (const auto& value : node) check_refs(value);
    }
  };
  check_refs(doc);
}

TEST(Routes, ParametersMatchOneSegment) {
  EXPECT_EQ(match_route("/api/admin/stores/canvas/files").route, "/api/admin/stores/{id}/files");
  EXPECT_EQ(match_route("/api/admin/stores/12").route, "/api/admin/stores/{id}");
  EXPECT_EQ(match_route("/api/admin/stores//files").route, "unmatched");
  EXPECT_EQ(match_route("/api/me/facts/3/extra").route, "unmatched");
  EXPECT_EQ(match_route("/api/admin/stores").access, Access::admin);
  EXPECT_EQ(match_route("/healthz").access, Access::open);
  EXPECT_EQ(match_route("/api/me/profile").access, Access::user);
}

}  // namespace
}  // namespace brandcoach::http

namespace brandcoach::http {
namespace {

coach::AssistantRegistry bundled_assistants() {
  auto loaded =
      coach::AssistantRegistry::load(std::filesystem::path(BRANDCOACH_SOURCE_DATA_DIR) / "assistants.toml");
  EXPECT_TRUE(loaded);
  return std::move(loaded).value();
}

TEST(OpenAiChatRequest, TakesTheLastUserMessageAndTheModelsAssistant) {
  const auto assistants = bundled_assistants();
  auto chat = parse_openai_chat_request(
      R"({"model": "brandcoach-canvas", "temperature": 0.2, "stream": true, "stream_options": {"include_usage": true},
          "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
                       {"role": "assistant", "content": "ok"},
                       {"role": "user", "content": [{"type": "text", "text": "How should I"}, {"type": "text", "text": "price it?"}]}]})",
      assistants);
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ(chat->message, "How should I\nprice it?");
  EXPECT_EQ(chat->assistant, "canvas");
  EXPECT_TRUE(chat->stream);
  EXPECT_TRUE(chat->include_usage);
  EXPECT_TRUE(chat->format);
  auto routed = parse_openai_chat_request(
      R"({"model": "brandcoach", "messages": [{"role": "user", "content": "hi"}]})", assistants);
  ASSERT_TRUE(routed);
  EXPECT_TRUE(routed->assistant.empty());
}

TEST(OpenAiChatRequest, BadBodiesNameTheField) {
  const auto assistants = bundled_assistants();
  const auto fails = [&](const std::string& body, ErrorKind kind, const std::string& param) {
    auto chat = parse_openai_chat_request(body, assistants);
    ASSERT_FALSE(chat) << body;
    EXPECT_EQ(chat.error().kind, kind) << body << ": " << chat.error().message;
    EXPECT_EQ(chat.error().param, param) << body;
  };
  const std::string user = R"("messages": [{"role": "user", "content": "hi"}])";
  fails("[1]", ErrorKind::invalid_input, "");
  fails("{" + user + "}", ErrorKind::invalid_input, "model");
  fails(R"({"model": "gpt-4o", )" + user + "}", ErrorKind::not_found, "model");
  fails(R"({"model": "brandcoach-nobody", )" + user + "}", ErrorKind::not_found, "model");
  fails(R"({"model": "brandcoach", "messages": []})", ErrorKind::invalid_input, "messages");
  fails(R"({"model": "brandcoach", "messages": [{"role": "assistant", "content": "x"}]})",
        ErrorKind::invalid_input, "messages");
  fails(R"({"model": "brandcoach", "messages": [{"role": "wizard", "content": "x"}]})",
        ErrorKind::invalid_input, "messages");
  fails(
      R"({"model": "brandcoach", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})",
      ErrorKind::invalid_input, "messages");
  fails(R"({"model": "brandcoach", "messages": [{"role": "user", "content": "   "}]})",
        ErrorKind::invalid_input, "messages");
  fails(R"({"model": "brandcoach", "colour": 1, )" + user + "}", ErrorKind::invalid_input, "colour");
  fails(R"({"model": "brandcoach", "n": 2, )" + user + "}", ErrorKind::invalid_input, "n");
  fails(R"({"model": "brandcoach", "tools": [], )" + user + "}", ErrorKind::invalid_input, "tools");
  fails(R"({"model": "brandcoach", "stream": "yes", )" + user + "}", ErrorKind::invalid_input, "stream");
  // Found by fuzzing (fuzz/regressions/json_body): fields of another type escaped as exceptions.
  fails(R"({"model": "brandcoach", "messages": [{"role": "user", "content": [{"type": 1, "text": "x"}]}]})",
        ErrorKind::invalid_input, "messages");
  fails(R"({"model": "brandcoach", "stream_options": {"include_usage": "yes"}, )" + user + "}",
        ErrorKind::invalid_input, "stream_options");
}

TEST(OpenAiResponsesRequest, TakesTheLastUserMessageAndKeepsTheRestAsContext) {
  const auto assistants = bundled_assistants();
  auto chat = parse_openai_responses_request(
      R"({"model": "brandcoach-avatar", "stream": true, "instructions": "Answer in French.",
          "input": [{"role": "developer", "content": "Be brief."},
                    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "We sell candles."}]},
                    {"role": "assistant", "content": [{"type": "output_text", "text": "Nice."}]},
                    {"role": "user", "content": "Who buys them?"}],
          "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"], "max_num_results": 4,
                     "filters": {"type": "eq", "key": "region", "value": "north"},
                     "ranking_options": {"ranker": "auto", "score_threshold": 0.2}}],
          "include": ["file_search_call.results", "message.output_text.logprobs"],
          "top_p": 0.9, "truncation": "auto", "metadata": {"k": "v"}, "store": false, "temperature": 0.3,
          "max_output_tokens": 64, "tool_choice": {"type": "file_search"}})",
      assistants);
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ(chat->message, "Who buys them?");
  EXPECT_EQ(chat->assistant, "avatar");
  EXPECT_TRUE(chat->stream);
  ASSERT_TRUE(chat->format);
  coach::TurnEvents events;
  chat->format->configure(events, {});
  EXPECT_EQ(events.instructions, "Answer in French.\n\nBe brief.");
  EXPECT_EQ(events.context_turns, (std::vector<std::string>{"user: We sell candles.", "assistant: Nice."}));
  EXPECT_EQ(events.temperature, 0.3);
  EXPECT_EQ(events.max_output_tokens, 64);
  ASSERT_TRUE(events.file_search);
  EXPECT_EQ(events.file_search->stores, std::vector<std::string>{"vs_1"});
  EXPECT_EQ(events.file_search->max_num_results, 4);
  EXPECT_DOUBLE_EQ(events.file_search->score_threshold, 0.2);
  ASSERT_TRUE(events.file_search->filter);
  EXPECT_TRUE(events.file_search->filter->matches({{"region", "north"}}));

  auto none = parse_openai_responses_request(
      R"({"model": "brandcoach", "input": "hi", "tool_choice": "none",
          "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]})",
      assistants);
  ASSERT_TRUE(none);
  coach::TurnEvents quiet;
  none->format->configure(quiet, {});
  EXPECT_FALSE(quiet.file_search) << "tool_choice none searches nothing";
}

TEST(OpenAiResponsesRequest, BadBodiesNameTheField) {
  const auto assistants = bundled_assistants();
  const auto fails = [&](const std::string& body, ErrorKind kind, const std::string& param) {
    auto chat = parse_openai_responses_request(body, assistants);
    ASSERT_FALSE(chat) << body;
    EXPECT_EQ(chat.error().kind, kind) << body << ": " << chat.error().message;
    EXPECT_EQ(chat.error().param, param) << body;
  };
  const auto with = [](const std::string& fields) {
    return R"({"model": "brandcoach", "input": "hello", )" + fields + "}";
  };
  fails("not json", ErrorKind::invalid_input, "");
  fails(R"({"input": "hi"})", ErrorKind::invalid_input, "model");
  fails(R"({"model": "brandcoach"})", ErrorKind::invalid_input, "input");
  fails(R"({"model": "o3", "input": "hi"})", ErrorKind::not_found, "model");
  fails(R"({"model": "brandcoach", "input": []})", ErrorKind::invalid_input, "input");
  fails(R"({"model": "brandcoach", "input": 7})", ErrorKind::invalid_input, "input");
  fails(R"({"model": "brandcoach", "input": "   "})", ErrorKind::invalid_input, "input");
  fails(R"({"model": "brandcoach", "input": [{"role": "assistant", "content": "only me"}]})",
        ErrorKind::invalid_input, "input");
  fails(R"({"model": "brandcoach", "input": [{"type": "function_call_output", "output": "x"}]})",
        ErrorKind::invalid_input, "input");
  fails(
      R"({"model": "brandcoach", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]})",
      ErrorKind::invalid_input, "input");
  fails(with(R"("tools": [{"type": "web_search"}])"), ErrorKind::invalid_input, "tools");
  fails(with(R"("tools": [{"type": "file_search"}])"), ErrorKind::invalid_input, "tools");
  fails(with(R"("tools": [{"type": "file_search", "vector_store_ids": ["a"], "max_num_results": 99}])"),
        ErrorKind::invalid_input, "tools");
  fails(with(R"("tools": [{"type": "file_search", "vector_store_ids": ["a"], "filters": {"type": "xor"}}])"),
        ErrorKind::invalid_input, "tools");
  fails(
      with(
          R"("tools": [{"type": "file_search", "vector_store_ids": ["a"], "ranking_options": {"score_threshold": 2}}])"),
      ErrorKind::invalid_input, "tools");
  fails(with(R"("temperature": 3)"), ErrorKind::invalid_input, "temperature");
  fails(with(R"("max_output_tokens": 1)"), ErrorKind::invalid_input, "max_output_tokens");
  fails(with(R"("metadata": {"k": 1})"), ErrorKind::invalid_input, "metadata");
  fails(with(R"("previous_response_id": 5)"), ErrorKind::invalid_input, "previous_response_id");
  fails(with(R"("include": ["everything"])"), ErrorKind::invalid_input, "include");
  fails(with(R"("tool_choice": "sometimes")"), ErrorKind::invalid_input, "tool_choice");
  fails(with(R"("text": {"format": {"type": "json_schema"}})"), ErrorKind::invalid_input, "text");
  fails(with(R"("background": true)"), ErrorKind::invalid_input, "background");
  fails(with(R"("store": "yes")"), ErrorKind::invalid_input, "store");
  fails(with(R"("colour": "blue")"), ErrorKind::invalid_input, "colour");
  // Found by fuzzing (fuzz/regressions/json_body): fields of another type escaped as exceptions.
  fails(R"({"model": "brandcoach", "input": [{"type": []}]})", ErrorKind::invalid_input, "input");
  fails(R"({"model": "brandcoach", "input": [{"role": "user", "content": [{"type": 1, "text": "x"}]}]})",
        ErrorKind::invalid_input, "input");
  fails(with(R"("tools": [{"type": {}}])"), ErrorKind::invalid_input, "tools");
  fails(with(R"("tool_choice": {"type": 1})"), ErrorKind::invalid_input, "tool_choice");
  fails(with(R"("text": {"format": 1})"), ErrorKind::invalid_input, "text");
}

TEST(OpenAiLists, PageByLimitAfterBeforeAndOrder) {
  std::vector<nlohmann::json> items;
  for (const char* id : {"a", "b", "c", "d", "e"}) items.push_back({{"id", id}});
  const auto ids = [](const nlohmann::json& page) {
    std::string out;
    for (const auto& item : page["data"]) out += item["id"].get<std::string>();
    return out;
  };
  auto newest = list_page(items, "limit=2", 20, 100);
  ASSERT_TRUE(newest);
  EXPECT_EQ(ids(*newest), "ed") << "newest first by default";
  EXPECT_EQ((*newest)["has_more"], true);
  EXPECT_EQ((*newest)["first_id"], "e");
  EXPECT_EQ((*newest)["last_id"], "d");
  auto next = list_page(items, "limit=2&after=d", 20, 100);
  EXPECT_EQ(ids(*next), "cb");
  auto last = list_page(items, "limit=2&after=b", 20, 100);
  EXPECT_EQ(ids(*last), "a");
  EXPECT_EQ((*last)["has_more"], false);
  EXPECT_EQ(ids(*list_page(items, "order=asc&after=a&before=d", 20, 100)), "bc");
  EXPECT_EQ((*list_page(items, "order=asc&after=a&before=d&limit=1", 20, 100))["has_more"], true);
  auto empty = list_page({}, "", 20, 100);
  ASSERT_TRUE(empty);
  EXPECT_TRUE((*empty)["first_id"].is_null());
  EXPECT_EQ(list_page(items, "order=up", 20, 100).error().param, "order");
  EXPECT_EQ(list_page(items, "limit=0", 20, 100).error().param, "limit");
  EXPECT_EQ(list_page(items, "limit=101", 20, 100).error().param, "limit");
  EXPECT_EQ(list_page(items, "after=zzz", 20, 100).error().param, "after");
}

}  // namespace
}  // namespace brandcoach::http
