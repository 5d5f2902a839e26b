#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/store/sqlite/api_tables.hpp"
#include "brandcoach/store/sqlite/connection.hpp"
#include "brandcoach/store/sqlite/encrypted_vfs.hpp"
#include "brandcoach/store/sqlite/knowledge.hpp"
#include "brandcoach/store/sqlite/memory_tables.hpp"
#include "brandcoach/store/sqlite/migrations.hpp"
#include "brandcoach/store/store.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::store {

namespace {

using sqlite::Connection;
using sqlite::Pool;
using sqlite::Transaction;
namespace knowledge = sqlite::knowledge;
namespace thread = sqlite::memory;

class SqliteStore final : public Store {
 public:
  SqliteStore(std::unique_ptr<sqlite::EncryptedVfs> vfs, std::vector<std::unique_ptr<Connection>> connections)
      : vfs_(std::move(vfs)), pool_(std::move(connections)), commits_(pool_) {}

  Result<int> schema_version() override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!stmt) return stmt.error();
    if (auto row = (*stmt)->step(); !row) return row.error();
    return static_cast<int>((*stmt)->column_int(0));
  }

  Status ping() override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("SELECT 1");
    if (!stmt) return stmt.error();
    if (auto row = (*stmt)->step(); !row) return row.error();
    return ok();
  }

  Result<Counts> counts() override {
    auto db = pool_.acquire();
    auto stmt = db->prepare(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM "
        "stores), "
        "(SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM chunks)");
    if (!stmt) return stmt.error();
    if (auto row = (*stmt)->step(); !row) return row.error();
    auto& s = **stmt;
    return Counts{s.column_int(0), s.column_int(1), s.column_int(2), s.column_int(3), s.column_int(4)};
  }

  Result<Activity> activity(const std::vector<int64_t>& since_ms) override {
    auto db = pool_.acquire();
    return sqlite::api::activity(*db, since_ms);
  }

  Result<User> ensure_user(std::string_view external_id) override {
    auto db = pool_.acquire();
    if (auto user = find_user(*db, external_id); !user || user->id != 0) return user;
    auto insert = db->prepare(
        "INSERT INTO users (external_id, created_at) VALUES (?, ?) ON CONFLICT (external_id) DO NOTHING");
    if (!insert) return insert.error();
    if (auto status = (*insert)->bind(1, external_id).bind(2, unix_millis()).run(); !status)
      return status.error();
    return find_user(*db, external_id);
  }

  Status set_display_name(int64_t user_id, std::string_view display_name) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("UPDATE users SET display_name = ? WHERE id = ?");
    if (!stmt) return stmt.error();
    return (*stmt)->bind(1, display_name).bind(2, user_id).run();
  }

  Result<std::vector<UserSummary>> list_users(std::string_view after_user, int limit) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare(
        "SELECT u.external_id, u.display_name, u.created_at, "
        "(SELECT COUNT(*) FROM messages m WHERE m.user_id = u.id), "
        "(SELECT COALESCE(MAX(m.created_at), 0) FROM messages m WHERE m.user_id = u.id), "
        "(SELECT COUNT(*) FROM facts f WHERE f.user_id = u.id AND f.status = 'active'), "
        "(SELECT COALESCE(SUM(g.input_tokens + g.output_tokens), 0) FROM usage g WHERE g.user_id = u.id), "
        "(SELECT COALESCE(SUM(g.cost_usd), 0) FROM usage g WHERE g.user_id = u.id) "
        "FROM users u WHERE u.id > COALESCE((SELECT id FROM users WHERE external_id = ?), 0) "
        "ORDER BY u.id LIMIT ?");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, after_user).bind(2, int64_t{limit});
    return sqlite::collect(**stmt, [](sqlite::Statement& r) {
      return UserSummary{r.column_text(0), r.column_text(1), r.column_int(2), r.column_int(3),
                         r.column_int(4),  r.column_int(5),  r.column_int(6), r.column_double(7)};
    });
  }

  Result<std::vector<UsageTotal>> usage_totals(std::string_view from_day, std::string_view to_day) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare(
        "SELECT g.day, g.assistant, u.external_id, g.input_tokens, g.output_tokens, g.cost_usd FROM usage g "
        "JOIN users u ON u.id = g.user_id WHERE (? = '' OR g.day >= ?) AND (? = '' OR g.day <= ?) "
        "ORDER BY g.day, g.assistant, u.external_id");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, from_day).bind(2, from_day).bind(3, to_day).bind(4, to_day);
    return sqlite::collect(**stmt, [](sqlite::Statement& r) {
      return UsageTotal{r.column_text(0), r.column_text(1), r.column_text(2),
                        r.column_int(3),  r.column_int(4),  r.column_double(5)};
    });
  }

  Result<ApiKey> create_api_key(std::string_view user, std::string_view name, std::string_view role,
                                std::string_view secret_hash) override {
    auto owner = ensure_user(user);
    if (!owner) return owner.error();
    auto db = pool_.acquire();
    auto insert =
        db->prepare("INSERT INTO api_keys (user_id, name, hash, role, created_at) VALUES (?, ?, ?, ?, ?)");
    if (!insert) return insert.error();
    const int64_t now = unix_millis();
    if (auto status =
            (*insert)->bind(1, owner->id).bind(2, name).bind(3, secret_hash).bind(4, role).bind(5, now).run();
        !status)
      return status.error();
    return ApiKey{db->last_insert_id(), std::string(user), std::string(name), std::string(role), now, 0};
  }

  Result<std::optional<ApiKey>> find_api_key(std::string_view secret_hash) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare(std::string(kApiKeySelect) + " WHERE k.hash = ?");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, secret_hash);
    auto keys = sqlite::collect(**stmt, read_api_key);
    if (!keys) return keys.error();
    if (keys->empty()) return std::optional<ApiKey>{};
    return std::optional<ApiKey>{std::move(keys->front())};
  }

  Result<std::vector<ApiKey>> list_api_keys(std::optional<std::string_view> user) override {
    auto db = pool_.acquire();
    auto stmt =
        db->prepare(std::string(kApiKeySelect) + (user ? " WHERE u.external_id = ?" : "") + " ORDER BY k.id");
    if (!stmt) return stmt.error();
    if (user) (*stmt)->bind(1, *user);
    return sqlite::collect(**stmt, read_api_key);
  }

  Status revoke_api_key(int64_t id) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?");
    if (!stmt) return stmt.error();
    if (auto status = (*stmt)->bind(1, unix_millis()).bind(2, id).run(); !status) return status;
    if (db->changes() == 0) return Error::not_found(fmt::format("no API key {}", id));
    return ok();
  }

  // A chat turn's messages, the most frequent write, share commits with other turns' (GroupCommit).
  Result<Message> append_message(Message message, const std::optional<UsageTally>& usage,
                                 bool queue_extraction) override {
    const std::string terms = thread::message_terms(message);
    Message stored;
    auto status = commits_.run([&](Connection& db) -> Status {
      auto written = thread::write_message(db, message, terms, usage, queue_extraction);
      if (!written) return written.error();
      stored = std::move(written).value();
      return ok();
    });
    if (!status) return status.error();
    return stored;
  }
  Result<std::optional<ExtractionJob>> claim_extraction_job(int64_t now_ms, int64_t lease_ms) override {
    auto db = pool_.acquire();
    return thread::claim_extraction_job(*db, now_ms, lease_ms);
  }
  Status finish_extraction_job(int64_t job_id) override {
    auto db = pool_.acquire();
    return thread::finish_extraction_job(*db, job_id);
  }
  Status retry_extraction_job(int64_t job_id, int64_t not_before_ms, std::string_view error) override {
    auto db = pool_.acquire();
    return thread::retry_extraction_job(*db, job_id, not_before_ms, error);
  }
  Result<int64_t> pending_extraction_jobs() override {
    auto db = pool_.acquire();
    return thread::pending_extraction_jobs(*db);
  }

  Result<std::vector<Message>> append_messages(std::vector<Message> messages,
                                               bool queue_extraction) override {
    auto db = pool_.acquire();
    return thread::append_messages(*db, std::move(messages), queue_extraction);
  }

  Result<std::vector<Message>> recent_messages(int64_t user_id, int limit, ThreadRead read) override {
    auto db = pool_.acquire();
    auto stmt =
        db->prepare(fmt::format("SELECT {} FROM messages WHERE user_id = ?{} ORDER BY seq DESC LIMIT ?",
                                thread::message_columns("", read.brief), thread::thread_filter(read)));
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, user_id).bind(2, int64_t{limit});
    auto out = sqlite::collect(**stmt, thread::read_message);
    if (out) std::reverse(out->begin(), out->end());
    return out;
  }

  Result<std::vector<Message>> messages_between(int64_t user_id, int64_t after_seq, int64_t upto_seq,
                                                int64_t limit, ThreadRead read) override {
    auto db = pool_.acquire();
    return thread::messages_between(*db, user_id, after_seq, upto_seq, limit, read);
  }
  Result<std::vector<Message>> messages_by_id(int64_t user_id, const std::vector<int64_t>& ids) override {
    auto db = pool_.acquire();
    return thread::messages_by_id(*db, user_id, ids);
  }
  Result<std::optional<Message>> find_imported_message(int64_t user_id,
                                                       std::string_view external_id) override {
    auto db = pool_.acquire();
    return thread::find_imported_message(*db, user_id, external_id);
  }
  Result<std::vector<MessageHit>> search_messages(int64_t user_id, std::string_view query,
                                                  int limit) override {
    auto db = pool_.acquire();
    return thread::search_messages(*db, user_id, query, limit);
  }
  Status request_new_session(int64_t user_id) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("UPDATE users SET new_session_requested = 1 WHERE id = ?");
    if (!stmt) return stmt.error();
    return (*stmt)->bind(1, user_id).run();
  }
  Result<std::optional<User>> find_user(std::string_view external_id) override {
    auto db = pool_.acquire();
    auto user = find_user(*db, external_id);
    if (!user) return user.error();
    if (user->id == 0) return std::optional<User>{};
    return std::optional<User>{std::move(*user)};
  }
  Result<std::vector<Fact>> list_facts(int64_t user_id, bool all) override {
    auto db = pool_.acquire();
    return thread::list_facts(*db, user_id, all);
  }
  Result<std::vector<Fact>> facts_for_keys(int64_t user_id, const std::vector<std::string>& keys) override {
    auto db = pool_.acquire();
    return thread::facts_for_keys(*db, user_id, keys);
  }
  Result<std::optional<Fact>> find_fact(int64_t user_id, int64_t fact_id) override {
    auto db = pool_.acquire();
    return thread::find_fact(*db, user_id, fact_id);
  }
  Result<std::vector<Fact>> write_facts(int64_t user_id, const std::vector<FactWrite>& writes) override {
    auto db = pool_.acquire();
    return thread::write_facts(*db, user_id, writes);
  }
  Result<std::vector<AuditEntry>> audit_log(int64_t user_id) override {
    auto db = pool_.acquire();
    return thread::audit_log(*db, user_id);
  }
  Result<std::vector<AuditEntry>> audit_entries(int64_t after_id, int limit) override {
    auto db = pool_.acquire();
    return thread::audit_entries(*db, after_id, limit);
  }
  Status append_audit(const AuditEntry& entry) override {
    auto db = pool_.acquire();
    return thread::append_audit(*db, entry);
  }
  Result<std::optional<Summary>> summary(int64_t user_id) override {
    auto db = pool_.acquire();
    return thread::summary(*db, user_id);
  }
  Status put_summary(const Summary& summary) override {
    auto db = pool_.acquire();
    return thread::put_summary(*db, summary);
  }
  Result<std::vector<UsageRow>> usage(int64_t user_id) override {
    auto db = pool_.acquire();
    return thread::usage(*db, user_id);
  }
  Status erase_user(int64_t user_id, std::string_view actor) override {
    auto db = pool_.acquire();
    return thread::erase_user(*db, user_id, actor);
  }

  Result<int64_t> last_seq(int64_t user_id) override {
    return integer_of_user("SELECT COALESCE(MAX(seq), 0) FROM messages WHERE user_id = ?", user_id);
  }

  Result<int64_t> message_count(int64_t user_id) override {
    return integer_of_user("SELECT COUNT(*) FROM messages WHERE user_id = ?", user_id);
  }

  Result<int64_t> ensure_knowledge_store(std::string_view name) override {
    auto db = pool_.acquire();
    return knowledge::ensure_store(*db, name);
  }
  Result<std::optional<KnowledgeStore>> find_knowledge_store(std::string_view name) override {
    auto db = pool_.acquire();
    return knowledge::find_store(*db, name);
  }
  Result<std::vector<KnowledgeStore>> list_knowledge_stores() override {
    auto db = pool_.acquire();
    return knowledge::list_stores(*db);
  }
  Status configure_knowledge_store(int64_t store_id, std::string_view embedder,
                                   std::string_view chunking_json) override {
    auto db = pool_.acquire();
    return knowledge::configure_store(*db, store_id, embedder, chunking_json);
  }
  Status delete_knowledge_store(int64_t store_id) override {
    auto db = pool_.acquire();
    return knowledge::delete_store(*db, store_id);
  }
  Result<KnowledgeStore> create_user_store(int64_t owner_user_id, std::string_view name,
                                           std::string_view metadata_json, std::string_view embedder,
                                           std::string_view chunking_json) override {
    auto db = pool_.acquire();
    return knowledge::create_user_store(*db, owner_user_id, name, metadata_json, embedder, chunking_json);
  }
  Result<std::vector<KnowledgeStore>> list_user_stores(int64_t owner_user_id) override {
    auto db = pool_.acquire();
    return knowledge::list_user_stores(*db, owner_user_id);
  }
  Status set_store_metadata(int64_t store_id, std::string_view metadata_json) override {
    auto db = pool_.acquire();
    return knowledge::set_store_metadata(*db, store_id, metadata_json);
  }
  Result<Upload> create_upload(Upload upload) override {
    auto db = pool_.acquire();
    return sqlite::api::create_upload(*db, std::move(upload));
  }
  Result<std::vector<Upload>> list_uploads(int64_t user_id) override {
    auto db = pool_.acquire();
    return sqlite::api::list_uploads(*db, user_id);
  }
  Result<std::optional<Upload>> find_upload(int64_t user_id, std::string_view id,
                                            bool with_content) override {
    auto db = pool_.acquire();
    return sqlite::api::find_upload(*db, user_id, id, with_content);
  }
  Status delete_upload(int64_t user_id, std::string_view id) override {
    auto db = pool_.acquire();
    return sqlite::api::delete_upload(*db, user_id, id);
  }
  Result<std::vector<ReplyRecord>> replies_since(int64_t from_ms) override {
    auto db = pool_.acquire();
    return sqlite::api::replies_since(*db, from_ms);
  }
  Result<std::vector<ChunkRecord>> file_chunks(int64_t file_id, int limit) override {
    auto db = pool_.acquire();
    return knowledge::file_chunks(*db, file_id, limit);
  }
  Status put_response(const StoredResponse& response) override {
    auto db = pool_.acquire();
    return sqlite::api::put_response(*db, response);
  }
  Result<std::optional<StoredResponse>> find_response(int64_t user_id, std::string_view id) override {
    auto db = pool_.acquire();
    return sqlite::api::find_response(*db, user_id, id);
  }
  Status delete_response(int64_t user_id, std::string_view id) override {
    auto db = pool_.acquire();
    return sqlite::api::delete_response(*db, user_id, id);
  }
  Result<std::vector<StoredFile>> list_files(int64_t store_id) override {
    auto db = pool_.acquire();
    return knowledge::list_files(*db, store_id);
  }
  Result<std::vector<PutResult>> put_files(int64_t store_id, const std::vector<FileWrite>& files) override {
    auto db = pool_.acquire();
    return knowledge::put_files(*db, store_id, files);
  }
  Result<std::vector<int64_t>> delete_file(int64_t file_id) override {
    auto db = pool_.acquire();
    return knowledge::delete_file(*db, file_id);
  }
  Status for_each_vector(int64_t store_id,
                         const std::function<void(int64_t, const float*, size_t)>& visit) override {
    auto db = pool_.acquire();
    return knowledge::for_each_vector(*db, store_id, visit);
  }
  Status for_each_chunk_terms(
      int64_t store_id,
      const std::function<void(int64_t, std::string_view, std::string_view)>& visit) override {
    auto db = pool_.acquire();
    return knowledge::for_each_chunk_terms(*db, store_id, visit);
  }
  Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(int64_t store_id) override {
    auto db = pool_.acquire();
    return knowledge::chunk_texts(*db, store_id);
  }
  Status update_vectors(int64_t store_id,
                        const std::vector<std::pair<int64_t, std::vector<float>>>& vectors) override {
    auto db = pool_.acquire();
    return knowledge::update_vectors(*db, store_id, vectors);
  }
  Result<std::vector<ChunkRecord>> chunks_by_id(const std::vector<int64_t>& ids) override {
    auto db = pool_.acquire();
    return knowledge::chunks_by_id(*db, ids);
  }
  Result<std::vector<ChunkHit>> search_chunks(const std::vector<std::string>& store_names,
                                              std::string_view query, int limit) override {
    auto db = pool_.acquire();
    return knowledge::search(*db, store_names, query, limit);
  }

 private:
  // The one integer a query with one parameter, the user's id, returns.
  Result<int64_t> integer_of_user(const std::string& sql, int64_t user_id) {
    auto db = pool_.acquire();
    auto stmt = db->prepare(sql);
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, user_id);
    if (auto row = (*stmt)->step(); !row) return row.error();
    return (*stmt)->column_int(0);
  }

  static constexpr std::string_view kApiKeySelect =
      "SELECT k.id, u.external_id, k.name, k.role, k.created_at, COALESCE(k.revoked_at, 0) FROM api_keys k "
      "JOIN users u ON u.id = k.user_id";

  static ApiKey read_api_key(sqlite::Statement& s) {
    return {s.column_int(0),  s.column_text(1), s.column_text(2),
            s.column_text(3), s.column_int(4),  s.column_int(5)};
  }

  // A user with id 0 means "not found"; errors are errors.
  static Result<User> find_user(Connection& db, std::string_view external_id) {
    auto stmt = db.prepare(
        "SELECT id, external_id, display_name, role, created_at, new_session_requested FROM users "
        "WHERE external_id = ?");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, external_id);
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if (!*row) return User{};
    auto& s = **stmt;
    return User{s.column_int(0),  s.column_text(1), s.column_text(2),
                s.column_text(3), s.column_int(4),  s.column_int(5) != 0};
  }

  std::unique_ptr<sqlite::EncryptedVfs> vfs_;  // null for a plain file; outlives the connections below
  Pool pool_;
  sqlite::GroupCommit commits_;  // after pool_, which it uses
};

}  // namespace

