// brandcoach store: the only code that reads or writes the database.
//
// `Store` is the persistence interface of the turn pipeline (DESIGN §3). Every method is safe to call
// from many threads at once. Writes are transactions: when a method returns success its effect is
// durable (fsync'd), and when it returns an error nothing of it was written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::store {

struct User {
  int64_t id = 0;
  std::string external_id;  // the identity the caller presented (header, token subject)
  std::string display_name;
  std::string role = "user";
  int64_t created_at = 0;              // Unix ms
  bool new_session_requested = false;  // the next user message opens a new session
};

/// One entry of a user's single thread. `seq` numbers a user's messages 1, 2, 3… with no gaps.
/// Which of a thread's messages a read returns, and how much of each. Every turn reads the thread's
/// tail, and memory reads the user's own words: neither needs the replies' routes and citations, which
/// are most of a reply's bytes.
struct ThreadRead {
  bool users_only = false;  // only the user's own messages (role "user")
  bool brief = false;       // route_json and citations_json left at their defaults ("{}", "[]")
};

struct Message {
  int64_t id = 0;
  int64_t user_id = 0;
  int64_t seq = 0;
  std::string role;  // user | assistant | system
  std::string text;
  std::string assistant;
  std::string route_json = "{}";
  std::string citations_json = "[]";
  std::string usage_json = "{}";
  int64_t created_at = 0;
  int64_t session_no = 1;
  std::string external_id;  // the id an import gave the message (empty for live turns)
  std::string speaker;      // who wrote an imported message, when the source says
  std::string ts_text;      // the time as an import wrote it, when it was not machine-readable
  // Whether search_messages can find it. Memory recall searches only what the user said, so a live
  // reply stays out of the search index unless memory.index_replies asks for it: indexing replies,
  // which are long, was a fifth of a turn's cost.
  bool searchable = true;
};

/// A user message waiting for the model's fact extraction.
struct ExtractionJob {
  int64_t id = 0;
  int64_t attempts = 0;  // including this claim
  Message message;
};

/// A user's message found by memory search. Higher `score` is better.
struct MessageHit {
  Message message;
  double score = 0;
};

/// One version of something the coach knows about a user (DESIGN §3). Never edited in place except
/// for its status: a change of value is a new row that `supersedes_id` the old one.
struct Fact {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string key;  // "price", "competitors", …
  std::string value;
  std::string category;  // personal | business | brand | preferences | decisions | context
  int64_t source_message_id = 0;
  double confidence = 1.0;
  std::string status = "active";  // active | superseded | rejected | pending_confirmation
  int64_t supersedes_id = 0;
  int64_t created_at = 0;
  int64_t confirmed_at = 0;
};

/// One step of a fact change, written with its audit rows in one transaction by `write_facts`.
struct FactWrite {
  std::optional<Fact> insert;                                   // a new version (status set by the caller)
  std::vector<std::pair<int64_t, std::string>> status_changes;  // fact id -> new status
  bool confirm = false;             // stamp confirmed_at on `insert` and on status changes to active
  std::string actor = "extractor";  // extractor | user | admin | llm
};

struct AuditEntry {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string actor;
  std::string action;
  std::string object;
  std::string before_json;
  std::string after_json;
  int64_t at = 0;
  std::string user_external_id;  // filled in by audit_entries()
};

struct Summary {
  int64_t user_id = 0;
  int64_t upto_seq = 0;
  std::string text;
};

struct UsageRow {
  std::string day;
  std::string assistant;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
};

/// Token and cost totals to add to the per-day usage ledger together with a message.
struct UsageTally {
  std::string assistant;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
};

/// A store of files and chunks: a knowledge store (one per assistant, plus any an admin creates,
/// readable by everyone) or a user's own vector store (kind "user", reachable by its owner only).
/// Names are unique across both kinds.
struct KnowledgeStore {
  int64_t id = 0;
  std::string name;
  std::string embedder;       // id of the embedder that made its vectors ("" before any)
  std::string chunking_json;  // {"max_chunk_size_tokens":…, "chunk_overlap_tokens":…}
  int64_t version = 0;        // bumped by every change to its files or vectors
  int64_t files = 0;
  int64_t chunks = 0;
  int64_t bytes = 0;
  int64_t created_at = 0;
  std::string kind = "knowledge";  // knowledge | user
  int64_t owner_user_id = 0;       // for kind "user"
  std::string metadata_json = "{}";
};

