#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "brandcoach/core/core.hpp"

extern char** environ;

namespace brandcoach {

namespace {

using Value = std::variant<std::string, int64_t, double, bool>;

// One configuration key: where it lives, its type, its bounds, and how to reach it in Config.
// The table below is the single description of the configuration; file, environment, flags and
// `config show` all go through it.
struct Field {
  std::string section;
  std::string key;
  bool secret = false;
  std::function<Status(Config&, const Value&)> set;
  std::function<Value(const Config&)> get;
  std::string type_name;

  std::string name() const { return section + "." + key; }
  std::string env_name() const {
    std::string out = "BRANDCOACH_" + section + "_" + key;
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
    return out;
  }
};

template <class T>
constexpr std::string_view type_name_of() {
  if constexpr (std::is_same_v<T, std::string>) return "string";
  if constexpr (std::is_same_v<T, int64_t>) return "integer";
  if constexpr (std::is_same_v<T, double>) return "number";
  if constexpr (std::is_same_v<T, bool>) return "boolean";
}

template <class T>
using Check = std::function<std::optional<std::string>(const T&)>;

template <class T>
Field make_field(std::string section, std::string key, T& (*access)(Config&), Check<T> check = {},
                 bool secret = false) {
  Field field;
  field.section = std::move(section);
  field.key = std::move(key);
  field.secret = secret;
  field.type_name = std::string(type_name_of<T>());
  const std::string name = field.name();
  field.set = [access, check, name](Config& config, const Value& value) -> Status {
    const T* typed = std::get_if<T>(&value);
    if (!typed) return Error::config(fmt::format("{} must be a {}", name, type_name_of<T>()), name);
    if (check) {
      if (auto problem = check(*typed)) return Error::config(name + " " + *problem, name);
    }
    access(config) = *typed;
    return ok();
  };
  field.get = [access](const Config& config) -> Value { return access(const_cast<Config&>(config)); };
  return field;
}

Check<int64_t> in_range(int64_t low, int64_t high) {
  return [low, high](const int64_t& v) -> std::optional<std::string> {
    if (v < low || v > high) return fmt::format("must be between {} and {} (got {})", low, high, v);
    return std::nullopt;
  };
}

Check<double> in_range_d(double low, double high) {
  return [low, high](const double& v) -> std::optional<std::string> {
    if (v < low || v > high) return fmt::format("must be between {} and {} (got {})", low, high, v);
    return std::nullopt;
  };
}

Check<std::string> http_url() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty() || v.starts_with("http://") || v.starts_with("https://")) return std::nullopt;
    return "must start with http:// or https://";
  };
}

Check<std::string> one_of(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) -> std::optional<std::string> {
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return std::nullopt;
    return fmt::format("must be one of {} (got '{}')", fmt::join(allowed, ", "), v);
  };
}

// A CSS colour as #rrggbb: the UI puts it into a style, so nothing else may pass.
Check<std::string> hex_color() {
  return [](const std::string& v) -> std::optional<std::string> {
    const bool valid = v.size() == 7 && v[0] == '#' && std::all_of(v.begin() + 1, v.end(), [](char c) {
                         return std::isxdigit(static_cast<unsigned char>(c));
                       });
    if (!valid) return fmt::format("must be a colour as #rrggbb (got '{}')", v);
    return std::nullopt;
  };
}

Check<std::string> non_empty() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) return "must not be empty";
    return std::nullopt;
  };
}

