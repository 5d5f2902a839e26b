// The model providers: OpenAI's Responses API (`openai`) and any Chat Completions server (`chat`),
// both streamed, plus the fallback to the offline composer that keeps a turn answered when they fail.
#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "brandcoach/llm/llm.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::llm {

namespace {

using json = nlohmann::json;

constexpr size_t kSnippetChars = 240;

std::string dump(const json& value) {
  // Invalid UTF-8 in user text becomes U+FFFD instead of an exception.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string snippet_of(const std::string& text) {
  if (text.size() <= kSnippetChars) return text;
  size_t cut = text.rfind(' ', kSnippetChars);
  if (cut == std::string::npos || cut < kSnippetChars / 2) cut = kSnippetChars;
  return text::utf8_prefix(text, cut) + " …";
}

// "user: text" / "assistant: text" → {role, text}.
std::pair<std::string, std::string> split_turn(const std::string& line) {
  for (const std::string_view role : {"user", "assistant"}) {
    if (line.size() > role.size() + 1 && line.compare(0, role.size(), role) == 0 &&
        line[role.size()] == ':') {
      size_t start = role.size() + 1;
      if (start < line.size() && line[start] == ' ') ++start;
      return {std::string(role), line.substr(start)};
    }
  }
  return {"user", line};
}

Error malformed(const std::string& what, const std::string& why) {
  return Error::unavailable(what + " sent " + why);
}

// One model call: its request, and the reading of its streamed answer into a completion. The same
// object serves a call made on the caller's thread and one driven by the stream hub.
class ModelCall {
 public:
  ModelCall(const Prompt& prompt, DeltaSink on_delta) : prompt_(prompt), on_delta_(std::move(on_delta)) {}
  virtual ~ModelCall() = default;
  const std::string& path() const { return path_; }
  const std::string& body() const { return body_; }
  /// The request body, given up to whoever sends it (the hub keeps its own copy for retries).
  std::string release_body() { return std::move(body_); }
  const std::string& what() const { return what_; }
  /// Some of the answer reached the caller.
  bool streamed() const { return streamed_; }

  /// One event of the answer; an error ends the call.
  virtual Status on_event(const SseEvent& event) = 0;

  /// The completion, once the stream ended without an error.
  Result<Completion> end() {
    if (!finished_)
      return Error::unavailable(what_ + " ended before the answer was complete (the answer was cut off)");
    // A server that reports no usage gets our own count, so cost tracking never sees zero.
    if (completion_.usage.input_tokens == 0) {
      size_t tokens =
          text::count_tokens(model_instructions(prompt_)) + text::count_tokens(model_turn_input(prompt_));
      for (const auto& turn : prompt_.recent_turns) tokens += text::count_tokens(turn);
      completion_.usage.input_tokens = static_cast<int64_t>(tokens);
    }
    if (completion_.usage.output_tokens == 0)
      completion_.usage.output_tokens = static_cast<int64_t>(text::count_tokens(completion_.text));
    completion_.citations = citations_from_markers(completion_.text, prompt_);
    return std::move(completion_);
  }

 protected:
  void delta(const std::string& piece) {
    completion_.text += piece;
    streamed_ = true;
    if (on_delta_) on_delta_(piece);
  }

  const Prompt& prompt_;
  DeltaSink on_delta_;
  std::string path_;
  std::string body_;
  std::string what_;
  Completion completion_;
  bool streamed_ = false;
  bool finished_ = false;
};

// The bytes of a streamed answer, read as server-sent events into the call; a problem is kept in
// `problem` and stops the reading.
net::ChunkSink event_reader(ModelCall& call, SseParser& parser, std::optional<Error>& problem) {
  return [&call, &parser, &problem](std::string_view bytes) {
    auto events = parser.feed(bytes);
    if (!events) {
      problem = malformed(call.what(), "an unreadable event stream: " + events.error().message);
      return false;
    }
    for (const auto& event : *events) {
      if (auto status = call.on_event(event); !status) {
        problem = status.error();
        return false;
      }
    }
    return true;
  };
}

// What every streamed model provider shares: the options, the kept connections for calls made on
// the caller's thread, and the stream hub for calls that must not hold one.
class StreamingProvider : public LlmProvider {
 protected:
  explicit StreamingProvider(ModelOptions options)
      : options_(std::move(options)),
        client_options_{options_.api_key, options_.max_retries, options_.connect_timeout_ms,
                        options_.timeout_ms, options_.upstream},
        clients_(options_.base_url, client_options_) {}

