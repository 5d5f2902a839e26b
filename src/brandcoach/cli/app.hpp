// The wiring of brandcoach's services from a Config, shared by the subcommands; private to cli.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <string>
#include <vector>

#include "brandcoach/cache/cache.hpp"
#include "brandcoach/coach/coach.hpp"
#include "brandcoach/core/core.hpp"
#include "brandcoach/embed/embed.hpp"
#include "brandcoach/index/index.hpp"
#include "brandcoach/llm/llm.hpp"
#include "brandcoach/memory/memory.hpp"
#include "brandcoach/obs/obs.hpp"
#include "brandcoach/route/route.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::cli {

/// A folder private to this process (mode 0700), in memory-backed storage (/dev/shm) where the system
/// has it, removed with everything in it when the object goes. With an encrypted store the derived
/// search indexes live here, rebuilt from the store at start, so no plaintext of it reaches the disk.
class ProcessFolder {
 public:
  static Result<ProcessFolder> create(std::string_view prefix);
  ProcessFolder(ProcessFolder&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  ProcessFolder& operator=(ProcessFolder&& other) noexcept;
  ProcessFolder(const ProcessFolder&) = delete;
  ProcessFolder& operator=(const ProcessFolder&) = delete;
  ~ProcessFolder();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit ProcessFolder(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

/// Everything a command needs, built once and passed down explicitly. Members are declared in
/// dependency order so they are destroyed in reverse (the vector indexes persist before the store closes).
struct App {
  Config config;
  std::unique_ptr<cache::Cache> cache;            // L1, and L2 + invalidation when Redis is configured
  std::unique_ptr<cache::SemanticCache> answers;  // cache.semantic
  std::unique_ptr<store::Store> store;            // the configured store behind the cache
  std::unique_ptr<embed::Embedder> embedder;
  std::optional<ProcessFolder> index_folder;  // encrypted store only: the indexes' folder, gone at exit
  std::unique_ptr<index::KnowledgeIndexes> vectors;
  std::unique_ptr<index::Retriever> retriever;
  std::shared_ptr<net::Upstream> llm_upstream;  // the chat model's breaker and queue, when one is configured
  std::unique_ptr<route::Router> router;
  std::unique_ptr<llm::LlmProvider> provider;
  std::unique_ptr<coach::Coach> coach;                  // only when built with_coach
  std::unique_ptr<memory::ExtractionQueue> extraction;  // memory.llm_extraction: stops first
};

/// Store, embedder, vector indexes and retriever. `connections` sizes the store's pool.
Result<App> build_knowledge(Config config, int connections);
/// build_knowledge plus the bundled knowledge sync and the coach.
/// With `metrics`, the coach and the extraction workers count their memory operations there.
Result<App> build_app(Config config, int connections, obs::Metrics* metrics = nullptr);

/// The configured database (SQLite file or PostgreSQL), without caches.
Result<std::unique_ptr<store::Store>> open_database(const Config& config, int connections);
/// The configured store alone, for commands that need nothing else: the database, behind a cache
/// that tells serving nodes of its writes when Redis is configured.
Result<std::unique_ptr<store::Store>> open_store(const Config& config, int connections = 2);

// API keys (key_commands.cpp).
struct KeyArgs {
  std::string user;
  std::string name;
  bool admin = false;
};
int keys_create(Config config, const KeyArgs& args);
int keys_list(Config config, const std::string& user);
int keys_revoke(Config config, int64_t id);
/// Every audit row after `after_id`, as JSON lines on stdout, oldest first.
int audit_export(Config config, int64_t after_id);

/// Prints "brandcoach: <message>" to stderr and returns the error's exit code.
int fail(const Error& error);
/// `store encrypt` / `store decrypt`: the SQLite file rewritten with or without the configured key.
int store_encryption(Config config, bool encrypt);
/// `store backup FILE`: a consistent copy of the SQLite store, taken while the server runs.
int store_backup(Config config, const std::string& destination);

/// The chunking strategy from configuration, optionally overridden.
text::ChunkOptions chunking(const Config& config, int max_tokens = 0, int overlap_tokens = -1);

// Knowledge-base commands (kb_commands.cpp).
struct IngestArgs {
  std::string store;
  std::vector<std::string> paths;
  std::string jsonl;
  int chunk_size = 0;      // 0: from configuration
  int chunk_overlap = -1;  // -1: from configuration
};
int kb_ingest(Config config, const IngestArgs& args);

struct SearchArgs {
  std::vector<std::string> stores;
  int k = 10;
  std::string mode = "hybrid";
  std::string filter;  // JSON
  double score_threshold = 0;
};
int kb_search(Config config, const SearchArgs& args);
int kb_stats(Config config);
int kb_list(Config config, const std::string& store);
int kb_delete(Config config, const std::string& store, const std::vector<std::string>& files,
              bool whole_store);
int kb_reindex(Config config, const std::string& store);

// Retrieval evaluation (eval_command.cpp).
struct EvalArgs {
  std::vector<std::string> stores;
  std::string queries;
  std::string qrels;
  std::vector<std::string> modes = {"lexical", "dense", "hybrid"};
  bool json = false;
};
int eval_retrieval(Config config, const EvalArgs& args);

// Routing (route_commands.cpp).
/// The coach's router: the classifier trained from (or loaded for) the configured routing data.
Result<std::unique_ptr<route::IdeaRouter>> build_router(
    const Config& config, std::shared_ptr<net::Upstream> llm_upstream = nullptr);

/// The breaker and queue every call to the configured chat model shares; null without llm.base_url.
std::shared_ptr<net::Upstream> make_llm_upstream(const Config& config);
/// How to reach the configured chat model.
llm::ModelOptions model_options(const Config& config, std::shared_ptr<net::Upstream> upstream);
/// The answer provider llm.provider names; a model provider falls back to the offline composer.
Result<std::unique_ptr<llm::LlmProvider>> make_provider(const Config& config,
                                                        std::shared_ptr<net::Upstream> upstream);
/// llm.price_file, else the bundled price table.
std::filesystem::path price_file(const Config& config);
int route_messages(Config config);
int eval_routing(Config config, const std::string& path, bool json_output);

// Memory (memory_commands.cpp).
int memory_import(Config config, const std::string& user, const std::string& path, int64_t idle_gap_minutes);
int memory_search(Config config, const std::string& user, int k);
int memory_facts(Config config, const std::string& user, bool all);
int memory_export(Config config, const std::string& user, const std::string& format);
int memory_erase(Config config, const std::string& user);
/// Replays scripted users, one `chat` process per session, with these global options passed on.
int eval_memory(Config config, const std::string& lives_path, const std::vector<std::string>& passthrough,
                bool json_output);

}  // namespace brandcoach::cli
