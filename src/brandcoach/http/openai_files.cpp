// OpenAI's Files and Vector Stores API over the coach's stores. A user's uploads and vector stores
// are theirs alone: every lookup is by the caller's user id, and another user's id is a 404 exactly
// like an id that never existed.
//
// Fields:
//   POST /v1/files: file, purpose ("assistants" or "user_data"; others refused with 400);
//     expires_after[...] accepted and ignored (files are kept until deleted).
//   GET /v1/files: purpose, limit (≤ 10000), order, after.
//   POST /v1/vector_stores: name, file_ids, metadata, chunking_strategy (auto | static),
//     description; expires_after accepted, echoed and not enforced.
//   POST /v1/vector_stores/{id}: name, metadata, expires_after.
//   POST /v1/vector_stores/{id}/files: file_id, attributes, chunking_strategy.
//   POST /v1/vector_stores/{id}/files/{file_id}: attributes.
//   GET /v1/vector_stores/{id}/files: filter (status), limit, order, after, before.
//   POST /v1/vector_stores/{id}/file_batches: file_ids or files ([{file_id, attributes}]), attributes,
//     chunking_strategy; GET …/file_batches/{batch_id}, POST …/cancel, GET …/files (filter ignored).
//   POST /v1/vector_stores/{id}/search: query (string or list of strings), max_num_results (1–50),
//     filters, ranking_options (ranker, score_threshold); rewrite_query accepted and ignored.
#include <algorithm>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

using json = nlohmann::json;

constexpr int64_t kMaxAttributes = 16;

int64_t seconds(int64_t unix_ms) {
  return unix_ms / 1000;
}

Result<json> parse_body(const Request& request) {
  if (request.body.empty()) return json::object();
  json body = parse_json(request.body);
  if (body.is_discarded()) return Error::invalid("request body is not valid JSON");
  if (!body.is_object()) return Error::invalid("request body must be a JSON object");
  return body;
}

Status only_fields(const json& body, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      return Error::invalid("Unknown parameter: '" + key + "'.", key);
  }
  return ok();
}

// The caller's user row; nullopt when they never wrote (then they own nothing).
Result<std::optional<store::User>> find_caller(const Principal& principal, const Services& services) {
  return services.store.find_user(principal.user);
}

json file_object(const store::Upload& upload) {
  return {{"id", upload.id},
          {"object", "file"},
          {"bytes", upload.bytes},
          {"created_at", seconds(upload.created_at)},
          {"filename", upload.filename},
          {"purpose", upload.purpose},
          {"status", "processed"},
          {"status_details", nullptr},
          {"expires_at", nullptr}};
}

Error no_file(const std::string& id) {
  return Error::not_found("No such File object: " + id, "file_id");
}

Error no_store(const std::string& id) {
  return Error::not_found("No vector store found with id '" + id + "'.", "vector_store_id");
}

// ---- chunking strategies ----

Result<text::ChunkOptions> parse_chunking(const json& strategy) {
  text::ChunkOptions options;
  if (strategy.is_null()) return options;
  const std::string type = json_string(strategy, "type", "");
  if (type == "auto") return options;
  if (type != "static" || !strategy.contains("static") || !strategy["static"].is_object())
    return Error::invalid("chunking_strategy must be {type: 'auto'} or {type: 'static', static: {...}}",
                          "chunking_strategy");
  const auto& fixed = strategy["static"];
  if (!fixed.contains("max_chunk_size_tokens") || !fixed["max_chunk_size_tokens"].is_number_integer() ||
      !fixed.contains("chunk_overlap_tokens") || !fixed["chunk_overlap_tokens"].is_number_integer())
    return Error::invalid("static chunking needs integer max_chunk_size_tokens and chunk_overlap_tokens",
                          "chunking_strategy");
  const int64_t size = fixed["max_chunk_size_tokens"];
  const int64_t overlap = fixed["chunk_overlap_tokens"];
  if (size < 100 || size > 4096 || overlap < 0 || overlap * 2 > size)
    return Error::invalid(
        "max_chunk_size_tokens must be 100 to 4096 and chunk_overlap_tokens at most half of it",
        "chunking_strategy");
  options.max_tokens = static_cast<size_t>(size);
  options.overlap_tokens = static_cast<size_t>(overlap);
  return options;
}