const std::vector<Field>& fields() {
  static const std::vector<Field> table = {
      make_field<std::string>(
          "server", "host", [](Config & c) -> auto& { return c.server.host; }, non_empty()),
      make_field<int64_t>(
          "server", "port", [](Config & c) -> auto& { return c.server.port; }, in_range(0, 65535)),
      make_field<int64_t>(
          "server", "body_limit_bytes", [](Config & c) -> auto& { return c.server.body_limit_bytes; },
          in_range(1024, int64_t{1} << 32)),
      make_field<int64_t>(
          "server", "request_timeout_ms", [](Config & c) -> auto& { return c.server.request_timeout_ms; },
          in_range(100, 3600000)),
      make_field<int64_t>(
          "server", "shutdown_grace_ms", [](Config & c) -> auto& { return c.server.shutdown_grace_ms; },
          in_range(0, 600000)),
      make_field<int64_t>(
          "server", "io_threads", [](Config & c) -> auto& { return c.server.io_threads; }, in_range(1, 256)),
      make_field<int64_t>(
          "server", "workers", [](Config & c) -> auto& { return c.server.workers; }, in_range(0, 1024)),
      make_field<int64_t>(
          "server", "upload_limit_bytes", [](Config & c) -> auto& { return c.server.upload_limit_bytes; },
          in_range(1024, int64_t{1} << 32)),
      make_field<std::string>(
          "server", "cors_origins", [](Config & c) -> auto& { return c.server.cors_origins; }),
      make_field<std::string>(
          "server", "web_dir", [](Config & c) -> auto& { return c.server.web_dir; }),
      make_field<std::string>(
          "server", "tls_cert_file", [](Config & c) -> auto& { return c.server.tls_cert_file; }),
      make_field<std::string>(
          "server", "tls_key_file", [](Config & c) -> auto& { return c.server.tls_key_file; }),
      make_field<std::string>(
          "ui", "product_name", [](Config & c) -> auto& { return c.ui.product_name; }, non_empty()),
      make_field<std::string>(
          "ui", "logo_file", [](Config & c) -> auto& { return c.ui.logo_file; }),
      make_field<std::string>(
          "ui", "primary_color", [](Config & c) -> auto& { return c.ui.primary_color; }, hex_color()),
      make_field<std::string>(
          "ui", "accent_color", [](Config & c) -> auto& { return c.ui.accent_color; }, hex_color()),
      make_field<std::string>(
          "ui", "welcome_message", [](Config & c) -> auto& { return c.ui.welcome_message; }),
      make_field<bool>(
          "auth", "required", [](Config & c) -> auto& { return c.auth.required; }),
      make_field<std::string>(
          "auth", "jwt_secret", [](Config & c) -> auto& { return c.auth.jwt_secret; }, {}, true),
      make_field<std::string>(
          "auth", "jwt_secret_file", [](Config & c) -> auto& { return c.auth.jwt_secret_file; }),
      make_field<std::string>(
          "auth", "jwt_public_key_file", [](Config & c) -> auto& { return c.auth.jwt_public_key_file; }),
      make_field<std::string>(
          "auth", "jwt_jwks_file", [](Config & c) -> auto& { return c.auth.jwt_jwks_file; }),
      make_field<std::string>(
          "auth", "jwt_issuer", [](Config & c) -> auto& { return c.auth.jwt_issuer; }),
      make_field<std::string>(
          "auth", "jwt_audience", [](Config & c) -> auto& { return c.auth.jwt_audience; }),
      make_field<int64_t>(
          "auth", "jwt_leeway_s", [](Config & c) -> auto& { return c.auth.jwt_leeway_s; }, in_range(0, 3600)),
      make_field<int64_t>(
          "limits", "requests_per_minute_per_user",
          [](Config & c) -> auto& { return c.limits.requests_per_minute_per_user; }, in_range(0, 10000000)),
      make_field<int64_t>(
          "limits", "requests_per_minute_per_ip",
          [](Config & c) -> auto& { return c.limits.requests_per_minute_per_ip; }, in_range(0, 10000000)),
      make_field<int64_t>(
          "limits", "burst", [](Config & c) -> auto& { return c.limits.burst; }, in_range(1, 1000000)),
      make_field<int64_t>(
          "limits", "burst_per_ip", [](Config & c) -> auto& { return c.limits.burst_per_ip; },
          in_range(1, 1000000)),
      make_field<std::string>(
          "storage", "data_dir", [](Config & c) -> auto& { return c.storage.data_dir; }, non_empty()),
      make_field<std::string>(
          "storage", "url", [](Config & c) -> auto& { return c.storage.url; },
          [](const std::string& v) -> std::optional<std::string> {
            if (v.empty() || v.starts_with("sqlite:") || v.starts_with("postgresql://") ||
                v.starts_with("postgres://"))
              return std::nullopt;
            return "must be empty, sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE";
          }),
      make_field<int64_t>(
          "storage", "connections", [](Config & c) -> auto& { return c.storage.connections; },
          in_range(1, 1000)),
      make_field<std::string>(
          "storage", "encryption_key", [](Config & c) -> auto& { return c.storage.encryption_key; }, {},
          true),
      make_field<std::string>(
          "storage", "encryption_key_file",
          [](Config & c) -> auto& { return c.storage.encryption_key_file; }),
      make_field<std::string>(
          "cache", "redis_url", [](Config & c) -> auto& { return c.cache.redis_url; },
          [](const std::string& v) -> std::optional<std::string> {
            if (v.empty() || v.starts_with("redis://")) return std::nullopt;
            return "must be empty or redis://HOST:PORT[/DB]";
          }),
      make_field<int64_t>(
          "cache", "l1_bytes", [](Config & c) -> auto& { return c.cache.l1_bytes; },
          in_range(0, int64_t{1} << 40)),
      make_field<int64_t>(
          "cache", "ttl_s", [](Config & c) -> auto& { return c.cache.ttl_s; }, in_range(1, 30 * 24 * 3600)),
      make_field<bool>(
          "cache", "semantic", [](Config & c) -> auto& { return c.cache.semantic; }),
      make_field<double>(
          "cache", "semantic_threshold", [](Config & c) -> auto& { return c.cache.semantic_threshold; },
          in_range_d(0.5, 1.0)),
      make_field<std::string>(
          "knowledge", "dir", [](Config & c) -> auto& { return c.knowledge.dir; }),
      make_field<std::string>(
          "knowledge", "assistants_file", [](Config & c) -> auto& { return c.knowledge.assistants_file; }),
      make_field<int64_t>(
          "knowledge", "top_k", [](Config & c) -> auto& { return c.knowledge.top_k; }, in_range(1, 50)),
      make_field<bool>(
          "knowledge", "sync_on_start", [](Config & c) -> auto& { return c.knowledge.sync_on_start; }),
      make_field<int64_t>(
          "knowledge", "chunk_max_tokens", [](Config & c) -> auto& { return c.knowledge.chunk_max_tokens; },
          in_range(100, 4096)),
      make_field<int64_t>(
          "knowledge", "chunk_overlap_tokens",
          [](Config & c) -> auto& { return c.knowledge.chunk_overlap_tokens; }, in_range(0, 2048)),
      make_field<std::string>(
          "retrieval", "mode", [](Config & c) -> auto& { return c.retrieval.mode; },
          one_of({"hybrid", "lexical", "dense"})),
      make_field<double>(
          "retrieval", "lexical_weight", [](Config & c) -> auto& { return c.retrieval.lexical_weight; },
          in_range_d(0, 100)),
      make_field<double>(
          "retrieval", "dense_weight", [](Config & c) -> auto& { return c.retrieval.dense_weight; },
          in_range_d(0, 100)),
      make_field<std::string>(
          "embed", "provider", [](Config & c) -> auto& { return c.embed.provider; },
          one_of({"hashing", "http"})),
      make_field<int64_t>(
          "embed", "dimension", [](Config & c) -> auto& { return c.embed.dimension; }, in_range(64, 8192)),
      make_field<std::string>(
          "embed", "base_url", [](Config & c) -> auto& { return c.embed.base_url; }, http_url()),
      make_field<std::string>(
          "embed", "api_key", [](Config & c) -> auto& { return c.embed.api_key; }, {}, true),
      make_field<std::string>(
          "embed", "api_key_file", [](Config & c) -> auto& { return c.embed.api_key_file; }),
      make_field<std::string>(
          "embed", "model", [](Config & c) -> auto& { return c.embed.model; }),
      make_field<int64_t>(
          "embed", "timeout_ms", [](Config & c) -> auto& { return c.embed.timeout_ms; },
          in_range(100, 600000)),
      make_field<int64_t>(
          "embed", "max_retries", [](Config & c) -> auto& { return c.embed.max_retries; }, in_range(0, 10)),
      make_field<int64_t>(
          "embed", "max_concurrency", [](Config & c) -> auto& { return c.embed.max_concurrency; },
          in_range(1, 10000)),
      make_field<int64_t>(
          "embed", "batch_size", [](Config & c) -> auto& { return c.embed.batch_size; }, in_range(1, 2048)),
      make_field<int64_t>(
          "session", "idle_gap_minutes", [](Config & c) -> auto& { return c.session.idle_gap_minutes; },
          in_range(1, 60 * 24 * 365)),
      make_field<int64_t>(
          "session", "recent_turns", [](Config & c) -> auto& { return c.session.recent_turns; },
          in_range(0, 1000)),
      make_field<int64_t>(
          "session", "summary_every", [](Config & c) -> auto& { return c.session.summary_every; },
          in_range(2, 100000)),
      make_field<int64_t>(
          "session", "max_prompt_tokens", [](Config & c) -> auto& { return c.session.max_prompt_tokens; },
          in_range(200, 2000000)),
      make_field<std::string>(
          "route", "data_dir", [](Config & c) -> auto& { return c.route.data_dir; }),
      make_field<std::string>(
          "route", "model_dir", [](Config & c) -> auto& { return c.route.model_dir; }),
      make_field<double>(
          "route", "confidence_threshold", [](Config & c) -> auto& { return c.route.confidence_threshold; },
          in_range_d(0, 1)),
      make_field<double>(
          "route", "switch_confidence", [](Config & c) -> auto& { return c.route.switch_confidence; },
          in_range_d(0, 1)),
      make_field<int64_t>(
          "route", "follow_up_max_words", [](Config & c) -> auto& { return c.route.follow_up_max_words; },
          in_range(0, 100)),
      make_field<bool>(
          "route", "llm", [](Config & c) -> auto& { return c.route.llm; }),
      make_field<std::string>(
          "llm", "provider", [](Config & c) -> auto& { return c.llm.provider; },
          one_of({"offline", "openai", "chat"})),
      make_field<std::string>(
          "llm", "base_url", [](Config & c) -> auto& { return c.llm.base_url; }, http_url()),
      make_field<std::string>(
          "llm", "api_key", [](Config & c) -> auto& { return c.llm.api_key; }, {}, true),
      make_field<std::string>(
          "llm", "api_key_file", [](Config & c) -> auto& { return c.llm.api_key_file; }),
      make_field<std::string>(
          "llm", "model", [](Config & c) -> auto& { return c.llm.model; }),
      make_field<int64_t>(
          "llm", "timeout_ms", [](Config & c) -> auto& { return c.llm.timeout_ms; }, in_range(100, 600000)),
      make_field<int64_t>(
          "llm", "connect_timeout_ms", [](Config & c) -> auto& { return c.llm.connect_timeout_ms; },
          in_range(10, 600000)),
      make_field<int64_t>(
          "llm", "max_retries", [](Config & c) -> auto& { return c.llm.max_retries; }, in_range(0, 10)),
      make_field<int64_t>(
          "llm", "max_concurrency", [](Config & c) -> auto& { return c.llm.max_concurrency; },
          in_range(1, 10000)),
      make_field<int64_t>(
          "llm", "max_queue", [](Config & c) -> auto& { return c.llm.max_queue; }, in_range(0, 100000)),
      make_field<int64_t>(
          "llm", "queue_wait_ms", [](Config & c) -> auto& { return c.llm.queue_wait_ms; },
          in_range(0, 600000)),
      make_field<int64_t>(
          "llm", "breaker_failures", [](Config & c) -> auto& { return c.llm.breaker_failures; },
          in_range(0, 1000)),
      make_field<int64_t>(
          "llm", "breaker_cooldown_ms", [](Config & c) -> auto& { return c.llm.breaker_cooldown_ms; },
          in_range(1, 3600000)),
      make_field<bool>(
          "llm", "store", [](Config & c) -> auto& { return c.llm.store; }),
      make_field<bool>(
          "llm", "chain", [](Config & c) -> auto& { return c.llm.chain; }),
      make_field<std::string>(
          "llm", "price_file", [](Config & c) -> auto& { return c.llm.price_file; }),
      make_field<bool>(
          "memory", "llm_extraction", [](Config & c) -> auto& { return c.memory.llm_extraction; }),
      make_field<bool>(
          "memory", "index_replies", [](Config & c) -> auto& { return c.memory.index_replies; }),
      make_field<int64_t>(
          "memory", "extraction_workers", [](Config & c) -> auto& { return c.memory.extraction_workers; },
          in_range(1, 64)),
      make_field<int64_t>(
          "memory", "probe_interval_s", [](Config & c) -> auto& { return c.memory.probe_interval_s; },
          in_range(0, 7 * 24 * 3600)),
      make_field<int64_t>(
          "memory", "probe_facts", [](Config & c) -> auto& { return c.memory.probe_facts; },
          in_range(1, 10000)),
      make_field<int64_t>(
          "alerts", "interval_s", [](Config & c) -> auto& { return c.alerts.interval_s; }, in_range(1, 3600)),
      make_field<int64_t>(
          "alerts", "window_s", [](Config & c) -> auto& { return c.alerts.window_s; },
          in_range(1, 24 * 3600)),
      make_field<double>(
          "alerts", "response_time_s", [](Config & c) -> auto& { return c.alerts.response_time_s; },
          in_range_d(0.001, 3600)),
      make_field<double>(
          "alerts", "error_rate", [](Config & c) -> auto& { return c.alerts.error_rate; }, in_range_d(0, 1)),
      make_field<double>(
          "alerts", "token_spike", [](Config & c) -> auto& { return c.alerts.token_spike; },
          in_range_d(1, 1000)),
      make_field<double>(
          "alerts", "memory_failure_rate", [](Config & c) -> auto& { return c.alerts.memory_failure_rate; },
          in_range_d(0, 1)),
      make_field<std::string>(
          "alerts", "webhook_url", [](Config & c) -> auto& { return c.alerts.webhook_url; }, http_url()),
      make_field<std::string>(
          "log", "level", [](Config & c) -> auto& { return c.log.level; },
          one_of({"trace", "debug", "info", "warn", "error", "critical", "off"})),
      make_field<std::string>(
          "log", "format", [](Config & c) -> auto& { return c.log.format; },
          one_of({"auto", "human", "json"})),
  };
  return table;
}

