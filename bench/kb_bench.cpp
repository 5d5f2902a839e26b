// Measures the knowledge base against its DESIGN budgets (2-core machine), in process:
//   ingest     a synthetic markdown corpus through ingest::read_paths + coach::ingest_into (hashing
//              embedder, 512 dims) into a fresh SQLite store: MB/s of source text overall and per stage
//              (read, chunk, embed, FTS terms, HNSW add), so the bottleneck shows. Budget: >= 2 MB/s/core.
//   search10k  queries through HybridRetriever in each mode on that store, limit 10: p50/p95/p99,
//              lexical being the baseline.
//   hnsw1m     a DenseIndex over M clustered synthetic vectors: build time, RSS per million vectors, k=10
//              search p50/p95 and recall@10 against exact brute force (timed too, as the baseline), save
//              and load time and file size. Budgets: p95 <= 10 ms, recall@10 >= 0.95.
// The corpus and queries are deterministic for a given --seed. Searches run on one thread, as a single
// search does; ingest_into inserts each write batch's vectors into HNSW on every core, as the product
// does, so its CPU time is reported beside its wall time.
//
// Usage: kb_bench [ingest] [search10k] [hnsw1m] [hybrid1m] [all] [--docs=10000] [--queries=1000]
//                 [--chunks=1000000]
//                 [--vectors=1000000] [--dim=512] [--clusters=1000] [--spread=1.0] [--seed=42]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/embed/embed.hpp"
#include "brandcoach/index/index.hpp"
#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/store/store.hpp"
#include "brandcoach/text/text.hpp"
#include "support/temp_dir.hpp"

namespace {

#include "kb_vocabulary.inc"

namespace bc = brandcoach;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Rng = std::mt19937_64;

constexpr size_t kEmbedDimension = 512;  // the hashing embedder's default
constexpr size_t kEmbedBatch = 256;      // as coach::ingest_into batches
constexpr int kSearchLimit = 10;
constexpr size_t kWarmup = 50;
constexpr size_t kRecallK = 10;
constexpr double kMB = 1e6;

struct Options {
  std::set<std::string> benches;
  size_t docs = 10000;
  size_t queries = 1000;
  size_t chunks = 1000000;  // hybrid1m
  size_t vectors = 1000000;
  size_t dim = 512;
  size_t clusters = 1000;
  double spread = 1.0;  // isotropic noise norm relative to the (unit) cluster centroid
  uint64_t seed = 42;
};

// ---------------------------------------------------------------------------------------------------
// Measuring

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Latency {
  double p50 = 0, p95 = 0, p99 = 0, mean = 0, max = 0;
};

// Nearest-rank percentiles.
Latency latency(std::vector<double> samples) {
  Latency out;
  if (samples.empty()) return out;
  std::sort(samples.begin(), samples.end());
  const auto rank = [&](double q) {
    const auto index = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<size_t>(index, 1, samples.size()) - 1];
  };
  double sum = 0;
  for (const double s : samples) sum += s;
  return {rank(0.50), rank(0.95), rank(0.99), sum / static_cast<double>(samples.size()), samples.back()};
}

std::string describe(const Latency& l) {
  return fmt::format("p50 {:7.3f} ms  p95 {:7.3f} ms  p99 {:7.3f} ms  (mean {:.3f}, max {:.3f})", l.p50,
                     l.p95, l.p99, l.mean, l.max);
}

// Resident set size of this process, from /proc/self/status.
size_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// CPU time this process has used (all threads), to tell computing from waiting on the disk.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double mb_per_s(size_t bytes, double seconds) {
  return static_cast<double>(bytes) / kMB / seconds;
}

[[noreturn]] void die(const std::string& what, const bc::Error& error) {
  std::fprintf(stderr, "kb_bench: %s: %s\n", what.c_str(), error.message.c_str());
  std::exit(1);
}

// ---------------------------------------------------------------------------------------------------
// Synthetic text: words drawn from the vocabulary with Zipf frequencies (rank r has weight 1 / (r + 1)).

class Vocabulary {
 public:
  Vocabulary() {
    for (size_t pos = 0; pos < kVocabularyText.size();) {
      size_t end = kVocabularyText.find(' ', pos);
      if (end == std::string_view::npos) end = kVocabularyText.size();
      words_.emplace_back(kVocabularyText.substr(pos, end - pos));
      pos = end + 1;
    }
    double total = 0;
    for (size_t rank = 0; rank < words_.size(); ++rank) {
      total += 1.0 / static_cast<double>(rank + 1);
      cumulative_.push_back(total);
    }
  }

  size_t size() const { return words_.size(); }

  /// A word of rank >= first_rank (skipping the most frequent, mostly function words, for headings).
  const std::string& draw(Rng& rng, size_t first_rank = 0) const {
    const double low = first_rank == 0 ? 0.0 : cumulative_[first_rank - 1];
    std::uniform_real_distribution<double> uniform(low, cumulative_.back());
    const auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), uniform(rng));
    return words_[std::min(static_cast<size_t>(it - cumulative_.begin()), words_.size() - 1)];
  }

 private:
  std::vector<std::string> words_;
  std::vector<double> cumulative_;
};

