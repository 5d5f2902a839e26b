// The OpenAI-compatible surface: /v1/chat/completions and /v1/models, with OpenAI's field names,
// object types and id prefixes, so an app written for OpenAI's SDK runs against the coach.
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

using json = nlohmann::json;

constexpr std::string_view kModelPrefix = "brandcoach";
constexpr int64_t kModelsCreated = 1767225600;  // 2026-01-01: when these model names were first served

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// json::value() throws a type_error when the key holds another type than the fallback's; these read a
// caller's body, where that must be a 400 instead (found by fuzzing, fuzz/regressions/json_body).
bool is_text_part(const json& part) {
  const auto type = part.find("type");
  return part.is_object() && type != part.end() && *type == "text" && part.contains("text") &&
         part["text"].is_string();
}

// Accepted but without effect on the coach (it keeps its own thread, model and sampling per assistant).
const std::set<std::string, std::less<>>& ignored_fields() {
  static const std::set<std::string, std::less<>> fields = {
      "temperature",    "top_p", "max_tokens",       "max_completion_tokens", "user",
      "metadata",       "store", "presence_penalty", "frequency_penalty",     "seed",
      "stop",           "n",     "logprobs",         "parallel_tool_calls",   "service_tier",
      "response_format"};
  return fields;
}

// The text of a message's content: a string, or an array of {type: "text", text} parts.
Result<std::string> content_text(const json& content, size_t index) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    return Error::invalid(
        "messages[" + std::to_string(index) + "].content must be a string or an array of text parts",
        "messages");
  std::string text;
  for (const auto& part : content) {
    if (!is_text_part(part))
      return Error::invalid("only text content parts are supported (messages[" + std::to_string(index) + "])",
                            "messages");
    text += (text.empty() ? "" : "\n") + part["text"].get<std::string>();
  }
  return text;
}

