// The admin API on the real server: knowledge stores, uploads, users, usage, and the OpenAPI document.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

std::string key_for(const TempDir& dir, const std::string& user, bool admin) {
  std::vector<std::string> args = {"--data-dir", dir.path().string(), "keys", "create", "--user", user};
  if (admin) args.push_back("--admin");
  const auto r = run_brandcoach(args);
  EXPECT_EQ(r.code, 0) << r.err;
  return lines(r.out).at(0);
}

std::map<std::string, std::string> as(const std::string& key, const std::string& type = "application/json") {
  return {{"Authorization", "Bearer " + key}, {"Content-Type", type}};
}

struct Part {
  std::string name;
  std::string filename;
  std::string data;
};

std::string multipart(const std::vector<Part>& parts, const std::string& boundary = "bcBoundary42") {
  std::string body;
  for (const auto& p : parts) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name + "\"";
    if (!p.filename.empty()) body += "; filename=\"" + p.filename + "\"";
    body += "\r\n\r\n" + p.data + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

const std::string kUploadType = "multipart/form-data; boundary=bcBoundary42";

class AdminServer : public ::testing::Test {
 protected:
  void SetUp() override {
    admin = key_for(dir, "ops", true);
    user = key_for(dir, "ana", false);
    server = std::make_unique<ServerProcess>(
        dir.path(),
        std::vector<std::string>{"--set", "auth.required=true", "--set", "server.upload_limit_bytes=65536"});
  }
  int port() const { return server->port(); }

  TempDir dir;
  std::string admin;
  std::string user;
  std::unique_ptr<ServerProcess> server;
};

TEST_F(AdminServer, StoresAreCreatedFilledListedAndDeleted) {
  const auto created = request(
      port(), "POST", "/api/admin/stores",
      R"({"name": "pricing-notes", "chunking": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}})",
      as(admin));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(json::parse(created.body)["chunking"]["max_chunk_size_tokens"], 200);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores", R"({"name": "pricing-notes"})", as(admin)).status,
            409);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores", R"({"name": "Bad Name!"})", as(admin)).status, 400);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores", R"({"name": "x", "colour": 1})", as(admin)).status,
            400);
  EXPECT_EQ(
      request(port(), "POST", "/api/admin/stores",
              R"({"name": "y", "chunking": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 80}})",
              as(admin))
          .status,
      400);

  const std::string body =
      multipart({{"attributes", "", R"({"topic": "pricing"})"},
                 {"file", "../../secret/tiers.md",
                  "# Tiered pricing\n\nThree tiers let customers choose how much service they buy. "
                  "Most buyers pick the middle tier."},
                 {"file", "virus.exe", "MZ\x90"}});
  const auto uploaded =
      request(port(), "POST", "/api/admin/stores/pricing-notes/files", body, as(admin, kUploadType));
  ASSERT_EQ(uploaded.status, 200) << uploaded.body;
  const auto report = json::parse(uploaded.body);
  EXPECT_EQ(report["added"], 1);
  ASSERT_EQ(report["failures"].size(), 1u);
  EXPECT_EQ(report["failures"][0]["file"], "virus.exe");
  EXPECT_NE(report["failures"][0]["reason"].get<std::string>().find("unsupported"), std::string::npos);

  const auto files =
      json::parse(request(port(), "GET", "/api/admin/stores/pricing-notes/files", "", as(admin)).body);
  ASSERT_EQ(files["data"].size(), 1u);
  EXPECT_EQ(files["data"][0]["filename"], "tiers.md") << "only the last path component names a file";
  EXPECT_EQ(files["data"][0]["attributes"]["topic"], "pricing");
  const auto store =
      json::parse(request(port(), "GET", "/api/admin/stores/pricing-notes", "", as(admin)).body);
  EXPECT_EQ(store["files"], 1);
  EXPECT_GT(store["chunks"].get<int>(), 0);
  const auto listed = json::parse(request(port(), "GET", "/api/admin/stores", "", as(admin)).body);
  EXPECT_GE(listed["data"].size(), 6u) << "the five assistants' stores and the new one";

  const auto store_id = store["id"].get<int64_t>();
  const auto index_files = [&] {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "index")) {
      n += entry.path().filename().string().rfind("store-" + std::to_string(store_id) + "-", 0) == 0;
    }
    return n;
  };
  EXPECT_GT(index_files(), 0u) << "the upload built the store's indexes";
  EXPECT_EQ(request(port(), "DELETE", "/api/admin/stores/pricing-notes", "", as(admin)).status, 200);
  EXPECT_EQ(index_files(), 0u) << "a deleted store leaves no index files behind";
  EXPECT_EQ(request(port(), "GET", "/api/admin/stores/pricing-notes", "", as(admin)).status, 404);
  EXPECT_EQ(request(port(), "DELETE", "/api/admin/stores/pricing-notes", "", as(admin)).status, 404);
}

