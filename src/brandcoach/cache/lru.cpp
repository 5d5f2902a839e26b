#include "brandcoach/cache/cache.hpp"

namespace brandcoach::cache {

namespace {

// What an entry costs beyond its key and value: the list node, the map slot and the strings'
// own headers. An estimate, but a fixed one, so the budget holds for many small entries too.
constexpr size_t kEntryOverhead = 128;

size_t cost(std::string_view key, std::string_view value) {
  return key.size() + value.size() + kEntryOverhead;
}

}  // namespace

void LruCache::remove_locked(std::list<Entry>::iterator entry) {
  bytes_ -= cost(entry->key, entry->value);
  const std::string_view key(entry->key);
  if (auto scope = scopes_.find(scope_of(key)); scope != scopes_.end()) {
    scope->second.erase(key);
    if (scope->second.empty()) scopes_.erase(scope);
  }
  index_.erase(key);
  order_.erase(entry);
}

LruCache::LruCache(size_t max_bytes) : max_bytes_(max_bytes) {}

std::optional<std::string> LruCache::get(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  auto entry = found->second;
  if (entry->expires <= std::chrono::steady_clock::now()) {
    remove_locked(entry);
    return std::nullopt;
  }
  order_.splice(order_.begin(), order_, entry);
  return entry->value;
}

void LruCache::put(std::string key, std::string value, std::chrono::milliseconds ttl) {
  const size_t size = cost(key, value);
  if (size > max_bytes_) return;  // would evict everything else and still not fit
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) remove_locked(found->second);
  order_.push_front(Entry{std::move(key), std::move(value), std::chrono::steady_clock::now() + ttl});
  const std::string_view stored(order_.front().key);
  index_.emplace(stored, order_.begin());
  scopes_[scope_of(stored)].insert(stored);
  bytes_ += size;
  evict_locked();
}

void LruCache::erase_scope(std::string_view scope) {
  std::lock_guard lock(mutex_);
  auto found = scopes_.find(std::string(scope));
  if (found == scopes_.end()) return;
  const std::vector<std::string_view> keys(found->second.begin(), found->second.end());
  for (const auto key : keys) remove_locked(index_.at(key));
}

void LruCache::clear() {
  std::lock_guard lock(mutex_);
  index_.clear();
  scopes_.clear();
  order_.clear();
  bytes_ = 0;
}

size_t LruCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t LruCache::size() const {
  std::lock_guard lock(mutex_);
  return order_.size();
}

void LruCache::evict_locked() {
  while (bytes_ > max_bytes_ && !order_.empty()) {
    remove_locked(std::prev(order_.end()));
  }
}

}  // namespace brandcoach::cache