struct StoredFile {
  int64_t id = 0;
  int64_t store_id = 0;
  std::string filename;
  int64_t bytes = 0;
  std::string sha256;
  std::string status;
  std::string external_id;
  std::string title;
  std::string format;
  std::string attributes_json = "{}";
  int64_t chunks = 0;
  int64_t created_at = 0;
  std::string last_error = {};     // why it failed (status "failed")
  std::string chunking_json = {};  // how it was chunked, when it was not the store's way
};

struct FileInput {
  std::string filename;
  int64_t bytes = 0;
  std::string sha256;
  std::string external_id;
  std::string title;
  std::string format;
  std::string attributes_json = "{}";
  // A vector store file is known by its external id (the uploaded file's id): the same id replaces
  // its earlier version, and neither names nor equal content of other files matter.
  bool keyed_by_external_id = false;
  std::string status = "completed";  // completed | failed (a failed file has no chunks)
  std::string last_error = {};
  std::string chunking_json = {};  // how it was chunked, when it was not the store's way
};

/// A file a user uploaded through the OpenAI Files API, kept whole so it can be read back.
struct Upload {
  std::string id;  // "file-…"
  int64_t user_id = 0;
  std::string filename;
  std::string purpose;
  int64_t bytes = 0;
  std::string sha256;
  int64_t created_at = 0;  // Unix ms
  std::string content;     // empty unless asked for
};

/// A stored /v1/responses result (DESIGN §3).
struct StoredResponse {
  std::string id;  // "resp_…"
  int64_t user_id = 0;
  std::string previous_id;
  std::string request_json = "{}";
  std::string output_json = "{}";
  std::string usage_json = "{}";
  int64_t created_at = 0;  // Unix ms
};

struct NewChunk {
  int ordinal = 0;
  std::string heading;
  std::string text;
  int64_t tokens = 0;
  int page = 0;
  std::vector<float> vector;  // empty when the store has no embedder yet
};

/// One file of a put_files batch.
struct FileWrite {
  FileInput file;
  std::vector<NewChunk> chunks;
};

/// What put_file did.
struct PutResult {
  StoredFile file;
  bool duplicate = false;                   // identical content already in the store: nothing written
  std::vector<int64_t> chunk_ids;           // ids of the new chunks, in ordinal order
  std::vector<int64_t> replaced_chunk_ids;  // chunks of a same-named file that was replaced
};

/// A chunk with everything a search result shows about it.
struct ChunkRecord {
  int64_t chunk_id = 0;
  int64_t file_id = 0;
  std::string store;
  std::string filename;
  std::string external_id;
  int ordinal = 0;
  std::string heading;
  int page = 0;
  std::string text;
  std::string attributes_json = "{}";
};

/// A chunk found by search. Higher `score` is better.
struct ChunkHit : ChunkRecord {
  double score = 0;
};

struct Counts {
  int64_t users = 0;
  int64_t messages = 0;
  int64_t stores = 0;
  int64_t files = 0;
  int64_t chunks = 0;
};

/// A user as the admin sees them: identity and activity, never content.
struct UserSummary {
  std::string user;
  std::string display_name;
  int64_t created_at = 0;
  int64_t messages = 0;
  int64_t last_active_at = 0;  // 0: never wrote
  int64_t active_facts = 0;
  int64_t tokens = 0;
  double cost_usd = 0;
};

/// One row of the usage ledger across users: a day, an assistant and the user's external id.
struct UsageTotal {
  std::string day;
  std::string assistant;
  std::string user;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
};

/// One assistant reply as the analytics read it: how it was made, never its text.
struct ReplyRecord {
  int64_t user_id = 0;
  int64_t session_no = 0;
  int64_t created_at = 0;  // Unix ms
  std::string assistant;
  double total_ms = 0;  // the turn's wall time; 0 when not recorded
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  int memory_question = -1;       // 1: the message asked about the past, 0: it did not, -1: not recorded
  bool memory_used = false;       // the answer drew on memory
  bool degraded = false;          // the model failed and the offline composer answered
  std::string route_json = "{}";  // the routing decision (assistant, confidence, method, fallback…)
};

/// What the metrics' gauges read: facts by status, and how many users wrote since given times.
struct Activity {
  std::map<std::string, int64_t> facts_by_status;
  std::vector<int64_t> users_active;  // one per `since` time asked about, in that order
};

/// An API key as stored: only a hash of the key itself is kept.
struct ApiKey {
  int64_t id = 0;
  std::string user;  // the owner's external id
  std::string name;
  std::string role = "user";  // user | admin
  int64_t created_at = 0;
  int64_t revoked_at = 0;  // 0: still valid
};

class Store {
 public:
  virtual ~Store() = default;

