// The bundled knowledge base and its sync into the store, with retrieval over it.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/embed/embed.hpp"
#include "brandcoach/index/index.hpp"
#include "brandcoach/text/text.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::coach {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::unique_ptr<store::Store> open_store(const TempDir& dir) {
  auto store = store::open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(store).value();
}

AssistantRegistry bundled_assistants() {
  auto registry = AssistantRegistry::load(fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "assistants.toml");
  if (!registry) throw std::runtime_error(registry.error().message);
  return std::move(registry).value();
}

TEST(BundledKnowledge, EveryAssistantHasEightSubstantialDocumentsWithAttributes) {
  const auto registry = bundled_assistants();
  for (const auto& assistant : registry.all()) {
    const fs::path folder = fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge" / assistant.id;
    int documents = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().extension() != ".md") continue;
      std::ifstream in(entry.path());
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_GE(text::words(text).size(), 1000u) << entry.path();
      EXPECT_EQ(text.rfind("---\ntopic: ", 0), 0u) << entry.path() << " starts with front matter";
      EXPECT_NE(text.find("\nlevel: "), std::string::npos) << entry.path();
      ++documents;
    }
    EXPECT_GE(documents, 8) << assistant.id;
  }
}

TEST(BundledAssistants, LoadWithInstructionsAndNextSteps) {
  const auto registry = bundled_assistants();
  ASSERT_EQ(registry.all().size(), 5u);
  for (const auto& a : registry.all()) {
    EXPECT_FALSE(a.instructions.empty()) << a.id;
    EXPECT_FALSE(a.next_steps.empty()) << a.id;
    EXPECT_EQ(a.knowledge_store, a.id);
  }
  EXPECT_NE(registry.find("capture")->instructions.find("R: Repurpose"), std::string::npos);
  EXPECT_EQ(registry.find("nobody"), nullptr);
}

TEST(AssistantRegistry, MissingAssistantIsAConfigError) {
  TempDir dir;
  std::ofstream(dir / "a.toml") << "[assistants.core]\ntitle = \"x\"\n";
  auto registry = AssistantRegistry::load(dir / "a.toml");
  ASSERT_FALSE(registry);
  EXPECT_EQ(registry.error().kind, ErrorKind::invalid_config);
  std::ofstream(dir / "b.toml") << "[assistants\n";
  EXPECT_FALSE(AssistantRegistry::load(dir / "b.toml"));
}

// A store, the offline embedder and the dense indexes in a temp folder.
struct Knowledge {
  explicit Knowledge(const TempDir& dir)
      : store(open_store(dir)),
        embedder(embed::make_hashing_embedder()),
        vectors(std::make_unique<index::KnowledgeIndexes>(*store, *embedder, dir / "index")),
        retriever(*store, *vectors) {}
  std::unique_ptr<store::Store> store;
  std::unique_ptr<embed::Embedder> embedder;
  std::unique_ptr<index::KnowledgeIndexes> vectors;
  index::HybridRetriever retriever;

  std::vector<index::Passage> search(const std::string& text, const std::string& store_name, int limit,
                                     index::SearchMode mode = index::SearchMode::hybrid) {
    index::Query query;
    query.text = text;
    query.stores = {store_name};
    query.limit = limit;
    query.mode = mode;
    auto hits = retriever.retrieve(query);
    if (!hits) throw std::runtime_error(hits.error().message);
    return std::move(hits).value();
  }
};

TEST(KnowledgeSync, IngestsOnceThenOnlyWhatChanged) {
  TempDir dir;
  const fs::path knowledge = dir / "knowledge";
  fs::copy(fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge", knowledge, fs::copy_options::recursive);
  Knowledge kb(dir);
  const auto registry = bundled_assistants();

  auto first = sync_knowledge(*kb.store, *kb.vectors, registry, knowledge);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_GE(first->added, 40);
  EXPECT_GT(first->chunks, 0);
  EXPECT_TRUE(first->failures.empty());

  auto again = sync_knowledge(*kb.store, *kb.vectors, registry, knowledge);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->updated, 0);
  EXPECT_EQ(again->unchanged, first->added);

  std::ofstream(knowledge / "avatar" / "defining-your-ideal-customer.md", std::ios::app)
      << "\n\n## Zebra test\n\nZebra-striped packaging appeals to playful shoppers.\n";
  fs::remove(knowledge / "core" / "where-to-start-with-your-brand.md");
  auto changed = sync_knowledge(*kb.store, *kb.vectors, registry, knowledge);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->updated, 1);
  EXPECT_EQ(changed->removed, 1);

  for (const auto mode : {index::SearchMode::lexical, index::SearchMode::dense, index::SearchMode::hybrid}) {
    const auto hits = kb.search("zebra striped packaging", "avatar", 3, mode);
    ASSERT_FALSE(hits.empty()) << index::to_string(mode);
    EXPECT_EQ(hits.front().filename, "defining-your-ideal-customer.md") << index::to_string(mode);
  }
  for (const auto& hit : kb.search("where to start with your brand", "core", 20)) {
    EXPECT_NE(hit.filename, "where-to-start-with-your-brand.md")
        << "a removed file is gone from both indexes";
  }
}