// `[embeddings]` is another name for `[embed]`, as OpenAI calls the API.
std::string_view canonical_section(std::string_view section) {
  return section == "embeddings" ? std::string_view("embed") : section;
}

const Field* find_field(std::string_view section, std::string_view key) {
  section = canonical_section(section);
  for (const auto& field : fields()) {
    if (field.section == section && field.key == key) return &field;
  }
  return nullptr;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

// Environment and flag values arrive as text; they are parsed to the field's declared type so that
// `BRANDCOACH_SERVER_PORT=abc` fails exactly like `port = "abc"` in the file.
Result<Value> parse_text(const Field& field, std::string_view raw, std::string_view origin) {
  const std::string text = trim(raw);
  const auto wrong = [&] {
    return Error::config(
        fmt::format("{} must be a {} (got '{}' from {})", field.name(), field.type_name, raw, origin),
        field.name());
  };
  if (field.type_name == "string") return Value{std::string(raw)};
  if (field.type_name == "integer") {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return wrong();
    return Value{number};
  }
  if (field.type_name == "number") {
    try {
      size_t used = 0;
      const double number = std::stod(text, &used);
      if (used != text.size()) return wrong();
      return Value{number};
    } catch (const std::exception&) {
      return wrong();
    }
  }
  if (text == "true" || text == "1" || text == "yes" || text == "on") return Value{true};
  if (text == "false" || text == "0" || text == "no" || text == "off") return Value{false};
  return wrong();
}

Result<Value> from_toml(const Field& field, const toml::node& node) {
  if (auto s = node.value_exact<std::string>()) return Value{*s};
  if (auto i = node.value_exact<int64_t>()) {
    if (field.type_name == "number") return Value{static_cast<double>(*i)};
    return Value{*i};
  }
  if (auto d = node.value_exact<double>()) return Value{*d};
  if (auto b = node.value_exact<bool>()) return Value{*b};
  return Error::config(fmt::format("{} must be a {}", field.name(), field.type_name), field.name());
}

// Keys stay out of files that get committed and out of command lines that `ps` shows.
Error secret_outside_environment(const Field& field, std::string_view where) {
  return Error::config(fmt::format("{}: {} may only come from the environment ({}) or {}_file", where,
                                   field.name(), field.env_name(), field.name()),
                       field.name());
}

// The first line of a key file, without surrounding whitespace.
Status read_key_file(const std::string& path, std::string& key, const std::string& name) {
  if (path.empty() || !key.empty()) return ok();
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line))
    return Error::config(fmt::format("{}: cannot read a key from {}", name, path), name);
  line = trim(line);
  if (line.empty()) return Error::config(fmt::format("{}: {} holds no key", name, path), name);
  key = line;
  return ok();
}

