// brandcoach memory: what the coach learns about a user and how it recalls it (DESIGN §1 "remember").
//
// Three tiers over the store: the user's one thread (every message, sessions, a rolling summary),
// versioned profile facts (extracted from every user message; a change writes a new version, never
// an overwrite), and search over the user's own past messages. Everything here is per user: no
// function takes more than one user, and every query is filtered to that user inside the store.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/core/core.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::embed {
class Embedder;
}

namespace brandcoach::memory {

/// The name a user gives for themselves ("my name is Ana", "call me Dr. Lee", "I'm Priya, I run…"),
/// capitalised as written; nullopt when the message does not introduce the user.
std::optional<std::string> introduced_name(std::string_view message);

// ---------------------------------------------------------------------------------------------
// Fact keys

/// A kind of fact the coach keeps (the seed's categories). List keys hold many values at once
/// (competitors, values); any other key holds one current value that a new one supersedes.
struct KeySpec {
  std::string_view key;       // "price"
  std::string_view category;  // personal | business | brand | preferences | decisions | context
  std::string_view label;     // "Price"
  bool list = false;
  bool itemised = false;  // one current value per item: "$14 (taco plate)" and "$25 (t-shirt)" coexist
};

std::span<const KeySpec> fact_keys();
/// "taco plate" of "$14 (taco plate)"; empty when the value names no item.
std::string value_item(std::string_view value);
/// The value without its "(item)" label: "$14" of "$14 (taco plate)".
std::string value_without_item(std::string_view value);
/// The spec of a key; people keys ("person:designer") share one context spec. nullptr when unknown.
const KeySpec* key_spec(std::string_view key);
/// "Co-founder" for "person:co-founder", the spec's label otherwise.
std::string key_label(std::string_view key);

// ---------------------------------------------------------------------------------------------
// Extraction (tier 2, offline)

/// What a statement does to a fact.
enum class Cue {
  plain,       // a statement of the current value
  correction,  // "actually", "changed to", "now", "we moved…": replaces the current value for sure
  retraction,  // "no longer", "we dropped", "X shut down": the value stops being true
};

struct ExtractedFact {
  std::string key;
  std::string value;
  double confidence = 0.8;
  Cue cue = Cue::plain;
  size_t position = 0;  // byte offset in the message: of two values for one key, the later one is current
};

/// The rule-based extractor: patterns over the normalised text of one user message, with guards for
/// third parties ("my competitor charges $60"), hypotheticals ("what if we charged $99?") and the
/// past ("last year's budget"). Compiled once; `extract` is thread-safe and takes microseconds.
/// The kind of value a memory question asks for, from its question words ("when" -> a date).
enum class AnswerKind { any, date, money, count, place };

/// An amount written with a currency mark ("$85", "KSh 6,500", "65 €", "R7 200") and its mark, folded
/// ("ksh", "€") so two statements in the same currency can be tied together.
struct MarkedAmount {
  std::string amount;
  std::string mark;
};
std::vector<MarkedAmount> amounts_in(std::string_view text);

class FactExtractor {
 public:
  FactExtractor();
  ~FactExtractor();
  FactExtractor(FactExtractor&&) noexcept;
  FactExtractor& operator=(FactExtractor&&) noexcept;
  std::vector<ExtractedFact> extract(std::string_view message) const;

  /// What a memory question asks for.
  AnswerKind answer_kind(std::string_view question) const;
  /// A sentence of the user's own, with the thing its value belongs to ("drop-in class" in "a drop-in
  /// class is €14"; empty when there is none or the kind has none).
  struct Statement {
    std::string sentence;
    std::string item;
    bool others = false;        // the sentence is about another business or person, not the user
    bool others_value = false;  // the value's own clause is ("…, a bigger brand sells it for GH₵ 140")
  };
  /// The sentences of a message that state something (not questions) and, unless `kind` is any, hold
  /// a value of that kind. Sentences about another business or person are marked `others`; with
  /// `kind` any, they are left out.
  std::vector<Statement> statements(std::string_view message, AnswerKind kind) const;
  /// Patterns of the extractor that RE2 refused (with its reason); empty unless there is a bug.
  std::vector<std::string> invalid_patterns() const;

