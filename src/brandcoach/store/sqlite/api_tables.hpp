// Queries behind the OpenAI-compatible Files and Responses API (uploads, responses), private to the
// store module. Every query is scoped to its user: another user's rows are never read.
#pragma once

#include "brandcoach/store/sqlite/connection.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::store::sqlite::api {

Result<Upload> create_upload(Connection& db, Upload upload);
Result<std::vector<Upload>> list_uploads(Connection& db, int64_t user_id);
Result<std::optional<Upload>> find_upload(Connection& db, int64_t user_id, std::string_view id,
                                          bool with_content);
Status delete_upload(Connection& db, int64_t user_id, std::string_view id);

Status put_response(Connection& db, const StoredResponse& response);
Result<std::vector<ReplyRecord>> replies_since(Connection& db, int64_t from_ms);
Result<Activity> activity(Connection& db, const std::vector<int64_t>& since_ms);
Result<std::optional<StoredResponse>> find_response(Connection& db, int64_t user_id, std::string_view id);
Status delete_response(Connection& db, int64_t user_id, std::string_view id);

}  // namespace brandcoach::store::sqlite::api
