#include "brandcoach/store/postgres/knowledge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "brandcoach/store/postgres/connection.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::store::postgres::knowledge {

namespace {

// ---------------------------------------------------------------------------------------------
// Rows

template <class Read>
auto collect(const pqxx::result& rows, Read read) -> std::vector<decltype(read(rows[0]))> {
  std::vector<decltype(read(rows[0]))> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(read(row));
  return out;
}

int64_t id_of(const pqxx::row& row) {
  return row[0].as<int64_t>();
}

// Store names and file names sort byte by byte, as SQLite sorts them, whatever the database's
// collation: a listing reads the same on both stores.
constexpr const char* kByteOrder = "COLLATE \"C\"";

constexpr const char* kStoreColumns =
    "s.id, s.name, s.embedder, s.chunking_json, s.version, "
    "(SELECT COUNT(*) FROM files f WHERE f.store_id = s.id), "
    "(SELECT COUNT(*) FROM chunks c WHERE c.store_id = s.id), "
    "(SELECT COALESCE(SUM(bytes), 0) FROM files f WHERE f.store_id = s.id), s.created_at, s.kind, "
    "COALESCE(s.owner_user_id, 0), s.metadata";

KnowledgeStore read_store(const pqxx::row& row) {
  KnowledgeStore store;
  store.id = row[0].as<int64_t>();
  store.name = text(row[1]);
  store.embedder = text(row[2]);
  store.chunking_json = text(row[3]);
  store.version = row[4].as<int64_t>();
  store.files = row[5].as<int64_t>();
  store.chunks = row[6].as<int64_t>();
  store.bytes = row[7].as<int64_t>();
  store.created_at = row[8].as<int64_t>();
  store.kind = text(row[9]);
  store.owner_user_id = row[10].as<int64_t>();
  store.metadata_json = text(row[11]);
  return store;
}

// A vector store file's `filename` column holds "<file id>/<name>"; `display_name` the name shown.
constexpr const char* kFileColumns =
    "id, store_id, CASE WHEN display_name <> '' THEN display_name ELSE filename END, bytes, sha256, status, "
    "external_id, title, format, attributes_json, chunks, created_at, last_error, chunking_json";

StoredFile read_file(const pqxx::row& row) {
  StoredFile file;
  file.id = row[0].as<int64_t>();
  file.store_id = row[1].as<int64_t>();
  file.filename = text(row[2]);
  file.bytes = row[3].as<int64_t>();
  file.sha256 = text(row[4]);
  file.status = text(row[5]);
  file.external_id = text(row[6]);
  file.title = text(row[7]);
  file.format = text(row[8]);
  file.attributes_json = text(row[9]);
  file.chunks = row[10].as<int64_t>();
  file.created_at = row[11].as<int64_t>();
  file.last_error = text(row[12]);
  file.chunking_json = text(row[13]);
  return file;
}

constexpr const char* kChunkColumns =
    "c.id, c.file_id, s.name, CASE WHEN f.display_name <> '' THEN f.display_name ELSE f.filename END, "
    "f.external_id, c.ord, c.heading, c.page, c.text, f.attributes_json";
constexpr const char* kChunkJoins =
    "chunks c JOIN files f ON f.id = c.file_id JOIN stores s ON s.id = c.store_id";

ChunkRecord read_chunk(const pqxx::row& row) {
  return {row[0].as<int64_t>(), row[1].as<int64_t>(), text(row[2]),     text(row[3]), text(row[4]),
          row[5].as<int>(),     text(row[6]),         row[7].as<int>(), text(row[8]), text(row[9])};
}

// LIMIT NULL is no limit: how a negative limit ("all of them") reaches the database.
std::optional<int64_t> limit_or_all(int64_t limit) {
  return limit < 0 ? std::nullopt : std::optional<int64_t>(limit);
}

// A float vector as hex digits of its bytes: bytea's text form after its "\x", and what
// decode(…, 'hex') reads from a text[] parameter (a bytea[] literal would need two levels of escaping).
std::string vector_hex(const std::vector<float>& vector) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const auto* bytes = reinterpret_cast<const unsigned char*>(vector.data());
  const size_t size = vector.size() * sizeof(float);
  std::string hex(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    hex[2 * i] = kDigits[bytes[i] >> 4];
    hex[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return hex;
}

// Bumps the store's version, which also takes the store row's lock. Every writer of a store's files
// or vectors locks that row first (this, or put_files' SELECT … FOR UPDATE), so writers of one store
// queue up on it instead of deadlocking on its files and chunks.
void bump_version(pqxx::work& tx, int64_t store_id) {
  exec(tx, "UPDATE stores SET version = version + 1 WHERE id = $1", store_id);
}

std::vector<int64_t> chunk_ids_of(pqxx::transaction_base& tx, int64_t file_id) {
  return collect(exec(tx, "SELECT id FROM chunks WHERE file_id = $1 ORDER BY ord, id", file_id), id_of);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Counts and stores

Result<Counts> counts(pqxx::connection& db) {
  pqxx::read_transaction tx(db);
  const auto row = exec(tx,
                        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM messages), "
                        "(SELECT COUNT(*) FROM stores), (SELECT COUNT(*) FROM files), "
                        "(SELECT COUNT(*) FROM chunks)")
                       .at(0);
  return Counts{row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<int64_t>(), row[3].as<int64_t>(),
                row[4].as<int64_t>()};
}

Result<int64_t> ensure_store(pqxx::connection& db, std::string_view name) {
  pqxx::work tx(db);
  const std::string select = "SELECT id FROM stores WHERE kind = 'knowledge' AND name = $1";
  // Almost always the store exists: a plain read, which draws no id from the sequence either.
  auto found = exec(tx, select, name);
  if (found.empty()) {
    exec(tx,
         "INSERT INTO stores (name, kind, created_at) VALUES ($1, 'knowledge', $2) "
         "ON CONFLICT (name) DO NOTHING",
         name, unix_millis());
    // A new statement, so a new snapshot under READ COMMITTED: it sees the store that a concurrent
    // call inserted (and committed) while this INSERT waited on its name.
    found = exec(tx, select, name);
  }
  if (found.empty()) {
    return Error{ErrorKind::conflict, fmt::format("the name '{}' belongs to a user's vector store", name),
                 "name"};
  }
  tx.commit();
  return id_of(found[0]);
}

Result<std::optional<KnowledgeStore>> find_store(pqxx::connection& db, std::string_view name) {
  pqxx::read_transaction tx(db);
  // Called on every dense search to check freshness, so it skips the counts (they scan).
  const auto found =
      exec(tx,
           "SELECT s.id, s.name, s.embedder, s.chunking_json, s.version, 0, 0, 0, s.created_at, "
           "s.kind, COALESCE(s.owner_user_id, 0), s.metadata FROM stores s WHERE s.name = $1",
           name);
  if (found.empty()) return std::optional<KnowledgeStore>{};
  return std::optional<KnowledgeStore>{read_store(found[0])};
}

Result<std::vector<KnowledgeStore>> list_stores(pqxx::connection& db) {
  pqxx::read_transaction tx(db);
  static const std::string sql = fmt::format(
      "SELECT {} FROM stores s WHERE s.kind = 'knowledge' ORDER BY s.name {}", kStoreColumns, kByteOrder);
  return collect(exec(tx, sql), read_store);
}

Status configure_store(pqxx::connection& db, int64_t store_id, std::string_view embedder,
                       std::string_view chunking_json) {
  pqxx::work tx(db);
  const auto updated =
      exec(tx, "UPDATE stores SET embedder = $1, chunking_json = $2, version = version + 1 WHERE id = $3",
           embedder, chunking_json, store_id);
  if (updated.affected_rows() == 0) {
    return Error::not_found(fmt::format("no knowledge store with id {}", store_id));
  }
  tx.commit();
  return ok();
}

Status delete_store(pqxx::connection& db, int64_t store_id) {
  pqxx::work tx(db);
  // Files and chunks go with it (ON DELETE CASCADE), after the store row's lock: a batch writing
  // to the store finishes first.
  if (exec(tx, "DELETE FROM stores WHERE id = $1", store_id).affected_rows() == 0) {
    return Error::not_found(fmt::format("no knowledge store with id {}", store_id));
  }
  tx.commit();
  return ok();
}

Result<KnowledgeStore> create_user_store(pqxx::connection& db, int64_t owner_user_id, std::string_view name,
                                         std::string_view metadata_json, std::string_view embedder,
                                         std::string_view chunking_json) {
  pqxx::work tx(db);
  const auto inserted =
      exec(tx,
           "INSERT INTO stores (name, kind, owner_user_id, metadata, embedder, chunking_json, "
           "created_at) VALUES ($1, 'user', $2, $3, $4, $5, $6) "
           "ON CONFLICT (name) DO NOTHING RETURNING id",
           name, owner_user_id, metadata_json, embedder, chunking_json, unix_millis());
  if (inserted.empty()) {
    return Error{ErrorKind::conflict, fmt::format("a store named '{}' exists", name), "name"};
  }
  static const std::string sql = fmt::format("SELECT {} FROM stores s WHERE s.id = $1", kStoreColumns);
  const auto found = exec(tx, sql, id_of(inserted[0]));
  if (found.empty()) return Error::internal("vector store vanished after insert");
  tx.commit();
  return read_store(found[0]);
}

Result<std::vector<KnowledgeStore>> list_user_stores(pqxx::connection& db, int64_t owner_user_id) {
  pqxx::read_transaction tx(db);
  static const std::string sql = fmt::format(
      "SELECT {} FROM stores s WHERE s.kind = 'user' AND s.owner_user_id = $1 ORDER BY s.id", kStoreColumns);
  return collect(exec(tx, sql, owner_user_id), read_store);
}

Status set_store_metadata(pqxx::connection& db, int64_t store_id, std::string_view metadata_json) {
  pqxx::work tx(db);
  if (exec(tx, "UPDATE stores SET metadata = $1 WHERE id = $2", metadata_json, store_id).affected_rows() ==
      0) {
    return Error::not_found(fmt::format("no store with id {}", store_id));
  }
  tx.commit();
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Files

Result<std::vector<StoredFile>> list_files(pqxx::connection& db, int64_t store_id) {
  pqxx::read_transaction tx(db);
  static const std::string sql =
      fmt::format("SELECT {} FROM files WHERE store_id = $1 ORDER BY filename {}", kFileColumns, kByteOrder);
  return collect(exec(tx, sql, store_id), read_file);
}

namespace {

// put_files decides every file of a batch in memory, the way the SQLite store does it one write at
// a time, and then writes the outcome with a handful of statements (the chunks with one COPY): a
// batch of thousands of chunks costs a few round trips, not one per chunk or per file. It can decide in
// memory because it holds the store row's lock (no other writer changes the store's files meanwhile) and has
// read every stored file that a name, content hash or external id of the batch can meet.

// A file of the store as the batch sees it: one stored before, or one the batch inserts (with a
// provisional negative id until real ids are drawn).
struct LiveFile {
  StoredFile file;          // as reported: the display name resolved
  std::string stored_name;  // the filename column, unique per store
};

// A file the batch inserts. One that a later file of the batch replaces is not written, but its
// ids are still drawn: its result reports them, as the SQLite store's would.
struct Insert {
  const FileWrite* write = nullptr;
  int64_t created_at = 0;
  bool kept = true;
};

// The ids a result gets once they are drawn.
struct ResultLinks {
  int inserted = -1;            // index of the Insert whose chunk ids are this result's chunk_ids
  int replaced_insert = -1;     // index of an Insert of this batch that this file replaced
  int64_t replaced_stored = 0;  // id of a stored file that this file replaced
};

struct BatchPlan {
  std::vector<PutResult> results;
  std::vector<ResultLinks> links;
  std::vector<Insert> inserts;
  std::vector<int64_t> deleted;  // stored files to delete
  bool changed = false;
};

std::string stored_name(const FileInput& file) {
  return file.keyed_by_external_id ? file.external_id + "/" + file.filename : file.filename;
}

int64_t provisional_id(size_t insert_index) {
  return -static_cast<int64_t>(insert_index) - 1;
}

size_t insert_index(int64_t provisional) {
  return static_cast<size_t>(-provisional - 1);
}

// The store's files as the batch sees them, found the way `LIMIT 1` over the store's indexes finds
// them: the lowest id that matches. Stored files (positive ids) come before the batch's own, which
// come in the order they were added. Indexed, so a batch of thousands of files is not quadratic.
class LiveFiles {
 public:
  explicit LiveFiles(std::vector<LiveFile> stored) {
    for (auto& file : stored) add(std::move(file));
  }

  void add(LiveFile file) {
    const int64_t key = order_key(file.file.id);
    by_name_[file.stored_name].insert(key);
    by_content_[file.file.sha256].insert(key);
    by_external_id_[file.file.external_id].insert(key);
    files_.emplace(key, std::move(file));
  }

  void remove(int64_t id) {
    const auto found = files_.find(order_key(id));
    if (found == files_.end()) return;
    const LiveFile& file = found->second;
    by_name_[file.stored_name].erase(found->first);
    by_content_[file.file.sha256].erase(found->first);
    by_external_id_[file.file.external_id].erase(found->first);
    files_.erase(found);
  }

  const LiveFile* named(const std::string& stored_name) const { return first(by_name_, stored_name); }
  const LiveFile* with_content(const std::string& sha256) const { return first(by_content_, sha256); }
  const LiveFile* with_external_id(const std::string& external_id) const {
    return first(by_external_id_, external_id);
  }

 private:
  using Index = std::unordered_map<std::string, std::set<int64_t>>;

  // Stored ids as they are; a provisional id (-1, -2, …) after every stored one, in batch order.
  static int64_t order_key(int64_t id) { return id > 0 ? id : (int64_t{1} << 62) - id; }

  const LiveFile* first(const Index& index, const std::string& value) const {
    const auto keys = index.find(value);
    if (keys == index.end() || keys->second.empty()) return nullptr;
    return &files_.at(*keys->second.begin());
  }

  std::map<int64_t, LiveFile> files_;
  Index by_name_, by_content_, by_external_id_;
};

// Replays write_file / write_keyed_file of the SQLite store against the files in memory.
class BatchPlanner {
 public:
  BatchPlanner(int64_t store_id, std::vector<LiveFile> stored)
      : store_id_(store_id), live_(std::move(stored)) {}

  void add(const FileWrite& write) {
    if (write.file.keyed_by_external_id) {
      add_keyed(write);
    } else {
      add_named(write);
    }
  }

  BatchPlan take() && { return std::move(plan_); }

 private:
  // Identical content is stored once per store, whatever its name. If this name held other content,
  // that old version goes: the name's current content is the copy already stored.
  void add_named(const FileWrite& write) {
    const FileInput& file = write.file;
    PutResult result;
    ResultLinks links;
    const LiveFile* same_name = live_.named(file.filename);
    const LiveFile* same_content = live_.with_content(file.sha256);
    const int64_t same_name_id = same_name ? same_name->file.id : 0;
    if (same_content) {
      result.file = same_content->file;
      result.duplicate = true;
      if (!same_name || same_name_id == result.file.id) return push(std::move(result), links);
    }
    plan_.changed = true;
    if (same_name) remove(same_name_id, links);
    if (!result.duplicate) insert(write, result, links);
    push(std::move(result), links);
  }

  // A vector store file: its id is its identity. The same content under the same id changes
  // nothing; anything else replaces the file's earlier version.
  void add_keyed(const FileWrite& write) {
    const FileInput& file = write.file;
    PutResult result;
    ResultLinks links;
    const LiveFile* earlier = live_.with_external_id(file.external_id);
    if (earlier) {
      const StoredFile& before = earlier->file;
      if (before.sha256 == file.sha256 && before.status == file.status &&
          before.attributes_json == file.attributes_json && before.chunking_json == file.chunking_json) {
        result.file = before;
        result.duplicate = true;
        return push(std::move(result), links);
      }
      remove(before.id, links);
    }
    plan_.changed = true;
    insert(write, result, links);
    push(std::move(result), links);
  }

  void remove(int64_t id, ResultLinks& links) {
    if (id < 0) {
      plan_.inserts[insert_index(id)].kept = false;
      links.replaced_insert = static_cast<int>(insert_index(id));
    } else {
      plan_.deleted.push_back(id);
      links.replaced_stored = id;
    }
    live_.remove(id);
  }

  void insert(const FileWrite& write, PutResult& result, ResultLinks& links) {
    const FileInput& file = write.file;
    const size_t index = plan_.inserts.size();
    const int64_t now = unix_millis();
    plan_.inserts.push_back({&write, now, true});
    result.file = {provisional_id(index),
                   store_id_,
                   file.filename,
                   file.bytes,
                   file.sha256,
                   file.status,
                   file.external_id,
                   file.title,
                   file.format,
                   file.attributes_json,
                   static_cast<int64_t>(write.chunks.size()),
                   now,
                   file.last_error,
                   file.chunking_json};
    links.inserted = static_cast<int>(index);
    live_.add({result.file, stored_name(file)});
  }

  void push(PutResult result, const ResultLinks& links) {
    plan_.results.push_back(std::move(result));
    plan_.links.push_back(links);
  }

  int64_t store_id_;
  LiveFiles live_;
  BatchPlan plan_;
};

// Every stored file of the store that a file of the batch can meet: by name or content (files
// known by name) or by external id (vector store files).
std::vector<LiveFile> stored_files_met_by(pqxx::work& tx, int64_t store_id,
                                          const std::vector<FileWrite>& files) {
  std::vector<std::string> names, hashes, external_ids;
  for (const auto& write : files) {
    if (write.file.keyed_by_external_id) {
      external_ids.push_back(write.file.external_id);
    } else {
      names.push_back(write.file.filename);
      hashes.push_back(write.file.sha256);
    }
  }
  static const std::string sql = fmt::format(
      "SELECT {}, filename FROM files WHERE store_id = $1 AND (filename = ANY($2::text[]) OR "
      "sha256 = ANY($3::text[]) OR external_id = ANY($4::text[])) ORDER BY id",
      kFileColumns);
  const auto rows = exec(tx, sql, store_id, text_array(names), text_array(hashes), text_array(external_ids));
  return collect(rows, [](const pqxx::row& row) { return LiveFile{read_file(row), text(row[14])}; });
}

// `count` new ids from a table's sequence, in increasing order.
std::vector<int64_t> draw_ids(pqxx::work& tx, const std::string& sequence, size_t count) {
  if (count == 0) return {};
  return collect(exec(tx, "SELECT nextval($1::regclass) FROM generate_series(1, $2)", sequence,
                      static_cast<int64_t>(count)),
                 id_of);
}

// The chunk ids of stored files, by file, each in document order.
std::unordered_map<int64_t, std::vector<int64_t>> chunk_ids_of_files(pqxx::work& tx,
                                                                     const std::vector<int64_t>& file_ids) {
  std::unordered_map<int64_t, std::vector<int64_t>> by_file;
  if (file_ids.empty()) return by_file;
  const auto rows =
      exec(tx, "SELECT file_id, id FROM chunks WHERE file_id = ANY($1::bigint[]) ORDER BY ord, id",
           int_array(file_ids));
  for (const auto& row : rows) by_file[row[0].as<int64_t>()].push_back(row[1].as<int64_t>());
  return by_file;
}

// Real ids for the plan's inserts: one file id each and one chunk id per chunk, in batch order.
struct DrawnIds {
  std::vector<int64_t> files;
  std::vector<std::vector<int64_t>> chunks;  // by insert
};

DrawnIds draw_insert_ids(pqxx::work& tx, const std::vector<Insert>& inserts) {
  size_t chunk_count = 0;
  for (const auto& insert : inserts) chunk_count += insert.write->chunks.size();
  DrawnIds ids{draw_ids(tx, "files_id_seq", inserts.size()), {}};
  const auto chunk_ids = draw_ids(tx, "chunks_id_seq", chunk_count);
  auto next = chunk_ids.begin();
  for (const auto& insert : inserts) {
    const auto count = static_cast<std::ptrdiff_t>(insert.write->chunks.size());
    ids.chunks.emplace_back(next, next + count);
    next += count;
  }
  return ids;
}

// Puts the drawn ids and the replaced files' chunk ids into the results.
void fill_ids(BatchPlan& plan, const DrawnIds& ids,
              const std::unordered_map<int64_t, std::vector<int64_t>>& stored_chunks) {
  for (size_t i = 0; i < plan.results.size(); ++i) {
    PutResult& result = plan.results[i];
    const ResultLinks& links = plan.links[i];
    if (result.file.id < 0) result.file.id = ids.files[insert_index(result.file.id)];
    if (links.inserted >= 0) result.chunk_ids = ids.chunks[static_cast<size_t>(links.inserted)];
    if (links.replaced_insert >= 0) {
      result.replaced_chunk_ids = ids.chunks[static_cast<size_t>(links.replaced_insert)];
    } else if (links.replaced_stored != 0) {
      const auto found = stored_chunks.find(links.replaced_stored);
      if (found != stored_chunks.end()) result.replaced_chunk_ids = found->second;
    }
  }
}

void insert_files(pqxx::work& tx, int64_t store_id, const BatchPlan& plan, const DrawnIds& ids) {
  std::vector<int64_t> file_ids, bytes, chunks, created_at;
  std::vector<std::string> filenames, hashes, external_ids, titles, formats, attributes, statuses, errors,
      chunkings, display_names;
  for (size_t i = 0; i < plan.inserts.size(); ++i) {
    const Insert& insert = plan.inserts[i];
    if (!insert.kept) continue;
    const FileInput& file = insert.write->file;
    file_ids.push_back(ids.files[i]);
    filenames.push_back(stored_name(file));
    bytes.push_back(file.bytes);
    hashes.push_back(file.sha256);
    external_ids.push_back(file.external_id);
    titles.push_back(file.title);
    formats.push_back(file.format);
    attributes.push_back(file.attributes_json);
    statuses.push_back(file.status);
    chunks.push_back(static_cast<int64_t>(insert.write->chunks.size()));
    created_at.push_back(insert.created_at);
    errors.push_back(file.last_error);
    chunkings.push_back(file.chunking_json);
    display_names.push_back(file.keyed_by_external_id ? file.filename : std::string());
  }
  if (file_ids.empty()) return;
  exec(tx,
       "INSERT INTO files (id, store_id, filename, bytes, sha256, external_id, title, format, "
       "attributes_json, "
       "status, chunks, created_at, last_error, chunking_json, display_name) "
       "SELECT u.id, $1, u.filename, u.bytes, u.sha256, u.external_id, u.title, u.format, u.attributes_json, "
       "u.status, u.chunks, u.created_at, u.last_error, u.chunking_json, u.display_name "
       "FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], "
       "$9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::text[], $14::text[], $15::text[]) "
       "AS u(id, filename, bytes, sha256, external_id, title, format, attributes_json, status, chunks, "
       "created_at, last_error, chunking_json, display_name)",
       store_id, int_array(file_ids), text_array(filenames), int_array(bytes), text_array(hashes),
       text_array(external_ids), text_array(titles), text_array(formats), text_array(attributes),
       text_array(statuses), int_array(chunks), int_array(created_at), text_array(errors),
       text_array(chunkings), text_array(display_names));
}

// The chunks of the files the batch keeps, written with COPY: the bulk path of PostgreSQL, with no
// statement per chunk and no parameter arrays to build and parse.
void insert_chunks(pqxx::work& tx, int64_t store_id, const BatchPlan& plan, const DrawnIds& ids) {
  static const std::vector<std::string> kColumns = {
      "id",   "file_id", "store_id",      "ord",   "heading", "page",
      "text", "tokens",  "heading_terms", "terms", "vector"};
  pqxx::stream_to copy(tx, "chunks", kColumns);
  for (size_t i = 0; i < plan.inserts.size(); ++i) {
    if (!plan.inserts[i].kept) continue;
    const auto& chunks = plan.inserts[i].write->chunks;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const NewChunk& chunk = chunks[c];
      // An empty vector is stored as NULL: the chunk has none yet.
      const auto vector =
          chunk.vector.empty() ? std::nullopt : std::optional<std::string>("\\x" + vector_hex(chunk.vector));
      // The index terms, stemmed by the same function that stems queries (search), so index and
      // query always agree on what a word is; the `search` column is generated from them.
      copy << std::make_tuple(ids.chunks[i][c], ids.files[i], store_id, chunk.ordinal, chunk.heading,
                              chunk.page, chunk.text, chunk.tokens,
                              brandcoach::text::index_terms(chunk.heading),
                              brandcoach::text::index_terms(chunk.text), vector);
    }
  }
  copy.complete();
}

}  // namespace

Result<std::vector<PutResult>> put_files(pqxx::connection& db, int64_t store_id,
                                         const std::vector<FileWrite>& files) {
  if (files.empty()) return std::vector<PutResult>{};
  pqxx::work tx(db);
  // Writers of one store take turns from here on, so deduplication by content and replacement by
  // name see every file that an earlier batch wrote.
  if (exec(tx, "SELECT id FROM stores WHERE id = $1 FOR UPDATE", store_id).empty()) {
    return Error::not_found(fmt::format("no knowledge store with id {}", store_id));
  }
  BatchPlanner planner(store_id, stored_files_met_by(tx, store_id, files));
  for (const auto& write : files) planner.add(write);
  BatchPlan plan = std::move(planner).take();
  if (!plan.changed) return std::move(plan.results);  // the transaction rolls back: nothing was written

  const DrawnIds ids = draw_insert_ids(tx, plan.inserts);
  fill_ids(plan, ids, chunk_ids_of_files(tx, plan.deleted));
  if (!plan.deleted.empty()) {
    exec(tx, "DELETE FROM files WHERE id = ANY($1::bigint[])", int_array(plan.deleted));  // chunks cascade
  }
  insert_files(tx, store_id, plan, ids);
  insert_chunks(tx, store_id, plan, ids);
  bump_version(tx, store_id);
  tx.commit();
  return std::move(plan.results);
}

Result<std::vector<int64_t>> delete_file(pqxx::connection& db, int64_t file_id) {
  pqxx::work tx(db);
  const auto file = exec(tx, "SELECT store_id FROM files WHERE id = $1", file_id);
  if (file.empty()) return Error::not_found(fmt::format("no file with id {}", file_id));
  // The store's lock first (as put_files takes it), then the file: a concurrent batch either wrote
  // before this or sees the file gone.
  bump_version(tx, file[0][0].as<int64_t>());
  auto ids = chunk_ids_of(tx, file_id);
  if (exec(tx, "DELETE FROM files WHERE id = $1", file_id).affected_rows() == 0) {
    return Error::not_found(fmt::format("no file with id {}", file_id));  // deleted meanwhile
  }
  tx.commit();
  return ids;
}

// ---------------------------------------------------------------------------------------------
// Chunks and vectors

namespace {

// Rows per page of the visitors: a store of a million chunks is read a page at a time.
constexpr int64_t kVisitPage = 2000;

// A read of many pages that sees one snapshot, as a single SQLite statement does.
using SnapshotRead = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

// Visits the rows of a paged query ($1 store id, $2 last id seen, $3 page size; id first) in id
// order. Once a row was visited a failure is returned, not thrown: Pool::run would run the whole
// visit again, and the visitor would see rows twice and ids going backwards.
template <class Visit>
Status visit_pages(pqxx::connection& db, const std::string& sql, int64_t store_id, std::string_view what,
                   Visit visit) {
  SnapshotRead tx(db);
  bool visited = false;
  try {
    for (int64_t last = 0;;) {
      const auto page = exec(tx, sql, store_id, last, kVisitPage);
      for (const auto& row : page) {
        visit(row);
        visited = true;
      }
      if (page.size() < static_cast<size_t>(kVisitPage)) break;
      last = page.back()[0].as<int64_t>();
    }
  } catch (const pqxx::failure& error) {
    if (!visited) throw;
    return pg_error(error, what);
  }
  return ok();
}

}  // namespace

Status for_each_vector(pqxx::connection& db, int64_t store_id,
                       const std::function<void(int64_t, const float*, size_t)>& visit) {
  return visit_pages(db,
                     "SELECT id, vector FROM chunks WHERE store_id = $1 AND id > $2 AND vector IS NOT NULL "
                     "ORDER BY id LIMIT $3",
                     store_id, "for each vector", [&](const pqxx::row& row) {
                       const auto vector = read_vector(row[1]);
                       visit(row[0].as<int64_t>(), vector.data(), vector.size());
                     });
}

Status for_each_chunk_terms(pqxx::connection& db, int64_t store_id,
                            const std::function<void(int64_t, std::string_view, std::string_view)>& visit) {
  return visit_pages(
      db, "SELECT id, heading_terms, terms FROM chunks WHERE store_id = $1 AND id > $2 ORDER BY id LIMIT $3",
      store_id, "for each chunk terms", [&](const pqxx::row& row) {
        visit(row[0].as<int64_t>(), std::string_view(row[1].c_str(), row[1].size()),
              std::string_view(row[2].c_str(), row[2].size()));
      });
}

Result<std::vector<std::pair<int64_t, std::string>>> chunk_texts(pqxx::connection& db, int64_t store_id) {
  pqxx::read_transaction tx(db);
  const auto rows = exec(tx,
                         "SELECT id, CASE WHEN heading = '' THEN text ELSE heading || E'\\n' || text END "
                         "FROM chunks WHERE store_id = $1 ORDER BY id",
                         store_id);
  return collect(rows, [](const pqxx::row& row) { return std::pair{row[0].as<int64_t>(), text(row[1])}; });
}

Status update_vectors(pqxx::connection& db, int64_t store_id,
                      const std::vector<std::pair<int64_t, std::vector<float>>>& vectors) {
  constexpr size_t kRowsPerStatement = 2000;
  // One UPDATE … FROM changes a row once, whichever of its matches it takes; written one after the
  // other (as SQLite does), the last vector given for a chunk is the one that stays.
  std::unordered_map<int64_t, size_t> last_given;
  for (size_t i = 0; i < vectors.size(); ++i) last_given[vectors[i].first] = i;
  pqxx::work tx(db);
  bump_version(tx, store_id);  // first: the store's lock before its chunks' (see bump_version)
  std::vector<int64_t> ids;
  std::vector<std::string> hex;
  const auto write = [&] {
    if (ids.empty()) return;
    exec(tx,
         "UPDATE chunks c SET vector = decode(u.vector, 'hex') FROM unnest($1::bigint[], $2::text[]) "
         "AS u(id, vector) WHERE c.id = u.id AND c.store_id = $3",
         int_array(ids), text_array(hex), store_id);
    ids.clear();
    hex.clear();
  };
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (last_given[vectors[i].first] != i) continue;
    ids.push_back(vectors[i].first);
    hex.push_back(vector_hex(vectors[i].second));
    if (ids.size() == kRowsPerStatement) write();
  }
  write();
  tx.commit();
  return ok();
}

Result<std::vector<ChunkRecord>> file_chunks(pqxx::connection& db, int64_t file_id, int limit) {
  pqxx::read_transaction tx(db);
  static const std::string sql = fmt::format(
      "SELECT {} FROM {} WHERE c.file_id = $1 ORDER BY c.ord, c.id LIMIT $2", kChunkColumns, kChunkJoins);
  return collect(exec(tx, sql, file_id, limit_or_all(limit)), read_chunk);
}

Result<std::vector<ChunkRecord>> chunks_by_id(pqxx::connection& db, const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<ChunkRecord>{};
  pqxx::read_transaction tx(db);
  static const std::string sql = fmt::format("SELECT {} FROM {} WHERE c.id = ANY($1::bigint[]) ORDER BY c.id",
                                             kChunkColumns, kChunkJoins);
  return collect(exec(tx, sql, int_array(ids)), read_chunk);
}

// ---------------------------------------------------------------------------------------------
// Lexical search

namespace {

// Every OR-ed term is scored on every chunk that holds it, so one common term makes a query as slow
// as its posting list is long. Terms are taken rarest first while the rows they match stay within a
// budget; the rarest term is always kept. A term in that many chunks adds little to the ranking,
// while the chunks that matter usually also hold the rarer terms. Below the budget (any store of a
// few thousand chunks) nothing is left out. The same rule and budget as the SQLite store.
constexpr int64_t kScoredRowsBudget = 8000;

// How many chunks (of every store, as SQLite's vocabulary table counts) hold each term, counting
// no further than `cap` (it bounds the cost of a common term): (documents, term) for terms that
// occur at all, in query order.
std::vector<std::pair<int64_t, std::string>> document_counts(pqxx::read_transaction& tx,
                                                             const std::vector<std::string>& terms,
                                                             int64_t cap) {
  std::vector<std::string> operands;
  for (const auto& term : terms) operands.push_back(tsquery_operand(term));
  const auto rows = exec(tx,
                         "SELECT t.n, (SELECT COUNT(*) FROM (SELECT 1 FROM chunks c WHERE c.search @@ "
                         "to_tsquery('simple', t.operand) LIMIT $2) AS m) "
                         "FROM unnest($1::text[]) WITH ORDINALITY AS t(operand, n) ORDER BY t.n",
                         text_array(operands), cap);
  std::vector<std::pair<int64_t, std::string>> counted;
  for (const auto& row : rows) {
    const int64_t documents = row[1].as<int64_t>();
    if (documents > 0) counted.emplace_back(documents, terms[row[0].as<size_t>() - 1]);
  }
  return counted;
}

std::vector<std::string> affordable_terms(pqxx::read_transaction& tx, std::vector<std::string> terms) {
  if (terms.size() < 2) return terms;
  // Counts below the cap are exact, and a term at the cap is over the budget whatever its true
  // count: kept only when it is the rarest of all, which a larger cap then tells apart.
  for (int64_t cap = kScoredRowsBudget + 1;; cap *= 8) {
    auto by_frequency = document_counts(tx, terms, cap);
    std::stable_sort(by_frequency.begin(), by_frequency.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    if (!by_frequency.empty() && by_frequency.front().first >= cap) continue;
    std::vector<std::string> kept;
    int64_t rows = 0;
    for (auto& [documents, term] : by_frequency) {
      if (!kept.empty() && rows + documents > kScoredRowsBudget) break;
      rows += documents;
      kept.push_back(std::move(term));
    }
    return kept;
  }
}

}  // namespace

Result<std::vector<ChunkHit>> search(pqxx::connection& db, const std::vector<std::string>& store_names,
                                     std::string_view query, int limit) {
  if (store_names.empty() || limit == 0) return std::vector<ChunkHit>{};
  auto terms = brandcoach::text::query_terms(query);
  if (terms.empty()) return std::vector<ChunkHit>{};
  pqxx::read_transaction tx(db);
  const auto stores =
      collect(exec(tx, "SELECT id FROM stores WHERE name = ANY($1::text[])", text_array(store_names)), id_of);
  if (stores.empty()) return std::vector<ChunkHit>{};
  const auto kept = affordable_terms(tx, std::move(terms));
  if (kept.empty()) return std::vector<ChunkHit>{};

  // ts_rank saturates repeated terms, as BM25 does; heading terms (weight A) count double the body's
  // (weight D), as the SQLite store's BM25 column weights have it. The top rows are ranked on the
  // chunk table alone; only they are joined to their file and store.
  static const std::string sql = fmt::format(
      "SELECT {}, top.score FROM (SELECT c.id, ts_rank('{{0.5, 0.5, 0.5, 1.0}}', c.search, "
      "to_tsquery('simple', $1))::float8 AS score FROM chunks c WHERE c.store_id = ANY($2::bigint[]) AND "
      "c.search @@ to_tsquery('simple', $1) ORDER BY score DESC, c.id LIMIT $3) AS top "
      "JOIN chunks c ON c.id = top.id JOIN files f ON f.id = c.file_id JOIN stores s ON s.id = c.store_id "
      "ORDER BY top.score DESC, top.id",
      kChunkColumns);
  const auto rows = exec(tx, sql, tsquery_text(kept), int_array(stores), limit_or_all(limit));
  return collect(rows, [](const pqxx::row& row) {
    ChunkHit hit;
    static_cast<ChunkRecord&>(hit) = read_chunk(row);
    hit.score = row[10].as<double>();
    return hit;
  });
}

// ---------------------------------------------------------------------------------------------
// Uploads and responses

namespace {

Upload read_upload(const pqxx::row& row, bool with_content) {
  Upload upload;
  upload.id = text(row[0]);
  upload.user_id = row[1].as<int64_t>();
  upload.filename = text(row[2]);
  upload.purpose = text(row[3]);
  upload.bytes = row[4].as<int64_t>();
  upload.sha256 = text(row[5]);
  upload.created_at = row[6].as<int64_t>();
  if (with_content) {
    const pqxx::binarystring content(row[7]);
    upload.content = content.str();
  }
  return upload;
}

}  // namespace

Result<Upload> create_upload(pqxx::connection& db, const Upload& upload) {
  Upload stored = upload;
  stored.bytes = static_cast<int64_t>(stored.content.size());
  stored.sha256 = sha256_hex(stored.content);
  if (stored.created_at == 0) stored.created_at = unix_millis();
  pqxx::work tx(db);
  exec(tx,
       "INSERT INTO uploads (id, user_id, filename, purpose, bytes, sha256, content, created_at) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
       stored.id, stored.user_id, stored.filename, stored.purpose, stored.bytes, stored.sha256,
       pqxx::binarystring(stored.content.data(), stored.content.size()), stored.created_at);
  tx.commit();
  return stored;
}

Result<std::vector<Upload>> list_uploads(pqxx::connection& db, int64_t user_id) {
  pqxx::read_transaction tx(db);
  // SQLite breaks ties of created_at by rowid (insertion order); the nearest PostgreSQL has without
  // a serial column is the row's place in its partition (one user's rows share one), which follows
  // insertion order while nothing was deleted before them.
  const auto rows = exec(tx,
                         "SELECT id, user_id, filename, purpose, bytes, sha256, created_at FROM uploads "
                         "WHERE user_id = $1 ORDER BY created_at, ctid",
                         user_id);
  return collect(rows, [](const pqxx::row& row) { return read_upload(row, false); });
}

Result<std::optional<Upload>> find_upload(pqxx::connection& db, int64_t user_id, std::string_view id,
                                          bool with_content) {
  pqxx::read_transaction tx(db);
  const auto rows =
      exec(tx,
           with_content ? "SELECT id, user_id, filename, purpose, bytes, sha256, created_at, content "
                          "FROM uploads WHERE user_id = $1 AND id = $2"
                        : "SELECT id, user_id, filename, purpose, bytes, sha256, created_at "
                          "FROM uploads WHERE user_id = $1 AND id = $2",
           user_id, id);
  if (rows.empty()) return std::optional<Upload>{};
  return std::optional<Upload>{read_upload(rows[0], with_content)};
}

Status delete_upload(pqxx::connection& db, int64_t user_id, std::string_view id) {
  pqxx::work tx(db);
  if (exec(tx, "DELETE FROM uploads WHERE user_id = $1 AND id = $2", user_id, id).affected_rows() == 0) {
    return Error::not_found(fmt::format("No such File object: {}", id), "file_id");
  }
  tx.commit();
  return ok();
}

Status put_response(pqxx::connection& db, const StoredResponse& response) {
  pqxx::work tx(db);
  exec(tx,
       "INSERT INTO responses (id, user_id, previous_id, request_json, output_json, usage_json, created_at) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7)",
       response.id, response.user_id,
       response.previous_id.empty() ? std::nullopt : std::optional<std::string>(response.previous_id),
       response.request_json, response.output_json, response.usage_json,
       response.created_at == 0 ? unix_millis() : response.created_at);
  tx.commit();
  return ok();
}

Result<std::optional<StoredResponse>> find_response(pqxx::connection& db, int64_t user_id,
                                                    std::string_view id) {
  pqxx::read_transaction tx(db);
  const auto rows =
      exec(tx,
           "SELECT id, user_id, COALESCE(previous_id, ''), request_json, output_json, usage_json, "
           "created_at FROM responses WHERE user_id = $1 AND id = $2",
           user_id, id);
  if (rows.empty()) return std::optional<StoredResponse>{};
  const auto& row = rows[0];
  return std::optional<StoredResponse>{StoredResponse{text(row[0]), row[1].as<int64_t>(), text(row[2]),
                                                      text(row[3]), text(row[4]), text(row[5]),
                                                      row[6].as<int64_t>()}};
}

Status delete_response(pqxx::connection& db, int64_t user_id, std::string_view id) {
  pqxx::work tx(db);
  if (exec(tx, "DELETE FROM responses WHERE user_id = $1 AND id = $2", user_id, id).affected_rows() == 0) {
    return Error::not_found(fmt::format("Response with id '{}' not found.", id), "response_id");
  }
  tx.commit();
  return ok();
}

// ---------------------------------------------------------------------------------------------
// API keys

namespace {

constexpr const char* kApiKeySelect =
    "SELECT k.id, u.external_id, k.name, k.role, k.created_at, COALESCE(k.revoked_at, 0) FROM api_keys k "
    "JOIN users u ON u.id = k.user_id";

ApiKey read_api_key(const pqxx::row& row) {
  return {row[0].as<int64_t>(), text(row[1]),         text(row[2]),
          text(row[3]),         row[4].as<int64_t>(), row[5].as<int64_t>()};
}

}  // namespace

Result<ApiKey> create_api_key(pqxx::connection& db, std::string_view user, std::string_view name,
                              std::string_view role, std::string_view secret_hash) {
  pqxx::work tx(db);
  // The owner is created on first sight, in the key's own transaction.
  const std::string select = "SELECT id FROM users WHERE external_id = $1";
  auto owner = exec(tx, select, user);
  if (owner.empty()) {
    exec(tx,
         "INSERT INTO users (external_id, created_at) VALUES ($1, $2) ON CONFLICT (external_id) DO NOTHING",
         user, unix_millis());
    owner = exec(tx, select, user);  // a fresh snapshot: sees a user a concurrent call created
  }
  if (owner.empty()) return Error::internal("the key's user vanished after insert");
  const int64_t now = unix_millis();
  const auto inserted = exec(tx,
                             "INSERT INTO api_keys (user_id, name, hash, role, created_at) "
                             "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                             id_of(owner[0]), name, secret_hash, role, now);
  tx.commit();
  return ApiKey{id_of(inserted[0]), std::string(user), std::string(name), std::string(role), now, 0};
}

Result<std::optional<ApiKey>> find_api_key(pqxx::connection& db, std::string_view secret_hash) {
  pqxx::read_transaction tx(db);
  static const std::string sql = std::string(kApiKeySelect) + " WHERE k.hash = $1";
  const auto rows = exec(tx, sql, secret_hash);
  if (rows.empty()) return std::optional<ApiKey>{};
  return std::optional<ApiKey>{read_api_key(rows[0])};
}

Result<std::vector<ApiKey>> list_api_keys(pqxx::connection& db, std::optional<std::string_view> user) {
  pqxx::read_transaction tx(db);
  if (!user) {
    static const std::string sql = std::string(kApiKeySelect) + " ORDER BY k.id";
    return collect(exec(tx, sql), read_api_key);
  }
  static const std::string sql = std::string(kApiKeySelect) + " WHERE u.external_id = $1 ORDER BY k.id";
  return collect(exec(tx, sql, *user), read_api_key);
}

Status revoke_api_key(pqxx::connection& db, int64_t id) {
  pqxx::work tx(db);
  const auto updated =
      exec(tx, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2", unix_millis(), id);
  if (updated.affected_rows() == 0) return Error::not_found(fmt::format("no API key {}", id));
  tx.commit();
  return ok();
}

}  // namespace brandcoach::store::postgres::knowledge
