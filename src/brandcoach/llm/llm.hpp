// brandcoach llm: the generation stage of the turn.
//
// `LlmProvider` turns an assembled prompt into an answer, streaming pieces of it as they are ready.
// The offline provider is a grounded extractive composer: it answers only with sentences taken from
// the retrieved knowledge passages, cites each one, and says that it is extractive.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::llm {

/// A knowledge passage offered to the provider as a source.
struct Source {
  std::string store;
  std::string filename;
  std::string heading;
  std::string text;
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
};

struct Options {
  double temperature = 0.7;
  int64_t max_output_tokens = 800;
};

struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

/// A citation in the answer: `[n]` in the text refers to citations[n-1].
struct Citation {
  size_t source_index = 0;  // index into Prompt::sources
  std::string snippet;      // the borrowed text
};

struct Completion {
  std::string text;  // markdown
  std::vector<Citation> citations;
  Usage usage;
  std::string finish_reason = "stop";
  std::string provider;
  std::string model;
};

/// Receives the answer in pieces, in order; their concatenation is Completion::text.
using DeltaSink = std::function<void(std::string_view)>;

class LlmProvider {
 public:
  virtual ~LlmProvider() = default;
  virtual std::string_view name() const = 0;
  virtual Result<Completion> generate(const Prompt& prompt, const Options& options,
                                      const DeltaSink& on_delta) = 0;
};

/// The offline provider: deterministic, grounded, extractive.
std::unique_ptr<LlmProvider> make_offline_composer();

struct ChatOptions {
  std::string base_url;  // OpenAI-compatible, e.g. https://api.openai.com/v1
  std::string api_key;   // never logged, scrubbed from errors
  std::string model;
  int max_retries = 1;
  int64_t timeout_ms = 10000;
};

/// One non-streaming chat completion (POST {base_url}/chat/completions). Thread-safe: each call has
/// its own connection.
class ChatClient {
 public:
  explicit ChatClient(ChatOptions options);
  /// The assistant message's text. `json_answer` asks for a JSON object (response_format).
  Result<std::string> complete(const std::string& system, const std::string& user, double temperature,
                               bool json_answer) const;

 private:
  ChatOptions options_;
};

}  // namespace brandcoach::llm
