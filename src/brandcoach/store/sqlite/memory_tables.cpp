#include "brandcoach/store/sqlite/memory_tables.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/store/fact_rows.hpp"
#include "brandcoach/store/sqlite/knowledge.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::store::sqlite::memory {

namespace {

std::string utc_day(int64_t unix_ms) {
  return iso_time(unix_ms).substr(0, 10);
}

Status add_usage(Connection& db, int64_t user_id, const std::string& day, const UsageTally& usage) {
  auto stmt = db.prepare(
      "INSERT INTO usage (user_id, day, assistant, input_tokens, output_tokens, cost_usd) VALUES (?, ?, ?, "
      "?, "
      "?, ?) ON CONFLICT (user_id, day, assistant) DO UPDATE SET input_tokens = input_tokens + "
      "excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens, cost_usd = cost_usd + "
      "excluded.cost_usd");
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

constexpr const char* kFactColumns =
    "id, user_id, key, value, category, COALESCE(source_message_id, 0), confidence, status, "
    "COALESCE(supersedes_id, 0), created_at, COALESCE(confirmed_at, 0)";

Fact read_fact(Statement& s) {
  Fact f;
  f.id = s.column_int(0);
  f.user_id = s.column_int(1);
  f.key = s.column_text(2);
  f.value = s.column_text(3);
  f.category = s.column_text(4);
  f.source_message_id = s.column_int(5);
  f.confidence = s.column_double(6);
  f.status = s.column_text(7);
  f.supersedes_id = s.column_int(8);
  f.created_at = s.column_int(9);
  f.confirmed_at = s.column_int(10);
  return f;
}

Result<std::optional<Fact>> fact_by_id(Connection& db, int64_t user_id, int64_t fact_id) {
  auto stmt = db.prepare(fmt::format("SELECT {} FROM facts WHERE id = ? AND user_id = ?", kFactColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, fact_id).bind(2, user_id);
  auto rows = collect(**stmt, read_fact);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Fact>{};
  return std::optional<Fact>{std::move(rows->front())};
}

Status audit_row(Connection& db, int64_t user_id, std::string_view actor, std::string_view action,
                 std::string_view object, const nlohmann::json& before, const nlohmann::json& after) {
  return append_audit(db, audit_entry(user_id, actor, action, object, before, after));
}

// Every indexed term of a message carries its user ("u0000002kprice" is user 92's "price"), so a
// user's search reads only that user's posting lists — its cost does not grow with other users'
// threads — and BM25's document frequencies are that user's own. Fixed-width base-36 ids keep the
// prefixes unambiguous (terms may start with digits).
std::string user_prefix(int64_t user_id) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out(9, '0');
  auto id = static_cast<uint64_t>(user_id);
  for (size_t i = out.size(); i-- > 1 && id > 0; id /= 36) out[i] = kDigits[id % 36];
  out[0] = 'u';
  return out;
}

std::string user_terms(int64_t user_id, std::string_view terms) {
  const std::string prefix = user_prefix(user_id);
  std::string out;
  size_t pos = 0;
  while (pos < terms.size()) {
    size_t end = terms.find(' ', pos);
    if (end == std::string_view::npos) end = terms.size();
    if (end > pos) {
      if (!out.empty()) out += ' ';
      out += prefix;
      out += terms.substr(pos, end - pos);
    }
    pos = end + 1;
  }
  return out;
}

}  // namespace

std::string message_columns(std::string_view a, bool brief) {
  return fmt::format(
      "{0}id, {0}user_id, {0}seq, {0}role, {0}text, {0}assistant, {1}, "
      "{0}usage_json, {0}created_at, {0}session_no, COALESCE({0}external_id, ''), {0}speaker, {0}ts_text",
      a, brief ? std::string("'{}', '[]'") : fmt::format("{0}route_json, {0}citations_json", a));
}

std::string thread_filter(const ThreadRead& read) {
  return read.users_only ? " AND role = 'user'" : "";
}

Message read_message(Statement& stmt) {
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
  m.external_id = stmt.column_text(11);
  m.speaker = stmt.column_text(12);
  m.ts_text = stmt.column_text(13);
  return m;
}

std::string message_terms(const Message& message) {
  if (!message.searchable) return {};
  return user_terms(message.user_id, text::index_terms(message.text));
}

namespace {

// One message with its terms into the thread, inside the caller's transaction.
Result<Message> insert_message(Connection& db, Message message, const std::string& terms) {
  if (message.created_at == 0) message.created_at = unix_millis();
  auto insert = db.prepare(
      "INSERT INTO messages (user_id, seq, role, text, assistant, route_json, citations_json, usage_json, "
      "created_at, session_no, external_id, speaker, ts_text, terms) VALUES (?1, (SELECT COALESCE(MAX(seq), "
      "0) + 1 FROM messages WHERE user_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
      "RETURNING id, seq");
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
      .bind(9, message.session_no)
      .bind(11, message.speaker)
      .bind(12, message.ts_text)
      .bind(13, terms);
  if (message.external_id.empty()) {
    stmt.bind_null(10);
  } else {
    stmt.bind(10, message.external_id);
  }
  auto row = stmt.step();
  if (!row) return row.error();
  message.id = stmt.column_int(0);
  message.seq = stmt.column_int(1);
  if (auto done = stmt.step(); !done) return done.error();
  // Every message has its row in the index, an unsearchable one with no terms: the index's delete
  // trigger expects one for each message.
  auto index = db.prepare("INSERT INTO messages_fts (rowid, terms) VALUES (?, ?)");
  if (!index) return index.error();
  if (auto status = (*index)->bind(1, message.id).bind(2, terms).run(); !status) return status.error();
  if (message.role == "user") {
    auto clear =
        db.prepare("UPDATE users SET new_session_requested = 0 WHERE id = ? AND new_session_requested");
    if (!clear) return clear.error();
    if (auto status = (*clear)->bind(1, message.user_id).run(); !status) return status.error();
  }
  return message;
}

}  // namespace

Result<Message> write_message(Connection& db, Message message, const std::string& terms,
                              const std::optional<UsageTally>& usage, bool queue_extraction) {
  auto stored = insert_message(db, std::move(message), terms);
  if (!stored) return stored.error();
  if (queue_extraction) {
    auto job = db.prepare("INSERT INTO extraction_jobs (user_id, message_id) VALUES (?, ?)");
    if (!job) return job.error();
    if (auto status = (*job)->bind(1, stored->user_id).bind(2, stored->id).run(); !status)
      return status.error();
  }
  if (usage) {
    if (auto status = add_usage(db, stored->user_id, utc_day(stored->created_at), *usage); !status) {
      return status.error();
    }
  }
  return stored;
}

Result<Message> append_message(Connection& db, Message message, const std::optional<UsageTally>& usage,
                               bool queue_extraction) {
  const std::string terms = message_terms(message);
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  auto stored = write_message(db, std::move(message), terms, usage, queue_extraction);
  if (!stored) return stored.error();
  if (auto status = tx->commit(); !status) return status.error();
  return stored;
}

Result<std::optional<ExtractionJob>> claim_extraction_job(Connection& db, int64_t now_ms, int64_t lease_ms) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  auto claim = db.prepare(
      "UPDATE extraction_jobs SET attempts = attempts + 1, not_before = ?2 WHERE id = (SELECT id FROM "
      "extraction_jobs WHERE not_before <= ?1 ORDER BY not_before, id LIMIT 1) RETURNING id, attempts, "
      "message_id");
  if (!claim) return claim.error();
  (*claim)->bind(1, now_ms).bind(2, now_ms + lease_ms);
  auto row = (*claim)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<ExtractionJob>{};
  ExtractionJob job;
  job.id = (*claim)->column_int(0);
  job.attempts = (*claim)->column_int(1);
  const int64_t message_id = (*claim)->column_int(2);
  if (auto done = (*claim)->step(); !done) return done.error();
  auto message = db.prepare(fmt::format("SELECT {} FROM messages WHERE id = ?", message_columns()));
  if (!message) return message.error();
  (*message)->bind(1, message_id);
  auto rows = collect(**message, read_message);
  if (!rows) return rows.error();
  if (rows->empty()) return Error::not_found("the queued message is gone");
  job.message = std::move(rows->front());
  if (auto status = tx->commit(); !status) return status.error();
  return std::optional<ExtractionJob>{std::move(job)};
}