size_t uniform(Rng& rng, size_t low, size_t high) {
  return std::uniform_int_distribution<size_t>(low, high)(rng);
}

bool chance(Rng& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

std::string capitalized(std::string word) {
  if (!word.empty()) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
  return word;
}

// Title Case words from the content end of the vocabulary.
std::string heading_words(const Vocabulary& vocab, Rng& rng, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) out += (i ? " " : "") + capitalized(vocab.draw(rng, 30));
  return out;
}

std::string sentence(const Vocabulary& vocab, Rng& rng) {
  const size_t count = uniform(rng, 6, 20);
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    const std::string& word = vocab.draw(rng);
    out += i == 0 ? capitalized(word) : " " + word;
    if (i + 1 < count && chance(rng, 0.08)) out += ',';
  }
  return out + (chance(rng, 0.1) ? "?" : ".");
}

// A paragraph of 2-5 sentences, or (one time in five) a bullet list of 3-5 short items.
std::string block(const Vocabulary& vocab, Rng& rng) {
  std::string out;
  if (chance(rng, 0.2)) {
    for (size_t item = uniform(rng, 3, 5); item > 0; --item) {
      out += "- " + capitalized(vocab.draw(rng, 30));
      for (size_t word = uniform(rng, 2, 8); word > 0; --word) out += " " + vocab.draw(rng);
      out += "\n";
    }
  } else {
    for (size_t s = uniform(rng, 2, 5); s > 0; --s) out += sentence(vocab, rng) + (s > 1 ? " " : "\n");
  }
  return out + "\n";
}

// A markdown document of about target_bytes: a title, then sections (## heading, 1-3 blocks) until the
// target is reached.
std::string markdown_document(const Vocabulary& vocab, Rng& rng, size_t target_bytes) {
  std::string doc = "# " + heading_words(vocab, rng, uniform(rng, 3, 6)) + "\n\n";
  while (doc.size() < target_bytes) {
    doc += "## " + heading_words(vocab, rng, uniform(rng, 2, 5)) + "\n\n";
    for (size_t b = uniform(rng, 1, 3); b > 0 && doc.size() < target_bytes; --b) doc += block(vocab, rng);
  }
  return doc;
}

// Writes `count` documents of 1-3 KB as doc-NNNNN.md; returns their total size in bytes.
size_t write_corpus(const fs::path& folder, size_t count, const Vocabulary& vocab, Rng& rng) {
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    const std::string doc = markdown_document(vocab, rng, uniform(rng, 1000, 3000));
    std::ofstream(folder / fmt::format("doc-{:05}.md", i), std::ios::binary) << doc;
    total += doc.size();
  }
  return total;
}

