// Authentication, isolation, rate limits and CORS on the real server, with keys made by the real CLI.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/http_client.hpp"
#include "support/jwt.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

const std::string kSecret = "integration-secret-of-at-least-32-bytes";

std::string create_key(const TempDir& dir, const std::string& user, bool admin = false) {
  std::vector<std::string> args = {"--data-dir", dir.path().string(), "keys", "create", "--user", user};
  if (admin) args.push_back("--admin");
  const auto r = run_brandcoach(args);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 1u) << "the key alone on stdout";
  return lines(r.out).empty() ? std::string() : lines(r.out).front();
}

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};
}

HttpReply chat_as(int port, const std::string& token, const std::string& message) {
  return request(port, "POST", "/api/chat", json{{"message", message}}.dump(), bearer(token));
}

std::string jwt_for(const std::string& sub, int64_t exp_offset, const std::string& aud = "brandcoach") {
  return hs256_jwt(kSecret, sub, exp_offset, aud);
}

void expect_error(const HttpReply& reply, int status, const std::string& type) {
  EXPECT_EQ(reply.status, status) << reply.body;
  const auto body = json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << reply.body;
  EXPECT_EQ(body["error"]["type"], type) << reply.body;
}

TEST(AuthServer, ApiKeysDecideTheUserAndARevokedKeyStopsWorking) {
  TempDir dir;
  const std::string ana = create_key(dir, "ana");
  const std::string admin = create_key(dir, "ops", true);
  ServerProcess server(dir.path(), {"--set", "auth.required=true"});
  const int port = server.port();

  const auto anonymous = request(port, "POST", "/api/chat", R"({"message":"hi"})");
  expect_error(anonymous, 401, "authentication_error");
  EXPECT_EQ(anonymous.headers.at("www-authenticate"), "Bearer");
  EXPECT_EQ(request(port, "GET", "/healthz").status, 200) << "health needs no token";

  // The key's user, not the header's, owns what is said.
  auto headers = bearer(ana);
  headers["X-Brandcoach-User"] = "mallory";
  ASSERT_EQ(
      request(port, "POST", "/api/chat", json{{"message", "My company is called Anacraft"}}.dump(), headers)
          .status,
      200);
  const auto history = json::parse(request(port, "GET", "/api/me/history", "", bearer(ana)).body);
  EXPECT_EQ(history["messages"].size(), 2u);
  const auto profile = json::parse(request(port, "GET", "/api/me/profile", "", bearer(admin)).body);
  EXPECT_EQ(profile["user"], "ops");
  EXPECT_TRUE(profile["facts"].empty()) << "another user sees none of ana's facts";

  // Admin routes need the admin role.
  expect_error(request(port, "GET", "/metrics", "", bearer(ana)), 403, "permission_error");
  EXPECT_EQ(request(port, "GET", "/metrics", "", bearer(admin)).status, 200);

  // Revoked from the CLI while the server runs: refused on the next request.
  const auto keys =
      lines(run_brandcoach({"--data-dir", dir.path().string(), "keys", "list", "--user", "ana"}).out);
  ASSERT_EQ(keys.size(), 1u);
  const auto id = json::parse(keys[0])["id"].get<int64_t>();
  EXPECT_EQ(keys[0].find(ana), std::string::npos) << "keys list never shows a key";
  ASSERT_EQ(run_brandcoach({"--data-dir", dir.path().string(), "keys", "revoke", std::to_string(id)}).code,
            0);
  expect_error(chat_as(port, ana, "still there?"), 401, "authentication_error");
  EXPECT_EQ(run_brandcoach({"--data-dir", dir.path().string(), "keys", "revoke", "424242"}).code, 1);
}

TEST(AuthServer, EveryUserRouteSeesOnlyTheCallersOwnData) {
  TempDir dir;
  const std::string ana = create_key(dir, "ana");
  const std::string ben = create_key(dir, "ben");
  ServerProcess server(dir.path(), {"--set", "auth.required=true"});
  const int port = server.port();
  ASSERT_EQ(chat_as(port, ana, "Our price is $40 per candle and my company is called Wickworks").status, 200);
  const auto facts = json::parse(request(port, "GET", "/api/me/profile", "", bearer(ana)).body)["facts"];
  ASSERT_FALSE(facts.empty());
  const auto fact_id = facts[0]["id"].get<int64_t>();

  // Ben, on every route, never reaches ana's data.
  EXPECT_TRUE(json::parse(request(port, "GET", "/api/me/profile", "", bearer(ben)).body)["facts"].empty());
  EXPECT_TRUE(json::parse(request(port, "GET", "/api/me/history", "", bearer(ben)).body)["messages"].empty());
  const auto ben_export = request(port, "GET", "/api/me/export", "", bearer(ben));
  EXPECT_EQ(ben_export.status, 200);
  EXPECT_EQ(ben_export.body.find("Wickworks"), std::string::npos);
  expect_error(request(port, "PATCH", "/api/me/facts/" + std::to_string(fact_id), R"({"action":"reject"})",
                       bearer(ben)),
               404, "not_found_error");
  EXPECT_EQ(request(port, "POST", "/api/me/session", "", bearer(ben)).status, 200);
  const auto ben_chat = json::parse(chat_as(port, ben, "What price did I tell you?").body);
  EXPECT_EQ(ben_chat["reply"].get<std::string>().find("$40"), std::string::npos) << ben_chat.dump();
  // Ben erasing himself erases only him (his key included: it names a user that no longer exists).
  EXPECT_EQ(json::parse(request(port, "DELETE", "/api/me", "", bearer(ben)).body)["erased"], true);
  EXPECT_EQ(request(port, "GET", "/api/me/profile", "", bearer(ben)).status, 401);
  EXPECT_EQ(json::parse(request(port, "GET", "/api/me/profile", "", bearer(ana)).body)["facts"].size(),
            facts.size());
  EXPECT_EQ(json::parse(request(port, "GET", "/api/me/history", "", bearer(ana)).body)["messages"].size(),
            2u);
  // And without a token, no route but health answers.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/me/profile"},
                                                        {"GET", "/api/me/history"},
                                                        {"GET", "/api/me/export"},
                                                        {"PATCH", "/api/me/facts/1"},
                                                        {"DELETE", "/api/me"},
                                                        {"POST", "/api/me/session"},
                                                        {"POST", "/api/chat"},
                                                        {"GET", "/metrics"}}) {
    EXPECT_EQ(request(port, method, path, "{}").status, 401) << method << " " << path;
  }
}

