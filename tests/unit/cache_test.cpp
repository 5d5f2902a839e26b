// The in-process cache layers: the byte-bounded LRU, scopes, the layered Cache without Redis, the
// semantic answer cache, and the CachedStore's invalidation on writes.
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "brandcoach/cache/cache.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::cache {
namespace {

using namespace std::chrono_literals;

TEST(LruCache, KeepsWithinItsByteBudgetByDroppingTheLeastRecentlyUsed) {
  LruCache lru(4096);
  const std::string value(800, 'x');  // about 935 bytes with the key and overhead: four fit
  for (int i = 0; i < 4; ++i) lru.put("k:" + std::to_string(i), value, 1h);
  ASSERT_TRUE(lru.get("k:0"));  // now the most recent
  lru.put("k:4", value, 1h);    // over budget: the least recent (k:1) goes
  EXPECT_LE(lru.bytes(), 4096u);
  EXPECT_TRUE(lru.get("k:0"));
  EXPECT_FALSE(lru.get("k:1"));
  EXPECT_TRUE(lru.get("k:4"));
}

TEST(LruCache, AValueLargerThanTheBudgetIsNotKept) {
  LruCache lru(1000);
  lru.put("small", "v", 1h);
  lru.put("huge", std::string(5000, 'x'), 1h);
  EXPECT_FALSE(lru.get("huge"));
  EXPECT_TRUE(lru.get("small"));
}

TEST(LruCache, EntriesExpireAfterTheirLifetime) {
  LruCache lru(1 << 20);
  lru.put("short", "v", 30ms);
  lru.put("long", "v", 1h);
  std::this_thread::sleep_for(60ms);
  EXPECT_FALSE(lru.get("short"));
  EXPECT_TRUE(lru.get("long"));
  EXPECT_EQ(lru.size(), 1u);
}

TEST(LruCache, ReplacingAKeyKeepsOneEntryAndTheNewValue) {
  LruCache lru(1 << 20);
  lru.put("user:1:facts", "old", 1h);
  const auto bytes = lru.bytes();
  lru.put("user:1:facts", "new", 1h);
  EXPECT_EQ(lru.size(), 1u);
  EXPECT_EQ(lru.bytes(), bytes);
  EXPECT_EQ(lru.get("user:1:facts"), "new");
}

TEST(LruCache, ErasingAScopeDropsOnlyThatScope) {
  LruCache lru(1 << 20);
  lru.put("user:1:facts", "a", 1h);
  lru.put("user:1:summary", "b", 1h);
  lru.put("user:12:facts", "c", 1h);  // a longer id with the same prefix is another scope
  lru.put("kb:diagnostic", "d", 1h);
  lru.erase_scope("user:1");
  EXPECT_FALSE(lru.get("user:1:facts"));
  EXPECT_FALSE(lru.get("user:1:summary"));
  EXPECT_EQ(lru.get("user:12:facts"), "c");
  EXPECT_EQ(lru.get("kb:diagnostic"), "d");
  lru.erase_scope("kb");
  EXPECT_FALSE(lru.get("kb:diagnostic"));
  EXPECT_EQ(lru.size(), 1u);
}

TEST(LruCache, ManyThreadsAtOnceLeaveItConsistent) {
  LruCache lru(64 * 1024);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&lru, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string key = "user:" + std::to_string(i % 50) + ":k" + std::to_string(t);
        lru.put(key, std::string(static_cast<size_t>(i % 300), 'v'), 1h);
        lru.get(key);
        if (i % 97 == 0) lru.erase_scope("user:" + std::to_string(i % 50));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_LE(lru.bytes(), 64u * 1024);
}

TEST(Scope, UserKeysAreScopedPerUserOthersPerKind) {
  EXPECT_EQ(scope_of("user:42:facts"), "user:42");
  EXPECT_EQ(scope_of("user:42"), "user:42");
  EXPECT_EQ(scope_of("kb:store:with:colons"), "kb");
  EXPECT_EQ(scope_of("route:abc"), "route");
  EXPECT_EQ(scope_of("plain"), "plain");
}

TEST(Cache, WithoutRedisServesFromL1AndInvalidatesLocally) {
  auto cache = Cache::open({1 << 20, 3600s, ""});
  ASSERT_TRUE(cache) << cache.error().message;
  auto& c = **cache;
  EXPECT_FALSE(c.distributed());
  EXPECT_TRUE(c.wait_ready(10ms));
  EXPECT_FALSE(c.get("user:7:facts", false));
  c.put("user:7:facts", "[1]", 1h, false);
  c.put("route:x", "{}", 1h, true);
  EXPECT_EQ(c.get("user:7:facts", false), "[1]");
  std::vector<std::string> heard;
  c.on_invalidate([&](std::string_view scope) { heard.emplace_back(scope); });
  c.invalidate("user:7");
  EXPECT_FALSE(c.get("user:7:facts", false));
  EXPECT_EQ(c.get("route:x", true), "{}");
  EXPECT_EQ(heard, std::vector<std::string>{"user:7"});
  EXPECT_EQ(c.l1_stats().hits.load(), 2);
  EXPECT_EQ(c.l1_stats().misses.load(), 2);
}

TEST(Cache, AnL1BudgetOfZeroCachesNothing) {
  auto cache = Cache::open({0, 3600s, ""});
  ASSERT_TRUE(cache);
  (*cache)->put("route:x", "{}", 1h, true);
  EXPECT_FALSE((*cache)->get("route:x", true));
}

TEST(Cache, ABadRedisUrlIsAConfigurationError) {
  for (const std::string url : {"http://localhost:6379", "redis://:6379", "redis://host:notaport",
                                "redis://host:6379/x", "redis://user:pass@host:6379"}) {
    auto cache = Cache::open({1 << 20, 3600s, url});
    ASSERT_FALSE(cache) << url;
    EXPECT_EQ(cache.error().kind, ErrorKind::invalid_config) << url;
    EXPECT_EQ(cache.error().param, "cache.redis_url") << url;
  }
}

TEST(Cache, AnUnreachableRedisIsReportedAsUnavailable) {
  auto cache = Cache::open({1 << 20, 3600s, "redis://127.0.0.1:1/0"});
  ASSERT_FALSE(cache);
  EXPECT_EQ(cache.error().kind, ErrorKind::unavailable);
  EXPECT_NE(cache.error().message.find("127.0.0.1:1"), std::string::npos) << cache.error().message;
}

std::vector<float> unit(std::vector<float> v) {
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

TEST(SemanticCache, FindsANearQuestionOnlyAboveTheThresholdAndOnlyInItsScope) {
  SemanticCache answers(0.95, 100);
  answers.put("avatar|kb@3", unit({1, 0, 0, 0}), "first");
  EXPECT_EQ(answers.find("avatar|kb@3", unit({1, 0.1f, 0, 0}))->answer_json, "first");  // cos 0.995
  EXPECT_FALSE(answers.find("avatar|kb@3", unit({1, 0.5f, 0, 0})));                     // cos 0.894
  EXPECT_FALSE(answers.find("avatar|kb@4", unit({1, 0, 0, 0})));  // the knowledge changed
  EXPECT_FALSE(answers.find("core|kb@3", unit({1, 0, 0, 0})));    // another assistant
  EXPECT_EQ(answers.stats().hits.load(), 1);
  EXPECT_EQ(answers.stats().misses.load(), 3);
}

TEST(SemanticCache, PrefersTheClosestAndForgetsTheOldestBeyondItsSize) {
  SemanticCache answers(0.9, 2);
  answers.put("s", unit({1, 0.2f, 0}), "a");
  answers.put("s", unit({1, 0, 0}), "b");
  EXPECT_EQ(answers.find("s", unit({1, 0, 0}))->answer_json, "b");
  answers.put("s", unit({0, 1, 0}), "c");  // "a" goes
  EXPECT_EQ(answers.find("s", unit({1, 0.2f, 0}))->answer_json, "b");
  answers.clear();
  EXPECT_FALSE(answers.find("s", unit({1, 0, 0})));
}

class CachedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cache = Cache::open({1 << 20, 3600s, ""});
    ASSERT_TRUE(cache);
    cache_ = std::move(cache).value();
    auto inner = store::open_sqlite({(dir_.path() / "db.sqlite3").string(), 2, 10000});
    ASSERT_TRUE(inner) << inner.error().message;
    store_ = make_cached_store(std::move(inner).value(), *cache_);
  }
  brandcoach::testing::TempDir dir_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(CachedStoreTest, AStoreLookupIsServedFromTheCacheAndDroppedWhenTheStoreChanges) {
  auto id = store_->ensure_knowledge_store("guides");
  ASSERT_TRUE(id);
  auto first = store_->find_knowledge_store("guides");
  ASSERT_TRUE(first && *first);
  const auto misses = cache_->l1_stats().misses.load();
  auto again = store_->find_knowledge_store("guides");
  ASSERT_TRUE(again && *again);
  EXPECT_EQ(cache_->l1_stats().misses.load(), misses);  // a hit
  EXPECT_EQ((**again).version, (**first).version);
  ASSERT_TRUE(store_->configure_knowledge_store(*id, "hashing:512:v1", "{}"));
  auto after = store_->find_knowledge_store("guides");
  ASSERT_TRUE(after && *after);
  EXPECT_GT((**after).version, (**first).version);  // never the cached, older version
}

TEST_F(CachedStoreTest, ProfilesAreNotCachedWithoutRedisSoOtherWritersAreSeen) {
  auto user = store_->ensure_user("ann");
  ASSERT_TRUE(user);
  store::Fact fact;
  fact.user_id = user->id;
  fact.key = "price";
  fact.value = "$12";
  fact.category = "business";
  ASSERT_TRUE(store_->write_facts(user->id, {store::FactWrite{fact, {}, false, "user"}}));
  // Another process writes beside this one: without Redis it could not tell us.
  auto other = store::open_sqlite({(dir_.path() / "db.sqlite3").string(), 1, 10000});
  ASSERT_TRUE(other);
  fact.value = "$15";
  ASSERT_TRUE((*other)->write_facts(user->id, {store::FactWrite{fact, {}, false, "user"}}));
  auto facts = store_->list_facts(user->id, false);
  ASSERT_TRUE(facts);
  ASSERT_EQ(facts->size(), 2u);
  EXPECT_EQ(facts->back().value, "$15");
}

TEST_F(CachedStoreTest, AThreadTailIsKeptAndGrownButNeverMissesAMessageWrittenElsewhere) {
  auto user = store_->ensure_user("tia");
  ASSERT_TRUE(user);
  const auto say = [&](store::Store& to, const std::string& text, const std::string& role) {
    store::Message m;
    m.user_id = user->id;
    m.role = role;
    m.text = text;
    auto stored = to.append_message(m, std::nullopt, false);
    EXPECT_TRUE(stored) << stored.error().message;
  };
  const store::ThreadRead brief{.users_only = false, .brief = true};
  const auto texts = [&] {
    std::vector<std::string> out;
    auto tail = store_->recent_messages(user->id, 3, brief);
    EXPECT_TRUE(tail);
    for (const auto& m : *tail) out.push_back(m.text);
    return out;
  };
  say(*store_, "one", "user");
  say(*store_, "two", "assistant");
  EXPECT_EQ(texts(), (std::vector<std::string>{"one", "two"}));
  // Grown by this store's own appends, and cut to the asked length.
  say(*store_, "three", "user");
  say(*store_, "four", "assistant");
  EXPECT_EQ(texts(), (std::vector<std::string>{"two", "three", "four"}));
  // Another process (or node) writes to the thread: the kept tail is stale and not served.
  auto other = store::open_sqlite({(dir_.path() / "db.sqlite3").string(), 1, 10000});
  ASSERT_TRUE(other);
  say(**other, "five, said elsewhere", "user");
  EXPECT_EQ(texts(), (std::vector<std::string>{"three", "four", "five, said elsewhere"}));
  // The next append here follows the one written elsewhere.
  say(*store_, "six", "assistant");
  EXPECT_EQ(texts(), (std::vector<std::string>{"four", "five, said elsewhere", "six"}));
  // Erased: nothing of the thread is served again.
  ASSERT_TRUE(store_->erase_user(user->id, "test"));
  auto gone = store_->recent_messages(user->id, 3, brief);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->empty());
}

}  // namespace
}  // namespace brandcoach::cache
