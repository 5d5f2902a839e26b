// The dense side of retrieval: the HNSW wrapper and its persistence / rebuild rules.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "brandcoach/embed/embed.hpp"
#include "brandcoach/index/index.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::index {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::vector<std::vector<float>> random_unit_vectors(size_t count, size_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<std::vector<float>> out(count, std::vector<float>(dim));
  for (auto& v : out) {
    float norm = 0;
    for (auto& x : v) {
      x = normal(rng);
      norm += x * x;
    }
    for (auto& x : v) x /= std::sqrt(norm);
  }
  return out;
}

TEST(DenseIndex, FindsTheExactVectorFirst) {
  const auto vectors = random_unit_vectors(500, 32, 1);
  DenseIndex index(32, 16);  // grows past its initial capacity
  for (size_t i = 0; i < vectors.size(); ++i) index.add(static_cast<int64_t>(i + 1), vectors[i].data());
  EXPECT_EQ(index.size(), 500u);
  for (size_t i = 0; i < vectors.size(); i += 50) {
    const auto hits = index.search(vectors[i].data(), 5);
    ASSERT_EQ(hits.size(), 5u);
    EXPECT_EQ(hits.front().first, static_cast<int64_t>(i + 1));
    EXPECT_NEAR(hits.front().second, 1.0f, 1e-3);  // the index holds half floats: about 3 digits
    for (size_t k = 1; k < hits.size(); ++k) EXPECT_GE(hits[k - 1].second, hits[k].second);
  }
}

TEST(DenseIndex, RemovedAndReplacedVectorsAreHonoured) {
  const auto vectors = random_unit_vectors(100, 16, 2);
  DenseIndex index(16);
  for (size_t i = 0; i < vectors.size(); ++i) index.add(static_cast<int64_t>(i + 1), vectors[i].data());
  index.remove(7);
  EXPECT_EQ(index.size(), 99u);
  for (const auto& [id, score] : index.search(vectors[6].data(), 10)) EXPECT_NE(id, 7);
  index.add(8, vectors[6].data());  // id 8 now holds vector 7's data
  EXPECT_EQ(index.search(vectors[6].data(), 1).front().first, 8);
  index.add(7, vectors[6].data());  // a removed id comes back
  EXPECT_EQ(index.size(), 100u);
}

TEST(DenseIndex, ABatchLargeEnoughForThreadsIsFoundLikeSerialInserts) {
  const auto vectors = random_unit_vectors(3000, 24, 9);  // above the parallel threshold
  DenseIndex index(24, 16);
  std::vector<std::pair<int64_t, const float*>> items;
  for (size_t i = 0; i < vectors.size(); ++i)
    items.emplace_back(static_cast<int64_t>(i + 1), vectors[i].data());
  index.add_many(items);
  EXPECT_EQ(index.size(), 3000u);
  int exact_first = 0;
  for (size_t i = 0; i < vectors.size(); i += 30) {
    const auto hits = index.search(vectors[i].data(), 1);
    exact_first += !hits.empty() && hits.front().first == static_cast<int64_t>(i + 1);
  }
  EXPECT_GE(exact_first, 99) << "each vector is its own nearest neighbour";
  index.add_many({{5, vectors[0].data()}});  // replaces in place, no growth
  EXPECT_EQ(index.size(), 3000u);
}

TEST(DenseIndex, FilterWidensTheSearchUntilEnoughPass) {
  const auto vectors = random_unit_vectors(400, 16, 3);
  DenseIndex index(16);
  for (size_t i = 0; i < vectors.size(); ++i) index.add(static_cast<int64_t>(i + 1), vectors[i].data());
  const auto hits = index.search(vectors[0].data(), 10, [](int64_t id) { return id % 37 == 0; });
  ASSERT_EQ(hits.size(), 10u);
  for (const auto& [id, score] : hits) EXPECT_EQ(id % 37, 0);
}

TEST(DenseIndex, SavesAndLoadsAndRefusesBrokenFiles) {
  TempDir dir;
  const auto vectors = random_unit_vectors(200, 24, 4);
  DenseIndex index(24);
  for (size_t i = 0; i < vectors.size(); ++i) index.add(static_cast<int64_t>(i + 10), vectors[i].data());
  index.remove(10);
  ASSERT_TRUE(index.save(dir / "i.hnsw"));
  auto loaded = DenseIndex::load(dir / "i.hnsw", 24);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->size(), 199u);
  EXPECT_EQ(loaded->search(vectors[5].data(), 1).front().first, 15);
  EXPECT_FALSE(DenseIndex::load(dir / "i.hnsw", 32)) << "another dimension";
  EXPECT_FALSE(DenseIndex::load(dir / "missing.hnsw", 24));
  fs::resize_file(dir / "i.hnsw", 64);
  EXPECT_FALSE(DenseIndex::load(dir / "i.hnsw", 24)) << "truncated";
}