  Status check() const {
    if (options_.base_url.empty()) return Error::config("llm.base_url is empty", "llm.base_url");
    if (options_.model.empty()) return Error::config("llm.model is empty", "llm.model");
    return ok();
  }

  const std::string& model_for(const Options& options) const {
    return options.model.empty() ? options_.model : options.model;
  }

  // Runs the call on this thread.
  Result<Completion> run(ModelCall& call, const Options& options) const {
    auto client = clients_.acquire();
    SseParser parser;
    std::optional<Error> problem;
    auto status = client->post_stream(call.path(), call.body(), call.what(),
                                      event_reader(call, parser, problem), options.stop);
    if (problem) return *problem;
    if (!status) return status.error();
    return call.end();
  }

  // Runs the call on the stream hub; `done` gets the completion there. `prompt` is the one the call
  // reads, kept alive until then.
  void run_async(std::shared_ptr<ModelCall> call, std::shared_ptr<const Prompt> prompt,
                 const Options& options, CompletionHandler done) const {
    struct Reading {
      SseParser parser;
      std::optional<Error> problem;
    };
    auto reading = std::make_shared<Reading>();
    net::StreamHub::Call request;
    request.path = call->path();
    request.body = call->release_body();
    request.what = call->what();
    request.on_chunk = event_reader(*call, reading->parser, reading->problem);
    request.on_done = [call, prompt = std::move(prompt), reading, done = std::move(done)](Status status) {
      if (reading->problem) return done(*reading->problem);
      if (!status) return done(status.error());
      done(call->end());
    };
    request.stop = options.stop;
    hub().start(std::move(request));
  }

  ModelOptions options_;

 private:
  net::StreamHub& hub() const {
    std::lock_guard lock(hub_mutex_);
    if (!hub_) hub_ = std::make_unique<net::StreamHub>(options_.base_url, client_options_);
    return *hub_;
  }

  net::ClientOptions client_options_;
  mutable net::ClientPool clients_;  // kept connections to the model's server
  mutable std::mutex hub_mutex_;
  mutable std::unique_ptr<net::StreamHub> hub_;  // made by the first call that needs it
};

class ResponsesCall final : public ModelCall {
 public:
  ResponsesCall(const Prompt& prompt, const Options& options, const std::string& model, bool chained,
                bool store, DeltaSink on_delta)
      : ModelCall(prompt, std::move(on_delta)) {
    completion_.provider = "openai";
    completion_.model = model;
    json input = json::array();
    if (!chained) {
      for (const auto& line : prompt.recent_turns) {
        auto [role, content] = split_turn(line);
        input.push_back({{"role", role}, {"content", content}});
      }
    }
    input.push_back({{"role", "user"}, {"content", model_turn_input(prompt)}});
    json body = {{"model", model},
                 {"instructions", model_instructions(prompt)},
                 {"input", std::move(input)},
                 {"temperature", options.temperature},
                 {"max_output_tokens", options.max_output_tokens},
                 {"stream", true},
                 {"store", store}};
    if (chained) body["previous_response_id"] = prompt.previous_response_id;
    path_ = "responses";
    body_ = dump(body);
    what_ = "responses request for model " + model;
  }

