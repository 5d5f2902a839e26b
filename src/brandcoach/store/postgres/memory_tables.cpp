#include "brandcoach/store/postgres/memory_tables.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "brandcoach/store/fact_rows.hpp"
#include "brandcoach/store/postgres/connection.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::store::postgres::memory {

namespace {

// ---------------------------------------------------------------------------------------------
// Small conversions

/// SQLite reads a negative LIMIT as "no limit", PostgreSQL rejects it; LIMIT NULL is its "all".
std::optional<int64_t> row_limit(int64_t limit) {
  if (limit < 0) return std::nullopt;
  return limit;
}

std::optional<std::string> null_if_empty(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

std::optional<int64_t> null_if_zero(int64_t value) {
  if (value == 0) return std::nullopt;
  return value;
}

std::string utc_day(int64_t unix_ms) {
  return iso_time(unix_ms).substr(0, 10);
}

// ---------------------------------------------------------------------------------------------
// Users

constexpr const char* kUserColumns = "id, external_id, display_name, role, created_at, new_session_requested";

User read_user(const pqxx::row& row) {
  return User{row[0].as<int64_t>(), text(row[1]),         text(row[2]),
              text(row[3]),         row[4].as<int64_t>(), row[5].as<bool>()};
}

std::optional<User> user_by_external_id(pqxx::transaction_base& tx, std::string_view external_id) {
  auto rows = exec(tx, fmt::format("SELECT {} FROM users WHERE external_id = $1", kUserColumns), external_id);
  if (rows.empty()) return std::nullopt;
  return read_user(rows[0]);
}

// ---------------------------------------------------------------------------------------------
// Messages

constexpr const char* kMessageColumns =
    "id, user_id, seq, role, text, assistant, route_json, citations_json, usage_json, created_at, "
    "session_no, COALESCE(external_id, ''), speaker, ts_text";

// The columns read_message reads; a brief read leaves a reply's route and citations out.
std::string message_columns(const ThreadRead& read) {
  if (!read.brief) return kMessageColumns;
  return "id, user_id, seq, role, text, assistant, '{}', '[]', usage_json, created_at, "
         "session_no, COALESCE(external_id, ''), speaker, ts_text";
}

std::string thread_filter(const ThreadRead& read) {
  return read.users_only ? " AND role = 'user'" : "";
}

Message read_message(const pqxx::row& row) {
  Message m;
  m.id = row[0].as<int64_t>();
  m.user_id = row[1].as<int64_t>();
  m.seq = row[2].as<int64_t>();
  m.role = text(row[3]);
  m.text = text(row[4]);
  m.assistant = text(row[5]);
  m.route_json = text(row[6]);
  m.citations_json = text(row[7]);
  m.usage_json = text(row[8]);
  m.created_at = row[9].as<int64_t>();
  m.session_no = row[10].as<int64_t>();
  m.external_id = text(row[11]);
  m.speaker = text(row[12]);
  m.ts_text = text(row[13]);
  return m;
}

std::vector<Message> read_messages(const pqxx::result& rows) {
  std::vector<Message> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(read_message(row));
  return out;
}

/// The stems the `search` column indexes: the text module's, the same function whose stems
/// search_messages looks for, so index and query always agree on what a word is.
std::string message_terms(const Message& message) {
  if (!message.searchable) return {};
  return text::index_terms(message.text);
}

/// Locks the users' rows (ids sorted, so two writers of the same users never wait on each other in
/// opposite orders) and returns (id, new_session_requested) of those that exist. Every writer of a
/// thread holds its user's row until commit, so the seq it reads next is final across all server
/// processes. NO KEY UPDATE excludes the other appenders (and erase_user's delete) but not the key
/// share locks that inserts into other tables referencing the user take.
std::map<int64_t, bool> lock_users(pqxx::transaction_base& tx, const std::vector<int64_t>& sorted_ids) {
  auto rows = exec(tx,
                   "SELECT id, new_session_requested FROM users WHERE id = ANY($1::bigint[]) ORDER BY id "
                   "FOR NO KEY UPDATE",
                   int_array(sorted_ids));
  std::map<int64_t, bool> users;
  for (const auto& row : rows) users.emplace(row[0].as<int64_t>(), row[1].as<bool>());
  return users;
}

/// A user message opens the session a user asked for: the request is used up.
void clear_new_session_requests(pqxx::transaction_base& tx, const std::vector<int64_t>& user_ids) {
  if (user_ids.empty()) return;
  exec(tx,
       "UPDATE users SET new_session_requested = FALSE WHERE id = ANY($1::bigint[]) AND "
       "new_session_requested",
       int_array(user_ids));
}

void add_usage(pqxx::transaction_base& tx, int64_t user_id, const std::string& day, const UsageTally& usage) {
  exec(tx,
       "INSERT INTO usage (user_id, day, assistant, input_tokens, output_tokens, cost_usd) VALUES ($1, $2, "
       "$3, $4, $5, $6) ON CONFLICT (user_id, day, assistant) DO UPDATE SET input_tokens = "
       "usage.input_tokens + excluded.input_tokens, output_tokens = usage.output_tokens + "
       "excluded.output_tokens, cost_usd = usage.cost_usd + excluded.cost_usd",
       user_id, day, usage.assistant, usage.input_tokens, usage.output_tokens, usage.cost_usd);
}

// Rows per INSERT of an import: large enough that round trips stop mattering, small enough that
// one statement's arrays stay a few megabytes.
constexpr size_t kInsertBatch = 1000;

/// Inserts messages whose user_id, seq and created_at are set, in one statement; fills in their ids.
void insert_message_batch(pqxx::transaction_base& tx, std::vector<Message>& batch) {
  std::vector<int64_t> user_ids, seqs, created_at, session_no;
  std::vector<std::string> role, body, assistant, route, citations, usage, external_id, speaker, ts_text,
      terms;
  for (const auto& m : batch) {
    user_ids.push_back(m.user_id);
    seqs.push_back(m.seq);
    created_at.push_back(m.created_at);
    session_no.push_back(m.session_no);
    role.push_back(m.role);
    body.push_back(m.text);
    assistant.push_back(m.assistant);
    route.push_back(m.route_json);
    citations.push_back(m.citations_json);
    usage.push_back(m.usage_json);
    external_id.push_back(m.external_id);
    speaker.push_back(m.speaker);
    ts_text.push_back(m.ts_text);
    terms.push_back(message_terms(m));
  }
  // ORDER BY the ordinality: ids are drawn in the order of the batch, as one insert at a time would.
  auto rows =
      exec(tx,
           "INSERT INTO messages (user_id, seq, role, text, assistant, route_json, citations_json, "
           "usage_json, created_at, session_no, external_id, speaker, ts_text, terms) SELECT user_id, "
           "seq, role, text, assistant, route_json, citations_json, usage_json, created_at, "
           "session_no, NULLIF(external_id, ''), speaker, ts_text, terms FROM unnest($1::bigint[], "
           "$2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
           "$9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[]) WITH "
           "ORDINALITY AS m(user_id, seq, role, text, assistant, route_json, citations_json, "
           "usage_json, created_at, session_no, external_id, speaker, ts_text, terms, ord) ORDER BY "
           "ord RETURNING user_id, seq, id",
           int_array(user_ids), int_array(seqs), text_array(role), text_array(body), text_array(assistant),
           text_array(route), text_array(citations), text_array(usage), int_array(created_at),
           int_array(session_no), text_array(external_id), text_array(speaker), text_array(ts_text),
           text_array(terms));
  // RETURNING promises no order: (user, seq) is unique, so it says which row got which id.
  std::map<std::pair<int64_t, int64_t>, int64_t> ids;
  for (const auto& row : rows) ids[{row[0].as<int64_t>(), row[1].as<int64_t>()}] = row[2].as<int64_t>();
  for (auto& m : batch) m.id = ids.at({m.user_id, m.seq});
}

/// Queues extraction jobs for these messages, in their order (claims take the oldest job first).
void queue_jobs(pqxx::transaction_base& tx, const std::vector<Message>& messages) {
  if (messages.empty()) return;
  std::vector<int64_t> user_ids, message_ids;
  for (const auto& m : messages) {
    user_ids.push_back(m.user_id);
    message_ids.push_back(m.id);
  }
  exec(tx,
       "INSERT INTO extraction_jobs (user_id, message_id) SELECT user_id, message_id FROM "
       "unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS j(user_id, message_id, ord) ORDER BY ord",
       int_array(user_ids), int_array(message_ids));
}

/// The last seq of each user's thread (0 for an empty one). Only final while the users are locked.
std::map<int64_t, int64_t> last_seqs(pqxx::transaction_base& tx, const std::vector<int64_t>& user_ids) {
  std::map<int64_t, int64_t> last;
  for (int64_t id : user_ids) last[id] = 0;
  auto rows =
      exec(tx, "SELECT user_id, MAX(seq) FROM messages WHERE user_id = ANY($1::bigint[]) GROUP BY user_id",
           int_array(user_ids));
  for (const auto& row : rows) last[row[0].as<int64_t>()] = row[1].as<int64_t>();
  return last;
}

// ---------------------------------------------------------------------------------------------
// Facts and audit

constexpr const char* kFactColumns =
    "id, user_id, key, value, category, COALESCE(source_message_id, 0), confidence, status, "
    "COALESCE(supersedes_id, 0), created_at, COALESCE(confirmed_at, 0)";

Fact read_fact(const pqxx::row& row) {
  Fact f;
  f.id = row[0].as<int64_t>();
  f.user_id = row[1].as<int64_t>();
  f.key = text(row[2]);
  f.value = text(row[3]);
  f.category = text(row[4]);
  f.source_message_id = row[5].as<int64_t>();
  f.confidence = row[6].as<double>();
  f.status = text(row[7]);
  f.supersedes_id = row[8].as<int64_t>();
  f.created_at = row[9].as<int64_t>();
  f.confirmed_at = row[10].as<int64_t>();
  return f;
}

std::vector<Fact> read_facts(const pqxx::result& rows) {
  std::vector<Fact> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(read_fact(row));
  return out;
}

/// The user's fact, locked until commit: a concurrent change of the same fact waits, so the audit
/// row's "before" is what this change replaced.
std::optional<Fact> lock_fact(pqxx::transaction_base& tx, int64_t user_id, int64_t fact_id) {
  auto rows =
      exec(tx, fmt::format("SELECT {} FROM facts WHERE user_id = $1 AND id = $2 FOR UPDATE", kFactColumns),
           user_id, fact_id);
  if (rows.empty()) return std::nullopt;
  return read_fact(rows[0]);
}

void insert_audit(pqxx::transaction_base& tx, const AuditEntry& entry) {
  // 0 is "about no user" (SQLite stores NULL there); empty JSON is NULL as in SQLite.
  exec(tx,
       "INSERT INTO audit (user_id, actor, action, object, before_json, after_json, at) VALUES ($1, $2, $3, "
       "$4, $5, $6, $7)",
       entry.user_id, entry.actor, entry.action, entry.object, null_if_empty(entry.before_json),
       null_if_empty(entry.after_json), entry.at ? entry.at : unix_millis());
}

void audit_row(pqxx::transaction_base& tx, int64_t user_id, std::string_view actor, std::string_view action,
               std::string_view object, const nlohmann::json& before, const nlohmann::json& after) {
  insert_audit(tx, audit_entry(user_id, actor, action, object, before, after));
}

/// One status change of a write_facts step (skipped when it changes nothing), with its audit row.
Status change_fact_status(pqxx::transaction_base& tx, int64_t user_id, const FactWrite& write,
                          int64_t fact_id, const std::string& status) {
  if (!valid_fact_status(status)) return Error::invalid("unknown fact status " + status, "status");
  auto before = lock_fact(tx, user_id, fact_id);
  if (!before) return Error::not_found(fmt::format("no fact {}", fact_id));
  const bool confirming = write.confirm && status == "active";
  if (before->status == status && !confirming) return ok();
  const int64_t confirmed_at = confirming ? unix_millis() : before->confirmed_at;
  exec(tx, "UPDATE facts SET status = $1, confirmed_at = $2 WHERE user_id = $3 AND id = $4", status,
       null_if_zero(confirmed_at), user_id, fact_id);
  Fact after = *before;
  after.status = status;
  after.confirmed_at = confirmed_at;
  audit_row(tx, user_id, write.actor, confirming ? std::string("fact.confirm") : "fact." + status,
            fmt::format("fact:{}", fact_id), fact_audit_json(*before), fact_audit_json(after));
  return ok();
}

/// The new fact version of a write_facts step, with its audit row.
Result<Fact> insert_fact(pqxx::transaction_base& tx, int64_t user_id, const FactWrite& write) {
  Fact fact = *write.insert;
  fact.user_id = user_id;
  if (fact.created_at == 0) fact.created_at = unix_millis();
  if (write.confirm) fact.confirmed_at = fact.created_at;
  if (!valid_fact_status(fact.status)) return Error::invalid("unknown fact status " + fact.status, "status");
  auto rows = exec(
      tx,
      "INSERT INTO facts (user_id, key, value, category, source_message_id, confidence, status, "
      "supersedes_id, created_at, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
      "RETURNING id",
      user_id, fact.key, fact.value, fact.category, null_if_zero(fact.source_message_id), fact.confidence,
      fact.status, null_if_zero(fact.supersedes_id), fact.created_at, null_if_zero(fact.confirmed_at));
  fact.id = rows[0][0].as<int64_t>();
  audit_row(tx, user_id, write.actor, "fact.add", fmt::format("fact:{}", fact.id), nullptr,
            fact_audit_json(fact));
  return fact;
}

// ---------------------------------------------------------------------------------------------
// Analytics

/// A number from the message's usage JSON (`u`) read as SQLite's json_extract reads it: a number as
/// itself, true/false as 1/0, a missing key or JSON null as `fallback`, any other value as 0.
std::string usage_number(std::string_view path, std::string_view fallback) {
  return fmt::format(
      "CASE COALESCE(jsonb_typeof(u #> '{0}'), 'null') WHEN 'number' THEN (u #>> '{0}')::float8 WHEN "
      "'boolean' THEN CASE WHEN (u #>> '{0}')::boolean THEN 1 ELSE 0 END WHEN 'null' THEN {1} ELSE 0 END",
      path, fallback);
}

/// As usage_number, truncated to an integer as SQLite's column_int does.
std::string usage_integer(std::string_view path, std::string_view fallback) {
  return fmt::format("trunc({})::bigint", usage_number(path, fallback));
}

// ---------------------------------------------------------------------------------------------
// Erasure

// Every table that holds one user's rows under user_id, all of them hash-partitioned by it.
constexpr const char* kPerUserTables[] = {"facts", "messages",        "audit",   "summaries",
                                          "usage", "extraction_jobs", "uploads", "responses"};

/// Deletes the user's rows of a per-user table; returns the partitions that held them (as quoted,
/// schema-qualified-when-needed names), the only ones a VACUUM needs to visit.
std::vector<std::string> delete_user_rows(pqxx::transaction_base& tx, std::string_view table,
                                          int64_t user_id) {
  // The audit rows with user 0 are about no user (admin actions): never anyone's to erase.
  auto rows =
      exec(tx,
           fmt::format("WITH gone AS (DELETE FROM {} WHERE user_id = $1 AND user_id <> 0 RETURNING tableoid) "
                       "SELECT DISTINCT tableoid::regclass::text FROM gone",
                       table),
           user_id);
  std::vector<std::string> partitions;
  for (const auto& row : rows) partitions.push_back(text(row[0]));
  return partitions;
}

/// Deletes everything of the user in one transaction and records the erasure; returns the tables
/// whose dead rows and index entries a VACUUM should remove.
std::vector<std::string> delete_user(pqxx::connection& db, int64_t user_id, std::string_view actor) {
  pqxx::work tx(db);
  // Appends to the thread hold the same row: none is half-way through while the rows go.
  exec(tx, "SELECT id FROM users WHERE id = $1 FOR UPDATE", user_id);
  std::set<std::string> dirty;
  for (const char* table : kPerUserTables) {
    for (auto& partition : delete_user_rows(tx, table, user_id)) dirty.insert(std::move(partition));
  }
  if (exec(tx, "DELETE FROM api_keys WHERE user_id = $1", user_id).affected_rows() > 0)
    dirty.insert("api_keys");
  // Files and chunks of the user's own stores go by cascade; their text is the user's too.
  if (exec(tx, "DELETE FROM stores WHERE owner_user_id = $1", user_id).affected_rows() > 0) {
    dirty.insert({"stores", "files", "chunks"});
  }
  if (exec(tx, "DELETE FROM users WHERE id = $1", user_id).affected_rows() > 0) dirty.insert("users");
  AuditEntry entry;
  entry.actor = std::string(actor);
  entry.action = "user.erase";
  entry.object = fmt::format("user:{}", user_id);
  entry.at = unix_millis();
  insert_audit(tx, entry);
  tx.commit();
  return {dirty.begin(), dirty.end()};
}

/// Removes the erased rows' dead tuples and their index entries (GIN entries included: VACUUM
/// first merges a GIN index's pending list) from the tables that held them. INDEX_CLEANUP ON,
/// because by default a VACUUM that finds few dead rows may skip the indexes and leave the
/// entries. A plain VACUUM cannot run in a transaction block, and it does not overwrite the freed
/// space (only VACUUM FULL rewrites a table, under an exclusive lock).
Status vacuum(pqxx::connection& db, const std::vector<std::string>& tables) {
  if (tables.empty()) return ok();
  try {
    pqxx::nontransaction tx(db);
    tx.exec0(fmt::format("VACUUM (INDEX_CLEANUP ON) {}", fmt::join(tables, ", ")));
    return ok();
  } catch (const pqxx::broken_connection& error) {
    // The erasure is committed: a retry of the whole call must not run it (and audit it) again.
    // As an in-doubt failure the pool drops the connection and reports the server unavailable.
    throw pqxx::in_doubt_error(std::string("vacuum after erasing a user: ") + error.what());
  } catch (const pqxx::sql_error& error) {
    return pg_error(error, "vacuum after erasing a user");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Users

Result<User> ensure_user(pqxx::connection& db, std::string_view external_id) {
  pqxx::work tx(db);
  // Look first: an insert that conflicts would still use up a value of the id sequence.
  if (auto known = user_by_external_id(tx, external_id)) {
    tx.commit();
    return *known;
  }
  auto inserted = exec(tx,
                       fmt::format("INSERT INTO users (external_id, created_at) VALUES ($1, $2) ON CONFLICT "
                                   "(external_id) DO NOTHING RETURNING {}",
                                   kUserColumns),
                       external_id, unix_millis());
  // Nothing inserted: another process created the user meanwhile. The insert waited for that
  // commit, and a new statement (read committed) sees its row.
  auto user = inserted.empty() ? user_by_external_id(tx, external_id) : read_user(inserted[0]);
  tx.commit();
  if (!user) return Error::internal(fmt::format("user {} vanished while being created", external_id));
  return *user;
}

Result<std::optional<User>> find_user(pqxx::connection& db, std::string_view external_id) {
  pqxx::read_transaction tx(db);
  return user_by_external_id(tx, external_id);
}

Status set_display_name(pqxx::connection& db, int64_t user_id, std::string_view display_name) {
  pqxx::work tx(db);
  exec(tx, "UPDATE users SET display_name = $1 WHERE id = $2", display_name, user_id);
  tx.commit();
  return ok();
}

Status request_new_session(pqxx::connection& db, int64_t user_id) {
  pqxx::work tx(db);
  exec(tx, "UPDATE users SET new_session_requested = TRUE WHERE id = $1", user_id);
  tx.commit();
  return ok();
}

Result<std::vector<UserSummary>> list_users(pqxx::connection& db, std::string_view after_user, int limit) {
  pqxx::read_transaction tx(db);
  auto rows = exec(tx,
                   "SELECT u.external_id, u.display_name, u.created_at, "
                   "(SELECT COUNT(*) FROM messages m WHERE m.user_id = u.id), "
                   "(SELECT COALESCE(MAX(m.created_at), 0) FROM messages m WHERE m.user_id = u.id), "
                   "(SELECT COUNT(*) FROM facts f WHERE f.user_id = u.id AND f.status = 'active'), "
                   "(SELECT COALESCE(SUM(g.input_tokens + g.output_tokens), 0)::bigint FROM usage g WHERE "
                   "g.user_id = u.id), "
                   "(SELECT COALESCE(SUM(g.cost_usd), 0) FROM usage g WHERE g.user_id = u.id) "
                   "FROM users u WHERE u.id > COALESCE((SELECT id FROM users WHERE external_id = $1), 0) "
                   "ORDER BY u.id LIMIT $2",
                   after_user, row_limit(limit));
  std::vector<UserSummary> users;
  users.reserve(rows.size());
  for (const auto& r : rows) {
    users.push_back(UserSummary{text(r[0]), text(r[1]), r[2].as<int64_t>(), r[3].as<int64_t>(),
                                r[4].as<int64_t>(), r[5].as<int64_t>(), r[6].as<int64_t>(),
                                r[7].as<double>()});
  }
  return users;
}

Result<std::vector<ReplyRecord>> replies_since(pqxx::connection& db, int64_t from_ms) {
  pqxx::read_transaction tx(db);
  auto rows =
      exec(tx,
           fmt::format("SELECT user_id, session_no, created_at, assistant, {}, {}, {}, {}, {}, CASE WHEN "
                       "jsonb_typeof(u -> 'memory_used') = 'array' THEN jsonb_array_length(u -> "
                       "'memory_used') ELSE 0 END, {}, route_json FROM (SELECT id, user_id, session_no, "
                       "created_at, assistant, route_json, usage_json::jsonb AS u FROM messages WHERE role = "
                       "'assistant' AND created_at >= $1) AS replies ORDER BY created_at, id",
                       usage_number("{timings_ms,total}", "0"), usage_integer("{input_tokens}", "0"),
                       usage_integer("{output_tokens}", "0"), usage_number("{cost_usd}", "0"),
                       usage_integer("{memory_question}", "-1"), usage_integer("{degraded}", "0")),
           from_ms);
  std::vector<ReplyRecord> replies;
  replies.reserve(rows.size());
  for (const auto& row : rows) {
    ReplyRecord r;
    r.user_id = row[0].as<int64_t>();
    r.session_no = row[1].as<int64_t>();
    r.created_at = row[2].as<int64_t>();
    r.assistant = text(row[3]);
    r.total_ms = row[4].as<double>();
    r.input_tokens = row[5].as<int64_t>();
    r.output_tokens = row[6].as<int64_t>();
    r.cost_usd = row[7].as<double>();
    r.memory_question = static_cast<int>(row[8].as<int64_t>());
    r.memory_used = row[9].as<int64_t>() > 0;
    r.degraded = row[10].as<int64_t>() != 0;
    r.route_json = text(row[11]);
    replies.push_back(std::move(r));
  }
  return replies;
}

Result<std::vector<UsageTotal>> usage_totals(pqxx::connection& db, std::string_view from_day,
                                             std::string_view to_day) {
  pqxx::read_transaction tx(db);
  // COLLATE "C": byte order, as SQLite sorts and compares text, whatever the database's locale.
  auto rows =
      exec(tx,
           "SELECT g.day, g.assistant, u.external_id, g.input_tokens, g.output_tokens, g.cost_usd FROM "
           "usage g JOIN users u ON u.id = g.user_id WHERE ($1::text = '' OR g.day >= $1::text COLLATE "
           "\"C\") AND ($2::text = '' OR g.day <= $2::text COLLATE \"C\") ORDER BY g.day COLLATE \"C\", "
           "g.assistant COLLATE \"C\", u.external_id COLLATE \"C\"",
           from_day, to_day);
  std::vector<UsageTotal> totals;
  totals.reserve(rows.size());
  for (const auto& r : rows) {
    totals.push_back(UsageTotal{text(r[0]), text(r[1]), text(r[2]), r[3].as<int64_t>(), r[4].as<int64_t>(),
                                r[5].as<double>()});
  }
  return totals;
}

// ---------------------------------------------------------------------------------------------
// The thread

Result<Message> append_message(pqxx::connection& db, const Message& input,
                               const std::optional<UsageTally>& usage, bool queue_extraction) {
  pqxx::work tx(db);
  Message message = input;
  if (message.created_at == 0) message.created_at = unix_millis();
  const auto locked = lock_users(tx, {message.user_id});
  // The user's row is locked: this statement's snapshot holds every earlier append of the thread.
  auto row =
      exec(tx,
           "INSERT INTO messages (user_id, seq, role, text, assistant, route_json, citations_json, "
           "usage_json, created_at, session_no, external_id, speaker, ts_text, terms) VALUES ($1, (SELECT "
           "COALESCE(MAX(seq), 0) + 1 FROM messages WHERE user_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, "
           "$10, $11, $12, $13) RETURNING id, seq",
           message.user_id, message.role, message.text, message.assistant, message.route_json,
           message.citations_json, message.usage_json, message.created_at, message.session_no,
           null_if_empty(message.external_id), message.speaker, message.ts_text, message_terms(message));
  message.id = row[0][0].as<int64_t>();
  message.seq = row[0][1].as<int64_t>();
  const auto user = locked.find(message.user_id);
  if (message.role == "user" && user != locked.end() && user->second) {
    clear_new_session_requests(tx, {message.user_id});
  }
  if (queue_extraction) queue_jobs(tx, {message});
  if (usage) add_usage(tx, message.user_id, utc_day(message.created_at), *usage);
  tx.commit();
  return message;
}

Result<std::vector<Message>> append_messages(pqxx::connection& db, const std::vector<Message>& messages,
                                             bool queue_extraction) {
  if (messages.empty()) return std::vector<Message>{};
  pqxx::work tx(db);
  std::vector<int64_t> user_ids;
  for (const auto& m : messages) user_ids.push_back(m.user_id);
  std::sort(user_ids.begin(), user_ids.end());
  user_ids.erase(std::unique(user_ids.begin(), user_ids.end()), user_ids.end());
  const auto locked = lock_users(tx, user_ids);
  auto seq = last_seqs(tx, user_ids);

  std::vector<Message> stored;
  stored.reserve(messages.size());
  std::vector<int64_t> opened_sessions;  // users whose pending new-session request a message uses up
  for (size_t start = 0; start < messages.size(); start += kInsertBatch) {
    const size_t end = std::min(messages.size(), start + kInsertBatch);
    std::vector<Message> batch(messages.begin() + static_cast<ptrdiff_t>(start),
                               messages.begin() + static_cast<ptrdiff_t>(end));
    for (auto& m : batch) {
      if (m.created_at == 0) m.created_at = unix_millis();
      m.seq = ++seq[m.user_id];
    }
    insert_message_batch(tx, batch);
    std::vector<Message> to_extract;
    for (auto& m : batch) {
      if (m.role != "user") continue;
      if (queue_extraction) to_extract.push_back(m);
      const auto user = locked.find(m.user_id);
      if (user != locked.end() && user->second) opened_sessions.push_back(m.user_id);
    }
    queue_jobs(tx, to_extract);
    for (auto& m : batch) stored.push_back(std::move(m));
  }
  std::sort(opened_sessions.begin(), opened_sessions.end());
  opened_sessions.erase(std::unique(opened_sessions.begin(), opened_sessions.end()), opened_sessions.end());
  clear_new_session_requests(tx, opened_sessions);
  tx.commit();
  return stored;
}

Result<std::optional<ExtractionJob>> claim_extraction_job(pqxx::connection& db, int64_t now_ms,
                                                          int64_t lease_ms) {
  pqxx::work tx(db);
  // SKIP LOCKED: a job another node is claiming right now is passed over, never claimed twice.
  auto claimed =
      exec(tx,
           "UPDATE extraction_jobs j SET attempts = j.attempts + 1, not_before = $2 FROM (SELECT "
           "user_id, id FROM extraction_jobs WHERE not_before <= $1 ORDER BY not_before, id LIMIT 1 "
           "FOR UPDATE SKIP LOCKED) AS due WHERE j.user_id = due.user_id AND j.id = due.id "
           "RETURNING j.id, j.attempts, j.user_id, j.message_id",
           now_ms, now_ms + lease_ms);
  if (claimed.empty()) return std::optional<ExtractionJob>{};
  ExtractionJob job;
  job.id = claimed[0][0].as<int64_t>();
  job.attempts = claimed[0][1].as<int64_t>();
  auto message =
      exec(tx, fmt::format("SELECT {} FROM messages WHERE user_id = $1 AND id = $2", kMessageColumns),
           claimed[0][2].as<int64_t>(), claimed[0][3].as<int64_t>());
  // Not committed: the claim is undone, as in SQLite.
  if (message.empty()) return Error::not_found("the queued message is gone");
  job.message = read_message(message[0]);
  tx.commit();
  return std::optional<ExtractionJob>{std::move(job)};
}

Status finish_extraction_job(pqxx::connection& db, int64_t job_id) {
  pqxx::work tx(db);
  exec(tx, "DELETE FROM extraction_jobs WHERE id = $1", job_id);
  tx.commit();
  return ok();
}

Status retry_extraction_job(pqxx::connection& db, int64_t job_id, int64_t not_before_ms,
                            std::string_view error) {
  pqxx::work tx(db);
  exec(tx, "UPDATE extraction_jobs SET not_before = $1, last_error = $2 WHERE id = $3", not_before_ms,
       text::utf8_prefix(error, 500), job_id);
  tx.commit();
  return ok();
}

Result<Activity> activity(pqxx::connection& db, const std::vector<int64_t>& since_ms) {
  pqxx::read_transaction tx(db);
  Activity out;
  for (const auto& row : exec(tx, "SELECT status, COUNT(*) FROM facts GROUP BY status"))
    out.facts_by_status[text(row[0])] = row[1].as<int64_t>();
  for (const int64_t since : since_ms) {
    out.users_active.push_back(
        exec(tx, "SELECT COUNT(DISTINCT user_id) FROM messages WHERE role = 'assistant' AND created_at >= $1",
             since)[0][0]
            .as<int64_t>());
  }
  return out;
}

Result<int64_t> pending_extraction_jobs(pqxx::connection& db) {
  pqxx::read_transaction tx(db);
  return exec(tx, "SELECT COUNT(*) FROM extraction_jobs")[0][0].as<int64_t>();
}

Result<std::vector<Message>> recent_messages(pqxx::connection& db, int64_t user_id, int limit,
                                             ThreadRead read) {
  pqxx::read_transaction tx(db);
  auto out = read_messages(
      exec(tx,
           fmt::format("SELECT {} FROM messages WHERE user_id = $1{} ORDER BY seq DESC LIMIT $2",
                       message_columns(read), thread_filter(read)),
           user_id, row_limit(limit)));
  std::reverse(out.begin(), out.end());
  return out;
}

Result<int64_t> last_seq(pqxx::connection& db, int64_t user_id) {
  pqxx::read_transaction tx(db);
  return exec(tx, "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE user_id = $1", user_id)[0][0]
      .as<int64_t>();
}

Result<int64_t> message_count(pqxx::connection& db, int64_t user_id) {
  pqxx::read_transaction tx(db);
  return exec(tx, "SELECT COUNT(*) FROM messages WHERE user_id = $1", user_id)[0][0].as<int64_t>();
}

Result<std::vector<Message>> messages_between(pqxx::connection& db, int64_t user_id, int64_t after_seq,
                                              int64_t upto_seq, int64_t limit, ThreadRead read) {
  pqxx::read_transaction tx(db);
  return read_messages(exec(
      tx,
      fmt::format(
          "SELECT {} FROM messages WHERE user_id = $1 AND seq > $2 AND seq <= $3{} ORDER BY seq LIMIT $4",
          message_columns(read), thread_filter(read)),
      user_id, after_seq, upto_seq, row_limit(limit)));
}

Result<std::vector<Message>> messages_by_id(pqxx::connection& db, int64_t user_id,
                                            const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<Message>{};
  pqxx::read_transaction tx(db);
  return read_messages(
      exec(tx,
           fmt::format("SELECT {} FROM messages WHERE user_id = $1 AND id = ANY($2::bigint[]) ORDER BY id",
                       kMessageColumns),
           user_id, int_array(ids)));
}

Result<std::optional<Message>> find_imported_message(pqxx::connection& db, int64_t user_id,
                                                     std::string_view external_id) {
  pqxx::read_transaction tx(db);
  auto rows = exec(
      tx, fmt::format("SELECT {} FROM messages WHERE user_id = $1 AND external_id = $2", kMessageColumns),
      user_id, external_id);
  if (rows.empty()) return std::optional<Message>{};
  return std::optional<Message>{read_message(rows[0])};
}

Result<std::vector<MessageHit>> search_messages(pqxx::connection& db, int64_t user_id, std::string_view query,
                                                int limit) {
  const auto terms = text::query_terms(query);
  if (terms.empty() || limit <= 0) return std::vector<MessageHit>{};
  pqxx::read_transaction tx(db);
  // The user filter prunes to the user's partition and sits inside the ranked query, so another
  // user's messages can never be returned (nor crowd this user's out of the top list). Rank
  // normalisation 1 divides by 1 + log(length), as BM25 discounts long messages.
  auto rows =
      exec(tx,
           fmt::format("SELECT {}, ts_rank_cd(search, q, 1) AS rank FROM messages, to_tsquery('simple', $2) "
                       "AS q WHERE user_id = $1 AND search @@ q ORDER BY rank DESC, id LIMIT $3",
                       kMessageColumns),
           user_id, tsquery_text(terms), int64_t{limit});
  std::vector<MessageHit> hits;
  hits.reserve(rows.size());
  for (const auto& row : rows) hits.push_back(MessageHit{read_message(row), row[14].as<double>()});
  return hits;
}

// ---------------------------------------------------------------------------------------------
// Facts, audit, summaries, usage

Result<std::vector<Fact>> list_facts(pqxx::connection& db, int64_t user_id, bool all) {
  pqxx::read_transaction tx(db);
  return read_facts(exec(tx,
                         fmt::format("SELECT {} FROM facts WHERE user_id = $1 {} ORDER BY id", kFactColumns,
                                     all ? "" : "AND status IN ('active', 'pending_confirmation')"),
                         user_id));
}

Result<std::vector<Fact>> facts_for_keys(pqxx::connection& db, int64_t user_id,
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
  pqxx::read_transaction tx(db);
  return read_facts(exec(tx,
                         fmt::format("SELECT {} FROM facts WHERE user_id = $1 AND (key = ANY($2::text[]) OR "
                                     "($3::boolean AND key LIKE 'person:%')) ORDER BY id",
                                     kFactColumns),
                         user_id, text_array(exact), people));
}

Result<std::optional<Fact>> find_fact(pqxx::connection& db, int64_t user_id, int64_t fact_id) {
  pqxx::read_transaction tx(db);
  auto rows = exec(tx, fmt::format("SELECT {} FROM facts WHERE user_id = $1 AND id = $2", kFactColumns),
                   user_id, fact_id);
  if (rows.empty()) return std::optional<Fact>{};
  return std::optional<Fact>{read_fact(rows[0])};
}

Result<std::vector<Fact>> write_facts(pqxx::connection& db, int64_t user_id,
                                      const std::vector<FactWrite>& writes) {
  pqxx::work tx(db);
  std::vector<Fact> inserted;
  for (const auto& write : writes) {
    for (const auto& [fact_id, status] : write.status_changes) {
      // Returning before commit rolls back every earlier step of the call.
      if (auto changed = change_fact_status(tx, user_id, write, fact_id, status); !changed)
        return changed.error();
    }
    if (!write.insert) continue;
    auto fact = insert_fact(tx, user_id, write);
    if (!fact) return fact.error();
    inserted.push_back(std::move(fact).value());
  }
  tx.commit();
  return inserted;
}

namespace {

// The columns both audit readers select, and the rows they make: the subject's external id comes from
// users (empty for admin actions, kept under user 0, and for users since erased).
constexpr const char* kAuditColumns =
    "a.id, a.user_id, a.actor, a.action, a.object, COALESCE(a.before_json, ''), COALESCE(a.after_json, ''), "
    "a.at, COALESCE(u.external_id, '') FROM audit a LEFT JOIN users u ON u.id = a.user_id";

std::vector<AuditEntry> read_audit(const pqxx::result& rows) {
  std::vector<AuditEntry> entries;
  entries.reserve(rows.size());
  for (const auto& r : rows) {
    entries.push_back(AuditEntry{r[0].as<int64_t>(), r[1].as<int64_t>(), text(r[2]), text(r[3]), text(r[4]),
                                 text(r[5]), text(r[6]), r[7].as<int64_t>(), text(r[8])});
  }
  return entries;
}

}  // namespace

Result<std::vector<AuditEntry>> audit_log(pqxx::connection& db, int64_t user_id) {
  pqxx::read_transaction tx(db);
  // User 0's rows are the admin actions, which SQLite keeps under NULL: no user's log holds them.
  return read_audit(
      exec(tx, fmt::format("SELECT {} WHERE a.user_id = $1 AND a.user_id <> 0 ORDER BY a.id", kAuditColumns),
           user_id));
}

Result<std::vector<AuditEntry>> audit_entries(pqxx::connection& db, int64_t after_id, int limit) {
  pqxx::read_transaction tx(db);
  return read_audit(exec(tx, fmt::format("SELECT {} WHERE a.id > $1 ORDER BY a.id LIMIT $2", kAuditColumns),
                         after_id, static_cast<int64_t>(limit)));
}

Status append_audit(pqxx::connection& db, const AuditEntry& entry) {
  pqxx::work tx(db);
  insert_audit(tx, entry);
  tx.commit();
  return ok();
}

Result<std::optional<Summary>> summary(pqxx::connection& db, int64_t user_id) {
  pqxx::read_transaction tx(db);
  auto rows = exec(tx, "SELECT user_id, upto_seq, text FROM summaries WHERE user_id = $1", user_id);
  if (rows.empty()) return std::optional<Summary>{};
  return std::optional<Summary>{
      Summary{rows[0][0].as<int64_t>(), rows[0][1].as<int64_t>(), text(rows[0][2])}};
}

Status put_summary(pqxx::connection& db, const Summary& summary) {
  pqxx::work tx(db);
  exec(tx,
       "INSERT INTO summaries (user_id, upto_seq, text) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO "
       "UPDATE SET upto_seq = excluded.upto_seq, text = excluded.text",
       summary.user_id, summary.upto_seq, summary.text);
  tx.commit();
  return ok();
}

Result<std::vector<UsageRow>> usage(pqxx::connection& db, int64_t user_id) {
  pqxx::read_transaction tx(db);
  auto rows =
      exec(tx,
           "SELECT day, assistant, input_tokens, output_tokens, cost_usd FROM usage WHERE user_id = $1 "
           "ORDER BY day COLLATE \"C\", assistant COLLATE \"C\"",
           user_id);
  std::vector<UsageRow> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back(
        UsageRow{text(r[0]), text(r[1]), r[2].as<int64_t>(), r[3].as<int64_t>(), r[4].as<double>()});
  }
  return out;
}

Status erase_user(pqxx::connection& db, int64_t user_id, std::string_view actor) {
  const auto tables = delete_user(db, user_id, actor);
  return vacuum(db, tables);
}

}  // namespace brandcoach::store::postgres::memory
