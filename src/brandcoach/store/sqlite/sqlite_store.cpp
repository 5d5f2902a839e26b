#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/store/sqlite/connection.hpp"
#include "brandcoach/store/sqlite/migrations.hpp"
#include "brandcoach/store/store.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::store {

namespace {

using sqlite::Connection;
using sqlite::Pool;
using sqlite::Transaction;

// Free text -> an FTS5 query that can never be a syntax error: every word becomes a quoted term,
// OR-ed, so "pricing?" or "AND (" are just words. Stopwords are dropped unless nothing else is left.
std::string fts_query(std::string_view text) {
  const auto all = text::words(text);
  std::vector<std::string> terms;
  for (const auto& word : all) {
    if (!text::is_stopword(word)) terms.push_back(word);
  }
  if (terms.empty()) terms = all;
  std::string out;
  for (const auto& term : terms) {
    if (!out.empty()) out += " OR ";
    out += '"' + term + '"';  // words() yields letters and digits only, so no quote can appear
  }
  return out;
}

Message read_message(sqlite::Statement& stmt) {
  Message m;
  m.id = stmt.column_int(0);
  m.user_id = stmt.column_int(1);
  m.seq = stmt.column_int(2);
  m.role = stmt.column_text(3);
  m.text = stmt.column_text(4);
  m.assistant = stmt.column_text(5);
  m.route_json = stmt.column_text(6);
  m.citations_json = stmt.column_text(7);
  m.usage_json = stmt.column_text(8);
  m.created_at = stmt.column_int(9);
  m.session_no = stmt.column_int(10);
  return m;
}

std::string utc_day(int64_t unix_ms) {
  return iso_time(unix_ms).substr(0, 10);
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::vector<std::unique_ptr<Connection>> connections)
      : pool_(std::move(connections)) {}

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

  Result<Message> append_message(Message message, const std::optional<UsageTally>& usage) override {
    auto db = pool_.acquire();
    auto tx = Transaction::begin(*db);
    if (!tx) return tx.error();
    if (message.created_at == 0) message.created_at = unix_millis();
    auto insert = db->prepare(
        "INSERT INTO messages (user_id, seq, role, text, assistant, route_json, citations_json, usage_json, "
        "created_at, session_no) VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE user_id = "
        "?1), "
        "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id, seq");
    if (!insert) return insert.error();
    auto& stmt = **insert;
    stmt.bind(1, message.user_id)
        .bind(2, message.role)
        .bind(3, message.text)
        .bind(4, message.assistant)
        .bind(5, message.route_json)
        .bind(6, message.citations_json)
        .bind(7, message.usage_json)
        .bind(8, message.created_at)
        .bind(9, message.session_no);
    auto row = stmt.step();
    if (!row) return row.error();
    message.id = stmt.column_int(0);
    message.seq = stmt.column_int(1);
    if (auto done = stmt.step(); !done) return done.error();
    if (usage) {
      if (auto status = add_usage(*db, message.user_id, utc_day(message.created_at), *usage); !status) {
        return status.error();
      }
    }
    if (auto status = tx->commit(); !status) return status.error();
    return message;
  }