  Status on_event(const SseEvent& event) override {
    const json data = parse_json(event.data);
    if (!data.is_object()) return malformed(what_, "an event whose data is not a JSON object");
    const std::string type = data.value("type", event.event);
    if (type == "response.created" && data.contains("response") && data["response"].is_object()) {
      completion_.response_id = data["response"].value("id", "");
    } else if (type == "response.output_text.delta") {
      if (!data.contains("delta") || !data["delta"].is_string())
        return malformed(what_, "a delta without text");
      delta(data["delta"].get<std::string>());
    } else if (type == "response.completed" || type == "response.incomplete") {
      const json& response = data.contains("response") ? data["response"] : json::object();
      if (response.is_object()) {
        if (response.contains("id") && response["id"].is_string()) completion_.response_id = response["id"];
        const auto usage = response.find("usage");
        if (usage != response.end() && usage->is_object()) {
          completion_.usage.input_tokens = usage->value("input_tokens", int64_t{0});
          completion_.usage.output_tokens = usage->value("output_tokens", int64_t{0});
        }
      }
      completion_.finish_reason = type == "response.completed" ? "stop" : "length";
      finished_ = true;
    } else if (type == "response.failed") {
      std::string why = "the response failed";
      if (data.contains("response") && data["response"].is_object() && data["response"].contains("error") &&
          data["response"]["error"].is_object())
        why = data["response"]["error"].value("message", why);
      return Error::unavailable(what_ + " failed: " + why);
    } else if (type == "error") {
      return Error::unavailable(what_ + " failed: " + data.value("message", std::string("an error event")));
    }
    return ok();
  }
};

class ResponsesProvider final : public StreamingProvider {
 public:
  explicit ResponsesProvider(ModelOptions options) : StreamingProvider(std::move(options)) {}
  std::string_view name() const override { return "openai"; }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    if (auto status = check(); !status) return status.error();
    const bool chained = chains(prompt);
    auto call = make_call(prompt, options, chained, on_delta);
    auto answer = run(*call, options);
    if (refused_chain(answer, chained, *call)) {
      call = make_call(prompt, options, false, on_delta);
      answer = run(*call, options);
    }
    return answer;
  }

  void generate_async(std::shared_ptr<const Prompt> prompt, Options options, DeltaSink on_delta,
                      CompletionHandler done) override {
    if (auto status = check(); !status) return done(status.error());
    const bool chained = chains(*prompt);
    auto call = make_call(*prompt, options, chained, on_delta);
    run_async(
        call, prompt, options,
        [this, prompt, options, on_delta, done = std::move(done), call, chained](Result<Completion> answer) {
          if (!refused_chain(answer, chained, *call)) return done(std::move(answer));
          run_async(make_call(*prompt, options, false, on_delta), prompt, options, done);
        });
  }

 private:
  bool chains(const Prompt& prompt) const { return options_.chain && !prompt.previous_response_id.empty(); }

  std::shared_ptr<ModelCall> make_call(const Prompt& prompt, const Options& options, bool chained,
                                       DeltaSink on_delta) const {
    return std::make_shared<ResponsesCall>(prompt, options, model_for(options), chained,
                                           options_.store || options_.chain, std::move(on_delta));
  }

  // A continued response the server no longer has (expired, or stored elsewhere) is not a failure
  // of the model: the call is made again with the whole context.
  static bool refused_chain(const Result<Completion>& answer, bool chained, const ModelCall& call) {
    const bool refused = !answer && chained && answer.error().kind == ErrorKind::unavailable &&
                         answer.error().message.find("HTTP 4") != std::string::npos && !call.streamed();
    if (refused) spdlog::warn("a previous_response_id was refused; answering without it");
    return refused;
  }
};

class ChatCall final : public ModelCall {
 public:
  ChatCall(const Prompt& prompt, const Options& options, const std::string& model, DeltaSink on_delta)
      : ModelCall(prompt, std::move(on_delta)) {
    completion_.provider = "chat";
    completion_.model = model;
    json messages = json::array({{{"role", "system"}, {"content", model_instructions(prompt)}}});
    for (const auto& line : prompt.recent_turns) {
      auto [role, content] = split_turn(line);
      messages.push_back({{"role", role}, {"content", content}});
    }
    messages.push_back({{"role", "user"}, {"content", model_turn_input(prompt)}});
    const json body = {{"model", model},
                       {"messages", std::move(messages)},
                       {"temperature", options.temperature},
                       {"max_tokens", options.max_output_tokens},
                       {"stream", true},
                       {"stream_options", {{"include_usage", true}}}};
    path_ = "chat/completions";
    body_ = dump(body);
    what_ = "chat completion with model " + model;
  }

