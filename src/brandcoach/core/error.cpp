#include "brandcoach/core/core.hpp"

namespace brandcoach {

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
    case ErrorKind::invalid_config:
      return 400;
    case ErrorKind::unauthenticated:
      return 401;
    case ErrorKind::forbidden:
      return 403;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::method_not_allowed:
      return 405;
    case ErrorKind::conflict:
      return 409;
    case ErrorKind::payload_too_large:
      return 413;
    case ErrorKind::rate_limited:
      return 429;
    case ErrorKind::unavailable:
    case ErrorKind::overloaded:
      return 503;
    case ErrorKind::cancelled:
      return 499;  // nginx's "client closed request": nobody is left to read it
    case ErrorKind::internal:
      return 500;
  }
  return 500;
}

std::string_view error_type(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
    case ErrorKind::invalid_config:
    case ErrorKind::method_not_allowed:
    case ErrorKind::payload_too_large:
      return "invalid_request_error";
    case ErrorKind::unauthenticated:
      return "authentication_error";
    case ErrorKind::forbidden:
      return "permission_error";
    case ErrorKind::not_found:
      return "not_found_error";
    case ErrorKind::conflict:
      return "conflict_error";
    case ErrorKind::rate_limited:
      return "rate_limit_error";
    case ErrorKind::unavailable:
    case ErrorKind::overloaded:
      return "service_unavailable_error";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::internal:
      return "server_error";
  }
  return "server_error";
}

int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
    case ErrorKind::invalid_config:
    case ErrorKind::method_not_allowed:
    case ErrorKind::payload_too_large:
      return 2;
    default:
      return 1;
  }
}

nlohmann::json parse_json(std::string_view text) {
  try {
    return nlohmann::json::parse(text, nullptr, false);
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
}

std::string json_string(const nlohmann::json& object, std::string_view key, std::string_view fallback) {
  if (!object.is_object()) return std::string(fallback);
  const auto it = object.find(key);
  if (it == object.end()) return std::string(fallback);
  return it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace brandcoach
