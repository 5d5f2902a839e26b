// brandcoach http: the server and the native JSON API over the coach.
//
// The I/O threads only parse, validate and write; turns and store calls run on a worker pool.
// Every error leaves as {"error":{"type","message","param"}} with the status of its ErrorKind.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/core/core.hpp"
#include "brandcoach/obs/obs.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  size_t body_limit_bytes = 1 << 20;
  int64_t request_timeout_ms = 30000;
  int64_t shutdown_grace_ms = 10000;
  int io_threads = 1;
  int workers = 0;  // 0: one per hardware thread
};

/// What the handlers work with; owned by the caller and outliving the server.
struct Services {
  coach::Coach& coach;
  store::Store& store;
  obs::Metrics& metrics;
};

/// Until authentication exists the server trusts X-Brandcoach-User, so it may only listen on loopback.
Status check_bind_address(std::string_view host);

class Server {
 public:
  Server(ServerOptions options, Services services);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and listens; returns the bound port (useful with port 0).
  Result<uint16_t> listen();
  /// Serves until SIGINT/SIGTERM or stop(), then drains: stops accepting, finishes in-flight
  /// requests (up to shutdown_grace_ms), closes idle connections and returns.
  void run();
  /// Asks a running server to shut down gracefully; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- the API layer, independent of the network code (tested on its own) ----

/// A parsed request as the API layer sees it.
struct Request {
  std::string method;
  std::string path;   // without query string
  std::string query;  // after '?', still percent-encoded
  std::string body;
  std::string user_header;  // X-Brandcoach-User, empty when absent
  std::string request_id;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// The body of POST /api/chat.
struct ChatRequest {
  std::string message;
  bool stream = false;
};

/// Parses and validates a /api/chat body: a JSON object with "message" (string) and optional
/// "stream" (boolean); anything else is a 400 naming the field.
Result<ChatRequest> parse_chat_request(std::string_view body);

/// Runs one non-streaming chat turn for `user` and serialises it (or its error).
Response chat_response(const ChatRequest& chat, const std::string& user, const Services& services);

/// What a finished turn reports to the metrics.
obs::TurnSample turn_sample(const coach::TurnResult& result);

/// The JSON error body for an error, with the status from http_status(kind).
Response error_response(const Error& error);

/// The user a request acts for: X-Brandcoach-User, or "local" when absent.
Result<std::string> request_user(const Request& request);

/// One server-sent event: "event: NAME\ndata: JSON\n\n".
std::string sse_event(std::string_view name, const nlohmann::json& data);

/// The route pattern a path matches ("unmatched" when none) and the methods it allows.
struct RouteMatch {
  std::string route;
  std::vector<std::string> methods;
};
RouteMatch match_route(std::string_view path);

/// Handles every request except a streaming chat (which the server streams itself).
Response handle(const Request& request, const Services& services);

}  // namespace brandcoach::http
