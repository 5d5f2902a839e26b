#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

struct Endpoint {
  std::string_view path;
  std::vector<std::string> methods;
  Access access;
};

// Every route and who may call it: the one table the authorisation check reads.
const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> table = {
      {"/healthz", {"GET"}, Access::open},
      {"/readyz", {"GET"}, Access::open},
      {"/metrics", {"GET"}, Access::admin},
      {"/api/chat", {"POST"}, Access::user},
      {"/api/me/profile", {"GET"}, Access::user},
      {"/api/me/facts/{id}", {"PATCH"}, Access::user},
      {"/api/me/history", {"GET"}, Access::user},
      {"/api/me/export", {"GET"}, Access::user},
      {"/api/me", {"DELETE"}, Access::user},
      {"/api/me/session", {"POST"}, Access::user},
      {"/api/openapi.json", {"GET"}, Access::open},
      {"/api/admin/stores", {"GET", "POST"}, Access::admin},
      {"/api/admin/stores/{id}", {"GET", "DELETE"}, Access::admin},
      {"/api/admin/stores/{id}/files", {"GET", "POST"}, Access::admin},
      {"/api/admin/users", {"GET"}, Access::admin},
      {"/api/admin/usage", {"GET"}, Access::admin},
      {"/api/admin/analytics", {"GET"}, Access::admin},
      {"/api/admin/analytics/journey/{user}", {"GET"}, Access::admin},
      {"/api/admin/analytics/memory", {"GET"}, Access::admin},
      {"/api/admin/analytics/memory/probe", {"POST"}, Access::admin},
      {"/api/admin/analytics/costs", {"GET"}, Access::admin},
      {"/api/admin/analytics/routing", {"GET"}, Access::admin},
      {"/api/admin/analytics/latency", {"GET"}, Access::admin},
      {"/api/admin/alerts", {"GET"}, Access::admin},
      {"/api/admin/alerts/evaluate", {"POST"}, Access::admin},
      {"/api/admin/audit", {"GET"}, Access::admin},
      {"/api/admin/stores/{id}/reindex", {"POST"}, Access::admin},
      {"/api/admin/stores/{id}/search", {"POST"}, Access::admin},
      {"/api/ui/config", {"GET"}, Access::open},
      {"/api/ui/logo", {"GET"}, Access::open},
      {"/api/passages/{id}", {"GET"}, Access::user},
      // The web UI's pages load without a token (they hold no data); what they fetch needs one.
      {"/", {"GET"}, Access::open},
      {"/admin", {"GET"}, Access::open},
      {"/assets/{file}", {"GET"}, Access::open},
      {"/v1/chat/completions", {"POST"}, Access::user},
      {"/v1/models", {"GET"}, Access::user},
      {"/v1/models/{id}", {"GET"}, Access::user},
      {"/v1/responses", {"POST"}, Access::user},
      {"/v1/responses/{id}", {"GET", "DELETE"}, Access::user},
      {"/v1/responses/{id}/input_items", {"GET"}, Access::user},
      {"/v1/files", {"GET", "POST"}, Access::user},
      {"/v1/files/{id}", {"GET", "DELETE"}, Access::user},
      {"/v1/files/{id}/content", {"GET"}, Access::user},
      {"/v1/vector_stores", {"GET", "POST"}, Access::user},
      {"/v1/vector_stores/{id}", {"GET", "POST", "DELETE"}, Access::user},
      {"/v1/vector_stores/{id}/files", {"GET", "POST"}, Access::user},
      {"/v1/vector_stores/{id}/files/{file_id}", {"GET", "POST", "DELETE"}, Access::user},
      {"/v1/vector_stores/{id}/search", {"POST"}, Access::user},
      {"/v1/vector_stores/{id}/file_batches", {"POST"}, Access::user},
      {"/v1/vector_stores/{id}/file_batches/{batch_id}", {"GET"}, Access::user},
      {"/v1/vector_stores/{id}/file_batches/{batch_id}/cancel", {"POST"}, Access::user},
      {"/v1/vector_stores/{id}/file_batches/{batch_id}/files", {"GET"}, Access::user},
  };
  return table;
}