json chunking_object(const std::string& chunking_json) {
  const json stored = parse_json(chunking_json.empty() ? "{}" : chunking_json);
  text::ChunkOptions defaults;
  const auto value = [&](const char* key, size_t fallback) {
    return stored.is_object() && stored.contains(key) && stored[key].is_number_integer()
               ? stored[key].get<size_t>()
               : fallback;
  };
  return {{"type", "static"},
          {"static",
           {{"max_chunk_size_tokens", value("max_chunk_size_tokens", defaults.max_tokens)},
            {"chunk_overlap_tokens", value("chunk_overlap_tokens", defaults.overlap_tokens)}}}};
}

text::ChunkOptions chunk_options(const std::string& chunking_json) {
  const json object = chunking_object(chunking_json)["static"];
  return {object["max_chunk_size_tokens"].get<size_t>(), object["chunk_overlap_tokens"].get<size_t>()};
}

// The chunking a request asks for, the store's own when it names none.
Result<text::ChunkOptions> requested_chunking(const json& body, const store::KnowledgeStore& target) {
  if (!body.contains("chunking_strategy")) return chunk_options(target.chunking_json);
  return parse_chunking(body["chunking_strategy"]);
}

Status check_attributes(const json& attributes) {
  if (!attributes.is_object() || static_cast<int64_t>(attributes.size()) > kMaxAttributes)
    return Error::invalid("attributes must be an object of at most 16 keys", "attributes");
  for (const auto& [key, value] : attributes.items()) {
    const bool valid = key.size() <= 64 && ((value.is_string() && value.get<std::string>().size() <= 512) ||
                                            value.is_number() || value.is_boolean());
    if (!valid)
      return Error::invalid("attribute '" + key + "' must be a string (≤ 512 characters), number or boolean",
                            "attributes");
  }
  return ok();
}

// ---- /v1/files ----

Response upload_file(const Request& request, const Principal& principal, const Services& services) {
  auto parts = parse_multipart(request.content_type, request.body);
  if (!parts) return error_response(parts.error());
  const FormPart* file = nullptr;
  std::string purpose;
  for (const auto& part : *parts) {
    if (part.name == "file") {
      file = &part;
    } else if (part.name == "purpose") {
      purpose = part.data;
    } else if (!part.name.starts_with("expires_after")) {
      return error_response(Error::invalid("Unknown parameter: '" + part.name + "'.", part.name));
    }
  }
  if (!file) return error_response(Error::invalid("a 'file' part is required", "file"));
  if (purpose.empty()) return error_response(Error::invalid("purpose is required", "purpose"));
  if (purpose != "assistants" && purpose != "user_data")
    return error_response(Error::invalid(
        "purpose '" + purpose + "' is not supported: files are kept for 'assistants' or 'user_data'",
        "purpose"));
  // Only the last path component names the file: "../../etc/passwd" is kept as "passwd".
  const std::string name = file->filename.substr(file->filename.find_last_of("/\\") + 1);
  if (name.empty() || name == "." || name == "..")
    return error_response(Error::invalid("the file part needs a filename", "file"));
  if (file->data.empty()) return error_response(Error::invalid("the file is empty", "file"));
  auto user = services.store.ensure_user(principal.user);
  if (!user) return error_response(user.error());
  store::Upload upload;
  upload.id = random_id("file-");
  upload.user_id = user->id;
  upload.filename = name;
  upload.purpose = purpose;
  upload.content = file->data;
  auto created = services.store.create_upload(std::move(upload));
  if (!created) return error_response(created.error());
  return json_response(200, file_object(*created));
}

