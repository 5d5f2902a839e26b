#include "brandcoach/index/index.hpp"

namespace brandcoach::index {

Result<std::vector<Passage>> LexicalRetriever::retrieve(const Query& query) {
  auto hits = store_.search_chunks(query.stores, query.text, query.limit);
  if (!hits) return hits.error();
  std::vector<Passage> passages;
  passages.reserve(hits->size());
  for (auto& hit : *hits) {
    passages.push_back({hit.chunk_id, std::move(hit.store), std::move(hit.filename), hit.ordinal,
                        std::move(hit.heading), std::move(hit.text), hit.score});
  }
  return passages;
}

}  // namespace brandcoach::index