std::string query_text(const Vocabulary& vocab, Rng& rng) {
  std::string out;
  for (size_t i = uniform(rng, 2, 8); i > 0; --i) out += (out.empty() ? "" : " ") + vocab.draw(rng);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// ingest

// A knowledge store built from a synthetic corpus, kept for the search benchmark.
struct KnowledgeBase {
  bc::testing::TempDir corpus;
  bc::testing::TempDir data;
  std::unique_ptr<bc::store::Store> store;
  std::unique_ptr<bc::embed::Embedder> embedder;
  static constexpr std::string_view kStore = "bench";
};

// What the embedder sees of a chunk, as in coach::ingest_into.
std::string embedding_text(const bc::text::Chunk& chunk) {
  return chunk.heading.empty() ? chunk.text : chunk.heading + "\n" + chunk.text;
}

void report_stage(std::string_view name, size_t source_bytes, double seconds, double ingest_seconds) {
  std::printf("ingest: %-44s: %7.3f s  %7.2f MB/s  (%4.1f%% of ingest_into)\n", std::string(name).c_str(),
              seconds, mb_per_s(source_bytes, seconds), 100.0 * seconds / ingest_seconds);
}

// Times each stage of ingest_into alone, over the same documents, so the bottleneck is visible: chunking,
// embedding, the store's put_file (into a second fresh store; it stems the FTS terms, inserts, and commits
// durably once per file) and the HNSW inserts.
void ingest_stages(const bc::ingest::Batch& batch, bc::embed::Embedder& embedder, size_t source_bytes,
                   double ingest_seconds) {
  auto start = Clock::now();
  std::vector<std::vector<bc::text::Chunk>> chunks;  // per document
  for (const auto& doc : batch.documents) chunks.push_back(bc::text::chunk_blocks(doc.blocks, {}));
  const double chunk_s = seconds_since(start);

  std::vector<std::vector<bc::store::NewChunk>> rows;  // per document; vectors filled in by the embedder
  size_t chunk_count = 0;
  for (const auto& doc_chunks : chunks) {
    auto& doc_rows = rows.emplace_back();
    for (const auto& c : doc_chunks)
      doc_rows.push_back({c.ordinal, c.heading, c.text, static_cast<int64_t>(c.tokens), c.page, {}});
    chunk_count += doc_chunks.size();
  }
  start = Clock::now();
  for (size_t d = 0; d < chunks.size(); ++d) {
    for (size_t first = 0; first < chunks[d].size(); first += kEmbedBatch) {
      std::vector<std::string> texts;
      for (size_t i = first; i < std::min(chunks[d].size(), first + kEmbedBatch); ++i)
        texts.push_back(embedding_text(chunks[d][i]));
      auto embedded = embedder.embed_documents(texts);
      if (!embedded) die("embed_documents", embedded.error());
      for (size_t i = 0; i < embedded->size(); ++i) rows[d][first + i].vector = std::move((*embedded)[i]);
    }
  }
  const double embed_s = seconds_since(start);

  size_t terms_bytes = 0;  // keeps the calls observable
  start = Clock::now();
  for (const auto& doc_chunks : chunks) {
    for (const auto& chunk : doc_chunks) {
      terms_bytes += bc::text::index_terms(chunk.heading).size() + bc::text::index_terms(chunk.text).size();
    }
  }
  const double terms_s = seconds_since(start);

  bc::testing::TempDir folder;
  auto store = bc::store::open_sqlite({(folder.path() / "put_file.db").string()});
  if (!store) die("open_sqlite", store.error());
  auto store_id = (*store)->ensure_knowledge_store(KnowledgeBase::kStore);
  if (!store_id) die("ensure_knowledge_store", store_id.error());
  start = Clock::now();
  for (size_t d = 0; d < chunks.size(); ++d) {
    const auto& doc = batch.documents[d];
    const bc::store::FileInput input{doc.filename,
                                     static_cast<int64_t>(doc.bytes),
                                     doc.sha256,
                                     doc.external_id,
                                     doc.title,
                                     doc.format,
                                     doc.attributes.dump()};
    if (auto put = (*store)->put_file(*store_id, input, rows[d]); !put) die("put_file", put.error());
  }
  const double put_s = seconds_since(start);

  start = Clock::now();
  bc::index::DenseIndex index(embedder.dimension());
  int64_t id = 0;
  for (const auto& doc_rows : rows) {
    for (const auto& row : doc_rows) index.add(++id, row.vector.data());
  }
  const double hnsw_s = seconds_since(start);

  // The lexical index as ingest writes it: one commit per batch of about 50 files.
  auto lexical = bc::index::LexicalIndex::open(folder.path() / "lexical");
  if (!lexical) die("LexicalIndex::open", lexical.error());
  start = Clock::now();
  std::vector<bc::index::LexicalIndex::Document> docs;
  id = 0;
  for (size_t d = 0; d < rows.size(); ++d) {
    for (const auto& row : rows[d]) {
      docs.push_back({++id, bc::text::index_terms(row.heading), bc::text::index_terms(row.text)});
    }
    if ((d + 1) % 50 == 0 || d + 1 == rows.size()) {
      if (auto status = lexical->write(docs, {}, static_cast<int64_t>(d)); !status)
        die("LexicalIndex::write", status.error());
      docs.clear();
    }
  }
  const double lexical_s = seconds_since(start);

  report_stage(fmt::format("chunk_blocks only ({} chunks)", chunk_count), source_bytes, chunk_s,
               ingest_seconds);
  report_stage("embed_documents only (hashing, 512 dims)", source_bytes, embed_s, ingest_seconds);
  report_stage("Store::put_file only (SQLite, 1 commit/file)", source_bytes, put_s, ingest_seconds);
  report_stage(
      fmt::format("  of which index_terms (FTS stems, {:.1f} MB)", static_cast<double>(terms_bytes) / kMB),
      source_bytes, terms_s, ingest_seconds);
  report_stage("DenseIndex::add only (HNSW, serial)", source_bytes, hnsw_s, ingest_seconds);
  report_stage("LexicalIndex::write only (Xapian, stems included)", source_bytes, lexical_s, ingest_seconds);
  const double rest = ingest_seconds - chunk_s - embed_s - put_s - hnsw_s;
  std::printf("ingest: %-44s: %7.3f s  (%4.1f%% of ingest_into; stages timed apart, so noise shows here)\n",
              "unaccounted (ingest_into - the stages above)", rest, 100.0 * rest / ingest_seconds);
}

// What one durable commit costs on this disk at least: append 4 KB to a file and fdatasync it (SQLite
// in WAL mode with synchronous=FULL syncs the WAL once per transaction, and ingest_into commits once
// per file).
Latency fdatasync_latency(const fs::path& folder, size_t count) {
  const fs::path file = folder / "fsync-probe";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    std::perror("kb_bench: open");
    std::exit(1);
  }
  const std::string page(4096, 'x');
  std::vector<double> samples;
  for (size_t i = 0; i < count; ++i) {
    const auto t = Clock::now();
    if (::pwrite(fd, page.data(), page.size(), static_cast<off_t>(i * page.size())) < 0 ||
        ::fdatasync(fd) != 0) {
      std::perror("kb_bench: write");
      std::exit(1);
    }
    samples.push_back(ms_since(t));
  }
  ::close(fd);
  fs::remove(file);
  return latency(samples);
}