  Result<std::vector<Message>> recent_messages(int64_t user_id, int limit) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare(
        "SELECT id, user_id, seq, role, text, assistant, route_json, citations_json, usage_json, created_at, "
        "session_no FROM messages WHERE user_id = ? ORDER BY seq DESC LIMIT ?");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, user_id).bind(2, int64_t{limit});
    std::vector<Message> out;
    while (true) {
      auto row = (*stmt)->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(read_message(**stmt));
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  Result<int64_t> message_count(int64_t user_id) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("SELECT COUNT(*) FROM messages WHERE user_id = ?");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, user_id);
    if (auto row = (*stmt)->step(); !row) return row.error();
    return (*stmt)->column_int(0);
  }

  Result<int64_t> ensure_knowledge_store(std::string_view name) override {
    auto db = pool_.acquire();
    auto insert = db->prepare(
        "INSERT INTO stores (name, kind, created_at) VALUES (?, 'knowledge', ?) "
        "ON CONFLICT (name) WHERE kind = 'knowledge' DO NOTHING");
    if (!insert) return insert.error();
    if (auto status = (*insert)->bind(1, name).bind(2, unix_millis()).run(); !status) return status.error();
    auto select = db->prepare("SELECT id FROM stores WHERE kind = 'knowledge' AND name = ?");
    if (!select) return select.error();
    (*select)->bind(1, name);
    auto row = (*select)->step();
    if (!row) return row.error();
    if (!*row) return Error::internal("knowledge store vanished after insert");
    return (*select)->column_int(0);
  }

  Result<std::vector<StoredFile>> list_files(int64_t store_id) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare(
        "SELECT id, store_id, filename, bytes, sha256, status FROM files WHERE store_id = ? ORDER BY "
        "filename");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, store_id);
    std::vector<StoredFile> out;
    while (true) {
      auto row = (*stmt)->step();
      if (!row) return row.error();
      if (!*row) break;
      auto& s = **stmt;
      out.push_back({s.column_int(0), s.column_int(1), s.column_text(2), s.column_int(3), s.column_text(4),
                     s.column_text(5)});
    }
    return out;
  }

  Result<StoredFile> put_file(int64_t store_id, const FileInput& file,
                              const std::vector<NewChunk>& chunks) override {
    auto db = pool_.acquire();
    auto tx = Transaction::begin(*db);
    if (!tx) return tx.error();
    auto remove = db->prepare("DELETE FROM files WHERE store_id = ? AND filename = ?");
    if (!remove) return remove.error();
    if (auto status = (*remove)->bind(1, store_id).bind(2, file.filename).run(); !status)
      return status.error();
    auto insert = db->prepare(
        "INSERT INTO files (store_id, filename, bytes, sha256, status, created_at) "
        "VALUES (?, ?, ?, ?, 'completed', ?)");
    if (!insert) return insert.error();
    (*insert)
        ->bind(1, store_id)
        .bind(2, file.filename)
        .bind(3, file.bytes)
        .bind(4, file.sha256)
        .bind(5, unix_millis());
    if (auto status = (*insert)->run(); !status) return status.error();
    StoredFile stored{db->last_insert_id(), store_id, file.filename, file.bytes, file.sha256, "completed"};
    auto add_chunk = db->prepare(
        "INSERT INTO chunks (file_id, store_id, ord, heading, text, tokens) VALUES (?, ?, ?, ?, ?, ?)");
    if (!add_chunk) return add_chunk.error();
    for (const auto& chunk : chunks) {
      (*add_chunk)
          ->bind(1, stored.id)
          .bind(2, store_id)
          .bind(3, int64_t{chunk.ordinal})
          .bind(4, chunk.heading)
          .bind(5, chunk.text)
          .bind(6, chunk.tokens);
      if (auto status = (*add_chunk)->run(); !status) return status.error();
    }
    if (auto status = tx->commit(); !status) return status.error();
    return stored;
  }

  Status delete_file(int64_t file_id) override {
    auto db = pool_.acquire();
    auto stmt = db->prepare("DELETE FROM files WHERE id = ?");
    if (!stmt) return stmt.error();
    if (auto status = (*stmt)->bind(1, file_id).run(); !status) return status;
    if (db->changes() == 0) return Error::not_found(fmt::format("no file with id {}", file_id));
    return ok();
  }

  Result<std::vector<ChunkHit>> search_chunks(const std::vector<std::string>& store_names,
                                              std::string_view query, int limit) override {
    const std::string match = fts_query(query);
    if (match.empty() || store_names.empty() || limit <= 0) return std::vector<ChunkHit>{};
    auto db = pool_.acquire();
    // bm25() is lower-is-better; headings weigh double because a heading names what the passage is about.
    auto stmt = db->prepare(
        "SELECT c.id, s.name, f.filename, c.ord, c.heading, c.text, -bm25(chunks_fts, 2.0, 1.0) AS score "
        "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN files f ON f.id = c.file_id "
        "JOIN stores s ON s.id = c.store_id "
        "WHERE chunks_fts MATCH ?1 AND s.kind = 'knowledge' AND s.name IN (SELECT value FROM json_each(?2)) "
        "ORDER BY bm25(chunks_fts, 2.0, 1.0) LIMIT ?3");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, match).bind(2, nlohmann::json(store_names).dump()).bind(3, int64_t{limit});
    std::vector<ChunkHit> hits;
    while (true) {
      auto row = (*stmt)->step();
      if (!row) return row.error();
      if (!*row) break;
      auto& s = **stmt;
      hits.push_back({s.column_int(0), s.column_text(1), s.column_text(2), static_cast<int>(s.column_int(3)),
                      s.column_text(4), s.column_text(5), s.column_double(6)});
    }
    return hits;
  }

 private:
  // A user with id 0 means "not found"; errors are errors.
  static Result<User> find_user(Connection& db, std::string_view external_id) {
    auto stmt =
        db.prepare("SELECT id, external_id, display_name, role, created_at FROM users WHERE external_id = ?");
    if (!stmt) return stmt.error();
    (*stmt)->bind(1, external_id);
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if (!*row) return User{};
    auto& s = **stmt;
    return User{s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3), s.column_int(4)};
  }

  static Status add_usage(Connection& db, int64_t user_id, const std::string& day, const UsageTally& usage) {
    auto stmt = db.prepare(
        "INSERT INTO usage (user_id, day, assistant, input_tokens, output_tokens, cost_usd) VALUES (?, ?, ?, "
        "?, ?, ?) "
        "ON CONFLICT (user_id, day, assistant) DO UPDATE SET input_tokens = input_tokens + "
        "excluded.input_tokens, "
        "output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + excluded.cost_usd");
    if (!stmt) return stmt.error();
    (*stmt)
        ->bind(1, user_id)
        .bind(2, day)
        .bind(3, usage.assistant)
        .bind(4, usage.input_tokens)
        .bind(5, usage.output_tokens)
        .bind(6, usage.cost_usd);
    return (*stmt)->run();
  }

  Pool pool_;
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
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < std::max(1, options.connections); ++i) {
    auto connection = Connection::open(options.path, options.busy_timeout_ms);
    if (!connection) return connection.error();
    if (i == 0) {
      if (auto version = sqlite::migrate(**connection); !version) return version.error();
    }
    connections.push_back(std::move(connection).value());
  }
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(connections)));
}

}  // namespace brandcoach::store
