#include <set>

#include <spdlog/spdlog.h>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::coach {

namespace fs = std::filesystem;

Result<SyncReport> ingest_into(store::Store& store, std::string_view store_name,
                               const std::vector<fs::path>& paths, bool prune) {
  if (store_name.empty()) return Error::invalid("a store name is required", "store");
  auto store_id = store.ensure_knowledge_store(store_name);
  if (!store_id) return store_id.error();
  auto existing = store.list_files(*store_id);
  if (!existing) return existing.error();

  SyncReport report;
  auto batch = ingest::read_paths(paths);
  report.failures = std::move(batch.failures);
  std::set<std::string> seen;
  for (const auto& doc : batch.documents) {
    seen.insert(doc.filename);
    const auto previous = std::find_if(existing->begin(), existing->end(), [&](const store::StoredFile& f) {
      return f.filename == doc.filename;
    });
    if (previous != existing->end() && previous->sha256 == doc.sha256) {
      ++report.unchanged;
      continue;
    }
    std::vector<store::NewChunk> chunks;
    for (auto& chunk : text::chunk_markdown(doc.text)) {
      chunks.push_back({chunk.ordinal, std::move(chunk.heading), std::move(chunk.text),
                        static_cast<int64_t>(chunk.tokens)});
    }
    auto stored =
        store.put_file(*store_id, {doc.filename, static_cast<int64_t>(doc.bytes), doc.sha256}, chunks);
    if (!stored) return stored.error();
    report.chunks += static_cast<int64_t>(chunks.size());
    ++(previous == existing->end() ? report.added : report.updated);
  }
  if (prune) {
    for (const auto& file : *existing) {
      if (seen.contains(file.filename)) continue;
      if (auto status = store.delete_file(file.id); !status) return status.error();
      ++report.removed;
    }
  }
  return report;
}

Result<SyncReport> sync_knowledge(store::Store& store, const AssistantRegistry& assistants,
                                  const fs::path& knowledge_dir) {
  SyncReport total;
  for (const auto& assistant : assistants.all()) {
    const fs::path folder = knowledge_dir / assistant.id;
    if (!fs::is_directory(folder)) {
      total.failures.push_back({folder.string(), "knowledge folder missing"});
      continue;
    }
    auto report = ingest_into(store, assistant.knowledge_store, {folder}, /*prune=*/true);
    if (!report) return report.error();
    total.added += report->added;
    total.updated += report->updated;
    total.unchanged += report->unchanged;
    total.removed += report->removed;
    total.chunks += report->chunks;
    for (auto& failure : report->failures) total.failures.push_back(std::move(failure));
  }
  return total;
}

}  // namespace brandcoach::coach
