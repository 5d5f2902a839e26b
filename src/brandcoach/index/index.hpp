// brandcoach index: finding the passages of the knowledge base that answer a message.
//
// `Retriever` is the retrieval stage of the turn. Lexical search ranks chunks with BM25 (a Xapian
// index per store beside the database; SQLite FTS5 where that index cannot be used), stemmed with
// the same Snowball rules on the index and the query side; dense search uses hnswlib.
#pragma once

#include <string>
#include <vector>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "brandcoach/core/core.hpp"
#include "brandcoach/embed/embed.hpp"
#include "brandcoach/store/store.hpp"

namespace brandcoach::index {

/// OpenAI's file-attribute filter grammar:
///   comparison {"type": "eq"|"ne"|"gt"|"gte"|"lt"|"lte"|"in"|"nin", "key": string, "value": v}
///   compound   {"type": "and"|"or", "filters": [filter, ...]}
/// `value` is a string, number or boolean (an array of those for in/nin); gt/gte/lt/lte take a number
/// or a string (strings compare lexicographically, so ISO dates work). A comparison on a key the
/// attributes lack, or whose value has another type, is false — except ne and nin, which are true.
class Filter {
 public:
  /// Parses and validates. Errors are invalid_input and `param` is the JSON path of the fault,
  /// e.g. "filters[1].value" (prefixed by the caller with the field name if it wants).
  static Result<Filter> parse(const nlohmann::json& json);
  /// True when `attributes` (a JSON object) satisfies the filter.
  bool matches(const nlohmann::json& attributes) const;
  /// The filter as parsed (normalised JSON).
  const nlohmann::json& json() const { return json_; }

 private:
  nlohmann::json json_;
};

/// A retrieved passage, best first in a result list.
struct Passage {
  int64_t chunk_id = 0;
  int64_t file_id = 0;
  std::string store;
  std::string filename;
  std::string external_id;
  int ordinal = 0;
  std::string heading;
  int page = 0;
  std::string text;
  std::string attributes_json = "{}";
  double score = 0;      // the mode's score: BM25, cosine similarity, or fused RRF
  int lexical_rank = 0;  // 1-based rank in the lexical list, 0 when absent
  int dense_rank = 0;    // 1-based rank in the dense list, 0 when absent
};

enum class SearchMode { hybrid, lexical, dense };
std::string_view to_string(SearchMode mode);
Result<SearchMode> parse_search_mode(std::string_view text);

struct Query {
  std::string text;
  std::vector<std::string> stores;  // knowledge stores to search
  int limit = 20;                   // max_num_results, 1..50
  SearchMode mode = SearchMode::hybrid;
  std::optional<Filter> filter;  // over each file's attributes
  double score_threshold = 0;    // drop results scoring below (in the mode's own score)
  double lexical_weight = 1.0;   // reciprocal-rank fusion weights
  double dense_weight = 1.0;
};

/// A passage's relevance as a score in [0, 1] (OpenAI's file search score): a fused score scaled by
/// the best one possible (first in every list), cosine similarity clamped at 0, BM25 squashed by
/// s / (s + 1).
double relevance(const Passage& passage, const Query& query);

class Retriever {
 public:
  virtual ~Retriever() = default;
  /// The best passages for the query, at most `limit`, best first; empty when nothing matches.
  virtual Result<std::vector<Passage>> retrieve(const Query& query) = 0;
};

/// An approximate nearest-neighbour index over vectors (hnswlib, inner product on L2-normalised
/// vectors, so the score is cosine similarity, to about three decimals: the index holds vectors as half
/// floats). Thread-safe: searches run in parallel, writes alone.
class DenseIndex {
 public:
  explicit DenseIndex(size_t dimension, size_t initial_capacity = 1024);
  ~DenseIndex();
  DenseIndex(DenseIndex&&) noexcept;
  DenseIndex& operator=(DenseIndex&&) noexcept;

  size_t dimension() const;
  /// The candidate list a search explores (hnswlib's ef; a k above it widens the list to k).
  size_t search_beam() const;
  size_t size() const;
  /// Adds or replaces the vector of `id`.
  void add(int64_t id, const float* vector);
  /// Adds or replaces many vectors; large batches are inserted on every core. The pointers must stay
  /// valid for the call, and ids must be distinct.
  void add_many(const std::vector<std::pair<int64_t, const float*>>& items);
  void remove(int64_t id);
  /// The k nearest ids with their similarity, best first. `allow`, when given, filters candidates
  /// (the search widens until k allowed results are found or the index is exhausted).
  std::vector<std::pair<int64_t, float>> search(const float* query, size_t k,
                                                const std::function<bool(int64_t)>& allow = {}) const;
  /// Writes the index to `path` (atomically: a temp file renamed over it).
  Status save(const std::filesystem::path& path) const;
  /// Reads an index written by save(); fails on a missing, truncated or mismatched file.
  static Result<DenseIndex> load(const std::filesystem::path& path, size_t dimension);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// BM25 over one knowledge store's chunks (Xapian, on disk). Documents are the stems the store keeps
/// for each chunk, so a rebuild needs no re-reading of text; a commit records the store version it
/// reflects atomically with the documents. Searches may run on many threads; a write excludes other
/// writers of the same folder, in any process, for its duration.
class LexicalIndex {
 public:
  struct Document {
    int64_t chunk_id = 0;
    std::string heading_terms;  // space-separated stems; each weighs double
    std::string terms;          // space-separated stems of the text
  };