// Takes the file out of every vector store of the user that holds it.
Status detach_everywhere(int64_t user_id, const std::string& file_id, const Services& services) {
  auto stores = services.store.list_user_stores(user_id);
  if (!stores) return stores.error();
  for (const auto& s : *stores) {
    auto files = services.store.list_files(s.id);
    if (!files) return files.error();
    for (const auto& f : *files) {
      if (f.external_id != file_id) continue;
      if (auto status = coach::detach_file(services.store, services.indexes, s, f.id); !status) return status;
    }
  }
  return ok();
}

}  // namespace

Response openai_files(const Request& request, const std::string& route, const Principal& principal,
                      const Services& services) {
  if (route == "/v1/files" && request.method == "POST") return upload_file(request, principal, services);
  auto user = find_caller(principal, services);
  if (!user) return error_response(user.error());
  if (route == "/v1/files") {
    std::vector<json> items;
    const auto purpose = query_param(request.query, "purpose");
    if (*user) {
      auto uploads = services.store.list_uploads((*user)->id);
      if (!uploads) return error_response(uploads.error());
      for (const auto& upload : *uploads) {
        if (!purpose || purpose->empty() || *purpose == upload.purpose) items.push_back(file_object(upload));
      }
    }
    auto page = list_page(items, request.query, 10000, 10000);
    if (!page) return error_response(page.error());
    return json_response(200, *page);
  }
  const std::string id = path_parameter(route, request.path);
  if (!*user) return error_response(no_file(id));
  auto upload = services.store.find_upload((*user)->id, id, route == "/v1/files/{id}/content");
  if (!upload) return error_response(upload.error());
  if (!*upload) return error_response(no_file(id));
  if (route == "/v1/files/{id}/content")
    return {200, "application/octet-stream", std::move((*upload)->content), {}};
  if (request.method == "DELETE") {
    if (auto status = detach_everywhere((*user)->id, id, services); !status)
      return error_response(status.error());
    if (auto status = services.store.delete_upload((*user)->id, id); !status)
      return error_response(status.error());
    return json_response(200, {{"id", id}, {"object", "file"}, {"deleted", true}});
  }
  return json_response(200, file_object(**upload));
}