  // The stream is whole at `[DONE]` or once a choice has its finish_reason.
  Status on_event(const SseEvent& event) override {
    if (event.data == "[DONE]") {
      finished_ = true;
      return ok();
    }
    const json data = parse_json(event.data);
    if (!data.is_object()) return malformed(what_, "a chunk that is not a JSON object");
    if (data.contains("error")) {
      const auto& error = data["error"];
      return Error::unavailable(
          what_ + " failed: " +
          (error.is_object() ? error.value("message", std::string("an error chunk")) : error.dump()));
    }
    const auto usage = data.find("usage");
    if (usage != data.end() && usage->is_object()) {
      completion_.usage.input_tokens = usage->value("prompt_tokens", int64_t{0});
      completion_.usage.output_tokens = usage->value("completion_tokens", int64_t{0});
    }
    const auto choices = data.find("choices");
    if (choices == data.end() || !choices->is_array() || choices->empty()) return ok();  // the usage chunk
    const auto& choice = choices->front();
    if (!choice.is_object()) return malformed(what_, "a choice that is not an object");
    const auto delta_field = choice.find("delta");
    if (delta_field != choice.end() && delta_field->is_object()) {
      const auto content = delta_field->find("content");
      if (content != delta_field->end() && content->is_string() &&
          !content->get_ref<const std::string&>().empty())
        delta(content->get_ref<const std::string&>());
    }
    const auto finish = choice.find("finish_reason");
    if (finish != choice.end() && finish->is_string()) {
      completion_.finish_reason = finish->get<std::string>() == "length" ? "length" : "stop";
      finished_ = true;
    }
    return ok();
  }
};

class ChatProvider final : public StreamingProvider {
 public:
  explicit ChatProvider(ModelOptions options) : StreamingProvider(std::move(options)) {}
  std::string_view name() const override { return "chat"; }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    if (auto status = check(); !status) return status.error();
    ChatCall call(prompt, options, model_for(options), on_delta);
    return run(call, options);
  }

  void generate_async(std::shared_ptr<const Prompt> prompt, Options options, DeltaSink on_delta,
                      CompletionHandler done) override {
    if (auto status = check(); !status) return done(status.error());
    auto call = std::make_shared<ChatCall>(*prompt, options, model_for(options), std::move(on_delta));
    run_async(std::move(call), std::move(prompt), options, std::move(done));
  }
};

class FallbackProvider final : public LlmProvider {
 public:
  FallbackProvider(std::unique_ptr<LlmProvider> model, std::unique_ptr<LlmProvider> offline)
      : model_(std::move(model)), offline_(std::move(offline)) {}

  std::string_view name() const override { return model_->name(); }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    std::string streamed;
    auto answer = model_->generate(prompt, options, counting(on_delta, streamed));
    return settle(std::move(answer), prompt, options, on_delta, streamed);
  }

  // The offline answer to a failed model is composed where the failure is heard (the stream hub's
  // thread for a model's stream): it is extractive and takes about a millisecond.
  void generate_async(std::shared_ptr<const Prompt> prompt, Options options, DeltaSink on_delta,
                      CompletionHandler done) override {
    auto streamed = std::make_shared<std::string>();
    model_->generate_async(prompt, options, counting(on_delta, *streamed),
                           [this, prompt, options, on_delta, streamed, done](Result<Completion> answer) {
                             done(settle(std::move(answer), *prompt, options, on_delta, *streamed));
                           });
  }

 private:
  // Passes the model's pieces on, keeping what was sent in `streamed`.
  static DeltaSink counting(const DeltaSink& on_delta, std::string& streamed) {
    return [&streamed, on_delta](std::string_view piece) {
      streamed.append(piece);
      if (on_delta) on_delta(piece);
    };
  }

  // The model's answer, or the offline one after a notice when the model failed.
  Result<Completion> settle(Result<Completion> answer, const Prompt& prompt, const Options& options,
                            const DeltaSink& on_delta, const std::string& streamed) {
    if (answer) return answer;
    const Error& error = answer.error();
    // A full queue is backpressure the caller must see (503 + Retry-After); a cancelled call has
    // nobody left to answer; a configuration error must be fixed, not hidden.
    if (error.kind == ErrorKind::overloaded || error.kind == ErrorKind::cancelled ||
        error.kind == ErrorKind::invalid_config)
      return error;
    spdlog::warn("{} provider failed, answering offline: {}", model_->name(), error.message);
    const std::string notice =
        streamed.empty()
            ? "_The language model could not answer just now, so the offline coach answered from the "
              "knowledge "
              "base instead._\n\n"
            : "\n\n---\n_The language model's answer was cut off, so the offline coach answers instead:_\n\n";
    if (on_delta) on_delta(notice);
    Options offline_options = options;
    offline_options.model.clear();
    auto fallback = offline_->generate(prompt, offline_options, on_delta);
    if (!fallback) return fallback;
    fallback->text = streamed + notice + fallback->text;
    fallback->degraded = true;
    fallback->notice = error.message;
    fallback->finish_reason = "stop";
    return fallback;
  }

  std::unique_ptr<LlmProvider> model_;
  std::unique_ptr<LlmProvider> offline_;
};

}  // namespace

