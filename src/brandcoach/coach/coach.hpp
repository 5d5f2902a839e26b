// brandcoach coach: the assistants and the turn pipeline (DESIGN §1).
//
// `Coach::turn` is the one function every adapter (HTTP, CLI) calls: it stores the user's message
// durably, routes it, retrieves knowledge, generates the answer (streaming), and stores the reply.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/cache/cache.hpp"
#include "brandcoach/core/core.hpp"
#include "brandcoach/embed/embed.hpp"
#include "brandcoach/index/index.hpp"
#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/llm/llm.hpp"
#include "brandcoach/memory/memory.hpp"
#include "brandcoach/route/route.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::coach {

/// One specialist assistant, as configured in data/assistants.toml.
struct Assistant {
  std::string id;  // diagnostic | avatar | canvas | capture | core
  std::string title;
  std::string instructions;
  std::string intro;  // the offline composer's opening line
  std::string knowledge_store;
  std::string model;  // empty: the provider's default
  double temperature = 0.7;
  int64_t max_output_tokens = 800;
  std::vector<std::string> next_steps;
};

/// The five assistants, loaded once at start.
class AssistantRegistry {
 public:
  /// Loads and validates the file; every assistant the router can choose must be present.
  static Result<AssistantRegistry> load(const std::filesystem::path& file);
  const Assistant* find(std::string_view id) const;
  const std::vector<Assistant>& all() const { return assistants_; }

 private:
  std::vector<Assistant> assistants_;
};

/// Where the bundled data (assistants.toml, knowledge/) lives: ./data
/// when it holds assistants.toml, else the data folder of the source tree this binary was built from.
std::filesystem::path bundled_data_dir();

/// A citation as returned to clients.
struct Citation {
  int number = 0;  // the n of `[n]` in the reply
  std::string store;
  std::string file;
  int64_t chunk = 0;
  std::string heading;
  std::string snippet;
  int64_t file_id = 0;      // the stored file's row
  std::string external_id;  // the file's own id (a vector store file: the uploaded file's id)
};

/// Everything a finished turn reports; `to_json` gives the `/api/chat` object.
struct TurnResult {
  std::string reply;
  std::string assistant;
  route::Decision route;
  std::vector<Citation> citations;
  llm::Usage usage;
  double cost_usd = 0;   // usage at the price table's rate for the model that answered
  std::string provider;  // offline | openai | chat
  std::string model;
  bool degraded = false;     // the model failed and the offline composer answered
  std::string notice;        // why, when degraded
  bool new_session = false;  // this message opened a session (a new conversation)
  std::map<std::string, double> timings_ms;
  std::vector<std::string> memory_used;  // "fact:12 Price", "message:40" — what memory the answer drew on
  std::vector<index::Passage> file_search_results;  // what the caller's file search found (TurnEvents)
  nlohmann::json context;                           // prompt assembly: tokens, budget, what was dropped
  nlohmann::json facts_changed;                     // facts this message added, superseded or left pending
  std::string cached;       // "semantic": the answer was served from the answer cache (no model call)
  int64_t message_seq = 0;  // the user's message in the thread
  int64_t reply_seq = 0;
  int64_t session_no = 0;
};

nlohmann::json to_json(const TurnResult& result);
nlohmann::json to_json(const route::Decision& decision);
nlohmann::json to_json(const Citation& citation);

/// Callbacks for streaming a turn as it happens. All are optional.
/// A search of the caller's own stores beside the assistant's knowledge (OpenAI's file_search tool).
struct FileSearch {
  std::vector<std::string> stores;  // store names, already checked to be the caller's
  int max_num_results = 10;
  std::optional<index::Filter> filter;  // over the files' attributes
  double score_threshold = 0;           // on the relevance score in [0, 1]
};