 private:
  bool opens_as_question(std::string_view sentence) const;
  bool about_someone_else(std::string_view clause) const;
  struct Rules;
  std::unique_ptr<Rules> rules_;
};

/// Values are compared by this form: lower case, letters and digits only.
std::string comparable(std::string_view value);

/// The writes that record `extracted` (from message `source_message_id`) against the user's current
/// facts: same value → nothing; list key → added beside the others; other key → new version that
/// supersedes the current one, or `pending_confirmation` when a low-confidence statement without a
/// correction cue contradicts it; retraction → the matching value becomes superseded.
std::vector<store::FactWrite> plan_fact_writes(const std::vector<store::Fact>& current,
                                               const std::vector<ExtractedFact>& extracted,
                                               int64_t source_message_id);

/// Confidence below which a contradiction waits for the user's confirmation.
inline constexpr double kConfirmBelow = 0.6;

// ---------------------------------------------------------------------------------------------
// Recall (tier 3)

/// Does the message ask what the user told the coach before, and about which keys?
struct RecallRequest {
  bool asks_memory = false;
  bool explicit_ask = false;      // "remind me", "did I say": answered from memory even when it holds nothing
  bool subject_only = false;      // a plain question: answered from memory only on its named subject
  bool wants_history = false;     // "what was it before?": earlier values belong in the answer
  bool counts_goal = false;       // "how many … are we aiming for": a goal may hold the count
  std::vector<std::string> keys;  // fact keys the question is about (may be empty: search only)
};
RecallRequest recall_request(std::string_view message);

/// Is this stem one of the words that point a question at a fact key ("price", "team")?
bool is_key_cue(std::string_view stem);

/// Fact keys a message is about (for weaving relevant facts into any answer).
std::vector<std::string> keys_mentioned(std::string_view message);

/// The keys of keys_mentioned() that the message names by a word pointing at no other key
/// ("competition" names competitors; "name" could be the company, a product or the user).
std::vector<std::string> keys_named_outright(std::string_view message);

/// Does the message answer a pending confirmation with yes (true) or no (false)?
std::optional<bool> confirmation_reply(std::string_view message);

// ---------------------------------------------------------------------------------------------
// Context assembly

/// One piece of context for the prompt. Lower `priority` numbers are kept first.
struct ContextItem {
  std::string kind;  // instructions | fact | summary | turn | memory | knowledge
  int priority = 0;
  std::string text;
  int64_t tokens = 0;  // filled by assemble_context when 0
  size_t ref = 0;      // the caller's index of what the item came from
};

struct AssembledContext {
  std::vector<ContextItem> kept;     // in the order given
  std::vector<std::string> dropped;  // "knowledge#3" … for what did not fit
  int64_t tokens = 0;
  int64_t budget = 0;
};

/// Keeps whole items within `budget` tokens, best priority first (ties: earlier first), dropping
/// the lowest priority items that do not fit; never cuts an item.
AssembledContext assemble_context(std::vector<ContextItem> items, int64_t budget);

// ---------------------------------------------------------------------------------------------
// Summaries

/// An extractive summary of turns: the facts known so far and the user's most informative
/// statements (those that carried facts, then the longest distinct ones), with their dates.
std::string extractive_summary(const std::vector<store::Message>& turns,
                               const std::vector<store::Fact>& facts, size_t max_tokens);

// ---------------------------------------------------------------------------------------------
// The memory of a store's users

struct MemoryOptions {
  int64_t summary_every = 50;  // refresh the rolling summary every N messages
  size_t summary_max_tokens = 400;
  int search_candidates = 50;  // lexical candidates re-ranked by the hybrid score
};

/// What observing one user message changed.
struct Observation {
  std::vector<store::Fact> added;    // new versions (active or pending)
  std::vector<store::Fact> pending;  // the subset waiting for confirmation
  std::vector<int64_t> superseded;   // fact ids no longer current
};

/// A recalled fact with its history, for answering "what did I say about …".
struct RecalledFact {
  store::Fact current;
  std::string source_text;  // the user's own words that stated it
  int64_t source_at = 0;
  std::vector<store::Fact> earlier;  // superseded versions of the same key, oldest first
};

struct Recall {
  bool history = false;  // show the values the current ones replaced (only when asked for)
  std::vector<RecalledFact> facts;
  std::vector<store::MessageHit> quotes;  // the user's own messages that answer it, newest first
  bool changed_since_saved = false;       // the quotes changed what a saved fact still says
  std::vector<std::string> replaced;      // superseded values of the asked keys, never quoted as current
};

class Memory {
 public:
  Memory(store::Store& store, MemoryOptions options = {});
  ~Memory();

  /// Extracts facts from a stored user message and records them (inline: the next turn knows).
  Result<Observation> observe(const store::Message& message);
  /// A yes/no answer to the oldest pending confirmation, if the message is one.
  Result<std::optional<store::Fact>> settle_pending(const store::Message& message);
  /// Hybrid search over the user's messages: BM25 candidates re-ranked with the hashing embedder
  /// and fused by reciprocal rank. `roles` empty: every role.
  Result<std::vector<store::MessageHit>> search(int64_t user_id, std::string_view query, int limit,
                                                const std::vector<std::string>& roles = {},
                                                int64_t exclude_message_id = 0);
  /// What the user told the coach about the request's keys (facts and their history), or the
  /// user's own messages that answer the question when no fact does.
  Result<Recall> recall(int64_t user_id, const RecallRequest& request, std::string_view question,
                        int64_t exclude_message_id);
  /// Refreshes the rolling summary when `summary_every` messages passed since the last one: written
  /// by `model` when given (the previous summary and the new turns in, plain text out), extractively
  /// otherwise or when the model fails. Returns true when it wrote a new summary.
  Result<bool> refresh_summary(
      int64_t user_id, int64_t last_seq, int recent_window,
      const std::function<Result<std::string>(const std::string&, const std::string&)>* model = nullptr);
  /// Applies a user's change to one of their facts: confirm, reject, or correct (a new value).
  Result<store::Fact> change_fact(int64_t user_id, int64_t fact_id, std::string_view action,
                                  std::string_view new_value, std::string_view actor);
  /// Everything the coach keeps about the user (profile with history, thread, summary, usage, audit).
  Result<nlohmann::json> export_json(const store::User& user);