// Path segments; "{name}" in a pattern matches any one non-empty segment.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t end = std::min(path.find('/', pos), path.size());
    out.push_back(path.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

bool matches(std::string_view pattern, std::string_view path) {
  const auto want = segments(pattern);
  const auto have = segments(path);
  if (want.size() != have.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    const bool parameter = !want[i].empty() && want[i].front() == '{';
    if (parameter ? have[i].empty() : want[i] != have[i]) return false;
  }
  return true;
}

nlohmann::json message_json(const store::Message& m) {
  return {{"seq", m.seq},
          {"role", m.role},
          {"text", m.text},
          {"assistant", m.assistant},
          {"session", m.session_no},
          {"created_at", iso_time(m.created_at)},
          {"route", parse_json(m.route_json)},
          {"citations", parse_json(m.citations_json)}};
}

// The caller's user record; reading routes never create a user.
Result<std::optional<store::User>> caller(const Principal& principal, const Services& services) {
  return services.store.find_user(principal.user);
}

Response profile(const Principal& principal, const Services& services) {
  auto user = caller(principal, services);
  if (!user) return error_response(user.error());
  nlohmann::json facts = nlohmann::json::array();
  nlohmann::json by_category = nlohmann::json::object();
  if (*user) {
    auto all = services.store.list_facts((*user)->id, true);
    if (!all) return error_response(all.error());
    facts = memory::current_facts_json(*all);
    // Each fact shows the message it came from (the user's own words and when they said them).
    std::vector<int64_t> sources;
    for (const auto& entry : facts) sources.push_back(entry.value("source_message_id", int64_t{0}));
    auto messages = services.store.messages_by_id((*user)->id, sources);
    if (!messages) return error_response(messages.error());
    std::unordered_map<int64_t, const store::Message*> by_id;
    for (const auto& m : *messages) by_id.emplace(m.id, &m);
    for (auto& entry : facts) {
      const auto found = by_id.find(entry.value("source_message_id", int64_t{0}));
      entry["source"] = found == by_id.end()
                            ? nlohmann::json(nullptr)
                            : nlohmann::json{{"seq", found->second->seq},
                                             {"text", found->second->text},
                                             {"created_at", iso_time(found->second->created_at)}};
    }
    for (const auto& entry : facts) by_category[entry["category"].get<std::string>()].push_back(entry);
  }
  const std::string id = *user ? (*user)->external_id : principal.user;
  return json_response(200, {{"user", id},
                             {"display_name", *user ? (*user)->display_name : ""},
                             {"facts", std::move(facts)},
                             {"by_category", std::move(by_category)}});
}

Result<nlohmann::json> parse_fact_change(std::string_view body) {
  auto json = parse_json(body);
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

Response change_fact(const Request& request, const Principal& principal, const Services& services) {
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
  auto user = caller(principal, services);
  if (!user) return error_response(user.error());
  if (!*user) return error_response(Error::not_found(fmt::format("no fact {}", fact_id)));
  auto changed =
      services.coach.memory().change_fact((*user)->id, fact_id, (*change)["action"].get<std::string>(),
                                          change->value("value", std::string()), "user");
  // A change the caller got wrong (no such fact, a bad action) is theirs, not the memory's failure.
  const bool failed = !changed && http_status(changed.error().kind) >= 500;
  services.metrics.count_memory_operation("fact_change", changed ? "ok" : failed ? "error" : "rejected");
  if (!changed) return error_response(changed.error());
  return json_response(200, memory::to_json(*changed));
}

Response history(const Request& request, const Principal& principal, const Services& services) {
  auto before = integer_param(request.query, "before", INT64_MAX, 1, INT64_MAX);
  if (!before) return error_response(before.error());
  auto limit = integer_param(request.query, "limit", 50, 1, 500);
  if (!limit) return error_response(limit.error());
  auto user = caller(principal, services);
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

Response export_user(const Request& request, const Principal& principal, const Services& services) {
  const auto format = query_param(request.query, "format").value_or("json");
  if (format != "json" && format != "md")
    return error_response(Error::invalid("format must be json or md", "format"));
  auto user = caller(principal, services);
  if (!user) return error_response(user.error());
  if (!*user) return error_response(Error::not_found("nothing is kept about this user"));
  auto exported = services.coach.memory().export_json(**user);
  services.metrics.count_memory_operation("export", exported ? "ok" : "error");
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

Response erase_user(const Principal& principal, const Services& services) {
  auto user = caller(principal, services);
  if (!user) return error_response(user.error());
  if (!*user) return json_response(200, {{"erased", false}, {"reason", "nothing was kept about this user"}});
  auto own_stores = services.store.list_user_stores((*user)->id);
  if (!own_stores) return error_response(own_stores.error());
  if (auto status = services.store.erase_user((*user)->id, "user"); !status) {
    services.metrics.count_memory_operation("erase", "error");
    return error_response(status.error());
  }
  services.metrics.count_memory_operation("erase", "ok");
  // The indexes of the user's own vector stores go with them.
  for (const auto& s : *own_stores) {
    if (auto status = services.indexes.remove_files(s.id); !status)
      spdlog::warn("erased user's store {}: {}", s.name, status.error().message);
  }
  return json_response(200, {{"erased", true}});
}

Response new_session(const Principal& principal, const Services& services) {
  if (auto status = services.coach.start_new_session(principal.user); !status)
    return error_response(status.error());
  return json_response(200, {{"new_session", true}});
}

// ---- admin ----

nlohmann::json store_json(const store::KnowledgeStore& s) {
  return {{"id", s.id},
          {"name", s.name},
          {"embedder", s.embedder},
          {"chunking", parse_json(s.chunking_json.empty() ? "{}" : s.chunking_json)},
          {"version", s.version},
          {"files", s.files},
          {"chunks", s.chunks},
          {"bytes", s.bytes},
          {"created_at", iso_time(s.created_at)}};
}

nlohmann::json file_json(const store::StoredFile& f) {
  return {{"id", f.id},
          {"filename", f.filename},
          {"bytes", f.bytes},
          {"format", f.format},
          {"title", f.title},
          {"chunks", f.chunks},
          {"status", f.status},
          {"attributes", parse_json(f.attributes_json)},
          {"created_at", iso_time(f.created_at)}};
}

// A store by its numeric id or its name.
Result<store::KnowledgeStore> find_store(const Services& services, const std::string& key) {
  auto stores = services.store.list_knowledge_stores();
  if (!stores) return stores.error();
  for (const auto& s : *stores) {
    if (s.name == key || std::to_string(s.id) == key) return s;
  }
  return Error::not_found("no knowledge store '" + key + "'");
}

Status check_store_name(const std::string& name) {
  const bool valid = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
           c == '-' || c == '_';
  });
  if (!valid) return Error::invalid("name must be 1 to 64 characters of a-z, 0-9, - and _", "name");
  return ok();
}

Response create_store(const Request& request, const Services& services) {
  auto body = parse_json(request.body);
  if (!body.is_object()) return error_response(Error::invalid("request body must be a JSON object"));
  for (const auto& [key, value] : body.items()) {
    if (key != "name" && key != "chunking")
      return error_response(Error::invalid("unknown field '" + key + "'", key));
  }
  if (!body.contains("name") || !body["name"].is_string())
    return error_response(Error::invalid("name is required (a string)", "name"));
  const std::string name = body["name"];
  if (auto status = check_store_name(name); !status) return error_response(status.error());
  text::ChunkOptions chunking;
  if (body.contains("chunking")) {
    const auto& c = body["chunking"];
    if (!c.is_object() || !c.contains("max_chunk_size_tokens") ||
        !c["max_chunk_size_tokens"].is_number_integer() || !c.contains("chunk_overlap_tokens") ||
        !c["chunk_overlap_tokens"].is_number_integer())
      return error_response(Error::invalid(
          "chunking must be {max_chunk_size_tokens, chunk_overlap_tokens} (integers)", "chunking"));
    const int64_t size = c["max_chunk_size_tokens"];
    const int64_t overlap = c["chunk_overlap_tokens"];
    if (size < 100 || size > 4096 || overlap < 0 || overlap * 2 > size)
      return error_response(Error::invalid(
          "max_chunk_size_tokens must be 100 to 4096 and chunk_overlap_tokens at most half of it",
          "chunking"));
    chunking.max_tokens = static_cast<size_t>(size);
    chunking.overlap_tokens = static_cast<size_t>(overlap);
  }
  auto existing = services.store.find_knowledge_store(name);
  if (!existing) return error_response(existing.error());
  if (*existing)
    return error_response(
        Error{ErrorKind::conflict, "a knowledge store named '" + name + "' exists", "name"});
  auto id = services.store.ensure_knowledge_store(name);
  if (!id) return error_response(id.error());
  const nlohmann::json chunking_json = {{"max_chunk_size_tokens", chunking.max_tokens},
                                        {"chunk_overlap_tokens", chunking.overlap_tokens}};
  if (auto status = services.store.configure_knowledge_store(*id, services.indexes.embedder().id(),
                                                             chunking_json.dump());
      !status)
    return error_response(status.error());
  auto created = find_store(services, name);
  if (!created) return error_response(created.error());
  return json_response(201, store_json(*created));
}

Response upload_files(const Request& request, const store::KnowledgeStore& target, const Services& services) {
  auto parts = parse_multipart(request.content_type, request.body);
  if (!parts) return error_response(parts.error());
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& part : *parts) {
    if (part.name != "attributes") continue;
    attributes = parse_json(part.data);
    if (!attributes.is_object())
      return error_response(Error::invalid("attributes must be a JSON object", "attributes"));
  }
  ingest::Batch batch;
  for (const auto& part : *parts) {
    if (part.name != "file") continue;
    // Only the last path component names the file: "../../etc/passwd" is stored as "passwd".
    std::string name = part.filename.substr(part.filename.find_last_of("/\\") + 1);
    if (name.empty() || name == "." || name == "..") {
      batch.failures.push_back({part.filename, "a file part needs a filename"});
      continue;
    }
    auto documents = ingest::read_document(name, name, part.data);
    if (!documents) {
      batch.failures.push_back({name, documents.error().message});
      continue;
    }
    for (auto& doc : *documents) {
      for (const auto& [key, value] : attributes.items()) doc.attributes[key] = value;
      batch.documents.push_back(std::move(doc));
    }
  }
  if (batch.documents.empty() && batch.failures.empty())
    return error_response(Error::invalid("the upload has no 'file' part", "file"));
  coach::IngestOptions options;
  const auto chunking = parse_json(target.chunking_json.empty() ? "{}" : target.chunking_json);
  if (chunking.is_object() && chunking.contains("max_chunk_size_tokens")) {
    options.chunking.max_tokens = chunking.value("max_chunk_size_tokens", size_t{800});
    options.chunking.overlap_tokens = chunking.value("chunk_overlap_tokens", size_t{400});
  }
  auto report = coach::ingest_into(services.store, services.indexes, target.name, std::move(batch), options);
  if (!report) return error_response(report.error());
  if (auto status = services.indexes.save_all(); !status) return error_response(status.error());
  nlohmann::json failures = nlohmann::json::array();
  for (const auto& f : report->failures) failures.push_back({{"file", f.path}, {"reason", f.reason}});
  return json_response(
      report->added + report->updated + report->unchanged + report->duplicates > 0 ? 200 : 400,
      {{"store", target.name},
       {"added", report->added},
       {"updated", report->updated},
       {"unchanged", report->unchanged},
       {"duplicates", report->duplicates},
       {"chunks", report->chunks},
       {"bytes", report->bytes},
       {"failures", std::move(failures)}});
}

Response admin_users(const Request& request, const Services& services) {
  auto limit = integer_param(request.query, "limit", 50, 1, 500);
  if (!limit) return error_response(limit.error());
  const std::string after = query_param(request.query, "after").value_or("");
  auto users = services.store.list_users(after, static_cast<int>(*limit) + 1);
  if (!users) return error_response(users.error());
  const bool more = users->size() > static_cast<size_t>(*limit);
  if (more) users->pop_back();
  nlohmann::json data = nlohmann::json::array();
  for (const auto& u : *users) {
    data.push_back(
        {{"user", u.user},
         {"display_name", u.display_name},
         {"created_at", iso_time(u.created_at)},
         {"messages", u.messages},
         {"last_active_at", u.last_active_at ? nlohmann::json(iso_time(u.last_active_at)) : nullptr},
         {"active_facts", u.active_facts},
         {"tokens", u.tokens},
         {"cost_usd", u.cost_usd}});
  }
  return json_response(
      200, {{"object", "list"},
            {"data", std::move(data)},
            {"has_more", more},
            {"last_user", users->empty() ? nlohmann::json(nullptr) : nlohmann::json(users->back().user)}});
}

bool is_day(const std::string& text) {
  return text.size() == 10 && text[4] == '-' && text[7] == '-' &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '-'; });
}

