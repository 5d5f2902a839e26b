// OpenAI's Responses API over the coach: POST /v1/responses runs a coach turn and answers with a
// `response` object (or its event stream); stored responses can be read back, listed by input item
// and deleted.
//
// Request fields:
//   supported: model ("brandcoach" routes, "brandcoach-<assistant>" pins one), input (a string or a
//     list of messages with string or input_text/output_text content), instructions (added to the
//     assistant's own; model providers only), previous_response_id (must be one of the caller's),
//     stream, temperature (0–2), max_output_tokens (≥ 16), metadata (≤ 16 string pairs), store,
//     tools ([{type: "file_search", vector_store_ids, max_num_results, filters, ranking_options}]),
//     tool_choice ("auto", "required", "none", {type: "file_search"}), include
//     (["file_search_call.results"]).
//   accepted and ignored: top_p, truncation, user, safety_identifier, prompt_cache_key,
//     parallel_tool_calls, service_tier, reasoning, max_tool_calls, top_logprobs, text with format
//     type "text", background false, and include values that name output the coach never makes.
//   refused (400 naming the field): any other tool type, non-text input (images, files, function
//     call outputs), text formats other than plain text, background true, unknown fields.
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxVectorStores = 10;
constexpr size_t kMaxMetadataKeys = 16;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

const std::set<std::string, std::less<>>& ignored_fields() {
  static const std::set<std::string, std::less<>> fields = {"top_p",
                                                            "truncation",
                                                            "user",
                                                            "safety_identifier",
                                                            "prompt_cache_key",
                                                            "parallel_tool_calls",
                                                            "service_tier",
                                                            "reasoning",
                                                            "max_tool_calls",
                                                            "top_logprobs"};
  return fields;
}

// include values the coach has nothing for: they change nothing, as OpenAI's would for a response
// without such output.
const std::set<std::string, std::less<>>& ignored_includes() {
  static const std::set<std::string, std::less<>> values = {"message.output_text.logprobs",
                                                            "reasoning.encrypted_content",
                                                            "web_search_call.action.sources",
                                                            "code_interpreter_call.outputs",
                                                            "computer_call_output.output.image_url",
                                                            "message.input_image.image_url",
                                                            "web_search_call.results"};
  return values;
}

// What a /v1/responses request asked for, checked for shape (the store is consulted in prepare).
struct ResponsesRequest {
  std::string model;
  std::string instructions;
  std::string previous_response_id;
  std::optional<double> temperature;
  std::optional<int64_t> max_output_tokens;
  json metadata = json::object();
  bool store = true;
  json tools = json::array();  // as given, echoed back
  std::vector<std::string> vector_store_ids;
  int max_num_results = 10;
  std::optional<index::Filter> filter;
  double score_threshold = 0;
  bool search_files = false;  // a file_search tool is present and tool_choice allows it
  bool include_results = false;
  json tool_choice = "auto";
  json input_items = json::array();  // normalised: message items with input_text/output_text parts
  std::vector<std::string> context_turns;
};

// The text of one input message's content: a string or a list of text parts.
Result<std::string> input_text(const json& content, const std::string& where) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array())
    return Error::invalid(where + ".content must be a string or a list of parts", "input");
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const auto& part = content[i];
    const std::string type = json_string(part, "type", "");
    if (type != "input_text" && type != "output_text" && type != "text")
      return Error::invalid(
          fmt::format("{}.content[{}]: only text parts are supported (got '{}')", where, i, type), "input");
    if (!part.contains("text") || !part["text"].is_string())
      return Error::invalid(fmt::format("{}.content[{}].text must be a string", where, i), "input");
    text += (text.empty() ? "" : "\n") + part["text"].get<std::string>();
  }
  return text;
}

json message_item(const std::string& role, const std::string& text) {
  return {{"id", random_id("msg_")},
          {"type", "message"},
          {"role", role},
          {"status", "completed"},
          {"content",
           json::array({{{"type", role == "assistant" ? "output_text" : "input_text"}, {"text", text}}})}};
}