Status apply_file(Config& config, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Error::config(fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()),
                         "--config");
  }
  for (const auto& [section_key, section_node] : table) {
    const std::string section(section_key.str());
    const auto* section_table = section_node.as_table();
    if (!section_table) {
      return Error::config(fmt::format("{}: '{}' must be a [section] table", path, section), section);
    }
    for (const auto& [key_node, value_node] : *section_table) {
      const std::string key(key_node.str());
      const Field* field = find_field(section, key);
      if (!field) {
        return Error::config(fmt::format("{}: unknown key {}.{}", path, section, key), section + "." + key);
      }
      if (field->secret) {
        // `config show` writes secrets as "" or a mask, so its output loads back; a real key may not.
        const auto text = value_node.value_exact<std::string>();
        if (text && text->find_first_not_of('*') == std::string::npos) continue;
        return secret_outside_environment(*field, path);
      }
      auto value = from_toml(*field, value_node);
      if (!value) return value.error();
      if (auto status = field->set(config, *value); !status) return status;
    }
  }
  return ok();
}

Status apply_text(Config& config, const Field& field, const std::string& raw, std::string_view origin) {
  auto value = parse_text(field, raw, origin);
  if (!value) return value.error();
  return field.set(config, *value);
}

std::string render_value(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          // A JSON string is a valid TOML basic string (same quoting and escapes).
          return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

}  // namespace

