// `brandcoach memory …`: import a thread, search it, list facts, export and erase a user.
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/cli/app.hpp"
#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::cli {

namespace {

constexpr size_t kImportBatch = 500;
constexpr size_t kMaxImportLineBytes = 64 * 1024;

// The user must already exist for every command but import: a typo must not create an empty user.
Result<store::User> existing_user(store::Store& store, const std::string& user) {
  if (auto status = coach::validate_user_id(user); !status) return status.error();
  auto found = store.find_user(user);
  if (!found) return found.error();
  if (!*found) return Error::not_found("no user '" + user + "'");
  return **found;
}

// One import line -> a message, or the reason it cannot be one.
Result<store::Message> parse_import_line(const std::string& line, size_t line_no) {
  const auto where = [&](const std::string& what) { return fmt::format("line {}: {}", line_no, what); };
  if (line.size() > kMaxImportLineBytes) return Error::invalid(where("longer than 64 KiB"), "file");
  if (!text::is_valid_utf8(line)) return Error::invalid(where("not valid UTF-8"), "file");
  auto json = parse_json(line);
  if (json.is_discarded() || !json.is_object()) return Error::invalid(where("not a JSON object"), "file");
  store::Message m;
  if (!json.contains("text") || !json["text"].is_string())
    return Error::invalid(where("\"text\" must be a string"), "text");
  m.text = json["text"].get<std::string>();
  if (m.text.find_first_not_of(" \t\r\n") == std::string::npos)
    return Error::invalid(where("\"text\" is empty"), "text");
  const std::string role = json.value("role", std::string("user"));
  if (role != "user" && role != "assistant") {
    return Error::invalid(where("\"role\" must be \"user\" or \"assistant\""), "role");
  }
  m.role = role;
  if (json.contains("id")) {
    if (json["id"].is_string()) {
      m.external_id = json["id"].get<std::string>();
    } else if (json["id"].is_number_integer()) {
      m.external_id = std::to_string(json["id"].get<int64_t>());
    } else {
      return Error::invalid(where("\"id\" must be a string or an integer"), "id");
    }
    if (m.external_id.empty() || m.external_id.size() > 200)
      return Error::invalid(where("\"id\" must be 1-200 characters"), "id");
  }
  if (json.contains("speaker")) {
    if (!json["speaker"].is_string()) return Error::invalid(where("\"speaker\" must be a string"), "speaker");
    m.speaker = json["speaker"].get<std::string>();
  }
  if (json.contains("ts")) {
    if (!json["ts"].is_string()) return Error::invalid(where("\"ts\" must be a string"), "ts");
    const std::string ts = json["ts"].get<std::string>();
    if (auto parsed = memory::parse_timestamp(ts)) {
      m.created_at = *parsed;
    }
    m.ts_text = ts;
  }
  return m;
}

}  // namespace

int memory_import(Config config, const std::string& user, const std::string& path, int64_t idle_gap_minutes) {
  if (auto status = coach::validate_user_id(user); !status) return fail(status.error());
  if (config.memory.llm_extraction && (config.llm.base_url.empty() || config.llm.model.empty())) {
    return fail(Error::config("memory.llm_extraction needs llm.base_url and llm.model",
                              config.llm.base_url.empty() ? "llm.base_url" : "llm.model"));
  }
  std::ifstream in(path);
  if (!in) return fail(Error::not_found("cannot read " + path));
  // Parse everything first: a bad line rejects the file before anything is written.
  std::vector<store::Message> messages;
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto message = parse_import_line(line, line_no);
    if (!message) return fail(message.error());
    messages.push_back(std::move(message).value());
  }
  auto store = open_store(config);
  if (!store) return fail(store.error());
  auto owner = (*store)->ensure_user(user);
  if (!owner) return fail(owner.error());
  auto recent = (*store)->recent_messages(owner->id, 1);
  if (!recent) return fail(recent.error());
  int64_t session = recent->empty() ? 1 : recent->back().session_no;
  int64_t last_at = recent->empty() ? 0 : recent->back().created_at;
  const int64_t now = unix_millis();
  const int64_t gap_ms = idle_gap_minutes * 60 * 1000;
  memory::Memory memory(**store);
  size_t imported = 0, duplicates = 0, facts = 0;
  std::vector<store::Message> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return ok();
    // With model extraction configured, imported user messages join its durable queue; the next
    // process that runs the workers (e.g. `serve`) reads them.
    auto stored = (*store)->append_messages(std::move(batch), config.memory.llm_extraction);
    batch.clear();
    if (!stored) return stored.error();
    imported += stored->size();
    for (const auto& m : *stored) {
      auto observed = memory.observe(m);
      if (!observed) return observed.error();
      facts += observed->added.size();
    }
    return ok();
  };
  for (auto& m : messages) {
    if (!m.external_id.empty()) {
      auto existing = (*store)->find_imported_message(owner->id, m.external_id);
      if (!existing) return fail(existing.error());
      const bool in_batch = std::any_of(batch.begin(), batch.end(), [&](const store::Message& b) {
        return b.external_id == m.external_id;
      });
      if (*existing || in_batch) {
        ++duplicates;
        continue;
      }
    }
    m.user_id = owner->id;
    if (m.created_at == 0) m.created_at = now;
    // Sessions follow the same idle-gap rule as live chat, on the imported times.
    if (last_at != 0 && m.created_at - last_at > gap_ms) ++session;
    last_at = std::max(last_at, m.created_at);
    m.session_no = session;
    batch.push_back(std::move(m));
    if (batch.size() >= kImportBatch) {
      if (auto status = flush(); !status) return fail(status.error());
    }
  }
  if (auto status = flush(); !status) return fail(status.error());
  std::cerr << fmt::format("imported {} messages for '{}' ({} already present, {} facts extracted{})\n",
                           imported, user, duplicates, facts,
                           config.memory.llm_extraction ? ", user messages queued for model extraction" : "");
  return 0;
}

