#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/index/index.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::index {

namespace {

constexpr double kRrfK = 60;  // the constant of reciprocal-rank fusion (Cormack et al.)
// The API caps max_num_results at 50; evaluation (Recall@100) and tools may ask for more.
constexpr int kMaxResults = 1000;

Passage to_passage(store::ChunkRecord&& r, double score) {
  Passage p;
  p.chunk_id = r.chunk_id;
  p.file_id = r.file_id;
  p.store = std::move(r.store);
  p.filename = std::move(r.filename);
  p.external_id = std::move(r.external_id);
  p.ordinal = r.ordinal;
  p.heading = std::move(r.heading);
  p.page = r.page;
  p.text = std::move(r.text);
  p.attributes_json = std::move(r.attributes_json);
  p.score = score;
  return p;
}

bool passes(const Query& query, const std::string& attributes_json) {
  if (!query.filter) return true;
  return query.filter->matches(parse_json(attributes_json));
}

// The query's attribute filter as a test of chunk ids, for indexes that filter while they match: one
// lookup per candidate, remembered in `verdicts` (which must outlive the returned function).
std::function<bool(int64_t)> attribute_filter(store::Store& store, const Query& query,
                                              std::unordered_map<int64_t, bool>& verdicts) {
  if (!query.filter) return {};
  return [&store, &query, &verdicts](int64_t id) {
    auto it = verdicts.find(id);
    if (it != verdicts.end()) return it->second;
    auto records = store.chunks_by_id({id});
    const bool ok = records && !records->empty() && passes(query, records->front().attributes_json);
    verdicts.emplace(id, ok);
    return ok;
  };
}

// The passages of ranked chunk ids, in rank order, each with its 1-based rank in `rank_field`;
// chunks deleted since an index saw them are left out.
template <typename Score>
Result<std::vector<Passage>> ranked_passages(store::Store& store,
                                             const std::vector<std::pair<int64_t, Score>>& ranked,
                                             int Passage::*rank_field) {
  std::vector<int64_t> ids;
  for (const auto& [id, score] : ranked) ids.push_back(id);
  auto records = store.chunks_by_id(ids);
  if (!records) return records.error();
  std::unordered_map<int64_t, store::ChunkRecord*> by_id;
  for (auto& r : *records) by_id[r.chunk_id] = &r;
  std::vector<Passage> out;
  for (const auto& [id, score] : ranked) {
    auto it = by_id.find(id);
    if (it == by_id.end()) continue;
    out.push_back(to_passage(std::move(*it->second), score));
    out.back().*rank_field = static_cast<int>(out.size());
  }
  return out;
}

Status validate(const Query& query) {
  if (query.limit < 1 || query.limit > kMaxResults) {
    return Error::invalid(
        fmt::format("the number of results must be between 1 and {} (got {})", kMaxResults, query.limit),
        "max_num_results");
  }
  if (query.stores.empty()) return Error::invalid("at least one store is required", "vector_store_ids");
  if (query.lexical_weight < 0 || query.dense_weight < 0) {
    return Error::invalid("fusion weights must not be negative", "weights");
  }
  return ok();
}

}  // namespace

std::string_view to_string(SearchMode mode) {
  switch (mode) {
    case SearchMode::hybrid:
      return "hybrid";
    case SearchMode::lexical:
      return "lexical";
    case SearchMode::dense:
      return "dense";
  }
  return "hybrid";
}

double relevance(const Passage& passage, const Query& query) {
  switch (query.mode) {
    case SearchMode::hybrid: {
      const double best = (query.lexical_weight + query.dense_weight) / (kRrfK + 1);
      return best > 0 ? std::clamp(passage.score / best, 0.0, 1.0) : 0.0;
    }
    case SearchMode::dense:
      return std::clamp(passage.score, 0.0, 1.0);
    case SearchMode::lexical:
      return passage.score > 0 ? passage.score / (passage.score + 1) : 0.0;
  }
  return 0;
}

Result<SearchMode> parse_search_mode(std::string_view text) {
  if (text == "hybrid") return SearchMode::hybrid;
  if (text == "lexical") return SearchMode::lexical;
  if (text == "dense") return SearchMode::dense;
  return Error::invalid("mode must be hybrid, lexical or dense (got '" + std::string(text) + "')", "mode");
}

Result<std::vector<Passage>> HybridRetriever::lexical(const Query& query, int depth) {
  std::unordered_map<int64_t, bool> verdicts;
  const auto allow = attribute_filter(store_, query, verdicts);
  auto ranked = indexes_.search_lexical(query.stores, query.text, static_cast<size_t>(depth), allow);
  if (!ranked) {
    if (ranked.error().kind != ErrorKind::unavailable) return ranked.error();
    // The index is busy in another process or damaged: the store's own full-text search answers.
    spdlog::warn("lexical index unavailable, using the store's full-text search: {}", ranked.error().message);
    return store_lexical(query, depth);
  }
  return ranked_passages(store_, *ranked, &Passage::lexical_rank);
}