std::string Config::database_path() const {
  if (storage.url.starts_with("sqlite:")) return storage.url.substr(7);
  return (std::filesystem::path(storage.data_dir) / "brandcoach.sqlite3").string();
}

std::map<std::string, std::string> brandcoach_environment() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    if (!text.starts_with("BRANDCOACH_") && !text.starts_with("OPENAI_API_KEY=")) continue;
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return out;
}

Result<Config> load_config(const ConfigSources& sources) {
  Config config;
  if (sources.file) {
    if (!std::filesystem::exists(*sources.file)) {
      return Error::config("configuration file not found: " + *sources.file, "--config");
    }
    if (auto status = apply_file(config, *sources.file); !status) return status.error();
  } else if (std::filesystem::exists("brandcoach.toml")) {
    if (auto status = apply_file(config, "brandcoach.toml"); !status) return status.error();
  }

  for (const auto& [name, raw] : sources.env) {
    if (name == "OPENAI_API_KEY") continue;  // the SDKs' own variable: a fallback, applied below
    const Field* match = nullptr;
    for (const auto& field : fields()) {
      const bool alias =
          field.section == "embed" && name.starts_with("BRANDCOACH_EMBEDDINGS_") &&
          "BRANDCOACH_EMBED_" + name.substr(std::string_view("BRANDCOACH_EMBEDDINGS_").size()) ==
              field.env_name();
      if (field.env_name() == name || alias) match = &field;
    }
    if (!match) {
      return Error::config(
          "unknown environment variable " + name + " (see `brandcoach config show` for keys)", name);
    }
    if (auto status = apply_text(config, *match, raw, name); !status) return status.error();
  }

  for (const auto& [name, raw] : sources.overrides) {
    const auto dot = name.find('.');
    const Field* field =
        dot == std::string::npos ? nullptr : find_field(name.substr(0, dot), name.substr(dot + 1));
    if (!field) return Error::config("unknown configuration key " + name, name);
    if (field->secret) return secret_outside_environment(*field, "--set");
    if (auto status = apply_text(config, *field, raw, "command line"); !status) return status.error();
  }
  // Rules that span keys.
  if (config.knowledge.chunk_overlap_tokens * 2 > config.knowledge.chunk_max_tokens) {
    return Error::config(
        fmt::format("knowledge.chunk_overlap_tokens must be at most half of "
                    "knowledge.chunk_max_tokens ({} > {} / 2)",
                    config.knowledge.chunk_overlap_tokens, config.knowledge.chunk_max_tokens),
        "knowledge.chunk_overlap_tokens");
  }
  if (auto status =
          read_key_file(config.auth.jwt_secret_file, config.auth.jwt_secret, "auth.jwt_secret_file");
      !status)
    return status.error();
  if (!config.auth.jwt_secret.empty() && config.auth.jwt_secret.size() < 32) {
    return Error::config("auth.jwt_secret must be at least 32 bytes (HS256 needs a 256-bit key)",
                         "auth.jwt_secret");
  }
  if (auto status = read_key_file(config.llm.api_key_file, config.llm.api_key, "llm.api_key_file"); !status)
    return status.error();
  if (auto status = read_key_file(config.storage.encryption_key_file, config.storage.encryption_key,
                                  "storage.encryption_key_file");
      !status)
    return status.error();
  if (!config.storage.encryption_key.empty()) {
    if (config.storage.encryption_key.size() < 16) {
      return Error::config("storage.encryption_key must be at least 16 characters (or 64 hex digits)",
                           "storage.encryption_key");
    }
    if (config.storage.url.starts_with("postgres")) {
      return Error::config(
          "storage.encryption_key encrypts the SQLite store; encrypt PostgreSQL's volumes instead "
          "(docs/deploy.md, encryption at rest)",
          "storage.encryption_key");
    }
  }
  if (auto status = read_key_file(config.embed.api_key_file, config.embed.api_key, "embed.api_key_file");
      !status)
    return status.error();
  if (const auto openai = sources.env.find("OPENAI_API_KEY"); openai != sources.env.end()) {
    if (config.llm.api_key.empty()) config.llm.api_key = trim(openai->second);
    if (config.embed.api_key.empty()) config.embed.api_key = trim(openai->second);
  }
  if (config.llm.provider == "openai" && config.llm.base_url.empty())
    config.llm.base_url = "https://api.openai.com/v1";
  if (config.llm.provider != "offline" && (config.llm.base_url.empty() || config.llm.model.empty())) {
    return Error::config(
        fmt::format("llm.provider = \"{}\" needs llm.base_url and llm.model", config.llm.provider),
        config.llm.base_url.empty() ? "llm.base_url" : "llm.model");
  }
  if (config.embed.provider == "http" && (config.embed.base_url.empty() || config.embed.model.empty())) {
    return Error::config("embed.provider = \"http\" needs embed.base_url and embed.model", "embed.base_url");
  }
  return config;
}

std::string render_config(const Config& config) {
  std::string out;
  std::string section;
  for (const auto& field : fields()) {
    if (field.section != section) {
      if (!section.empty()) out += "\n";
      section = field.section;
      out += "[" + section + "]\n";
    }
    const Value value = field.get(config);
    const auto* text = std::get_if<std::string>(&value);
    const bool masked = field.secret && text && !text->empty();
    out += field.key + " = " + (masked ? "\"********\"" : render_value(value)) + "\n";
  }
  return out;
}

}  // namespace brandcoach
