#include <fstream>
#include <iterator>

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "brandcoach/index/index.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::index {

namespace fs = std::filesystem;

// One store's lexical index and the store version it reflects in this process.
struct KnowledgeIndexes::LexicalEntry {
  int64_t store_id = 0;
  int64_t version = -1;  // -1: stale
  std::unique_ptr<LexicalIndex> index;
};

// One store's dense index, its document frequencies, and the store version they reflect.
struct KnowledgeIndexes::Entry {
  int64_t store_id = 0;
  int64_t version = -1;  // store version the index reflects; -1: stale
  bool dirty = false;    // newer than the file on disk
  std::unique_ptr<DenseIndex> index;
  std::mutex df_mutex;
  embed::DocumentFrequencies df;  // guarded by df_mutex
};

namespace {

// File names carry the store id and the embedder, so an index never serves another vector space.
std::string file_stem(int64_t store_id, const std::string& embedder) {
  std::string safe;
  for (const char c : embedder) safe.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return fmt::format("store-{}-{}", store_id, safe);
}

std::optional<int64_t> persisted_version(const fs::path& meta_path, size_t dimension) {
  std::ifstream in(meta_path);
  if (!in) return std::nullopt;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto meta = parse_json(text);
  if (!meta.is_object() || meta.value("dimension", size_t{0}) != dimension) return std::nullopt;
  return meta.value("version", int64_t{-1});
}

std::vector<LexicalIndex::Document> lexical_documents(const std::vector<IndexedChunk>& chunks) {
  std::vector<LexicalIndex::Document> docs;
  docs.reserve(chunks.size());
  for (const auto& chunk : chunks)
    docs.push_back({chunk.id, text::index_terms(chunk.heading), text::index_terms(chunk.text)});
  return docs;
}

}  // namespace

KnowledgeIndexes::KnowledgeIndexes(store::Store& store, embed::Embedder& embedder, fs::path folder)
    : store_(store), embedder_(embedder), folder_(std::move(folder)) {}

KnowledgeIndexes::~KnowledgeIndexes() {
  if (auto status = save_all(); !status)
    spdlog::warn("could not persist vector indexes: {}", status.error().message);
}

Result<std::shared_ptr<KnowledgeIndexes::Entry>> KnowledgeIndexes::current(std::string_view store_name) {
  auto info = store_.find_knowledge_store(store_name);
  if (!info) return info.error();
  if (!*info) return Error::not_found("no knowledge store named '" + std::string(store_name) + "'");
  const auto& store = **info;
  if (store.embedder != embedder_.id()) {
    return Error::unavailable(fmt::format(
        "knowledge store '{}' was embedded with '{}', not the configured '{}'; run `brandcoach kb reindex "
        "--store {}`",
        store.name, store.embedder.empty() ? "nothing" : store.embedder, embedder_.id(), store.name));
  }
  std::lock_guard lock(mutex_);
  auto& slot = entries_[std::string(store_name)];
  if (slot && slot->version == store.version && slot->store_id == store.id) return slot;

  auto entry = std::make_shared<Entry>();
  entry->store_id = store.id;
  const auto stem = file_stem(store.id, embedder_.id());
  const fs::path index_path = folder_ / (stem + ".hnsw");
  const fs::path meta_path = folder_ / (stem + ".json");
  const size_t dim = embedder_.dimension();
  // The persisted copy is used only when it reflects exactly the store's current version.
  if (persisted_version(meta_path, dim) == store.version) {
    if (auto loaded = DenseIndex::load(index_path, dim)) {
      entry->index = std::make_unique<DenseIndex>(std::move(loaded).value());
    } else {
      spdlog::warn("{}; rebuilding", loaded.error().message);
    }
  }
  std::string how = "loaded";
  if (!entry->index) {
    how = "rebuilt";
    entry->index = std::make_unique<DenseIndex>(dim);
    entry->dirty = true;
  }
  const bool rebuild = entry->dirty;
  // Stored vectors are only readable inside the callback, so a rebuild copies them in batches large
  // enough for add_many to spread over the cores.
  constexpr size_t kRebuildBatch = 16384;
  std::vector<std::pair<int64_t, embed::Vector>> batch;
  auto flush = [&] {
    std::vector<std::pair<int64_t, const float*>> items;
    items.reserve(batch.size());
    for (const auto& [id, vector] : batch) items.emplace_back(id, vector.data());
    entry->index->add_many(items);
    batch.clear();
  };
  auto status = store_.for_each_vector(store.id, [&](int64_t id, const float* data, size_t size) {
    if (size != dim) return;  // a vector of another space cannot be searched with this one
    embed::Vector v(data, data + size);
    entry->df.add(v);
    if (!rebuild) return;
    batch.emplace_back(id, std::move(v));
    if (batch.size() == kRebuildBatch) flush();
  });
  if (!status) return status.error();
  flush();
  entry->version = store.version;
  spdlog::info("vector index for '{}' {} ({} vectors)", store.name, how, entry->index->size());
  slot = entry;
  return entry;
}

