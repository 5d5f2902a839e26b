#include "brandcoach/store/sqlite/knowledge.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/text/text.hpp"

namespace brandcoach::store::sqlite::knowledge {

std::vector<std::string> query_terms(std::string_view text) {
  return text::query_terms(text);
}

// Terms -> an FTS5 query that can never be a syntax error: every stem is a quoted term (stems hold
// letters and digits only), OR-ed.
std::string fts_query(const std::vector<std::string>& terms) {
  std::string out;
  for (const auto& term : terms) out += (out.empty() ? "\"" : " OR \"") + term + '"';
  return out;
}

namespace {

// FTS5 scores every row that matches any OR-ed term, so one common term makes a query as slow as
// its posting list is long. Terms are taken rarest first while the rows they match stay within a
// budget; the rarest term is always kept. A term in that many chunks has a small idf and adds little
// to BM25, while the documents that matter usually also hold the rarer terms. Below the budget (any
// store of a few thousand chunks) nothing is left out.
constexpr int64_t kScoredRowsBudget = 8000;

Result<std::vector<std::string>> affordable_terms(Connection& db, std::vector<std::string> terms) {
  if (terms.size() < 2) return terms;
  auto stmt = db.prepare("SELECT doc FROM chunks_fts_vocab WHERE term = ?");
  if (!stmt) return stmt.error();
  std::vector<std::pair<int64_t, std::string>> by_frequency;
  for (auto& term : terms) {
    (*stmt)->reset();
    (*stmt)->bind(1, term);
    auto row = (*stmt)->step();
    if (!row) return row.error();
    const int64_t docs = *row ? (*stmt)->column_int(0) : 0;
    if (docs > 0) by_frequency.emplace_back(docs, std::move(term));
  }
  std::stable_sort(by_frequency.begin(), by_frequency.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> kept;
  int64_t rows = 0;
  for (auto& [docs, term] : by_frequency) {
    if (!kept.empty() && rows + docs > kScoredRowsBudget) break;
    rows += docs;
    kept.push_back(std::move(term));
  }
  return kept;
}

std::string vector_blob(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

Status bump_version(Connection& db, int64_t store_id) {
  auto stmt = db.prepare("UPDATE stores SET version = version + 1 WHERE id = ?");
  if (!stmt) return stmt.error();
  return (*stmt)->bind(1, store_id).run();
}

constexpr const char* kStoreColumns =
    "s.id, s.name, s.embedder, s.chunking_json, s.version, "
    "(SELECT COUNT(*) FROM files f WHERE f.store_id = s.id), "
    "(SELECT COUNT(*) FROM chunks c WHERE c.store_id = s.id), "
    "(SELECT COALESCE(SUM(bytes), 0) FROM files f WHERE f.store_id = s.id), s.created_at, s.kind, "
    "COALESCE(s.owner_user_id, 0), s.metadata";

KnowledgeStore read_store(Statement& s) {
  KnowledgeStore store;
  store.id = s.column_int(0);
  store.name = s.column_text(1);
  store.embedder = s.column_text(2);
  store.chunking_json = s.column_text(3);
  store.version = s.column_int(4);
  store.files = s.column_int(5);
  store.chunks = s.column_int(6);
  store.bytes = s.column_int(7);
  store.created_at = s.column_int(8);
  store.kind = s.column_text(9);
  store.owner_user_id = s.column_int(10);
  store.metadata_json = s.column_text(11);
  return store;
}

constexpr const char* kFileColumns =
    "id, store_id, CASE WHEN display_name <> '' THEN display_name ELSE filename END, bytes, sha256, status, "
    "external_id, title, format, attributes_json, chunks, "
    "created_at, last_error, chunking_json";

StoredFile read_file(Statement& s) {
  StoredFile f;
  f.id = s.column_int(0);
  f.store_id = s.column_int(1);
  f.filename = s.column_text(2);
  f.bytes = s.column_int(3);
  f.sha256 = s.column_text(4);
  f.status = s.column_text(5);
  f.external_id = s.column_text(6);
  f.title = s.column_text(7);
  f.format = s.column_text(8);
  f.attributes_json = s.column_text(9);
  f.chunks = s.column_int(10);
  f.created_at = s.column_int(11);
  f.last_error = s.column_text(12);
  f.chunking_json = s.column_text(13);
  return f;
}

constexpr const char* kChunkColumns =
    "c.id, c.file_id, s.name, CASE WHEN f.display_name <> '' THEN f.display_name ELSE f.filename END, "
    "f.external_id, c.ord, c.heading, c.page, c.text, f.attributes_json";

ChunkRecord read_chunk(Statement& s) {
  return {s.column_int(0),  s.column_int(1),
          s.column_text(2), s.column_text(3),
          s.column_text(4), static_cast<int>(s.column_int(5)),
          s.column_text(6), static_cast<int>(s.column_int(7)),
          s.column_text(8), s.column_text(9)};
}

Result<std::vector<int64_t>> chunk_ids_of(Connection& db, int64_t file_id) {
  auto stmt = db.prepare("SELECT id FROM chunks WHERE file_id = ? ORDER BY ord");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, file_id);
  return collect(**stmt, [](Statement& row) { return int64_t{row.column_int(0)}; });
}

Result<std::optional<StoredFile>> find_file(Connection& db, int64_t store_id, const char* column,
                                            std::string_view value) {
  auto stmt = db.prepare(
      fmt::format("SELECT {} FROM files WHERE store_id = ? AND {} = ? LIMIT 1", kFileColumns, column));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, store_id).bind(2, value);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<StoredFile>{};
  return std::optional<StoredFile>{read_file(**stmt)};
}

}  // namespace

Result<int64_t> ensure_store(Connection& db, std::string_view name) {
  auto insert = db.prepare(
      "INSERT INTO stores (name, kind, created_at) VALUES (?, 'knowledge', ?) "
      "ON CONFLICT (name) DO NOTHING");
  if (!insert) return insert.error();
  if (auto status = (*insert)->bind(1, name).bind(2, unix_millis()).run(); !status) return status.error();
  auto select = db.prepare("SELECT id FROM stores WHERE kind = 'knowledge' AND name = ?");
  if (!select) return select.error();
  (*select)->bind(1, name);
  auto row = (*select)->step();
  if (!row) return row.error();
  if (!*row)
    return Error{ErrorKind::conflict, fmt::format("the name '{}' belongs to a user's vector store", name),
                 "name"};
  return (*select)->column_int(0);
}

Result<std::optional<KnowledgeStore>> find_store(Connection& db, std::string_view name) {
  // Called on every dense search to check freshness, so it skips the counts (they scan).
  auto stmt = db.prepare(
      "SELECT s.id, s.name, s.embedder, s.chunking_json, s.version, 0, 0, 0, s.created_at, s.kind, "
      "COALESCE(s.owner_user_id, 0), s.metadata FROM stores s WHERE s.name = ?");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, name);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<KnowledgeStore>{};
  return std::optional<KnowledgeStore>{read_store(**stmt)};
}

