// The OpenAI Files, Vector Stores and Responses routes on the real server: every route needs a token,
// another user's objects are 404s on every route (and survive the attempt), and bad input is a 400
// that writes nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

std::string create_key(const TempDir& dir, const std::string& user) {
  const auto r = run_brandcoach({"--data-dir", dir.path().string(), "keys", "create", "--user", user});
  EXPECT_EQ(r.code, 0) << r.err;
  return lines(r.out).empty() ? std::string() : lines(r.out).front();
}

std::map<std::string, std::string> bearer(const std::string& token,
                                          const std::string& content_type = "application/json") {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", content_type}};
}

HttpReply upload(int port, const std::string& token, const std::string& name, const std::string& content,
                 const std::string& purpose = "assistants") {
  const std::string boundary = "xYzBoundary";
  std::string body = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\n" +
                     purpose + "\r\n--" + boundary +
                     "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
                     "\"\r\nContent-Type: text/markdown\r\n\r\n" + content + "\r\n--" + boundary + "--\r\n";
  return request(port, "POST", "/v1/files", body, bearer(token, "multipart/form-data; boundary=" + boundary));
}

json body_of(const HttpReply& reply) {
  return json::parse(reply.body, nullptr, false);
}

class OpenAiServer : public ::testing::Test {
 protected:
  void SetUp() override {
    ana_ = create_key(dir_, "ana");
    ben_ = create_key(dir_, "ben");
    server_ =
        std::make_unique<ServerProcess>(dir_.path(), std::vector<std::string>{"--set", "auth.required=true"});
    port_ = server_->port();
  }

  TempDir dir_;
  std::string ana_;
  std::string ben_;
  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
};