  /// Opens the index in `folder`, creating an empty one (version -1) when there is none.
  static Result<LexicalIndex> open(const std::filesystem::path& folder);
  ~LexicalIndex();
  LexicalIndex(LexicalIndex&&) noexcept;
  LexicalIndex& operator=(LexicalIndex&&) noexcept;

  /// The store version the last commit reflects; -1 for none (new, or a rebuild that did not finish).
  int64_t version() const;
  size_t size() const;
  /// Removes `removed`, adds or replaces `added`, and records `version`, in one commit.
  Status write(const std::vector<Document>& added, const std::vector<int64_t>& removed, int64_t version);
  /// Replaces the whole index by the documents `source` visits, then records `version`.
  Status rebuild(const std::function<Status(const std::function<void(const Document&)>&)>& source,
                 int64_t version);
  /// The k best chunks for the stems over the given indexes searched as one collection (shared term
  /// statistics), by BM25, best first. `allow`, when given, filters candidates during matching.
  static Result<std::vector<std::pair<int64_t, double>>> search(
      const std::vector<LexicalIndex*>& indexes, const std::vector<std::string>& terms, size_t k,
      const std::function<bool(int64_t)>& allow = {});

 private:
  struct Impl;
  explicit LexicalIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A chunk written by this process, as the indexes need it.
struct IndexedChunk {
  int64_t id = 0;
  std::string heading;
  std::string text;
  std::vector<float> vector;  // empty: no dense update
};

/// The derived indexes of every knowledge store, kept in step with the store: a dense (hnswlib)
/// and a lexical (Xapian) index per store, each used from its copy persisted beside the database
/// when that copy reflects the store's current version, rebuilt from the stored vectors or stems
/// when it is missing or stale, and updated in place by this process's writes.
class KnowledgeIndexes {
 public:
  /// `folder` holds the persisted indexes (created on demand).
  KnowledgeIndexes(store::Store& store, embed::Embedder& embedder, std::filesystem::path folder);
  ~KnowledgeIndexes();

  embed::Embedder& embedder() { return embedder_; }
  /// Nearest chunks of one store to the query text, best first.
  Result<std::vector<std::pair<int64_t, float>>> search(std::string_view store_name, std::string_view query,
                                                        size_t k,
                                                        const std::function<bool(int64_t)>& allow = {});
  /// The k best chunks of the stores (searched as one collection) for the query by BM25, best first.
  Result<std::vector<std::pair<int64_t, double>>> search_lexical(
      const std::vector<std::string>& store_names, std::string_view query, size_t k,
      const std::function<bool(int64_t)>& allow = {});
  /// Records this process's change to a store so its indexes need not be rebuilt.
  void apply(std::string_view store_name, const std::vector<IndexedChunk>& added,
             const std::vector<int64_t>& removed);
  /// Brings one store's indexes up to date now (load or rebuild) and reports how.
  Result<std::string> refresh(std::string_view store_name);
  /// Persists every loaded dense index whose in-memory state is newer than its file.
  Status save_all();
  /// Forgets a deleted store's indexes: drops them from memory (searches still running keep theirs)
  /// and removes their files from the index folder (they would never be read again: a new store
  /// gets a new id).
  Status remove_files(int64_t store_id);

 private:
  struct Entry;
  struct LexicalEntry;
  // Shared, so a search keeps the entry it started with while a refresh replaces it or a deleted
  // store's entry is dropped.
  Result<std::shared_ptr<Entry>> current(std::string_view store_name);
  Result<std::shared_ptr<LexicalEntry>> current_lexical(std::string_view store_name);
  void apply_lexical(std::string_view store_name, const std::vector<IndexedChunk>& added,
                     const std::vector<int64_t>& removed, int64_t store_version);
  store::Store& store_;
  embed::Embedder& embedder_;
  std::filesystem::path folder_;
  std::mutex mutex_;  // guards the maps (not the indexes, which lock themselves)
  std::map<std::string, std::shared_ptr<Entry>, std::less<>> entries_;
  std::mutex lexical_mutex_;  // guards lexical_entries_; held while a lexical index is rebuilt
  std::map<std::string, std::shared_ptr<LexicalEntry>, std::less<>> lexical_entries_;
};

/// Lexical, dense or hybrid (reciprocal-rank fusion) search over knowledge stores.
class HybridRetriever final : public Retriever {
 public:
  HybridRetriever(store::Store& store, KnowledgeIndexes& indexes) : store_(store), indexes_(indexes) {}
  Result<std::vector<Passage>> retrieve(const Query& query) override;

 private:
  Result<std::vector<Passage>> lexical(const Query& query, int depth);
  Result<std::vector<Passage>> store_lexical(const Query& query, int depth);
  Result<std::vector<Passage>> dense(const Query& query, int depth);
  store::Store& store_;
  KnowledgeIndexes& indexes_;
};

/// Lexical-only retrieval, for callers without vectors.
class LexicalRetriever final : public Retriever {
 public:
  explicit LexicalRetriever(store::Store& store) : store_(store) {}
  Result<std::vector<Passage>> retrieve(const Query& query) override;

 private:
  store::Store& store_;
};

}  // namespace brandcoach::index