Status finish_extraction_job(Connection& db, int64_t job_id) {
  auto stmt = db.prepare("DELETE FROM extraction_jobs WHERE id = ?");
  if (!stmt) return stmt.error();
  return (*stmt)->bind(1, job_id).run();
}

Status retry_extraction_job(Connection& db, int64_t job_id, int64_t not_before_ms, std::string_view error) {
  auto stmt = db.prepare("UPDATE extraction_jobs SET not_before = ?, last_error = ? WHERE id = ?");
  if (!stmt) return stmt.error();
  return (*stmt)->bind(1, not_before_ms).bind(2, error.substr(0, 500)).bind(3, job_id).run();
}

Result<int64_t> pending_extraction_jobs(Connection& db) {
  auto stmt = db.prepare("SELECT COUNT(*) FROM extraction_jobs");
  if (!stmt) return stmt.error();
  if (auto row = (*stmt)->step(); !row) return row.error();
  return (*stmt)->column_int(0);
}

Result<std::vector<Message>> append_messages(Connection& db, std::vector<Message> messages,
                                             bool queue_extraction) {
  std::vector<std::string> terms;
  terms.reserve(messages.size());
  for (const auto& message : messages) terms.push_back(message_terms(message));
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  std::vector<Message> stored;
  stored.reserve(messages.size());
  auto job = db.prepare("INSERT INTO extraction_jobs (user_id, message_id) VALUES (?, ?)");
  if (!job) return job.error();
  for (size_t i = 0; i < messages.size(); ++i) {
    auto one = insert_message(db, std::move(messages[i]), terms[i]);
    if (!one) return one.error();
    if (queue_extraction && one->role == "user") {
      (*job)->reset();
      if (auto status = (*job)->bind(1, one->user_id).bind(2, one->id).run(); !status) return status.error();
    }
    stored.push_back(std::move(one).value());
  }
  if (auto status = tx->commit(); !status) return status.error();
  return stored;
}