void LlmProvider::generate_async(std::shared_ptr<const Prompt> prompt, Options options, DeltaSink on_delta,
                                 CompletionHandler done) {
  done(generate(*prompt, options, on_delta));
}

std::string model_instructions(const Prompt& prompt) {
  std::string out = prompt.instructions;
  out +=
      "\n\nYou are one of the five specialist assistants of the IDEA Brand Coach, talking with a "
      "small-business "
      "owner. Answer in Markdown, concretely and briefly. The user's message comes with numbered "
      "knowledge-base "
      "sources: ground your advice in them and cite each point you take from a source with its number in "
      "square brackets, like [1]. If the sources do not cover something, say so instead of inventing it. Use "
      "what the user has told you, by name. End with one question that moves their brand work forward and "
      "that you have not asked before.";
  if (!prompt.user_name.empty()) out += fmt::format("\n\nThe user's name is {}.", prompt.user_name);
  if (!prompt.known_facts.empty() || !prompt.profile.empty()) {
    out += "\n\nWhat the user has told you (current values):";
    std::set<std::string> seen;
    for (const auto& fact : prompt.known_facts) {
      if (seen.insert(fact).second) out += "\n- " + fact;
    }
    for (const auto& fact : prompt.profile) {
      const std::string line = fact.label + ": " + fact.value;
      if (seen.insert(line).second) out += "\n- " + line;
    }
  }
  if (!prompt.summary.empty()) out += "\n\nSummary of your earlier conversation:\n" + prompt.summary;
  if (!prompt.greeting.empty())
    out += "\n\nThis message opens a new session: welcome the user back and pick up where you left off (" +
           prompt.greeting + ").";
  return out;
}

std::string model_turn_input(const Prompt& prompt) {
  std::string out;
  if (!prompt.sources.empty()) {
    out += "Sources:\n";
    for (size_t i = 0; i < prompt.sources.size(); ++i) {
      const auto& source = prompt.sources[i];
      out += fmt::format("[{}] ({}{}{}) {}\n", i + 1, source.filename, source.heading.empty() ? "" : " — ",
                         source.heading, source.text);
    }
    out += "\n";
  }
  if (!prompt.memory_answer.empty())
    out += "What the user told you before, with dates (answer from this):\n" + prompt.memory_answer + "\n\n";
  for (const auto& question : prompt.confirmations) out += "Ask the user to confirm: " + question + "\n";
  if (!prompt.confirmations.empty()) out += "\n";
  out += "Message:\n" + prompt.user_message;
  return out;
}

std::vector<Citation> citations_from_markers(std::string_view text, const Prompt& prompt) {
  std::vector<Citation> out;
  std::set<size_t> seen;
  for (size_t open = text.find('['); open != std::string_view::npos; open = text.find('[', open + 1)) {
    size_t end = open + 1;
    size_t number = 0;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])) && end - open <= 3) {
      number = number * 10 + static_cast<size_t>(text[end] - '0');
      ++end;
    }
    if (end == open + 1 || end >= text.size() || text[end] != ']') continue;
    if (number == 0 || number > prompt.sources.size() || !seen.insert(number).second) continue;
    out.push_back({number - 1, snippet_of(prompt.sources[number - 1].text), static_cast<int>(number)});
  }
  return out;
}

std::unique_ptr<LlmProvider> make_responses_provider(ModelOptions options) {
  return std::make_unique<ResponsesProvider>(std::move(options));
}

std::unique_ptr<LlmProvider> make_chat_provider(ModelOptions options) {
  return std::make_unique<ChatProvider>(std::move(options));
}

std::unique_ptr<LlmProvider> make_fallback_provider(std::unique_ptr<LlmProvider> model,
                                                    std::unique_ptr<LlmProvider> offline) {
  return std::make_unique<FallbackProvider>(std::move(model), std::move(offline));
}

}  // namespace brandcoach::llm