json chunk(const std::string& id, const std::string& model, int64_t created, const json& delta,
           const json& finish) {
  return {
      {"id", id},
      {"object", "chat.completion.chunk"},
      {"created", created},
      {"model", model},
      {"system_fingerprint", nullptr},
      {"choices",
       json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
}

json usage_json(const coach::TurnResult& result) {
  return {{"prompt_tokens", result.usage.input_tokens},
          {"completion_tokens", result.usage.output_tokens},
          {"total_tokens", result.usage.input_tokens + result.usage.output_tokens}};
}

// What only the coach knows, beside OpenAI's fields: who answered and from which sources.
json coach_extension(const coach::TurnResult& result) {
  json citations = json::array();
  for (const auto& c : result.citations) citations.push_back(coach::to_json(c));
  return {{"assistant", result.assistant},
          {"route", coach::to_json(result.route)},
          {"citations", std::move(citations)},
          {"degraded", result.degraded}};
}

class OpenAiChatStream final : public StreamFormat {
 public:
  OpenAiChatStream(std::string model, bool include_usage)
      : id_(random_id("chatcmpl-")),
        model_(std::move(model)),
        created_(now_seconds()),
        include_usage_(include_usage) {}

  std::string route(const route::Decision&) override { return role(); }

  std::string delta(std::string_view text) override {
    return role() + frame(chunk(id_, model_, created_, {{"content", text}}, nullptr));
  }

  std::string done(const coach::TurnResult& result) override {
    json last = chunk(id_, model_, created_, json::object(), "stop");
    last["brandcoach"] = coach_extension(result);
    std::string out = role() + frame(last);
    if (include_usage_) {
      json usage = chunk(id_, model_, created_, json::object(), nullptr);
      usage["choices"] = json::array();
      usage["usage"] = usage_json(result);
      out += frame(usage);
    }
    return out + "data: [DONE]\n\n";
  }

  std::string error(const Error& error) override {
    // The SDKs turn an `error` object in the stream into a thrown API error.
    return "data: " + error_response(error).body + "\n";
  }

  Response complete(const coach::TurnResult& result) override {
    json body = {
        {"id", id_},
        {"object", "chat.completion"},
        {"created", created_},
        {"model", model_},
        {"system_fingerprint", nullptr},
        {"choices",
         json::array({{{"index", 0},
                       {"message", {{"role", "assistant"}, {"content", result.reply}, {"refusal", nullptr}}},
                       {"logprobs", nullptr},
                       {"finish_reason", "stop"}}})},
        {"usage", usage_json(result)},
        {"brandcoach", coach_extension(result)}};
    return {200, "application/json", dump(body) + "\n", {}};
  }

 private:
  static std::string frame(const json& data) { return "data: " + dump(data) + "\n\n"; }

  std::string role() {
    if (sent_role_) return {};
    sent_role_ = true;
    return frame(chunk(id_, model_, created_, {{"role", "assistant"}, {"content", ""}}, nullptr));
  }

  std::string id_;
  std::string model_;
  int64_t created_;
  bool include_usage_;
  bool sent_role_ = false;
};

}  // namespace

Result<std::string> assistant_for_model(std::string_view model, const coach::AssistantRegistry& assistants) {
  if (model == kModelPrefix) return std::string();
  const std::string prefix = std::string(kModelPrefix) + "-";
  const std::string pinned = model.starts_with(prefix) ? std::string(model.substr(prefix.size())) : "";
  if (pinned.empty() || !assistants.find(pinned))
    return Error::not_found("The model `" + std::string(model) + "` does not exist; see GET /v1/models",
                            "model");
  return pinned;
}

Result<ChatRequest> parse_openai_chat_request(std::string_view body,
                                              const coach::AssistantRegistry& assistants) {
  const json doc = parse_json(body);
  if (doc.is_discarded()) return Error::invalid("request body is not valid JSON");
  if (!doc.is_object()) return Error::invalid("request body must be a JSON object");
  ChatRequest chat;
  for (const auto& [key, value] : doc.items()) {
    if (key == "model" || key == "messages" || key == "stream" || key == "stream_options") continue;
    if (key == "tools" || key == "tool_choice" || key == "functions" || key == "function_call" ||
        key == "audio")
      return Error::invalid(key + " is not supported by the coach", key);
    if (!ignored_fields().contains(key))
      return Error::invalid("Unrecognized request argument supplied: " + key, key);
    if (key == "n" && !(value.is_number_integer() && value.get<int64_t>() == 1))
      return Error::invalid("n must be 1", "n");
  }
  if (!doc.contains("model") || !doc["model"].is_string())
    return Error::invalid("model is required (a string)", "model");
  chat.model = doc["model"];
  auto pinned = assistant_for_model(chat.model, assistants);
  if (!pinned) return pinned.error();
  chat.assistant = std::move(pinned).value();
  if (!doc.contains("messages") || !doc["messages"].is_array() || doc["messages"].empty())
    return Error::invalid("messages must be a non-empty array", "messages");
  std::optional<std::string> last_user;
  for (size_t i = 0; i < doc["messages"].size(); ++i) {
    const auto& m = doc["messages"][i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return Error::invalid("messages[" + std::to_string(i) + "] needs a role", "messages");
    const std::string role = m["role"];
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      return Error::invalid("messages[" + std::to_string(i) + "].role '" + role + "' is not a chat role",
                            "messages");
    if (role != "user") continue;
    if (!m.contains("content"))
      return Error::invalid("messages[" + std::to_string(i) + "] needs content", "messages");
    auto text = content_text(m["content"], i);
    if (!text) return text.error();
    last_user = std::move(text).value();
  }
  if (!last_user) return Error::invalid("messages must contain a user message", "messages");
  if (auto status = coach::validate_message(*last_user); !status) {
    Error error = status.error();
    error.param = "messages";
    return error;
  }
  chat.message = std::move(*last_user);
  if (doc.contains("stream")) {
    if (!doc["stream"].is_boolean() && !doc["stream"].is_null())
      return Error::invalid("stream must be a boolean", "stream");
    chat.stream = doc["stream"].is_boolean() && doc["stream"].get<bool>();
  }
  if (doc.contains("stream_options") && doc["stream_options"].is_object()) {
    const auto include_usage = doc["stream_options"].find("include_usage");
    if (include_usage != doc["stream_options"].end() && !include_usage->is_boolean() &&
        !include_usage->is_null())
      return Error::invalid("stream_options.include_usage must be a boolean", "stream_options");
    chat.include_usage = include_usage != doc["stream_options"].end() && *include_usage == true;
  }
  chat.format = std::make_shared<OpenAiChatStream>(chat.model, chat.include_usage);
  return chat;
}

json openai_model_list(const coach::AssistantRegistry& assistants) {
  json data = json::array(
      {{{"id", kModelPrefix}, {"object", "model"}, {"created", kModelsCreated}, {"owned_by", "brandcoach"}}});
  for (const auto& assistant : assistants.all()) {
    data.push_back({{"id", std::string(kModelPrefix) + "-" + assistant.id},
                    {"object", "model"},
                    {"created", kModelsCreated},
                    {"owned_by", "brandcoach"}});
  }
  return {{"object", "list"}, {"data", std::move(data)}};
}

Response openai_models(const Services& services) {
  return {200, "application/json", dump(openai_model_list(services.coach.assistants())) + "\n", {}};
}

}  // namespace brandcoach::http
