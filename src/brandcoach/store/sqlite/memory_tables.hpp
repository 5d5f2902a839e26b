// Thread, fact, audit and summary queries (the memory tiers), private to the store module. Each
// function runs on the connection it is given; writers open their own transaction.
#pragma once

#include "brandcoach/store/sqlite/connection.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::store::sqlite::memory {

/// The columns read_message reads, of the messages table under `alias` ("m." or "").
std::string message_columns(std::string_view alias = "", bool brief = false);
/// The WHERE condition (with its leading " AND ") that keeps the messages a read asks for.
std::string thread_filter(const ThreadRead& read);
Message read_message(Statement& stmt);

/// The search terms of a message. Made before its transaction: stemming a long reply inside it would
/// hold every other writer back meanwhile.
std::string message_terms(const Message& message);
/// One message (and its usage and extraction job) inside the caller's transaction.
Result<Message> write_message(Connection& db, Message message, const std::string& terms,
                              const std::optional<UsageTally>& usage, bool queue_extraction);
Result<Message> append_message(Connection& db, Message message, const std::optional<UsageTally>& usage,
                               bool queue_extraction);
Result<std::optional<ExtractionJob>> claim_extraction_job(Connection& db, int64_t now_ms, int64_t lease_ms);
Status finish_extraction_job(Connection& db, int64_t job_id);
Status retry_extraction_job(Connection& db, int64_t job_id, int64_t not_before_ms, std::string_view error);
Result<int64_t> pending_extraction_jobs(Connection& db);
Result<std::vector<Message>> append_messages(Connection& db, std::vector<Message> messages,
                                             bool queue_extraction);
Result<std::vector<Message>> messages_between(Connection& db, int64_t user_id, int64_t after_seq,
                                              int64_t upto_seq, int64_t limit, ThreadRead read);
Result<std::vector<Message>> messages_by_id(Connection& db, int64_t user_id, const std::vector<int64_t>& ids);
Result<std::optional<Message>> find_imported_message(Connection& db, int64_t user_id,
                                                     std::string_view external_id);
Result<std::vector<MessageHit>> search_messages(Connection& db, int64_t user_id, std::string_view query,
                                                int limit);
/// Gives messages stored before they were indexed (an older schema) their search terms.
Status index_unindexed_messages(Connection& db);

Result<std::vector<Fact>> list_facts(Connection& db, int64_t user_id, bool all);
Result<std::vector<Fact>> facts_for_keys(Connection& db, int64_t user_id,
                                         const std::vector<std::string>& keys);
Result<std::optional<Fact>> find_fact(Connection& db, int64_t user_id, int64_t fact_id);
Result<std::vector<Fact>> write_facts(Connection& db, int64_t user_id, const std::vector<FactWrite>& writes);
Result<std::vector<AuditEntry>> audit_log(Connection& db, int64_t user_id);
Status append_audit(Connection& db, const AuditEntry& entry);
Result<std::vector<AuditEntry>> audit_entries(Connection& db, int64_t after_id, int limit);

Result<std::optional<Summary>> summary(Connection& db, int64_t user_id);
Status put_summary(Connection& db, const Summary& summary);
Result<std::vector<UsageRow>> usage(Connection& db, int64_t user_id);
Status erase_user(Connection& db, int64_t user_id, std::string_view actor);

}  // namespace brandcoach::store::sqlite::memory