// A store with one document per topic, embedded by the offline embedder.
class KnowledgeIndexesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
    ASSERT_TRUE(opened);
    store = std::move(opened).value();
    auto id = store->ensure_knowledge_store("kb");
    ASSERT_TRUE(id);
    store_id = *id;
    ASSERT_TRUE(store->configure_knowledge_store(store_id, embedder->id(), "{}"));
    add("sourdough.md", "Feed the sourdough starter with flour and water every day.");
    add("zebra.md", "Zebra-striped packaging makes a candle shop stand out on the shelf.");
    add("ledger.md", "Reconcile the bookkeeping ledger at the end of every month.");
  }

  std::vector<int64_t> add(const std::string& name, const std::string& text) {
    auto vectors = embedder->embed_documents({text});
    store::NewChunk chunk{0, "", text, 10, 0, std::move((*vectors)[0])};
    auto put = store->put_file(store_id, {name, 10, sha256_hex(text), "", "", "md", "{}"}, {chunk});
    EXPECT_TRUE(put);
    return put->chunk_ids;
  }

  std::string nearest(KnowledgeIndexes& indexes, const std::string& query) {
    auto hits = indexes.search("kb", query, 1);
    EXPECT_TRUE(hits) << hits.error().message;
    if (!hits || hits->empty()) return "";
    auto records = store->chunks_by_id({hits->front().first});
    return records->front().filename;
  }

  // The files of the lexical hits, best first.
  std::vector<std::string> lexical(KnowledgeIndexes& indexes, const std::vector<std::string>& stores,
                                   const std::string& query, const std::function<bool(int64_t)>& allow = {}) {
    auto hits = indexes.search_lexical(stores, query, 10, allow);
    EXPECT_TRUE(hits) << hits.error().message;
    std::vector<std::string> files;
    if (!hits) return files;
    for (const auto& [id, score] : *hits) {
      auto records = store->chunks_by_id({id});
      EXPECT_EQ(records->size(), 1u) << "a hit is a stored chunk";
      if (!records->empty()) files.push_back(records->front().filename);
    }
    return files;
  }

  fs::path lexical_folder() const {
    return dir / "index" / ("store-" + std::to_string(store_id) + "-lexical");
  }

  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<embed::Embedder> embedder = embed::make_hashing_embedder();
  int64_t store_id = 0;
};

using Files = std::vector<std::string>;

TEST_F(KnowledgeIndexesTest, LexicalIndexIsBuiltFromStoredStemsAndReusedWhenCurrent) {
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    // "starters" and "feeding" meet "starter" and "Feed" through the shared stemmer.
    EXPECT_EQ(lexical(indexes, {"kb"}, "feeding starters"), Files{"sourdough.md"});
    EXPECT_TRUE(lexical(indexes, {"kb"}, "xylophone").empty());
  }
  auto persisted = LexicalIndex::open(lexical_folder());
  ASSERT_TRUE(persisted);
  auto info = store->find_knowledge_store("kb");
  EXPECT_EQ(persisted->version(), (*info)->version);
  EXPECT_EQ(persisted->size(), 3u);
  // A current copy is used as it is: a document only the index holds proves no rebuild happened.
  ASSERT_TRUE(persisted->write({{999, "", "marker"}}, {}, (*info)->version));
  KnowledgeIndexes again(*store, *embedder, dir / "index");
  auto hits = again.search_lexical({"kb"}, "marker", 5);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ(hits->front().first, 999);
}

TEST_F(KnowledgeIndexesTest, LexicalIndexIsRebuiltWhenStaleMissingOrDamaged) {
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    ASSERT_TRUE(indexes.refresh("kb"));
  }
  // Stale: a write this process never saw.
  add("kombucha.md", "Brew kombucha with a scoby and sweet tea for the cafe.");
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    EXPECT_EQ(lexical(indexes, {"kb"}, "kombucha scoby"), Files{"kombucha.md"});
  }
  // Missing.
  fs::remove_all(lexical_folder());
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    EXPECT_EQ(lexical(indexes, {"kb"}, "bookkeeping ledger"), Files{"ledger.md"});
  }
  // Damaged beyond opening: replaced by a rebuild.
  for (const auto& entry : fs::directory_iterator(lexical_folder())) {
    if (entry.path().extension() == ".glass") fs::resize_file(entry.path(), 10);
  }
  EXPECT_FALSE(LexicalIndex::open(lexical_folder()));
  KnowledgeIndexes indexes(*store, *embedder, dir / "index");
  EXPECT_EQ(lexical(indexes, {"kb"}, "bookkeeping ledger"), Files{"ledger.md"});
}

