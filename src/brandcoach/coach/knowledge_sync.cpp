#include <chrono>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::coach {

namespace fs = std::filesystem;

namespace {

constexpr size_t kEmbedBatch = 256;
// Write batches: large enough that commits and index updates amortise (and that a batch has enough
// vectors for a parallel HNSW insert), small enough to bound the memory a batch holds.
constexpr size_t kWriteBatchFiles = 512;
constexpr size_t kWriteBatchBytes = 16u << 20;
// ...and never older than this, so an interrupted ingest loses at most about a second of work.
constexpr auto kWriteBatchAge = std::chrono::seconds(1);

std::string chunking_json(const text::ChunkOptions& options) {
  return nlohmann::json{{"type", "static"},
                        {"max_chunk_size_tokens", options.max_tokens},
                        {"chunk_overlap_tokens", options.overlap_tokens}}
      .dump();
}

// What the embedder sees of a chunk: its heading path says what the passage is about.
std::string embedding_text(const text::Chunk& chunk) {
  return chunk.heading.empty() ? chunk.text : chunk.heading + "\n" + chunk.text;
}

// The blocks cut into chunks, each with the embedder's vector of its text (embedded in batches).
Result<std::vector<store::NewChunk>> embedded_chunks(embed::Embedder& embedder,
                                                     const std::vector<text::Block>& blocks,
                                                     const text::ChunkOptions& chunking) {
  const auto chunks = text::chunk_blocks(blocks, chunking);
  std::vector<std::string> texts;
  for (const auto& chunk : chunks) texts.push_back(embedding_text(chunk));
  std::vector<store::NewChunk> out;
  out.reserve(chunks.size());
  for (size_t start = 0; start < texts.size(); start += kEmbedBatch) {
    std::vector<std::string> slice(
        texts.begin() + static_cast<std::ptrdiff_t>(start),
        texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), start + kEmbedBatch)));
    auto vectors = embedder.embed_documents(slice);
    if (!vectors) return vectors.error();
    for (size_t i = 0; i < vectors->size(); ++i) {
      const auto& chunk = chunks[start + i];
      out.push_back({chunk.ordinal, chunk.heading, chunk.text, static_cast<int64_t>(chunk.tokens), chunk.page,
                     std::move((*vectors)[i])});
    }
  }
  return out;
}

// The store's id, after checking it was (or will now be) embedded with the configured embedder.
Result<int64_t> prepare_store(store::Store& store, const embed::Embedder& embedder, std::string_view name,
                              const text::ChunkOptions& chunking) {
  if (name.empty()) return Error::invalid("a store name is required", "store");
  auto id = store.ensure_knowledge_store(name);
  if (!id) return id.error();
  auto info = store.find_knowledge_store(name);
  if (!info) return info.error();
  if (!*info) return Error::internal("knowledge store vanished");
  if ((*info)->embedder.empty()) {
    if (auto status = store.configure_knowledge_store(*id, embedder.id(), chunking_json(chunking)); !status) {
      return status.error();
    }
  } else if ((*info)->embedder != embedder.id()) {
    return Error{ErrorKind::conflict,
                 fmt::format("knowledge store '{}' was embedded with '{}' but '{}' is configured; run "
                             "`brandcoach kb reindex --store {}` first",
                             name, (*info)->embedder, embedder.id(), name),
                 "store"};
  }
  return *id;
}

}  // namespace