namespace {

// ---- /v1/vector_stores ----

json store_metadata(const store::KnowledgeStore& s) {
  const json stored = parse_json(s.metadata_json.empty() ? "{}" : s.metadata_json);
  return stored.is_object() ? stored : json::object();
}

Result<json> vector_store_object(const store::KnowledgeStore& s, const Services& services) {
  auto files = services.store.list_files(s.id);
  if (!files) return files.error();
  int64_t completed = 0;
  int64_t failed = 0;
  for (const auto& f : *files) ++(f.status == "failed" ? failed : completed);
  const json meta = store_metadata(s);
  json object = {{"id", s.name},
                 {"object", "vector_store"},
                 {"created_at", seconds(s.created_at)},
                 {"name", meta.value("name", json(nullptr))},
                 {"description", meta.value("description", json(nullptr))},
                 {"usage_bytes", s.bytes},
                 {"file_counts",
                  {{"in_progress", 0},
                   {"completed", completed},
                   {"failed", failed},
                   {"cancelled", 0},
                   {"total", completed + failed}}},
                 {"status", "completed"},
                 {"expires_after", meta.value("expires_after", json(nullptr))},
                 {"expires_at", nullptr},
                 {"last_active_at", seconds(s.created_at)},
                 {"metadata", meta.value("metadata", json::object())}};
  return object;
}

json store_file_object(const store::StoredFile& f, const store::KnowledgeStore& s) {
  const json attributes = parse_json(f.attributes_json.empty() ? "{}" : f.attributes_json);
  json error = nullptr;
  if (f.status == "failed") {
    error = {
        {"code", f.last_error.find("unsupported") != std::string::npos ? "unsupported_file" : "invalid_file"},
        {"message", f.last_error}};
  }
  return {{"id", f.external_id},
          {"object", "vector_store.file"},
          {"usage_bytes", f.bytes},
          {"created_at", seconds(f.created_at)},
          {"vector_store_id", s.name},
          {"status", f.status},
          {"last_error", error},
          {"chunking_strategy", chunking_object(f.chunking_json.empty() ? s.chunking_json : f.chunking_json)},
          {"attributes", attributes.is_object() ? attributes : json::object()}};
}

Result<store::KnowledgeStore> own_store(const store::User& user, const std::string& id,
                                        const Services& services) {
  auto stores = services.store.list_user_stores(user.id);
  if (!stores) return stores.error();
  for (auto& s : *stores) {
    if (s.name == id) return std::move(s);
  }
  return no_store(id);
}

Result<std::optional<store::StoredFile>> store_file(const store::KnowledgeStore& s,
                                                    const std::string& file_id, const Services& services) {
  auto files = services.store.list_files(s.id);
  if (!files) return files.error();
  for (auto& f : *files) {
    if (f.external_id == file_id) return std::optional<store::StoredFile>{std::move(f)};
  }
  return std::optional<store::StoredFile>{};
}

// Reads the user's upload into the store (again, when it is there already).
Result<store::StoredFile> add_to_store(const store::User& user, const store::KnowledgeStore& target,
                                       const std::string& file_id, const json& attributes,
                                       const text::ChunkOptions& chunking, const Services& services) {
  auto upload = services.store.find_upload(user.id, file_id, true);
  if (!upload) return upload.error();
  if (!*upload) return no_file(file_id);
  coach::StoreFile file;
  file.file_id = file_id;
  file.filename = (*upload)->filename;
  file.bytes = (*upload)->content;
  file.attributes = attributes;
  file.chunking = chunking;
  return coach::attach_file(services.store, services.indexes, target, file);
}

Response create_vector_store(const Request& request, const Principal& principal, const Services& services) {
  auto body = parse_body(request);
  if (!body) return error_response(body.error());
  if (auto status = only_fields(
          *body, {"name", "file_ids", "metadata", "expires_after", "chunking_strategy", "description"});
      !status)
    return error_response(status.error());
  json meta = json::object();
  if (body->contains("name") && !(*body)["name"].is_null()) {
    if (!(*body)["name"].is_string()) return error_response(Error::invalid("name must be a string", "name"));
    meta["name"] = (*body)["name"];
  }
  if (body->contains("description") && !(*body)["description"].is_null()) {
    if (!(*body)["description"].is_string())
      return error_response(Error::invalid("description must be a string", "description"));
    meta["description"] = (*body)["description"];
  }
  if (body->contains("metadata") && !(*body)["metadata"].is_null()) {
    const auto& m = (*body)["metadata"];
    if (!m.is_object() || m.size() > 16 || std::any_of(m.begin(), m.end(), [](const json& v) {
          return !v.is_string() || v.get<std::string>().size() > 512;
        }))
      return error_response(
          Error::invalid("metadata must be an object of at most 16 string values", "metadata"));
    meta["metadata"] = m;
  }
  if (body->contains("expires_after") && !(*body)["expires_after"].is_null()) {
    const auto& e = (*body)["expires_after"];
    if (!e.is_object() || json_string(e, "anchor", "") != "last_active_at" || !e.contains("days") ||
        !e["days"].is_number_integer() || e["days"].get<int64_t>() < 1 || e["days"].get<int64_t>() > 365)
      return error_response(Error::invalid("expires_after must be {anchor: 'last_active_at', days: 1 to 365}",
                                           "expires_after"));
    meta["expires_after"] = e;
  }
  auto chunking = parse_chunking(body->value("chunking_strategy", json(nullptr)));
  if (!chunking) return error_response(chunking.error());
  std::vector<std::string> file_ids;
  if (body->contains("file_ids")) {
    const auto& ids = (*body)["file_ids"];
    if (!ids.is_array() || ids.size() > 500 ||
        std::any_of(ids.begin(), ids.end(), [](const json& id) { return !id.is_string(); }))
      return error_response(Error::invalid("file_ids must be a list of at most 500 file ids", "file_ids"));
    for (const auto& id : ids) file_ids.push_back(id);
  }
  auto user = services.store.ensure_user(principal.user);
  if (!user) return error_response(user.error());
  // Every named file must be the caller's before anything is created.
  for (const auto& id : file_ids) {
    auto upload = services.store.find_upload(user->id, id, false);
    if (!upload) return error_response(upload.error());
    if (!*upload) return error_response(no_file(id));
  }
  const json chunking_json = {{"type", "static"},
                              {"max_chunk_size_tokens", chunking->max_tokens},
                              {"chunk_overlap_tokens", chunking->overlap_tokens}};
  auto created = services.store.create_user_store(user->id, random_id("vs_"), meta.dump(),
                                                  services.indexes.embedder().id(), chunking_json.dump());
  if (!created) return error_response(created.error());
  for (const auto& id : file_ids) {
    auto added = add_to_store(*user, *created, id, json::object(), *chunking, services);
    if (!added) return error_response(added.error());
  }
  auto fresh = own_store(*user, created->name, services);
  if (!fresh) return error_response(fresh.error());
  auto object = vector_store_object(*fresh, services);
  if (!object) return error_response(object.error());
  return json_response(200, *object);
}

Response modify_vector_store(const Request& request, const store::KnowledgeStore& target,
                             const Services& services) {
  auto body = parse_body(request);
  if (!body) return error_response(body.error());
  if (auto status = only_fields(*body, {"name", "metadata", "expires_after"}); !status)
    return error_response(status.error());
  json meta = store_metadata(target);
  for (const auto& [key, value] : body->items()) {
    const bool valid =
        value.is_null() || (key == "name" && value.is_string()) ||
        (key == "metadata" && value.is_object() && value.size() <= 16) ||
        (key == "expires_after" && value.is_object() && json_string(value, "anchor", "") == "last_active_at");
    if (!valid) return error_response(Error::invalid(key + " has the wrong type", key));
    if (value.is_null()) {
      meta.erase(key);
    } else {
      meta[key] = value;
    }
  }
  if (auto status = services.store.set_store_metadata(target.id, meta.dump()); !status)
    return error_response(status.error());
  store::KnowledgeStore updated = target;
  updated.metadata_json = meta.dump();
  auto object = vector_store_object(updated, services);
  if (!object) return error_response(object.error());
  return json_response(200, *object);
}

Response search_vector_store(const Request& request, const store::KnowledgeStore& target,
                             const Services& services) {
  auto body = parse_body(request);
  if (!body) return error_response(body.error());
  if (auto status =
          only_fields(*body, {"query", "max_num_results", "filters", "ranking_options", "rewrite_query"});
      !status)
    return error_response(status.error());
  index::Query query;
  query.stores = {target.name};
  query.limit = 10;
  json search_query = json::array();
  const json q = body->value("query", json(nullptr));
  if (q.is_string()) {
    search_query.push_back(q);
  } else if (q.is_array() && !q.empty() &&
             std::all_of(q.begin(), q.end(), [](const json& t) { return t.is_string(); })) {
    search_query = q;
  } else {
    return error_response(Error::invalid("query must be a string or a list of strings", "query"));
  }
  for (const auto& text : search_query)
    query.text += (query.text.empty() ? "" : " ") + text.get<std::string>();
  if (query.text.find_first_not_of(" \t\r\n") == std::string::npos)
    return error_response(Error::invalid("query must not be empty", "query"));
  if (body->contains("max_num_results")) {
    const auto& n = (*body)["max_num_results"];
    if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > 50)
      return error_response(
          Error::invalid("max_num_results must be an integer from 1 to 50", "max_num_results"));
    query.limit = n.get<int>();
  }
  if (body->contains("filters") && !(*body)["filters"].is_null()) {
    auto filter = index::Filter::parse((*body)["filters"]);
    if (!filter) {
      Error error = filter.error();
      error.param = "filters" + (error.param.empty() ? "" : "." + error.param);
      return error_response(error);
    }
    query.filter = std::move(filter).value();
  }
  double threshold = 0;
  if (body->contains("ranking_options")) {
    const auto& options = (*body)["ranking_options"];
    if (!options.is_object())
      return error_response(Error::invalid("ranking_options must be an object", "ranking_options"));
    if (options.contains("score_threshold")) {
      const auto& t = options["score_threshold"];
      if (!t.is_number() || t.get<double>() < 0 || t.get<double>() > 1)
        return error_response(
            Error::invalid("score_threshold must be a number from 0 to 1", "ranking_options"));
      threshold = t.get<double>();
    }
  }
  index::HybridRetriever retriever(services.store, services.indexes);
  auto found = retriever.retrieve(query);
  if (!found) return error_response(found.error());
  json data = json::array();
  for (const auto& p : *found) {
    const double score = index::relevance(p, query);
    if (score < threshold) continue;
    const json attributes = parse_json(p.attributes_json);
    data.push_back({{"file_id", p.external_id},
                    {"filename", p.filename},
                    {"score", score},
                    {"attributes", attributes.is_object() ? attributes : json::object()},
                    {"content", json::array({{{"type", "text"}, {"text", p.text}}})}});
  }
  return json_response(200, {{"object", "vector_store.search_results.page"},
                             {"search_query", search_query},
                             {"data", std::move(data)},
                             {"has_more", false},
                             {"next_page", nullptr}});
}

