#include <algorithm>

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
      {"/healthz", {"GET"}},
      {"/readyz", {"GET"}},
      {"/metrics", {"GET"}},
      {"/api/chat", {"POST"}},
  };
  return table;
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
  services.metrics.count_turn(result->assistant, result->route.method);
  return json_response(200, coach::to_json(*result));
}

Response error_response(const Error& error) {
  nlohmann::json body = {
      {"error",
       {{"type", error_type(error.kind)},
        {"message", error.message},
        {"param", error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param)}}}};
  return json_response(http_status(error.kind), body);
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
  return chat(request, services);
}

}  // namespace brandcoach::http
