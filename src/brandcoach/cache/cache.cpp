#include "brandcoach/cache/cache.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace brandcoach::cache {

namespace {

// Every node listens on its database's channel (pub/sub spans a Redis server's databases, and
// deployments sharing a server by database number must not clear each other's caches); a message
// is "<node id> <scope>".
std::string invalidation_channel(const Redis::Endpoint& endpoint) {
  return fmt::format("brandcoach:{}:invalidate", endpoint.db);
}
// L2 keys carry a prefix so a shared Redis can hold other things too.
constexpr std::string_view kL2Prefix = "bc:";

}  // namespace

std::string scope_of(std::string_view key) {
  // A user's entries form one scope per user ("user:42"), everything else one scope per kind.
  const auto first = key.find(':');
  if (first == std::string_view::npos) return std::string(key);
  if (key.substr(0, first) == "user") {
    const auto second = key.find(':', first + 1);
    return std::string(key.substr(0, second));
  }
  return std::string(key.substr(0, first));
}

Cache::Cache(const CacheOptions& options) : options_(options), node_id_(random_id("node_")) {
  if (options.l1_bytes > 0) l1_ = std::make_unique<LruCache>(options.l1_bytes);
}

Cache::~Cache() {
  subscriber_.reset();  // stops its thread before the members it calls into go
}

Result<std::unique_ptr<Cache>> Cache::open(const CacheOptions& options) {
  std::unique_ptr<Cache> cache(new Cache(options));
  if (options.redis_url.empty()) return cache;
  auto redis = Redis::connect(options.redis_url);
  if (!redis) return redis.error();
  cache->redis_ = std::move(redis).value();
  Cache* self = cache.get();
  cache->subscriber_ = std::make_unique<Subscriber>(
      cache->redis_->endpoint(), invalidation_channel(cache->redis_->endpoint()),
      [self](std::string_view message) {
        const auto space = message.find(' ');
        if (space == std::string_view::npos || message.substr(0, space) == self->node_id_) return;
        self->drop_local(message.substr(space + 1));
      },
      // Invalidations sent while we were away are lost: forget everything rather than serve stale.
      [self] {
        if (self->l1_) self->l1_->clear();
        self->drop_local("*");
      });
  return cache;
}

bool Cache::wait_ready(std::chrono::milliseconds timeout) {
  return !subscriber_ || subscriber_->wait_ready(timeout);
}

std::optional<std::string> Cache::get(std::string_view key, bool shared) {
  if (l1_) {
    if (auto value = l1_->get(key)) {
      l1_stats_.hits.fetch_add(1, std::memory_order_relaxed);
      return value;
    }
    l1_stats_.misses.fetch_add(1, std::memory_order_relaxed);
  }
  if (!shared || !redis_) return std::nullopt;
  auto value = redis_->get(fmt::format("{}{}", kL2Prefix, key));
  if (!value || !*value) {
    if (!value) spdlog::debug("cache: L2 read failed: {}", value.error().message);
    l2_stats_.misses.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  l2_stats_.hits.fetch_add(1, std::memory_order_relaxed);
  if (l1_) l1_->put(std::string(key), **value, options_.l2_ttl);
  return std::move(*value);
}

void Cache::put(std::string_view key, std::string value, std::chrono::milliseconds ttl, bool shared) {
  if (shared && redis_) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::min<std::chrono::milliseconds>(
        ttl, std::chrono::duration_cast<std::chrono::milliseconds>(options_.l2_ttl)));
    if (auto status = redis_->set(fmt::format("{}{}", kL2Prefix, key), value, seconds); !status)
      spdlog::debug("cache: L2 write failed: {}", status.error().message);
  }
  if (l1_) l1_->put(std::string(key), std::move(value), ttl);
}

void Cache::invalidate(std::string_view scope) {
  drop_local(scope);
  if (!redis_) return;
  if (auto status =
          redis_->publish(invalidation_channel(redis_->endpoint()), fmt::format("{} {}", node_id_, scope));
      !status) {
    // Other nodes keep their copy until it expires or their subscription reconnects (which clears
    // everything): say so, loudly, since it is a window of stale reads.
    spdlog::warn("cache: could not tell other nodes to drop {}: {}", scope, status.error().message);
  }
}

void Cache::on_invalidate(std::function<void(std::string_view)> listener) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.push_back(std::move(listener));
}

void Cache::drop_local(std::string_view scope) {
  if (l1_) {
    if (scope == "*") {
      l1_->clear();
    } else {
      l1_->erase_scope(scope);
    }
  }
  std::vector<std::function<void(std::string_view)>> listeners;
  {
    std::lock_guard lock(listeners_mutex_);
    listeners = listeners_;
  }
  for (const auto& listener : listeners) listener(scope);
}

// ---- semantic answers ----

namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double dot = 0, norm_a = 0, norm_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    norm_a += static_cast<double>(a[i]) * a[i];
    norm_b += static_cast<double>(b[i]) * b[i];
  }
  if (norm_a <= 0 || norm_b <= 0) return 0;
  return dot / std::sqrt(norm_a * norm_b);
}

}  // namespace

SemanticCache::SemanticCache(double threshold, size_t max_entries_per_scope)
    : threshold_(threshold), max_entries_(std::max<size_t>(1, max_entries_per_scope)) {}

std::optional<SemanticCache::Hit> SemanticCache::find(const std::string& scope,
                                                      const std::vector<float>& question) const {
  std::lock_guard lock(mutex_);
  auto found = scopes_.find(scope);
  std::optional<Hit> best;
  if (found != scopes_.end()) {
    for (const auto& entry : found->second) {
      const double similarity = cosine(entry.question, question);
      if (similarity >= threshold_ && (!best || similarity > best->similarity))
        best = Hit{entry.answer_json, similarity};
    }
  }
  (best ? stats_.hits : stats_.misses).fetch_add(1, std::memory_order_relaxed);
  return best;
}

void SemanticCache::put(const std::string& scope, std::vector<float> question, std::string answer_json) {
  std::lock_guard lock(mutex_);
  auto& entries = scopes_[scope];
  if (entries.size() >= max_entries_) entries.erase(entries.begin());
  entries.push_back({std::move(question), std::move(answer_json)});
}

void SemanticCache::clear() {
  std::lock_guard lock(mutex_);
  scopes_.clear();
}

}  // namespace brandcoach::cache