/// Callbacks for streaming a turn as it happens, and what the caller asked of this turn beyond the
/// message. All are optional.
struct TurnEvents {
  std::function<void(const route::Decision&)> on_route;
  llm::DeltaSink on_delta;
  std::stop_token stop;      // requested when the client went away: the model call is cancelled
  std::string assistant;     // chosen by the caller (model "brandcoach-<id>"): no routing; empty: route
  std::string instructions;  // added to the assistant's own (model providers only)
  std::optional<double> temperature;         // instead of the assistant's
  std::optional<int64_t> max_output_tokens;  // instead of the assistant's
  std::vector<std::string> context_turns;    // "role: text" the caller sent along, oldest first
  std::optional<FileSearch> file_search;
  std::function<void(const std::vector<index::Passage>&)> on_file_search;  // after the search ran
};

/// Runs a task elsewhere (the server's worker pool), later.
using Scheduler = std::function<void(std::function<void()>)>;

struct CoachOptions {
  int top_k = 5;
  index::SearchMode retrieval_mode = index::SearchMode::hybrid;
  double lexical_weight = 1.0;
  double dense_weight = 1.0;
  int recent_turns = 10;
  int64_t idle_gap_ms = 30 * 60 * 1000;
  int64_t summary_every = 50;
  int64_t max_prompt_tokens = 4000;
  bool queue_llm_extraction = false;  // queue each user message for model fact extraction
  bool index_replies = false;         // put replies in the message search index (memory.index_replies)
  llm::PriceTable prices;             // what each model's tokens cost
};

/// The caches a turn may use; each is optional (null: not used).
struct TurnCaches {
  cache::Cache* cache = nullptr;            // route decisions and retrieval results (content-addressed)
  cache::SemanticCache* answers = nullptr;  // answers that used no personal data
  embed::Embedder* embedder = nullptr;      // the question's vector, for `answers`
  std::chrono::milliseconds ttl{std::chrono::hours(1)};
};

/// Checks a user id presented by a caller: 1–128 characters of letters, digits and . _ @ + -.
Status validate_user_id(std::string_view user);
/// Checks a chat message: non-empty after trimming, valid UTF-8, at most kMaxMessageBytes.
Status validate_message(std::string_view message);
inline constexpr size_t kMaxMessageBytes = 32 * 1024;

class Coach {
 public:
  Coach(store::Store& store, index::Retriever& retriever, const route::Router& router,
        llm::LlmProvider& provider, AssistantRegistry assistants, CoachOptions options);

  /// Runs one turn for `user`. The user's message is durable before routing starts; if anything later
  /// fails the message stays in the thread and the error is returned.
  Result<TurnResult> turn(std::string_view user, std::string_view message, const TurnEvents& events = {});
  /// The same turn without holding a thread while the model answers: the steps before the answer run
  /// now, on the calling thread; the provider generates the answer (a model's stream is read on its
  /// stream hub, where `events.on_delta` then runs); the steps after it (the reply made durable, the
  /// summary) run in a task given to `schedule`, where `done` gets the result.
  void turn_async(std::string_view user, std::string_view message, TurnEvents events, Scheduler schedule,
                  std::function<void(Result<TurnResult>)> done);

  const AssistantRegistry& assistants() const { return assistants_; }
  /// Turns from now on use these caches (call before serving).
  void use_caches(TurnCaches caches) { caches_ = caches; }
  memory::Memory& memory() { return memory_; }
  /// The answering provider's name (offline, openai or chat), whatever answered a given turn.
  std::string_view provider_name() const { return provider_.name(); }

  /// The user's next message opens a new session (an explicit "new session" request).
  Status start_new_session(std::string_view user);
  /// Called after a turn queued its message for model extraction (wakes the workers).
  void on_extraction_queued(std::function<void()> wake) { extraction_queued_ = std::move(wake); }
  /// Hands rolling-summary refreshes to someone else (the model's workers) instead of writing the
  /// extractive summary inline; called after every turn with (user id, last seq, recent window).
  void on_summary_due(std::function<void(int64_t, int64_t, int)> refresh) {
    summary_due_ = std::move(refresh);
  }
  /// Told of each memory operation a turn makes (extract, recall, summary) and how it went (ok,
  /// miss, error), for the metrics.
  void on_memory_operation(std::function<void(std::string_view, std::string_view)> observe) {
    memory_operation_ = std::move(observe);
  }