Result<SyncReport> ingest_into(store::Store& store, index::KnowledgeIndexes& vectors,
                               std::string_view store_name, ingest::Batch batch,
                               const IngestOptions& options) {
  if (auto problem = text::validate(options.chunking)) return Error::invalid(*problem, "chunking_strategy");
  auto& embedder = vectors.embedder();
  auto store_id = prepare_store(store, embedder, store_name, options.chunking);
  if (!store_id) return store_id.error();
  auto existing = store.list_files(*store_id);
  if (!existing) return existing.error();
  // Load the dense index before writing, so the writes below update it instead of forcing a rebuild.
  if (auto loaded = vectors.refresh(store_name); !loaded) return loaded.error();

  SyncReport report;
  report.failures = std::move(batch.failures);
  IngestProgress progress;
  progress.documents_total = batch.documents.size();
  for (const auto& doc : batch.documents) progress.bytes_total += static_cast<int64_t>(doc.bytes);
  std::set<std::string> seen;

  // Files are written in batches: one transaction (one fsync) and one dense-index update per batch
  // instead of per file. Each file is still all-or-nothing, and so is each batch.
  std::vector<store::FileWrite> pending;
  std::vector<bool> pending_is_new;
  size_t pending_bytes = 0;
  auto batch_started = std::chrono::steady_clock::now();
  auto flush = [&]() -> Status {
    if (pending.empty()) return ok();
    auto results = store.put_files(*store_id, pending);
    if (!results) return results.error();
    std::vector<int64_t> removed;
    std::vector<index::IndexedChunk> added;
    for (size_t f = 0; f < results->size(); ++f) {
      auto& put = (*results)[f];
      auto& write = pending[f];
      removed.insert(removed.end(), put.replaced_chunk_ids.begin(), put.replaced_chunk_ids.end());
      if (put.duplicate) {
        ++report.duplicates;
        report.duplicate_notes.push_back(
            {write.file.filename, "same content as " + put.file.filename + " (not stored twice)"});
        continue;
      }
      ++(pending_is_new[f] ? report.added : report.updated);
      report.chunks += static_cast<int64_t>(write.chunks.size());
      report.bytes += write.file.bytes;
      for (size_t i = 0; i < write.chunks.size(); ++i) {
        auto& chunk = write.chunks[i];
        added.push_back(
            {put.chunk_ids[i], std::move(chunk.heading), std::move(chunk.text), std::move(chunk.vector)});
      }
    }
    // A name written twice in one batch replaces chunks added earlier in the same batch.
    const std::set<int64_t> gone(removed.begin(), removed.end());
    std::erase_if(added, [&](const index::IndexedChunk& chunk) { return gone.contains(chunk.id); });
    if (!added.empty() || !removed.empty()) vectors.apply(store_name, added, removed);
    pending.clear();
    pending_is_new.clear();
    pending_bytes = 0;
    batch_started = std::chrono::steady_clock::now();
    progress.chunks = report.chunks;
    return ok();
  };

  std::unordered_map<std::string_view, const store::StoredFile*> existing_by_name;
  for (const auto& file : *existing) existing_by_name.emplace(file.filename, &file);
  for (auto& doc : batch.documents) {
    seen.insert(doc.filename);
    const auto found = existing_by_name.find(doc.filename);
    const store::StoredFile* previous = found == existing_by_name.end() ? nullptr : found->second;
    progress.documents_done++;
    progress.bytes_done += static_cast<int64_t>(doc.bytes);
    if (previous != nullptr && previous->sha256 == doc.sha256) {
      ++report.unchanged;
      if (options.on_progress) options.on_progress(progress);
      continue;
    }
    auto chunks = embedded_chunks(embedder, doc.blocks, options.chunking);
    if (!chunks) return chunks.error();
    store::FileWrite write;
    write.file.filename = doc.filename;
    write.file.bytes = static_cast<int64_t>(doc.bytes);
    write.file.sha256 = doc.sha256;
    write.file.external_id = doc.external_id;
    write.file.title = doc.title;
    write.file.format = doc.format;
    write.file.attributes_json = doc.attributes.dump();
    write.chunks = std::move(chunks).value();
    pending.push_back(std::move(write));
    pending_is_new.push_back(previous == nullptr);
    pending_bytes += doc.bytes;
    if (pending.size() >= kWriteBatchFiles || pending_bytes >= kWriteBatchBytes ||
        std::chrono::steady_clock::now() - batch_started >= kWriteBatchAge) {
      if (auto status = flush(); !status) return status.error();
    }
    if (options.on_progress) options.on_progress(progress);
  }
  if (auto status = flush(); !status) return status.error();

  if (options.prune) {
    for (const auto& file : *existing) {
      if (seen.contains(file.filename)) continue;
      // A file that is still there but could not be read this time keeps its last good version.
      const bool unreadable =
          std::any_of(report.failures.begin(), report.failures.end(), [&](const auto& failure) {
            return failure.path.ends_with("/" + file.filename) || failure.path == file.filename;
          });
      if (unreadable) continue;
      auto removed = store.delete_file(file.id);
      if (!removed) return removed.error();
      vectors.apply(store_name, {}, *removed);
      ++report.removed;
    }
  }
  return report;
}