Result<std::vector<Message>> messages_between(Connection& db, int64_t user_id, int64_t after_seq,
                                              int64_t upto_seq, int64_t limit, ThreadRead read) {
  auto stmt = db.prepare(
      fmt::format("SELECT {} FROM messages WHERE user_id = ? AND seq > ? AND seq <= ?{} ORDER BY seq LIMIT ?",
                  message_columns("", read.brief), thread_filter(read)));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id).bind(2, after_seq).bind(3, upto_seq).bind(4, limit);
  return collect(**stmt, read_message);
}

Result<std::vector<Message>> messages_by_id(Connection& db, int64_t user_id,
                                            const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<Message>{};
  auto stmt = db.prepare(
      fmt::format("SELECT {} FROM messages WHERE user_id = ? AND id IN (SELECT value FROM json_each(?))",
                  message_columns()));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id).bind(2, nlohmann::json(ids).dump());
  return collect(**stmt, read_message);
}

Result<std::optional<Message>> find_imported_message(Connection& db, int64_t user_id,
                                                     std::string_view external_id) {
  auto stmt = db.prepare(
      fmt::format("SELECT {} FROM messages WHERE user_id = ? AND external_id = ?", message_columns()));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id).bind(2, external_id);
  auto rows = collect(**stmt, read_message);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Message>{};
  return std::optional<Message>{std::move(rows->front())};
}