// Generates the corpus and ingests it into a fresh store. With `report`, prints the ingest figures
// (and times each stage alone); without, only builds the store for the search benchmark.
std::unique_ptr<KnowledgeBase> ingest_bench(const Options& options, const Vocabulary& vocab, Rng& rng,
                                            bool report) {
  auto kb = std::make_unique<KnowledgeBase>();
  auto start = Clock::now();
  const size_t source_bytes = write_corpus(kb->corpus.path(), options.docs, vocab, rng);
  const double generate_s = seconds_since(start);

  start = Clock::now();
  auto batch = bc::ingest::read_paths({kb->corpus.path().string()});
  const double read_s = seconds_since(start);
  if (!batch.failures.empty()) {
    std::fprintf(stderr, "kb_bench: %s: %s\n", batch.failures[0].path.c_str(),
                 batch.failures[0].reason.c_str());
    std::exit(1);
  }
  const bc::ingest::Batch copy = report ? batch : bc::ingest::Batch{};  // for the per-stage timings

  auto store = bc::store::open_sqlite({(kb->data.path() / "brandcoach.db").string()});
  if (!store) die("open_sqlite", store.error());
  kb->store = std::move(store).value();
  kb->embedder = bc::embed::make_hashing_embedder({kEmbedDimension});
  bc::index::KnowledgeIndexes vectors(*kb->store, *kb->embedder, kb->data.path() / "index");
  start = Clock::now();
  const double cpu_start = cpu_seconds();
  auto synced = bc::coach::ingest_into(*kb->store, vectors, KnowledgeBase::kStore, std::move(batch), {});
  const double ingest_s = seconds_since(start);
  const double ingest_cpu_s = cpu_seconds() - cpu_start;
  if (!synced) die("ingest_into", synced.error());
  start = Clock::now();
  if (auto saved = vectors.save_all(); !saved) die("save_all", saved.error());
  const double save_s = seconds_since(start);
  if (!report) return kb;

  const double overall_s = read_s + ingest_s;
  std::printf(
      "ingest: corpus: %zu markdown docs, %.2f MB, 1-3 KB each, %zu-word Zipf vocabulary (generated in %.1f "
      "s)\n",
      options.docs, static_cast<double>(source_bytes) / kMB, vocab.size(), generate_s);
  std::printf("ingest: %-44s: %lld added, %lld chunks (%.2f chunks/doc)\n", "ingest_into result",
              static_cast<long long>(synced->added), static_cast<long long>(synced->chunks),
              static_cast<double>(synced->chunks) / static_cast<double>(options.docs));
  std::printf("ingest: %-44s: %7.3f s  %7.2f MB/s   [budget >= 2 MB/s/core; HNSW inserts use all cores]\n",
              "OVERALL read_paths + ingest_into", overall_s, mb_per_s(source_bytes, overall_s));
  std::printf("ingest: %-44s: %7.3f s  %7.2f MB/s\n", "read_paths (page-cached files, md parse)", read_s,
              mb_per_s(source_bytes, read_s));
  std::printf("ingest: %-44s: %7.3f s  %7.2f MB/s\n", "ingest_into (chunk, embed, store, index)", ingest_s,
              mb_per_s(source_bytes, ingest_s));
  std::printf("ingest: %-44s: %7.3f s  (wall - CPU = %.3f s waiting: disk syncs, run queue)\n",
              "ingest_into CPU time (user + sys)", ingest_cpu_s, ingest_s - ingest_cpu_s);
  std::printf("ingest: %-44s: %7.3f s\n", "KnowledgeIndexes::save_all (after ingest)", save_s);
  const Latency sync = fdatasync_latency(kb->data.path(), 200);
  std::printf("ingest: %-44s: %s  (x %lld files = %.2f s at p50)\n", "disk: 4 KB write + fdatasync (200)",
              describe(sync).c_str(), static_cast<long long>(synced->added),
              sync.p50 * static_cast<double>(synced->added) / 1e3);
  ingest_stages(copy, *kb->embedder, source_bytes, ingest_s);
  return kb;
}

// ---------------------------------------------------------------------------------------------------
// search10k