int memory_search(Config config, const std::string& user, int k) {
  if (k < 1 || k > 100) return fail(Error::invalid("--k must be between 1 and 100", "k"));
  auto store = open_store(config);
  if (!store) return fail(store.error());
  auto owner = existing_user(**store, user);
  if (!owner) return fail(owner.error());
  memory::Memory memory(**store);
  std::string line;
  int exit_status = 0;
  for (size_t line_no = 1; std::getline(std::cin, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string id = std::to_string(line_no);
    std::string query = line;
    if (line.front() == '{') {
      auto json = parse_json(line);
      if (json.is_discarded() || !json.is_object() || !json.contains("query") || !json["query"].is_string()) {
        exit_status =
            fail(Error::invalid(fmt::format("line {}: expected {{\"id\", \"query\"}}", line_no), "query"));
        continue;
      }
      query = json["query"].get<std::string>();
      if (json.contains("id"))
        id = json["id"].is_string() ? json["id"].get<std::string>() : json["id"].dump();
    }
    auto hits = memory.search(owner->id, query, k);
    if (!hits) return fail(hits.error());
    nlohmann::json results = nlohmann::json::array();
    for (const auto& hit : *hits) {
      const auto& m = hit.message;
      results.push_back({{"id", m.external_id.empty() ? std::to_string(m.seq) : m.external_id},
                         {"score", hit.score},
                         {"text", m.text},
                         {"ts", m.ts_text.empty() ? iso_time(m.created_at) : m.ts_text}});
    }
    std::cout << nlohmann::json{{"query_id", id}, {"results", std::move(results)}}.dump(
                     -1, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  }
  return exit_status;
}

int memory_facts(Config config, const std::string& user, bool all) {
  auto store = open_store(config);
  if (!store) return fail(store.error());
  auto owner = existing_user(**store, user);
  if (!owner) return fail(owner.error());
  auto facts = (*store)->list_facts(owner->id, all);
  if (!facts) return fail(facts.error());
  for (const auto& f : *facts) {
    std::cout << memory::to_json(f).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

int memory_export(Config config, const std::string& user, const std::string& format) {
  if (format != "json" && format != "md")
    return fail(Error::invalid("--format must be json or md", "format"));
  auto store = open_store(config);
  if (!store) return fail(store.error());
  auto owner = existing_user(**store, user);
  if (!owner) return fail(owner.error());
  memory::Memory memory(**store);
  auto exported = memory.export_json(*owner);
  if (!exported) return fail(exported.error());
  if (format == "md") {
    std::cout << memory::export_markdown(*exported);
  } else {
    std::cout << exported->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

int memory_erase(Config config, const std::string& user) {
  auto store = open_store(config);
  if (!store) return fail(store.error());
  auto owner = existing_user(**store, user);
  if (!owner) return fail(owner.error());
  if (auto status = (*store)->erase_user(owner->id, "cli"); !status) return fail(status.error());
  std::cerr << fmt::format("erased everything kept about '{}'\n", user);
  return 0;
}

Result<std::unique_ptr<store::Store>> open_database(const Config& config, int connections) {
  if (store::is_postgres_url(config.storage.url)) {
    // The pool serves every worker at once; the configured size is the floor.
    return store::open_postgres(
        {config.storage.url, std::max(connections, static_cast<int>(config.storage.connections))});
  }
  return store::open_sqlite({config.database_path(), connections, 10000, config.storage.encryption_key});
}

Result<std::unique_ptr<store::Store>> open_store(const Config& config, int connections) {
  auto store = open_database(config, connections);
  if (!store || config.cache.redis_url.empty()) return store;
  // A command that changes facts, users or stores tells every serving node to drop its copies.
  auto cache = cache::Cache::open({0, std::chrono::seconds(config.cache.ttl_s), config.cache.redis_url});
  if (!cache) return cache.error();
  return cache::make_cached_store(std::move(store).value(), std::move(cache).value());
}

}  // namespace brandcoach::cli
