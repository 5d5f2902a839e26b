// The model providers: OpenAI's Responses API (`openai`) and any Chat Completions server (`chat`),
// both streamed, plus the fallback to the offline composer that keeps a turn answered when they fail.
#include <algorithm>
#include <cctype>
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
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not mid-character
  return text.substr(0, cut) + " …";
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

// The parts every streamed model call shares: the HTTP call, SSE framing, the stream's end.
class StreamingProvider : public LlmProvider {
 protected:
  explicit StreamingProvider(ModelOptions options)
      : options_(std::move(options)),
        clients_(options_.base_url, {options_.api_key, options_.max_retries, options_.connect_timeout_ms,
                                     options_.timeout_ms, options_.upstream}) {}

  Status check() const {
    if (options_.base_url.empty()) return Error::config("llm.base_url is empty", "llm.base_url");
    if (options_.model.empty()) return Error::config("llm.model is empty", "llm.model");
    return ok();
  }

  // POSTs `body` and hands each SSE event's data to `on_event`; an error from it ends the call.
  Status stream(std::string_view path, const json& body, const std::string& what, const Options& options,
                const std::function<Status(const SseEvent&)>& on_event) const {
    auto client = clients_.acquire();
    SseParser parser;
    std::optional<Error> problem;
    const net::ChunkSink sink = [&](std::string_view bytes) {
      auto events = parser.feed(bytes);
      if (!events) {
        problem = malformed(what, "an unreadable event stream: " + events.error().message);
        return false;
      }
      for (const auto& event : *events) {
        if (auto status = on_event(event); !status) {
          problem = status.error();
          return false;
        }
      }
      return true;
    };
    auto status = client->post_stream(path, dump(body), what, sink, options.stop);
    if (problem) return *problem;
    return status;
  }

  const std::string& model_for(const Options& options) const {
    return options.model.empty() ? options_.model : options.model;
  }

  static void finish_usage(Completion& completion, const Prompt& prompt) {
    // A server that reports no usage gets our own count, so cost tracking never sees zero.
    if (completion.usage.input_tokens == 0) {
      size_t tokens =
          text::count_tokens(model_instructions(prompt)) + text::count_tokens(model_turn_input(prompt));
      for (const auto& turn : prompt.recent_turns) tokens += text::count_tokens(turn);
      completion.usage.input_tokens = static_cast<int64_t>(tokens);
    }
    if (completion.usage.output_tokens == 0)
      completion.usage.output_tokens = static_cast<int64_t>(text::count_tokens(completion.text));
  }

  ModelOptions options_;
  mutable net::ClientPool clients_;  // kept connections to the model's server
};

class ResponsesProvider final : public StreamingProvider {
 public:
  explicit ResponsesProvider(ModelOptions options) : StreamingProvider(std::move(options)) {}
  std::string_view name() const override { return "openai"; }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    if (auto status = check(); !status) return status.error();
    const bool chained = options_.chain && !prompt.previous_response_id.empty();
    bool streamed = false;
    auto answer = call(prompt, options, on_delta, chained, streamed);
    // A continued response the server no longer has (expired, or stored elsewhere) is not a
    // failure of the model: ask again with the whole context.
    if (!answer && chained && answer.error().kind == ErrorKind::unavailable &&
        answer.error().message.find("HTTP 4") != std::string::npos && !streamed) {
      spdlog::warn("previous_response_id {} was refused; answering without it", prompt.previous_response_id);
      answer = call(prompt, options, on_delta, false, streamed);
    }
    return answer;
  }

 private:
  Result<Completion> call(const Prompt& prompt, const Options& options, const DeltaSink& on_delta,
                          bool chained, bool& streamed) const {
    streamed = false;
    Completion completion;
    completion.provider = "openai";
    completion.model = model_for(options);
    json input = json::array();
    if (!chained) {
      for (const auto& line : prompt.recent_turns) {
        auto [role, content] = split_turn(line);
        input.push_back({{"role", role}, {"content", content}});
      }
    }
    input.push_back({{"role", "user"}, {"content", model_turn_input(prompt)}});
    json body = {{"model", completion.model},
                 {"instructions", model_instructions(prompt)},
                 {"input", std::move(input)},
                 {"temperature", options.temperature},
                 {"max_output_tokens", options.max_output_tokens},
                 {"stream", true},
                 {"store", options_.store || options_.chain}};
    if (chained) body["previous_response_id"] = prompt.previous_response_id;
    const std::string what = "responses request for model " + completion.model;
    bool finished = false;
    auto status = stream("responses", body, what, options, [&](const SseEvent& event) -> Status {
      const json data = parse_json(event.data);
      if (!data.is_object()) return malformed(what, "an event whose data is not a JSON object");
      const std::string type = data.value("type", event.event);
      if (type == "response.created" && data.contains("response") && data["response"].is_object()) {
        completion.response_id = data["response"].value("id", "");
      } else if (type == "response.output_text.delta") {
        if (!data.contains("delta") || !data["delta"].is_string())
          return malformed(what, "a delta without text");
        const auto delta = data["delta"].get<std::string>();
        completion.text += delta;
        streamed = true;
        if (on_delta) on_delta(delta);
      } else if (type == "response.completed" || type == "response.incomplete") {
        const json& response = data.contains("response") ? data["response"] : json::object();
        if (response.is_object()) {
          if (response.contains("id") && response["id"].is_string()) completion.response_id = response["id"];
          const auto usage = response.find("usage");
          if (usage != response.end() && usage->is_object()) {
            completion.usage.input_tokens = usage->value("input_tokens", int64_t{0});
            completion.usage.output_tokens = usage->value("output_tokens", int64_t{0});
          }
        }
        completion.finish_reason = type == "response.completed" ? "stop" : "length";
        finished = true;
      } else if (type == "response.failed") {
        std::string why = "the response failed";
        if (data.contains("response") && data["response"].is_object() && data["response"].contains("error") &&
            data["response"]["error"].is_object())
          why = data["response"]["error"].value("message", why);
        return Error::unavailable(what + " failed: " + why);
      } else if (type == "error") {
        return Error::unavailable(what + " failed: " + data.value("message", std::string("an error event")));
      }
      return ok();
    });
    if (!status) return status.error();
    if (!finished)
      return Error::unavailable(what + " ended before the response was complete (the answer was cut off)");
    finish_usage(completion, prompt);
    completion.citations = citations_from_markers(completion.text, prompt);
    return completion;
  }
};

