// The web UI's routes on the real server: pages and assets with their content type, caching and
// gzip; the white-label settings; the cited passage and who may read it; the dashboard analytics;
// admin search and re-index; and a 400 or 404 for every bad input they take.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

std::string create_key(const TempDir& dir, const std::string& user, bool admin = false) {
  std::vector<std::string> args = {"--data-dir", dir.path().string(), "keys", "create", "--user", user};
  if (admin) args.push_back("--admin");
  const auto r = run_brandcoach(args);
  EXPECT_EQ(r.code, 0) << r.err;
  return lines(r.out).empty() ? std::string() : lines(r.out).front();
}

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
}

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

TEST(WebServer, PagesAndAssetsCarryTheirTypeCachingAndGzip) {
  TempDir dir;
  const auto web = dir.path() / "web";
  write_file(web / "index.html", "<!doctype html><title>chat</title>");
  write_file(web / "admin.html", "<!doctype html><title>admin</title>");
  write_file(web / "assets" / "chat-ABC123.js", "console.log('plain')");
  write_file(web / "assets" / "chat-ABC123.js.gz", "pretend-gzip-bytes");
  write_file(web / "assets" / "styles-XYZ.css", "body{}");
  write_file(dir.path() / "logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>");
  ServerProcess server(dir.path(), {"--set", "server.web_dir=" + web.string(), "--set",
                                    "ui.product_name=Acme Coach", "--set", "ui.primary_color=#112233",
                                    "--set", "ui.logo_file=" + (dir.path() / "logo.svg").string()});
  const int port = server.port();

  const auto page = request(port, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.body, "<!doctype html><title>chat</title>");
  EXPECT_EQ(page.headers.at("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.headers.at("cache-control"), "no-cache");
  EXPECT_NE(page.headers.at("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(request(port, "GET", "/admin").body, "<!doctype html><title>admin</title>");

  const auto plain = request(port, "GET", "/assets/chat-ABC123.js");
  EXPECT_EQ(plain.body, "console.log('plain')");
  EXPECT_EQ(plain.headers.at("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(plain.headers.at("cache-control"), "public, max-age=31536000, immutable");
  EXPECT_FALSE(plain.headers.contains("content-encoding"));
  const auto zipped = request(port, "GET", "/assets/chat-ABC123.js", "", {{"Accept-Encoding", "gzip, br"}});
  EXPECT_EQ(zipped.body, "pretend-gzip-bytes");
  EXPECT_EQ(zipped.headers.at("content-encoding"), "gzip");
  EXPECT_EQ(zipped.headers.at("vary"), "Accept-Encoding");
  const auto css = request(port, "GET", "/assets/styles-XYZ.css", "", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(css.body, "body{}") << "no .gz copy: the plain file";
  EXPECT_EQ(css.headers.at("content-type"), "text/css; charset=utf-8");

  // Nothing outside the assets folder can be named.
  EXPECT_EQ(request(port, "GET", "/assets/..%2Findex.html").status, 404);
  EXPECT_EQ(request(port, "GET", "/assets/.hidden").status, 404);
  EXPECT_EQ(request(port, "GET", "/assets/missing.js").status, 404);
  EXPECT_EQ(request(port, "GET", "/assets/a/b.js").status, 404);

  const auto config = json::parse(request(port, "GET", "/api/ui/config").body);
  EXPECT_EQ(config["product_name"], "Acme Coach");
  EXPECT_EQ(config["primary_color"], "#112233");
  EXPECT_EQ(config["logo_url"], "/api/ui/logo");
  EXPECT_EQ(config["local_mode"], true);
  EXPECT_EQ(config["assistants"].size(), 5u);
  const auto logo = request(port, "GET", "/api/ui/logo");
  EXPECT_EQ(logo.status, 200);
  EXPECT_EQ(logo.headers.at("content-type"), "image/svg+xml");
}

TEST(WebServer, AMissingBuildSaysHowToBuildIt) {
  TempDir dir;
  ServerProcess server(dir.path(), {"--set", "server.web_dir=" + (dir.path() / "nothing").string()});
  const auto page = request(server.port(), "GET", "/");
  EXPECT_EQ(page.status, 503);
  EXPECT_NE(page.body.find("not built"), std::string::npos);
  EXPECT_EQ(json::parse(request(server.port(), "GET", "/api/ui/logo").body)["error"]["type"],
            "not_found_error");
}

TEST(WebServer, BadUiSettingsAreRefusedAtStart) {
  TempDir dir;
  const auto r = run_brandcoach(
      {"--data-dir", dir.path().string(), "--set", "ui.primary_color=red; x", "config", "show"});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("ui.primary_color"), std::string::npos) << r.err;
}

TEST(WebServer, PassagesAnalyticsSearchAndReindexWithTheirBadInputs) {
  TempDir dir;
  const std::string ana = create_key(dir, "ana");
  const std::string ben = create_key(dir, "ben");
  const std::string admin = create_key(dir, "ops", true);
  ServerProcess server(dir.path(), {"--set", "auth.required=true"});
  const int port = server.port();

  const auto turn = json::parse(
      request(port, "POST", "/api/chat", R"({"message":"How do I find my ideal customer?"})", bearer(ana))
          .body);
  ASSERT_FALSE(turn["citations"].empty()) << turn.dump();
  const int64_t chunk = turn["citations"][0]["chunk"];
  const auto passage =
      json::parse(request(port, "GET", "/api/passages/" + std::to_string(chunk), "", bearer(ben)).body);
  EXPECT_EQ(passage["chunk"]["id"], chunk) << "knowledge passages are readable by every user";
  EXPECT_EQ(passage["file"]["filename"], turn["citations"][0]["file"]);
  bool found = false;
  for (const auto& c : passage["document"]) found = found || c["id"] == chunk;
  EXPECT_TRUE(found) << "the document holds the cited chunk";
  for (const std::string bad : {"abc", "0", "-4", "99999999", "12x"}) {
    EXPECT_EQ(request(port, "GET", "/api/passages/" + bad, "", bearer(ana)).status, 404) << bad;
  }
  EXPECT_EQ(request(port, "GET", "/api/passages/" + std::to_string(chunk)).status, 401);

  // A passage of ana's own vector store is hers alone.
  const std::string boundary = "b0undary";
  const std::string upload =
      "--" + boundary + "\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants\r\n--" +
      boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"own.md\"\r\n\r\n" +
      "# Own\n\nA private note about the lighthouse logo.\r\n--" + boundary + "--\r\n";
  auto headers = bearer(ana);
  headers["Content-Type"] = "multipart/form-data; boundary=" + boundary;
  const auto file = json::parse(request(port, "POST", "/v1/files", upload, headers).body);
  const auto store = json::parse(
      request(port, "POST", "/v1/vector_stores", json{{"file_ids", {file["id"]}}}.dump(), bearer(ana)).body);
  const auto hits =
      json::parse(request(port, "POST", "/v1/responses",
                          json{{"model", "brandcoach"},
                               {"input", "Tell me about the lighthouse logo"},
                               {"tools", {{{"type", "file_search"}, {"vector_store_ids", {store["id"]}}}}},
                               {"include", {"file_search_call.results"}}}
                              .dump(),
                          bearer(ana))
                      .body);
  ASSERT_EQ(hits["output"][0]["type"], "file_search_call") << hits.dump();
  const auto history = json::parse(request(port, "GET", "/api/me/history", "", bearer(ana)).body);
  int64_t own_chunk = 0;
  for (const auto& m : history["messages"]) {
    for (const auto& c : m.value("citations", json::array())) {
      if (c["file"] == "own.md") own_chunk = c["chunk"];
    }
  }
  ASSERT_GT(own_chunk, 0) << history.dump();
  EXPECT_EQ(request(port, "GET", "/api/passages/" + std::to_string(own_chunk), "", bearer(ana)).status, 200);
  EXPECT_EQ(request(port, "GET", "/api/passages/" + std::to_string(own_chunk), "", bearer(ben)).status, 404);

  // Analytics: admin only, counted from the stored replies.
  EXPECT_EQ(request(port, "GET", "/api/admin/analytics", "", bearer(ana)).status, 403);
  const auto analytics =
      json::parse(request(port, "GET", "/api/admin/analytics?days=7", "", bearer(admin)).body);
  EXPECT_EQ(analytics["series"].size(), 7u);
  EXPECT_GE(analytics["overview"]["turns_today"].get<int64_t>(), 2);
  EXPECT_GE(analytics["overview"]["active_users_today"].get<int64_t>(), 1);
  EXPECT_GT(analytics["overview"]["latency_ms"]["p50"].get<double>(), 0);
  // The turns looked up routes and retrievals in the in-process cache: a rate, between 0 and 1.
  ASSERT_TRUE(analytics["overview"]["cache_hit_rate"].is_number()) << analytics["overview"].dump();
  EXPECT_GE(analytics["overview"]["cache_hit_rate"].get<double>(), 0.0);
  EXPECT_LE(analytics["overview"]["cache_hit_rate"].get<double>(), 1.0);
  for (const std::string path : {"/api/admin/analytics/costs", "/api/admin/analytics/journey/ana",
                                 "/api/admin/analytics/memory", "/api/admin/alerts", "/metrics"}) {
    EXPECT_EQ(request(port, "GET", path, "", bearer(ana)).status, 403) << path << " is for admins";
  }
  EXPECT_EQ(request(port, "POST", "/api/admin/alerts/evaluate", "", bearer(ana)).status, 403);
  EXPECT_EQ(request(port, "GET", "/api/admin/analytics/journey/ana", "", bearer(admin)).status, 200);
  EXPECT_GE(analytics["assistant_distribution"].size(), 1u);
  for (const std::string bad : {"0", "91", "x"}) {
    EXPECT_EQ(request(port, "GET", "/api/admin/analytics?days=" + bad, "", bearer(admin)).status, 400) << bad;
  }

  // Admin search and re-index of a knowledge store.
  const auto found_chunks =
      json::parse(request(port, "POST", "/api/admin/stores/avatar/search",
                          R"({"query": "ideal customer", "max_num_results": 3})", bearer(admin))
                      .body);
  ASSERT_FALSE(found_chunks["results"].empty()) << found_chunks.dump();
  EXPECT_LE(found_chunks["results"].size(), 3u);
  for (const std::string bad :
       {R"({"query": ""})", R"({"query": 5})", R"({"query": "x", "max_num_results": 0})",
        R"({"query": "x", "colour": 1})", "not json"}) {
    EXPECT_EQ(request(port, "POST", "/api/admin/stores/avatar/search", bad, bearer(admin)).status, 400)
        << bad;
  }
  EXPECT_EQ(request(port, "POST", "/api/admin/stores/nope/search", R"({"query": "x"})", bearer(admin)).status,
            404);
  EXPECT_EQ(request(port, "POST", "/api/admin/stores/avatar/search", R"({"query": "x"})", bearer(ana)).status,
            403);
  const auto reindexed =
      json::parse(request(port, "POST", "/api/admin/stores/avatar/reindex", "", bearer(admin)).body);
  EXPECT_GT(reindexed["chunks"].get<int64_t>(), 0) << reindexed.dump();
  EXPECT_EQ(request(port, "POST", "/api/admin/stores/nope/reindex", "", bearer(admin)).status, 404);

  // The profile shows where each fact came from.
  request(port, "POST", "/api/chat", R"({"message":"Our price is $40 per candle."})", bearer(ana));
  const auto profile = json::parse(request(port, "GET", "/api/me/profile", "", bearer(ana)).body);
  ASSERT_FALSE(profile["facts"].empty());
  EXPECT_EQ(profile["facts"][0]["source"]["text"], "Our price is $40 per candle.");
}

TEST(WebServer, AValueCorrectedInTheMemoryPanelIsTheAnswerEvenAfterOlderRestatements) {
  TempDir dir;
  ServerProcess server(dir.path());
  const int port = server.port();
  const std::map<std::string, std::string> as_ana = {{"X-Brandcoach-User", "ana"}};
  request(port, "POST", "/api/chat",
          R"({"message":"How do I find my ideal customer? Our price is $25 per candle."})", as_ana);
  request(port, "POST", "/api/chat",
          R"({"message":"My business is called Harbor Lights Candles and our price is $25 per candle."})",
          as_ana);
  const auto profile = json::parse(request(port, "GET", "/api/me/profile", "", as_ana).body);
  int64_t price = 0;
  for (const auto& f : profile["facts"]) {
    if (f["key"] == "price") price = f["id"];
  }
  ASSERT_GT(price, 0) << profile.dump();
  ASSERT_EQ(request(port, "PATCH", "/api/me/facts/" + std::to_string(price),
                    R"({"action":"correct","value":"$30 per candle"})", as_ana)
                .status,
            200);
  const auto reply =
      json::parse(
          request(port, "POST", "/api/chat", R"({"message":"What is my price?"})", as_ana).body)["reply"]
          .get<std::string>();
  EXPECT_NE(reply.find("$30 per candle"), std::string::npos) << reply;
  EXPECT_NE(reply.find("you corrected it"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("$25"), std::string::npos) << "the older restatement is not the answer: " << reply;
}

}  // namespace
}  // namespace brandcoach::testing
