// brandcoach index: finding the passages of the knowledge base that answer a message.
//
// `Retriever` is the retrieval stage of the turn. The lexical retriever ranks chunks with BM25
// (SQLite FTS5, stemmed with the same Porter rules on both the index and the query side).
#pragma once

#include <string>
#include <vector>

#include "brandcoach/core/core.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::index {

/// A retrieved passage, best first in a result list.
struct Passage {
  int64_t chunk_id = 0;
  std::string store;
  std::string filename;
  int ordinal = 0;
  std::string heading;
  std::string text;
  double score = 0;
};

struct Query {
  std::string text;
  std::vector<std::string> stores;  // knowledge stores to search
  int limit = 5;
};

class Retriever {
 public:
  virtual ~Retriever() = default;
  /// The best passages for the query, at most `limit`, best first; empty when nothing matches.
  virtual Result<std::vector<Passage>> retrieve(const Query& query) = 0;
};

/// BM25 over the store's full-text index.
class LexicalRetriever final : public Retriever {
 public:
  explicit LexicalRetriever(store::Store& store) : store_(store) {}
  Result<std::vector<Passage>> retrieve(const Query& query) override;

 private:
  store::Store& store_;
};

}  // namespace brandcoach::index