  /// The schema version the database is at after migrations.
  virtual Result<int> schema_version() = 0;
  /// Cheap liveness query for readiness checks.
  virtual Status ping() = 0;
  virtual Result<Counts> counts() = 0;
  /// Facts by status, and the users with a reply at or after each of `since_ms` (Unix ms).
  virtual Result<Activity> activity(const std::vector<int64_t>& since_ms) = 0;

  /// The user with this external id, created on first sight.
  virtual Result<User> ensure_user(std::string_view external_id) = 0;
  virtual Status set_display_name(int64_t user_id, std::string_view display_name) = 0;

  /// Users in id order after `after_user` (an external id; empty: from the start), at most `limit`.
  virtual Result<std::vector<UserSummary>> list_users(std::string_view after_user, int limit) = 0;
  /// Every assistant reply of every user written at or after `from_ms`, oldest first.
  virtual Result<std::vector<ReplyRecord>> replies_since(int64_t from_ms) = 0;
  /// The usage ledger of every user for days from..to (YYYY-MM-DD, inclusive; empty: open).
  virtual Result<std::vector<UsageTotal>> usage_totals(std::string_view from_day,
                                                       std::string_view to_day) = 0;

  /// Stores a new key for the user (created on first sight) by the hash of its secret.
  virtual Result<ApiKey> create_api_key(std::string_view user, std::string_view name, std::string_view role,
                                        std::string_view secret_hash) = 0;
  /// The key with this hash, revoked or not; nullopt when none.
  virtual Result<std::optional<ApiKey>> find_api_key(std::string_view secret_hash) = 0;
  /// Every key, or one user's keys, oldest first.
  virtual Result<std::vector<ApiKey>> list_api_keys(std::optional<std::string_view> user) = 0;
  /// Marks a key revoked (from now on it authenticates nobody); not_found when there is no such key.
  virtual Status revoke_api_key(int64_t id) = 0;

  /// Appends to the user's thread, assigning id, seq and created_at (when zero). Durable on return.
  /// When `usage` is given, it is added to the user's usage ledger in the same transaction; with
  /// `queue_extraction` the message is queued for model fact extraction in that transaction too.
  virtual Result<Message> append_message(Message message, const std::optional<UsageTally>& usage = {},
                                         bool queue_extraction = false) = 0;

  /// Claims the oldest due extraction job for `lease_ms` (its attempts counted), if any.
  virtual Result<std::optional<ExtractionJob>> claim_extraction_job(int64_t now_ms, int64_t lease_ms) = 0;
  /// Removes a job that is done (or given up on).
  virtual Status finish_extraction_job(int64_t job_id) = 0;
  /// Leaves a failed job for a later try.
  virtual Status retry_extraction_job(int64_t job_id, int64_t not_before_ms, std::string_view error) = 0;
  virtual Result<int64_t> pending_extraction_jobs() = 0;
  /// Appends many messages (any users) in one transaction: all or none. For imports.
  /// With `queue_extraction`, its user messages are queued for model fact extraction too.
  virtual Result<std::vector<Message>> append_messages(std::vector<Message> messages,
                                                       bool queue_extraction = false) = 0;
  /// The last `limit` messages of the user's thread, oldest first.
  virtual Result<std::vector<Message>> recent_messages(int64_t user_id, int limit, ThreadRead read = {}) = 0;
  virtual Result<int64_t> message_count(int64_t user_id) = 0;
  /// The seq of the user's newest message (0: none yet). One index lookup: it tells whether a copy of
  /// the thread's tail is still the tail.
  virtual Result<int64_t> last_seq(int64_t user_id) = 0;
  /// Messages with after_seq < seq <= upto_seq, oldest first, at most `limit` (negative: all).
  virtual Result<std::vector<Message>> messages_between(int64_t user_id, int64_t after_seq, int64_t upto_seq,
                                                        int64_t limit, ThreadRead read = {}) = 0;
  /// The user's messages with these ids (any order; ids of other users' messages are skipped).
  virtual Result<std::vector<Message>> messages_by_id(int64_t user_id, const std::vector<int64_t>& ids) = 0;
  /// The message an import stored under this external id, if any.
  virtual Result<std::optional<Message>> find_imported_message(int64_t user_id,
                                                               std::string_view external_id) = 0;
  /// BM25 search over one user's messages (never another user's). Free text; tokenized here.
  virtual Result<std::vector<MessageHit>> search_messages(int64_t user_id, std::string_view query,
                                                          int limit) = 0;
  /// The next user message of this user opens a new session (cleared by that message's append).
  virtual Status request_new_session(int64_t user_id) = 0;
  /// The user with this external id, if known (never creates one).
  virtual Result<std::optional<User>> find_user(std::string_view external_id) = 0;