Result<std::shared_ptr<KnowledgeIndexes::LexicalEntry>> KnowledgeIndexes::current_lexical(
    std::string_view store_name) {
  auto info = store_.find_knowledge_store(store_name);
  if (!info) return info.error();
  if (!*info) return Error::not_found("no knowledge store named '" + std::string(store_name) + "'");
  const auto& store = **info;
  std::lock_guard lock(lexical_mutex_);
  auto& slot = lexical_entries_[std::string(store_name)];
  if (slot && slot->version == store.version && slot->store_id == store.id) return slot;

  // Opened afresh: handles opened before another process's commit do not see it.
  const fs::path lexical_folder = folder_ / fmt::format("store-{}-lexical", store.id);
  auto opened = LexicalIndex::open(lexical_folder);
  if (!opened) {
    // The index is derived data: one that cannot be opened is replaced by a rebuild.
    spdlog::warn("{}; rebuilding", opened.error().message);
    std::error_code ec;
    fs::remove_all(lexical_folder, ec);
    opened = LexicalIndex::open(lexical_folder);
    if (!opened) return opened.error();
  }
  auto entry = std::make_shared<LexicalEntry>();
  entry->store_id = store.id;
  entry->index = std::make_unique<LexicalIndex>(std::move(opened).value());
  if (entry->index->version() != store.version) {
    const auto started = std::chrono::steady_clock::now();
    auto status = entry->index->rebuild(
        [&](const std::function<void(const LexicalIndex::Document&)>& add) {
          return store_.for_each_chunk_terms(
              store.id, [&](int64_t id, std::string_view heading, std::string_view terms) {
                add({id, std::string(heading), std::string(terms)});
              });
        },
        store.version);
    if (!status) return status.error();
    spdlog::info("lexical index for '{}' rebuilt ({} chunks, {:.1f} s)", store.name, entry->index->size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  entry->version = store.version;
  slot = entry;
  return entry;
}

Result<std::vector<std::pair<int64_t, double>>> KnowledgeIndexes::search_lexical(
    const std::vector<std::string>& store_names, std::string_view query, size_t k,
    const std::function<bool(int64_t)>& allow) {
  std::vector<LexicalIndex*> indexes;
  std::vector<std::shared_ptr<LexicalEntry>> held;  // alive until the search is done
  for (const auto& name : store_names) {
    auto entry = current_lexical(name);
    if (!entry) {
      if (entry.error().kind == ErrorKind::not_found) continue;  // as the store search: unknown = empty
      return entry.error();
    }
    indexes.push_back((*entry)->index.get());
    held.push_back(std::move(entry).value());
  }
  return LexicalIndex::search(indexes, text::query_terms(query), k, allow);
}

Result<std::vector<std::pair<int64_t, float>>> KnowledgeIndexes::search(
    std::string_view store_name, std::string_view query, size_t k,
    const std::function<bool(int64_t)>& allow) {
  auto entry = current(store_name);
  if (!entry) return entry.error();
  Result<embed::Vector> vector = Error::internal("unset");
  {
    std::lock_guard lock((*entry)->df_mutex);
    vector = embedder_.embed_query(query, &(*entry)->df);
  }
  if (!vector) return vector.error();
  if (vector->size() != (*entry)->index->dimension())
    return Error::internal("query vector has the wrong dimension");
  return (*entry)->index->search(vector->data(), k, allow);
}

void KnowledgeIndexes::apply(std::string_view store_name, const std::vector<IndexedChunk>& added,
                             const std::vector<int64_t>& removed) {
  auto info = store_.find_knowledge_store(store_name);
  const int64_t store_version = info && *info ? (**info).version : -1;
  apply_lexical(store_name, added, removed, store_version);
  std::lock_guard lock(mutex_);
  auto found = entries_.find(store_name);
  if (found == entries_.end() || !found->second) return;  // not loaded: it will load fresh when needed
  auto& entry = *found->second;
  // Vectors of removed chunks are gone from the store, so their frequencies are rebuilt on the next
  // load; until then the counts only err by the removed documents, which idf tolerates.
  for (const int64_t id : removed) entry.index->remove(id);
  {
    std::lock_guard df_lock(entry.df_mutex);
    std::vector<std::pair<int64_t, const float*>> items;
    items.reserve(added.size());
    for (const auto& chunk : added) {
      if (chunk.vector.empty()) continue;
      items.emplace_back(chunk.id, chunk.vector.data());
      entry.df.add(chunk.vector);
    }
    entry.index->add_many(items);
  }
  entry.dirty = true;
  // Current only if no other writer touched the store in between (each write bumps the version by 1).
  const bool in_step = store_version >= 0 && store_version == entry.version + 1;
  entry.version = in_step ? store_version : -1;
}

void KnowledgeIndexes::apply_lexical(std::string_view store_name, const std::vector<IndexedChunk>& added,
                                     const std::vector<int64_t>& removed, int64_t store_version) {
  std::lock_guard lock(lexical_mutex_);
  auto found = lexical_entries_.find(store_name);
  if (found == lexical_entries_.end() || !found->second) return;  // rebuilt or loaded when next needed
  auto& entry = *found->second;
  if (store_version < 0 || store_version != entry.version + 1) {
    entry.version = -1;  // another writer came between: rebuild when next needed
    return;
  }
  if (auto status = entry.index->write(lexical_documents(added), removed, store_version); !status) {
    spdlog::warn("lexical index for '{}' not updated, it will be rebuilt: {}", store_name,
                 status.error().message);
    entry.version = -1;
    return;
  }
  entry.version = store_version;
}

Result<std::string> KnowledgeIndexes::refresh(std::string_view store_name) {
  auto lexical = current_lexical(store_name);
  if (!lexical) return lexical.error();
  auto entry = current(store_name);
  if (!entry) return entry.error();
  return fmt::format("{} vectors, {} lexical documents", (*entry)->index->size(), (*lexical)->index->size());
}

Status KnowledgeIndexes::save_all() {
  std::lock_guard lock(mutex_);
  for (auto& [name, entry] : entries_) {
    if (!entry || !entry->dirty || entry->version < 0) continue;
    const auto stem = file_stem(entry->store_id, embedder_.id());
    if (auto status = entry->index->save(folder_ / (stem + ".hnsw")); !status) return status;
    std::ofstream meta(folder_ / (stem + ".json"), std::ios::trunc);
    meta << nlohmann::json{{"version", entry->version},
                           {"dimension", embedder_.dimension()},
                           {"embedder", embedder_.id()},
                           {"vectors", entry->index->size()}}
                .dump();
    if (!meta) return Error::unavailable("cannot write index metadata for " + name);
    entry->dirty = false;
  }
  return ok();
}

Status KnowledgeIndexes::remove_files(int64_t store_id) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(entries_,
                  [&](const auto& item) { return item.second && item.second->store_id == store_id; });
  }
  {
    std::lock_guard lock(lexical_mutex_);
    std::erase_if(lexical_entries_,
                  [&](const auto& item) { return item.second && item.second->store_id == store_id; });
  }
  const std::string prefix = fmt::format("store-{}-", store_id);
  std::error_code ec;
  if (!fs::exists(folder_, ec)) return ok();
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(folder_, ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) == 0) doomed.push_back(entry.path());
  }
  if (ec) return Error::unavailable("cannot list " + folder_.string() + ": " + ec.message());
  for (const auto& path : doomed) {
    fs::remove_all(path, ec);
    if (ec) return Error::unavailable("cannot remove " + path.string() + ": " + ec.message());
  }
  return ok();
}

}  // namespace brandcoach::index
