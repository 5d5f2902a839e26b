// brandcoach cache: the layers that keep repeated work off the turn's path (DESIGN §1 "cache").
//
//  - `LruCache`: L1, in-process, bounded by bytes, entries with a lifetime.
//  - `Redis`: L2 shared by every node, cross-node invalidation (pub/sub) and distributed rate limits.
//  - `Cache`: both layers behind one get/put, plus invalidation of a scope on every node.
//  - `SemanticCache`: answers to questions asked before (cosine similarity of their vectors), only
//    for answers that used no personal data, scoped per assistant and knowledge version.
//  - `CachedStore`: a Store that serves user profiles and store lookups from the cache and
//    invalidates them (on every node) when they change.
//
// A cache failure never fails a request: Redis unreachable means a miss, a local rate limit and
// invalidation of this node's L1 only, and a warning in the log.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "brandcoach/core/core.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::cache {

/// The scope of a key: its text up to the second ':' ("user:42:facts" -> "user:42"), or up to the
/// first when there is only one ("kb:…" -> "kb").
std::string scope_of(std::string_view key);

/// Hit and miss counts of one layer, for metrics and the bench.
struct LayerStats {
  std::atomic<int64_t> hits{0};
  std::atomic<int64_t> misses{0};
};

/// A least-recently-used map from string keys to string values whose keys and values together stay
/// within `max_bytes`. Entries live at most their time-to-live. Thread-safe.
class LruCache {
 public:
  explicit LruCache(size_t max_bytes);

  std::optional<std::string> get(std::string_view key);
  void put(std::string key, std::string value, std::chrono::milliseconds ttl);
  /// Drops every entry of the scope (see scope_of: "user:42", "kb").
  void erase_scope(std::string_view scope);
  void clear();
  size_t bytes() const;
  size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  void evict_locked();
  void remove_locked(std::list<Entry>::iterator entry);
  const size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;                                                        // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;        // views into order_'s keys
  std::unordered_map<std::string, std::unordered_set<std::string_view>> scopes_;  // scope -> its keys
  size_t bytes_ = 0;
};

/// A blocking Redis client (hiredis) with a few pooled connections and short timeouts. Every call
/// reports failure as an Error value (kind unavailable); a failed connection is reopened next call.
class Redis {
 public:
  /// Parses redis://host:port[/db] and connects once to check it.
  static Result<std::unique_ptr<Redis>> connect(std::string_view url);
  ~Redis();
  Redis(const Redis&) = delete;
  Redis& operator=(const Redis&) = delete;

  Result<std::optional<std::string>> get(std::string_view key);
  Status set(std::string_view key, std::string_view value, std::chrono::seconds ttl);
  Status publish(std::string_view channel, std::string_view message);
  /// Token bucket shared by every node (a Lua script, atomic in Redis, on Redis's clock): takes one
  /// token from `key`'s bucket (refilled at `per_minute`, capacity `burst`). Returns 0 when allowed,
  /// else the seconds until a token is available.
  Result<int64_t> take_token(std::string_view key, double per_minute, double burst);

  struct Endpoint {
    std::string host;
    int port = 6379;
    int db = 0;
  };
  const Endpoint& endpoint() const { return endpoint_; }
  struct Connection;  // one hiredis context; opaque outside redis.cpp

 private:
  explicit Redis(Endpoint endpoint);
  Result<std::unique_ptr<Connection>> acquire();
  void give_back(std::unique_ptr<Connection> connection);
  Endpoint endpoint_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

/// Listens on a Redis channel on its own thread and hands every message to `on_message`; after a
/// lost connection it reconnects and calls `on_reconnect` (messages may have been missed meanwhile).
class Subscriber {
 public:
  Subscriber(Redis::Endpoint endpoint, std::string channel, std::function<void(std::string_view)> on_message,
             std::function<void()> on_reconnect);
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;
  /// Waits (up to `timeout`) until the subscription is live: messages published after it returns
  /// true are delivered.
  bool wait_ready(std::chrono::milliseconds timeout);