TEST(KnowledgeSync, FrontMatterBecomesSearchableAttributes) {
  TempDir dir;
  Knowledge kb(dir);
  ASSERT_TRUE(sync_knowledge(*kb.store, *kb.vectors, bundled_assistants(),
                             fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge"));
  auto filter =
      index::Filter::parse(nlohmann::json::parse(R"({"type": "eq", "key": "level", "value": "advanced"})"));
  ASSERT_TRUE(filter);
  index::Query query;
  query.text = "pricing customers brand";
  query.stores = {"canvas", "avatar", "diagnostic"};
  query.limit = 20;
  query.filter = *filter;
  for (const auto mode : {index::SearchMode::lexical, index::SearchMode::dense, index::SearchMode::hybrid}) {
    query.mode = mode;
    auto hits = kb.retriever.retrieve(query);
    ASSERT_TRUE(hits) << hits.error().message;
    ASSERT_FALSE(hits->empty()) << index::to_string(mode);
    for (const auto& hit : *hits) {
      EXPECT_EQ(nlohmann::json::parse(hit.attributes_json)["level"], "advanced") << hit.filename;
    }
  }
}

// A small labelled set written for these tests: each query paraphrases what a document covers and
// names the document a coach should open first; `rank` is the worst acceptable position per mode.
TEST(Retrieval, FindsTheRightDocumentInEveryMode) {
  TempDir dir;
  Knowledge kb(dir);
  ASSERT_TRUE(sync_knowledge(*kb.store, *kb.vectors, bundled_assistants(),
                             fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge"));
  std::ifstream in(fs::path(BRANDCOACH_TEST_DATA_DIR) / "retrieval_labelled.tsv");
  ASSERT_TRUE(in);
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string store_name, expected, lexical_rank, dense_rank, hybrid_rank, query;
    std::getline(fields, store_name, '\t');
    std::getline(fields, expected, '\t');
    std::getline(fields, lexical_rank, '\t');
    std::getline(fields, dense_rank, '\t');
    std::getline(fields, hybrid_rank, '\t');
    std::getline(fields, query);
    const std::pair<index::SearchMode, int> modes[] = {{index::SearchMode::lexical, std::stoi(lexical_rank)},
                                                       {index::SearchMode::dense, std::stoi(dense_rank)},
                                                       {index::SearchMode::hybrid, std::stoi(hybrid_rank)}};
    for (const auto& [mode, worst] : modes) {
      const auto hits = kb.search(query, store_name, 20, mode);
      std::vector<std::string> documents;
      for (const auto& hit : hits) {
        if (std::find(documents.begin(), documents.end(), hit.filename) == documents.end()) {
          documents.push_back(hit.filename);
        }
      }
      const auto found = std::find(documents.begin(), documents.end(), expected);
      const int rank = found == documents.end() ? 99 : static_cast<int>(found - documents.begin()) + 1;
      EXPECT_LE(rank, worst) << index::to_string(mode) << ": " << query;
    }
    ++cases;
  }
  EXPECT_GE(cases, 15);
}

TEST(Retrieval, RejectsOutOfRangeLimits) {
  TempDir dir;
  Knowledge kb(dir);
  index::Query query;
  query.text = "pricing";
  query.stores = {"canvas"};
  query.limit = 0;
  auto hits = kb.retriever.retrieve(query);
  ASSERT_FALSE(hits);
  EXPECT_EQ(hits.error().param, "max_num_results");
  query.limit = 5;
  query.stores.clear();
  EXPECT_FALSE(kb.retriever.retrieve(query));
}

TEST(Retrieval, DenseSearchRefusesAStoreEmbeddedWithAnotherEmbedder) {
  TempDir dir;
  Knowledge kb(dir);
  ASSERT_TRUE(sync_knowledge(*kb.store, *kb.vectors, bundled_assistants(),
                             fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge"));
  auto other = embed::make_hashing_embedder({256});
  index::KnowledgeIndexes other_vectors(*kb.store, *other, dir / "other-index");
  index::HybridRetriever other_retriever(*kb.store, other_vectors);
  index::Query query;
  query.text = "pricing";
  query.stores = {"canvas"};
  query.limit = 5;
  query.mode = index::SearchMode::dense;
  auto dense = other_retriever.retrieve(query);
  ASSERT_FALSE(dense);
  EXPECT_NE(dense.error().message.find("kb reindex"), std::string::npos);
  query.mode = index::SearchMode::hybrid;  // hybrid falls back to lexical
  auto hybrid = other_retriever.retrieve(query);
  ASSERT_TRUE(hybrid);
  EXPECT_FALSE(hybrid->empty());
  // After a reindex with the new embedder, dense search works again.
  auto count = reindex(*kb.store, other_vectors, "canvas");
  ASSERT_TRUE(count) << count.error().message;
  EXPECT_GT(*count, 0);
  query.mode = index::SearchMode::dense;
  EXPECT_TRUE(other_retriever.retrieve(query));
}

}  // namespace
}  // namespace brandcoach::coach