 private:
  store::Store& store_;
  MemoryOptions options_;
  FactExtractor extractor_;
  std::unique_ptr<embed::Embedder> embedder_;  // the hashing embedder: re-ranks search candidates
};

// ---------------------------------------------------------------------------------------------
// Model extraction (off the turn's path)

/// Asks a chat model: (system prompt, user message) -> the model's JSON answer text.
using ExtractionModel =
    std::function<Result<std::string>(const std::string& system, const std::string& user)>;

/// The instructions for JSON fact extraction (the keys, value conventions and answer schema).
std::string extraction_prompt();

/// Validates a model's answer against the extraction schema:
/// {"facts": [{"key", "value", "confidence"?: 0..1, "change"?: "new"|"correction"|"retraction"}]}
/// with known keys (or "person:<role>") and non-empty values of at most 200 bytes. Any violation
/// rejects the whole answer (the caller then keeps what the rules found).
Result<std::vector<ExtractedFact>> parse_model_facts(std::string_view answer);

/// Workers that drain the durable extraction queue: each job's message goes to the model, a valid
/// answer is recorded like the rules' facts (actor "llm"); an invalid one leaves the rules' facts
/// as they are; a failed call is retried later with backoff, and given up after `max_attempts`.
/// A slow or broken model never touches a turn: turns only enqueue (in the message's transaction).
class ExtractionQueue {
 public:
  struct Options {
    int workers = 1;
    int max_attempts = 5;
    int64_t lease_ms = 60000;    // a claimed job is retried if its worker vanished
    int64_t idle_poll_ms = 500;  // how often idle workers look for due jobs without a wake-up
    int64_t summary_every = 50;  // as MemoryOptions::summary_every
    /// Told of each job's outcome, for the metrics: ("llm_extract" | "summary", "ok" | "rejected" |
    /// "error"). Called from the workers' threads.
    std::function<void(std::string_view, std::string_view)> on_outcome;
  };
  /// `model` answers JSON (extraction); `text_model`, when set, writes plain text (summaries).
  ExtractionQueue(store::Store& store, ExtractionModel model, Options options,
                  ExtractionModel text_model = {});
  ExtractionQueue(store::Store& store, ExtractionModel model)
      : ExtractionQueue(store, std::move(model), Options{}) {}
  ~ExtractionQueue();  // stops and joins the workers; unfinished jobs stay queued
  ExtractionQueue(const ExtractionQueue&) = delete;
  ExtractionQueue& operator=(const ExtractionQueue&) = delete;

  /// A job was queued: wake a worker now rather than at its next poll.
  void wake();
  /// Asks a worker to refresh the user's rolling summary with the text model (if it is due). Not
  /// stored: a refresh lost to a restart is due again at the user's next turn.
  void request_summary(int64_t user_id, int64_t last_seq, int recent_window);
  /// Jobs done since start (recorded or rejected), for tests and metrics.
  int64_t completed() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The recall as the user should read it: current values with their source words and date, earlier
/// values marked as earlier, or the user's own quoted messages when no fact answers it.
std::string render_recall(const Recall& recall);

/// A fact as clients see it (id, key, label, value, category, status, confidence, source, times).
nlohmann::json to_json(const store::Fact& fact);
/// An audit row as exported (actor, action, object, before, after, at; id and user when known).
nlohmann::json audit_json(const store::AuditEntry& entry);
/// The current and pending facts among `all` (every version of a user's facts), each with the
/// chain of values it replaced under "history", newest first.
nlohmann::json current_facts_json(const std::vector<store::Fact>& all);

/// The export as a Markdown document.
std::string export_markdown(const nlohmann::json& exported);

/// "12 Nov 2026" for a Unix-ms time.
std::string human_date(int64_t unix_ms);

/// Parses a timestamp as imports write it: ISO-8601 ("2023-05-08", "2023-05-08T13:56:00Z") or free
/// text ("1:56 pm on 8 May, 2023", "May 8, 2023", "8 May 2023 14:05"). Unix ms, or nullopt.
std::optional<int64_t> parse_timestamp(std::string_view text);

}  // namespace brandcoach::memory