// ---- file batches: many files added in one call (the SDKs' uploadAndPoll). Files are read before
// the call returns, so a batch is born completed; the store's metadata remembers which files it had.

json batch_object(const std::string& batch_id, const json& batch, const store::KnowledgeStore& target,
                  const std::vector<store::StoredFile>& files) {
  int64_t completed = 0, failed = 0, gone = 0;
  for (const auto& id : batch.value("file_ids", json::array())) {
    const auto found =
        std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.external_id == id; });
    if (found == files.end()) {
      ++gone;
    } else {
      ++(found->status == "failed" ? failed : completed);
    }
  }
  return {{"id", batch_id},
          {"object", "vector_store.files_batch"},
          {"created_at", batch.value("created_at", int64_t{0})},
          {"vector_store_id", target.name},
          {"status", "completed"},
          {"file_counts",
           {{"in_progress", 0},
            {"completed", completed},
            {"failed", failed},
            {"cancelled", gone},
            {"total", completed + failed + gone}}}};
}

Response file_batches(const Request& request, const std::string& route, const store::User& user,
                      const store::KnowledgeStore& target, const Services& services) {
  json meta = store_metadata(target);
  if (route == "/v1/vector_stores/{id}/file_batches") {  // POST: a new batch
    auto body = parse_body(request);
    if (!body) return error_response(body.error());
    if (auto status = only_fields(*body, {"file_ids", "files", "attributes", "chunking_strategy"}); !status)
      return error_response(status.error());
    const json attributes = body->value("attributes", json::object());
    if (auto status = check_attributes(attributes.is_null() ? json::object() : attributes); !status)
      return error_response(status.error());
    auto chunking = requested_chunking(*body, target);
    if (!chunking) return error_response(chunking.error());
    // Each entry: a file id and its attributes (the batch's, or its own in the `files` form).
    std::vector<std::pair<std::string, json>> entries;
    if (body->contains("file_ids")) {
      const auto& ids = (*body)["file_ids"];
      if (!ids.is_array() ||
          std::any_of(ids.begin(), ids.end(), [](const json& id) { return !id.is_string(); }))
        return error_response(Error::invalid("file_ids must be a list of file ids", "file_ids"));
      for (const auto& id : ids) entries.emplace_back(id, attributes.is_null() ? json::object() : attributes);
    }
    if (body->contains("files")) {
      const auto& files = (*body)["files"];
      if (!files.is_array()) return error_response(Error::invalid("files must be a list", "files"));
      for (const auto& f : files) {
        if (!f.is_object() || !f.contains("file_id") || !f["file_id"].is_string())
          return error_response(Error::invalid("each of files needs a file_id", "files"));
        const json own = f.value("attributes", attributes.is_null() ? json::object() : attributes);
        if (auto status = check_attributes(own); !status) return error_response(status.error());
        entries.emplace_back(f["file_id"], own);
      }
    }
    if (entries.empty() || entries.size() > 500)
      return error_response(Error::invalid("file_ids or files must name 1 to 500 files", "file_ids"));
    for (const auto& [id, attrs] : entries) {  // every file must be the caller's before any is added
      auto upload = services.store.find_upload(user.id, id, false);
      if (!upload) return error_response(upload.error());
      if (!*upload) return error_response(no_file(id));
    }
    json batch = {{"created_at", unix_millis() / 1000}, {"file_ids", json::array()}};
    for (const auto& [id, attrs] : entries) {
      auto added = add_to_store(user, target, id, attrs, *chunking, services);
      if (!added) return error_response(added.error());
      batch["file_ids"].push_back(id);
    }
    const std::string batch_id = random_id("vsfb_");
    meta["batches"][batch_id] = batch;
    if (auto status = services.store.set_store_metadata(target.id, meta.dump()); !status)
      return error_response(status.error());
    auto files = services.store.list_files(target.id);
    if (!files) return error_response(files.error());
    return json_response(200, batch_object(batch_id, batch, target, *files));
  }
  const std::string batch_id = path_parameter(route, request.path, 1);
  if (!meta.contains("batches") || !meta["batches"].contains(batch_id))
    return error_response(Error::not_found("No file batch found with id '" + batch_id + "'.", "batch_id"));
  const json& batch = meta["batches"][batch_id];
  auto files = services.store.list_files(target.id);
  if (!files) return error_response(files.error());
  if (route == "/v1/vector_stores/{id}/file_batches/{batch_id}/files") {
    std::vector<json> items;
    const auto ids = batch.value("file_ids", json::array());
    for (const auto& f : *files) {
      if (std::find(ids.begin(), ids.end(), f.external_id) != ids.end())
        items.push_back(store_file_object(f, target));
    }
    auto page = list_page(items, request.query, 20, 100);
    if (!page) return error_response(page.error());
    return json_response(200, *page);
  }
  // GET, or cancel: a batch is done before it is seen, so there is nothing left to cancel.
  return json_response(200, batch_object(batch_id, batch, target, *files));
}