// Latency of each search mode over `queries` (after a warm-up), lexical first as the baseline.
void measure_modes(const char* label, bc::store::Store& store, bc::index::KnowledgeIndexes& vectors,
                   const std::vector<std::string>& queries) {
  bc::index::HybridRetriever retriever(store, vectors);
  const auto run = [&](bc::index::SearchMode mode, size_t count, size_t* empty) {
    std::vector<double> samples;
    for (size_t i = 0; i < count; ++i) {
      bc::index::Query query;
      query.text = queries[i % queries.size()];
      query.stores = {std::string(KnowledgeBase::kStore)};
      query.limit = kSearchLimit;
      query.mode = mode;
      const auto t = Clock::now();
      auto found = retriever.retrieve(query);
      samples.push_back(ms_since(t));
      if (!found) die("retrieve", found.error());
      if (empty && found->empty()) ++*empty;
    }
    return latency(samples);
  };
  // Baseline: the store's own SQLite FTS5 search, which served lexical retrieval before the Xapian
  // index (at most 200 queries: at a million chunks each takes hundreds of milliseconds).
  std::vector<double> fts_samples;
  const size_t fts_queries = std::min<size_t>(queries.size(), 200);
  for (size_t i = 0; i < fts_queries + kWarmup; ++i) {
    const auto t = Clock::now();
    auto found =
        store.search_chunks({std::string(KnowledgeBase::kStore)}, queries[i % queries.size()], kSearchLimit);
    if (i >= kWarmup) fts_samples.push_back(ms_since(t));
    if (!found) die("search_chunks", found.error());
  }
  const Latency baseline = latency(fts_samples);
  std::printf("%s: %-8s limit %d, %zu queries: %s  [baseline: SQLite FTS5 bm25()]\n", label, "fts5",
              kSearchLimit, fts_queries, describe(baseline).c_str());
  for (const auto mode :
       {bc::index::SearchMode::lexical, bc::index::SearchMode::dense, bc::index::SearchMode::hybrid}) {
    run(mode, kWarmup, nullptr);
    size_t empty = 0;
    const Latency l = run(mode, queries.size(), &empty);
    std::printf("%s: %-8s limit %d, %zu queries: %s  [p50 %.2fx, p95 %.2fx fts5; %zu empty]\n", label,
                std::string(bc::index::to_string(mode)).c_str(), kSearchLimit, queries.size(),
                describe(l).c_str(), l.p50 / baseline.p50, l.p95 / baseline.p95, empty);
  }
}

void search_bench(KnowledgeBase& kb, const Options& options, const Vocabulary& vocab, Rng& rng) {
  std::vector<std::string> queries;
  for (size_t i = 0; i < options.queries; ++i) queries.push_back(query_text(vocab, rng));

  // A fresh process's view: the dense index loads from the copy ingest persisted.
  bc::index::KnowledgeIndexes vectors(*kb.store, *kb.embedder, kb.data.path() / "index");
  auto start = Clock::now();
  auto loaded = vectors.refresh(KnowledgeBase::kStore);
  if (!loaded) die("refresh", loaded.error());
  std::printf("search: dense index load (KnowledgeIndexes::refresh)    : %.1f ms (%s)\n", ms_since(start),
              loaded->c_str());
  measure_modes("search", *kb.store, vectors, queries);

  // The dense side alone (query embedding with IDF + HNSW), without fetching the passages.
  std::vector<double> samples;
  for (const auto& text : queries) {
    const auto t = Clock::now();
    auto found = vectors.search(KnowledgeBase::kStore, text, kSearchLimit);
    samples.push_back(ms_since(t));
    if (!found) die("KnowledgeIndexes::search", found.error());
  }
  std::printf("search: KnowledgeIndexes::search only (embed_query + HNSW k=10): %s\n",
              describe(latency(samples)).c_str());
}

// ---------------------------------------------------------------------------------------------------
// hnsw1m

// Unit vectors from a mixture of Gaussians: `clusters` random unit centroids, each point its centroid
// plus isotropic noise of expected norm `spread`, renormalised.
class ClusteredVectors {
 public:
  ClusteredVectors(size_t dim, size_t clusters, double spread, Rng& rng)
      : dim_(dim), centroids_(clusters * dim), noise_(0.0, spread / std::sqrt(static_cast<double>(dim))) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& x : centroids_) x = normal(rng);
    for (size_t c = 0; c < clusters; ++c) normalize(&centroids_[c * dim_]);
  }

  void draw(float* out, Rng& rng) {
    const size_t c = std::uniform_int_distribution<size_t>(0, centroids_.size() / dim_ - 1)(rng);
    for (size_t i = 0; i < dim_; ++i) out[i] = centroids_[c * dim_ + i] + noise_(rng);
    normalize(out);
  }

  // A query near a held-out point: the point plus a quarter of the cluster noise, renormalised.
  void perturb(float* point, Rng& rng) {
    for (size_t i = 0; i < dim_; ++i) point[i] += 0.25f * noise_(rng);
    normalize(point);
  }

 private:
  void normalize(float* v) const {
    double norm = 0;
    for (size_t i = 0; i < dim_; ++i) norm += static_cast<double>(v[i]) * v[i];
    const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t i = 0; i < dim_; ++i) v[i] *= scale;
  }

  size_t dim_;
  std::vector<float> centroids_;
  std::normal_distribution<float> noise_;
};

// Eight independent partial sums, so the compiler can vectorise without reassociating.
float dot(const float* a, const float* b, size_t n) {
  float lanes[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) lanes[j] += a[i + j] * b[i + j];
  }
  float sum = 0;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (const float lane : lanes) sum += lane;
  return sum;
}

using Neighbours = std::vector<std::pair<float, int64_t>>;  // (similarity, id), best first

// Keeps the k best of a stream: a min-heap on similarity.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  void offer(float score, int64_t id) {
    if (heap_.size() < k_) {
      heap_.emplace_back(score, id);
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    } else if (score > heap_.front().first) {
      std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
      heap_.back() = {score, id};
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
  }
  Neighbours sorted() const {
    Neighbours out = heap_;
    std::sort(out.begin(), out.end(), std::greater<>());
    return out;
  }

 private:
  size_t k_;
  Neighbours heap_;
};

