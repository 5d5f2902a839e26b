#include <nlohmann/json.hpp>

#include "brandcoach/llm/llm.hpp"

namespace brandcoach::llm {

ChatClient::ChatClient(ModelOptions options)
    : options_(std::move(options)),
      clients_(options_.base_url, {options_.api_key, options_.max_retries, options_.connect_timeout_ms,
                                   options_.timeout_ms, options_.upstream}) {}

Result<std::string> ChatClient::complete(const std::string& system, const std::string& user,
                                         double temperature, bool json_answer) const {
  if (options_.base_url.empty()) return Error::config("llm.base_url is empty", "llm.base_url");
  if (options_.model.empty()) return Error::config("llm.model is empty", "llm.model");
  nlohmann::json request = {
      {"model", options_.model},
      {"temperature", temperature},
      {"messages", {{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}}}};
  if (json_answer) request["response_format"] = {{"type", "json_object"}};
  auto client = clients_.acquire();
  const std::string what = "chat completion with model " + options_.model;
  // Invalid UTF-8 in the user's text becomes U+FFFD instead of an exception.
  auto answer = client->post("chat/completions",
                             request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), what);
  if (!answer) return answer.error();
  const auto doc = parse_json(*answer);
  const auto malformed = [&](const std::string& why) { return client->failure(what + " sent " + why); };
  if (!doc.is_object()) return malformed("no JSON object");
  const auto choices = doc.find("choices");
  if (choices == doc.end() || !choices->is_array() || choices->empty() || !choices->front().is_object())
    return malformed("no choices");
  const auto message = choices->front().find("message");
  if (message == choices->front().end() || !message->is_object())
    return malformed("a choice without a message");
  const auto content = message->find("content");
  if (content == message->end() || !content->is_string()) return malformed("a message without text content");
  return content->get<std::string>();
}

}  // namespace brandcoach::llm