Response store_files(const Request& request, const std::string& route, const store::User& user,
                     const store::KnowledgeStore& target, const Services& services) {
  if (route == "/v1/vector_stores/{id}/files" && request.method == "GET") {
    auto files = services.store.list_files(target.id);
    if (!files) return error_response(files.error());
    std::sort(files->begin(), files->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    const auto status = query_param(request.query, "filter");
    if (status && !status->empty() && *status != "in_progress" && *status != "completed" &&
        *status != "failed" && *status != "cancelled")
      return error_response(
          Error::invalid("filter must be in_progress, completed, failed or cancelled", "filter"));
    std::vector<json> items;
    for (const auto& f : *files) {
      if (!status || status->empty() || *status == f.status) items.push_back(store_file_object(f, target));
    }
    auto page = list_page(items, request.query, 20, 100);
    if (!page) return error_response(page.error());
    return json_response(200, *page);
  }
  auto body = parse_body(request);
  if (!body) return error_response(body.error());
  if (route == "/v1/vector_stores/{id}/files") {  // POST: add a file
    if (auto status = only_fields(*body, {"file_id", "attributes", "chunking_strategy"}); !status)
      return error_response(status.error());
    if (!body->contains("file_id") || !(*body)["file_id"].is_string())
      return error_response(Error::invalid("file_id is required (a string)", "file_id"));
    const json attributes = body->value("attributes", json::object());
    if (auto status = check_attributes(attributes.is_null() ? json::object() : attributes); !status)
      return error_response(status.error());
    auto chunking = requested_chunking(*body, target);
    if (!chunking) return error_response(chunking.error());
    auto added = add_to_store(user, target, (*body)["file_id"],
                              attributes.is_null() ? json::object() : attributes, *chunking, services);
    if (!added) return error_response(added.error());
    return json_response(200, store_file_object(*added, target));
  }
  const std::string file_id = path_parameter(route, request.path, 1);
  auto file = store_file(target, file_id, services);
  if (!file) return error_response(file.error());
  if (!*file)
    return error_response(Error::not_found(
        "No file found with id '" + file_id + "' in vector store '" + target.name + "'.", "file_id"));
  if (request.method == "GET") return json_response(200, store_file_object(**file, target));
  if (request.method == "DELETE") {
    if (auto status = coach::detach_file(services.store, services.indexes, target, (*file)->id); !status)
      return error_response(status.error());
    return json_response(200, {{"id", file_id}, {"object", "vector_store.file.deleted"}, {"deleted", true}});
  }
  // POST: new attributes (the file is re-read with them; its chunks stay as they were cut).
  if (auto status = only_fields(*body, {"attributes"}); !status) return error_response(status.error());
  if (!body->contains("attributes"))
    return error_response(Error::invalid("attributes is required", "attributes"));
  if (auto status = check_attributes((*body)["attributes"]); !status) return error_response(status.error());
  auto updated = add_to_store(
      user, target, file_id, (*body)["attributes"],
      chunk_options((*file)->chunking_json.empty() ? target.chunking_json : (*file)->chunking_json),
      services);
  if (!updated) return error_response(updated.error());
  return json_response(200, store_file_object(*updated, target));
}

}  // namespace