Neighbours exact_one(const std::vector<float>& base, size_t dim, const float* query, size_t k) {
  TopK top(k);
  const size_t n = base.size() / dim;
  for (size_t i = 0; i < n; ++i) top.offer(dot(query, &base[i * dim], dim), static_cast<int64_t>(i));
  return top.sorted();
}

// Exact k nearest (inner product) of every query, scanning the base in blocks that stay in cache while
// every query visits them.
std::vector<Neighbours> exact_all(const std::vector<float>& base, const std::vector<float>& queries,
                                  size_t dim, size_t k) {
  constexpr size_t kBlock = 128;
  const size_t n = base.size() / dim;
  const size_t q = queries.size() / dim;
  std::vector<TopK> tops(q, TopK(k));
  for (size_t first = 0; first < n; first += kBlock) {
    const size_t last = std::min(n, first + kBlock);
    for (size_t j = 0; j < q; ++j) {
      for (size_t i = first; i < last; ++i)
        tops[j].offer(dot(&queries[j * dim], &base[i * dim], dim), static_cast<int64_t>(i));
    }
  }
  std::vector<Neighbours> out;
  for (const auto& top : tops) out.push_back(top.sorted());
  return out;
}

double recall_at_k(const std::vector<std::pair<int64_t, float>>& found, const Neighbours& exact) {
  size_t hits = 0;
  for (const auto& [id, score] : found) {
    hits += std::any_of(exact.begin(), exact.end(), [id = id](const auto& e) { return e.second == id; });
  }
  return static_cast<double>(hits) / static_cast<double>(exact.size());
}

void hnsw_bench(const Options& options, Rng& rng) {
  const size_t n = options.vectors;
  const size_t dim = options.dim;
  const size_t q = options.queries;
  auto start = Clock::now();
  ClusteredVectors mixture(dim, options.clusters, options.spread, rng);
  std::vector<float> base(n * dim);
  for (size_t i = 0; i < n; ++i) mixture.draw(&base[i * dim], rng);
  std::vector<float> queries(q * dim);
  for (size_t j = 0; j < q; ++j) {
    mixture.draw(&queries[j * dim], rng);  // held out: never added to the index
    mixture.perturb(&queries[j * dim], rng);
  }
  std::printf(
      "hnsw: data: %zu vectors x %zu dims, %zu Gaussian clusters (spread %.2f), %zu held-out queries, "
      "L2-normalised (generated in %.1f s)\n",
      n, dim, options.clusters, options.spread, q, seconds_since(start));

  const size_t rss_before = rss_bytes();
  start = Clock::now();
  auto index = std::make_unique<bc::index::DenseIndex>(dim);
  for (size_t i = 0; i < n; ++i) {
    index->add(static_cast<int64_t>(i), &base[i * dim]);
    if ((i + 1) % std::max<size_t>(n / 20, 1) == 0) {
      std::fprintf(stderr, "  built %zu/%zu in %.0f s\n", i + 1, n, seconds_since(start));
    }
  }
  const double build_s = seconds_since(start);
  const size_t rss_after = rss_bytes();
  const double index_bytes = static_cast<double>(rss_after) - static_cast<double>(rss_before);
  std::printf("hnsw: build (DenseIndex::add, serial)                : %.1f s  (%.0f vectors/s)\n", build_s,
              static_cast<double>(n) / build_s);
  std::printf(
      "hnsw: RSS before/after build                         : %.1f MB -> %.1f MB (+%.1f MB; raw vectors "
      "%.1f MB)\n",
      static_cast<double>(rss_before) / kMB, static_cast<double>(rss_after) / kMB, index_bytes / kMB,
      static_cast<double>(n * dim * sizeof(float)) / kMB);
  std::printf("hnsw: memory per million vectors                     : %.2f GB (%.0f bytes/vector)\n",
              index_bytes / static_cast<double>(n) * 1e6 / 1e9, index_bytes / static_cast<double>(n));

  for (size_t j = 0; j < std::min(q, kWarmup); ++j) index->search(&queries[j * dim], kRecallK);
  std::vector<double> samples;
  std::vector<std::vector<std::pair<int64_t, float>>> found;
  for (size_t j = 0; j < q; ++j) {
    const auto t = Clock::now();
    found.push_back(index->search(&queries[j * dim], kRecallK));
    samples.push_back(ms_since(t));
  }
  const Latency hnsw = latency(samples);

  // Exact baseline: one query at a time over a sample (its latency), then all queries batched (truth).
  samples.clear();
  const size_t sampled = std::min<size_t>(q, 100);
  for (size_t j = 0; j < sampled; ++j) {
    const auto t = Clock::now();
    exact_one(base, dim, &queries[j * dim], kRecallK);
    samples.push_back(ms_since(t));
  }
  const Latency brute = latency(samples);
  start = Clock::now();
  const auto truth = exact_all(base, queries, dim, kRecallK);
  const double truth_s = seconds_since(start);

  double recall_sum = 0, recall_min = 1;
  size_t below_90 = 0, below_50 = 0;
  for (size_t j = 0; j < q; ++j) {
    const double r = recall_at_k(found[j], truth[j]);
    recall_sum += r;
    recall_min = std::min(recall_min, r);
    below_90 += r < 0.9 ? 1 : 0;
    below_50 += r < 0.5 ? 1 : 0;
  }
  std::printf("hnsw: search k=10 (ef %zu), %zu queries             : %s\n", index->search_beam(), q,
              describe(hnsw).c_str());
  std::printf("hnsw: brute force k=10, one query at a time (%zu)   : %s  (baseline; %.1fx the HNSW p50)\n",
              sampled, describe(brute).c_str(), brute.p50 / hnsw.p50);
  std::printf("hnsw: brute force k=10, all queries batched          : %.1f s (%.3f ms/query amortised)\n",
              truth_s, truth_s * 1e3 / static_cast<double>(q));
  std::printf(
      "hnsw: recall@10 vs exact inner product               : %.4f mean, %.2f worst query, %zu queries "
      "below 0.9, %zu below 0.5   [budget >= 0.95]\n",
      recall_sum / static_cast<double>(q), recall_min, below_90, below_50);

  bc::testing::TempDir folder;
  const fs::path file = folder / "index.hnsw";
  start = Clock::now();
  if (auto saved = index->save(file); !saved) die("DenseIndex::save", saved.error());
  const double save_s = seconds_since(start);
  const auto file_bytes = fs::file_size(file);
  index.reset();
  start = Clock::now();
  auto loaded = bc::index::DenseIndex::load(file, dim);
  const double load_s = seconds_since(start);
  if (!loaded) die("DenseIndex::load", loaded.error());
  size_t same = 0;
  for (size_t j = 0; j < q; ++j) same += loaded->search(&queries[j * dim], kRecallK) == found[j] ? 1 : 0;
  std::printf(
      "hnsw: DenseIndex::save                               : %.2f s, file %.1f MB (%.0f bytes/vector)\n",
      save_s, static_cast<double>(file_bytes) / kMB,
      static_cast<double>(file_bytes) / static_cast<double>(n));
  std::printf(
      "hnsw: DenseIndex::load                               : %.2f s (%zu vectors; %zu/%zu queries answer "
      "identically)\n",
      load_s, loaded->size(), same, q);
}

