// Knowledge-store queries (stores, files, chunks, vectors, full-text search), private to the store
// module. Each function runs on the connection it is given; writers open their own transaction.
#pragma once

#include "brandcoach/store/sqlite/connection.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::store::sqlite::knowledge {

/// The query's stems (stopwords left out unless nothing else is left), each once, in order.
std::vector<std::string> query_terms(std::string_view text);
/// Terms -> an FTS5 query that can never be a syntax error (each a quoted term, OR-ed).
std::string fts_query(const std::vector<std::string>& terms);

Result<int64_t> ensure_store(Connection& db, std::string_view name);
Result<std::optional<KnowledgeStore>> find_store(Connection& db, std::string_view name);
Result<std::vector<KnowledgeStore>> list_stores(Connection& db);
Status configure_store(Connection& db, int64_t store_id, std::string_view embedder,
                       std::string_view chunking_json);
Status delete_store(Connection& db, int64_t store_id);
Result<KnowledgeStore> create_user_store(Connection& db, int64_t owner_user_id, std::string_view name,
                                         std::string_view metadata_json, std::string_view embedder,
                                         std::string_view chunking_json);
Result<std::vector<KnowledgeStore>> list_user_stores(Connection& db, int64_t owner_user_id);
Status set_store_metadata(Connection& db, int64_t store_id, std::string_view metadata_json);
Result<std::vector<StoredFile>> list_files(Connection& db, int64_t store_id);
Result<std::vector<PutResult>> put_files(Connection& db, int64_t store_id,
                                         const std::vector<FileWrite>& files);
Result<std::vector<int64_t>> delete_file(Connection& db, int64_t file_id);
Status for_each_vector(Connection& db, int64_t store_id,
                       const std::function<void(int64_t, const float*, size_t)>& visit);
Status for_each_chunk_terms(Connection& db, int64_t store_id,
                            const std::function<void(int64_t, std::string_view, std::string_view)>& visit);
Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(Connection& db, int64_t store_id);
Status update_vectors(Connection& db, int64_t store_id,
                      const std::vector<std::pair<int64_t, std::vector<float>>>& vectors);
Result<std::vector<ChunkRecord>> chunks_by_id(Connection& db, const std::vector<int64_t>& ids);
Result<std::vector<ChunkRecord>> file_chunks(Connection& db, int64_t file_id, int limit);
Result<std::vector<ChunkHit>> search(Connection& db, const std::vector<std::string>& store_names,
                                     std::string_view query, int limit);

}  // namespace brandcoach::store::sqlite::knowledge