TEST_F(OpenAiServer, EveryRouteNeedsATokenAndHidesAnotherUsersObjects) {
  const auto file = body_of(
      upload(port_, ana_, "voice.md", "# Voice\n\nWarm, plain and precise words for every customer."));
  ASSERT_TRUE(file.contains("id")) << file.dump();
  const std::string file_id = file["id"];
  const auto store = body_of(request(port_, "POST", "/v1/vector_stores",
                                     json{{"name", "ana's"}, {"file_ids", {file_id}}}.dump(), bearer(ana_)));
  ASSERT_TRUE(store.contains("id")) << store.dump();
  const std::string store_id = store["id"];
  const auto batch = body_of(request(port_, "POST", "/v1/vector_stores/" + store_id + "/file_batches",
                                     json{{"file_ids", {file_id}}}.dump(), bearer(ana_)));
  ASSERT_TRUE(batch.contains("id")) << batch.dump();
  const std::string batch_id = batch["id"];
  const auto response = body_of(
      request(port_, "POST", "/v1/responses",
              json{{"model", "brandcoach"}, {"input", "What words fit my voice?"}}.dump(), bearer(ana_)));
  ASSERT_TRUE(response.contains("id")) << response.dump();
  const std::string response_id = response["id"];

  const std::vector<std::pair<std::string, std::string>> owned = {
      {"GET", "/v1/files/" + file_id},
      {"GET", "/v1/files/" + file_id + "/content"},
      {"DELETE", "/v1/files/" + file_id},
      {"GET", "/v1/vector_stores/" + store_id},
      {"POST", "/v1/vector_stores/" + store_id},
      {"DELETE", "/v1/vector_stores/" + store_id},
      {"GET", "/v1/vector_stores/" + store_id + "/files"},
      {"POST", "/v1/vector_stores/" + store_id + "/files"},
      {"GET", "/v1/vector_stores/" + store_id + "/files/" + file_id},
      {"POST", "/v1/vector_stores/" + store_id + "/files/" + file_id},
      {"DELETE", "/v1/vector_stores/" + store_id + "/files/" + file_id},
      {"POST", "/v1/vector_stores/" + store_id + "/search"},
      {"POST", "/v1/vector_stores/" + store_id + "/file_batches"},
      {"GET", "/v1/vector_stores/" + store_id + "/file_batches/" + batch_id},
      {"POST", "/v1/vector_stores/" + store_id + "/file_batches/" + batch_id + "/cancel"},
      {"GET", "/v1/vector_stores/" + store_id + "/file_batches/" + batch_id + "/files"},
      {"GET", "/v1/responses/" + response_id},
      {"DELETE", "/v1/responses/" + response_id},
      {"GET", "/v1/responses/" + response_id + "/input_items"},
  };
  const std::map<std::string, std::string> bodies = {
      {"/v1/vector_stores/" + store_id, R"({"name": "mine now"})"},
      {"/v1/vector_stores/" + store_id + "/files", json{{"file_id", file_id}}.dump()},
      {"/v1/vector_stores/" + store_id + "/files/" + file_id, R"({"attributes": {"x": "y"}})"},
      {"/v1/vector_stores/" + store_id + "/search", R"({"query": "voice"})"},
      {"/v1/vector_stores/" + store_id + "/file_batches", json{{"file_ids", {file_id}}}.dump()},
  };
  const auto body_for = [&](const std::string& method, const std::string& path) {
    return method == "POST" && bodies.contains(path) ? bodies.at(path) : std::string();
  };
  for (const auto& [method, path] : owned) {
    EXPECT_EQ(request(port_, method, path, body_for(method, path)).status, 401) << method << " " << path;
    const auto reply = request(port_, method, path, body_for(method, path), bearer(ben_));
    EXPECT_EQ(reply.status, 404) << "ben: " << method << " " << path << " " << reply.body;
    EXPECT_EQ(body_of(reply)["error"]["type"], "not_found_error") << reply.body;
  }
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/files"},
                                                        {"POST", "/v1/files"},
                                                        {"GET", "/v1/vector_stores"},
                                                        {"POST", "/v1/vector_stores"},
                                                        {"POST", "/v1/responses"},
                                                        {"POST", "/v1/chat/completions"},
                                                        {"GET", "/v1/models"}}) {
    EXPECT_EQ(request(port_, method, path, "{}").status, 401) << method << " " << path;
  }
  // Ben's lists hold nothing of ana's, and using her store or response in his own request is a 404.
  EXPECT_TRUE(body_of(request(port_, "GET", "/v1/files", "", bearer(ben_)))["data"].empty());
  EXPECT_TRUE(body_of(request(port_, "GET", "/v1/vector_stores", "", bearer(ben_)))["data"].empty());
  EXPECT_EQ(request(port_, "POST", "/v1/responses",
                    json{{"model", "brandcoach"},
                         {"input", "hi"},
                         {"tools", {{{"type", "file_search"}, {"vector_store_ids", {store_id}}}}}}
                        .dump(),
                    bearer(ben_))
                .status,
            404);
  EXPECT_EQ(
      request(port_, "POST", "/v1/responses",
              json{{"model", "brandcoach"}, {"input", "hi"}, {"previous_response_id", response_id}}.dump(),
              bearer(ben_))
          .status,
      404);
  EXPECT_EQ(
      request(port_, "POST", "/v1/vector_stores", json{{"file_ids", {file_id}}}.dump(), bearer(ben_)).status,
      404);

  // Everything of ana's is still there and still hers.
  EXPECT_EQ(request(port_, "GET", "/v1/files/" + file_id, "", bearer(ana_)).status, 200);
  const auto kept = body_of(request(port_, "GET", "/v1/vector_stores/" + store_id, "", bearer(ana_)));
  EXPECT_EQ(kept["name"], "ana's");
  EXPECT_EQ(kept["file_counts"]["completed"], 1);
  EXPECT_EQ(request(port_, "GET", "/v1/responses/" + response_id, "", bearer(ana_)).status, 200);
  const auto found = body_of(request(port_, "POST", "/v1/vector_stores/" + store_id + "/search",
                                     R"({"query": "warm plain words"})", bearer(ana_)));
  ASSERT_EQ(found["data"].size(), 1u) << found.dump();
  EXPECT_EQ(found["data"][0]["file_id"], file_id);
  EXPECT_TRUE(found["data"][0]["attributes"].empty()) << "ben's attribute change never landed";
}