// ---------------------------------------------------------------------------------------------------
// hybrid1m

uint64_t folder_bytes(const fs::path& folder) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(folder, ec))
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  return total;
}

// One store of --chunks synthetic passages (40-80 Zipf words under a 3-word heading, 100 per file),
// written through Store::put_files with hashing-embedder vectors, as bulk ingest writes them; the
// dense index is then built from the stored vectors as a fresh process would (KnowledgeIndexes::refresh),
// and each search mode answers the same queries.
void hybrid_scale_bench(const Options& options, const Vocabulary& vocab, Rng& rng) {
  constexpr size_t kChunksPerFile = 100;
  constexpr size_t kFilesPerBatch = 50;
  KnowledgeBase kb;
  auto store = bc::store::open_sqlite({(kb.data.path() / "brandcoach.db").string()});
  if (!store) die("open_sqlite", store.error());
  kb.store = std::move(store).value();
  kb.embedder = bc::embed::make_hashing_embedder({kEmbedDimension});
  auto store_id = kb.store->ensure_knowledge_store(KnowledgeBase::kStore);
  if (!store_id) die("ensure_knowledge_store", store_id.error());
  if (auto status = kb.store->configure_knowledge_store(*store_id, kb.embedder->id(), "{}"); !status)
    die("configure_knowledge_store", status.error());

  auto start = Clock::now();
  double embed_s = 0;
  size_t text_bytes = 0;
  size_t written = 0;
  std::vector<bc::store::FileWrite> batch;
  while (written < options.chunks) {
    bc::store::FileWrite file;
    const std::string name = fmt::format("f{:07}.md", written / kChunksPerFile);
    file.file = {name, 0, bc::sha256_hex(name), "", "", "md", "{}"};
    std::vector<std::string> texts;
    for (size_t c = 0; c < kChunksPerFile && written + c < options.chunks; ++c) {
      std::string text;
      for (size_t words = uniform(rng, 40, 80), n = 0; n < words; ++n)
        text += (n ? " " : "") + vocab.draw(rng);
      const std::string heading = heading_words(vocab, rng, 3);
      texts.push_back(heading + "\n" + text);
      text_bytes += texts.back().size();
      file.chunks.push_back({static_cast<int>(c), heading, std::move(text), 60, 0, {}});
    }
    const auto embed_start = Clock::now();
    auto vectors = kb.embedder->embed_documents(texts);
    embed_s += seconds_since(embed_start);
    if (!vectors) die("embed_documents", vectors.error());
    for (size_t c = 0; c < file.chunks.size(); ++c) file.chunks[c].vector = std::move((*vectors)[c]);
    written += file.chunks.size();
    batch.push_back(std::move(file));
    if (batch.size() == kFilesPerBatch || written >= options.chunks) {
      if (auto put = kb.store->put_files(*store_id, batch); !put) die("put_files", put.error());
      batch.clear();
      if (written % 100000 < kChunksPerFile * kFilesPerBatch)
        std::fprintf(stderr, "hybrid1m: %zu chunks written (%.0f s)\n", written, seconds_since(start));
    }
  }
  const double write_s = seconds_since(start);
  std::printf("hybrid1m: wrote %zu chunks, %.1f MB of text: %.1f s (%.2f MB/s; embedding %.1f s of it)\n",
              written, static_cast<double>(text_bytes) / 1e6, write_s, mb_per_s(text_bytes, write_s),
              embed_s);
  std::error_code ec;
  std::printf("hybrid1m: database file %.2f GB\n",
              static_cast<double>(fs::file_size(kb.data.path() / "brandcoach.db", ec)) / 1e9);

  bc::index::KnowledgeIndexes vectors(*kb.store, *kb.embedder, kb.data.path() / "index");
  // The lexical index first (its first search builds it from the stored stems), then the dense one.
  size_t rss_before = rss_bytes();
  start = Clock::now();
  if (auto warm = vectors.search_lexical({std::string(KnowledgeBase::kStore)}, "brand", 1); !warm)
    die("search_lexical", warm.error());
  std::printf(
      "hybrid1m: lexical index built from stored stems: %.1f s (%.2f MB/s of text), %.2f GB on disk, "
      "RSS +%.2f GB\n",
      seconds_since(start), mb_per_s(text_bytes, seconds_since(start)),
      static_cast<double>(folder_bytes(kb.data.path() / "index")) / 1e9,
      static_cast<double>(rss_bytes() - rss_before) / 1e9);
  rss_before = rss_bytes();
  start = Clock::now();
  auto built = vectors.refresh(KnowledgeBase::kStore);
  if (!built) die("refresh", built.error());
  std::printf("hybrid1m: dense index built from stored vectors: %.1f s (%s), RSS +%.2f GB\n",
              seconds_since(start), built->c_str(), static_cast<double>(rss_bytes() - rss_before) / 1e9);
  std::vector<std::string> queries;
  for (size_t i = 0; i < options.queries; ++i) queries.push_back(query_text(vocab, rng));
  measure_modes("hybrid1m", *kb.store, vectors, queries);
}

