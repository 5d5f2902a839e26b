// BM25 over a knowledge store with Xapian. SQLite FTS5 scores every row that matches any OR-ed term,
// so a query holding one common word costs as much as that word's posting list (hundreds of
// milliseconds at a million chunks); Xapian's matcher keeps an upper bound per term and stops
// scoring documents that cannot reach the current top k, which is what makes top-k BM25 cheap.
#include <xapian.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/index/index.hpp"

namespace brandcoach::index {

namespace fs = std::filesystem;

namespace {

constexpr const char* kVersionKey = "brandcoach.version";
// Heading words say what a passage is about: each counts as two occurrences (the weight FTS5's
// bm25() gave the heading column).
constexpr Xapian::termcount kHeadingWdf = 2;
// Bulk rebuilds flush postings every this many documents instead of Xapian's default 10,000: fewer,
// larger merges, at a bounded memory cost (chunks are at most a few thousand terms).
constexpr Xapian::doccount kRebuildFlushEvery = 50000;

// Xapian's document ids are 32-bit; chunk ids are SQLite rowids, which start at 1 and grow by one.
Result<Xapian::docid> to_docid(int64_t chunk_id) {
  if (chunk_id < 1 || chunk_id > std::numeric_limits<Xapian::docid>::max())
    return Error::internal(fmt::format("chunk id {} is outside the lexical index's id range", chunk_id));
  return static_cast<Xapian::docid>(chunk_id);
}

void add_terms(Xapian::Document& doc, std::string_view terms, Xapian::termcount wdf) {
  for (size_t pos = 0; pos < terms.size();) {
    size_t space = terms.find(' ', pos);
    if (space == std::string_view::npos) space = terms.size();
    // Xapian limits a term to 245 bytes; a longer "word" is noise (a hash, a run of digits).
    if (space > pos && space - pos <= 240) doc.add_term(std::string(terms.substr(pos, space - pos)), wdf);
    pos = space + 1;
  }
}

Xapian::Document make_document(const LexicalIndex::Document& chunk) {
  Xapian::Document doc;
  add_terms(doc, chunk.heading_terms, kHeadingWdf);
  add_terms(doc, chunk.terms, 1);
  return doc;
}

// Okapi BM25 with the usual k1 = 1.2, b = 0.75 (FTS5's constants), query-term frequency ignored.
Xapian::BM25Weight bm25() {
  return Xapian::BM25Weight(1.2, 0, 1, 0.75, 0.5);
}

// A decider sees each document as its own shard holds it, so its id is the chunk id itself (unlike
// the match set's ids, which are interleaved across shards).
class AllowDecider final : public Xapian::MatchDecider {
 public:
  explicit AllowDecider(const std::function<bool(int64_t)>& allow) : allow_(allow) {}
  bool operator()(const Xapian::Document& doc) const override { return allow_(doc.get_docid()); }

 private:
  const std::function<bool(int64_t)>& allow_;
};

template <typename Fn>
auto guarded(std::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const Xapian::DatabaseLockError& e) {
    return Error::unavailable(
        fmt::format("{}: the lexical index is being written by another process ({})", what, e.get_msg()));
  } catch (const Xapian::Error& e) {
    return Error::unavailable(fmt::format("{}: {}: {}", what, e.get_type(), e.get_msg()));
  }
}

int64_t chunk_id(unsigned combined_docid, size_t shards) {
  // Xapian interleaves the document ids of combined databases: shard i's document d is
  // (d - 1) * shards + i + 1.
  return static_cast<int64_t>((combined_docid - 1) / shards + 1);
}

}  // namespace

struct LexicalIndex::Impl {
  fs::path folder;
  std::mutex mutex;         // guards readers and generation
  uint64_t generation = 0;  // bumped by every commit of this process
  struct Reader {
    std::unique_ptr<Xapian::Database> db;
    uint64_t generation = 0;
  };
  std::vector<Reader> idle;  // open read handles not in use (a handle serves one thread)

  Reader acquire() {
    std::lock_guard lock(mutex);
    while (!idle.empty()) {
      Reader reader = std::move(idle.back());
      idle.pop_back();
      if (reader.generation == generation) return reader;
      // Written since it was opened: reopen() moves the handle to the latest commit.
      reader.db->reopen();
      reader.generation = generation;
      return reader;
    }
    return Reader{std::make_unique<Xapian::Database>(folder.string()), generation};
  }
  void release(Reader reader) {
    std::lock_guard lock(mutex);
    if (reader.generation == generation && idle.size() < 16) idle.push_back(std::move(reader));
  }
  void committed() {
    std::lock_guard lock(mutex);
    ++generation;
    idle.clear();
  }
};

LexicalIndex::LexicalIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LexicalIndex::~LexicalIndex() = default;
LexicalIndex::LexicalIndex(LexicalIndex&&) noexcept = default;
LexicalIndex& LexicalIndex::operator=(LexicalIndex&&) noexcept = default;