Response admin_usage(const Request& request, const Services& services) {
  const std::string from = query_param(request.query, "from").value_or("");
  const std::string to = query_param(request.query, "to").value_or("");
  if (!from.empty() && !is_day(from))
    return error_response(Error::invalid("from must be YYYY-MM-DD", "from"));
  if (!to.empty() && !is_day(to)) return error_response(Error::invalid("to must be YYYY-MM-DD", "to"));
  auto rows = services.store.usage_totals(from, to);
  if (!rows) return error_response(rows.error());
  nlohmann::json data = nlohmann::json::array();
  nlohmann::json by_assistant = nlohmann::json::object();
  std::set<std::string> users;
  int64_t input = 0, output = 0;
  double cost = 0;
  for (const auto& r : *rows) {
    data.push_back({{"day", r.day},
                    {"assistant", r.assistant},
                    {"user", r.user},
                    {"input_tokens", r.input_tokens},
                    {"output_tokens", r.output_tokens},
                    {"cost_usd", r.cost_usd}});
    auto& a = by_assistant[r.assistant];
    if (a.is_null()) a = {{"input_tokens", 0}, {"output_tokens", 0}, {"cost_usd", 0.0}};
    a["input_tokens"] = a.value("input_tokens", int64_t{0}) + r.input_tokens;
    a["output_tokens"] = a.value("output_tokens", int64_t{0}) + r.output_tokens;
    a["cost_usd"] = a.value("cost_usd", 0.0) + r.cost_usd;
    users.insert(r.user);
    input += r.input_tokens;
    output += r.output_tokens;
    cost += r.cost_usd;
  }
  return json_response(
      200,
      {{"from", from.empty() ? nlohmann::json(nullptr) : nlohmann::json(from)},
       {"to", to.empty() ? nlohmann::json(nullptr) : nlohmann::json(to)},
       {"totals",
        {{"input_tokens", input}, {"output_tokens", output}, {"cost_usd", cost}, {"users", users.size()}}},
       {"by_assistant", std::move(by_assistant)},
       {"rows", std::move(data)}});
}