class ChatProvider final : public StreamingProvider {
 public:
  explicit ChatProvider(ModelOptions options) : StreamingProvider(std::move(options)) {}
  std::string_view name() const override { return "chat"; }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    if (auto status = check(); !status) return status.error();
    Completion completion;
    completion.provider = "chat";
    completion.model = model_for(options);
    json messages = json::array({{{"role", "system"}, {"content", model_instructions(prompt)}}});
    for (const auto& line : prompt.recent_turns) {
      auto [role, content] = split_turn(line);
      messages.push_back({{"role", role}, {"content", content}});
    }
    messages.push_back({{"role", "user"}, {"content", model_turn_input(prompt)}});
    const json body = {{"model", completion.model},
                       {"messages", std::move(messages)},
                       {"temperature", options.temperature},
                       {"max_tokens", options.max_output_tokens},
                       {"stream", true},
                       {"stream_options", {{"include_usage", true}}}};
    const std::string what = "chat completion with model " + completion.model;
    bool done = false;
    bool finish_seen = false;
    auto status = stream("chat/completions", body, what, options, [&](const SseEvent& event) -> Status {
      if (event.data == "[DONE]") {
        done = true;
        return ok();
      }
      const json data = parse_json(event.data);
      if (!data.is_object()) return malformed(what, "a chunk that is not a JSON object");
      if (data.contains("error")) {
        const auto& error = data["error"];
        return Error::unavailable(
            what + " failed: " +
            (error.is_object() ? error.value("message", std::string("an error chunk")) : error.dump()));
      }
      const auto usage = data.find("usage");
      if (usage != data.end() && usage->is_object()) {
        completion.usage.input_tokens = usage->value("prompt_tokens", int64_t{0});
        completion.usage.output_tokens = usage->value("completion_tokens", int64_t{0});
      }
      const auto choices = data.find("choices");
      if (choices == data.end() || !choices->is_array() || choices->empty()) return ok();  // the usage chunk
      const auto& choice = choices->front();
      if (!choice.is_object()) return malformed(what, "a choice that is not an object");
      const auto delta = choice.find("delta");
      if (delta != choice.end() && delta->is_object()) {
        const auto content = delta->find("content");
        if (content != delta->end() && content->is_string() &&
            !content->get_ref<const std::string&>().empty()) {
          const auto& piece = content->get_ref<const std::string&>();
          completion.text += piece;
          if (on_delta) on_delta(piece);
        }
      }
      const auto finish = choice.find("finish_reason");
      if (finish != choice.end() && finish->is_string()) {
        completion.finish_reason = finish->get<std::string>() == "length" ? "length" : "stop";
        finish_seen = true;
      }
      return ok();
    });
    if (!status) return status.error();
    if (!done && !finish_seen)
      return Error::unavailable(what + " ended before the answer was complete (the answer was cut off)");
    finish_usage(completion, prompt);
    completion.citations = citations_from_markers(completion.text, prompt);
    return completion;
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
    const DeltaSink counting = [&](std::string_view piece) {
      streamed.append(piece);
      if (on_delta) on_delta(piece);
    };
    auto answer = model_->generate(prompt, options, counting);
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

 private:
  std::unique_ptr<LlmProvider> model_;
  std::unique_ptr<LlmProvider> offline_;
};

}  // namespace

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