// input as a string or a list of messages; the last user message is the turn, system and developer
// messages join the instructions, and the other messages are context for the model.
Status parse_input(const json& input, ResponsesRequest& out, std::string& message) {
  if (input.is_string()) {
    message = input.get<std::string>();
    out.input_items.push_back(message_item("user", message));
    return ok();
  }
  if (!input.is_array() || input.empty())
    return Error::invalid("input must be a string or a non-empty list of messages", "input");
  std::vector<std::pair<std::string, std::string>> messages;
  for (size_t i = 0; i < input.size(); ++i) {
    const auto& item = input[i];
    const std::string where = fmt::format("input[{}]", i);
    if (!item.is_object()) return Error::invalid(where + " must be an object", "input");
    const std::string type = json_string(item, "type", "message");
    if (type != "message")
      return Error::invalid(fmt::format("{}: input items of type '{}' are not supported", where, type),
                            "input");
    if (!item.contains("role") || !item["role"].is_string())
      return Error::invalid(where + " needs a role", "input");
    const std::string role = item["role"];
    if (role != "user" && role != "assistant" && role != "system" && role != "developer")
      return Error::invalid(fmt::format("{}.role '{}' is not a message role", where, role), "input");
    if (!item.contains("content")) return Error::invalid(where + " needs content", "input");
    auto text = input_text(item["content"], where);
    if (!text) return text.error();
    messages.emplace_back(role, std::move(text).value());
  }
  size_t last_user = messages.size();
  for (size_t i = messages.size(); i-- > 0;) {
    if (messages[i].first == "user") {
      last_user = i;
      break;
    }
  }
  if (last_user == messages.size()) return Error::invalid("input must contain a user message", "input");
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& [role, text] = messages[i];
    out.input_items.push_back(message_item(role, text));
    if (i == last_user) {
      message = text;
    } else if (role == "system" || role == "developer") {
      out.instructions += (out.instructions.empty() ? "" : "\n\n") + text;
    } else {
      out.context_turns.push_back(role + ": " + text);
    }
  }
  return ok();
}

Status parse_file_search(const json& tool, size_t index, ResponsesRequest& out) {
  const std::string where = fmt::format("tools[{}]", index);
  for (const auto& [key, value] : tool.items()) {
    if (key == "type") continue;
    if (key == "vector_store_ids") {
      if (!value.is_array() || value.empty() || value.size() > kMaxVectorStores)
        return Error::invalid(
            fmt::format("{}.vector_store_ids must list 1 to {} vector store ids", where, kMaxVectorStores),
            "tools");
      for (const auto& id : value) {
        if (!id.is_string()) return Error::invalid(where + ".vector_store_ids must be strings", "tools");
        out.vector_store_ids.push_back(id);
      }
    } else if (key == "max_num_results") {
      if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 50)
        return Error::invalid(where + ".max_num_results must be an integer from 1 to 50", "tools");
      out.max_num_results = value.get<int>();
    } else if (key == "filters") {
      if (value.is_null()) continue;
      auto filter = index::Filter::parse(value);
      if (!filter) {
        Error error = filter.error();
        error.message = where + ".filters: " + error.message;
        error.param = "tools";
        return error;
      }
      out.filter = std::move(filter).value();
    } else if (key == "ranking_options") {
      if (!value.is_object()) return Error::invalid(where + ".ranking_options must be an object", "tools");
      for (const auto& [option, setting] : value.items()) {
        if (option == "ranker") {
          if (!setting.is_string() || (setting != "auto" && setting != "default-2024-11-15" &&
                                       setting != "default_2024_08_21" && setting != "none"))
            return Error::invalid(where + ".ranking_options.ranker must be 'auto' or 'default-2024-11-15'",
                                  "tools");
        } else if (option == "score_threshold") {
          if (!setting.is_number() || setting.get<double>() < 0 || setting.get<double>() > 1)
            return Error::invalid(where + ".ranking_options.score_threshold must be a number from 0 to 1",
                                  "tools");
          out.score_threshold = setting.get<double>();
        } else if (option != "hybrid_search") {
          return Error::invalid(fmt::format("{}.ranking_options: unknown option '{}'", where, option),
                                "tools");
        }
      }
    } else {
      return Error::invalid(fmt::format("{}: unknown file_search parameter '{}'", where, key), "tools");
    }
  }
  if (out.vector_store_ids.empty())
    return Error::invalid(where + ".vector_store_ids is required for file_search", "tools");
  return ok();
}

