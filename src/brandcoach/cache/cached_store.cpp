#include <list>
#include <mutex>
#include <unordered_map>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "brandcoach/cache/cache.hpp"

namespace brandcoach::cache {

namespace {

using namespace std::chrono_literals;
using namespace brandcoach::store;

// A user's profile changes only through this store (here or on another node, which tells us), so
// it may live long; store lookups may also change through a process without the cache (the `kb`
// command), so they live one second.
constexpr auto kProfileTtl = 10min;
constexpr auto kStoreLookupTtl = 1s;

std::string user_key(int64_t user_id, std::string_view what) {
  return fmt::format("user:{}:{}", user_id, what);
}

std::string user_scope(int64_t user_id) {
  return fmt::format("user:{}", user_id);
}

nlohmann::json fact_json(const Fact& f) {
  return {f.id,         f.user_id, f.key,           f.value,      f.category,    f.source_message_id,
          f.confidence, f.status,  f.supersedes_id, f.created_at, f.confirmed_at};
}

Fact fact_from(const nlohmann::json& j) {
  Fact f;
  f.id = j[0];
  f.user_id = j[1];
  f.key = j[2];
  f.value = j[3];
  f.category = j[4];
  f.source_message_id = j[5];
  f.confidence = j[6];
  f.status = j[7];
  f.supersedes_id = j[8];
  f.created_at = j[9];
  f.confirmed_at = j[10];
  return f;
}

nlohmann::json store_json(const KnowledgeStore& s) {
  return {s.id,     s.name,  s.embedder,   s.chunking_json, s.version,       s.files,
          s.chunks, s.bytes, s.created_at, s.kind,          s.owner_user_id, s.metadata_json};
}

KnowledgeStore store_from(const nlohmann::json& j) {
  KnowledgeStore s;
  s.id = j[0];
  s.name = j[1];
  s.embedder = j[2];
  s.chunking_json = j[3];
  s.version = j[4];
  s.files = j[5];
  s.chunks = j[6];
  s.bytes = j[7];
  s.created_at = j[8];
  s.kind = j[9];
  s.owner_user_id = j[10];
  s.metadata_json = j[11];
  return s;
}

// Cached values are written by this code only; one that does not parse is treated as a miss.
template <class Read>
auto parse_cached(const std::string& text, Read read) -> std::optional<decltype(read(nlohmann::json()))> {
  auto json = parse_json(text);
  if (json.is_discarded()) return std::nullopt;
  try {
    return read(json);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// The brief tails of recently active threads (what every turn reads first), bounded by bytes, least
// recently used out first. A tail is served only while the thread's newest message is still its
// newest (Store::last_seq, one index lookup), so a message written anywhere else (another node, an
// import, another process) is never missed; this process's own appends extend it in place.
class ThreadTails {
 public:
  explicit ThreadTails(size_t max_bytes) : max_bytes_(max_bytes) {}

  /// The tail of `limit` messages of the user's thread when one is kept and ends at `last_seq`.
  std::optional<std::vector<Message>> find(int64_t user_id, int limit, int64_t last_seq) {
    std::lock_guard lock(mutex_);
    auto found = index_.find(user_id);
    if (found == index_.end()) return std::nullopt;
    const Tail& tail = *found->second;
    if (tail.limit != limit || ends_at(tail) != last_seq) return std::nullopt;
    order_.splice(order_.begin(), order_, found->second);
    return tail.messages;
  }

  void put(int64_t user_id, int limit, std::vector<Message> messages) {
    std::lock_guard lock(mutex_);
    remove_locked(user_id);
    order_.push_front({user_id, limit, std::move(messages), 0});
    index_[user_id] = order_.begin();
    resize_locked(order_.front());
  }

  /// A message just appended: the kept tail grows by it when it follows the tail's last message,
  /// else the tail is dropped (another writer came between).
  void appended(const Message& message) {
    std::lock_guard lock(mutex_);
    auto found = index_.find(message.user_id);
    if (found == index_.end()) return;
    Tail& tail = *found->second;
    if (message.seq != ends_at(tail) + 1) {
      remove_locked(message.user_id);
      return;
    }
    Message brief = message;
    brief.route_json = "{}";
    brief.citations_json = "[]";
    tail.messages.push_back(std::move(brief));
    if (tail.messages.size() > static_cast<size_t>(std::max(tail.limit, 0)))
      tail.messages.erase(tail.messages.begin());
    resize_locked(tail);
  }

  void forget(int64_t user_id) {
    std::lock_guard lock(mutex_);
    remove_locked(user_id);
  }

 private:
  struct Tail {
    int64_t user_id = 0;
    int limit = 0;
    std::vector<Message> messages;
    size_t bytes = 0;
  };

  // The seq of the tail's newest message (0: an empty thread).
  static int64_t ends_at(const Tail& tail) { return tail.messages.empty() ? 0 : tail.messages.back().seq; }
  static size_t bytes_of(const Tail& tail) {
    size_t bytes = sizeof(Tail);
    for (const auto& m : tail.messages)
      bytes += sizeof(Message) + m.text.size() + m.usage_json.size() + m.role.size() + m.assistant.size() +
               m.external_id.size() + m.speaker.size() + m.ts_text.size();
    return bytes;
  }
  void resize_locked(Tail& tail) {
    bytes_ -= tail.bytes;
    tail.bytes = bytes_of(tail);
    bytes_ += tail.bytes;
    while (bytes_ > max_bytes_ && !order_.empty()) remove_locked(order_.back().user_id);
  }
  void remove_locked(int64_t user_id) {
    auto found = index_.find(user_id);
    if (found == index_.end()) return;
    bytes_ -= found->second->bytes;
    order_.erase(found->second);
    index_.erase(found);
  }

  const size_t max_bytes_;
  std::mutex mutex_;
  std::list<Tail> order_;  // most recently used first
  std::unordered_map<int64_t, std::list<Tail>::iterator> index_;
  size_t bytes_ = 0;
};

// Enough for the tails of about a thousand active users (replies of about two kilobytes).
constexpr size_t kThreadTailBytes = size_t{96} << 20;

class CachedStore final : public store::Store {
 public:
  CachedStore(std::unique_ptr<store::Store> inner, std::shared_ptr<Cache> cache)
      : inner_(std::move(inner)), owned_cache_(std::move(cache)), cache_(*owned_cache_) {}

  // ---- cached reads ----

  Result<std::vector<Fact>> list_facts(int64_t user_id, bool all) override {
    // Every version (`all`) is read for history views only: not worth a cache entry.
    // Without Redis a process that writes facts beside this one (the `memory` command) could not
    // tell us, so profiles are cached only where every writer reaches every node's cache.
    if (all || !cache_.distributed()) return inner_->list_facts(user_id, all);
    const std::string key = user_key(user_id, "facts");
    if (auto cached = cache_.get(key, false)) {
      if (auto facts = parse_cached(*cached, [](const nlohmann::json& j) {
            std::vector<Fact> out;
            for (const auto& f : j) out.push_back(fact_from(f));
            return out;
          }))
        return std::move(*facts);
    }
    auto facts = inner_->list_facts(user_id, all);
    if (!facts) return facts;
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& f : *facts) rows.push_back(fact_json(f));
    cache_.put(key, rows.dump(), kProfileTtl, false);
    return facts;
  }

  Result<std::optional<Summary>> summary(int64_t user_id) override {
    if (!cache_.distributed()) return inner_->summary(user_id);
    const std::string key = user_key(user_id, "summary");
    if (auto cached = cache_.get(key, false)) {
      if (auto value = parse_cached(*cached, [](const nlohmann::json& j) {
            if (j.is_null()) return std::optional<Summary>{};
            return std::optional<Summary>(Summary{j[0], j[1], j[2]});
          }))
        return std::move(*value);
    }
    auto value = inner_->summary(user_id);
    if (!value) return value;
    const nlohmann::json row = *value ? nlohmann::json{(*value)->user_id, (*value)->upto_seq, (*value)->text}
                                      : nlohmann::json(nullptr);
    cache_.put(key, row.dump(), kProfileTtl, false);
    return value;
  }

  Result<std::optional<KnowledgeStore>> find_knowledge_store(std::string_view name) override {
    const std::string key = fmt::format("kb:{}", name);
    if (auto cached = cache_.get(key, false)) {
      if (auto value = parse_cached(*cached, [](const nlohmann::json& j) {
            if (j.is_null()) return std::optional<KnowledgeStore>{};
            return std::optional<KnowledgeStore>(store_from(j));
          }))
        return std::move(*value);
    }
    auto value = inner_->find_knowledge_store(name);
    if (!value) return value;
    cache_.put(key, (*value ? store_json(**value) : nlohmann::json(nullptr)).dump(), kStoreLookupTtl, false);
    return value;
  }

  // ---- writes that change what is cached: invalidated here and on every other node ----

  Result<std::vector<Fact>> write_facts(int64_t user_id,
                                        const std::vector<store::FactWrite>& writes) override {
    return invalidating_user(user_id, inner_->write_facts(user_id, writes));
  }
  Status put_summary(const Summary& summary) override {
    return invalidating_user(summary.user_id, inner_->put_summary(summary));
  }
  Status erase_user(int64_t user_id, std::string_view actor) override {
    tails_.forget(user_id);
    // Their stores go too.
    cache_.invalidate("kb");
    return invalidating_user(user_id, inner_->erase_user(user_id, actor));
  }
  // Not invalidating: every node ensures its stores at start, and a new store is seen by a node
  // that looked it up as missing within the lookup's one-second lifetime.
  Result<int64_t> ensure_knowledge_store(std::string_view name) override {
    return inner_->ensure_knowledge_store(name);
  }
  Status configure_knowledge_store(int64_t store_id, std::string_view embedder,
                                   std::string_view chunking_json) override {
    return invalidating_stores(inner_->configure_knowledge_store(store_id, embedder, chunking_json));
  }
  Status delete_knowledge_store(int64_t store_id) override {
    return invalidating_stores(inner_->delete_knowledge_store(store_id));
  }
  Result<store::KnowledgeStore> create_user_store(int64_t owner_user_id, std::string_view name,
                                                  std::string_view metadata_json, std::string_view embedder,
                                                  std::string_view chunking_json) override {
    return invalidating_stores(
        inner_->create_user_store(owner_user_id, name, metadata_json, embedder, chunking_json));
  }
  Status set_store_metadata(int64_t store_id, std::string_view metadata_json) override {
    return invalidating_stores(inner_->set_store_metadata(store_id, metadata_json));
  }
  Result<std::vector<store::PutResult>> put_files(int64_t store_id,
                                                  const std::vector<store::FileWrite>& files) override {
    return invalidating_stores(inner_->put_files(store_id, files));
  }
  Result<std::vector<int64_t>> delete_file(int64_t file_id) override {
    return invalidating_stores(inner_->delete_file(file_id));
  }
  Status update_vectors(int64_t store_id,
                        const std::vector<std::pair<int64_t, std::vector<float>>>& vectors) override {
    return invalidating_stores(inner_->update_vectors(store_id, vectors));
  }

  // ---- everything else passes through ----

  Result<int> schema_version() override { return inner_->schema_version(); }
  Status ping() override { return inner_->ping(); }
  Result<Counts> counts() override { return inner_->counts(); }
  Result<User> ensure_user(std::string_view external_id) override { return inner_->ensure_user(external_id); }
  Status set_display_name(int64_t user_id, std::string_view display_name) override {
    return inner_->set_display_name(user_id, display_name);
  }
  Result<std::vector<UserSummary>> list_users(std::string_view after_user, int limit) override {
    return inner_->list_users(after_user, limit);
  }
  Result<std::vector<ReplyRecord>> replies_since(int64_t from_ms) override {
    return inner_->replies_since(from_ms);
  }
  Result<std::vector<UsageTotal>> usage_totals(std::string_view from_day, std::string_view to_day) override {
    return inner_->usage_totals(from_day, to_day);
  }
  Result<ApiKey> create_api_key(std::string_view user, std::string_view name, std::string_view role,
                                std::string_view secret_hash) override {
    return inner_->create_api_key(user, name, role, secret_hash);
  }
  Result<std::optional<ApiKey>> find_api_key(std::string_view secret_hash) override {
    return inner_->find_api_key(secret_hash);
  }
  Result<std::vector<ApiKey>> list_api_keys(std::optional<std::string_view> user) override {
    return inner_->list_api_keys(user);
  }
  Status revoke_api_key(int64_t id) override { return inner_->revoke_api_key(id); }
  Result<Message> append_message(Message message, const std::optional<UsageTally>& usage,
                                 bool queue_extraction) override {
    const int64_t user_id = message.user_id;
    auto stored = inner_->append_message(std::move(message), usage, queue_extraction);
    if (stored) {
      tails_.appended(*stored);
    } else {
      tails_.forget(user_id);  // it may have been written all the same
    }
    return stored;
  }
  Result<std::optional<ExtractionJob>> claim_extraction_job(int64_t now_ms, int64_t lease_ms) override {
    return inner_->claim_extraction_job(now_ms, lease_ms);
  }
  Status finish_extraction_job(int64_t job_id) override { return inner_->finish_extraction_job(job_id); }
  Status retry_extraction_job(int64_t job_id, int64_t not_before_ms, std::string_view error) override {
    return inner_->retry_extraction_job(job_id, not_before_ms, error);
  }
  Result<int64_t> pending_extraction_jobs() override { return inner_->pending_extraction_jobs(); }
  Result<Activity> activity(const std::vector<int64_t>& since_ms) override {
    return inner_->activity(since_ms);
  }
  Result<std::vector<Message>> append_messages(std::vector<Message> messages,
                                               bool queue_extraction) override {
    for (const auto& m : messages) tails_.forget(m.user_id);
    return inner_->append_messages(std::move(messages), queue_extraction);
  }
  Result<std::vector<Message>> recent_messages(int64_t user_id, int limit, ThreadRead read) override {
    // Only the turn's own read (brief, both sides) is kept.
    if (read.users_only || !read.brief || limit <= 0) return inner_->recent_messages(user_id, limit, read);
    auto last = inner_->last_seq(user_id);
    if (!last) return last.error();
    if (auto kept = tails_.find(user_id, limit, *last)) return std::move(*kept);
    auto tail = inner_->recent_messages(user_id, limit, read);
    if (tail) tails_.put(user_id, limit, *tail);
    return tail;
  }
  Result<int64_t> message_count(int64_t user_id) override { return inner_->message_count(user_id); }
  Result<int64_t> last_seq(int64_t user_id) override { return inner_->last_seq(user_id); }
  Result<std::vector<Message>> messages_between(int64_t user_id, int64_t after_seq, int64_t upto_seq,
                                                int64_t limit, ThreadRead read) override {
    return inner_->messages_between(user_id, after_seq, upto_seq, limit, read);
  }
  Result<std::vector<Message>> messages_by_id(int64_t user_id, const std::vector<int64_t>& ids) override {
    return inner_->messages_by_id(user_id, ids);
  }
  Result<std::optional<Message>> find_imported_message(int64_t user_id,
                                                       std::string_view external_id) override {
    return inner_->find_imported_message(user_id, external_id);
  }
  Result<std::vector<MessageHit>> search_messages(int64_t user_id, std::string_view query,
                                                  int limit) override {
    return inner_->search_messages(user_id, query, limit);
  }
  Status request_new_session(int64_t user_id) override { return inner_->request_new_session(user_id); }
  Result<std::optional<User>> find_user(std::string_view external_id) override {
    return inner_->find_user(external_id);
  }
  Result<std::vector<Fact>> facts_for_keys(int64_t user_id, const std::vector<std::string>& keys) override {
    return inner_->facts_for_keys(user_id, keys);
  }
  Result<std::optional<Fact>> find_fact(int64_t user_id, int64_t fact_id) override {
    return inner_->find_fact(user_id, fact_id);
  }
  Result<std::vector<AuditEntry>> audit_log(int64_t user_id) override { return inner_->audit_log(user_id); }
  Status append_audit(const AuditEntry& entry) override { return inner_->append_audit(entry); }
  Result<std::vector<AuditEntry>> audit_entries(int64_t after_id, int limit) override {
    return inner_->audit_entries(after_id, limit);
  }
  Result<std::vector<UsageRow>> usage(int64_t user_id) override { return inner_->usage(user_id); }
  Result<std::vector<KnowledgeStore>> list_knowledge_stores() override {
    return inner_->list_knowledge_stores();
  }
  Result<std::vector<KnowledgeStore>> list_user_stores(int64_t owner_user_id) override {
    return inner_->list_user_stores(owner_user_id);
  }
  Result<Upload> create_upload(Upload upload) override { return inner_->create_upload(std::move(upload)); }
  Result<std::vector<Upload>> list_uploads(int64_t user_id) override { return inner_->list_uploads(user_id); }
  Result<std::optional<Upload>> find_upload(int64_t user_id, std::string_view id,
                                            bool with_content) override {
    return inner_->find_upload(user_id, id, with_content);
  }
  Status delete_upload(int64_t user_id, std::string_view id) override {
    return inner_->delete_upload(user_id, id);
  }
  Status put_response(const StoredResponse& response) override { return inner_->put_response(response); }
  Result<std::optional<StoredResponse>> find_response(int64_t user_id, std::string_view id) override {
    return inner_->find_response(user_id, id);
  }
  Status delete_response(int64_t user_id, std::string_view id) override {
    return inner_->delete_response(user_id, id);
  }
  Result<std::vector<StoredFile>> list_files(int64_t store_id) override {
    return inner_->list_files(store_id);
  }
  Status for_each_vector(
      int64_t store_id,
      const std::function<void(int64_t chunk_id, const float* data, size_t dim)>& visit) override {
    return inner_->for_each_vector(store_id, visit);
  }
  Status for_each_chunk_terms(int64_t store_id,
                              const std::function<void(int64_t chunk_id, std::string_view heading_terms,
                                                       std::string_view terms)>& visit) override {
    return inner_->for_each_chunk_terms(store_id, visit);
  }
  Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(int64_t store_id) override {
    return inner_->chunk_texts(store_id);
  }
  Result<std::vector<ChunkRecord>> file_chunks(int64_t file_id, int limit) override {
    return inner_->file_chunks(file_id, limit);
  }
  Result<std::vector<ChunkRecord>> chunks_by_id(const std::vector<int64_t>& ids) override {
    return inner_->chunks_by_id(ids);
  }
  Result<std::vector<ChunkHit>> search_chunks(const std::vector<std::string>& store_names,
                                              std::string_view query, int limit) override {
    return inner_->search_chunks(store_names, query, limit);
  }

 private:
  // Invalidated whatever the outcome: a failed write may still have changed something (a commit
  // whose acknowledgement was lost), and a needless miss costs one query.
  template <class T>
  T invalidating_user(int64_t user_id, T result) {
    cache_.invalidate(user_scope(user_id));
    return result;
  }
  template <class T>
  T invalidating_stores(T result) {
    cache_.invalidate("kb");
    return result;
  }

  std::unique_ptr<store::Store> inner_;
  std::shared_ptr<Cache> owned_cache_;
  Cache& cache_;
  ThreadTails tails_{kThreadTailBytes};
};

}  // namespace

std::unique_ptr<store::Store> make_cached_store(std::unique_ptr<store::Store> inner, Cache& cache) {
  return std::make_unique<CachedStore>(std::move(inner), std::shared_ptr<Cache>(&cache, [](Cache*) {}));
}

std::unique_ptr<store::Store> make_cached_store(std::unique_ptr<store::Store> inner,
                                                std::unique_ptr<Cache> cache) {
  return std::make_unique<CachedStore>(std::move(inner), std::shared_ptr<Cache>(std::move(cache)));
}

}  // namespace brandcoach::cache