// GET /api/admin/audit?after=ID&limit=N: every audit row in id order, a page at a time.
Response admin_audit(const Request& request, const Services& services) {
  auto after = integer_param(request.query, "after", 0, 0, INT64_MAX);
  if (!after) return error_response(after.error());
  auto limit = integer_param(request.query, "limit", 100, 1, 1000);
  if (!limit) return error_response(limit.error());
  auto entries = services.store.audit_entries(*after, static_cast<int>(*limit));
  if (!entries) return error_response(entries.error());
  nlohmann::json data = nlohmann::json::array();
  for (const auto& e : *entries) data.push_back(memory::audit_json(e));
  const bool full = static_cast<int64_t>(entries->size()) == *limit;
  return json_response(200,
                       {{"object", "list"},
                        {"data", std::move(data)},
                        {"next_after", full ? nlohmann::json(entries->back().id) : nlohmann::json(nullptr)}});
}

Response admin(const Request& request, const std::string& route, const Services& services) {
  if (route == "/api/admin/users") return admin_users(request, services);
  if (route == "/api/admin/usage") return admin_usage(request, services);
  if (route == "/api/admin/analytics") return admin_analytics(request, services);
  if (route == "/api/admin/analytics/journey/{user}") return analytics_journey(request, route, services);
  if (route == "/api/admin/analytics/memory") return analytics_memory(services, false);
  if (route == "/api/admin/analytics/memory/probe") return analytics_memory(services, true);
  if (route == "/api/admin/analytics/costs") return analytics_costs(request, services);
  if (route == "/api/admin/analytics/routing") return analytics_routing(request, services);
  if (route == "/api/admin/analytics/latency") return analytics_latency(services);
  if (route == "/api/admin/alerts") return admin_alerts(services, false);
  if (route == "/api/admin/audit") return admin_audit(request, services);
  if (route == "/api/admin/alerts/evaluate") return admin_alerts(services, true);
  if (route == "/api/admin/stores") {
    if (request.method == "POST") return create_store(request, services);
    auto stores = services.store.list_knowledge_stores();
    if (!stores) return error_response(stores.error());
    nlohmann::json data = nlohmann::json::array();
    for (const auto& s : *stores) data.push_back(store_json(s));
    return json_response(200, {{"object", "list"}, {"data", std::move(data)}});
  }
  auto target = find_store(services, path_parameter(route, request.path));
  if (!target) return error_response(target.error());
  if (route == "/api/admin/stores/{id}") {
    if (request.method == "GET") return json_response(200, store_json(*target));
    if (auto status = services.store.delete_knowledge_store(target->id); !status)
      return error_response(status.error());
    if (auto status = services.indexes.remove_files(target->id); !status)
      spdlog::warn("knowledge store {} deleted, its index files not: {}", target->name,
                   status.error().message);
    return json_response(200, {{"id", target->id}, {"name", target->name}, {"deleted", true}});
  }
  if (route == "/api/admin/stores/{id}/reindex") return admin_store_reindex(*target, services);
  if (route == "/api/admin/stores/{id}/search") return admin_store_search(request, *target, services);
  if (request.method == "POST") return upload_files(request, *target, services);
  auto files = services.store.list_files(target->id);
  if (!files) return error_response(files.error());
  nlohmann::json data = nlohmann::json::array();
  for (const auto& f : *files) data.push_back(file_json(f));
  return json_response(200, {{"object", "list"}, {"store", target->name}, {"data", std::move(data)}});
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

Response chat(const Request& request, const Principal& principal, const Services& services) {
  auto parsed = parse_chat_request(request.body);
  if (!parsed) return error_response(parsed.error());
  return chat_response(*parsed, principal.user, services);
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
  } catch (const nlohmann::json::out_of_range&) {
    return Error::invalid("request body holds a number beyond the range of a double");
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
  out.format = native_stream_format();
  return out;
}

namespace {

// What every chat turn does once the coach has answered: the metrics, then the format's own finish.
Result<coach::TurnResult> settle_chat_turn(const ChatRequest& chat, const std::string& user,
                                           const Services& services, Result<coach::TurnResult> result) {
  if (!result) return result.error();
  auto sample = turn_sample(*result);
  // A fallback is the failure of the provider that was asked, whoever answered in the end.
  if (result->degraded) sample.provider = services.coach.provider_name();
  services.metrics.observe_turn(sample);
  if (auto status = chat.format->finish(services, user, *result); !status) return status.error();
  return result;
}

}  // namespace

Result<coach::TurnResult> run_chat_turn(const ChatRequest& chat, const std::string& user,
                                        const Services& services, coach::TurnEvents events,
                                        const std::function<void(std::string)>& emit) {
  events.assistant = chat.assistant;
  chat.format->configure(events, emit);
  return settle_chat_turn(chat, user, services, services.coach.turn(user, chat.message, events));
}

void start_chat_turn(const ChatRequest& chat, const std::string& user, const Services& services,
                     coach::TurnEvents events, const std::function<void(std::string)>& emit,
                     coach::Scheduler schedule, std::function<void(Result<coach::TurnResult>)> done) {
  events.assistant = chat.assistant;
  chat.format->configure(events, emit);
  services.coach.turn_async(
      user, chat.message, std::move(events), std::move(schedule),
      [chat, user, &services, done = std::move(done)](Result<coach::TurnResult> result) {
        Result<coach::TurnResult> settled = Error::internal("the turn could not be finished");
        try {
          settled = settle_chat_turn(chat, user, services, std::move(result));
        } catch (const std::exception& e) {
          spdlog::error("finishing a chat turn failed: {}", e.what());
        }
        done(std::move(settled));
      });
}

Response chat_response(const ChatRequest& chat, const std::string& user, const Services& services) {
  if (auto status = chat.format->prepare(services, user); !status) return error_response(status.error());
  auto result = run_chat_turn(chat, user, services, {}, {});
  if (!result) return error_response(result.error());
  return chat.format->complete(*result);
}

namespace {

class NativeStream final : public StreamFormat {
 public:
  std::string route(const route::Decision& decision) override {
    return sse_event("route", coach::to_json(decision));
  }
  std::string delta(std::string_view text) override { return sse_event("delta", {{"text", text}}); }
  std::string done(const coach::TurnResult& result) override {
    std::string out;
    for (const auto& c : result.citations) out += sse_event("citation", coach::to_json(c));
    return out + sse_event("done", coach::to_json(result));
  }
  std::string error(const Error& error) override {
    return sse_event("error", nlohmann::json::parse(error_response(error).body));
  }
  Response complete(const coach::TurnResult& result) override {
    return json_response(200, coach::to_json(result));
  }
};

}  // namespace

Response json_response(int status, const nlohmann::json& body) {
  return {status,
          "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
          {}};
}

std::string path_parameter(std::string_view pattern, std::string_view path, size_t n) {
  const auto want = segments(pattern);
  const auto have = segments(path);
  for (size_t i = 0; i < want.size() && i < have.size(); ++i) {
    if (!want[i].empty() && want[i].front() == '{' && n-- == 0) return std::string(have[i]);
  }
  return {};
}

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
  const auto out_of_range = [&] {
    return Error::invalid(fmt::format("{} must be an integer from {} to {}", name, min, max),
                          std::string(name));
  };
  // Digits only (no sign, no spaces); from_chars reports a value past int64 instead of overflowing
  // (found by fuzzing: before=9223372036854775887).
  if (!std::all_of(raw->begin(), raw->end(), [](unsigned char c) { return std::isdigit(c) != 0; }))
    return out_of_range();
  int64_t value = 0;
  const char* end = raw->data() + raw->size();
  const auto [stopped, error] = std::from_chars(raw->data(), end, value);
  if (error != std::errc() || stopped != end || value < min || value > max) return out_of_range();
  return value;
}