int latest_schema_version() {
  return sqlite::latest_version();
}

Result<std::unique_ptr<Store>> open_sqlite(const SqliteOptions& options) {
  const std::filesystem::path path(options.path);
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec)
      return Error::unavailable("cannot create folder " + path.parent_path().string() + ": " + ec.message());
  }
  std::unique_ptr<sqlite::EncryptedVfs> vfs;
  if (!options.encryption_key.empty()) {
    auto created = sqlite::EncryptedVfs::create(options.path, options.encryption_key);
    if (!created) return created.error();
    vfs = std::move(created).value();
  } else if (sqlite::database_format(options.path) == sqlite::DatabaseFormat::encrypted) {
    return Error::config(options.path +
                             " is encrypted: set storage.encryption_key (BRANDCOACH_STORAGE_ENCRYPTION_KEY) "
                             "or storage.encryption_key_file",
                         "storage.encryption_key");
  }
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < std::max(1, options.connections); ++i) {
    auto connection =
        Connection::open(options.path, options.busy_timeout_ms, vfs ? vfs->name() : std::string());
    if (!connection) return connection.error();
    if (i == 0) {
      if (auto version = sqlite::migrate(**connection); !version) return version.error();
      if (auto status = thread::index_unindexed_messages(**connection); !status) return status.error();
    }
    connections.push_back(std::move(connection).value());
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(vfs), std::move(connections)));
}

}  // namespace brandcoach::store
