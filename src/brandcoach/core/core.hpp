// brandcoach core: the vocabulary every other module shares.
//
//  - Error / Result<T>: expected failures as values. An ErrorKind maps to exactly one HTTP status and
//    one CLI exit code (http_status(), exit_code()); nothing else in the code base decides those.
//  - Config: the typed, validated configuration, loaded from a TOML file < BRANDCOACH_* environment
//    variables < command-line overrides.
//  - Logging: spdlog set up for a terminal (human lines) or for a collector (JSON lines).
//  - Ids and time helpers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace brandcoach {

// ---------------------------------------------------------------------------------------------
// Errors

/// The kinds of expected failure. Each maps to one HTTP status and one exit code.
enum class ErrorKind {
  invalid_input,       // 400, exit 2: the caller sent something we cannot accept
  invalid_config,      // 400, exit 2: configuration is wrong (unknown key, bad type, out of range)
  unauthenticated,     // 401, exit 1: no credentials, or credentials that prove nothing
  forbidden,           // 403, exit 1: a known caller without the right to this
  not_found,           // 404, exit 1
  method_not_allowed,  // 405, exit 2
  conflict,            // 409, exit 1
  payload_too_large,   // 413, exit 2
  rate_limited,        // 429, exit 1
  unavailable,         // 503, exit 1: a dependency (store, upstream) cannot serve right now
  overloaded,          // 503, exit 1: too many calls already wait for a dependency; retry later
  cancelled,           // 499, exit 1: the caller went away (a client that disconnected)
  internal,            // 500, exit 1: a bug or an unexpected failure of the environment
};

/// An expected failure: what went wrong, in words a user can act on, and which input caused it.
struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::string param;          // the offending field / key / argument, empty when none applies
  int64_t retry_after_s = 0;  // > 0: when a retry may succeed (sent as Retry-After)

  static Error invalid(std::string message, std::string param = {}) {
    return {ErrorKind::invalid_input, std::move(message), std::move(param)};
  }
  static Error config(std::string message, std::string key) {
    return {ErrorKind::invalid_config, std::move(message), std::move(key)};
  }
  static Error not_found(std::string message, std::string param = {}) {
    return {ErrorKind::not_found, std::move(message), std::move(param)};
  }
  static Error unavailable(std::string message) { return {ErrorKind::unavailable, std::move(message), {}}; }
  static Error internal(std::string message) { return {ErrorKind::internal, std::move(message), {}}; }
  static Error overloaded(std::string message, int64_t retry_after_s) {
    return {ErrorKind::overloaded, std::move(message), {}, retry_after_s};
  }
  static Error cancelled(std::string message) { return {ErrorKind::cancelled, std::move(message), {}}; }
};

/// HTTP status for an error kind (the single place this mapping lives).
int http_status(ErrorKind kind);
/// OpenAI-style error "type" string for an error kind, e.g. "invalid_request_error".
std::string_view error_type(ErrorKind kind);
/// Process exit code for an error kind: 2 for usage/config errors, 1 for runtime failures.
int exit_code(ErrorKind kind);

/// A value or an Error. Deliberately small: has_value / value / error / operator bool.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design
  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

/// Result of an operation that yields nothing but can fail.
struct Ok {};
using Status = Result<Ok>;
inline Status ok() {
  return Ok{};
}

// ---------------------------------------------------------------------------------------------
// Configuration

