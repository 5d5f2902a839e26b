// Users, the thread, facts, audit, summaries and usage (the memory tiers) on PostgreSQL, private to
// the store module. Each function runs on the connection it is given in its own transaction and
// may throw libpqxx exceptions: Pool::run turns them into Error values (and retries transactions
// that hit a serialisation conflict, so a function must be safe to run again from the start).
#pragma once

#include <pqxx/pqxx>

#include "brandcoach/store/store.hpp"

namespace brandcoach::store::postgres::memory {

Result<User> ensure_user(pqxx::connection& db, std::string_view external_id);
Result<std::optional<User>> find_user(pqxx::connection& db, std::string_view external_id);
Status set_display_name(pqxx::connection& db, int64_t user_id, std::string_view display_name);
Status request_new_session(pqxx::connection& db, int64_t user_id);
Result<std::vector<UserSummary>> list_users(pqxx::connection& db, std::string_view after_user, int limit);
Result<std::vector<ReplyRecord>> replies_since(pqxx::connection& db, int64_t from_ms);
Result<std::vector<UsageTotal>> usage_totals(pqxx::connection& db, std::string_view from_day,
                                             std::string_view to_day);

Result<Message> append_message(pqxx::connection& db, const Message& message,
                               const std::optional<UsageTally>& usage, bool queue_extraction);
Result<std::vector<Message>> append_messages(pqxx::connection& db, const std::vector<Message>& messages,
                                             bool queue_extraction);
Result<std::optional<ExtractionJob>> claim_extraction_job(pqxx::connection& db, int64_t now_ms,
                                                          int64_t lease_ms);
Status finish_extraction_job(pqxx::connection& db, int64_t job_id);
Status retry_extraction_job(pqxx::connection& db, int64_t job_id, int64_t not_before_ms,
                            std::string_view error);
Result<int64_t> pending_extraction_jobs(pqxx::connection& db);
Result<Activity> activity(pqxx::connection& db, const std::vector<int64_t>& since_ms);
Result<std::vector<Message>> recent_messages(pqxx::connection& db, int64_t user_id, int limit,
                                             ThreadRead read);
Result<int64_t> message_count(pqxx::connection& db, int64_t user_id);
Result<int64_t> last_seq(pqxx::connection& db, int64_t user_id);
Result<std::vector<Message>> messages_between(pqxx::connection& db, int64_t user_id, int64_t after_seq,
                                              int64_t upto_seq, int64_t limit, ThreadRead read);
Result<std::vector<Message>> messages_by_id(pqxx::connection& db, int64_t user_id,
                                            const std::vector<int64_t>& ids);
Result<std::optional<Message>> find_imported_message(pqxx::connection& db, int64_t user_id,
                                                     std::string_view external_id);
Result<std::vector<MessageHit>> search_messages(pqxx::connection& db, int64_t user_id, std::string_view query,
                                                int limit);

Result<std::vector<Fact>> list_facts(pqxx::connection& db, int64_t user_id, bool all);
Result<std::vector<Fact>> facts_for_keys(pqxx::connection& db, int64_t user_id,
                                         const std::vector<std::string>& keys);
Result<std::optional<Fact>> find_fact(pqxx::connection& db, int64_t user_id, int64_t fact_id);
Result<std::vector<Fact>> write_facts(pqxx::connection& db, int64_t user_id,
                                      const std::vector<FactWrite>& writes);
Result<std::vector<AuditEntry>> audit_log(pqxx::connection& db, int64_t user_id);
Status append_audit(pqxx::connection& db, const AuditEntry& entry);
Result<std::vector<AuditEntry>> audit_entries(pqxx::connection& db, int64_t after_id, int limit);

Result<std::optional<Summary>> summary(pqxx::connection& db, int64_t user_id);
Status put_summary(pqxx::connection& db, const Summary& summary);
Result<std::vector<UsageRow>> usage(pqxx::connection& db, int64_t user_id);
Status erase_user(pqxx::connection& db, int64_t user_id, std::string_view actor);

}  // namespace brandcoach::store::postgres::memory
