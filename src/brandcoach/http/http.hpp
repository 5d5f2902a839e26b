// brandcoach http: the server and the native JSON API over the coach.
//
// The I/O threads only parse, validate and write; turns and store calls run on a worker pool.
// Every error leaves as {"error":{"type","message","param"}} with the status of its ErrorKind.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/cache/cache.hpp"
#include "brandcoach/coach/coach.hpp"
#include "brandcoach/core/core.hpp"
#include "brandcoach/obs/obs.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  size_t body_limit_bytes = 1 << 20;
  size_t upload_limit_bytes = 64u << 20;  // file upload routes
  int64_t request_timeout_ms = 30000;
  int64_t shutdown_grace_ms = 10000;
  int io_threads = 1;
  int workers = 0;                        // 0: one per hardware thread
  std::vector<std::string> cors_origins;  // browser origins allowed to call the API; none by default
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file the server speaks HTTPS only
  std::string tls_key_file;   // PEM private key of that certificate
};

/// In local mode (no authentication configured) the server trusts X-Brandcoach-User, so it may only
/// listen on loopback; with authentication it may listen anywhere.
Status check_bind_address(std::string_view host, bool authenticated = false);

// ---- authentication, access and rate limits ----

struct AuthOptions {
  bool required = false;                    // every API call needs a Bearer token (implied by a JWT key)
  std::string jwt_secret;                   // HS256/384/512
  std::string jwt_public_key_pem;           // RS*/ES* (the contents of auth.jwt_public_key_file)
  std::map<std::string, std::string> jwks;  // kid -> PEM, from auth.jwt_jwks_file
  std::string issuer;                       // checked when set
  std::string audience;                     // checked when set
  int64_t leeway_s = 30;                    // clock skew allowed on exp and nbf
};
Status validate(const AuthOptions& options);

/// Who a request acts for.
struct Principal {
  std::string user;    // external user id
  std::string role;    // user | admin
  std::string method;  // jwt | api_key | local
};

/// Checks Bearer tokens: JWTs (signature by the algorithm's own key, exp, nbf, iss, aud; sub is the
/// user, a role claim of "admin" the admin role) and API keys (by hash; revoked keys fail). Without
/// a token, local mode trusts X-Brandcoach-User; otherwise it is 401. Thread-safe.
class Authenticator {
 public:
  Authenticator(AuthOptions options, store::Store& store);
  bool local_mode() const;
  Result<Principal> authenticate(std::string_view authorization, std::string_view user_header,
                                 int64_t now_s) const;

 private:
  Result<Principal> api_key(std::string_view token) const;
  Result<Principal> jwt(std::string_view token, int64_t now_s) const;
  AuthOptions options_;
  store::Store& store_;
};

/// A new API key: "bck_" and 256 random bits, base64url.
std::string new_api_key();
/// What the store keeps of a key.
std::string api_key_hash(std::string_view key);
/// The signing keys of a JWKS file (RSA and EC JWKs) as PEM, by kid.
Result<std::map<std::string, std::string>> read_jwks_file(const std::string& path);
/// A PEM public key file's contents; the error names `key`.
Result<std::string> read_key_file(const std::string& path, std::string_view key);

/// Token buckets by key (a user, an IP): `per_minute` refill, `burst` capacity. Thread-safe.
/// With `shared` (Redis) the buckets live there, one per key for every node; when Redis cannot be
/// reached the local buckets take over, so an outage loosens limits to per-node, never blocks.
class RateLimiter {
 public:
  RateLimiter(double per_minute, double burst, cache::Redis* shared = nullptr);
  /// Takes one token: 0 when allowed, else the seconds until one is available (Retry-After).
  int64_t take(const std::string& key, double now_s);

 private:
  struct Bucket {
    double tokens;
    double at;
  };
  static constexpr size_t kMaxBuckets = 100000;
  int64_t take_local(const std::string& key, double now_s);
  double per_second_;
  double burst_;
  cache::Redis* shared_;
  std::atomic<int64_t> last_shared_warning_ms_{0};
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mutex_
};

/// The web UI: where its built pages are and how it is branded (white-label).
struct UiOptions {
  std::filesystem::path web_dir;  // index.html, admin.html, assets/ (with .gz copies); empty: not built
  std::string product_name = "Brand Coach";
  std::string logo_file;  // an image served at /api/ui/logo; empty: a text mark
  std::string primary_color = "#3949ab";
  std::string accent_color = "#00796b";
  std::string welcome_message;
};