Response openai_vector_stores(const Request& request, const std::string& route, const Principal& principal,
                              const Services& services) {
  if (route == "/v1/vector_stores" && request.method == "POST")
    return create_vector_store(request, principal, services);
  auto user = find_caller(principal, services);
  if (!user) return error_response(user.error());
  if (route == "/v1/vector_stores") {
    std::vector<json> items;
    if (*user) {
      auto stores = services.store.list_user_stores((*user)->id);
      if (!stores) return error_response(stores.error());
      for (const auto& s : *stores) {
        auto object = vector_store_object(s, services);
        if (!object) return error_response(object.error());
        items.push_back(std::move(object).value());
      }
    }
    auto page = list_page(items, request.query, 20, 100);
    if (!page) return error_response(page.error());
    return json_response(200, *page);
  }
  const std::string id = path_parameter(route, request.path);
  if (!*user) return error_response(no_store(id));
  auto target = own_store(**user, id, services);
  if (!target) return error_response(target.error());
  if (route == "/v1/vector_stores/{id}") {
    if (request.method == "POST") return modify_vector_store(request, *target, services);
    if (request.method == "DELETE") {
      if (auto status = services.store.delete_knowledge_store(target->id); !status)
        return error_response(status.error());
      if (auto status = services.indexes.remove_files(target->id); !status)
        return error_response(status.error());
      return json_response(200, {{"id", id}, {"object", "vector_store.deleted"}, {"deleted", true}});
    }
    auto object = vector_store_object(*target, services);
    if (!object) return error_response(object.error());
    return json_response(200, *object);
  }
  if (route == "/v1/vector_stores/{id}/search") return search_vector_store(request, *target, services);
  if (route.starts_with("/v1/vector_stores/{id}/file_batches"))
    return file_batches(request, route, **user, *target, services);
  return store_files(request, route, **user, *target, services);
}

}  // namespace brandcoach::http