TEST_F(KnowledgeIndexesTest, LexicalSearchSpansStoresAndFiltersDuringMatching) {
  auto other = store->ensure_knowledge_store("other");
  ASSERT_TRUE(other);
  auto vectors = embedder->embed_documents({"Sourdough loaves sell out at the farmers market."});
  auto put = store->put_file(*other, {"market.md", 10, sha256_hex("market"), "", "", "md", "{}"},
                             {store::NewChunk{0, "", "Sourdough loaves sell out at the farmers market.", 10,
                                              0, std::move((*vectors)[0])}});
  ASSERT_TRUE(put);
  KnowledgeIndexes indexes(*store, *embedder, dir / "index");
  auto both = lexical(indexes, {"kb", "other"}, "sourdough");
  std::sort(both.begin(), both.end());
  EXPECT_EQ(both, (Files{"market.md", "sourdough.md"}));
  EXPECT_EQ(lexical(indexes, {"other"}, "sourdough"), Files{"market.md"});
  EXPECT_TRUE(lexical(indexes, {"nowhere"}, "sourdough").empty());
  const int64_t market = put->chunk_ids[0];
  EXPECT_EQ(lexical(indexes, {"kb", "other"}, "sourdough", [&](int64_t id) { return id != market; }),
            Files{"sourdough.md"});
}

TEST_F(KnowledgeIndexesTest, BuildsFromStoredVectorsAndPersists) {
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    EXPECT_EQ(nearest(indexes, "sourdough starter"), "sourdough.md");
    ASSERT_TRUE(indexes.save_all());
  }
  EXPECT_TRUE(fs::exists(dir / "index" / ("store-" + std::to_string(store_id) + "-hashing_512_v1.hnsw")));
  KnowledgeIndexes again(*store, *embedder, dir / "index");
  EXPECT_EQ(nearest(again, "zebra packaging"), "zebra.md");
}

TEST_F(KnowledgeIndexesTest, RebuildsWhenTheFileIsMissingOrCorrupt) {
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    ASSERT_TRUE(indexes.refresh("kb"));
    ASSERT_TRUE(indexes.save_all());
  }
  const auto file = dir / "index" / ("store-" + std::to_string(store_id) + "-hashing_512_v1.hnsw");
  fs::resize_file(file, 100);
  {
    KnowledgeIndexes indexes(*store, *embedder, dir / "index");
    EXPECT_EQ(nearest(indexes, "bookkeeping ledger"), "ledger.md");
  }
  fs::remove(file);
  KnowledgeIndexes indexes(*store, *embedder, dir / "index");
  EXPECT_EQ(nearest(indexes, "bookkeeping ledger"), "ledger.md");
}

TEST_F(KnowledgeIndexesTest, NoticesChangesMadeByAnotherWriter) {
  KnowledgeIndexes indexes(*store, *embedder, dir / "index");
  EXPECT_EQ(nearest(indexes, "sourdough starter"), "sourdough.md");
  // Written straight to the store (as another process would): the version moves, the index follows.
  add("kombucha.md", "Brew kombucha with a scoby and sweet tea for the cafe.");
  EXPECT_EQ(nearest(indexes, "kombucha scoby"), "kombucha.md");
  auto files = store->list_files(store_id);
  const auto zebra =
      std::find_if(files->begin(), files->end(), [](const auto& f) { return f.filename == "zebra.md"; });
  ASSERT_TRUE(store->delete_file(zebra->id));
  auto hits = indexes.search("kb", "zebra striped packaging", 10);
  ASSERT_TRUE(hits);
  for (const auto& [id, score] : *hits) {
    auto r = store->chunks_by_id({id});
    ASSERT_FALSE(r->empty()) << "a deleted chunk is never returned";
  }
}

TEST_F(KnowledgeIndexesTest, AppliedWritesNeedNoRebuild) {
  KnowledgeIndexes indexes(*store, *embedder, dir / "index");
  ASSERT_TRUE(indexes.refresh("kb"));
  const auto text = "Train the dog groomer team on nail trimming.";
  auto ids = add("groomer.md", text);
  auto vectors = embedder->embed_documents({text});
  indexes.apply("kb", {{ids[0], "", text, (*vectors)[0]}}, {});
  EXPECT_EQ(nearest(indexes, "dog groomer nail trimming"), "groomer.md");
  EXPECT_EQ(lexical(indexes, {"kb"}, "groomer trimming"), Files{"groomer.md"});
  EXPECT_EQ(LexicalIndex::open(lexical_folder())->version(), (*store->find_knowledge_store("kb"))->version);
  EXPECT_EQ(*indexes.refresh("kb"), "4 vectors, 4 lexical documents");
}

}  // namespace
}  // namespace brandcoach::index
