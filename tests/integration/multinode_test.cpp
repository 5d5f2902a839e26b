// Several `brandcoach serve` nodes on one PostgreSQL database and one Redis, as a scaled-out
// deployment runs them: what one node is told, stores or rations holds on the others; the caches
// never hand one user's answer to another, nor a stale answer after a correction or a knowledge
// change; and a backend that cannot be reached stops the server at once with a clear message.
//
// Black-box: the real binary over real sockets. Each test gets a PostgreSQL database of its own and
// a Redis database number of its own (emptied first), from the services ctest's Services.Start
// fixture started. Without those services the tests fail, never skip: CI must run them.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/http_client.hpp"
#include "support/pg_database.hpp"
#include "support/redis_database.hpp"
#include "support/server.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Clusters

enum class Backend {
  sqlite,          // one node, its own SQLite file, no Redis: the single-process default
  postgres_redis,  // any number of nodes on one PostgreSQL database and one Redis database
};

// Redis database numbers, one per test, so tests running in parallel never share cache entries or
// rate-limit buckets (database 0 is left to whatever else uses the test run's Redis).
constexpr int kRedisFactTold = 1;
constexpr int kRedisFileUploaded = 2;
constexpr int kRedisCorrection = 3;
constexpr int kRedisRateLimit = 4;
constexpr int kRedisTwoUsers = 5;
constexpr int kRedisKnowledgeChange = 6;
constexpr int kRedisKnowledgeChangeTwoNodes = 7;

// The nodes of one test and the state they share. Nodes start one at a time (each waits until the
// one before it listens, so only the first syncs the bundled knowledge into an empty database) and
// are killed before the database is dropped.
class Cluster {
 public:
  /// `settings`: more global arguments for every node and CLI call (e.g. {"--set", "auth.required=true"}).
  Cluster(Backend backend, int redis_database, std::vector<std::string> settings = {})
      : backend_(backend), settings_(std::move(settings)) {
    if (backend_ == Backend::sqlite) return;
    const auto pg_url = service_url("PG");
    const auto redis_url = service_url("REDIS");
    if (!pg_url || !redis_url) {
      error_ =
          "no PostgreSQL or Redis to run against: set BRANDCOACH_TEST_PG_URL and BRANDCOACH_TEST_REDIS_URL, "
          "or start both with `scripts/services start DIR` (ctest's Services.Start fixture writes " +
          services_env_path() + ")";
      return;
    }
    database_ = PostgresDatabase::create(*pg_url, error_);
    if (!database_) return;
    redis_url_ = with_redis_database(*redis_url, redis_database);
    if (const auto flushed = flush_redis_database(redis_url_); !flushed.empty()) {
      error_ = "emptying " + redis_url_ + ": " + flushed;
      return;
    }
    settings_.insert(settings_.begin(),
                     {"--set", "storage.url=" + database_->url(), "--set", "cache.redis_url=" + redis_url_});
  }

  /// Why the cluster cannot run; empty when it can.
  const std::string& error() const { return error_; }
  bool distributed() const { return backend_ == Backend::postgres_redis; }

  /// Starts one more node with a data dir of its own; returns its port.
  int start_node() {
    // The first node takes the folder a CLI call before it may have made (its SQLite file).
    if (dirs_.size() == nodes_.size()) dirs_.push_back(std::make_unique<TempDir>());
    nodes_.push_back(std::make_unique<ServerProcess>(dirs_[nodes_.size()]->path(), settings_));
    return nodes_.back()->port();
  }

  /// Runs `brandcoach <settings> args…` on the cluster's storage (the first node's data dir, which
  /// holds the SQLite file when there is no PostgreSQL).
  Run cli(const std::vector<std::string>& args) {
    if (dirs_.empty()) dirs_.push_back(std::make_unique<TempDir>());
    std::vector<std::string> all = {"--data-dir", dirs_.front()->path().string()};
    all.insert(all.end(), settings_.begin(), settings_.end());
    all.insert(all.end(), args.begin(), args.end());
    return run_brandcoach(all);
  }