Result<std::vector<Passage>> HybridRetriever::store_lexical(const Query& query, int depth) {
  // With a filter, ask for more than needed; if the filter still leaves too few, take every match.
  const int asked = query.filter ? depth * 5 : depth;
  auto hits = store_.search_chunks(query.stores, query.text, asked);
  if (!hits) return hits.error();
  if (query.filter && static_cast<int>(hits->size()) == asked) {
    size_t passing = 0;
    for (const auto& h : *hits) passing += passes(query, h.attributes_json) ? 1 : 0;
    if (static_cast<int>(passing) < depth) {
      hits = store_.search_chunks(query.stores, query.text, -1);
      if (!hits) return hits.error();
    }
  }
  std::vector<Passage> out;
  for (auto& hit : *hits) {
    if (!passes(query, hit.attributes_json)) continue;
    const double score = hit.score;
    out.push_back(to_passage(std::move(hit), score));
    out.back().lexical_rank = static_cast<int>(out.size());
    if (static_cast<int>(out.size()) == depth) break;
  }
  return out;
}

Result<std::vector<Passage>> HybridRetriever::dense(const Query& query, int depth) {
  std::vector<std::pair<int64_t, float>> nearest;
  std::unordered_map<int64_t, bool> verdicts;
  const auto allow = attribute_filter(store_, query, verdicts);
  for (const auto& store : query.stores) {
    auto found = indexes_.search(store, query.text, static_cast<size_t>(depth), allow);
    if (!found) return found.error();
    nearest.insert(nearest.end(), found->begin(), found->end());
  }
  std::sort(nearest.begin(), nearest.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (static_cast<int>(nearest.size()) > depth) nearest.resize(static_cast<size_t>(depth));
  return ranked_passages(store_, nearest, &Passage::dense_rank);
}

Result<std::vector<Passage>> HybridRetriever::retrieve(const Query& asked) {
  if (auto status = validate(asked); !status) return status.error();
  // A text with no words has nothing to match; a store named twice is searched once.
  if (text::words(asked.text).empty()) return std::vector<Passage>{};
  Query query = asked;
  std::sort(query.stores.begin(), query.stores.end());
  query.stores.erase(std::unique(query.stores.begin(), query.stores.end()), query.stores.end());
  const int depth = std::max(query.limit * 4, 50);
  std::vector<Passage> results;
  if (query.mode == SearchMode::lexical) {
    auto lexical_hits = lexical(query, query.limit);
    if (!lexical_hits) return lexical_hits.error();
    results = std::move(*lexical_hits);
  } else if (query.mode == SearchMode::dense) {
    auto dense_hits = dense(query, query.limit);
    if (!dense_hits) return dense_hits.error();
    results = std::move(*dense_hits);
  } else {
    auto lexical_hits = lexical(query, depth);
    if (!lexical_hits) return lexical_hits.error();
    auto dense_hits = dense(query, depth);
    if (!dense_hits) {
      // Hybrid degrades to lexical when a store has no usable vectors, and says so.
      spdlog::warn("dense retrieval unavailable, using lexical only: {}", dense_hits.error().message);
      dense_hits = std::vector<Passage>{};
    }
    std::unordered_map<int64_t, Passage> fused;
    for (auto& p : *lexical_hits) {
      const double score = query.lexical_weight / (kRrfK + p.lexical_rank);
      fused.emplace(p.chunk_id, std::move(p)).first->second.score = score;
    }
    for (auto& p : *dense_hits) {
      const double score = query.dense_weight / (kRrfK + p.dense_rank);
      auto [it, inserted] = fused.try_emplace(p.chunk_id, std::move(p));
      if (inserted) {
        it->second.score = score;
      } else {
        it->second.score += score;
        it->second.dense_rank = p.dense_rank;
      }
    }
    for (auto& [id, passage] : fused) results.push_back(std::move(passage));
    std::sort(results.begin(), results.end(), [](const Passage& a, const Passage& b) {
      return a.score != b.score ? a.score > b.score : a.chunk_id < b.chunk_id;
    });
  }
  std::erase_if(results, [&](const Passage& p) { return p.score < query.score_threshold; });
  if (static_cast<int>(results.size()) > query.limit) results.resize(static_cast<size_t>(query.limit));
  return results;
}

Result<std::vector<Passage>> LexicalRetriever::retrieve(const Query& query) {
  if (auto status = validate(query); !status) return status.error();
  auto hits = store_.search_chunks(query.stores, query.text, query.filter ? -1 : query.limit);
  if (!hits) return hits.error();
  std::vector<Passage> out;
  for (auto& hit : *hits) {
    if (!passes(query, hit.attributes_json) || hit.score < query.score_threshold) continue;
    const double score = hit.score;
    out.push_back(to_passage(std::move(hit), score));
    out.back().lexical_rank = static_cast<int>(out.size());
    if (static_cast<int>(out.size()) == query.limit) break;
  }
  return out;
}

}  // namespace brandcoach::index