Status parse_tools(const json& tools, ResponsesRequest& out) {
  if (!tools.is_array()) return Error::invalid("tools must be a list", "tools");
  bool seen_file_search = false;
  for (size_t i = 0; i < tools.size(); ++i) {
    const auto& tool = tools[i];
    const std::string type = json_string(tool, "type", "");
    if (type != "file_search")
      return Error::invalid(fmt::format("tools[{}]: only the file_search tool is supported (got '{}')", i,
                                        type.empty() ? "?" : type),
                            "tools");
    if (seen_file_search) return Error::invalid("only one file_search tool is allowed", "tools");
    seen_file_search = true;
    if (auto status = parse_file_search(tool, i, out); !status) return status;
  }
  out.tools = tools;
  return ok();
}

Status parse_metadata(const json& metadata, ResponsesRequest& out) {
  if (metadata.is_null()) return ok();
  if (!metadata.is_object() || metadata.size() > kMaxMetadataKeys)
    return Error::invalid("metadata must be an object of at most 16 keys", "metadata");
  for (const auto& [key, value] : metadata.items()) {
    if (key.size() > 64 || !value.is_string() || value.get<std::string>().size() > 512)
      return Error::invalid("metadata keys must be at most 64 characters and values strings of at most 512",
                            "metadata");
  }
  out.metadata = metadata;
  return ok();
}

Status parse_tool_choice(const json& choice, ResponsesRequest& out) {
  const bool named_file_search = json_string(choice, "type", "") == "file_search";
  if (!(choice.is_string() && (choice == "auto" || choice == "none" || choice == "required")) &&
      !named_file_search)
    return Error::invalid("tool_choice must be 'auto', 'none', 'required' or {\"type\": \"file_search\"}",
                          "tool_choice");
  out.tool_choice = choice;
  return ok();
}

Status parse_include(const json& include, ResponsesRequest& out) {
  if (include.is_null()) return ok();
  if (!include.is_array()) return Error::invalid("include must be a list", "include");
  for (const auto& value : include) {
    if (value == "file_search_call.results") {
      out.include_results = true;
    } else if (!value.is_string() || !ignored_includes().contains(value.get<std::string>())) {
      return Error::invalid("include: unknown value " + value.dump(), "include");
    }
  }
  return ok();
}

// One field of the body; the ones that need more than a type check have their own parser.
Status parse_field(const std::string& key, const json& value, ResponsesRequest& out, std::string& message) {
  if (key == "model") return ok();  // checked by the caller
  if (key == "input") return parse_input(value, out, message);
  if (key == "tools") return parse_tools(value, out);
  if (key == "metadata") return parse_metadata(value, out);
  if (key == "tool_choice") return parse_tool_choice(value, out);
  if (key == "include") return parse_include(value, out);
  if (key == "stream")
    return value.is_boolean() || value.is_null() ? ok() : Error::invalid("stream must be a boolean", key);
  if (key == "instructions") {
    if (value.is_null()) return ok();
    if (!value.is_string()) return Error::invalid("instructions must be a string", key);
    out.instructions = value.get<std::string>() + (out.instructions.empty() ? "" : "\n\n" + out.instructions);
    return ok();
  }
  if (key == "previous_response_id") {
    if (value.is_null()) return ok();
    if (!value.is_string() || value.get<std::string>().empty())
      return Error::invalid("previous_response_id must be a response id", key);
    out.previous_response_id = value;
    return ok();
  }
  if (key == "temperature") {
    if (value.is_null()) return ok();
    if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 2)
      return Error::invalid("temperature must be a number from 0 to 2", key);
    out.temperature = value.get<double>();
    return ok();
  }
  if (key == "max_output_tokens") {
    if (value.is_null()) return ok();
    if (!value.is_number_integer() || value.get<int64_t>() < 16)
      return Error::invalid("max_output_tokens must be an integer of at least 16", key);
    out.max_output_tokens = value.get<int64_t>();
    return ok();
  }
  if (key == "store") {
    if (!value.is_boolean()) return Error::invalid("store must be a boolean", key);
    out.store = value.get<bool>();
    return ok();
  }
  if (key == "background") {
    return value.is_null() || value == false ? ok()
                                             : Error::invalid("background responses are not supported", key);
  }
  if (key == "text") {
    const bool plain =
        value.is_null() ||
        (value.is_object() &&
         (!value.contains("format") ||
          (value["format"].is_object() && json_string(value["format"], "type", "text") == "text")));
    return plain ? ok()
                 : Error::invalid("only plain text output is supported (text.format.type 'text')", key);
  }
  if (ignored_fields().contains(key)) return ok();
  return Error::invalid("Unknown parameter: '" + key + "'.", key);
}

