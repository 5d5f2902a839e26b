// Knowledge stores, files, chunks and vectors, full-text search over chunks, uploads, responses,
// API keys and counts on PostgreSQL, private to the store module. Each function runs on the
// connection it is given in its own transaction and may throw libpqxx exceptions: Pool::run turns
// them into Error values (and retries transactions that hit a serialisation conflict, so a function
// must be safe to run again from the start).
#pragma once

#include <pqxx/pqxx>

#include "brandcoach/store/store.hpp"

namespace brandcoach::store::postgres::knowledge {

Result<Counts> counts(pqxx::connection& db);

Result<int64_t> ensure_store(pqxx::connection& db, std::string_view name);
Result<std::optional<KnowledgeStore>> find_store(pqxx::connection& db, std::string_view name);
Result<std::vector<KnowledgeStore>> list_stores(pqxx::connection& db);
Status configure_store(pqxx::connection& db, int64_t store_id, std::string_view embedder,
                       std::string_view chunking_json);
Status delete_store(pqxx::connection& db, int64_t store_id);
Result<KnowledgeStore> create_user_store(pqxx::connection& db, int64_t owner_user_id, std::string_view name,
                                         std::string_view metadata_json, std::string_view embedder,
                                         std::string_view chunking_json);
Result<std::vector<KnowledgeStore>> list_user_stores(pqxx::connection& db, int64_t owner_user_id);
Status set_store_metadata(pqxx::connection& db, int64_t store_id, std::string_view metadata_json);
Result<std::vector<StoredFile>> list_files(pqxx::connection& db, int64_t store_id);
Result<std::vector<PutResult>> put_files(pqxx::connection& db, int64_t store_id,
                                         const std::vector<FileWrite>& files);
Result<std::vector<int64_t>> delete_file(pqxx::connection& db, int64_t file_id);
Status for_each_vector(pqxx::connection& db, int64_t store_id,
                       const std::function<void(int64_t, const float*, size_t)>& visit);
Status for_each_chunk_terms(pqxx::connection& db, int64_t store_id,
                            const std::function<void(int64_t, std::string_view, std::string_view)>& visit);
Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(pqxx::connection& db, int64_t store_id);
Status update_vectors(pqxx::connection& db, int64_t store_id,
                      const std::vector<std::pair<int64_t, std::vector<float>>>& vectors);
Result<std::vector<ChunkRecord>> chunks_by_id(pqxx::connection& db, const std::vector<int64_t>& ids);
Result<std::vector<ChunkRecord>> file_chunks(pqxx::connection& db, int64_t file_id, int limit);
Result<std::vector<ChunkHit>> search(pqxx::connection& db, const std::vector<std::string>& store_names,
                                     std::string_view query, int limit);

Result<Upload> create_upload(pqxx::connection& db, const Upload& upload);
Result<std::vector<Upload>> list_uploads(pqxx::connection& db, int64_t user_id);
Result<std::optional<Upload>> find_upload(pqxx::connection& db, int64_t user_id, std::string_view id,
                                          bool with_content);
Status delete_upload(pqxx::connection& db, int64_t user_id, std::string_view id);
Status put_response(pqxx::connection& db, const StoredResponse& response);
Result<std::optional<StoredResponse>> find_response(pqxx::connection& db, int64_t user_id,
                                                    std::string_view id);
Status delete_response(pqxx::connection& db, int64_t user_id, std::string_view id);

Result<ApiKey> create_api_key(pqxx::connection& db, std::string_view user, std::string_view name,
                              std::string_view role, std::string_view secret_hash);
Result<std::optional<ApiKey>> find_api_key(pqxx::connection& db, std::string_view secret_hash);
Result<std::vector<ApiKey>> list_api_keys(pqxx::connection& db, std::optional<std::string_view> user);
Status revoke_api_key(pqxx::connection& db, int64_t id);

}  // namespace brandcoach::store::postgres::knowledge