  /// Facts of a user, oldest first: active and pending ones, or every version with `all`.
  virtual Result<std::vector<Fact>> list_facts(int64_t user_id, bool all) = 0;
  /// Every version of the user's facts with these keys, oldest first ("person" means every person:… key).
  virtual Result<std::vector<Fact>> facts_for_keys(int64_t user_id, const std::vector<std::string>& keys) = 0;
  virtual Result<std::optional<Fact>> find_fact(int64_t user_id, int64_t fact_id) = 0;
  /// Applies fact changes and their audit rows in one transaction; returns the inserted facts.
  /// A status change of a fact that is not this user's fails the whole call with not_found.
  virtual Result<std::vector<Fact>> write_facts(int64_t user_id, const std::vector<FactWrite>& writes) = 0;
  virtual Result<std::vector<AuditEntry>> audit_log(int64_t user_id) = 0;
  /// Every audit row (each user's, and admin actions under user 0) with id > after_id, in id order,
  /// at most `limit`; `user_external_id` filled in (empty for user 0 and users since erased).
  virtual Result<std::vector<AuditEntry>> audit_entries(int64_t after_id, int limit) = 0;
  virtual Status append_audit(const AuditEntry& entry) = 0;

  virtual Result<std::optional<Summary>> summary(int64_t user_id) = 0;
  virtual Status put_summary(const Summary& summary) = 0;
  virtual Result<std::vector<UsageRow>> usage(int64_t user_id) = 0;

  /// Erases every trace of the user: thread, facts, audit rows about them, summary, usage, keys and
  /// their index entries, overwriting the freed space (secure delete, FTS merge, WAL checkpoint) so
  /// nothing of theirs stays readable in the database files. One audit row records that it happened.
  virtual Status erase_user(int64_t user_id, std::string_view actor) = 0;

  /// The id of the knowledge store with this name, created on first use.
  virtual Result<int64_t> ensure_knowledge_store(std::string_view name) = 0;
  /// The store (of either kind) with this name: identity, embedder and version (cheap: the
  /// files/chunks/bytes counts are left 0).
  virtual Result<std::optional<KnowledgeStore>> find_knowledge_store(std::string_view name) = 0;
  /// Every knowledge store with its counts filled in.
  virtual Result<std::vector<KnowledgeStore>> list_knowledge_stores() = 0;
  /// Records which embedder made the store's vectors and how it is chunked; bumps the version.
  virtual Status configure_knowledge_store(int64_t store_id, std::string_view embedder,
                                           std::string_view chunking_json) = 0;
  /// Deletes the store (of either kind) with all its files and chunks.
  virtual Status delete_knowledge_store(int64_t store_id) = 0;

  /// A new store of kind "user" owned by the user; conflict when the name is taken.
  virtual Result<KnowledgeStore> create_user_store(int64_t owner_user_id, std::string_view name,
                                                   std::string_view metadata_json, std::string_view embedder,
                                                   std::string_view chunking_json) = 0;
  /// The user's own stores with their counts, oldest first.
  virtual Result<std::vector<KnowledgeStore>> list_user_stores(int64_t owner_user_id) = 0;
  virtual Status set_store_metadata(int64_t store_id, std::string_view metadata_json) = 0;

  /// Keeps an uploaded file (id, user, name, purpose and content given; bytes, sha256 and
  /// created_at are filled in).
  virtual Result<Upload> create_upload(Upload upload) = 0;
  /// The user's uploads without their content, oldest first.
  virtual Result<std::vector<Upload>> list_uploads(int64_t user_id) = 0;
  /// The user's upload with this id (never another user's), with its content when asked.
  virtual Result<std::optional<Upload>> find_upload(int64_t user_id, std::string_view id,
                                                    bool with_content) = 0;
  /// Deletes the user's upload; not_found when the user has none with this id.
  virtual Status delete_upload(int64_t user_id, std::string_view id) = 0;

  /// Keeps a response (created_at filled in when zero).
  virtual Status put_response(const StoredResponse& response) = 0;
  /// The user's response with this id (never another user's).
  virtual Result<std::optional<StoredResponse>> find_response(int64_t user_id, std::string_view id) = 0;
  /// Deletes the user's response; not_found when the user has none with this id.
  virtual Status delete_response(int64_t user_id, std::string_view id) = 0;