Result<std::vector<KnowledgeStore>> list_stores(Connection& db) {
  auto stmt = db.prepare(
      fmt::format("SELECT {} FROM stores s WHERE s.kind = 'knowledge' ORDER BY s.name", kStoreColumns));
  if (!stmt) return stmt.error();
  return collect(**stmt, read_store);
}

Status configure_store(Connection& db, int64_t store_id, std::string_view embedder,
                       std::string_view chunking_json) {
  auto stmt =
      db.prepare("UPDATE stores SET embedder = ?, chunking_json = ?, version = version + 1 WHERE id = ?");
  if (!stmt) return stmt.error();
  if (auto status = (*stmt)->bind(1, embedder).bind(2, chunking_json).bind(3, store_id).run(); !status)
    return status;
  if (db.changes() == 0) return Error::not_found(fmt::format("no knowledge store with id {}", store_id));
  return ok();
}

Status delete_store(Connection& db, int64_t store_id) {
  auto stmt = db.prepare("DELETE FROM stores WHERE id = ?");
  if (!stmt) return stmt.error();
  if (auto status = (*stmt)->bind(1, store_id).run(); !status) return status;
  if (db.changes() == 0) return Error::not_found(fmt::format("no knowledge store with id {}", store_id));
  return ok();
}

Result<KnowledgeStore> create_user_store(Connection& db, int64_t owner_user_id, std::string_view name,
                                         std::string_view metadata_json, std::string_view embedder,
                                         std::string_view chunking_json) {
  auto insert = db.prepare(
      "INSERT INTO stores (name, kind, owner_user_id, metadata, embedder, chunking_json, created_at) "
      "VALUES (?, 'user', ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING");
  if (!insert) return insert.error();
  (*insert)
      ->bind(1, name)
      .bind(2, owner_user_id)
      .bind(3, metadata_json)
      .bind(4, embedder)
      .bind(5, chunking_json)
      .bind(6, unix_millis());
  if (auto status = (*insert)->run(); !status) return status.error();
  if (db.changes() == 0)
    return Error{ErrorKind::conflict, fmt::format("a store named '{}' exists", name), "name"};
  const int64_t id = db.last_insert_id();
  auto stmt = db.prepare(fmt::format("SELECT {} FROM stores s WHERE s.id = ?", kStoreColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, id);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return Error::internal("vector store vanished after insert");
  return read_store(**stmt);
}

Result<std::vector<KnowledgeStore>> list_user_stores(Connection& db, int64_t owner_user_id) {
  auto stmt = db.prepare(fmt::format(
      "SELECT {} FROM stores s WHERE s.kind = 'user' AND s.owner_user_id = ? ORDER BY s.id", kStoreColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, owner_user_id);
  return collect(**stmt, read_store);
}

Status set_store_metadata(Connection& db, int64_t store_id, std::string_view metadata_json) {
  auto stmt = db.prepare("UPDATE stores SET metadata = ? WHERE id = ?");
  if (!stmt) return stmt.error();
  if (auto status = (*stmt)->bind(1, metadata_json).bind(2, store_id).run(); !status) return status;
  if (db.changes() == 0) return Error::not_found(fmt::format("no store with id {}", store_id));
  return ok();
}

Result<std::vector<StoredFile>> list_files(Connection& db, int64_t store_id) {
  auto stmt =
      db.prepare(fmt::format("SELECT {} FROM files WHERE store_id = ? ORDER BY filename", kFileColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, store_id);
  return collect(**stmt, read_file);
}

Result<PutResult> write_keyed_file(Connection& db, int64_t store_id, const FileInput& file,
                                   const std::vector<NewChunk>& chunks, bool& changed);
Status insert_file(Connection& db, int64_t store_id, const FileInput& file,
                   const std::vector<NewChunk>& chunks, PutResult& result);

// One file's writes inside the caller's transaction. `changed` says whether anything was written.
Result<PutResult> write_file(Connection& db, int64_t store_id, const FileInput& file,
                             const std::vector<NewChunk>& chunks, bool& changed) {
  changed = false;
  PutResult result;
  if (file.keyed_by_external_id) return write_keyed_file(db, store_id, file, chunks, changed);
  auto same_name = find_file(db, store_id, "filename", file.filename);
  if (!same_name) return same_name.error();
  if (*same_name) {
    auto replaced = chunk_ids_of(db, (*same_name)->id);
    if (!replaced) return replaced.error();
    result.replaced_chunk_ids = std::move(*replaced);
  }
  // Identical content is stored once per store, whatever its name. If this name held other content,
  // that old version goes: the name's current content is the copy already stored.
  auto same_content = find_file(db, store_id, "sha256", file.sha256);
  if (!same_content) return same_content.error();
  if (*same_content) {
    result.file = std::move(**same_content);
    result.duplicate = true;
    if (!*same_name || (*same_name)->id == result.file.id) {
      result.replaced_chunk_ids.clear();
      return result;  // nothing to change
    }
  }
  changed = true;
  if (*same_name) {
    auto remove = db.prepare("DELETE FROM files WHERE id = ?");
    if (!remove) return remove.error();
    if (auto status = (*remove)->bind(1, (*same_name)->id).run(); !status) return status.error();
  }
  if (result.duplicate) return result;
  if (auto status = insert_file(db, store_id, file, chunks, result); !status) return status.error();
  return result;
}

// A vector store file: its id is its identity. The same content under the same id changes nothing;
// anything else replaces the file's earlier version.
Result<PutResult> write_keyed_file(Connection& db, int64_t store_id, const FileInput& file,
                                   const std::vector<NewChunk>& chunks, bool& changed) {
  PutResult result;
  auto earlier = find_file(db, store_id, "external_id", file.external_id);
  if (!earlier) return earlier.error();
  if (*earlier) {
    if ((*earlier)->sha256 == file.sha256 && (*earlier)->status == file.status &&
        (*earlier)->attributes_json == file.attributes_json &&
        (*earlier)->chunking_json == file.chunking_json) {
      result.file = std::move(**earlier);
      result.duplicate = true;
      return result;
    }
    auto replaced = chunk_ids_of(db, (*earlier)->id);
    if (!replaced) return replaced.error();
    result.replaced_chunk_ids = std::move(*replaced);
    auto remove = db.prepare("DELETE FROM files WHERE id = ?");
    if (!remove) return remove.error();
    if (auto status = (*remove)->bind(1, (*earlier)->id).run(); !status) return status.error();
  }
  changed = true;
  if (auto status = insert_file(db, store_id, file, chunks, result); !status) return status.error();
  return result;
}

// Inserts the file row and its chunks, filling in result.file and result.chunk_ids.
Status insert_file(Connection& db, int64_t store_id, const FileInput& file,
                   const std::vector<NewChunk>& chunks, PutResult& result) {
  auto insert = db.prepare(
      "INSERT INTO files (store_id, filename, bytes, sha256, external_id, title, format, attributes_json, "
      "status, chunks, created_at, last_error, chunking_json, display_name) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return insert.error();
  const int64_t now = unix_millis();
  (*insert)
      ->bind(1, store_id)
      .bind(2, file.keyed_by_external_id ? file.external_id + "/" + file.filename : file.filename)
      .bind(3, file.bytes)
      .bind(4, file.sha256)
      .bind(5, file.external_id)
      .bind(6, file.title)
      .bind(7, file.format)
      .bind(8, file.attributes_json)
      .bind(9, file.status)
      .bind(10, static_cast<int64_t>(chunks.size()))
      .bind(11, now)
      .bind(12, file.last_error)
      .bind(13, file.chunking_json)
      .bind(14, file.keyed_by_external_id ? file.filename : std::string());
  if (auto status = (*insert)->run(); !status) return status;
  result.file = {db.last_insert_id(),
                 store_id,
                 file.filename,
                 file.bytes,
                 file.sha256,
                 file.status,
                 file.external_id,
                 file.title,
                 file.format,
                 file.attributes_json,
                 static_cast<int64_t>(chunks.size()),
                 now,
                 file.last_error,
                 file.chunking_json};
  auto add_chunk = db.prepare(
      "INSERT INTO chunks (file_id, store_id, ord, heading, page, text, tokens, heading_terms, terms, "
      "vector) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!add_chunk) return add_chunk.error();
  auto add_terms = db.prepare("INSERT INTO chunks_fts (rowid, heading_terms, terms) VALUES (?, ?, ?)");
  if (!add_terms) return add_terms.error();
  for (const auto& chunk : chunks) {
    const std::string heading_terms = text::index_terms(chunk.heading);
    const std::string terms = text::index_terms(chunk.text);
    auto& stmt = **add_chunk;
    stmt.bind(1, result.file.id)
        .bind(2, store_id)
        .bind(3, int64_t{chunk.ordinal})
        .bind(4, chunk.heading)
        .bind(5, int64_t{chunk.page})
        .bind(6, chunk.text)
        .bind(7, chunk.tokens)
        .bind(8, heading_terms)
        .bind(9, terms);
    if (chunk.vector.empty()) {
      stmt.bind_null(10);
    } else {
      stmt.bind_blob(10, vector_blob(chunk.vector));
    }
    if (auto status = stmt.run(); !status) return status.error();
    const int64_t chunk_id = db.last_insert_id();
    (*add_terms)->bind(1, chunk_id).bind(2, heading_terms).bind(3, terms);
    if (auto status = (*add_terms)->run(); !status) return status.error();
    result.chunk_ids.push_back(chunk_id);
  }
  return ok();
}

Result<std::vector<PutResult>> put_files(Connection& db, int64_t store_id,
                                         const std::vector<FileWrite>& files) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  std::vector<PutResult> results;
  results.reserve(files.size());
  bool any_change = false;
  for (const auto& write : files) {
    bool changed = false;
    auto result = write_file(db, store_id, write.file, write.chunks, changed);
    if (!result) return result.error();
    any_change = any_change || changed;
    results.push_back(std::move(*result));
  }
  if (!any_change) return results;  // the transaction rolls back: nothing was written
  if (auto status = bump_version(db, store_id); !status) return status.error();
  if (auto status = tx->commit(); !status) return status.error();
  return results;
}

Result<std::vector<int64_t>> delete_file(Connection& db, int64_t file_id) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  auto ids = chunk_ids_of(db, file_id);
  if (!ids) return ids.error();
  auto store = db.prepare("SELECT store_id FROM files WHERE id = ?");
  if (!store) return store.error();
  (*store)->bind(1, file_id);
  auto row = (*store)->step();
  if (!row) return row.error();
  if (!*row) return Error::not_found(fmt::format("no file with id {}", file_id));
  const int64_t store_id = (*store)->column_int(0);
  auto stmt = db.prepare("DELETE FROM files WHERE id = ?");
  if (!stmt) return stmt.error();
  if (auto status = (*stmt)->bind(1, file_id).run(); !status) return status.error();
  if (auto status = bump_version(db, store_id); !status) return status.error();
  if (auto status = tx->commit(); !status) return status.error();
  return ids;
}

Status for_each_vector(Connection& db, int64_t store_id,
                       const std::function<void(int64_t, const float*, size_t)>& visit) {
  auto stmt =
      db.prepare("SELECT id, vector FROM chunks WHERE store_id = ? AND vector IS NOT NULL ORDER BY id");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, store_id);
  std::vector<float> buffer;
  while (true) {
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if (!*row) break;
    const auto blob = (*stmt)->column_blob(1);
    buffer.resize(blob.size() / sizeof(float));
    std::memcpy(buffer.data(), blob.data(), buffer.size() * sizeof(float));  // blobs carry no alignment
    visit((*stmt)->column_int(0), buffer.data(), buffer.size());
  }
  return ok();
}

Status for_each_chunk_terms(Connection& db, int64_t store_id,
                            const std::function<void(int64_t, std::string_view, std::string_view)>& visit) {
  auto stmt = db.prepare("SELECT id, heading_terms, terms FROM chunks WHERE store_id = ? ORDER BY id");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, store_id);
  while (true) {
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if (!*row) break;
    visit((*stmt)->column_int(0), (*stmt)->column_text(1), (*stmt)->column_text(2));
  }
  return ok();
}

Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(Connection& db, int64_t store_id) {
  auto stmt = db.prepare(
      "SELECT id, CASE WHEN heading = '' THEN text ELSE heading || '\n' || text END "
      "FROM chunks WHERE store_id = ? ORDER BY id");
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, store_id);
  return collect(**stmt, [](Statement& row) {
    return std::pair<int64_t, std::string>{row.column_int(0), row.column_text(1)};
  });
}