// ---------------------------------------------------------------------------------------------------

int usage() {
  std::fprintf(
      stderr,
      "usage: kb_bench [ingest] [search10k] [hnsw1m] [hybrid1m] [all] [--docs=10000] [--queries=1000]\n"
      "                [--chunks=1000000] [--vectors=1000000] [--dim=512] [--clusters=1000] [--spread=1.0] "
      "[--seed=42]\n");
  return 2;
}

std::optional<Options> parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "all" || arg == "ingest" || arg == "search10k" || arg == "hnsw1m" || arg == "hybrid1m") {
      options.benches.insert(arg);
      continue;
    }
    const auto eq = arg.find('=');
    if (!arg.starts_with("--") || eq == std::string::npos) return std::nullopt;
    const std::string key = arg.substr(2, eq - 2);
    const std::string value = arg.substr(eq + 1);
    try {
      if (key == "docs")
        options.docs = std::stoull(value);
      else if (key == "queries")
        options.queries = std::stoull(value);
      else if (key == "chunks")
        options.chunks = std::stoull(value);
      else if (key == "vectors")
        options.vectors = std::stoull(value);
      else if (key == "dim")
        options.dim = std::stoull(value);
      else if (key == "clusters")
        options.clusters = std::stoull(value);
      else if (key == "spread")
        options.spread = std::stod(value);
      else if (key == "seed")
        options.seed = std::stoull(value);
      else
        return std::nullopt;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (options.benches.empty() || options.benches.contains("all"))
    options.benches = {"ingest", "search10k", "hnsw1m", "hybrid1m"};
  if (options.docs == 0 || options.queries == 0 || options.chunks == 0 || options.vectors == 0 ||
      options.dim == 0 || options.clusters == 0)
    return std::nullopt;
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) return usage();
  spdlog::set_level(spdlog::level::warn);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures interleave in order with progress on stderr
  const Vocabulary vocab;
  const auto wants = [&](const char* bench) { return options->benches.contains(bench); };

  if (wants("ingest") || wants("search10k")) {
    Rng corpus_rng(options->seed);
    auto kb = ingest_bench(*options, vocab, corpus_rng, wants("ingest"));
    if (wants("search10k")) {
      Rng query_rng(options->seed + 1);
      search_bench(*kb, *options, vocab, query_rng);
    }
  }
  if (wants("hybrid1m")) {
    Rng scale_rng(options->seed + 3);
    hybrid_scale_bench(*options, vocab, scale_rng);
  }
  if (wants("hnsw1m")) {
    Rng vector_rng(options->seed + 2);
    hnsw_bench(*options, vector_rng);
  }
  return 0;
}