Result<nlohmann::json> list_page(const std::vector<nlohmann::json>& items, std::string_view query,
                                 int64_t default_limit, int64_t max_limit) {
  auto limit = integer_param(query, "limit", default_limit, 1, max_limit);
  if (!limit) return limit.error();
  const std::string order = query_param(query, "order").value_or("desc");
  if (order != "asc" && order != "desc") return Error::invalid("order must be 'asc' or 'desc'", "order");
  std::vector<const nlohmann::json*> ordered;
  for (const auto& item : items) ordered.push_back(&item);
  if (order == "desc") std::reverse(ordered.begin(), ordered.end());
  const auto position = [&](const std::string& name) -> Result<size_t> {
    const auto id = query_param(query, name);
    if (!id || id->empty()) return name == "after" ? size_t{0} : ordered.size();
    for (size_t i = 0; i < ordered.size(); ++i) {
      if ((*ordered[i])["id"] == *id) return name == "after" ? i + 1 : i;
    }
    return Error::invalid("no object with id '" + *id + "' in this list", name);
  };
  auto first = position("after");
  if (!first) return first.error();
  auto end = position("before");
  if (!end) return end.error();
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = *first; i < *end && data.size() < static_cast<size_t>(*limit); ++i)
    data.push_back(*ordered[i]);
  const bool more = *first + data.size() < *end;
  return nlohmann::json{{"object", "list"},
                        {"data", data},
                        {"first_id", data.empty() ? nlohmann::json(nullptr) : data.front()["id"]},
                        {"last_id", data.empty() ? nlohmann::json(nullptr) : data.back()["id"]},
                        {"has_more", more}};
}

