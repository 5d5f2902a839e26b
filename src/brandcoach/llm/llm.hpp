// brandcoach llm: the generation stage of the turn.
//
// `LlmProvider` turns an assembled prompt into an answer, streaming pieces of it as they are ready.
// The offline provider is a grounded extractive composer: it answers only with sentences taken from
// the retrieved knowledge passages, cites each one, and says that it is extractive. The `openai`
// (Responses API) and `chat` (Chat Completions) providers stream from a real model through the net
// module's resilience layer; `make_fallback_provider` answers with the offline composer, and says
// so, whenever the model cannot.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/core/core.hpp"
#include "brandcoach/net/net.hpp"

namespace brandcoach::llm {

/// A knowledge passage offered to the provider as a source.
struct Source {
  std::string store;
  std::string filename;
  std::string heading;
  std::string text;
};

/// One thing the user told the coach, as the composer weaves it in.
struct ProfileFact {
  std::string key;       // "business.target_market"
  std::string label;     // "Target market"
  std::string category;  // "business"
  std::string value;
};

/// Everything the provider may use to answer one turn.
struct Prompt {
  std::string assistant;        // "avatar"
  std::string assistant_title;  // "IDEA Avatar Creator"
  std::string instructions;     // the assistant's system instructions
  std::string intro;            // opening line the offline composer uses for this assistant
  std::string user_message;
  std::string user_name;                     // empty when unknown
  std::vector<Source> sources;               // best first
  std::vector<std::string> next_steps;       // candidate closing questions, in preference order
  std::vector<std::string> earlier_replies;  // this thread's recent replies (avoid repeating a question)
  // Memory (issue: remember every detail). All optional; the composer shows what is given.
  std::string greeting;                    // first answer of a new session: welcome back, open thread
  std::string memory_answer;               // markdown answering "what did I tell you about …"
  std::vector<std::string> known_facts;    // "Company: Brightside Bakery", relevant to this message
  std::vector<std::string> confirmations;  // questions asking the user to confirm a changed fact
  std::string summary;                     // rolling summary of older turns (for model providers)
  std::vector<std::string> recent_turns;   // "user: …" / "assistant: …" lines, oldest first
  std::vector<ProfileFact> profile;        // every active fact, for the offline composer's shapes
  std::string previous_response_id;        // the Responses API answer this thread continues, if any
};

struct Options {
  double temperature = 0.7;
  int64_t max_output_tokens = 800;
  std::string model;     // empty: the provider's configured model
  std::stop_token stop;  // a stop request (the client went away) cancels the upstream call
};

struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

/// A citation in the answer: the source that `[number]` in the text refers to.
struct Citation {
  size_t source_index = 0;  // index into Prompt::sources
  std::string snippet;      // the borrowed text
  int number = 0;           // the n of `[n]` in the text
};

struct Completion {
  std::string text;  // markdown
  std::vector<Citation> citations;
  Usage usage;
  std::string finish_reason = "stop";  // stop | length | error
  std::string provider;
  std::string model;
  std::string response_id;  // the Responses API's id, for previous_response_id chaining
  bool degraded = false;    // the model failed and the offline composer answered
  std::string notice;       // why, in words for the user (shown in the answer too)
};

/// Receives the answer in pieces, in order; their concatenation is Completion::text.
using DeltaSink = std::function<void(std::string_view)>;
/// Receives the finished answer, or why there is none.
using CompletionHandler = std::function<void(Result<Completion>)>;

class LlmProvider {
 public:
  virtual ~LlmProvider() = default;
  virtual std::string_view name() const = 0;
  /// Answers on the calling thread, which waits for the whole answer.
  virtual Result<Completion> generate(const Prompt& prompt, const Options& options,
                                      const DeltaSink& on_delta) = 0;
  /// Answers without holding the calling thread where the provider can: a model's stream is read on
  /// the provider's stream hub, and `on_delta` and then `done` run there (they must not block). The
  /// default answers at once, on the calling thread, with generate().
  virtual void generate_async(std::shared_ptr<const Prompt> prompt, Options options, DeltaSink on_delta,
                              CompletionHandler done);
};

/// The offline provider: deterministic, grounded, extractive.
std::unique_ptr<LlmProvider> make_offline_composer();

/// A model behind an OpenAI-compatible API.
struct ModelOptions {
  std::string base_url;  // e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1
  std::string api_key;   // never logged, scrubbed from errors
  std::string model;
  int max_retries = 2;
  int64_t connect_timeout_ms = 5000;
  int64_t timeout_ms = 60000;
  bool store = false;  // Responses API: let the provider keep the response (needed for chaining)
  bool chain = false;  // Responses API: continue the thread with previous_response_id
  std::shared_ptr<net::Upstream> upstream;
};

/// `openai`: POST {base_url}/responses with stream: true. Errors: config (no base_url/model),
/// unavailable (the upstream failed), cancelled.
std::unique_ptr<LlmProvider> make_responses_provider(ModelOptions options);
/// `chat`: POST {base_url}/chat/completions with stream: true (Ollama, vLLM, llama.cpp, LM Studio).
std::unique_ptr<LlmProvider> make_chat_provider(ModelOptions options);

/// Answers with `model`; when it fails (anything but a full queue or a cancelled call) answers with
/// `offline` instead, marks the completion degraded and says why at the top of the answer. What the
/// model streamed before failing stays (a stream is append-only); the fallback follows a notice.
std::unique_ptr<LlmProvider> make_fallback_provider(std::unique_ptr<LlmProvider> model,
                                                    std::unique_ptr<LlmProvider> offline);

/// The system text a model provider sends: the assistant's instructions, how to use and cite the
/// numbered sources, and what is known about the user.
std::string model_instructions(const Prompt& prompt);
/// The user-side text of this turn: numbered sources, then the message.
std::string model_turn_input(const Prompt& prompt);
/// Citations for the `[n]` markers a model wrote, in order of first use; markers that name no
/// source are ignored.
std::vector<Citation> citations_from_markers(std::string_view text, const Prompt& prompt);

/// USD per million tokens, per model; what `usage` costs.
struct Price {
  double input_per_million = 0;
  double output_per_million = 0;
};

class PriceTable {
 public:
  PriceTable() = default;
  explicit PriceTable(std::map<std::string, Price> prices) : prices_(std::move(prices)) {}
  /// The cost of one call; a model not in the table (a local one) costs nothing. A dated snapshot
  /// ("gpt-4o-2024-08-06") is priced as its family ("gpt-4o") when only the family is listed.
  double cost(std::string_view model, const Usage& usage) const;
  bool knows(std::string_view model) const;

