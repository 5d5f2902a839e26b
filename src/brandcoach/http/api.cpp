#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

Response json_response(int status, const nlohmann::json& body) {
  return {status,
          "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
          {}};
}

struct Endpoint {
  std::string_view path;
  std::vector<std::string> methods;
};

const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> table = {
      {"/healthz", {"GET"}},         {"/readyz", {"GET"}},         {"/metrics", {"GET"}},
      {"/api/chat", {"POST"}},       {"/api/me/profile", {"GET"}}, {"/api/me/facts/{id}", {"PATCH"}},
      {"/api/me/history", {"GET"}},  {"/api/me/export", {"GET"}},  {"/api/me", {"DELETE"}},
      {"/api/me/session", {"POST"}},
  };
  return table;
}

// The value of one query parameter (percent-decoded), if present.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find('&', pos);
    if (end == std::string_view::npos) end = query.size();
    const auto pair = query.substr(pos, end - pos);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      std::string value;
      const auto raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '%' && i + 2 < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
          const auto hex = [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
          };
          value += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
          i += 2;
        } else {
          value += raw[i] == '+' ? ' ' : raw[i];
        }
      }
      return value;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

Result<int64_t> integer_param(std::string_view query, std::string_view name, int64_t fallback, int64_t min,
                              int64_t max) {
  const auto raw = query_param(query, name);
  if (!raw || raw->empty()) return fallback;
  int64_t value = 0;
  for (const char c : *raw) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || value > max) {
      return Error::invalid(fmt::format("{} must be an integer from {} to {}", name, min, max),
                            std::string(name));
    }
    value = value * 10 + (c - '0');
  }
  if (value < min || value > max) {
    return Error::invalid(fmt::format("{} must be an integer from {} to {}", name, min, max),
                          std::string(name));
  }
  return value;
}

nlohmann::json message_json(const store::Message& m) {
  return {{"seq", m.seq},
          {"role", m.role},
          {"text", m.text},
          {"assistant", m.assistant},
          {"session", m.session_no},
          {"created_at", iso_time(m.created_at)},
          {"route", nlohmann::json::parse(m.route_json, nullptr, false)},
          {"citations", nlohmann::json::parse(m.citations_json, nullptr, false)}};
}

// The caller's user record; reading routes never create a user.
Result<std::optional<store::User>> caller(const Request& request, const Services& services) {
  auto user = request_user(request);
  if (!user) return user.error();
  return services.store.find_user(*user);
}

Response profile(const Request& request, const Services& services) {
  auto user = caller(request, services);
  if (!user) return error_response(user.error());
  nlohmann::json facts = nlohmann::json::array();
  nlohmann::json by_category = nlohmann::json::object();
  if (*user) {
    auto all = services.store.list_facts((*user)->id, true);
    if (!all) return error_response(all.error());
    facts = memory::current_facts_json(*all);
    for (const auto& entry : facts) by_category[entry["category"].get<std::string>()].push_back(entry);
  }
  const std::string id = *user ? (*user)->external_id : *request_user(request);
  return json_response(200, {{"user", id},
                             {"display_name", *user ? (*user)->display_name : ""},
                             {"facts", std::move(facts)},
                             {"by_category", std::move(by_category)}});
}

Result<nlohmann::json> parse_fact_change(std::string_view body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded()) return Error::invalid("request body is not valid JSON");
  if (!json.is_object()) return Error::invalid("request body must be a JSON object");
  for (const auto& [key, value] : json.items()) {
    if (key != "action" && key != "value") return Error::invalid("unknown field '" + key + "'", key);
    if (!value.is_string()) return Error::invalid(key + " must be a string", key);
  }
  if (!json.contains("action"))
    return Error::invalid("action is required (confirm, reject or correct)", "action");
  return json;
}