 private:
  void run(std::stop_token stop);
  Redis::Endpoint endpoint_;
  std::string channel_;
  std::function<void(std::string_view)> on_message_;
  std::function<void()> on_reconnect_;
  std::mutex mutex_;
  std::condition_variable ready_changed_;
  bool ready_ = false;
  std::jthread thread_;
};

struct CacheOptions {
  size_t l1_bytes = 64 << 20;  // 0: no L1
  std::chrono::seconds l2_ttl{3600};
  std::string redis_url;  // empty: no L2, invalidation stays on this node
};

/// The two layers behind one interface. Keys start with their scope ("user:42:facts", "kb:…",
/// "route:…"); `invalidate(scope)` drops a scope's entries here and publishes it to every node.
/// Only content-addressed values go to L2 (`shared`): values whose key names everything they were
/// made from (the message text, the knowledge store's version), so an L2 entry is never stale and
/// needs no invalidation. Values that change under the same key (a user's profile) stay in L1,
/// where invalidation reaches them on every node.
class Cache {
 public:
  static Result<std::unique_ptr<Cache>> open(const CacheOptions& options);
  ~Cache();

  /// `shared`: also look in (and fill) L2.
  std::optional<std::string> get(std::string_view key, bool shared);
  void put(std::string_view key, std::string value, std::chrono::milliseconds ttl, bool shared);
  /// Drops the scope ("user:42", "kb") on this node now and on every other node via pub/sub.
  void invalidate(std::string_view scope);
  /// Registers a callback for every invalidation (local or from another node), e.g. to refresh
  /// search indexes when a knowledge store changed elsewhere. Register before serving.
  void on_invalidate(std::function<void(std::string_view scope)> listener);

  Redis* redis() { return redis_.get(); }
  bool distributed() const { return redis_ != nullptr; }
  const LayerStats& l1_stats() const { return l1_stats_; }
  const LayerStats& l2_stats() const { return l2_stats_; }
  /// Waits until cross-node invalidation is live (true at once without Redis).
  bool wait_ready(std::chrono::milliseconds timeout);

 private:
  explicit Cache(const CacheOptions& options);
  void drop_local(std::string_view scope);

  CacheOptions options_;
  std::unique_ptr<LruCache> l1_;
  std::unique_ptr<Redis> redis_;
  std::unique_ptr<Subscriber> subscriber_;
  LayerStats l1_stats_;
  LayerStats l2_stats_;
  std::mutex listeners_mutex_;
  std::vector<std::function<void(std::string_view)>> listeners_;
  std::string node_id_;  // this node's own published messages are recognised and skipped
};

/// Answers by question similarity. An entry is found only within its scope (assistant, knowledge
/// version, provider and model), so a knowledge change or another assistant never sees it. Callers
/// put only answers that used no personal data: nothing of one user can reach another through it.
class SemanticCache {
 public:
  SemanticCache(double threshold, size_t max_entries_per_scope);
  struct Hit {
    std::string answer_json;
    double similarity = 0;
  };
  std::optional<Hit> find(const std::string& scope, const std::vector<float>& question) const;
  void put(const std::string& scope, std::vector<float> question, std::string answer_json);
  /// Forgets every scope (a knowledge change: entries of the old version can never match again,
  /// and this frees them at once).
  void clear();
  const LayerStats& stats() const { return stats_; }

 private:
  struct Entry {
    std::vector<float> question;
    std::string answer_json;
  };
  double threshold_;
  size_t max_entries_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Entry>> scopes_;  // oldest entries first
  mutable LayerStats stats_;
};

/// A Store that answers the hot reads of every turn from the cache — a user's profile (active and
/// pending facts) and rolling summary when the cache is distributed, and knowledge-store lookups —
/// and invalidates them through `cache` whenever a write through it changes them, so other nodes
/// drop theirs too. Store lookups also expire after a second, so a writer outside the cache (the
/// `kb` command on the same database) is seen soon even without Redis.
std::unique_ptr<store::Store> make_cached_store(std::unique_ptr<store::Store> inner, Cache& cache);
/// The same, owning its cache (a command-line process that writes and must tell the servers).
std::unique_ptr<store::Store> make_cached_store(std::unique_ptr<store::Store> inner,
                                                std::unique_ptr<Cache> cache);

}  // namespace brandcoach::cache
