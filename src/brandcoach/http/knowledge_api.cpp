// Reading the knowledge base over the native API: the passage a citation names, in its document;
// and, for admins, searching and re-indexing one knowledge store.
#include <charconv>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

using json = nlohmann::json;

// A document is shown whole up to this many chunks around the cited one.
constexpr int kDocumentChunks = 200;

json chunk_json(const store::ChunkRecord& c) {
  return {
      {"id", c.chunk_id}, {"heading", c.heading}, {"text", c.text}, {"page", c.page}, {"ordinal", c.ordinal}};
}

}  // namespace

Response passage(const Request& request, const std::string& route, const Principal& principal,
                 const Services& services) {
  const std::string raw = path_parameter(route, request.path);
  const auto missing = [&] { return error_response(Error::not_found("no passage " + raw)); };
  int64_t id = 0;
  const auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), id);
  if (ec != std::errc() || end != raw.data() + raw.size() || id <= 0) return missing();
  auto found = services.store.chunks_by_id({id});
  if (!found) return error_response(found.error());
  if (found->empty()) return missing();
  const auto& chunk = found->front();
  // Knowledge stores are readable by everyone; a user's own store only by its owner, and for anyone
  // else it does not exist.
  auto owner_store = services.store.find_knowledge_store(chunk.store);
  if (!owner_store) return error_response(owner_store.error());
  if (!*owner_store) return missing();
  if ((*owner_store)->kind == "user") {
    auto user = services.store.find_user(principal.user);
    if (!user) return error_response(user.error());
    if (!*user || (*user)->id != (*owner_store)->owner_user_id) return missing();
  }
  auto document = services.store.file_chunks(chunk.file_id, kDocumentChunks);
  if (!document) return error_response(document.error());
  json chunks = json::array();
  for (const auto& c : *document) chunks.push_back(chunk_json(c));
  return json_response(
      200, {{"chunk", chunk_json(chunk)},
            {"file", {{"id", chunk.file_id}, {"filename", chunk.filename}, {"store", chunk.store}}},
            {"document", std::move(chunks)}});
}

Response admin_store_search(const Request& request, const store::KnowledgeStore& target,
                            const Services& services) {
  const json body = parse_json(request.body);
  if (!body.is_object()) return error_response(Error::invalid("request body must be a JSON object"));
  for (const auto& [key, value] : body.items()) {
    if (key != "query" && key != "max_num_results" && key != "filters")
      return error_response(Error::invalid("unknown field '" + key + "'", key));
  }
  if (!body.contains("query") || !body["query"].is_string() ||
      body["query"].get<std::string>().find_first_not_of(" \t\r\n") == std::string::npos)
    return error_response(Error::invalid("query is required (a non-empty string)", "query"));
  index::Query query;
  query.text = body["query"];
  query.stores = {target.name};
  query.limit = 10;
  if (body.contains("max_num_results")) {
    const auto& n = body["max_num_results"];
    if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > 50)
      return error_response(
          Error::invalid("max_num_results must be an integer from 1 to 50", "max_num_results"));
    query.limit = n.get<int>();
  }
  if (body.contains("filters")) {
    auto filter = index::Filter::parse(body["filters"]);
    if (!filter) {
      Error error = filter.error();
      error.param = "filters";
      return error_response(error);
    }
    query.filter = std::move(filter).value();
  }
  index::HybridRetriever retriever(services.store, services.indexes);
  auto found = retriever.retrieve(query);
  if (!found) return error_response(found.error());
  json results = json::array();
  for (const auto& p : *found) {
    results.push_back({{"chunk", p.chunk_id},
                       {"file", p.filename},
                       {"heading", p.heading},
                       {"text", p.text},
                       {"score", index::relevance(p, query)}});
  }
  return json_response(200, {{"store", target.name}, {"results", std::move(results)}});
}

Response admin_store_reindex(const store::KnowledgeStore& target, const Services& services) {
  auto count = coach::reindex(services.store, services.indexes, target.name);
  if (!count) return error_response(count.error());
  if (auto status = services.indexes.save_all(); !status) return error_response(status.error());
  return json_response(200, {{"store", target.name}, {"chunks", *count}});
}

}  // namespace brandcoach::http
