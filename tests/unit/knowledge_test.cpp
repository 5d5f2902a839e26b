// The bundled knowledge base and its sync into the store, with retrieval over it.
#include <gtest/gtest.h>

#include <fstream>

#include "brandcoach/coach/coach.hpp"
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

TEST(BundledKnowledge, EveryAssistantHasAtLeastThreeSubstantialDocuments) {
  const auto registry = bundled_assistants();
  for (const auto& assistant : registry.all()) {
    const fs::path folder = fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge" / assistant.id;
    int documents = 0;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().extension() != ".md") continue;
      std::ifstream in(entry.path());
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_GE(text::words(text).size(), 600u) << entry.path();
      ++documents;
    }
    EXPECT_GE(documents, 3) << assistant.id;
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

TEST(KnowledgeSync, IngestsOnceThenOnlyWhatChanged) {
  TempDir dir;
  const fs::path knowledge = dir / "knowledge";
  fs::copy(fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge", knowledge, fs::copy_options::recursive);
  auto store = open_store(dir);
  const auto registry = bundled_assistants();

  auto first = sync_knowledge(*store, registry, knowledge);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_GE(first->added, 15);
  EXPECT_GT(first->chunks, 0);
  EXPECT_TRUE(first->failures.empty());

  auto again = sync_knowledge(*store, registry, knowledge);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->updated, 0);
  EXPECT_EQ(again->unchanged, first->added);

  std::ofstream(knowledge / "avatar" / "defining-your-ideal-customer.md", std::ios::app)
      << "\n\n## Zebra test\n\nZebra-striped packaging appeals to playful shoppers.\n";
  fs::remove(knowledge / "core" / "where-to-start-with-your-brand.md");
  auto changed = sync_knowledge(*store, registry, knowledge);
  ASSERT_TRUE(changed);
  EXPECT_EQ(changed->updated, 1);
  EXPECT_EQ(changed->removed, 1);

  index::LexicalRetriever retriever(*store);
  auto hits = retriever.retrieve({"zebra packaging", {"avatar"}, 3});
  ASSERT_TRUE(hits);
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ(hits->front().filename, "defining-your-ideal-customer.md");
}

TEST(LexicalRetrieval, FindsPassagesOnTheQuestionsTopicInTheRightStore) {
  TempDir dir;
  auto store = open_store(dir);
  const auto registry = bundled_assistants();
  ASSERT_TRUE(sync_knowledge(*store, registry, fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge"));
  index::LexicalRetriever retriever(*store);

  struct Case {
    std::string query, store, expected_file;
  };
  const std::vector<Case> cases = {
      {"How should I price my service?", "canvas", "value-proposition-and-pricing.md"},
      {"How do I run a SWOT analysis?", "diagnostic", "swot-analysis-for-small-brands.md"},
      {"What should go in a welcome email sequence?", "capture", "email-campaigns-and-repurposing.md"},
      {"How do I write a mission statement?", "core", "mission-vision-and-values.md"},
  };
  for (const auto& c : cases) {
    auto hits = retriever.retrieve({c.query, {c.store}, 5});
    ASSERT_TRUE(hits) << c.query;
    ASSERT_FALSE(hits->empty()) << c.query;
    EXPECT_EQ(hits->front().filename, c.expected_file) << c.query;
    for (const auto& hit : *hits) EXPECT_EQ(hit.store, c.store);
    for (size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
  }
}

}  // namespace
}  // namespace brandcoach::coach