/// The effective configuration. Every field has a default that makes `brandcoach serve` work with
/// no file at all (embedded SQLite in ./var, bundled knowledge base, offline answer engine).
struct Config {
  struct Server {
    std::string host = "127.0.0.1";
    int64_t port = 8080;
    int64_t body_limit_bytes = 1 << 20;
    int64_t upload_limit_bytes = 64 << 20;  // file upload routes
    int64_t request_timeout_ms = 30000;
    int64_t shutdown_grace_ms = 10000;
    int64_t io_threads = 1;
    int64_t workers = 0;        // 0: four per hardware thread (8 to 64)
    std::string cors_origins;   // comma-separated browser origins allowed to call the API; none by default
    std::string web_dir;        // the built web UI; empty: web/dist of the source tree (or ./web/dist)
    std::string tls_cert_file;  // PEM certificate chain: serve HTTPS (TLS 1.2+) instead of HTTP
    std::string tls_key_file;   // PEM private key of that certificate
  } server;
  struct Ui {  // white-label settings of the web UI
    std::string product_name = "Brand Coach";
    std::string logo_file;  // an image file shown as the logo
    std::string primary_color = "#3949ab";
    std::string accent_color = "#00796b";
    std::string welcome_message =
        "Tell me about your business, or ask anything about your brand: I'll bring in the right specialist.";
  } ui;
  struct Auth {
    bool required = false;   // every API call needs a Bearer token (API key or JWT)
    std::string jwt_secret;  // secret: HS256 key, only from BRANDCOACH_AUTH_JWT_SECRET or jwt_secret_file
    std::string jwt_secret_file;      // a file holding the HS256 key (first line)
    std::string jwt_public_key_file;  // PEM public key for RS256/ES256 tokens
    std::string jwt_jwks_file;        // a JWKS document (RSA/EC keys chosen by the token's kid)
    std::string jwt_issuer;           // checked against `iss` when set
    std::string jwt_audience;         // must be in `aud` when set
    int64_t jwt_leeway_s = 30;        // clock skew allowed on exp and nbf
  } auth;
  struct Limits {
    int64_t requests_per_minute_per_user = 600;  // token bucket per authenticated user; 0: unlimited
    int64_t requests_per_minute_per_ip = 1200;   // per client address, checked before authentication
    int64_t burst = 100;                         // capacity of a user's bucket
    int64_t burst_per_ip = 400;                  // capacity of an address's (many users may share one)
  } limits;
  struct Storage {
    std::string data_dir = "./var";
    std::string url;          // empty: SQLite file <data_dir>/brandcoach.sqlite3; or postgresql://…
    int64_t connections = 8;  // PostgreSQL: pooled connections of this process
    // secret: encrypts the SQLite file at rest; only from BRANDCOACH_STORAGE_ENCRYPTION_KEY or the file
    std::string encryption_key;
    std::string encryption_key_file;  // a file holding the key (first line)
  } storage;
  struct Cache {
    std::string redis_url;        // redis://host:port/db: L2 cache, cross-node invalidation and rate limits
    int64_t l1_bytes = 64 << 20;  // in-process LRU budget; 0 turns the L1 cache off
    int64_t ttl_s = 3600;         // lifetime of L2 entries
    bool semantic = true;         // answer cache for questions that used no personal data
    double semantic_threshold = 0.95;  // cosine similarity of the question to a cached one
  } cache;
  struct Knowledge {
    std::string dir;              // empty: the bundled knowledge base
    std::string assistants_file;  // empty: the bundled data/assistants.toml
    int64_t top_k = 5;
    bool sync_on_start = true;
    int64_t chunk_max_tokens = 800;  // `static` chunking, as OpenAI's default
    int64_t chunk_overlap_tokens = 400;
  } knowledge;
  struct Retrieval {
    std::string mode = "hybrid";  // hybrid | lexical | dense
    double lexical_weight = 1.0;  // reciprocal-rank fusion weights
    double dense_weight = 1.0;
  } retrieval;
  struct Embed {
    std::string provider = "hashing";  // hashing | http
    int64_t dimension = 512;
    std::string base_url;  // http: OpenAI-compatible base, e.g. https://api.openai.com/v1
    std::string api_key;   // secret: only from BRANDCOACH_EMBED_API_KEY, OPENAI_API_KEY or api_key_file
    std::string api_key_file;
    std::string model;
    int64_t batch_size = 64;
    int64_t timeout_ms = 30000;
    int64_t max_retries = 4;
    int64_t max_concurrency = 8;
  } embed;
  struct Session {
    int64_t idle_gap_minutes = 30;
    int64_t recent_turns = 10;
    int64_t summary_every = 50;        // refresh the rolling summary every N messages (the seed's rotation)
    int64_t max_prompt_tokens = 4000;  // context budget of one turn (instructions, facts, turns, chunks)
  } session;
  struct Route {
    std::string data_dir;   // empty: the bundled data/routing
    std::string model_dir;  // empty: <storage.data_dir>/models (trained models, cached by content hash)
    double confidence_threshold = 0.4;  // below it the LLM decides (if configured), else core
    double switch_confidence = 0.7;     // a follow-up changes assistant only for a classifier this sure
    int64_t follow_up_max_words = 14;
    bool llm = false;  // ask the LLM at llm.base_url / llm.model about messages below the threshold
  } route;
  struct Memory {
    // Also extract facts with the chat model at llm.base_url / llm.model, after the reply, from a
    // durable queue (the rule extractor always runs inline).
    bool llm_extraction = false;
    int64_t extraction_workers = 1;
    // Also index the coach's replies for message search (`memory search`); recall reads only the
    // user's own words, so they are kept in the thread but left out of the index by default.
    bool index_replies = false;
    // Self-tests: every probe_interval_s, ask the memory about probe_facts stored facts the way a
    // user would (0: never), for the memory analytics and the memory failure alert.
    int64_t probe_interval_s = 300;
    int64_t probe_facts = 25;
  } memory;
  struct Alerts {  // the seed's thresholds, evaluated every interval_s over the last window_s
    int64_t interval_s = 60;
    int64_t window_s = 300;
    double response_time_s = 5.0;
    double error_rate = 0.05;
    double token_spike = 2.0;  // × the average window of the trailing hour
    double memory_failure_rate = 0.1;
    std::string webhook_url;  // POSTed each alert that fires or resolves; empty: none
  } alerts;
  struct Llm {
    std::string provider = "offline";  // offline | openai (Responses API) | chat (Chat Completions)
    std::string base_url;              // openai: https://api.openai.com/v1 when empty
    std::string api_key;       // secret: only from BRANDCOACH_LLM_API_KEY, OPENAI_API_KEY or api_key_file
    std::string api_key_file;  // a file holding the key (first line)
    std::string model;
    int64_t timeout_ms = 60000;  // one whole call, a streamed answer included
    int64_t connect_timeout_ms = 5000;
    int64_t max_retries = 2;      // before the first streamed token only
    int64_t max_concurrency = 8;  // calls in flight to the provider
    int64_t max_queue = 32;       // calls waiting for a slot; more get 503 + Retry-After
    int64_t queue_wait_ms = 10000;
    int64_t breaker_failures = 5;  // consecutive failed calls that open the circuit breaker
    int64_t breaker_cooldown_ms = 30000;
    bool store = false;      // openai: let the provider store responses
    bool chain = false;      // openai: continue each user's thread with previous_response_id (implies store)
    std::string price_file;  // empty: the bundled data/prices.toml
  } llm;
  struct Log {
    std::string level = "info";
    std::string format = "auto";  // auto | human | json
  } log;