Result<std::vector<MessageHit>> search_messages(Connection& db, int64_t user_id, std::string_view query,
                                                int limit) {
  auto terms = knowledge::query_terms(query);
  const std::string prefix = user_prefix(user_id);
  for (auto& term : terms) term = prefix + term;
  const std::string match = knowledge::fts_query(terms);
  if (match.empty() || limit <= 0) return std::vector<MessageHit>{};
  // The user filter sits inside the ranked query, so another user's messages can never be returned
  // (nor crowd this user's out of the top list).
  auto stmt = db.prepare(fmt::format(
      "SELECT {}, top.rank FROM (SELECT rowid AS id, bm25(messages_fts) AS rank FROM messages_fts WHERE "
      "messages_fts MATCH ?1 ORDER BY rank LIMIT ?3) AS top JOIN messages m ON m.id = top.id WHERE m.user_id "
      "= ?2 "
      "ORDER BY top.rank",
      message_columns("m.")));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, match).bind(2, user_id).bind(3, int64_t{limit});
  return collect(**stmt, [](Statement& s) { return MessageHit{read_message(s), -s.column_double(14)}; });
}

Status index_unindexed_messages(Connection& db) {
  auto select =
      db.prepare("SELECT id, user_id, text FROM messages WHERE terms = '' AND text != '' LIMIT 1000");
  if (!select) return select.error();
  while (true) {
    auto batch = collect(**select, [](Statement& s) {
      return std::tuple{s.column_int(0), s.column_int(1), s.column_text(2)};
    });
    if (!batch) return batch.error();
    (*select)->reset();
    if (batch->empty()) return ok();
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    auto update = db.prepare("UPDATE messages SET terms = ? WHERE id = ?");
    if (!update) return update.error();
    for (const auto& [id, user_id, text] : *batch) {
      std::string terms = user_terms(user_id, text::index_terms(text));
      if (terms.empty()) terms = " ";  // nothing to index, but never picked up again
      (*update)->reset();
      if (auto status = (*update)->bind(1, terms).bind(2, id).run(); !status) return status;
    }
    if (auto status = tx->commit(); !status) return status;
  }
}

Result<std::vector<Fact>> list_facts(Connection& db, int64_t user_id, bool all) {
  auto stmt = db.prepare(fmt::format("SELECT {} FROM facts WHERE user_id = ? {} ORDER BY id", kFactColumns,
                                     all ? "" : "AND status IN ('active', 'pending_confirmation')"));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id);
  return collect(**stmt, read_fact);
}