  virtual Result<std::vector<StoredFile>> list_files(int64_t store_id) = 0;
  /// Stores files and their chunks in one transaction (all or nothing; one commit and one version
  /// bump however many files, which is what makes bulk ingest fast). Content already in the store
  /// (same SHA-256, including earlier files of the same batch) is not stored twice (`duplicate`,
  /// pointing at the stored copy); a file of the same name with other content is replaced, or
  /// removed when the new content is such a duplicate. Results are in the order of `files`.
  virtual Result<std::vector<PutResult>> put_files(int64_t store_id, const std::vector<FileWrite>& files) = 0;
  /// One file: put_files with a batch of one.
  Result<PutResult> put_file(int64_t store_id, const FileInput& file, const std::vector<NewChunk>& chunks) {
    auto results = put_files(store_id, {FileWrite{file, chunks}});
    if (!results) return results.error();
    return std::move(results->front());
  }
  /// Deletes a file and its chunks; returns the deleted chunk ids.
  virtual Result<std::vector<int64_t>> delete_file(int64_t file_id) = 0;

  /// Visits every stored vector of a store (chunk id, vector), in id order.
  virtual Status for_each_vector(
      int64_t store_id,
      const std::function<void(int64_t chunk_id, const float* data, size_t dim)>& visit) = 0;
  /// Visits the index terms of every chunk of a store (chunk id, heading stems, text stems; each a
  /// space-separated list), in id order: what a lexical index is rebuilt from without re-reading text.
  virtual Status for_each_chunk_terms(
      int64_t store_id,
      const std::function<void(int64_t chunk_id, std::string_view heading_terms, std::string_view terms)>&
          visit) = 0;
  /// Every chunk of a store as (id, text), for re-embedding.
  virtual Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(int64_t store_id) = 0;
  /// Replaces the vectors of the given chunks in one transaction; bumps the version.
  virtual Status update_vectors(int64_t store_id,
                                const std::vector<std::pair<int64_t, std::vector<float>>>& vectors) = 0;
  /// The first `limit` chunks of a file, in their order in the document.
  virtual Result<std::vector<ChunkRecord>> file_chunks(int64_t file_id, int limit) = 0;
  /// The chunks with these ids (any order; unknown ids are skipped).
  virtual Result<std::vector<ChunkRecord>> chunks_by_id(const std::vector<int64_t>& ids) = 0;

  /// Lexical (BM25) search over the chunks of the named knowledge stores. Query text is free text;
  /// it is tokenized here, so no query syntax reaches the index.
  virtual Result<std::vector<ChunkHit>> search_chunks(const std::vector<std::string>& store_names,
                                                      std::string_view query, int limit) = 0;
};

struct SqliteOptions {
  std::string path;     // database file; its folder is created if missing
  int connections = 4;  // pool size: concurrent readers (writers serialise inside SQLite)
  int busy_timeout_ms = 10000;
  std::string encryption_key{};  // non-empty: the file is encrypted at rest (AES-256-XTS) with this key
};

/// Opens (creating if needed) a SQLite database and runs pending migrations.
/// Fails with invalid_config when the file holds a newer schema than this build knows, when it is
/// encrypted and no key or the wrong key is given, or when a key is given for a plain file.
Result<std::unique_ptr<Store>> open_sqlite(const SqliteOptions& options);

/// Rewrites the SQLite database at `path` encrypted with `key` (or, decrypting, plain again): a
/// checked copy replaces the file only once complete, so an interruption leaves the original whole.
/// Fails with conflict while another process has the database open or when it is already so.
Status encrypt_sqlite_file(const std::string& path, std::string_view key);
Status decrypt_sqlite_file(const std::string& path, std::string_view key);
/// A consistent copy of the SQLite database at `path` in the new file `destination`, taken while
/// other processes go on writing; encrypted with `key` (under its own salt) when one is given.
Status backup_sqlite_file(const std::string& path, std::string_view key, const std::string& destination);

struct PostgresOptions {
  std::string url;      // postgresql://user:password@host:port/database (libpq connection URI)
  int connections = 8;  // pool size: statements in flight at once from this process
};

/// Connects to PostgreSQL and runs pending migrations (serialised across processes by an advisory
/// lock, so many nodes may start at once). Fails with unavailable when the server cannot be
/// reached and invalid_config when the database holds a newer schema than this build knows.
Result<std::unique_ptr<Store>> open_postgres(const PostgresOptions& options);

/// True for a storage URL that names PostgreSQL ("postgresql://…" or "postgres://…").
bool is_postgres_url(std::string_view url);

/// The schema version this build migrates to (SQLite).
int latest_schema_version();
/// The schema version this build migrates to (PostgreSQL).
int latest_postgres_schema_version();

}  // namespace brandcoach::store
