// brandcoach embed: text to vectors for dense retrieval.
//
// `hashing` (the offline default) needs no model: stemmed words, word bigrams and character n-grams
// are feature-hashed with a sign into a fixed number of buckets, weighted by sublinear term frequency,
// and L2-normalised. IDF is applied on the query side from the store's document frequencies per
// bucket, so stored vectors never go stale as the corpus grows. `http` calls any OpenAI-compatible
// `/embeddings` endpoint, batched and retried.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/core/core.hpp"
#include "brandcoach/net/net.hpp"

namespace brandcoach::embed {

using Vector = std::vector<float>;

/// How many stored vectors have a non-zero value in each bucket; the hashing embedder's IDF source.
struct DocumentFrequencies {
  uint64_t documents = 0;
  std::vector<uint32_t> df;  // one entry per dimension

  void add(const Vector& v);     // counts the non-zero buckets of a newly stored vector
  void remove(const Vector& v);  // undoes add() for a deleted vector
  /// Smoothed IDF of a bucket: ln(1 + (N - df + 0.5) / (df + 0.5)), as in BM25.
  double idf(size_t bucket) const;
};

class Embedder {
 public:
  virtual ~Embedder() = default;
  /// Identity of the vector space, e.g. "hashing:512:v1" or "http:text-embedding-3-small".
  /// Vectors made by embedders with different ids are not comparable; a store records it.
  virtual std::string id() const = 0;
  virtual size_t dimension() const = 0;
  /// One L2-normalised vector per text, in order.
  virtual Result<std::vector<Vector>> embed_documents(const std::vector<std::string>& texts) = 0;
  /// The vector to search with. `df` (may be null) are the store's frequencies; embedders that do not
  /// use them ignore it.
  virtual Result<Vector> embed_query(std::string_view text, const DocumentFrequencies* df) = 0;
};

struct HashingOptions {
  size_t dimension = 512;  // 64..8192
};

/// Checks the bounds above; the error (invalid_config) names the offending field.
Status validate(const HashingOptions& options);

/// Offline, deterministic, thread-safe. Throws std::invalid_argument when validate(options) fails:
/// options from users must be validated first.
std::unique_ptr<Embedder> make_hashing_embedder(const HashingOptions& options = {});

struct HttpOptions {
  std::string base_url;  // e.g. https://api.openai.com/v1 ; the request goes to {base_url}/embeddings
  std::string api_key;   // sent as Bearer token when not empty; never logged
  std::string model;
  size_t dimension = 0;    // expected size; 0: learn from the first answer
  size_t batch_size = 64;  // texts per request
  int max_retries = 4;     // on 429, 5xx and network errors; honours Retry-After
  int64_t connect_timeout_ms = 5000;
  int64_t timeout_ms = 30000;
  std::shared_ptr<net::Upstream> upstream;  // breaker and concurrency limit shared by all calls
};

/// Thread-safe; each call makes its own HTTP requests through the net module's resilience layer.
std::unique_ptr<Embedder> make_http_embedder(const HttpOptions& options);

}  // namespace brandcoach::embed