 private:
  struct Pending;
  Result<std::unique_ptr<Pending>> prepare(std::string_view user, std::string_view message,
                                           const TurnEvents& events);
  Result<TurnResult> complete(Pending& pending, Result<llm::Completion> completion);
  Result<std::vector<index::Passage>> search_files(const FileSearch& search, std::string_view message);
  route::Decision route_cached(std::string_view message, const std::vector<route::Turn>& history);
  Result<std::vector<index::Passage>> retrieve_cached(const index::Query& query);
  std::string answer_scope(const Assistant& assistant, const std::vector<std::string>& stores);

  store::Store& store_;
  index::Retriever& retriever_;
  const route::Router& router_;
  llm::LlmProvider& provider_;
  AssistantRegistry assistants_;
  CoachOptions options_;
  memory::Memory memory_;
  std::function<void()> extraction_queued_;
  std::function<void(int64_t, int64_t, int)> summary_due_;
  std::function<void(std::string_view, std::string_view)> memory_operation_;
  void count_memory(std::string_view operation, std::string_view status) const {
    if (memory_operation_) memory_operation_(operation, status);
  }
  TurnCaches caches_;
};

/// What a knowledge ingest or sync did.
struct SyncReport {
  int added = 0;
  int updated = 0;     // same name, new content: replaced
  int unchanged = 0;   // same name, same content
  int duplicates = 0;  // same content already stored under another name
  int removed = 0;
  int64_t chunks = 0;
  int64_t bytes = 0;
  std::vector<ingest::Failure> failures;         // unreadable files, with the reason
  std::vector<ingest::Failure> duplicate_notes;  // "same content as …" for each duplicate
};

/// Progress of an ingest, reported after each document.
struct IngestProgress {
  size_t documents_done = 0;
  size_t documents_total = 0;
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;
  int64_t chunks = 0;
};

struct IngestOptions {
  text::ChunkOptions chunking;
  bool prune = false;  // remove files of the store that are not in this batch
  std::function<void(const IngestProgress&)> on_progress;
};

/// Chunks, embeds and stores a batch of documents in the named knowledge store, one transaction per
/// file, keeping its dense index in step. The store's embedder must be the configured one (an empty
/// store adopts it); otherwise the error says to run `kb reindex`.
Result<SyncReport> ingest_into(store::Store& store, index::KnowledgeIndexes& vectors,
                               std::string_view store_name, ingest::Batch batch,
                               const IngestOptions& options);

/// One file added to a user's vector store, known by its file id.
struct StoreFile {
  std::string file_id;   // the uploaded file's id ("file-…")
  std::string filename;  // its name, which also says its format
  std::string_view bytes;
  nlohmann::json attributes = nlohmann::json::object();
  text::ChunkOptions chunking;
};

/// Reads, chunks, embeds and stores a file in the named store (replacing its earlier version) and
/// keeps the store's indexes in step. A file that cannot be read is stored as failed, with the
/// reason, and no chunks.
Result<store::StoredFile> attach_file(store::Store& store, index::KnowledgeIndexes& vectors,
                                      const store::KnowledgeStore& target, const StoreFile& file);
/// Removes a file from its store and from the store's indexes.
Status detach_file(store::Store& store, index::KnowledgeIndexes& vectors, const store::KnowledgeStore& target,
                   int64_t file_row_id);

/// Re-embeds every chunk of a store with the configured embedder and records it as the store's.
Result<int64_t> reindex(store::Store& store, index::KnowledgeIndexes& vectors, std::string_view store_name);

/// Brings every assistant's knowledge store in line with <knowledge_dir>/<assistant>/ (re-embedding a
/// bundled store first if it was built with another embedder).
Result<SyncReport> sync_knowledge(store::Store& store, index::KnowledgeIndexes& vectors,
                                  const AssistantRegistry& assistants,
                                  const std::filesystem::path& knowledge_dir);

}  // namespace brandcoach::coach