Status update_vectors(Connection& db, int64_t store_id,
                      const std::vector<std::pair<int64_t, std::vector<float>>>& vectors) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  auto stmt = db.prepare("UPDATE chunks SET vector = ? WHERE id = ? AND store_id = ?");
  if (!stmt) return stmt.error();
  for (const auto& [id, vector] : vectors) {
    if (auto status = (*stmt)->bind_blob(1, vector_blob(vector)).bind(2, id).bind(3, store_id).run();
        !status) {
      return status;
    }
  }
  if (auto status = bump_version(db, store_id); !status) return status;
  return tx->commit();
}

Result<std::vector<ChunkRecord>> file_chunks(Connection& db, int64_t file_id, int limit) {
  auto stmt = db.prepare(fmt::format(
      "SELECT {} FROM chunks c JOIN files f ON f.id = c.file_id JOIN stores s ON s.id = c.store_id "
      "WHERE c.file_id = ? ORDER BY c.ord LIMIT ?",
      kChunkColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, file_id).bind(2, int64_t{limit});
  return collect(**stmt, read_chunk);
}

Result<std::vector<ChunkRecord>> chunks_by_id(Connection& db, const std::vector<int64_t>& ids) {
  auto stmt = db.prepare(fmt::format(
      "SELECT {} FROM chunks c JOIN files f ON f.id = c.file_id JOIN stores s ON s.id = c.store_id "
      "WHERE c.id IN (SELECT value FROM json_each(?))",
      kChunkColumns));
  if (!stmt) return stmt.error();
  (*stmt)->bind(1, nlohmann::json(ids).dump());
  return collect(**stmt, read_chunk);
}

Result<std::vector<ChunkHit>> search(Connection& db, const std::vector<std::string>& store_names,
                                     std::string_view query, int limit) {
  if (store_names.empty() || limit == 0) return std::vector<ChunkHit>{};
  auto terms = affordable_terms(db, query_terms(query));
  if (!terms) return terms.error();
  const std::string match = fts_query(*terms);
  if (match.empty()) return std::vector<ChunkHit>{};

  auto stores = db.prepare("SELECT id FROM stores WHERE name IN (SELECT value FROM json_each(?))");
  if (!stores) return stores.error();
  (*stores)->bind(1, nlohmann::json(store_names).dump());
  auto store_ids = collect(**stores, [](Statement& row) { return row.column_int(0); });
  if (!store_ids) return store_ids.error();
  if (store_ids->empty()) return std::vector<ChunkHit>{};

  // Phase 1: FTS5 ranks on its own index (bm25 is lower-is-better; headings weigh double because a
  // heading names what the passage is about) and only each top row's store is read (an early column
  // of the chunk, so its text and vector are not). Rows of other stores can crowd the top list, so
  // it widens until enough rows of the wanted stores pass or FTS has no more matches.
  auto ranked = db.prepare(
      "SELECT top.id, top.rank, c.store_id FROM (SELECT rowid AS id, bm25(chunks_fts, 2.0, 1.0) AS rank "
      "FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?2) AS top "
      "JOIN chunks c ON c.id = top.id ORDER BY top.rank");
  if (!ranked) return ranked.error();
  std::vector<std::pair<int64_t, double>> best;  // chunk id, score
  // A negative limit asks for every match: one pass with no limit on the top list either.
  for (int64_t fetch = limit < 0 ? -1 : int64_t{limit} * 4;; fetch *= 8) {
    (*ranked)->reset();
    (*ranked)->bind(1, match).bind(2, fetch);
    best.clear();
    int64_t rows = 0;
    while (true) {
      auto row = (*ranked)->step();
      if (!row) return row.error();
      if (!*row) break;
      ++rows;
      const int64_t store_id = (*ranked)->column_int(2);
      if (std::find(store_ids->begin(), store_ids->end(), store_id) == store_ids->end()) continue;
      if (limit < 0 || best.size() < static_cast<size_t>(limit))
        best.emplace_back((*ranked)->column_int(0), -(*ranked)->column_double(1));
    }
    if (fetch < 0 || best.size() >= static_cast<size_t>(limit) || rows < fetch) break;
  }

  // Phase 2: the chosen chunks with their text, file and store, in rank order.
  std::vector<int64_t> ids;
  for (const auto& [id, score] : best) ids.push_back(id);
  auto records = chunks_by_id(db, ids);
  if (!records) return records.error();
  std::unordered_map<int64_t, ChunkRecord*> by_id;
  for (auto& record : *records) by_id[record.chunk_id] = &record;
  std::vector<ChunkHit> hits;
  hits.reserve(best.size());
  for (const auto& [id, score] : best) {
    const auto found = by_id.find(id);
    if (found == by_id.end()) continue;
    ChunkHit hit;
    static_cast<ChunkRecord&>(hit) = std::move(*found->second);
    hit.score = score;
    hits.push_back(std::move(hit));
  }
  return hits;
}

}  // namespace brandcoach::store::sqlite::knowledge