/// What the handlers work with; owned by the caller and outliving the server.
struct Services {
  coach::Coach& coach;
  store::Store& store;
  index::KnowledgeIndexes& indexes;
  obs::Metrics& metrics;
  const Authenticator& auth;
  RateLimiter& user_limits;
  RateLimiter& ip_limits;
  UiOptions ui = {};
  const cache::Cache* cache = nullptr;            // for /metrics: hits and misses per layer
  const cache::SemanticCache* answers = nullptr;  // for /metrics
  obs::MemoryProber* prober = nullptr;            // the memory self-tests (analytics/memory)
  obs::Alerter* alerter = nullptr;                // /api/admin/alerts
};

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
  std::string user_header;      // X-Brandcoach-User, empty when absent (trusted only in local mode)
  std::string authorization;    // the Authorization header, empty when absent
  std::string content_type;     // the Content-Type header
  std::string accept_encoding;  // the Accept-Encoding header
  std::string peer;             // the client's IP address
  std::string request_id;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// What one chat API makes of a turn: brandcoach's own /api/chat, OpenAI's Chat Completions or
/// OpenAI's Responses. It frames the streamed turn as server-sent events and the finished turn as a
/// JSON answer, and may resolve and keep request state (one object per request).
struct StreamFormat {
  virtual ~StreamFormat() = default;
  /// Runs on a worker before anything is sent: checks what the request names (earlier responses,
  /// vector stores) for `user`. An error here is the request's whole answer, with its own status.
  virtual Status prepare(const Services&, const std::string& /*user*/) { return ok(); }
  /// Adds what the request asked of the turn; `emit` sends frames when streaming (empty otherwise).
  virtual void configure(coach::TurnEvents&, const std::function<void(std::string)>& /*emit*/) {}
  /// Frames sent before the turn starts.
  virtual std::string start() { return {}; }
  virtual std::string route(const route::Decision& decision) = 0;
  virtual std::string delta(std::string_view text) = 0;
  /// After the turn and before `done` or `complete`: keeps what the API keeps (a stored response).
  virtual Status finish(const Services&, const std::string& /*user*/, const coach::TurnResult&) {
    return ok();
  }
  virtual std::string done(const coach::TurnResult& result) = 0;
  virtual std::string error(const Error& error) = 0;
  /// The finished turn as a plain (not streamed) answer.
  virtual Response complete(const coach::TurnResult& result) = 0;
};
/// event: route | delta | citation… | done | error
std::shared_ptr<StreamFormat> native_stream_format();

/// One chat turn as a caller asked for it (POST /api/chat, /v1/chat/completions or /v1/responses).
struct ChatRequest {
  std::string message;
  bool stream = false;
  std::string assistant;                 // pinned by the model name; empty: routed
  std::string model;                     // as the caller named it (OpenAI surface)
  bool include_usage = false;            // OpenAI stream_options.include_usage
  std::shared_ptr<StreamFormat> format;  // the API's framing and state; never null once parsed
};

/// Parses and validates a /api/chat body: a JSON object with "message" (string) and optional
/// "stream" (boolean); anything else is a 400 naming the field.
Result<ChatRequest> parse_chat_request(std::string_view body);

/// Parses a /v1/chat/completions body as OpenAI documents it. The turn's message is the last user
/// message; the coach keeps the user's thread itself, so earlier messages are accepted and not re-sent.
/// model "brandcoach" routes, "brandcoach-<assistant>" pins one; any other model is 404.
Result<ChatRequest> parse_openai_chat_request(std::string_view body,
                                              const coach::AssistantRegistry& assistants);
/// The assistant an OpenAI model name pins: "" for "brandcoach" (routed), "<id>" for
/// "brandcoach-<id>"; any other name is a 404 naming the model.
Result<std::string> assistant_for_model(std::string_view model, const coach::AssistantRegistry& assistants);
/// Parses a /v1/responses body as OpenAI documents it (the fields each are supported, accepted and
/// ignored, or refused are listed in openai_responses.cpp).
Result<ChatRequest> parse_openai_responses_request(std::string_view body,
                                                   const coach::AssistantRegistry& assistants);
/// GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items.
Response openai_stored_responses(const Request& request, const std::string& route, const Principal& principal,
                                 const Services& services);
/// /v1/files and everything under it.
Response openai_files(const Request& request, const std::string& route, const Principal& principal,
                      const Services& services);
/// /v1/vector_stores and everything under it.
Response openai_vector_stores(const Request& request, const std::string& route, const Principal& principal,
                              const Services& services);
/// The model list object: brandcoach and one brandcoach-<assistant> per assistant.
nlohmann::json openai_model_list(const coach::AssistantRegistry& assistants);
/// The web UI's pages ("/", "/admin") and assets ("/assets/{file}").
Response web_page(const Request& request, const std::string& route, const Services& services);
/// GET /api/ui/config: the white-label settings, whether the server is in local mode, the assistants.
Response ui_config(const Services& services);
/// GET /api/ui/logo.
Response ui_logo(const Request& request, const Services& services);
/// GET /api/passages/{id}: a cited chunk in its document, if the caller may read its store.
Response passage(const Request& request, const std::string& route, const Principal& principal,
                 const Services& services);