Result<store::StoredFile> attach_file(store::Store& store, index::KnowledgeIndexes& vectors,
                                      const store::KnowledgeStore& target, const StoreFile& file) {
  auto& embedder = vectors.embedder();
  if (!target.embedder.empty() && target.embedder != embedder.id()) {
    // The store was embedded by another embedder than the one configured now: bring it along first.
    if (auto count = reindex(store, vectors, target.name); !count) return count.error();
  }
  store::FileWrite write;
  write.file.filename = file.filename;
  write.file.bytes = static_cast<int64_t>(file.bytes.size());
  write.file.sha256 = sha256_hex(file.bytes);
  write.file.external_id = file.file_id;
  write.file.attributes_json = file.attributes.dump();
  write.file.keyed_by_external_id = true;
  write.file.chunking_json = chunking_json(file.chunking);
  auto documents = ingest::read_document(file.filename, file.filename, file.bytes);
  if (!documents) {
    write.file.status = "failed";
    write.file.last_error = documents.error().message;
  } else {
    // A JSON or JSONL file holds many records; as one file of a vector store they are one document.
    std::vector<text::Block> blocks;
    for (auto& doc : *documents) {
      if (write.file.title.empty()) write.file.title = doc.title;
      write.file.format = doc.format;
      for (auto& block : doc.blocks) blocks.push_back(std::move(block));
    }
    auto chunks = embedded_chunks(embedder, blocks, file.chunking);
    if (!chunks) return chunks.error();
    write.chunks = std::move(chunks).value();
    if (write.chunks.empty()) {
      write.file.status = "failed";
      write.file.last_error = "the file holds no text";
    }
  }
  if (target.embedder.empty()) {
    if (auto status = store.configure_knowledge_store(target.id, embedder.id(), chunking_json(file.chunking));
        !status)
      return status.error();
  }
  auto written = store.put_files(target.id, {write});
  if (!written) return written.error();
  auto& put = written->front();
  if (!put.duplicate) {
    std::vector<index::IndexedChunk> added;
    for (size_t i = 0; i < write.chunks.size(); ++i) {
      auto& chunk = write.chunks[i];
      added.push_back(
          {put.chunk_ids[i], std::move(chunk.heading), std::move(chunk.text), std::move(chunk.vector)});
    }
    vectors.apply(target.name, added, put.replaced_chunk_ids);
    if (auto status = vectors.save_all(); !status) spdlog::warn("{}", status.error().message);
  }
  return std::move(put.file);
}

Status detach_file(store::Store& store, index::KnowledgeIndexes& vectors, const store::KnowledgeStore& target,
                   int64_t file_row_id) {
  auto removed = store.delete_file(file_row_id);
  if (!removed) return removed.error();
  vectors.apply(target.name, {}, *removed);
  if (auto status = vectors.save_all(); !status) spdlog::warn("{}", status.error().message);
  return ok();
}

Result<int64_t> reindex(store::Store& store, index::KnowledgeIndexes& vectors, std::string_view store_name) {
  auto info = store.find_knowledge_store(store_name);
  if (!info) return info.error();
  if (!*info) return Error::not_found("no knowledge store named '" + std::string(store_name) + "'");
  auto texts = store.chunk_texts((*info)->id);
  if (!texts) return texts.error();
  auto& embedder = vectors.embedder();
  std::vector<std::pair<int64_t, std::vector<float>>> updated;
  for (size_t start = 0; start < texts->size(); start += kEmbedBatch) {
    std::vector<std::string> slice;
    for (size_t i = start; i < std::min(texts->size(), start + kEmbedBatch); ++i)
      slice.push_back((*texts)[i].second);
    auto batch = embedder.embed_documents(slice);
    if (!batch) return batch.error();
    for (size_t i = 0; i < batch->size(); ++i)
      updated.emplace_back((*texts)[start + i].first, std::move((*batch)[i]));
  }
  if (auto status = store.update_vectors((*info)->id, updated); !status) return status.error();
  const std::string chunking = (*info)->chunking_json.empty() || (*info)->chunking_json == "{}"
                                   ? chunking_json({})
                                   : (*info)->chunking_json;
  if (auto status = store.configure_knowledge_store((*info)->id, embedder.id(), chunking); !status) {
    return status.error();
  }
  if (auto refreshed = vectors.refresh(store_name); !refreshed) return refreshed.error();
  return static_cast<int64_t>(updated.size());
}

Result<SyncReport> sync_knowledge(store::Store& store, index::KnowledgeIndexes& vectors,
                                  const AssistantRegistry& assistants, const fs::path& knowledge_dir) {
  SyncReport total;
  for (const auto& assistant : assistants.all()) {
    const fs::path folder = knowledge_dir / assistant.id;
    if (!fs::is_directory(folder)) {
      total.failures.push_back({folder.string(), "knowledge folder missing"});
      continue;
    }
    IngestOptions options;
    options.prune = true;
    auto report = ingest_into(store, vectors, assistant.knowledge_store,
                              ingest::read_paths({folder.string()}), options);
    if (!report && report.error().kind == ErrorKind::conflict) {
      // Bundled stores follow the configured embedder on their own.
      spdlog::info("re-embedding knowledge store '{}' for the configured embedder",
                   assistant.knowledge_store);
      if (auto count = reindex(store, vectors, assistant.knowledge_store); !count) return count.error();
      report = ingest_into(store, vectors, assistant.knowledge_store, ingest::read_paths({folder.string()}),
                           options);
    }
    if (!report) return report.error();
    total.added += report->added;
    total.updated += report->updated;
    total.unchanged += report->unchanged;
    total.duplicates += report->duplicates;
    total.removed += report->removed;
    total.chunks += report->chunks;
    total.bytes += report->bytes;
    for (auto& failure : report->failures) total.failures.push_back(std::move(failure));
    for (auto& note : report->duplicate_notes) total.duplicate_notes.push_back(std::move(note));
  }
  if (auto status = vectors.save_all(); !status) spdlog::warn("{}", status.error().message);
  return total;
}

}  // namespace brandcoach::coach
