#include "brandcoach/store/sqlite/api_tables.hpp"

#include <fmt/format.h>

namespace brandcoach::store::sqlite::api {

namespace {

Upload read_upload(Statement& s, bool with_content) {
  Upload upload;
  upload.id = s.column_text(0);
  upload.user_id = s.column_int(1);
  upload.filename = s.column_text(2);
  upload.purpose = s.column_text(3);
  upload.bytes = s.column_int(4);
  upload.sha256 = s.column_text(5);
  upload.created_at = s.column_int(6);
  if (with_content) upload.content = std::string(s.column_blob(7));
  return upload;
}

}  // namespace

Result<Upload> create_upload(Connection& db, Upload upload) {
  upload.bytes = static_cast<int64_t>(upload.content.size());
  upload.sha256 = sha256_hex(upload.content);
  if (upload.created_at == 0) upload.created_at = unix_millis();
  auto stmt = db.prepare(
      "INSERT INTO uploads (id, user_id, filename, purpose, bytes, sha256, content, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt) return stmt.error();
  (*stmt)
      ->bind(1, upload.id)
      .bind(2, upload.user_id)
      .bind(3, upload.filename)
      .bind(4, upload.purpose)
      .bind(5, upload.bytes)
      .bind(6, upload.sha256)
      .bind_blob(7, upload.content)
      .bind(8, upload.created_at);
  if (auto status = (*stmt)->run(); !status) return status.error();
  return upload;
}

Result<std::vector<Upload>> list_uploads(Connection& db, int64_t user_id) {
  auto stmt = db.prepare(
      "SELECT id, user_id, filename, purpose, bytes, sha256, created_at FROM uploads WHERE user_id = ? "
      "ORDER BY created_at, rowid");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id);
  return collect(**stmt, [](Statement& s) { return read_upload(s, false); });
}

Result<std::optional<Upload>> find_upload(Connection& db, int64_t user_id, std::string_view id,
                                          bool with_content) {
  auto stmt =
      db.prepare(fmt::format("SELECT id, user_id, filename, purpose, bytes, sha256, created_at{} FROM "
                             "uploads WHERE user_id = ? AND id = ?",
                             with_content ? ", content" : ""));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id).bind(2, id);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<Upload>{};
  return std::optional<Upload>{read_upload(**stmt, with_content)};
}

Status delete_upload(Connection& db, int64_t user_id, std::string_view id) {
  auto stmt = db.prepare("DELETE FROM uploads WHERE user_id = ? AND id = ?");
  if (!stmt) return stmt.error();
  if (auto status = (*stmt)->bind(1, user_id).bind(2, id).run(); !status) return status;
  if (db.changes() == 0) return Error::not_found(fmt::format("No such File object: {}", id), "file_id");
  return ok();
}

Result<std::vector<ReplyRecord>> replies_since(Connection& db, int64_t from_ms) {
  auto stmt = db.prepare(
      "SELECT user_id, session_no, created_at, assistant, "
      "COALESCE(json_extract(usage_json, '$.timings_ms.total'), 0), "
      "COALESCE(json_extract(usage_json, '$.input_tokens'), 0), "
      "COALESCE(json_extract(usage_json, '$.output_tokens'), 0), "
      "COALESCE(json_extract(usage_json, '$.cost_usd'), 0), "
      "COALESCE(json_extract(usage_json, '$.memory_question'), -1), "
      "COALESCE(json_array_length(json_extract(usage_json, '$.memory_used')), 0), "
      "COALESCE(json_extract(usage_json, '$.degraded'), 0), route_json "
      "FROM messages WHERE role = 'assistant' AND created_at >= ? ORDER BY created_at, id");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, from_ms);
  return collect(**stmt, [](Statement& s) {
    ReplyRecord r;
    r.user_id = s.column_int(0);
    r.session_no = s.column_int(1);
    r.created_at = s.column_int(2);
    r.assistant = s.column_text(3);
    r.total_ms = s.column_double(4);
    r.input_tokens = s.column_int(5);
    r.output_tokens = s.column_int(6);
    r.cost_usd = s.column_double(7);
    r.memory_question = static_cast<int>(s.column_int(8));
    r.memory_used = s.column_int(9) > 0;
    r.degraded = s.column_int(10) != 0;
    r.route_json = s.column_text(11);
    return r;
  });
}

Result<Activity> activity(Connection& db, const std::vector<int64_t>& since_ms) {
  Activity out;
  auto facts = db.prepare("SELECT status, COUNT(*) FROM facts GROUP BY status");
  if (!facts) return facts.error();
  while (true) {
    auto row = (*facts)->step();
    if (!row) return row.error();
    if (!*row) break;
    out.facts_by_status[(*facts)->column_text(0)] = (*facts)->column_int(1);
  }
  auto users =
      db.prepare("SELECT COUNT(DISTINCT user_id) FROM messages WHERE role = 'assistant' AND created_at >= ?");
  if (!users) return users.error();
  for (const int64_t since : since_ms) {
    (*users)->reset();
    (*users)->bind(1, since);
    if (auto row = (*users)->step(); !row) return row.error();
    out.users_active.push_back((*users)->column_int(0));
  }
  return out;
}

Status put_response(Connection& db, const StoredResponse& response) {
  auto stmt = db.prepare(
      "INSERT INTO responses (id, user_id, previous_id, request_json, output_json, usage_json, created_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, response.id).bind(2, response.user_id);
  if (response.previous_id.empty()) {
    (*stmt)->bind_null(3);
  } else {
    (*stmt)->bind(3, response.previous_id);
  }
  (*stmt)
      ->bind(4, response.request_json)
      .bind(5, response.output_json)
      .bind(6, response.usage_json)
      .bind(7, response.created_at == 0 ? unix_millis() : response.created_at);
  return (*stmt)->run();
}

Result<std::optional<StoredResponse>> find_response(Connection& db, int64_t user_id, std::string_view id) {
  auto stmt = db.prepare(
      "SELECT id, user_id, COALESCE(previous_id, ''), request_json, output_json, usage_json, created_at "
      "FROM responses WHERE user_id = ? AND id = ?");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, user_id).bind(2, id);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<StoredResponse>{};
  auto& s = **stmt;
  return std::optional<StoredResponse>{StoredResponse{s.column_text(0), s.column_int(1), s.column_text(2),
                                                      s.column_text(3), s.column_text(4), s.column_text(5),
                                                      s.column_int(6)}};
}

Status delete_response(Connection& db, int64_t user_id, std::string_view id) {
  auto stmt = db.prepare("DELETE FROM responses WHERE user_id = ? AND id = ?");
  if (!stmt) return stmt.error();
  if (auto status = (*stmt)->bind(1, user_id).bind(2, id).run(); !status) return status;
  if (db.changes() == 0)
    return Error::not_found(fmt::format("Response with id '{}' not found.", id), "response_id");
  return ok();
}

}  // namespace brandcoach::store::sqlite::api