Response change_fact(const Request& request, const Services& services) {
  const auto id_text = request.path.substr(std::string_view("/api/me/facts/").size());
  int64_t fact_id = 0;
  for (const char c : id_text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || fact_id > 1'000'000'000'000) {
      return error_response(Error::invalid("fact id must be a positive integer", "id"));
    }
    fact_id = fact_id * 10 + (c - '0');
  }
  if (fact_id <= 0) return error_response(Error::invalid("fact id must be a positive integer", "id"));
  auto change = parse_fact_change(request.body);
  if (!change) return error_response(change.error());
  auto user = caller(request, services);
  if (!user) return error_response(user.error());
  if (!*user) return error_response(Error::not_found(fmt::format("no fact {}", fact_id)));
  auto changed =
      services.coach.memory().change_fact((*user)->id, fact_id, (*change)["action"].get<std::string>(),
                                          change->value("value", std::string()), "user");
  if (!changed) return error_response(changed.error());
  return json_response(200, memory::to_json(*changed));
}

Response history(const Request& request, const Services& services) {
  auto before = integer_param(request.query, "before", INT64_MAX, 1, INT64_MAX);
  if (!before) return error_response(before.error());
  auto limit = integer_param(request.query, "limit", 50, 1, 500);
  if (!limit) return error_response(limit.error());
  auto user = caller(request, services);
  if (!user) return error_response(user.error());
  nlohmann::json messages = nlohmann::json::array();
  int64_t next_before = 0;
  if (*user) {
    // The page just before `before`, oldest first.
    const int64_t upto = *before == INT64_MAX ? INT64_MAX : *before - 1;
    auto count = services.store.message_count((*user)->id);
    if (!count) return error_response(count.error());
    const int64_t last = std::min<int64_t>(upto, *count);
    const int64_t after = std::max<int64_t>(0, last - *limit);
    auto page = services.store.messages_between((*user)->id, after, last, *limit);
    if (!page) return error_response(page.error());
    for (const auto& m : *page) messages.push_back(message_json(m));
    if (after > 0) next_before = after + 1;
  }
  return json_response(
      200, {{"messages", std::move(messages)},
            {"next_before", next_before ? nlohmann::json(next_before) : nlohmann::json(nullptr)}});
}

Response export_user(const Request& request, const Services& services) {
  const auto format = query_param(request.query, "format").value_or("json");
  if (format != "json" && format != "md")
    return error_response(Error::invalid("format must be json or md", "format"));
  auto user = caller(request, services);
  if (!user) return error_response(user.error());
  if (!*user) return error_response(Error::not_found("nothing is kept about this user"));
  auto exported = services.coach.memory().export_json(**user);
  if (!exported) return error_response(exported.error());
  Response response;
  if (format == "md") {
    response = {200, "text/markdown; charset=utf-8", memory::export_markdown(*exported), {}};
  } else {
    response = json_response(200, *exported);
  }
  response.headers.emplace_back("Content-Disposition",
                                fmt::format("attachment; filename=\"brandcoach-export.{}\"", format));
  return response;
}

Response erase_user(const Request& request, const Services& services) {
  auto user = caller(request, services);
  if (!user) return error_response(user.error());
  if (!*user) return json_response(200, {{"erased", false}, {"reason", "nothing was kept about this user"}});
  if (auto status = services.store.erase_user((*user)->id, "user"); !status)
    return error_response(status.error());
  return json_response(200, {{"erased", true}});
}

Response new_session(const Request& request, const Services& services) {
  auto user = request_user(request);
  if (!user) return error_response(user.error());
  if (auto status = services.coach.start_new_session(*user); !status) return error_response(status.error());
  return json_response(200, {{"new_session", true}});
}

Response readiness(const Services& services) {
  if (auto status = services.store.ping(); !status) {
    return error_response(Error::unavailable("store unreachable: " + status.error().message));
  }
  auto counts = services.store.counts();
  if (!counts) return error_response(Error::unavailable("store unreadable: " + counts.error().message));
  if (counts->chunks == 0) return error_response(Error::unavailable("knowledge base is empty"));
  return json_response(200,
                       {{"status", "ready"}, {"knowledge_files", counts->files}, {"chunks", counts->chunks}});
}

Response chat(const Request& request, const Services& services) {
  auto parsed = parse_chat_request(request.body);
  if (!parsed) return error_response(parsed.error());
  auto user = request_user(request);
  if (!user) return error_response(user.error());
  return chat_response(*parsed, *user, services);
}

}  // namespace