std::shared_ptr<StreamFormat> native_stream_format() {
  return std::make_shared<NativeStream>();
}

obs::TurnSample turn_sample(const coach::TurnResult& result) {
  const auto total = result.timings_ms.find("total");
  return {result.assistant,
          result.route.method,
          result.provider,
          result.usage.input_tokens,
          result.usage.output_tokens,
          result.cost_usd,
          result.degraded,
          result.new_session,
          total == result.timings_ms.end() ? 0.0 : total->second / 1000.0,
          result.route.confidence};
}

Response error_response(const Error& error) {
  nlohmann::json body = {
      {"error",
       {{"type", error_type(error.kind)},
        {"message", error.message},
        {"param", error.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(error.param)},
        {"code", nullptr}}}};
  Response response = json_response(http_status(error.kind), body);
  if (error.retry_after_s > 0)
    response.headers.emplace_back("Retry-After", std::to_string(error.retry_after_s));
  if (error.kind == ErrorKind::unauthenticated) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

namespace {

// Hits and misses of each cache layer, read from the caches' own counters.
std::string cache_metrics(const Services& services) {
  std::vector<std::tuple<std::string_view, const cache::LayerStats*>> layers;
  if (services.cache) {
    layers.emplace_back("l1", &services.cache->l1_stats());
    if (services.cache->distributed()) layers.emplace_back("l2", &services.cache->l2_stats());
  }
  if (services.answers) layers.emplace_back("semantic", &services.answers->stats());
  if (layers.empty()) return {};
  std::string text =
      "# HELP brandcoach_cache_hits_total Lookups answered by a cache layer.\n"
      "# TYPE brandcoach_cache_hits_total counter\n";
  for (const auto& [layer, stats] : layers)
    text += fmt::format("brandcoach_cache_hits_total{{layer=\"{}\"}} {}\n", layer, stats->hits.load());
  text +=
      "# HELP brandcoach_cache_misses_total Lookups a cache layer could not answer.\n"
      "# TYPE brandcoach_cache_misses_total counter\n";
  for (const auto& [layer, stats] : layers)
    text += fmt::format("brandcoach_cache_misses_total{{layer=\"{}\"}} {}\n", layer, stats->misses.load());
  return text;
}

}  // namespace

Result<std::optional<Principal>> admit(const Request& request, const Services& services, double now_s) {
  const auto match = match_route(request.path);
  if (match.methods.empty() || match.access == Access::open) return std::optional<Principal>{};
  // Per address first, so a flood of bad tokens is slowed before any lookup.
  if (const int64_t wait = services.ip_limits.take("ip:" + request.peer, now_s); wait > 0) {
    return Error{ErrorKind::rate_limited, "too many requests from this address", {}, wait};
  }
  auto principal =
      services.auth.authenticate(request.authorization, request.user_header, static_cast<int64_t>(now_s));
  if (!principal) return principal.error();
  if (match.access == Access::admin && principal->role != "admin")
    return Error{ErrorKind::forbidden, request.path + " needs the admin role", {}};
  if (const int64_t wait = services.user_limits.take("user:" + principal->user, now_s); wait > 0) {
    return Error{ErrorKind::rate_limited, "too many requests for this user", {}, wait};
  }
  return std::optional<Principal>{std::move(principal).value()};
}

std::string sse_event(std::string_view name, const nlohmann::json& data) {
  return fmt::format("event: {}\ndata: {}\n\n", name,
                     data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

RouteMatch match_route(std::string_view path) {
  for (const auto& endpoint : endpoints()) {
    if (matches(endpoint.path, path)) return {std::string(endpoint.path), endpoint.methods, endpoint.access};
  }
  return {"unmatched", {}, Access::open};
}

bool is_upload_route(std::string_view route) {
  return route == "/api/admin/stores/{id}/files" || route == "/v1/files";
}

std::vector<RouteMatch> routes() {
  std::vector<RouteMatch> out;
  for (const auto& endpoint : endpoints())
    out.push_back({std::string(endpoint.path), endpoint.methods, endpoint.access});
  return out;
}

namespace {

// Every admin request leaves an audit row (user 0: about no user): who, what, and how it ended.
// The query string is kept (it names what was read); bodies are not (uploads, and they may be large).
void audit_admin_action(const Request& request, const Principal& principal, int status,
                        const Services& services) {
  store::AuditEntry entry;
  entry.actor = principal.user.empty() ? "anonymous" : principal.user;
  entry.action = "admin." + request.method;
  entry.object = request.query.empty() ? request.path : request.path + "?" + request.query;
  entry.after_json =
      nlohmann::json{{"status", status}, {"request_id", request.request_id}, {"peer", request.peer}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
  entry.at = unix_millis();
  if (auto written = services.store.append_audit(entry); !written)
    spdlog::error("audit: cannot record {} {} by {}: {}", request.method, request.path, entry.actor,
                  written.error().message);
}

}  // namespace

Response handle(const Request& request, const Principal& principal, const Services& services) {
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
    return {200,
            "text/plain; version=0.0.4; charset=utf-8",
            services.metrics.render() + cache_metrics(services),
            {}};
  }
  if (match.route == "/api/me/profile") return profile(principal, services);
  if (match.route == "/api/me/facts/{id}") return change_fact(request, principal, services);
  if (match.route == "/api/me/history") return history(request, principal, services);
  if (match.route == "/api/me/export") return export_user(request, principal, services);
  if (match.route == "/api/me") return erase_user(principal, services);
  if (match.route == "/api/me/session") return new_session(principal, services);
  if (match.route == "/api/openapi.json") return json_response(200, openapi_document());
  if (match.route == "/api/ui/config") return ui_config(services);
  if (match.route == "/api/ui/logo") return ui_logo(request, services);
  if (match.route == "/api/passages/{id}") return passage(request, match.route, principal, services);
  if (match.route == "/" || match.route == "/admin" || match.route == "/assets/{file}")
    return web_page(request, match.route, services);
  if (match.route.starts_with("/api/admin/")) {
    Response response = admin(request, match.route, services);
    audit_admin_action(request, principal, response.status, services);
    return response;
  }
  if (match.route == "/v1/models") return openai_models(services);
  if (match.route == "/v1/models/{id}") {
    const std::string id = path_parameter(match.route, request.path);
    const auto models = openai_model_list(services.coach.assistants());
    for (const auto& model : models["data"]) {
      if (model["id"] == id) return json_response(200, model);
    }
    return error_response(Error::not_found("The model `" + id + "` does not exist"));
  }
  if (match.route == "/v1/chat/completions" || match.route == "/v1/responses") {
    auto parsed = match.route == "/v1/responses"
                      ? parse_openai_responses_request(request.body, services.coach.assistants())
                      : parse_openai_chat_request(request.body, services.coach.assistants());
    if (!parsed) return error_response(parsed.error());
    return chat_response(*parsed, principal.user, services);
  }
  if (match.route.starts_with("/v1/responses/"))
    return openai_stored_responses(request, match.route, principal, services);
  if (match.route.starts_with("/v1/files")) return openai_files(request, match.route, principal, services);
  if (match.route.starts_with("/v1/vector_stores"))
    return openai_vector_stores(request, match.route, principal, services);
  return chat(request, principal, services);
}

}  // namespace brandcoach::http