TEST(AuthServer, JwtsAreCheckedForSignatureExpiryAndAudience) {
  TempDir dir;
  write_file(dir / "jwt.secret", kSecret + "\n");
  ServerProcess server(dir.path(), {"--set", "auth.jwt_secret_file=" + (dir / "jwt.secret").string(), "--set",
                                    "auth.jwt_audience=brandcoach"});
  const int port = server.port();
  EXPECT_EQ(chat_as(port, jwt_for("carla", 300), "How do I find my ideal customer?").status, 200);
  EXPECT_EQ(
      json::parse(request(port, "GET", "/api/me/profile", "", bearer(jwt_for("carla", 300))).body)["user"],
      "carla");
  expect_error(chat_as(port, jwt_for("carla", -300), "hi"), 401, "authentication_error");
  expect_error(chat_as(port, jwt_for("carla", 300, "another-app"), "hi"), 401, "authentication_error");
  std::string tampered = jwt_for("carla", 300);
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  expect_error(chat_as(port, tampered, "hi"), 401, "authentication_error");
}

TEST(AuthServer, LocalModeStillRefusesABadToken) {
  TempDir dir;
  ServerProcess server(dir.path());
  expect_error(chat_as(server.port(), "bck_nonsense", "hi"), 401, "authentication_error");
  EXPECT_EQ(request(server.port(), "POST", "/api/chat", R"({"message":"hi"})").status, 200);
}

TEST(AuthServer, ListeningBeyondLoopbackNeedsAuthentication) {
  TempDir dir;
  const auto refused =
      run_brandcoach({"--data-dir", dir.path().string(), "serve", "--host", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("loopback"), std::string::npos) << refused.err;
  // With authentication it starts (the process is stopped when `open` goes out of scope).
  Process open({BRANDCOACH_BINARY, "--data-dir", dir.path().string(), "--set", "auth.required=true", "serve",
                "--host", "0.0.0.0", "--port", "0"});
  const auto line = open.read_line();
  ASSERT_TRUE(line) << open.err();
  EXPECT_NE(line->find("http://0.0.0.0:"), std::string::npos) << *line;
}

TEST(AuthServer, RateLimitsAnswer429WithRetryAfter) {
  TempDir dir;
  const std::string key = create_key(dir, "dana");
  ServerProcess server(dir.path(), {"--set", "auth.required=true", "--set",
                                    "limits.requests_per_minute_per_user=6", "--set", "limits.burst=2"});
  const int port = server.port();
  EXPECT_EQ(request(port, "GET", "/api/me/profile", "", bearer(key)).status, 200);
  EXPECT_EQ(request(port, "GET", "/api/me/profile", "", bearer(key)).status, 200);
  const auto limited = request(port, "GET", "/api/me/profile", "", bearer(key));
  expect_error(limited, 429, "rate_limit_error");
  EXPECT_GE(std::stoi(limited.headers.at("retry-after")), 1);
  EXPECT_EQ(request(port, "GET", "/healthz").status, 200) << "health is never rationed";
}

TEST(AuthServer, CorsAllowsOnlyConfiguredOrigins) {
  TempDir dir;
  ServerProcess server(dir.path(),
                       {"--set", "server.cors_origins=https://app.example, https://admin.example"});
  const int port = server.port();
  const auto preflight =
      request(port, "OPTIONS", "/api/chat", "",
              {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.headers.at("access-control-allow-origin"), "https://app.example");
  EXPECT_NE(preflight.headers.at("access-control-allow-headers").find("Authorization"), std::string::npos);
  const auto allowed = request(port, "GET", "/healthz", "", {{"Origin", "https://admin.example"}});
  EXPECT_EQ(allowed.headers.at("access-control-allow-origin"), "https://admin.example");
  const auto other = request(port, "GET", "/healthz", "", {{"Origin", "https://evil.example"}});
  EXPECT_FALSE(other.headers.contains("access-control-allow-origin"));
}

TEST(AuthServer, KeysCommandsRejectBadInput) {
  TempDir dir;
  EXPECT_EQ(run_brandcoach({"--data-dir", dir.path().string(), "keys", "create", "--user", "bad user!"}).code,
            2);
  EXPECT_EQ(run_brandcoach({"--data-dir", dir.path().string(), "keys", "create"}).code, 2);
  EXPECT_EQ(run_brandcoach({"--data-dir", dir.path().string(), "keys", "revoke", "abc"}).code, 2);
  const auto short_secret =
      run_brandcoach({"--data-dir", dir.path().string(), "serve"}, {}, {"BRANDCOACH_AUTH_JWT_SECRET=short"});
  EXPECT_EQ(short_secret.code, 2);
  EXPECT_NE(short_secret.err.find("auth.jwt_secret"), std::string::npos) << short_secret.err;
}

}  // namespace
}  // namespace brandcoach::testing