json usage_object(const coach::TurnResult& result) {
  return {{"input_tokens", result.usage.input_tokens},
          {"input_tokens_details", {{"cached_tokens", 0}}},
          {"output_tokens", result.usage.output_tokens},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", result.usage.input_tokens + result.usage.output_tokens}};
}

// The id a citation names its file by: the uploaded file's id for a user's vector store file, a
// stable id derived from the stored file otherwise.
std::string citation_file_id(const std::string& external_id, int64_t file_row_id) {
  if (external_id.starts_with("file-")) return external_id;
  return fmt::format("file-kb{}", file_row_id);
}

// Offsets in Unicode code points (what a Python str or most clients index by).
size_t code_points(std::string_view text) {
  size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

// One file_citation per "[n]" marker of the reply, at the marker's position.
json annotations(const coach::TurnResult& result) {
  json out = json::array();
  std::vector<std::pair<size_t, json>> found;
  for (const auto& c : result.citations) {
    const std::string marker = fmt::format("[{}]", c.number);
    for (size_t at = result.reply.find(marker); at != std::string::npos;
         at = result.reply.find(marker, at + 1)) {
      found.emplace_back(at, json{{"type", "file_citation"},
                                  {"index", code_points(std::string_view(result.reply).substr(0, at))},
                                  {"file_id", citation_file_id(c.external_id, c.file_id)},
                                  {"filename", c.file}});
    }
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [at, annotation] : found) out.push_back(std::move(annotation));
  return out;
}

json search_result_json(const index::Passage& p) {
  json attributes = parse_json(p.attributes_json);
  return {{"file_id", citation_file_id(p.external_id, p.file_id)},
          {"filename", p.filename},
          {"score", p.score},
          {"text", p.text},
          {"attributes", attributes.is_object() ? attributes : json::object()}};
}

class ResponsesFormat final : public StreamFormat {
 public:
  ResponsesFormat(ResponsesRequest request, std::string message)
      : request_(std::move(request)),
        message_(std::move(message)),
        id_(random_id("resp_")),
        created_(now_seconds()),
        search_id_(random_id("fs_")),
        message_id_(random_id("msg_")) {}

  Status prepare(const Services& services, const std::string& user) override {
    // A caller who never wrote has no responses and no stores: nothing it names can be found.
    auto found = services.store.find_user(user);
    if (!found) return found.error();
    const int64_t user_id = *found ? (*found)->id : 0;
    if (!request_.previous_response_id.empty()) {
      auto previous = user_id ? services.store.find_response(user_id, request_.previous_response_id)
                              : Result<std::optional<store::StoredResponse>>(std::nullopt);
      if (!previous) return previous.error();
      if (!*previous)
        return Error::not_found(
            "Previous response with id '" + request_.previous_response_id + "' not found.",
            "previous_response_id");
    }
    if (request_.vector_store_ids.empty()) return ok();
    auto own = user_id ? services.store.list_user_stores(user_id)
                       : Result<std::vector<store::KnowledgeStore>>(std::vector<store::KnowledgeStore>{});
    if (!own) return own.error();
    for (const auto& id : request_.vector_store_ids) {
      const bool mine = std::any_of(own->begin(), own->end(), [&](const auto& s) { return s.name == id; });
      if (!mine) return Error::not_found("Vector store with id '" + id + "' not found.", "tools");
    }
    return ok();
  }

  void configure(coach::TurnEvents& events, const std::function<void(std::string)>& emit) override {
    events.instructions = request_.instructions;
    events.temperature = request_.temperature;
    events.max_output_tokens = request_.max_output_tokens;
    events.context_turns = request_.context_turns;
    if (searches()) {
      events.file_search = coach::FileSearch{request_.vector_store_ids, request_.max_num_results,
                                             request_.filter, request_.score_threshold};
      events.on_file_search = [this, emit](const std::vector<index::Passage>& found) {
        results_ = json::array();
        for (const auto& p : found) results_.push_back(search_result_json(p));
        if (!emit) return;
        std::string frames =
            event("response.file_search_call.completed", {{"output_index", 0}, {"item_id", search_id_}});
        frames +=
            event("response.output_item.done", {{"output_index", 0}, {"item", search_item("completed")}});
        emit(std::move(frames));
      };
    }
  }

  std::string start() override {
    std::string out = event("response.created", {{"response", snapshot("in_progress")}});
    out += event("response.in_progress", {{"response", snapshot("in_progress")}});
    if (searches()) {
      out += event("response.output_item.added", {{"output_index", 0}, {"item", search_item("in_progress")}});
      out += event("response.file_search_call.in_progress", {{"output_index", 0}, {"item_id", search_id_}});
      out += event("response.file_search_call.searching", {{"output_index", 0}, {"item_id", search_id_}});
    }
    return out;
  }

  std::string route(const route::Decision&) override { return {}; }

  std::string delta(std::string_view text) override {
    std::string out = open_message();  // its events come first: sequence numbers follow the order sent
    return out + event("response.output_text.delta", {{"item_id", message_id_},
                                                      {"output_index", message_index()},
                                                      {"content_index", 0},
                                                      {"delta", text},
                                                      {"logprobs", json::array()}});
  }

  Status finish(const Services& services, const std::string& user, const coach::TurnResult& result) override {
    response_ = snapshot("completed");
    response_["output"] = output(result);
    response_["usage"] = usage_object(result);
    response_["brandcoach"] = {{"assistant", result.assistant},
                               {"route", coach::to_json(result.route)},
                               {"degraded", result.degraded},
                               {"provider", result.provider}};
    if (!request_.store) return ok();
    auto owner = services.store.ensure_user(user);
    if (!owner) return owner.error();
    const json stored_request = {{"model", request_.model},
                                 {"input_items", request_.input_items},
                                 {"tools", request_.tools},
                                 {"metadata", request_.metadata},
                                 {"instructions", request_.instructions}};
    return services.store.put_response({id_, owner->id, request_.previous_response_id, dump(stored_request),
                                        dump(response_), dump(response_["usage"]), created_ * 1000});
  }

  std::string done(const coach::TurnResult& result) override {
    const json& message = response_["output"].back();
    const json& part = message["content"][0];
    std::string out = open_message();
    for (size_t i = 0; i < part["annotations"].size(); ++i) {
      out += event("response.output_text.annotation.added", {{"item_id", message_id_},
                                                             {"output_index", message_index()},
                                                             {"content_index", 0},
                                                             {"annotation_index", i},
                                                             {"annotation", part["annotations"][i]}});
    }
    out += event("response.output_text.done", {{"item_id", message_id_},
                                               {"output_index", message_index()},
                                               {"content_index", 0},
                                               {"text", result.reply},
                                               {"logprobs", json::array()}});
    out += event(
        "response.content_part.done",
        {{"item_id", message_id_}, {"output_index", message_index()}, {"content_index", 0}, {"part", part}});
    out += event("response.output_item.done", {{"output_index", message_index()}, {"item", message}});
    out += event("response.completed", {{"response", response_}});
    return out;
  }

  std::string error(const Error& error) override {
    // The SDKs throw an API error for an event whose data carries an `error` object.
    const json body = json::parse(error_response(error).body);
    return event("error", {{"code", body["error"]["code"]},
                           {"message", error.message},
                           {"param", body["error"]["param"]},
                           {"error", body["error"]}});
  }

  Response complete(const coach::TurnResult&) override { return json_response(200, response_); }

 private:
  bool searches() const { return !request_.vector_store_ids.empty() && request_.tool_choice != "none"; }
  int message_index() const { return searches() ? 1 : 0; }

  std::string event(const std::string& type, json data) {
    data["type"] = type;
    data["sequence_number"] = sequence_++;
    return "event: " + type + "\ndata: " + dump(data) + "\n\n";
  }

  json snapshot(const std::string& status) const {
    return {
        {"id", id_},
        {"object", "response"},
        {"created_at", created_},
        {"status", status},
        {"background", false},
        {"error", nullptr},
        {"incomplete_details", nullptr},
        {"instructions", request_.instructions.empty() ? json(nullptr) : json(request_.instructions)},
        {"max_output_tokens", request_.max_output_tokens ? json(*request_.max_output_tokens) : json(nullptr)},
        {"model", request_.model},
        {"output", json::array()},
        {"parallel_tool_calls", true},
        {"previous_response_id",
         request_.previous_response_id.empty() ? json(nullptr) : json(request_.previous_response_id)},
        {"reasoning", {{"effort", nullptr}, {"summary", nullptr}}},
        {"store", request_.store},
        {"temperature", request_.temperature ? json(*request_.temperature) : json(1.0)},
        {"text", {{"format", {{"type", "text"}}}}},
        {"tool_choice", request_.tool_choice},
        {"tools", request_.tools},
        {"top_p", 1.0},
        {"truncation", "disabled"},
        {"usage", nullptr},
        {"user", nullptr},
        {"metadata", request_.metadata}};
  }

  json search_item(const std::string& status) const {
    json item = {{"id", search_id_},
                 {"type", "file_search_call"},
                 {"status", status},
                 {"queries", status == "completed" ? json::array({message_}) : json::array()},
                 {"results", nullptr}};
    if (status == "completed" && request_.include_results) item["results"] = results_;
    return item;
  }

  json output(const coach::TurnResult& result) {
    json out = json::array();
    if (searches()) out.push_back(search_item("completed"));
    out.push_back({{"id", message_id_},
                   {"type", "message"},
                   {"status", "completed"},
                   {"role", "assistant"},
                   {"content", json::array({{{"type", "output_text"},
                                             {"text", result.reply},
                                             {"annotations", annotations(result)},
                                             {"logprobs", json::array()}}})}});
    return out;
  }

  // The message item and its text part are announced before the first delta.
  std::string open_message() {
    if (message_open_) return {};
    message_open_ = true;
    std::string out = event("response.output_item.added", {{"output_index", message_index()},
                                                           {"item",
                                                            {{"id", message_id_},
                                                             {"type", "message"},
                                                             {"status", "in_progress"},
                                                             {"role", "assistant"},
                                                             {"content", json::array()}}}});
    out += event("response.content_part.added",
                 {{"item_id", message_id_},
                  {"output_index", message_index()},
                  {"content_index", 0},
                  {"part", {{"type", "output_text"}, {"text", ""}, {"annotations", json::array()}}}});
    return out;
  }

 private:
  ResponsesRequest request_;
  std::string message_;  // the turn's message: the file search query
  std::string id_;
  int64_t created_;
  std::string search_id_;
  std::string message_id_;
  json results_ = json::array();
  json response_;
  int64_t sequence_ = 0;
  bool message_open_ = false;
};

}  // namespace

Result<ChatRequest> parse_openai_responses_request(std::string_view body,
                                                   const coach::AssistantRegistry& assistants) {
  const json doc = parse_json(body);
  if (doc.is_discarded()) return Error::invalid("request body is not valid JSON");
  if (!doc.is_object()) return Error::invalid("request body must be a JSON object");
  if (!doc.contains("model") || !doc["model"].is_string())
    return Error::invalid("model is required (a string)", "model");
  if (!doc.contains("input")) return Error::invalid("input is required", "input");
  ChatRequest chat;
  chat.model = doc["model"];
  auto pinned = assistant_for_model(chat.model, assistants);
  if (!pinned) return pinned.error();
  chat.assistant = std::move(pinned).value();
  ResponsesRequest request;
  request.model = chat.model;
  for (const auto& [key, value] : doc.items()) {
    if (auto status = parse_field(key, value, request, chat.message); !status) return status.error();
  }
  if (auto status = coach::validate_message(chat.message); !status) {
    Error error = status.error();
    error.param = "input";
    return error;
  }
  chat.stream = doc.value("stream", json(false)).is_boolean() && doc.value("stream", false);
  chat.format = std::make_shared<ResponsesFormat>(std::move(request), chat.message);
  return chat;
}

Response openai_stored_responses(const Request& request, const std::string& route, const Principal& principal,
                                 const Services& services) {
  const std::string id = path_parameter(route, request.path);
  const auto missing = [&] {
    return error_response(Error::not_found("Response with id '" + id + "' not found.", "response_id"));
  };
  auto user = services.store.find_user(principal.user);
  if (!user) return error_response(user.error());
  if (!*user) return missing();
  if (request.method == "DELETE") {
    if (auto status = services.store.delete_response((*user)->id, id); !status)
      return error_response(status.error());
    return json_response(200, {{"id", id}, {"object", "response"}, {"deleted", true}});
  }
  auto stored = services.store.find_response((*user)->id, id);
  if (!stored) return error_response(stored.error());
  if (!*stored) return missing();
  if (route == "/v1/responses/{id}") {
    return {200, "application/json", (*stored)->output_json + "\n", {}};
  }
  const json saved = parse_json((*stored)->request_json);
  std::vector<json> items;
  if (saved.is_object() && saved.contains("input_items") && saved["input_items"].is_array()) {
    for (const auto& item : saved["input_items"]) items.push_back(item);
  }
  auto page = list_page(items, request.query, 20, 100);
  if (!page) return error_response(page.error());
  return json_response(200, *page);
}

}  // namespace brandcoach::http
