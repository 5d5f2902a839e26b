// The cache layers against a real Redis (started by the backend_services fixture): L2 shared by
// nodes, invalidation over pub/sub, and rate limits that hold across nodes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "brandcoach/cache/cache.hpp"
#include "brandcoach/http/http.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::cache {
namespace {

using namespace std::chrono_literals;

// Tests run in parallel against one Redis: every key and scope a test uses carries its own tag.
std::string unique_tag() {
  std::random_device random;
  return std::to_string(random()) + std::to_string(random());
}

class RedisCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto url = brandcoach::testing::service_url("REDIS");
    ASSERT_TRUE(url) << "no Redis: run through ctest (the backend_services fixture) or set "
                        "BRANDCOACH_TEST_REDIS_URL";
    url_ = *url;
  }

  // A node's cache, ready to hear other nodes' invalidations.
  std::unique_ptr<Cache> node() {
    auto cache = Cache::open({1 << 20, 60s, url_});
    if (!cache) {
      ADD_FAILURE() << cache.error().message;
      return nullptr;
    }
    EXPECT_TRUE((*cache)->wait_ready(5s));
    return std::move(cache).value();
  }

  // Pub/sub delivery is asynchronous: waits up to 5 s for `condition`.
  template <class Condition>
  static bool eventually(Condition condition) {
    for (int i = 0; i < 500; ++i) {
      if (condition()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return condition();
  }

  std::string url_;
  std::string tag_ = unique_tag();
};

TEST_F(RedisCacheTest, ASharedValuePutByOneNodeIsReadByAnother) {
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  const std::string key = "route:" + tag_;
  a->put(key, "decision", 1h, true);
  EXPECT_EQ(b->get(key, true), "decision");
  EXPECT_EQ(b->l2_stats().hits.load(), 1);
  EXPECT_EQ(b->get(key, true), "decision");  // now from B's own L1
  EXPECT_EQ(b->l1_stats().hits.load(), 1);
}

TEST_F(RedisCacheTest, APrivateValueNeverReachesAnotherNode) {
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  const std::string key = "user:" + tag_ + ":facts";
  a->put(key, "secret", 1h, false);
  EXPECT_EQ(a->get(key, false), "secret");
  EXPECT_FALSE(b->get(key, false));
  EXPECT_FALSE(b->get(key, true));
}

TEST_F(RedisCacheTest, AnInvalidationOnOneNodeDropsTheScopeOnEveryOther) {
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  const std::string scope = "user:" + tag_;
  b->put(scope + ":facts", "stale", 1h, false);
  b->put("user:other" + tag_ + ":facts", "kept", 1h, false);
  std::atomic<int> heard_by_a{0};
  std::atomic<int> heard_by_b{0};
  a->on_invalidate([&](std::string_view s) { heard_by_a += s == scope; });
  b->on_invalidate([&](std::string_view s) { heard_by_b += s == scope; });
  a->invalidate(scope);
  EXPECT_TRUE(eventually([&] { return !b->get(scope + ":facts", false); }));
  EXPECT_TRUE(eventually([&] { return heard_by_b.load() == 1; }));
  EXPECT_EQ(b->get("user:other" + tag_ + ":facts", false), "kept");
  // A dropped its own copy at once and ignores its own message coming back.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(heard_by_a.load(), 1);
}

TEST_F(RedisCacheTest, AProfileCachedOnOneNodeIsDroppedWhenAnotherNodeWritesFacts) {
  brandcoach::testing::TempDir dir;
  const std::string db = (dir.path() / "shared.sqlite3").string();
  auto cache_a = node();
  auto cache_b = node();
  ASSERT_TRUE(cache_a && cache_b);
  auto inner_a = store::open_sqlite({db, 2, 10000});
  auto inner_b = store::open_sqlite({db, 2, 10000});
  ASSERT_TRUE(inner_a && inner_b);
  auto a = make_cached_store(std::move(inner_a).value(), *cache_a);
  auto b = make_cached_store(std::move(inner_b).value(), *cache_b);
  auto user = a->ensure_user("redis-" + tag_);
  ASSERT_TRUE(user);
  store::Fact fact;
  fact.user_id = user->id;
  fact.key = "price";
  fact.value = "$49";
  fact.category = "business";
  ASSERT_TRUE(a->write_facts(user->id, {store::FactWrite{fact, {}, false, "user"}}));
  auto before = b->list_facts(user->id, false);  // B caches the profile
  ASSERT_TRUE(before);
  ASSERT_EQ(before->size(), 1u);
  auto first = before->front();
  fact.value = "$39";
  ASSERT_TRUE(a->write_facts(user->id, {store::FactWrite{fact, {{first.id, "superseded"}}, false, "user"}}));
  EXPECT_TRUE(eventually([&] {
    auto now = b->list_facts(user->id, false);
    return now && now->size() == 1 && now->front().value == "$39";
  }));
}

TEST_F(RedisCacheTest, ARateLimitHoldsAcrossNodes) {
  auto a = Redis::connect(url_);
  auto b = Redis::connect(url_);
  ASSERT_TRUE(a && b);
  // 3 requests of burst, then one per minute: whichever node a request reaches.
  http::RateLimiter node_a(1, 3, a->get());
  http::RateLimiter node_b(1, 3, b->get());
  const std::string key = "user:" + tag_;
  EXPECT_EQ(node_a.take(key, 0), 0);
  EXPECT_EQ(node_b.take(key, 0), 0);
  EXPECT_EQ(node_a.take(key, 0), 0);
  const int64_t wait = node_b.take(key, 0);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 60);
  EXPECT_GT(node_a.take(key, 0), 0);
  EXPECT_EQ(node_a.take("user:another" + tag_, 0), 0);
}

// A server that accepts connections and closes them at once: a Redis that went away after start.
class VanishingServer {
 public:
  VanishingServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 16);
    socklen_t length = sizeof address;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int client = ::accept(listener_, nullptr, nullptr);
        if (client < 0) return;
        ::close(client);
      }
    });
  }
  ~VanishingServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(RedisCacheTest, WhenRedisGoesAwayLimitsFallBackToTheNodeAndCachesMiss) {
  VanishingServer server;
  auto redis = Redis::connect("redis://127.0.0.1:" + std::to_string(server.port()) + "/0");
  ASSERT_TRUE(redis) << redis.error().message;
  auto token = (*redis)->take_token("rl:x", 60, 2);
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().kind, ErrorKind::unavailable);
  http::RateLimiter limiter(60, 2, redis->get());
  EXPECT_EQ(limiter.take("user:x", 100), 0);
  EXPECT_EQ(limiter.take("user:x", 100), 0);
  EXPECT_GT(limiter.take("user:x", 100), 0);  // the node's own bucket still limits
  auto get = (*redis)->get("bc:anything");
  EXPECT_FALSE(get);
}

}  // namespace
}  // namespace brandcoach::cache
