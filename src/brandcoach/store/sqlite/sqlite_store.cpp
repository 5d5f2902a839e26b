#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/store/sqlite/connection.hpp"
#include "brandcoach/store/sqlite/knowledge.hpp"
#include "brandcoach/store/sqlite/knowledge.hpp"
#include "brandcoach/store/sqlite/migrations.hpp"
#include "brandcoach/store/store.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::store {

namespace {

using sqlite::Connection;
using sqlite::Pool;
using sqlite::Transaction;
namespace knowledge = sqlite::knowledge;

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
    auto out = sqlite::collect(**stmt, read_message);
    if (out) std::reverse(out->begin(), out->end());
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
