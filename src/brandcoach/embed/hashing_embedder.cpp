// The offline embedder: signed feature hashing of stems, stem bigrams and character n-grams.
//
// Hashes must be identical on every platform and in every run, because stored vectors outlive the
// process that made them; std::hash promises neither, so FNV-1a 64 with a murmur3 finaliser is spelled
// out here. Changing a weight, a salt or the feature set changes the vector space: bump the "v1" in
// id() so stores re-embed instead of comparing vectors from two different spaces.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/embed/embed.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::embed {

namespace {

constexpr size_t kMinDimension = 64;
constexpr size_t kMaxDimension = 8192;

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

constexpr uint64_t fnv1a(uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

constexpr uint64_t fnv1a(uint64_t hash, unsigned char byte) {
  return (hash ^ byte) * kFnvPrime;
}

// murmur3's fmix64: FNV-1a leaves the low bits of short inputs poorly mixed, and both the bucket
// (low bits, via %) and the sign (top bit) must look independent.
constexpr uint64_t finish(uint64_t hash) {
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

// Feature types. Each has its own hash salt (so the word "ing" and the n-gram "ing" land in
// different buckets) and its own weight.
enum FeatureType : uint32_t { kWord = 0, kBigram = 1, kCharGram = 2 };

constexpr uint64_t kSalt[] = {fnv1a(kFnvOffset, "bc.word"), fnv1a(kFnvOffset, "bc.bigram"),
                              fnv1a(kFnvOffset, "bc.chargram")};

// Whole stems carry the topic; bigrams add phrase sense ("price increase" vs "increase reach"); the
// many small n-grams give partial credit to derivations the stemmer does not merge ("brand",
// "branding", "brandable") and to typos, without drowning the words: a seven-letter word yields
// fifteen n-grams, so their weight is kept well below a word's.
constexpr double kWeight[] = {1.0, 0.8, 0.3};

constexpr unsigned char kGramStart = '<';
constexpr unsigned char kGramEnd = '>';
constexpr unsigned char kBigramSeparator = ' ';  // never inside a word

struct Feature {
  uint64_t hash;
  FeatureType type;
};

// A feature with how often it occurred in the text.
struct Counted {
  uint64_t hash = 0;
  uint32_t count = 0;  // 0: the slot is empty
  FeatureType type = kWord;
};

// Per-call scratch, kept together so a text costs a handful of allocations, not one per feature.
struct Scratch {
  std::vector<Feature> features;
  std::vector<size_t> starts;   // byte offsets of the code points of the current word
  std::vector<Counted> counts;  // open addressing, linear probing; twice as many slots as features
};

// Term frequencies in one pass over the features (a chunk has thousands; sorting them cost more than
// the rest of the embedding). Slots are visited in index order afterwards, so the result does not
// depend on anything but the text.
std::vector<Counted>& count_features(Scratch& scratch) {
  size_t slots = 16;
  while (slots < scratch.features.size() * 2) slots *= 2;
  auto& counts = scratch.counts;
  counts.assign(slots, Counted{});
  const size_t mask = slots - 1;
  for (const auto& feature : scratch.features) {
    for (size_t i = feature.hash & mask;; i = (i + 1) & mask) {
      if (counts[i].count == 0) {
        counts[i] = {feature.hash, 1, feature.type};
        break;
      }
      if (counts[i].hash == feature.hash) {
        ++counts[i].count;
        break;
      }
    }
  }
  return counts;
}

// Character 3- and 4-grams of `word` padded as "<word>", counted in code points so a multi-byte
// letter is never split. The padding is hashed in place rather than copied into a new string.
void add_char_grams(std::string_view word, Scratch& scratch) {
  auto& starts = scratch.starts;
  starts.clear();
  for (size_t i = 0; i < word.size(); ++i) {
    if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  // Padded sequence positions: 0 is '<', 1..n are the code points, n + 1 is '>'.
  const size_t count = starts.size();
  const size_t padded = count + 2;
  for (size_t n = 3; n <= 4; ++n) {
    for (size_t first = 0; first + n <= padded; ++first) {
      const size_t last = first + n;  // one past the final position
      uint64_t hash = kSalt[kCharGram];
      hash = fnv1a(hash, static_cast<unsigned char>('0' + n));
      if (first == 0) hash = fnv1a(hash, kGramStart);
      const size_t cp_first = first == 0 ? 0 : first - 1;
      const size_t cp_last = std::min(last - 1, count);  // code points [cp_first, cp_last)
      if (cp_first < cp_last) {
        const size_t begin = starts[cp_first];
        const size_t end = cp_last < count ? starts[cp_last] : word.size();
        hash = fnv1a(hash, word.substr(begin, end - begin));
      }
      if (last == padded) hash = fnv1a(hash, kGramEnd);
      scratch.features.push_back({finish(hash), kCharGram});
    }
  }
}

void collect_features(std::string_view text, Scratch& scratch) {
  scratch.features.clear();
  std::string previous_stem;
  bool has_previous = false;
  for (const std::string& word : text::words(text)) {
    if (text::is_stopword(word)) continue;
    std::string stem = text::stem(word);
    if (stem.empty()) continue;
    scratch.features.push_back({finish(fnv1a(kSalt[kWord], stem)), kWord});
    if (has_previous) {
      uint64_t hash = fnv1a(kSalt[kBigram], previous_stem);
      hash = fnv1a(hash, kBigramSeparator);
      scratch.features.push_back({finish(fnv1a(hash, stem)), kBigram});
    }
    // n-grams of the surface word: the stem already unifies inflections, the surface form adds what
    // the stemmer cuts off ("pricing" shares "<pri", "pric" with "price" and "prices").
    add_char_grams(word, scratch);
    previous_stem = std::move(stem);
    has_previous = true;
  }
}

// Sums (1 + ln tf) * type weight, signed, into buckets; not normalised.
std::vector<double> raw_vector(std::string_view text, size_t dimension) {
  thread_local Scratch scratch;
  collect_features(text, scratch);
  std::vector<double> sums(dimension, 0.0);
  for (const auto& feature : count_features(scratch)) {
    if (feature.count == 0) continue;
    const double sign = (feature.hash >> 63) != 0 ? -1.0 : 1.0;
    sums[feature.hash % dimension] +=
        sign * (1.0 + std::log(static_cast<double>(feature.count))) * kWeight[feature.type];
  }
  return sums;
}

Vector normalized(const std::vector<double>& sums) {
  double norm = 0.0;
  for (const double x : sums) norm += x * x;
  norm = std::sqrt(norm);
  Vector out(sums.size(), 0.0f);
  if (norm == 0.0) return out;  // empty text: the zero vector, not NaNs
  for (size_t i = 0; i < sums.size(); ++i) out[i] = static_cast<float>(sums[i] / norm);
  return out;
}

class HashingEmbedder final : public Embedder {
 public:
  explicit HashingEmbedder(size_t dimension) : dimension_(dimension) {}

  std::string id() const override { return "hashing:" + std::to_string(dimension_) + ":v1"; }
  size_t dimension() const override { return dimension_; }

  Result<std::vector<Vector>> embed_documents(const std::vector<std::string>& texts) override {
    std::vector<Vector> out;
    out.reserve(texts.size());
    for (const auto& text : texts) out.push_back(normalized(raw_vector(text, dimension_)));
    return out;
  }

  Result<Vector> embed_query(std::string_view text, const DocumentFrequencies* df) override {
    std::vector<double> sums = raw_vector(text, dimension_);
    if (df != nullptr && df->documents > 0) {
      if (df->df.size() != dimension_) {
        return Error::invalid("document frequencies have " + std::to_string(df->df.size()) +
                              " buckets but the embedder has " + std::to_string(dimension_));
      }
      for (size_t b = 0; b < dimension_; ++b) {
        if (sums[b] != 0.0) sums[b] *= df->idf(b);
      }
    }
    return normalized(sums);
  }

 private:
  const size_t dimension_;
};

}  // namespace

void DocumentFrequencies::add(const Vector& v) {
  if (df.size() < v.size()) df.resize(v.size(), 0);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] != 0.0f) ++df[i];
  }
  ++documents;
}