TEST_F(AdminServer, UploadsAreBoundedAndMustBeMultipart) {
  ASSERT_EQ(request(port(), "POST", "/api/admin/stores", R"({"name": "bounded"})", as(admin)).status, 201);
  const std::string big = multipart({{"file", "big.txt", std::string(70000, 'a')}});
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores/bounded/files", big, as(admin, kUploadType)).status,
            413);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores/bounded/files", "{}", as(admin)).status, 400);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores/bounded/files", multipart({{"note", "", "x"}}),
                    as(admin, kUploadType))
                .status,
            400);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores/bounded/files",
                    multipart({{"attributes", "", "[1]"}, {"file", "a.txt", "hello there"}}),
                    as(admin, kUploadType))
                .status,
            400);
  EXPECT_EQ(request(port(), "POST", "/api/admin/stores/missing/files",
                    multipart({{"file", "a.txt", "hello"}}), as(admin, kUploadType))
                .status,
            404);
}

TEST_F(AdminServer, UsersAndUsageShowActivityButNotContent) {
  ASSERT_EQ(
      request(port(), "POST", "/api/chat", R"({"message": "How do I find my ideal customer?"})", as(user))
          .status,
      200);
  const auto users = json::parse(request(port(), "GET", "/api/admin/users?limit=10", "", as(admin)).body);
  bool found = false;
  for (const auto& u : users["data"]) {
    if (u["user"] != "ana") continue;
    found = true;
    EXPECT_EQ(u["messages"], 2);
    EXPECT_GT(u["tokens"].get<int>(), 0);
    EXPECT_FALSE(u.contains("text"));
  }
  EXPECT_TRUE(found) << users.dump();
  const auto page = json::parse(request(port(), "GET", "/api/admin/users?limit=1", "", as(admin)).body);
  EXPECT_EQ(page["data"].size(), 1u);
  EXPECT_EQ(page["has_more"], true);
  const auto next = json::parse(
      request(port(), "GET", "/api/admin/users?limit=10&after=" + page["last_user"].get<std::string>(), "",
              as(admin))
          .body);
  EXPECT_EQ(next["data"].size() + 1, users["data"].size());

  const auto usage = json::parse(request(port(), "GET", "/api/admin/usage", "", as(admin)).body);
  EXPECT_GT(usage["totals"]["output_tokens"].get<int>(), 0);
  EXPECT_TRUE(usage["by_assistant"].contains("avatar")) << usage.dump();
  EXPECT_EQ(request(port(), "GET", "/api/admin/usage?from=yesterday", "", as(admin)).status, 400);
  EXPECT_EQ(request(port(), "GET", "/api/admin/users?limit=0", "", as(admin)).status, 400);
}

TEST_F(AdminServer, EveryAdminRouteRefusesAUserAndAnAnonymousCaller) {
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/admin/stores"},
                                                        {"POST", "/api/admin/stores"},
                                                        {"GET", "/api/admin/stores/canvas"},
                                                        {"DELETE", "/api/admin/stores/canvas"},
                                                        {"GET", "/api/admin/stores/canvas/files"},
                                                        {"POST", "/api/admin/stores/canvas/files"},
                                                        {"GET", "/api/admin/users"},
                                                        {"GET", "/api/admin/usage"}}) {
    EXPECT_EQ(request(port(), method, path, "{}", as(user)).status, 403) << method << " " << path;
    EXPECT_EQ(request(port(), method, path, "{}").status, 401) << method << " " << path;
  }
  EXPECT_EQ(json::parse(request(port(), "GET", "/api/admin/stores/canvas", "", as(admin)).body)["name"],
            "canvas")
      << "the refused DELETE left the store in place";
}

TEST_F(AdminServer, TheOpenApiDocumentIsServedWithoutAToken) {
  const auto reply = request(port(), "GET", "/api/openapi.json");
  ASSERT_EQ(reply.status, 200);
  const auto doc = json::parse(reply.body);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_TRUE(doc["paths"].contains("/api/admin/stores/{id}/files"));
}

}  // namespace
}  // namespace brandcoach::testing