/// GET /api/admin/analytics?days=N: the dashboard's overview, daily series, errors and alerts.
Response admin_analytics(const Request& request, const Services& services);
/// GET /api/admin/analytics/journey/{user}: one user's sessions, preferences, topics, engagement.
Response analytics_journey(const Request& request, const std::string& route, const Services& services);
/// GET /api/admin/analytics/memory (and POST …/memory/probe: run a probe pass first).
Response analytics_memory(const Services& services, bool probe_now);
/// GET /api/admin/analytics/costs?days=N.
Response analytics_costs(const Request& request, const Services& services);
/// GET /api/admin/analytics/routing?days=N.
Response analytics_routing(const Request& request, const Services& services);
/// GET /api/admin/analytics/latency.
Response analytics_latency(const Services& services);
/// GET /api/admin/alerts (and POST …/alerts/evaluate: evaluate now first).
Response admin_alerts(const Services& services, bool evaluate_now);
/// POST /api/admin/stores/{id}/search.
Response admin_store_search(const Request& request, const store::KnowledgeStore& target,
                            const Services& services);
/// POST /api/admin/stores/{id}/reindex.
Response admin_store_reindex(const store::KnowledgeStore& target, const Services& services);
/// GET /v1/models.
Response openai_models(const Services& services);

/// Runs one non-streaming chat turn for `user` (prepare, turn, finish) and serialises it (or its error)
/// as the request's API answers.
Response chat_response(const ChatRequest& chat, const std::string& user, const Services& services);
/// The turn of an already prepared chat request: the format's options and callbacks, the turn, the
/// metrics, and the format's finish.
Result<coach::TurnResult> run_chat_turn(const ChatRequest& chat, const std::string& user,
                                        const Services& services, coach::TurnEvents events,
                                        const std::function<void(std::string)>& emit);

/// run_chat_turn without holding a thread while the model answers (Coach::turn_async): the turn's
/// steps after the answer, and `done`, run in a task given to `schedule`. `services` must outlive it.
void start_chat_turn(const ChatRequest& chat, const std::string& user, const Services& services,
                     coach::TurnEvents events, const std::function<void(std::string)>& emit,
                     coach::Scheduler schedule, std::function<void(Result<coach::TurnResult>)> done);

/// What a finished turn reports to the metrics.
obs::TurnSample turn_sample(const coach::TurnResult& result);

/// The JSON error body for an error, with the status from http_status(kind).
Response error_response(const Error& error);
/// A JSON answer.
Response json_response(int status, const nlohmann::json& body);
/// The value of one query parameter (percent-decoded), if present.
std::optional<std::string> query_param(std::string_view query, std::string_view name);
/// An integer query parameter in [min, max], `fallback` when absent; a 400 naming it otherwise.
Result<int64_t> integer_param(std::string_view query, std::string_view name, int64_t fallback, int64_t min,
                              int64_t max);
/// The path segment at the position of the pattern's n-th "{...}" (0-based).
std::string path_parameter(std::string_view pattern, std::string_view path, size_t n = 0);
/// One page of an OpenAI list ({"object":"list","data","first_id","last_id","has_more"}) over
/// `items` (objects with an "id", oldest first), as the query's limit, order (asc|desc, default
/// desc), after and before ask.
Result<nlohmann::json> list_page(const std::vector<nlohmann::json>& items, std::string_view query,
                                 int64_t default_limit, int64_t max_limit);

/// The one authorisation check every request passes: open routes need nothing (nullopt); any
/// other route is rate-limited per address, authenticated, checked against the route's access and
/// rate-limited per user. Errors: 401, 403, 429 (with Retry-After).
Result<std::optional<Principal>> admit(const Request& request, const Services& services, double now_s);

/// One server-sent event: "event: NAME\ndata: JSON\n\n".
std::string sse_event(std::string_view name, const nlohmann::json& data);

/// The route pattern a path matches ("unmatched" when none) and the methods it allows.
enum class Access { open, user, admin };
struct RouteMatch {
  std::string route;
  std::vector<std::string> methods;
  Access access = Access::open;
};
RouteMatch match_route(std::string_view path);
/// Routes whose bodies are file uploads (upload_limit_bytes instead of body_limit_bytes).
bool is_upload_route(std::string_view route);
/// Every route the API serves, with its methods and access (for the OpenAPI check).
std::vector<RouteMatch> routes();

/// The OpenAPI 3.1 description of the native API, served at /api/openapi.json.
nlohmann::json openapi_document();

/// One part of a multipart/form-data body.
struct FormPart {
  std::string name;
  std::string filename;  // empty for a plain field
  std::string content_type;
  std::string data;
};
/// Splits a multipart/form-data body (RFC 7578); errors are 400s saying what is malformed.
Result<std::vector<FormPart>> parse_multipart(std::string_view content_type, std::string_view body);

/// Handles every request except a streaming chat (which the server streams itself), for the
/// principal `admit` let through (empty for open routes).
Response handle(const Request& request, const Principal& principal, const Services& services);

}  // namespace brandcoach::http