  /// The SQLite database file when storage.url is empty or sqlite:PATH.
  std::string database_path() const;
};

/// Where configuration values come from, lowest precedence first.
struct ConfigSources {
  std::optional<std::string> file;         // --config; nullopt: ./brandcoach.toml if present
  std::map<std::string, std::string> env;  // BRANDCOACH_* variables (the process environment)
  std::vector<std::pair<std::string, std::string>> overrides;  // "section.key" -> value, from flags
};

/// Reads BRANDCOACH_* variables of the process environment.
std::map<std::string, std::string> brandcoach_environment();
/// Loads and validates configuration; errors name the offending key (kind invalid_config).
Result<Config> load_config(const ConfigSources& sources);
/// The effective configuration as TOML, secrets masked.
std::string render_config(const Config& config);

// ---------------------------------------------------------------------------------------------
// Logging

/// Sets up the default spdlog logger: human lines on a terminal, JSON lines otherwise
/// (format "auto"), or as forced by `format`. Returns an error for an unknown level or format.
Status setup_logging(const Config::Log& log);

// ---------------------------------------------------------------------------------------------
// Ids and time

/// A random 128-bit id in hex with a prefix, e.g. "req_3f9c…" (request ids, response ids).
std::string random_id(std::string_view prefix);
/// Milliseconds since the Unix epoch.
int64_t unix_millis();
/// An ISO-8601 UTC timestamp with milliseconds for a Unix-millisecond time.
std::string iso_time(int64_t unix_ms);
/// SHA-256 of bytes, lowercase hex.
std::string sha256_hex(std::string_view bytes);

/// Parses JSON text without throwing: anything that is not valid JSON gives a discarded value
/// (is_discarded()). nlohmann's own no-exceptions mode still throws for a number beyond a double's
/// range (1e999), which would otherwise escape the caller.
nlohmann::json parse_json(std::string_view text);
/// The string at object[key]: `fallback` when the key is absent (or `object` is not an object), ""
/// when it holds another type. json::value() throws a type_error there instead, which a caller's
/// body must never be able to cause.
std::string json_string(const nlohmann::json& object, std::string_view key, std::string_view fallback);

}  // namespace brandcoach