TEST_F(OpenAiServer, BadInputIsA400ThatWritesNothing) {
  const auto expect_400 = [&](const HttpReply& reply, const std::string& param) {
    EXPECT_EQ(reply.status, 400) << reply.body;
    const auto body = body_of(reply);
    EXPECT_EQ(body["error"]["type"], "invalid_request_error") << reply.body;
    if (!param.empty()) {
      EXPECT_EQ(body["error"]["param"], param) << reply.body;
    }
  };
  expect_400(request(port_, "POST", "/v1/files", "{}", bearer(ana_)), "");
  expect_400(upload(port_, ana_, "a.md", "text", "fine-tune"), "purpose");
  expect_400(upload(port_, ana_, "a.md", ""), "file");
  expect_400(request(port_, "POST", "/v1/vector_stores", "{not json", bearer(ana_)), "");
  expect_400(request(port_, "POST", "/v1/vector_stores", R"({"colour": "red"})", bearer(ana_)), "colour");
  expect_400(
      request(
          port_, "POST", "/v1/vector_stores",
          R"({"chunking_strategy": {"type": "static", "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}}})",
          bearer(ana_)),
      "chunking_strategy");
  expect_400(request(port_, "POST", "/v1/vector_stores", R"({"metadata": {"k": 5}})", bearer(ana_)),
             "metadata");
  EXPECT_TRUE(body_of(request(port_, "GET", "/v1/vector_stores", "", bearer(ana_)))["data"].empty())
      << "no refused request created a store";
  EXPECT_TRUE(body_of(request(port_, "GET", "/v1/files", "", bearer(ana_)))["data"].empty());

  const auto store = body_of(request(port_, "POST", "/v1/vector_stores", "{}", bearer(ana_)));
  const std::string store_id = store["id"];
  expect_400(request(port_, "POST", "/v1/vector_stores/" + store_id + "/files", "{}", bearer(ana_)),
             "file_id");
  const auto file = body_of(upload(port_, ana_, "a.md", "# A\n\nSome text."));
  expect_400(
      request(port_, "POST", "/v1/vector_stores/" + store_id + "/files",
              json{{"file_id", file["id"]}, {"attributes", {{"nested", {{"no", 1}}}}}}.dump(), bearer(ana_)),
      "attributes");
  expect_400(
      request(port_, "POST", "/v1/vector_stores/" + store_id + "/search", R"({"query": 5})", bearer(ana_)),
      "query");
  expect_400(request(port_, "POST", "/v1/vector_stores/" + store_id + "/search",
                     R"({"query": "x", "max_num_results": 0})", bearer(ana_)),
             "max_num_results");
  expect_400(request(port_, "GET", "/v1/vector_stores/" + store_id + "/files?filter=done", "", bearer(ana_)),
             "filter");
  expect_400(request(port_, "GET", "/v1/files?limit=abc", "", bearer(ana_)), "limit");
  EXPECT_EQ(body_of(request(port_, "GET", "/v1/vector_stores/" + store_id, "",
                            bearer(ana_)))["file_counts"]["total"],
            0);
  expect_400(request(port_, "POST", "/v1/responses",
                     R"({"model": "brandcoach", "input": "hi", "stream": "yes"})", bearer(ana_)),
             "stream");
  EXPECT_EQ(request(port_, "GET", "/v1/files/" + std::string(file["id"]) + "/content", "", bearer(ana_)).body,
            "# A\n\nSome text.");
}

}  // namespace
}  // namespace brandcoach::testing