Result<std::vector<Fact>> facts_for_keys(Connection& db, int64_t user_id,
                                         const std::vector<std::string>& keys) {
  std::vector<std::string> exact;
  bool people = false;
  for (const auto& key : keys) {
    if (key == "person") {
      people = true;
    } else {
      exact.push_back(key);
    }
  }
  auto stmt =
      db.prepare(fmt::format("SELECT {} FROM facts WHERE user_id = ? AND (key IN (SELECT value FROM "
                             "json_each(?)) OR (? AND key LIKE "
                             "'person:%')) ORDER BY id",
                             kFactColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id).bind(2, nlohmann::json(exact).dump()).bind(3, int64_t{people ? 1 : 0});
  return collect(**stmt, read_fact);
}

Result<std::optional<Fact>> find_fact(Connection& db, int64_t user_id, int64_t fact_id) {
  return fact_by_id(db, user_id, fact_id);
}

Result<std::vector<Fact>> write_facts(Connection& db, int64_t user_id, const std::vector<FactWrite>& writes) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  std::vector<Fact> inserted;
  auto update = db.prepare("UPDATE facts SET status = ?1, confirmed_at = ?4 WHERE id = ?2 AND user_id = ?3");
  if (!update) return update.error();
  auto insert = db.prepare(
      "INSERT INTO facts (user_id, key, value, category, source_message_id, confidence, status, "
      "supersedes_id, "
      "created_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
  if (!insert) return insert.error();
  for (const auto& write : writes) {
    for (const auto& [fact_id, status] : write.status_changes) {
      if (!valid_fact_status(status)) return Error::invalid("unknown fact status " + status, "status");
      auto before = fact_by_id(db, user_id, fact_id);
      if (!before) return before.error();
      if (!*before) return Error::not_found(fmt::format("no fact {}", fact_id));
      const bool confirming = write.confirm && status == "active";
      if ((*before)->status == status && !confirming) continue;
      const int64_t confirmed_at = confirming ? unix_millis() : (*before)->confirmed_at;
      (*update)->reset();
      (*update)->bind(1, status).bind(2, fact_id).bind(3, user_id);
      if (confirmed_at) {
        (*update)->bind(4, confirmed_at);
      } else {
        (*update)->bind_null(4);
      }
      if (auto s = (*update)->run(); !s) return s.error();
      Fact after = **before;
      after.status = status;
      after.confirmed_at = confirmed_at;
      if (auto s =
              audit_row(db, user_id, write.actor, confirming ? std::string("fact.confirm") : "fact." + status,
                        fmt::format("fact:{}", fact_id), fact_audit_json(**before), fact_audit_json(after));
          !s) {
        return s.error();
      }
    }
    if (!write.insert) continue;
    Fact fact = *write.insert;
    fact.user_id = user_id;
    if (fact.created_at == 0) fact.created_at = unix_millis();
    if (write.confirm) fact.confirmed_at = fact.created_at;
    if (!valid_fact_status(fact.status))
      return Error::invalid("unknown fact status " + fact.status, "status");
    auto& s = **insert;
    s.reset();
    s.bind(1, user_id).bind(2, fact.key).bind(3, fact.value).bind(4, fact.category);
    if (fact.source_message_id) {
      s.bind(5, fact.source_message_id);
    } else {
      s.bind_null(5);
    }
    s.bind(6, fact.confidence).bind(7, fact.status);
    if (fact.supersedes_id) {
      s.bind(8, fact.supersedes_id);
    } else {
      s.bind_null(8);
    }
    s.bind(9, fact.created_at);
    if (fact.confirmed_at) {
      s.bind(10, fact.confirmed_at);
    } else {
      s.bind_null(10);
    }
    auto row = s.step();
    if (!row) return row.error();
    fact.id = s.column_int(0);
    if (auto done = s.step(); !done) return done.error();
    if (auto st = audit_row(db, user_id, write.actor, "fact.add", fmt::format("fact:{}", fact.id), nullptr,
                            fact_audit_json(fact));
        !st) {
      return st.error();
    }
    inserted.push_back(std::move(fact));
  }
  if (auto status = tx->commit(); !status) return status.error();
  return inserted;
}

namespace {

// The columns both audit readers select, and the row they make: the subject's external id comes from
// users (empty for admin actions, kept under NULL, and for users since erased).
constexpr const char* kAuditColumns =
    "a.id, COALESCE(a.user_id, 0), a.actor, a.action, a.object, COALESCE(a.before_json, ''), "
    "COALESCE(a.after_json, ''), a.at, COALESCE(u.external_id, '') FROM audit a LEFT JOIN users u ON u.id = "
    "a.user_id";

AuditEntry read_audit(Statement& s) {
  return AuditEntry{s.column_int(0),  s.column_int(1),  s.column_text(2), s.column_text(3), s.column_text(4),
                    s.column_text(5), s.column_text(6), s.column_int(7),  s.column_text(8)};
}

}  // namespace

Result<std::vector<AuditEntry>> audit_log(Connection& db, int64_t user_id) {
  auto stmt = db.prepare(fmt::format("SELECT {} WHERE a.user_id = ? ORDER BY a.id", kAuditColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id);
  return collect(**stmt, read_audit);
}

Result<std::vector<AuditEntry>> audit_entries(Connection& db, int64_t after_id, int limit) {
  auto stmt = db.prepare(fmt::format("SELECT {} WHERE a.id > ? ORDER BY a.id LIMIT ?", kAuditColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, after_id).bind(2, static_cast<int64_t>(limit));
  return collect(**stmt, read_audit);
}

Status append_audit(Connection& db, const AuditEntry& entry) {
  auto stmt = db.prepare(
      "INSERT INTO audit (user_id, actor, action, object, before_json, after_json, at) VALUES (?, ?, ?, ?, "
      "?, ?, "
      "?)");
  if (!stmt) return stmt.error();
  auto& s = **stmt;
  if (entry.user_id) {
    s.bind(1, entry.user_id);
  } else {
    s.bind_null(1);
  }
  s.bind(2, entry.actor).bind(3, entry.action).bind(4, entry.object);
  if (entry.before_json.empty()) {
    s.bind_null(5);
  } else {
    s.bind(5, entry.before_json);
  }
  if (entry.after_json.empty()) {
    s.bind_null(6);
  } else {
    s.bind(6, entry.after_json);
  }
  s.bind(7, entry.at ? entry.at : unix_millis());
  return s.run();
}

Result<std::optional<Summary>> summary(Connection& db, int64_t user_id) {
  auto stmt = db.prepare("SELECT user_id, upto_seq, text FROM summaries WHERE user_id = ?");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id);
  auto rows = collect(**stmt, [](Statement& s) {
    return Summary{s.column_int(0), s.column_int(1), s.column_text(2)};
  });
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Summary>{};
  return std::optional<Summary>{std::move(rows->front())};
}

Status put_summary(Connection& db, const Summary& summary) {
  auto stmt = db.prepare(
      "INSERT INTO summaries (user_id, upto_seq, text) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
      "upto_seq = excluded.upto_seq, text = excluded.text");
  if (!stmt) return stmt.error();
  return (*stmt)->bind(1, summary.user_id).bind(2, summary.upto_seq).bind(3, summary.text).run();
}

Result<std::vector<UsageRow>> usage(Connection& db, int64_t user_id) {
  auto stmt = db.prepare(
      "SELECT day, assistant, input_tokens, output_tokens, cost_usd FROM usage WHERE user_id = ? ORDER BY "
      "day, "
      "assistant");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id);
  return collect(**stmt, [](Statement& s) {
    return UsageRow{s.column_text(0), s.column_text(1), s.column_int(2), s.column_int(3), s.column_double(4)};
  });
}

Status erase_user(Connection& db, int64_t user_id, std::string_view actor) {
  {
    auto tx = Transaction::begin(db);
    if (!tx) return tx.error();
    // Children first and explicitly (not by cascade) so the FTS delete triggers see every row.
    for (const char* sql : {"DELETE FROM facts WHERE user_id = ?", "DELETE FROM messages WHERE user_id = ?",
                            "DELETE FROM audit WHERE user_id = ?", "DELETE FROM summaries WHERE user_id = ?",
                            "DELETE FROM usage WHERE user_id = ?", "DELETE FROM responses WHERE user_id = ?",
                            "DELETE FROM uploads WHERE user_id = ?", "DELETE FROM api_keys WHERE user_id = ?",
                            "DELETE FROM stores WHERE owner_user_id = ?", "DELETE FROM users WHERE id = ?"}) {
      auto stmt = db.prepare(sql);
      if (!stmt) return stmt.error();
      if (auto status = (*stmt)->bind(1, user_id).run(); !status) return status;
    }
    // Deleting from FTS5 only records tombstones; merging every segment drops the erased terms.
    if (auto status = db.exec("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')"); !status)
      return status;
    AuditEntry entry;
    entry.actor = std::string(actor);
    entry.action = "user.erase";
    entry.object = fmt::format("user:{}", user_id);
    entry.at = unix_millis();
    if (auto status = append_audit(db, entry); !status) return status;
    if (auto status = tx->commit(); !status) return status;
  }
  // The erased rows' old pages may still sit in the write-ahead log: copy it into the (securely
  // overwritten) database and truncate it.
  return db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

}  // namespace brandcoach::store::sqlite::memory