 private:
  const Price* find(std::string_view model) const;
  std::map<std::string, Price> prices_;
};

/// Reads a price table: `[models."name"] input_per_million = 2.5, output_per_million = 10`.
/// Errors name the file and the bad entry (invalid_config).
Result<PriceTable> load_prices(const std::filesystem::path& file);

/// One server-sent event.
struct SseEvent {
  std::string event;  // "message" when the stream names none
  std::string data;   // data lines joined by '\n'
};

/// An incremental text/event-stream parser (WHATWG rules: LF, CRLF or CR line ends, comments,
/// multi-line data, a blank line dispatches). Bounded: an event larger than max_event_bytes is an error.
class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes = 4 << 20) : max_event_bytes_(max_event_bytes) {}
  /// Feeds bytes; returns the events they completed.
  Result<std::vector<SseEvent>> feed(std::string_view bytes);

 private:
  Status line(std::string_view text, std::vector<SseEvent>& out);
  size_t max_event_bytes_;
  std::string pending_;  // an incomplete line
  bool last_was_cr_ = false;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

/// One non-streaming chat completion (POST {base_url}/chat/completions), for routing, fact
/// extraction and summaries. Thread-safe: calls share a pool of kept connections.
class ChatClient {
 public:
  explicit ChatClient(ModelOptions options);
  /// The assistant message's text. `json_answer` asks for a JSON object (response_format).
  Result<std::string> complete(const std::string& system, const std::string& user, double temperature,
                               bool json_answer) const;

 private:
  ModelOptions options_;
  mutable net::ClientPool clients_;
};

}  // namespace brandcoach::llm