Result<LexicalIndex> LexicalIndex::open(const fs::path& folder) {
  return guarded("opening the lexical index " + folder.string(), [&]() -> Result<LexicalIndex> {
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) return Error::unavailable("cannot create " + folder.string() + ": " + ec.message());
    if (!fs::exists(folder / "iamglass")) {
      // A new index reflects no version of the store yet.
      Xapian::WritableDatabase db(folder.string(), Xapian::DB_CREATE_OR_OPEN);
      db.set_metadata(kVersionKey, "-1");
      db.commit();
    }
    auto impl = std::make_unique<Impl>();
    impl->folder = folder;
    LexicalIndex index(std::move(impl));
    auto reader = index.impl_->acquire();  // fails here, not on the first search, when corrupt
    index.impl_->release(std::move(reader));
    return index;
  });
}

int64_t LexicalIndex::version() const {
  auto result = guarded("reading the lexical index version", [&]() -> Result<int64_t> {
    auto reader = impl_->acquire();
    const std::string text = reader.db->get_metadata(kVersionKey);
    impl_->release(std::move(reader));
    try {
      return text.empty() ? -1 : std::stoll(text);
    } catch (const std::exception&) {
      return -1;
    }
  });
  return result ? *result : -1;
}

size_t LexicalIndex::size() const {
  auto result = guarded("counting the lexical index", [&]() -> Result<size_t> {
    auto reader = impl_->acquire();
    const size_t count = reader.db->get_doccount();
    impl_->release(std::move(reader));
    return count;
  });
  return result ? *result : 0;
}

Status LexicalIndex::write(const std::vector<Document>& added, const std::vector<int64_t>& removed,
                           int64_t version) {
  auto status = guarded("writing the lexical index", [&]() -> Status {
    Xapian::WritableDatabase db(impl_->folder.string(), Xapian::DB_CREATE_OR_OPEN);
    for (const int64_t id : removed) {
      auto docid = to_docid(id);
      if (!docid) return docid.error();
      db.delete_document(*docid);
    }
    for (const auto& chunk : added) {
      auto docid = to_docid(chunk.chunk_id);
      if (!docid) return docid.error();
      db.replace_document(*docid, make_document(chunk));
    }
    db.set_metadata(kVersionKey, std::to_string(version));
    db.commit();  // documents and version in one atomic commit
    return ok();
  });
  impl_->committed();
  return status;
}

Status LexicalIndex::rebuild(const std::function<Status(const std::function<void(const Document&)>&)>& source,
                             int64_t version) {
  auto status = guarded("rebuilding the lexical index", [&]() -> Status {
    Xapian::WritableDatabase db(impl_->folder.string(), Xapian::DB_CREATE_OR_OVERWRITE);
    // Until the last commit the index says it reflects nothing, so a crash mid-way rebuilds again.
    db.set_metadata(kVersionKey, "-1");
    Xapian::doccount since_commit = 0;
    Status failed = ok();
    auto status = source([&](const Document& chunk) {
      if (!failed) return;
      auto docid = to_docid(chunk.chunk_id);
      if (!docid) {
        failed = docid.error();
        return;
      }
      db.replace_document(*docid, make_document(chunk));
      if (++since_commit == kRebuildFlushEvery) {
        db.commit();
        since_commit = 0;
      }
    });
    if (!status) return status;
    if (!failed) return failed;
    db.set_metadata(kVersionKey, std::to_string(version));
    db.commit();
    return ok();
  });
  impl_->committed();
  return status;
}

Result<std::vector<std::pair<int64_t, double>>> LexicalIndex::search(
    const std::vector<LexicalIndex*>& indexes, const std::vector<std::string>& terms, size_t k,
    const std::function<bool(int64_t)>& allow) {
  std::vector<std::pair<int64_t, double>> out;
  if (indexes.empty() || terms.empty() || k == 0) return out;
  std::vector<Impl::Reader> readers;
  auto result =
      guarded("searching the lexical index", [&]() -> Result<std::vector<std::pair<int64_t, double>>> {
        // One combined database, so that every store's documents share the same term statistics.
        Xapian::Database combined;
        for (auto* index : indexes) {
          readers.push_back(index->impl_->acquire());
          combined.add_database(*readers.back().db);
        }
        Xapian::Enquire enquire(combined);
        enquire.set_query(Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end()));
        enquire.set_weighting_scheme(bm25());
        enquire.set_docid_order(Xapian::Enquire::DONT_CARE);
        AllowDecider decider(allow);
        const auto matches =
            enquire.get_mset(0, static_cast<Xapian::doccount>(k), 0, nullptr, allow ? &decider : nullptr);
        // Chunk ids are unique across stores (one rowid space), so the shard need not be kept.
        for (auto it = matches.begin(); it != matches.end(); ++it)
          out.emplace_back(chunk_id(*it, indexes.size()), it.get_weight());
        return out;
      });
  // A handle that failed (e.g. its revision was overwritten by another process) is not reused.
  if (result) {
    for (size_t i = 0; i < readers.size(); ++i) indexes[i]->impl_->release(std::move(readers[i]));
  }
  return result;
}

}  // namespace brandcoach::index
