#include <pqxx/pqxx>

#include "brandcoach/store/postgres/connection.hpp"
#include "brandcoach/store/postgres/knowledge.hpp"
#include "brandcoach/store/postgres/memory_tables.hpp"
#include "brandcoach/store/postgres/migrations.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::store {

namespace {

using postgres::Pool;
namespace memory = postgres::memory;
namespace knowledge = postgres::knowledge;

// The Store on PostgreSQL: every call borrows a pooled connection and runs one transaction on it
// (the query functions live beside this file); Pool::run is where database exceptions end.
class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::unique_ptr<Pool> pool) : pool_(std::move(pool)) {}

  Result<int> schema_version() override {
    return pool_->run("schema version", [](pqxx::connection& db) -> Result<int> {
      pqxx::read_transaction tx(db);
      return tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int>();
    });
  }

  Status ping() override {
    return pool_->run("ping", [](pqxx::connection& db) -> Status {
      pqxx::nontransaction tx(db);
      tx.exec1("SELECT 1");
      return ok();
    });
  }

  Result<Counts> counts() override {
    return pool_->run("counts", [&](pqxx::connection& db) { return knowledge::counts(db); });
  }

  Result<User> ensure_user(std::string_view external_id) override {
    return pool_->run("ensure user",
                      [&](pqxx::connection& db) { return memory::ensure_user(db, external_id); });
  }

  Status set_display_name(int64_t user_id, std::string_view display_name) override {
    return pool_->run("set display name", [&](pqxx::connection& db) {
      return memory::set_display_name(db, user_id, display_name);
    });
  }

  Result<std::vector<UserSummary>> list_users(std::string_view after_user, int limit) override {
    return pool_->run("list users",
                      [&](pqxx::connection& db) { return memory::list_users(db, after_user, limit); });
  }

  Result<std::vector<ReplyRecord>> replies_since(int64_t from_ms) override {
    return pool_->run("replies since",
                      [&](pqxx::connection& db) { return memory::replies_since(db, from_ms); });
  }

  Result<std::vector<UsageTotal>> usage_totals(std::string_view from_day, std::string_view to_day) override {
    return pool_->run("usage totals",
                      [&](pqxx::connection& db) { return memory::usage_totals(db, from_day, to_day); });
  }

  Result<ApiKey> create_api_key(std::string_view user, std::string_view name, std::string_view role,
                                std::string_view secret_hash) override {
    return pool_->run("create api key", [&](pqxx::connection& db) {
      return knowledge::create_api_key(db, user, name, role, secret_hash);
    });
  }

  Result<std::optional<ApiKey>> find_api_key(std::string_view secret_hash) override {
    return pool_->run("find api key",
                      [&](pqxx::connection& db) { return knowledge::find_api_key(db, secret_hash); });
  }

  Result<std::vector<ApiKey>> list_api_keys(std::optional<std::string_view> user) override {
    return pool_->run("list api keys",
                      [&](pqxx::connection& db) { return knowledge::list_api_keys(db, user); });
  }

  Status revoke_api_key(int64_t id) override {
    return pool_->run("revoke api key",
                      [&](pqxx::connection& db) { return knowledge::revoke_api_key(db, id); });
  }

  Result<Message> append_message(Message message, const std::optional<UsageTally>& usage,
                                 bool queue_extraction) override {
    return pool_->run("append message", [&](pqxx::connection& db) {
      return memory::append_message(db, message, usage, queue_extraction);
    });
  }

  Result<std::optional<ExtractionJob>> claim_extraction_job(int64_t now_ms, int64_t lease_ms) override {
    return pool_->run("claim extraction job", [&](pqxx::connection& db) {
      return memory::claim_extraction_job(db, now_ms, lease_ms);
    });
  }

  Status finish_extraction_job(int64_t job_id) override {
    return pool_->run("finish extraction job",
                      [&](pqxx::connection& db) { return memory::finish_extraction_job(db, job_id); });
  }

  Status retry_extraction_job(int64_t job_id, int64_t not_before_ms, std::string_view error) override {
    return pool_->run("retry extraction job", [&](pqxx::connection& db) {
      return memory::retry_extraction_job(db, job_id, not_before_ms, error);
    });
  }

  Result<Activity> activity(const std::vector<int64_t>& since_ms) override {
    return pool_->run("activity", [&](pqxx::connection& db) { return memory::activity(db, since_ms); });
  }

  Result<int64_t> pending_extraction_jobs() override {
    return pool_->run("pending extraction jobs",
                      [&](pqxx::connection& db) { return memory::pending_extraction_jobs(db); });
  }

  Result<std::vector<Message>> append_messages(std::vector<Message> messages,
                                               bool queue_extraction) override {
    return pool_->run("append messages", [&](pqxx::connection& db) {
      return memory::append_messages(db, messages, queue_extraction);
    });
  }

  Result<std::vector<Message>> recent_messages(int64_t user_id, int limit, ThreadRead read) override {
    return pool_->run("recent messages", [&](pqxx::connection& db) {
      return memory::recent_messages(db, user_id, limit, read);
    });
  }

  Result<int64_t> last_seq(int64_t user_id) override {
    return pool_->run("last seq", [&](pqxx::connection& db) { return memory::last_seq(db, user_id); });
  }

  Result<int64_t> message_count(int64_t user_id) override {
    return pool_->run("message count",
                      [&](pqxx::connection& db) { return memory::message_count(db, user_id); });
  }

  Result<std::vector<Message>> messages_between(int64_t user_id, int64_t after_seq, int64_t upto_seq,
                                                int64_t limit, ThreadRead read) override {
    return pool_->run("messages between", [&](pqxx::connection& db) {
      return memory::messages_between(db, user_id, after_seq, upto_seq, limit, read);
    });
  }

  Result<std::vector<Message>> messages_by_id(int64_t user_id, const std::vector<int64_t>& ids) override {
    return pool_->run("messages by id",
                      [&](pqxx::connection& db) { return memory::messages_by_id(db, user_id, ids); });
  }

  Result<std::optional<Message>> find_imported_message(int64_t user_id,
                                                       std::string_view external_id) override {
    return pool_->run("find imported message", [&](pqxx::connection& db) {
      return memory::find_imported_message(db, user_id, external_id);
    });
  }

  Result<std::vector<MessageHit>> search_messages(int64_t user_id, std::string_view query,
                                                  int limit) override {
    return pool_->run("search messages", [&](pqxx::connection& db) {
      return memory::search_messages(db, user_id, query, limit);
    });
  }

  Status request_new_session(int64_t user_id) override {
    return pool_->run("request new session",
                      [&](pqxx::connection& db) { return memory::request_new_session(db, user_id); });
  }

  Result<std::optional<User>> find_user(std::string_view external_id) override {
    return pool_->run("find user", [&](pqxx::connection& db) { return memory::find_user(db, external_id); });
  }

  Result<std::vector<Fact>> list_facts(int64_t user_id, bool all) override {
    return pool_->run("list facts",
                      [&](pqxx::connection& db) { return memory::list_facts(db, user_id, all); });
  }

  Result<std::vector<Fact>> facts_for_keys(int64_t user_id, const std::vector<std::string>& keys) override {
    return pool_->run("facts for keys",
                      [&](pqxx::connection& db) { return memory::facts_for_keys(db, user_id, keys); });
  }

  Result<std::optional<Fact>> find_fact(int64_t user_id, int64_t fact_id) override {
    return pool_->run("find fact",
                      [&](pqxx::connection& db) { return memory::find_fact(db, user_id, fact_id); });
  }

  Result<std::vector<Fact>> write_facts(int64_t user_id, const std::vector<FactWrite>& writes) override {
    return pool_->run("write facts",
                      [&](pqxx::connection& db) { return memory::write_facts(db, user_id, writes); });
  }

  Result<std::vector<AuditEntry>> audit_log(int64_t user_id) override {
    return pool_->run("audit log", [&](pqxx::connection& db) { return memory::audit_log(db, user_id); });
  }

  Result<std::vector<AuditEntry>> audit_entries(int64_t after_id, int limit) override {
    return pool_->run("audit entries",
                      [&](pqxx::connection& db) { return memory::audit_entries(db, after_id, limit); });
  }
  Status append_audit(const AuditEntry& entry) override {
    return pool_->run("append audit", [&](pqxx::connection& db) { return memory::append_audit(db, entry); });
  }

  Result<std::optional<Summary>> summary(int64_t user_id) override {
    return pool_->run("summary", [&](pqxx::connection& db) { return memory::summary(db, user_id); });
  }

  Status put_summary(const Summary& summary) override {
    return pool_->run("put summary", [&](pqxx::connection& db) { return memory::put_summary(db, summary); });
  }

  Result<std::vector<UsageRow>> usage(int64_t user_id) override {
    return pool_->run("usage", [&](pqxx::connection& db) { return memory::usage(db, user_id); });
  }

  Status erase_user(int64_t user_id, std::string_view actor) override {
    return pool_->run("erase user",
                      [&](pqxx::connection& db) { return memory::erase_user(db, user_id, actor); });
  }

  Result<int64_t> ensure_knowledge_store(std::string_view name) override {
    return pool_->run("ensure knowledge store",
                      [&](pqxx::connection& db) { return knowledge::ensure_store(db, name); });
  }

  Result<std::optional<KnowledgeStore>> find_knowledge_store(std::string_view name) override {
    return pool_->run("find knowledge store",
                      [&](pqxx::connection& db) { return knowledge::find_store(db, name); });
  }

  Result<std::vector<KnowledgeStore>> list_knowledge_stores() override {
    return pool_->run("list knowledge stores",
                      [&](pqxx::connection& db) { return knowledge::list_stores(db); });
  }

  Status configure_knowledge_store(int64_t store_id, std::string_view embedder,
                                   std::string_view chunking_json) override {
    return pool_->run("configure knowledge store", [&](pqxx::connection& db) {
      return knowledge::configure_store(db, store_id, embedder, chunking_json);
    });
  }

  Status delete_knowledge_store(int64_t store_id) override {
    return pool_->run("delete knowledge store",
                      [&](pqxx::connection& db) { return knowledge::delete_store(db, store_id); });
  }

  Result<KnowledgeStore> create_user_store(int64_t owner_user_id, std::string_view name,
                                           std::string_view metadata_json, std::string_view embedder,
                                           std::string_view chunking_json) override {
    return pool_->run("create user store", [&](pqxx::connection& db) {
      return knowledge::create_user_store(db, owner_user_id, name, metadata_json, embedder, chunking_json);
    });
  }

  Result<std::vector<KnowledgeStore>> list_user_stores(int64_t owner_user_id) override {
    return pool_->run("list user stores",
                      [&](pqxx::connection& db) { return knowledge::list_user_stores(db, owner_user_id); });
  }

  Status set_store_metadata(int64_t store_id, std::string_view metadata_json) override {
    return pool_->run("set store metadata", [&](pqxx::connection& db) {
      return knowledge::set_store_metadata(db, store_id, metadata_json);
    });
  }

  Result<Upload> create_upload(Upload upload) override {
    return pool_->run("create upload",
                      [&](pqxx::connection& db) { return knowledge::create_upload(db, upload); });
  }

  Result<std::vector<Upload>> list_uploads(int64_t user_id) override {
    return pool_->run("list uploads",
                      [&](pqxx::connection& db) { return knowledge::list_uploads(db, user_id); });
  }

  Result<std::optional<Upload>> find_upload(int64_t user_id, std::string_view id,
                                            bool with_content) override {
    return pool_->run("find upload", [&](pqxx::connection& db) {
      return knowledge::find_upload(db, user_id, id, with_content);
    });
  }

  Status delete_upload(int64_t user_id, std::string_view id) override {
    return pool_->run("delete upload",
                      [&](pqxx::connection& db) { return knowledge::delete_upload(db, user_id, id); });
  }

  Status put_response(const StoredResponse& response) override {
    return pool_->run("put response",
                      [&](pqxx::connection& db) { return knowledge::put_response(db, response); });
  }

  Result<std::optional<StoredResponse>> find_response(int64_t user_id, std::string_view id) override {
    return pool_->run("find response",
                      [&](pqxx::connection& db) { return knowledge::find_response(db, user_id, id); });
  }

  Status delete_response(int64_t user_id, std::string_view id) override {
    return pool_->run("delete response",
                      [&](pqxx::connection& db) { return knowledge::delete_response(db, user_id, id); });
  }

  Result<std::vector<StoredFile>> list_files(int64_t store_id) override {
    return pool_->run("list files",
                      [&](pqxx::connection& db) { return knowledge::list_files(db, store_id); });
  }

  Result<std::vector<PutResult>> put_files(int64_t store_id, const std::vector<FileWrite>& files) override {
    return pool_->run("put files",
                      [&](pqxx::connection& db) { return knowledge::put_files(db, store_id, files); });
  }

  Result<std::vector<int64_t>> delete_file(int64_t file_id) override {
    return pool_->run("delete file",
                      [&](pqxx::connection& db) { return knowledge::delete_file(db, file_id); });
  }

  Status for_each_vector(
      int64_t store_id,
      const std::function<void(int64_t chunk_id, const float* data, size_t dim)>& visit) override {
    return pool_->run("for each vector",
                      [&](pqxx::connection& db) { return knowledge::for_each_vector(db, store_id, visit); });
  }

  Status for_each_chunk_terms(int64_t store_id,
                              const std::function<void(int64_t chunk_id, std::string_view heading_terms,
                                                       std::string_view terms)>& visit) override {
    return pool_->run("for each chunk terms", [&](pqxx::connection& db) {
      return knowledge::for_each_chunk_terms(db, store_id, visit);
    });
  }

  Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(int64_t store_id) override {
    return pool_->run("chunk texts",
                      [&](pqxx::connection& db) { return knowledge::chunk_texts(db, store_id); });
  }

  Status update_vectors(int64_t store_id,
                        const std::vector<std::pair<int64_t, std::vector<float>>>& vectors) override {
    return pool_->run("update vectors",
                      [&](pqxx::connection& db) { return knowledge::update_vectors(db, store_id, vectors); });
  }

  Result<std::vector<ChunkRecord>> file_chunks(int64_t file_id, int limit) override {
    return pool_->run("file chunks",
                      [&](pqxx::connection& db) { return knowledge::file_chunks(db, file_id, limit); });
  }

  Result<std::vector<ChunkRecord>> chunks_by_id(const std::vector<int64_t>& ids) override {
    return pool_->run("chunks by id", [&](pqxx::connection& db) { return knowledge::chunks_by_id(db, ids); });
  }

  Result<std::vector<ChunkHit>> search_chunks(const std::vector<std::string>& store_names,
                                              std::string_view query, int limit) override {
    return pool_->run("search chunks",
                      [&](pqxx::connection& db) { return knowledge::search(db, store_names, query, limit); });
  }

 private:
  std::unique_ptr<Pool> pool_;
};

}  // namespace

bool is_postgres_url(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://");
}

int latest_postgres_schema_version() {
  return postgres::latest_version();
}

Result<std::unique_ptr<Store>> open_postgres(const PostgresOptions& options) {
  if (!is_postgres_url(options.url)) {
    return Error::config("a PostgreSQL URL starts with postgresql:// or postgres://", "storage.url");
  }
  auto pool = Pool::open(options.url, options.connections);
  if (!pool) return pool.error();
  auto migrated =
      (*pool)->run("migrate the schema", [](pqxx::connection& db) { return postgres::migrate(db); });
  if (!migrated) return migrated.error();
  return std::unique_ptr<Store>(std::make_unique<PostgresStore>(std::move(pool).value()));
}

}  // namespace brandcoach::store
