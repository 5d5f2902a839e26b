#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <optional>
#include <memory>
#include <mutex>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/cli/app.hpp"
#include "brandcoach/cli/cli.hpp"
#include "brandcoach/http/http.hpp"
#include "brandcoach/obs/obs.hpp"

namespace brandcoach::cli {

namespace fs = std::filesystem;

namespace {

fs::path knowledge_dir(const Config& config) {
  return config.knowledge.dir.empty() ? coach::bundled_data_dir() / "knowledge"
                                      : fs::path(config.knowledge.dir);
}

fs::path assistants_file(const Config& config) {
  return config.knowledge.assistants_file.empty() ? coach::bundled_data_dir() / "assistants.toml"
                                                  : fs::path(config.knowledge.assistants_file);
}

Result<std::unique_ptr<embed::Embedder>> make_embedder(const Config& config) {
  if (config.embed.provider == "http") {
    embed::HttpOptions options;
    options.base_url = config.embed.base_url;
    options.api_key = config.embed.api_key;
    options.model = config.embed.model;
    options.batch_size = static_cast<size_t>(config.embed.batch_size);
    options.max_retries = static_cast<int>(config.embed.max_retries);
    options.timeout_ms = config.embed.timeout_ms;
    net::UpstreamOptions upstream;
    upstream.max_concurrency = static_cast<int>(config.embed.max_concurrency);
    options.upstream = std::make_shared<net::Upstream>("embeddings at " + config.embed.base_url, upstream);
    return embed::make_http_embedder(options);
  }
  return embed::make_hashing_embedder({static_cast<size_t>(config.embed.dimension)});
}

Result<http::AuthOptions> auth_options(const Config& config) {
  http::AuthOptions auth;
  auth.jwt_secret = config.auth.jwt_secret;
  auth.issuer = config.auth.jwt_issuer;
  auth.audience = config.auth.jwt_audience;
  auth.leeway_s = config.auth.jwt_leeway_s;
  if (!config.auth.jwt_public_key_file.empty()) {
    auto pem = http::read_key_file(config.auth.jwt_public_key_file, "auth.jwt_public_key_file");
    if (!pem) return pem.error();
    auth.jwt_public_key_pem = std::move(pem).value();
  }
  if (!config.auth.jwt_jwks_file.empty()) {
    auto jwks = http::read_jwks_file(config.auth.jwt_jwks_file);
    if (!jwks) return jwks.error();
    auth.jwks = std::move(jwks).value();
  }
  auth.required = config.auth.required || !auth.jwt_secret.empty() || !auth.jwt_public_key_pem.empty() ||
                  !auth.jwks.empty();
  if (auto status = http::validate(auth); !status) return status.error();
  return auth;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The built web UI: ./web/dist when run from a checkout, else the source tree's.
std::filesystem::path default_web_dir() {
  if (std::filesystem::exists("web/dist/index.html")) return "web/dist";
  return BRANDCOACH_SOURCE_WEB_DIR;
}

namespace {

// Refreshes every knowledge store's indexes on its own thread whenever woken; wakes that arrive
// during a refresh fold into one more pass.
class IndexRefresher {
 public:
  IndexRefresher(store::Store& store, index::KnowledgeIndexes& indexes)
      : store_(store), indexes_(indexes), thread_([this](std::stop_token stop) { run(stop); }) {}
  ~IndexRefresher() {
    thread_.request_stop();
    wake();
  }
  void wake() {
    {
      std::lock_guard lock(mutex_);
      pending_ = true;
    }
    woken_.notify_one();
  }

 private:
  void run(std::stop_token stop) {
    while (true) {
      {
        std::unique_lock lock(mutex_);
        woken_.wait(lock, stop, [&] { return pending_; });
        if (stop.stop_requested()) return;
        pending_ = false;
      }
      auto stores = store_.list_knowledge_stores();
      if (!stores) {
        spdlog::warn("index refresh: {}", stores.error().message);
        continue;
      }
      for (const auto& s : *stores) {
        if (auto status = indexes_.refresh(s.name); !status)
          spdlog::warn("index refresh of {}: {}", s.name, status.error().message);
      }
    }
  }
  store::Store& store_;
  index::KnowledgeIndexes& indexes_;
  std::mutex mutex_;
  std::condition_variable_any woken_;
  bool pending_ = false;
  std::jthread thread_;  // last: starts after the members it uses
};

// Runs a task every `period` on its own thread until destroyed (the first run after one period).
class Periodic {
 public:
  Periodic(std::chrono::milliseconds period, std::function<void()> task)
      : period_(period), task_(std::move(task)), thread_([this](std::stop_token stop) { run(stop); }) {}

 private:
  void run(std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any woken;
    while (true) {
      std::unique_lock lock(mutex);
      if (woken.wait_for(lock, stop, period_, [] { return false; }) || stop.stop_requested()) return;
      lock.unlock();
      task_();
    }
  }
  std::chrono::milliseconds period_;
  std::function<void()> task_;
  std::jthread thread_;  // last: starts after the members it uses
};

}  // namespace

int serve(Config config) {
  auto auth = auth_options(config);
  if (!auth) return fail(auth.error());
  if (auto status = http::check_bind_address(config.server.host, auth->required); !status)
    return fail(status.error());
  // Turns block on their store writes, which commit in groups (SQLite's GroupCommit): more turns in
  // flight than cores make bigger groups. On 2 cores, 8 workers gave 623 turns/s at 1,000 users
  // against 552 with 2 (bench/run-load-bench).
  const int workers =
      config.server.workers > 0
          ? static_cast<int>(config.server.workers)
          : static_cast<int>(std::clamp(4u * std::max(1u, std::thread::hardware_concurrency()), 8u, 64u));
  obs::Metrics metrics;
  auto app = build_app(std::move(config), workers + 1, &metrics);
  if (!app) return fail(app.error());
  http::ServerOptions options;
  const auto& server = app->config.server;
  options.host = server.host;
  options.port = static_cast<uint16_t>(server.port);
  options.body_limit_bytes = static_cast<size_t>(server.body_limit_bytes);
  options.upload_limit_bytes = static_cast<size_t>(server.upload_limit_bytes);
  options.request_timeout_ms = server.request_timeout_ms;
  options.shutdown_grace_ms = server.shutdown_grace_ms;
  options.io_threads = static_cast<int>(server.io_threads);
  options.workers = workers;
  options.cors_origins = split_list(server.cors_origins);
  options.tls_cert_file = server.tls_cert_file;
  options.tls_key_file = server.tls_key_file;
  const http::Authenticator authenticator(std::move(auth).value(), *app->store);
  const auto& limits = app->config.limits;
  // Local mode has one trusted user on loopback: nothing to ration.
  const double scale = authenticator.local_mode() ? 0.0 : 1.0;
  // With Redis the buckets are shared by every node, so a limit holds however requests are spread.
  http::RateLimiter user_limits(scale * static_cast<double>(limits.requests_per_minute_per_user),
                                static_cast<double>(limits.burst), app->cache->redis());
  http::RateLimiter ip_limits(scale * static_cast<double>(limits.requests_per_minute_per_ip),
                              static_cast<double>(limits.burst_per_ip), app->cache->redis());
  spdlog::info("authentication: {}", authenticator.local_mode()
                                         ? "local mode (loopback only, user from X-Brandcoach-User)"
                                         : "Bearer tokens required (API keys and JWTs)");
  http::UiOptions ui;
  ui.web_dir = server.web_dir.empty() ? default_web_dir() : std::filesystem::path(server.web_dir);
  ui.product_name = app->config.ui.product_name;
  ui.logo_file = app->config.ui.logo_file;
  ui.primary_color = app->config.ui.primary_color;
  ui.accent_color = app->config.ui.accent_color;
  ui.welcome_message = app->config.ui.welcome_message;
  if (!std::filesystem::exists(ui.web_dir / "index.html"))
    spdlog::warn("web UI not built ({} has no index.html): `./run` builds it", ui.web_dir.string());
  auto refresher = std::make_shared<IndexRefresher>(*app->store, *app->vectors);
  if (app->cache->distributed()) {
    // Another node changed a store: bring the indexes up to date now, off the request path, rather
    // than in the first search that notices the new version. (Weak: the cache outlives this scope.)
    app->cache->on_invalidate([weak = std::weak_ptr<IndexRefresher>(refresher)](std::string_view scope) {
      if (scope != "kb" && scope != "*") return;
      if (auto alive = weak.lock()) alive->wake();
    });
  }
  obs::StoreGauges store_gauges(*app->store);
  metrics.add_collector([&store_gauges](obs::Exposition& out) { store_gauges.collect(out); });
  if (app->llm_upstream) {
    metrics.add_collector([upstream = app->llm_upstream, provider = app->config.llm.provider](
                              obs::Exposition& out) { obs::collect_upstream(out, provider, *upstream); });
  }
  const auto& memory_config = app->config.memory;
  obs::MemoryProber prober(*app->store, app->coach->memory(), &metrics,
                           {static_cast<int>(memory_config.probe_facts), 2000});
  metrics.add_collector([&prober](obs::Exposition& out) { prober.collect(out); });
  std::optional<Periodic> probes;
  if (memory_config.probe_interval_s > 0) {
    probes.emplace(std::chrono::seconds(memory_config.probe_interval_s), [&prober] {
      if (auto status = prober.run_once(); !status) spdlog::warn("memory probes: {}", status.error().message);
    });
  }
  const auto& alerts = app->config.alerts;
  obs::Alerter alerter(
      metrics, {alerts.interval_s * 1000,
                alerts.window_s * 1000,
                12,
                {alerts.response_time_s, alerts.error_rate, alerts.token_spike, alerts.memory_failure_rate},
                alerts.webhook_url,
                100});
  metrics.add_collector([&alerter](obs::Exposition& out) { alerter.collect(out); });
  http::Server http_server(
      options, {*app->coach, *app->store, *app->vectors, metrics, authenticator, user_limits, ip_limits,
                std::move(ui), app->cache.get(), app->answers.get(), &prober, &alerter});
  auto port = http_server.listen();
  if (!port) return fail(port.error());
  const std::string host =
      options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  const char* scheme = options.tls_cert_file.empty() ? "http" : "https";
  spdlog::info("listening on {}://{}:{}", scheme, host, *port);
  std::cout << fmt::format("brandcoach is running at {}://{}:{}/", scheme, host, *port) << std::endl;
  http_server.run();
  return 0;
}

int chat(Config config, const std::string& user, bool json_output, bool new_session) {
  auto app = build_app(std::move(config), 2);
  if (!app) return fail(app.error());
  if (new_session) {
    if (auto status = app->coach->start_new_session(user); !status) return fail(status.error());
  }
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive && !json_output) {
    std::cout << "brandcoach chat as '" << user << "'. Type your message; Ctrl-D to leave.\n";
  }
  std::string line;
  int exit_status = 0;
  while (true) {
    if (interactive && !json_output) std::cout << "\nyou> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    coach::TurnEvents events;
    if (!json_output) {
      events.on_route = [](const route::Decision& d) {
        std::cout << fmt::format("\n[{} · {:.0f}% · {}]\n", d.assistant, d.confidence * 100, d.method)
                  << std::flush;
      };
      events.on_delta = [](std::string_view text) { std::cout << text << std::flush; };
    }
    auto result = app->coach->turn(user, line, events);
    if (!result) {
      exit_status = fail(result.error());
      if (result.error().kind == ErrorKind::invalid_input ||
          result.error().kind == ErrorKind::payload_too_large) {
        continue;  // one bad line does not end the conversation
      }
      return exit_status;
    }
    if (json_output) {
      std::cout << coach::to_json(*result).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n"
                << std::flush;
    } else {
      std::cout << "\n";
      for (size_t i = 0; i < result->citations.size(); ++i) {
        const auto& c = result->citations[i];
        std::cout << fmt::format("  [{}] {}/{} — {}\n", i + 1, c.store, c.file, c.heading);
      }
    }
  }
  return exit_status;
}

}  // namespace

int fail(const Error& error) {
  std::cerr << "brandcoach: " << error.message;
  if (!error.param.empty() && error.message.find(error.param) == std::string::npos)
    std::cerr << " [" << error.param << "]";
  std::cerr << "\n";
  return exit_code(error.kind);
}

text::ChunkOptions chunking(const Config& config, int max_tokens, int overlap_tokens) {
  text::ChunkOptions options;
  options.max_tokens = static_cast<size_t>(max_tokens > 0 ? max_tokens : config.knowledge.chunk_max_tokens);
  options.overlap_tokens =
      static_cast<size_t>(overlap_tokens >= 0 ? overlap_tokens : config.knowledge.chunk_overlap_tokens);
  return options;
}

std::shared_ptr<net::Upstream> make_llm_upstream(const Config& config) {
  if (config.llm.base_url.empty()) return nullptr;
  net::UpstreamOptions options;
  options.breaker_failures = static_cast<int>(config.llm.breaker_failures);
  options.breaker_cooldown_ms = config.llm.breaker_cooldown_ms;
  options.max_concurrency = static_cast<int>(config.llm.max_concurrency);
  options.max_queue = static_cast<int>(config.llm.max_queue);
  options.queue_wait_ms = config.llm.queue_wait_ms;
  return std::make_shared<net::Upstream>(
      config.llm.provider == "offline" ? "the chat model" : config.llm.provider, options);
}

llm::ModelOptions model_options(const Config& config, std::shared_ptr<net::Upstream> upstream) {
  llm::ModelOptions options;
  options.base_url = config.llm.base_url;
  options.api_key = config.llm.api_key;
  options.model = config.llm.model;
  options.max_retries = static_cast<int>(config.llm.max_retries);
  options.connect_timeout_ms = config.llm.connect_timeout_ms;
  options.timeout_ms = config.llm.timeout_ms;
  options.store = config.llm.store;
  options.chain = config.llm.chain;
  options.upstream = std::move(upstream);
  return options;
}

Result<std::unique_ptr<llm::LlmProvider>> make_provider(const Config& config,
                                                        std::shared_ptr<net::Upstream> upstream) {
  if (config.llm.provider == "offline") return llm::make_offline_composer();
  auto options = model_options(config, std::move(upstream));
  auto model = config.llm.provider == "openai" ? llm::make_responses_provider(std::move(options))
                                               : llm::make_chat_provider(std::move(options));
  spdlog::info("answers from {} model {} at {} (offline composer as fallback)", config.llm.provider,
               config.llm.model, config.llm.base_url);
  return llm::make_fallback_provider(std::move(model), llm::make_offline_composer());
}

std::filesystem::path price_file(const Config& config) {
  if (!config.llm.price_file.empty()) return config.llm.price_file;
  return coach::bundled_data_dir() / "prices.toml";
}

namespace {

// Folders left by processes of this user that were killed before they could remove them.
void remove_orphaned_folders(const fs::path& base, std::string_view prefix) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(base, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const auto dash = name.find('-', prefix.size());
    if (dash == std::string::npos) continue;
    pid_t owner = 0;
    const auto parsed = std::from_chars(name.data() + prefix.size(), name.data() + dash, owner);
    struct stat info {};
    if (parsed.ec != std::errc() || ::stat(entry.path().c_str(), &info) != 0 || info.st_uid != ::getuid())
      continue;
    if (::kill(owner, 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

Result<ProcessFolder> ProcessFolder::create(std::string_view prefix) {
  std::error_code ec;
  fs::path base = "/dev/shm";
  if (!fs::is_directory(base, ec)) base = fs::temp_directory_path(ec);
  if (ec) return Error::unavailable("no folder for temporary files: " + ec.message());
  remove_orphaned_folders(base, prefix);
  std::string pattern = (base / fmt::format("{}{}-XXXXXX", prefix, ::getpid())).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return Error::unavailable(
        fmt::format("cannot create a private folder in {}: {}", base.string(), std::strerror(errno)));
  }
  return ProcessFolder(fs::path(pattern));
}

ProcessFolder& ProcessFolder::operator=(ProcessFolder&& other) noexcept {
  if (this != &other) {
    ProcessFolder dropped(std::move(*this));
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

ProcessFolder::~ProcessFolder() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

Result<App> build_knowledge(Config config, int connections) {
  App app;
  cache::CacheOptions cache_options;
  cache_options.l1_bytes = static_cast<size_t>(config.cache.l1_bytes);
  cache_options.l2_ttl = std::chrono::seconds(config.cache.ttl_s);
  cache_options.redis_url = config.cache.redis_url;
  auto cache = cache::Cache::open(cache_options);
  if (!cache) return cache.error();
  app.cache = std::move(cache).value();
  auto store = open_database(config, connections);
  if (!store) return store.error();
  app.store = cache::make_cached_store(std::move(store).value(), *app.cache);
  auto embedder = make_embedder(config);
  if (!embedder) return embedder.error();
  app.embedder = std::move(embedder).value();
  fs::path index_folder = fs::path(config.storage.data_dir) / "index";
  if (!config.storage.encryption_key.empty()) {
    auto folder = ProcessFolder::create("brandcoach-index-");
    if (!folder) return folder.error();
    app.index_folder = std::move(folder).value();
    index_folder = app.index_folder->path();
  }
  app.vectors = std::make_unique<index::KnowledgeIndexes>(*app.store, *app.embedder, index_folder);
  app.retriever = std::make_unique<index::HybridRetriever>(*app.store, *app.vectors);
  app.config = std::move(config);
  return app;
}

Result<App> build_app(Config config, int connections, obs::Metrics* metrics) {
  const auto started = std::chrono::steady_clock::now();
  auto assistants = coach::AssistantRegistry::load(assistants_file(config));
  if (!assistants) return assistants.error();
  auto mode = index::parse_search_mode(config.retrieval.mode);
  if (!mode) return mode.error();
  auto built = build_knowledge(std::move(config), connections);
  if (!built) return built.error();
  App app = std::move(built).value();
  if (app.config.knowledge.sync_on_start) {
    auto report = coach::sync_knowledge(*app.store, *app.vectors, *assistants, knowledge_dir(app.config));
    if (!report) return report.error();
    for (const auto& failure : report->failures)
      spdlog::warn("knowledge: skipped {}: {}", failure.path, failure.reason);
    spdlog::info("knowledge base: {} added, {} updated, {} removed, {} unchanged ({} new chunks)",
                 report->added, report->updated, report->removed, report->unchanged, report->chunks);
  }
  app.llm_upstream = make_llm_upstream(app.config);
  auto router = build_router(app.config, app.llm_upstream);
  if (!router) return router.error();
  app.router = std::move(router).value();
  auto provider = make_provider(app.config, app.llm_upstream);
  if (!provider) return provider.error();
  app.provider = std::move(provider).value();
  auto prices = llm::load_prices(price_file(app.config));
  if (!prices) return prices.error();
  coach::CoachOptions options;
  options.top_k = static_cast<int>(app.config.knowledge.top_k);
  options.recent_turns = static_cast<int>(app.config.session.recent_turns);
  options.idle_gap_ms = app.config.session.idle_gap_minutes * 60 * 1000;
  options.summary_every = app.config.session.summary_every;
  options.max_prompt_tokens = app.config.session.max_prompt_tokens;
  options.retrieval_mode = *mode;
  options.lexical_weight = app.config.retrieval.lexical_weight;
  options.dense_weight = app.config.retrieval.dense_weight;
  options.queue_llm_extraction = app.config.memory.llm_extraction;
  options.index_replies = app.config.memory.index_replies;
  options.prices = std::move(prices).value();
  app.coach = std::make_unique<coach::Coach>(*app.store, *app.retriever, *app.router, *app.provider,
                                             std::move(assistants).value(), options);
  coach::TurnCaches caches;
  caches.cache = app.cache.get();
  caches.ttl = std::chrono::seconds(app.config.cache.ttl_s);
  // A chained thread (llm.chain) keeps each user's conversation at the provider: every turn must
  // reach the model so the next can continue from it, so no answer is reused there.
  if (app.config.cache.semantic && !app.config.llm.chain) {
    app.answers = std::make_unique<cache::SemanticCache>(app.config.cache.semantic_threshold, 1000);
    caches.answers = app.answers.get();
    caches.embedder = app.embedder.get();
    // Answers of an old knowledge version can never match again (the version is in their scope):
    // free them as soon as any node changes a store.
    app.cache->on_invalidate([answers = app.answers.get()](std::string_view scope) {
      if (scope == "kb" || scope == "*") answers->clear();
    });
  }
  app.coach->use_caches(caches);
  if (metrics) {
    app.coach->on_memory_operation([metrics](std::string_view operation, std::string_view status) {
      metrics->count_memory_operation(operation, status);
    });
  }
  if (app.config.memory.llm_extraction) {
    if (app.config.llm.base_url.empty() || app.config.llm.model.empty()) {
      return Error::config("memory.llm_extraction needs llm.base_url and llm.model",
                           app.config.llm.base_url.empty() ? "llm.base_url" : "llm.model");
    }
    auto extraction_options = model_options(app.config, app.llm_upstream);
    extraction_options.timeout_ms = std::min<int64_t>(extraction_options.timeout_ms, 30000);
    auto client = std::make_shared<llm::ChatClient>(std::move(extraction_options));
    // Temperature 0.3: extraction wants the same answer every time, not variety.
    memory::ExtractionModel model = [client](const std::string& system, const std::string& user) {
      return client->complete(system, user, 0.3, true);
    };
    // The same model writes the rolling summaries, in plain text and a little more freely.
    memory::ExtractionModel writer = [client](const std::string& system, const std::string& user) {
      return client->complete(system, user, 0.3, false);
    };
    memory::ExtractionQueue::Options queue_options;
    queue_options.workers = static_cast<int>(app.config.memory.extraction_workers);
    queue_options.summary_every = app.config.session.summary_every;
    if (metrics) {
      queue_options.on_outcome = [metrics](std::string_view operation, std::string_view status) {
        metrics->count_memory_operation(operation, status);
      };
    }
    app.extraction = std::make_unique<memory::ExtractionQueue>(*app.store, std::move(model), queue_options,
                                                               std::move(writer));
    app.coach->on_extraction_queued([queue = app.extraction.get()] { queue->wake(); });
    app.coach->on_summary_due([queue = app.extraction.get()](int64_t user, int64_t seq, int window) {
      queue->request_summary(user, seq, window);
    });
  }
  spdlog::info("ready in {:.0f} ms (database {})",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(),
               app.config.database_path());
  return app;
}

int run(int argc, char** argv) {
  CLI::App app{"brandcoach: a self-hosted IDEA Brand Coach", "brandcoach"};
  app.require_subcommand(1);
  std::string config_file;
  std::string data_dir;
  std::vector<std::string> settings;
  app.add_option("--config", config_file, "TOML configuration file (default: ./brandcoach.toml if present)");
  app.add_option("--data-dir", data_dir, "folder for the database and runtime files (default ./var)");
  app.add_option("--set", settings, "override a configuration key: section.key=value (repeatable)");

  auto* serve_cmd = app.add_subcommand("serve", "run the HTTP server");
  std::string host;
  int port = -1;
  serve_cmd->add_option("--host", host, "address to listen on (default 127.0.0.1)");
  serve_cmd->add_option("--port", port, "port to listen on; 0 picks a free port (default 8080)");
  std::string tls_cert;
  std::string tls_key;
  serve_cmd->add_option("--tls-cert", tls_cert,
                        "PEM certificate chain: serve HTTPS (TLS 1.2+, 1.3 preferred)");
  serve_cmd->add_option("--tls-key", tls_key, "PEM private key of --tls-cert");

  auto* chat_cmd = app.add_subcommand("chat", "talk to the coach in the terminal");
  std::string user = "local";
  bool json_output = false;
  chat_cmd->add_option("--user", user, "the user to chat as (default local)");
  chat_cmd->add_flag("--json", json_output, "print one JSON object per turn and nothing else on stdout");
  bool new_session = false;
  chat_cmd->add_flag("--new-session", new_session, "start a new session with this first message");

  auto* memory_cmd = app.add_subcommand("memory", "what the coach remembers about a user");
  memory_cmd->require_subcommand(1);
  std::string memory_user;
  std::string import_file;
  auto* memory_import_cmd = memory_cmd->add_subcommand(
      "import", "add a thread from JSONL {id, role, text, ts, speaker?} (ids kept; re-importing skips them)");
  memory_import_cmd->add_option("--user", memory_user, "the user the thread belongs to")->required();
  memory_import_cmd->add_option("file", import_file, "JSONL file")->required();
  int memory_k = 10;
  auto* memory_search_cmd = memory_cmd->add_subcommand(
      "search", "search a user's messages: stdin queries (plain or {id, query} JSON lines) -> JSON lines");
  memory_search_cmd->add_option("--user", memory_user, "whose messages")->required();
  memory_search_cmd->add_option("--k", memory_k, "results per query (1-100, default 10)");
  bool all_facts = false;
  auto* memory_facts_cmd = memory_cmd->add_subcommand("facts", "a user's facts as JSON lines");
  memory_facts_cmd->add_option("--user", memory_user, "whose facts")->required();
  memory_facts_cmd->add_flag("--all", all_facts, "every version, superseded and rejected included");
  std::string export_format = "json";
  auto* memory_export_cmd = memory_cmd->add_subcommand("export", "everything kept about a user (json or md)");
  memory_export_cmd->add_option("--user", memory_user, "whose data")->required();
  memory_export_cmd->add_option("--format", export_format, "json (default) or md");
  auto* memory_erase_cmd = memory_cmd->add_subcommand("erase", "erase every trace of a user");
  memory_erase_cmd->add_option("--user", memory_user, "whose data")->required();

  auto* kb_cmd = app.add_subcommand("kb", "manage knowledge stores");
  kb_cmd->require_subcommand(1);
  IngestArgs ingest_args;
  auto* ingest_cmd = kb_cmd->add_subcommand(
      "ingest", "add files, folders and globs (md, txt, html, pdf, docx, json, jsonl) to a knowledge store");
  ingest_cmd->add_option("--store", ingest_args.store, "knowledge store name (e.g. avatar)")->required();
  ingest_cmd->add_option("--jsonl", ingest_args.jsonl,
                         "a JSONL file of {id, text, title?, attributes?} records");
  ingest_cmd->add_option("--chunk-size", ingest_args.chunk_size, "max tokens per chunk (100-4096)");
  ingest_cmd->add_option("--chunk-overlap", ingest_args.chunk_overlap,
                         "overlap tokens (at most half the size)");
  ingest_cmd->add_option("paths", ingest_args.paths, "files, folders or glob patterns");

  SearchArgs search_args;
  auto* search_cmd = kb_cmd->add_subcommand(
      "search",
      "answer queries from stdin (one per line, or JSON lines {id, query}) with JSON lines of results");
  search_cmd->add_option("--store", search_args.stores, "knowledge store(s) to search")->required();
  search_cmd->add_option("--k", search_args.k, "results per query (1-50, default 10)");
  search_cmd->add_option("--mode", search_args.mode, "hybrid, lexical or dense (default hybrid)");
  search_cmd->add_option("--filter", search_args.filter, "attribute filter, as JSON (OpenAI's grammar)");
  search_cmd->add_option("--score-threshold", search_args.score_threshold,
                         "drop results scoring below this (in the mode's own score)");

  auto* stats_cmd = kb_cmd->add_subcommand("stats", "stores with their files, chunks, bytes and embedder");
  std::string list_store;
  auto* list_cmd = kb_cmd->add_subcommand("list", "files of a knowledge store");
  list_cmd->add_option("--store", list_store, "knowledge store")->required();
  std::string delete_store;
  std::vector<std::string> delete_files;
  bool delete_all = false;
  auto* delete_cmd =
      kb_cmd->add_subcommand("delete", "delete files (by name or id) or a whole knowledge store");
  delete_cmd->add_option("--store", delete_store, "knowledge store")->required();
  delete_cmd->add_option("--file", delete_files, "file name or id (repeatable)");
  delete_cmd->add_flag("--all", delete_all, "delete the store itself with everything in it");
  std::string reindex_store;
  auto* reindex_cmd = kb_cmd->add_subcommand("reindex", "re-embed a store with the configured embedder");
  reindex_cmd->add_option("--store", reindex_store, "knowledge store")->required();

  auto* eval_cmd = app.add_subcommand("eval", "measure quality");
  eval_cmd->require_subcommand(1);
  EvalArgs eval_args;
  auto* eval_retrieval_cmd = eval_cmd->add_subcommand("retrieval", "nDCG@10, MRR@10, Recall@10/100 per mode");
  eval_retrieval_cmd->add_option("--store", eval_args.stores, "store(s) searched when a query names none");
  eval_retrieval_cmd->add_option("--queries", eval_args.queries, "JSONL of {id, query, store?}")->required();
  eval_retrieval_cmd->add_option("--qrels", eval_args.qrels, "TREC qrels: query_id 0 doc_id relevance")
      ->required();
  eval_retrieval_cmd->add_option("--modes", eval_args.modes,
                                 "modes to evaluate (default: lexical dense hybrid)");
  eval_retrieval_cmd->add_flag("--json", eval_args.json, "print one JSON object per mode");

  std::string routing_file;
  bool routing_json = false;
  auto* eval_routing_cmd = eval_cmd->add_subcommand(
      "routing", "accuracy, macro F1, per-assistant precision/recall, confusion matrix, misrouted examples");
  eval_routing_cmd->add_option("file", routing_file, "JSONL of {text, label, history?}")->required();
  eval_routing_cmd->add_flag("--json", routing_json, "print one JSON object");

  std::string lives_file;
  bool memory_eval_json = false;
  auto* eval_memory_cmd = eval_cmd->add_subcommand(
      "memory", "replay scripted users (one process per session) and score recall and stale answers");
  eval_memory_cmd->add_option("file", lives_file, "JSONL of {user, sessions: [{messages, probes}]}")
      ->required();
  eval_memory_cmd->add_flag("--json", memory_eval_json, "print one JSON object");

  auto* route_cmd = app.add_subcommand(
      "route", "route messages from stdin (plain lines, or JSON lines {id?, text, history?}) to assistants");

  auto* keys_cmd = app.add_subcommand("keys", "API keys for the HTTP API");
  keys_cmd->require_subcommand(1);
  KeyArgs key_args;
  auto* keys_create_cmd = keys_cmd->add_subcommand(
      "create", "create a key; it is printed once, alone on stdout, and stored as a hash");
  keys_create_cmd->add_option("--user", key_args.user, "the user the key acts for")->required();
  keys_create_cmd->add_option("--name", key_args.name, "a label to recognise the key by");
  keys_create_cmd->add_flag("--admin", key_args.admin, "the key may use admin routes");
  std::string keys_user;
  auto* keys_list_cmd =
      keys_cmd->add_subcommand("list", "list keys as JSON lines (never the keys themselves)");
  keys_list_cmd->add_option("--user", keys_user, "only this user's keys");
  int64_t revoke_id = 0;
  auto* keys_revoke_cmd =
      keys_cmd->add_subcommand("revoke", "revoke a key: it authenticates nobody from now on");
  keys_revoke_cmd->add_option("id", revoke_id, "the key's id (from keys list)")->required();

  auto* audit_cmd = app.add_subcommand("audit", "the audit log: fact changes and admin actions");
  audit_cmd->require_subcommand(1);
  int64_t audit_after = 0;
  auto* audit_export_cmd =
      audit_cmd->add_subcommand("export", "every audit row after --after, as JSON lines");
  audit_export_cmd->add_option("--after", audit_after, "only rows with a larger id (default 0: all)")
      ->check(CLI::NonNegativeNumber);

  auto* store_cmd = app.add_subcommand("store", "the SQLite store: online backup, encryption at rest");
  store_cmd->require_subcommand(1);
  auto* store_encrypt_cmd = store_cmd->add_subcommand(
      "encrypt", "encrypt the SQLite file with storage.encryption_key (stop the server first)");
  auto* store_decrypt_cmd = store_cmd->add_subcommand(
      "decrypt", "rewrite the encrypted SQLite file as a plain one (server stopped)");
  auto* store_backup_cmd =
      store_cmd->add_subcommand("backup", "copy the SQLite store to a new file while the server runs");
  std::string backup_file;
  store_backup_cmd
      ->add_option("FILE", backup_file, "the new file (encrypted with the same key when one is set)")
      ->required();

  auto* config_cmd = app.add_subcommand("config", "inspect configuration");
  config_cmd->require_subcommand(1);
  auto* show_cmd = config_cmd->add_subcommand("show", "print the effective configuration, secrets masked");
  auto* version_cmd = app.add_subcommand("version", "print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (version_cmd->parsed()) {
    std::cout << "brandcoach " << BRANDCOACH_VERSION << "\n";
    return 0;
  }

  ConfigSources sources;
  if (!config_file.empty()) sources.file = config_file;
  sources.env = brandcoach_environment();
  for (const auto& setting : settings) {
    const auto eq = setting.find('=');
    if (eq == std::string::npos) return fail(Error::config("--set expects section.key=value", setting));
    sources.overrides.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
  }
  if (!data_dir.empty()) sources.overrides.emplace_back("storage.data_dir", data_dir);
  if (!host.empty()) sources.overrides.emplace_back("server.host", host);
  if (port >= 0) sources.overrides.emplace_back("server.port", std::to_string(port));
  if (!tls_cert.empty()) sources.overrides.emplace_back("server.tls_cert_file", tls_cert);
  if (!tls_key.empty()) sources.overrides.emplace_back("server.tls_key_file", tls_key);
  auto config = load_config(sources);
  if (!config) return fail(config.error());

  if (show_cmd->parsed()) {
    std::cout << render_config(*config);
    return 0;
  }
  if (auto status = setup_logging(config->log); !status) return fail(status.error());
  if (serve_cmd->parsed()) return serve(std::move(config).value());
  if (keys_create_cmd->parsed()) return keys_create(std::move(config).value(), key_args);
  if (keys_list_cmd->parsed()) return keys_list(std::move(config).value(), keys_user);
  if (keys_revoke_cmd->parsed()) return keys_revoke(std::move(config).value(), revoke_id);
  if (audit_export_cmd->parsed()) return audit_export(std::move(config).value(), audit_after);
  if (store_encrypt_cmd->parsed()) return store_encryption(std::move(config).value(), true);
  if (store_decrypt_cmd->parsed()) return store_encryption(std::move(config).value(), false);
  if (store_backup_cmd->parsed()) return store_backup(std::move(config).value(), backup_file);
  if (chat_cmd->parsed()) return chat(std::move(config).value(), user, json_output, new_session);
  if (memory_import_cmd->parsed())
    return memory_import(*config, memory_user, import_file, config->session.idle_gap_minutes);
  if (memory_search_cmd->parsed()) return memory_search(std::move(config).value(), memory_user, memory_k);
  if (memory_facts_cmd->parsed()) return memory_facts(std::move(config).value(), memory_user, all_facts);
  if (memory_export_cmd->parsed())
    return memory_export(std::move(config).value(), memory_user, export_format);
  if (memory_erase_cmd->parsed()) return memory_erase(std::move(config).value(), memory_user);
  if (ingest_cmd->parsed()) return kb_ingest(std::move(config).value(), ingest_args);
  if (search_cmd->parsed()) return kb_search(std::move(config).value(), search_args);
  if (stats_cmd->parsed()) return kb_stats(std::move(config).value());
  if (list_cmd->parsed()) return kb_list(std::move(config).value(), list_store);
  if (delete_cmd->parsed())
    return kb_delete(std::move(config).value(), delete_store, delete_files, delete_all);
  if (reindex_cmd->parsed()) return kb_reindex(std::move(config).value(), reindex_store);
  if (eval_retrieval_cmd->parsed()) return eval_retrieval(std::move(config).value(), eval_args);
  if (eval_routing_cmd->parsed()) return eval_routing(std::move(config).value(), routing_file, routing_json);
  if (route_cmd->parsed()) return route_messages(std::move(config).value());
  if (eval_memory_cmd->parsed()) {
    std::vector<std::string> passthrough;
    if (!config_file.empty()) passthrough.insert(passthrough.end(), {"--config", config_file});
    if (!data_dir.empty()) passthrough.insert(passthrough.end(), {"--data-dir", data_dir});
    for (const auto& setting : settings) passthrough.insert(passthrough.end(), {"--set", setting});
    return eval_memory(std::move(config).value(), lives_file, passthrough, memory_eval_json);
  }
  return 2;
}

}  // namespace brandcoach::cli