 private:
  Backend backend_;
  std::vector<std::string> settings_;
  std::string error_;
  std::unique_ptr<PostgresDatabase> database_;
  std::string redis_url_;
  // Declared after the database, so destroyed before it: the nodes go first, then their folders.
  std::vector<std::unique_ptr<TempDir>> dirs_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

std::string backend_name(Backend backend) {
  return backend == Backend::sqlite ? "sqlite" : "postgres_redis";
}

std::string test_name_suffix(const ::testing::TestParamInfo<Backend>& info) {
  return backend_name(info.param);
}

// How GoogleTest prints the parameter (in test listings and failures): its name, not its bytes.
void PrintTo(Backend backend, std::ostream* out) {
  *out << backend_name(backend);
}

// ---------------------------------------------------------------------------------------------
// Requests (local mode: the user is the X-Brandcoach-User header)

HttpReply as_user(int port, const std::string& user, const std::string& method, const std::string& path,
                  const std::string& body = {}, const std::string& content_type = "application/json") {
  return request(port, method, path, body, {{"X-Brandcoach-User", user}, {"Content-Type", content_type}});
}

json body_of(const HttpReply& reply) {
  return json::parse(reply.body, nullptr, false);
}

/// One /api/chat turn; a non-200 answer fails the test and returns its body.
json chat(int port, const std::string& user, const std::string& message) {
  const auto reply = as_user(port, user, "POST", "/api/chat", json{{"message", message}}.dump());
  EXPECT_EQ(reply.status, 200) << "chat as " << user << " on port " << port << ": " << reply.body;
  return body_of(reply);
}

std::string reply_text(const json& answer) {
  return answer.value("reply", std::string());
}

bool served_from_answer_cache(const json& answer) {
  return answer.contains("cached") && answer["cached"] == "semantic";
}

/// The filenames an answer cites.
std::vector<std::string> cited_files(const json& answer) {
  std::vector<std::string> files;
  for (const auto& citation : answer.value("citations", json::array()))
    files.push_back(citation.value("file", ""));
  return files;
}

/// A multipart/form-data body of named parts; a part with a filename is a file.
struct FormPart {
  std::string name;
  std::string filename;
  std::string content;
};
const std::string kFormBoundary = "multinodeBoundary7";
const std::string kFormType = "multipart/form-data; boundary=" + kFormBoundary;

std::string form_body(const std::vector<FormPart>& parts) {
  std::string body;
  for (const auto& part : parts) {
    body += "--" + kFormBoundary + "\r\nContent-Disposition: form-data; name=\"" + part.name + "\"";
    if (!part.filename.empty()) body += "; filename=\"" + part.filename + "\"\r\nContent-Type: text/markdown";
    body += "\r\n\r\n" + part.content + "\r\n";
  }
  return body + "--" + kFormBoundary + "--\r\n";
}

/// Checks `condition` every 100 ms until it holds or 5 s have passed; true when it held. For what
/// travels by Redis pub/sub from one node to another: delivered soon, but not within the request
/// that caused it.
bool within_five_seconds(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
}

/// The active value of a profile fact, or empty.
std::string profile_value(const json& profile, const std::string& key) {
  for (const auto& fact : profile.value("facts", json::array())) {
    if (fact.value("key", "") == key && fact.value("status", "") == "active") return fact.value("value", "");
  }
  return {};
}

/// True when the reply states `value` as the user's current price: the offline composer says the
/// current value as "Price: V" in its personalised line and as "**Price:** V" when recalling.
bool states_current_price(const std::string& reply, const std::string& value) {
  return contains(reply, "Price: " + value) || contains(reply, "**Price:** " + value);
}

// ---------------------------------------------------------------------------------------------
// Two nodes, one PostgreSQL

TEST(TwoNodesOnePostgres, FactToldToAIsUsedByBsNextAnswer) {
  Cluster cluster(Backend::postgres_redis, kRedisFactTold);
  ASSERT_EQ(cluster.error(), "");
  const int a = cluster.start_node();
  const int b = cluster.start_node();

  chat(a, "u1", "My bakery is called Crumb and our price is $12 per loaf");
  const auto answer = chat(b, "u1", "what price did I settle on?");
  EXPECT_TRUE(contains(reply_text(answer), "$12")) << answer.dump(2);
  EXPECT_FALSE(answer.value("memory_used", json::array()).empty()) << answer.dump(2);

  const auto profile = as_user(b, "u1", "GET", "/api/me/profile");
  ASSERT_EQ(profile.status, 200) << profile.body;
  EXPECT_EQ(profile_value(body_of(profile), "price"), "$12") << profile.body;
  EXPECT_EQ(profile_value(body_of(profile), "company"), "Crumb") << profile.body;
}

TEST(TwoNodesOnePostgres, FileUploadedViaAIsFoundViaB) {
  Cluster cluster(Backend::postgres_redis, kRedisFileUploaded);
  ASSERT_EQ(cluster.error(), "");
  const int a = cluster.start_node();
  const int b = cluster.start_node();

  const auto file = body_of(as_user(a, "u5", "POST", "/v1/files",
                                    form_body({{"purpose", "", "assistants"},
                                               {"file", "scents.md",
                                                "# Glimmerwick candles\n\nOur signature scent is the "
                                                "quizzical marmalade ember, poured by hand.\n"}}),
                                    kFormType));
  ASSERT_TRUE(file.contains("id")) << file.dump();
  const auto store = body_of(as_user(a, "u5", "POST", "/v1/vector_stores", R"({"name": "candles"})"));
  ASSERT_TRUE(store.contains("id")) << store.dump();
  const std::string store_id = store["id"];
  const auto attached = body_of(as_user(a, "u5", "POST", "/v1/vector_stores/" + store_id + "/files",
                                        json{{"file_id", file["id"]}}.dump()));
  // Attaching reads, chunks and embeds the file before it returns (no polling needed): every node
  // that asks the database afterwards sees it.
  ASSERT_EQ(attached.value("status", ""), "completed") << attached.dump();

  const auto found = as_user(b, "u5", "POST", "/v1/vector_stores/" + store_id + "/search",
                             R"({"query": "quizzical marmalade"})");
  ASSERT_EQ(found.status, 200) << found.body;
  const auto results = body_of(found)["data"];
  ASSERT_FALSE(results.empty()) << found.body;
  EXPECT_EQ(results[0]["file_id"], file["id"]) << found.body;
  EXPECT_EQ(results[0]["filename"], "scents.md") << found.body;

  // B keeps the store its owner's: to anyone else it does not exist.
  EXPECT_EQ(as_user(b, "u6", "POST", "/v1/vector_stores/" + store_id + "/search",
                    R"({"query": "quizzical marmalade"})")
                .status,
            404);
}

TEST(TwoNodesOnePostgres, CorrectionOnBInvalidatesAsCache) {
  // No rolling summary during the test: A writing one would drop its own cached profile and hide
  // a missed invalidation from B.
  Cluster cluster(Backend::postgres_redis, kRedisCorrection, {"--set", "session.summary_every=100000"});
  ASSERT_EQ(cluster.error(), "");
  const int a = cluster.start_node();
  const int b = cluster.start_node();
  const std::string recall_question = "what price did I settle on?";
  // Not a question about the past: answered with the profile, which A serves from its cache.
  const std::string profile_question = "How should we present our price on the menu?";

  chat(a, "u2", "our price is $49");
  const auto before_recall = chat(a, "u2", recall_question);
  ASSERT_TRUE(states_current_price(reply_text(before_recall), "$49")) << before_recall.dump(2);
  const auto before_profile = chat(a, "u2", profile_question);
  ASSERT_TRUE(states_current_price(reply_text(before_profile), "$49")) << before_profile.dump(2);

  const auto corrected = chat(b, "u2", "actually our price is now $39");
  ASSERT_FALSE(corrected["facts_changed"]["superseded"].empty()) << corrected.dump(2);

  // B's correction reaches A's cache by Redis pub/sub: up to 5 s.
  json recall, profile_answer;
  const bool current = within_five_seconds([&] {
    recall = chat(a, "u2", recall_question);
    profile_answer = chat(a, "u2", profile_question);
    return states_current_price(reply_text(recall), "$39") &&
           states_current_price(reply_text(profile_answer), "$39");
  });
  EXPECT_TRUE(current) << "A still answers from the profile it cached before B's correction:\n"
                       << recall.dump(2) << "\n"
                       << profile_answer.dump(2);
  for (const auto* answer : {&recall, &profile_answer})
    EXPECT_FALSE(states_current_price(reply_text(*answer), "$49")) << answer->dump(2);
}

TEST(TwoNodesOnePostgres, RateLimitHoldsAcrossBothNodes) {
  // A burst of 4 and one token a minute: nothing refills while the test runs.
  Cluster cluster(Backend::postgres_redis, kRedisRateLimit,
                  {"--set", "auth.required=true", "--set", "limits.requests_per_minute_per_user=1", "--set",
                   "limits.burst=4"});
  ASSERT_EQ(cluster.error(), "");
  const auto key_of = [&](const std::string& user) {
    const auto created = cluster.cli({"keys", "create", "--user", user});
    EXPECT_EQ(created.code, 0) << created.err;
    EXPECT_EQ(lines(created.out).size(), 1u) << "the key alone on stdout: " << created.out;
    return lines(created.out).empty() ? std::string() : lines(created.out).front();
  };
  const std::string u3 = key_of("u3");
  const std::string u4 = key_of("u4");
  const int a = cluster.start_node();
  const int b = cluster.start_node();
  const auto profile = [](int port, const std::string& key) {
    return request(port, "GET", "/api/me/profile", "", {{"Authorization", "Bearer " + key}});
  };

  // Alternating A, B, A, B: per-node buckets would allow 8, the shared one allows 4.
  for (int i = 0; i < 4; ++i) {
    const int port = i % 2 == 0 ? a : b;
    const auto reply = profile(port, u3);
    EXPECT_EQ(reply.status, 200) << "request " << i + 1 << " of the burst, on " << (port == a ? "A" : "B")
                                 << ": " << reply.body;
  }
  for (const int port : {a, b}) {
    const auto limited = profile(port, u3);
    EXPECT_EQ(limited.status, 429) << "past the burst, on " << (port == a ? "A" : "B") << ": "
                                   << limited.body;
    EXPECT_EQ(body_of(limited)["error"]["type"], "rate_limit_error") << limited.body;
    ASSERT_TRUE(limited.headers.contains("retry-after")) << limited.body;
    EXPECT_GE(std::stoi(limited.headers.at("retry-after")), 1);
  }
  // The bucket is u3's alone.
  EXPECT_EQ(profile(a, u4).status, 200);
  EXPECT_EQ(profile(b, u4).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Cache privacy: on SQLite alone and on PostgreSQL with Redis

class CachePrivacy : public ::testing::TestWithParam<Backend> {};

INSTANTIATE_TEST_SUITE_P(Backends, CachePrivacy, ::testing::Values(Backend::sqlite, Backend::postgres_redis),
                         test_name_suffix);

/// Asks `question` as brand-new users `prefix`2, `prefix`3, … until one is served from the answer
/// cache, and returns that answer (or the last one). Without Redis the first must be. With Redis,
/// any node another test starts on the same Redis server publishes a knowledge-store invalidation
/// (pub/sub channels are not per Redis database), which empties this node's answer cache: a miss
/// right after a fresh answer is then no failure, but never being served from the cache is.
json ask_until_cached(int port, const std::string& prefix, const std::string& question, bool distributed) {
  const int attempts = distributed ? 5 : 1;
  json answer;
  for (int i = 0; i < attempts; ++i) {
    answer = chat(port, prefix + std::to_string(i + 2), question);
    if (served_from_answer_cache(answer)) break;
  }
  return answer;
}

TEST_P(CachePrivacy, TwoUsersWithDifferentFactsNeverSeeEachOthersAnswers) {
  Cluster cluster(GetParam(), kRedisTwoUsers);
  ASSERT_EQ(cluster.error(), "");
  const int port = cluster.start_node();
  // "called": the rule extractor remembers a company named that way, so the answers below are
  // personal and would show it if one user's answer reached the other.
  chat(port, "p1", "My company is called Zorblax Widgets and our price is $77");
  chat(port, "p2", "My company is called Quillon Paper and our price is $15");
  ASSERT_EQ(profile_value(body_of(as_user(port, "p1", "GET", "/api/me/profile")), "company"),
            "Zorblax Widgets");
  ASSERT_EQ(profile_value(body_of(as_user(port, "p2", "GET", "/api/me/profile")), "company"),
            "Quillon Paper");

  for (const std::string& question :
       std::vector<std::string>{"How should I position my brand against competitors?",
                                "How should I set my price against competitors?"}) {
    const auto p1 = chat(port, "p1", question);
    const auto p2 = chat(port, "p2", question);
    const std::string p1_reply = reply_text(p1);
    const std::string p2_reply = reply_text(p2);
    EXPECT_FALSE(contains(p1_reply, "Quillon") || contains(p1_reply, "$15")) << p1_reply;
    EXPECT_FALSE(contains(p2_reply, "Zorblax") || contains(p2_reply, "$77")) << p2_reply;
    // Each got an answer made for them, not a shared one.
    EXPECT_TRUE(contains(p1_reply, "Zorblax") || contains(p1_reply, "$77")) << p1_reply;
    EXPECT_TRUE(contains(p2_reply, "Quillon") || contains(p2_reply, "$15")) << p2_reply;
    // Their prompts held their facts: never answered from, nor put into, the answer cache.
    EXPECT_FALSE(served_from_answer_cache(p1)) << p1.dump(2);
    EXPECT_FALSE(served_from_answer_cache(p2)) << p2.dump(2);
  }

  // Brand-new users have nothing personal: the second asker of the first one's question gets the
  // first one's answer from the cache, word for word.
  const std::string question = "How should I position my brand against competitors?";
  const auto fresh = chat(port, "new1", question);
  EXPECT_FALSE(served_from_answer_cache(fresh)) << fresh.dump(2);
  const auto cached = ask_until_cached(port, "new", question, cluster.distributed());
  EXPECT_TRUE(served_from_answer_cache(cached)) << cached.dump(2);
  EXPECT_EQ(reply_text(cached), reply_text(fresh));
  for (const auto* answer : {&fresh, &cached}) {
    for (const char* personal : {"Zorblax", "Quillon", "$77", "$15"})
      EXPECT_FALSE(contains(reply_text(*answer), personal)) << personal << " in " << answer->dump(2);
  }
}

// A document that answers the question below better than the bundled knowledge does.
const std::string kPositioningQuestion = "How should I position my brand against competitors?";
const std::string kPositioningDocument =
    "# Positioning against competitors\n\nTo position your brand against competitors, draw a perceptual map "
    "with two axes customers care about and place every competitor on it; the empty quadrant is your "
    "opening. Name the one promise no competitor can match.\n";

/// Uploads the positioning document into an assistant's knowledge store through the admin API (local
/// mode has the admin role); true when it was added.
bool add_positioning_document(int port, const std::string& assistant) {
  const auto uploaded = as_user(port, "ops", "POST", "/api/admin/stores/" + assistant + "/files",
                                form_body({{"file", "perceptual-map.md", kPositioningDocument}}), kFormType);
  EXPECT_EQ(uploaded.status, 200) << uploaded.body;
  EXPECT_EQ(body_of(uploaded).value("added", 0), 1) << uploaded.body;
  return uploaded.status == 200;
}

bool cites(const json& answer, const std::string& filename) {
  const auto files = cited_files(answer);
  return std::find(files.begin(), files.end(), filename) != files.end();
}

TEST_P(CachePrivacy, KnowledgeChangeInvalidatesCachedAnswers) {
  Cluster cluster(GetParam(), kRedisKnowledgeChange);
  ASSERT_EQ(cluster.error(), "");
  const int port = cluster.start_node();

  const auto fresh = chat(port, "k1", kPositioningQuestion);
  EXPECT_FALSE(served_from_answer_cache(fresh)) << fresh.dump(2);
  const auto cached = ask_until_cached(port, "k", kPositioningQuestion, cluster.distributed());
  ASSERT_TRUE(served_from_answer_cache(cached)) << cached.dump(2);

  ASSERT_TRUE(add_positioning_document(port, fresh.value("assistant", "")));
  // The change is made on this node: its cache is dropped before the upload returns.
  const auto after = chat(port, "k-after", kPositioningQuestion);
  EXPECT_FALSE(served_from_answer_cache(after)) << after.dump(2);
  EXPECT_TRUE(cites(after, "perceptual-map.md"))
      << "a fresh answer from the changed store: " << after.dump(2);
}

TEST(CachePrivacyAcrossNodes, KnowledgeChangeViaAMakesBsNextAnswerFresh) {
  Cluster cluster(Backend::postgres_redis, kRedisKnowledgeChangeTwoNodes);
  ASSERT_EQ(cluster.error(), "");
  const int a = cluster.start_node();
  const int b = cluster.start_node();

  const auto fresh = chat(b, "k1", kPositioningQuestion);
  EXPECT_FALSE(served_from_answer_cache(fresh)) << fresh.dump(2);
  const auto cached = ask_until_cached(b, "k", kPositioningQuestion, true);
  ASSERT_TRUE(served_from_answer_cache(cached))
      << "B must hold a cached answer before the change: " << cached.dump(2);

  ASSERT_TRUE(add_positioning_document(a, fresh.value("assistant", "")));
  // A learns of the change when the upload returns; B by Redis pub/sub (its own store lookups
  // also expire within a second): up to 5 s. Each try is a brand-new user.
  int asker = 0;
  json after;
  const bool fresh_on_b = within_five_seconds([&] {
    after = chat(b, "k-after-" + std::to_string(++asker), kPositioningQuestion);
    return !served_from_answer_cache(after);
  });
  EXPECT_TRUE(fresh_on_b) << "B still serves the answer cached before the change: " << after.dump(2);
  EXPECT_TRUE(cites(after, "perceptual-map.md")) << after.dump(2);
}

// ---------------------------------------------------------------------------------------------
// Backends that cannot be used

TEST(MultinodeBadInput, UnreachableBackendsStopTheServerAtOnceAndOtherUrlsAreRefused) {
  TempDir dir;
  const auto serve_with = [&](const std::string& setting) {
    return run_brandcoach({"--data-dir", dir.path().string(), "--set", setting, "serve", "--port", "0"});
  };

  // Nothing listens on port 1: the server must say so and exit 1 (a runtime failure), not hang
  // retrying (that would end in the kill after the run timeout, exit 137) nor listen anyway.
  const auto no_postgres = serve_with("storage.url=postgresql://nobody@127.0.0.1:1/none");
  EXPECT_EQ(no_postgres.code, 1) << no_postgres.err;
  EXPECT_TRUE(contains(no_postgres.err, "PostgreSQL")) << no_postgres.err;
  EXPECT_TRUE(contains(no_postgres.err, "127.0.0.1")) << no_postgres.err;
  EXPECT_FALSE(contains(no_postgres.out, "http://")) << "it never listened: " << no_postgres.out;

  const auto no_redis = serve_with("cache.redis_url=redis://127.0.0.1:1/0");
  EXPECT_EQ(no_redis.code, 1) << no_redis.err;
  EXPECT_TRUE(contains(no_redis.err, "Redis")) << no_redis.err;
  EXPECT_TRUE(contains(no_redis.err, "127.0.0.1:1")) << no_redis.err;
  EXPECT_FALSE(contains(no_redis.out, "http://")) << "it never listened: " << no_redis.out;

  // Not a storage this build knows: a configuration error (exit 2) naming the key.
  const auto mysql = serve_with("storage.url=mysql://x");
  EXPECT_EQ(mysql.code, 2) << mysql.err;
  EXPECT_TRUE(contains(mysql.err, "storage.url")) << mysql.err;
  EXPECT_FALSE(contains(mysql.out, "http://")) << mysql.out;
}

}  // namespace
}  // namespace brandcoach::testing