Result<ChatRequest> parse_chat_request(std::string_view body) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann reports invalid UTF-8 inside strings as a parse error too; say so plainly.
    const std::string what = e.what();
    if (what.find("UTF-8") != std::string::npos || what.find("utf-8") != std::string::npos) {
      return Error::invalid("request body is not valid UTF-8");
    }
    return Error::invalid(fmt::format("request body is not valid JSON (byte {})", e.byte));
  }
  if (!json.is_object()) return Error::invalid("request body must be a JSON object");
  ChatRequest out;
  bool has_message = false;
  for (const auto& [key, value] : json.items()) {
    if (key == "message") {
      if (!value.is_string()) return Error::invalid("message must be a string", "message");
      out.message = value.get<std::string>();
      has_message = true;
    } else if (key == "stream") {
      if (!value.is_boolean()) return Error::invalid("stream must be true or false", "stream");
      out.stream = value.get<bool>();
    } else {
      return Error::invalid("unknown field '" + key + "'", key);
    }
  }
  if (!has_message) return Error::invalid("message is required", "message");
  if (auto status = coach::validate_message(out.message); !status) return status.error();
  return out;
}

Response chat_response(const ChatRequest& chat, const std::string& user, const Services& services) {
  auto result = services.coach.turn(user, chat.message);
  if (!result) return error_response(result.error());
  services.metrics.observe_turn(turn_sample(*result));
  return json_response(200, coach::to_json(*result));
}

obs::TurnSample turn_sample(const coach::TurnResult& result) {
  return {result.assistant,           result.route.method, result.provider, result.usage.input_tokens,
          result.usage.output_tokens, result.cost_usd,     result.degraded, result.new_session};
}

Response error_response(const Error& error) {
  nlohmann::json body = {
      {"error",
       {{"type", error_type(error.kind)},
        {"message", error.message},
        {"param", error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param)}}}};
  Response response = json_response(http_status(error.kind), body);
  if (error.retry_after_s > 0)
    response.headers.emplace_back("Retry-After", std::to_string(error.retry_after_s));
  return response;
}

Result<std::string> request_user(const Request& request) {
  if (request.user_header.empty()) return std::string("local");
  if (auto status = coach::validate_user_id(request.user_header); !status) {
    Error error = status.error();
    error.param = "X-Brandcoach-User";
    return error;
  }
  return request.user_header;
}

std::string sse_event(std::string_view name, const nlohmann::json& data) {
  return fmt::format("event: {}\ndata: {}\n\n", name,
                     data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

RouteMatch match_route(std::string_view path) {
  for (const auto& endpoint : endpoints()) {
    if (endpoint.path == path) return {std::string(endpoint.path), endpoint.methods};
    // One path parameter at the end: "/api/me/facts/{id}".
    const auto brace = endpoint.path.find('{');
    if (brace != std::string_view::npos && path.size() > brace &&
        path.substr(0, brace) == endpoint.path.substr(0, brace) &&
        path.find('/', brace) == std::string_view::npos) {
      return {std::string(endpoint.path), endpoint.methods};
    }
  }
  return {"unmatched", {}};
}

Response handle(const Request& request, const Services& services) {
  const auto match = match_route(request.path);
  if (match.methods.empty()) return error_response(Error::not_found("no route for " + request.path));
  if (std::find(match.methods.begin(), match.methods.end(), request.method) == match.methods.end()) {
    Response response = error_response({ErrorKind::method_not_allowed,
                                        fmt::format("{} does not allow {}", request.path, request.method),
                                        {}});
    response.headers.emplace_back("Allow", fmt::format("{}", fmt::join(match.methods, ", ")));
    return response;
  }
  if (match.route == "/healthz") return json_response(200, {{"status", "ok"}});
  if (match.route == "/readyz") return readiness(services);
  if (match.route == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8", services.metrics.render(), {}};
  }
  if (match.route == "/api/me/profile") return profile(request, services);
  if (match.route == "/api/me/facts/{id}") return change_fact(request, services);
  if (match.route == "/api/me/history") return history(request, services);
  if (match.route == "/api/me/export") return export_user(request, services);
  if (match.route == "/api/me") return erase_user(request, services);
  if (match.route == "/api/me/session") return new_session(request, services);
  return chat(request, services);
}

}  // namespace brandcoach::http