void DocumentFrequencies::remove(const Vector& v) {
  for (size_t i = 0; i < v.size() && i < df.size(); ++i) {
    if (v[i] != 0.0f && df[i] > 0) --df[i];
  }
  if (documents > 0) --documents;
}

double DocumentFrequencies::idf(size_t bucket) const {
  const auto n = static_cast<double>(documents);
  // A bucket beyond the table was never counted; df above N can only come from a mismatched
  // remove(), and is clamped so the logarithm's argument stays above 1.
  const double count = bucket < df.size() ? std::min(static_cast<double>(df[bucket]), n) : 0.0;
  return std::log(1.0 + (n - count + 0.5) / (count + 0.5));
}

Status validate(const HashingOptions& options) {
  if (options.dimension < kMinDimension || options.dimension > kMaxDimension) {
    return Error::config("hashing dimension must be between " + std::to_string(kMinDimension) + " and " +
                             std::to_string(kMaxDimension) + ", got " + std::to_string(options.dimension),
                         "dimension");
  }
  return ok();
}

std::unique_ptr<Embedder> make_hashing_embedder(const HashingOptions& options) {
  if (const auto status = validate(options); !status) throw std::invalid_argument(status.error().message);
  return std::make_unique<HashingEmbedder>(options.dimension);
}

}  // namespace brandcoach::embed
