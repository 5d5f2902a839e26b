// The keyword router: the seed's example queries, confidence, fallbacks, phrases and odd input.
#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "brandcoach/route/route.hpp"

namespace brandcoach::route {
namespace {

struct Example {
  std::string expected;
  std::string message;
};

// tests/data/seed_routing_examples.tsv: `expected_assistant<TAB>message` per line.
std::vector<Example> load_examples() {
  const std::string path = std::string(BRANDCOACH_TEST_DATA_DIR) + "/seed_routing_examples.tsv";
  std::ifstream in(path);
  std::vector<Example> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos) {
      ADD_FAILURE() << path << ": line without a tab: " << line;
      continue;
    }
    out.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

Decision route(std::string_view message) {
  static const KeywordRouter router;
  return router.route(Input{message, {}});
}

TEST(Route, SeedExamplesGoToTheirAssistant) {
  const auto examples = load_examples();
  ASSERT_EQ(examples.size(), 15u) << "seed_routing_examples.tsv missing or incomplete";
  for (const auto& example : examples) {
    ASSERT_TRUE(is_assistant(example.expected)) << example.expected;
    const Decision decision = route(example.message);
    EXPECT_EQ(decision.assistant, example.expected)
        << "message: " << example.message << " (reasoning: " << decision.reasoning << ")";
    EXPECT_EQ(decision.method, "rule") << example.message;
    EXPECT_GE(decision.confidence, 0.5) << example.message;
    EXPECT_LE(decision.confidence, 1.0) << example.message;
    EXPECT_TRUE(is_assistant(decision.secondary)) << example.message << " -> " << decision.secondary;
  }
}

TEST(Route, SeedExamplesCoverEveryAssistant) {
  std::map<std::string, int> per_assistant;
  for (const auto& example : load_examples()) ++per_assistant[example.expected];
  for (const auto& name : assistant_names()) EXPECT_GE(per_assistant[name], 3) << name;
}

TEST(Route, NoKeywordFallsBackToCore) {
  const Decision decision = route("Good morning, lovely weather today");
  EXPECT_EQ(decision.assistant, "core");
  EXPECT_EQ(decision.method, "fallback");
  EXPECT_LT(decision.confidence, 0.5);
  EXPECT_TRUE(decision.scores.empty());
  EXPECT_FALSE(decision.reasoning.empty());
}

TEST(Route, TwoHitsForOneAssistantGiveHighConfidence) {
  const Decision decision = route("Plan email campaign");
  EXPECT_EQ(decision.assistant, "capture");
  EXPECT_DOUBLE_EQ(decision.confidence, 0.9);
  EXPECT_EQ(decision.scores.at("capture"), 2);
}

TEST(Route, SingleHitGivesMediumConfidence) {
  const Decision decision = route("What channels should I use?");
  EXPECT_EQ(decision.assistant, "canvas");
  EXPECT_DOUBLE_EQ(decision.confidence, 0.7);
}

TEST(Route, TieBetweenSpecialistsGivesLowerConfidence) {
  const Decision decision = route("customer revenue");
  EXPECT_DOUBLE_EQ(decision.confidence, 0.5);
  EXPECT_EQ(decision.assistant, "avatar");  // earliest mention wins the tie
  EXPECT_EQ(route("revenue customer").assistant, "canvas");
}

TEST(Route, SpecialistBeatsCoreOnATie) {
  const Decision decision = route("What are my brand weaknesses?");
  EXPECT_EQ(decision.assistant, "diagnostic");
  EXPECT_EQ(decision.scores.at("core"), 1);
  EXPECT_EQ(decision.scores.at("diagnostic"), 1);
}

TEST(Route, SecondaryIsTheSeedMatrixRow) {
  EXPECT_EQ(route("Define my ideal customer").secondary, "core");
  EXPECT_EQ(route("What demographics should I target?").secondary, "diagnostic");
  EXPECT_EQ(route("Identify customer pain points").secondary, "core");
  EXPECT_EQ(route("How should I price my service?").secondary, "diagnostic");
  EXPECT_EQ(route("What channels should I use?").secondary, "capture");
  EXPECT_EQ(route("How to amplify my message?").secondary, "canvas");
  EXPECT_EQ(route("Analyze my competitive position").secondary, "core");
  EXPECT_EQ(route("Design my business model").secondary, "avatar");
}

TEST(Route, SecondaryIsNeverEmpty) {
  for (const auto& example : load_examples()) {
    EXPECT_FALSE(route(example.message).secondary.empty()) << example.message;
  }
  EXPECT_FALSE(route("Where do I start?").secondary.empty());
}

TEST(Route, PhrasesBeatTheirWords) {
  // "value" alone is core, "value proposition" is canvas.
  const Decision value = route("What is my value proposition?");
  EXPECT_EQ(value.assistant, "canvas");
  EXPECT_FALSE(value.scores.contains("core"));
  EXPECT_NE(value.reasoning.find("value proposition"), std::string::npos) << value.reasoning;
  // "positioning" alone is capture, "market positioning" is diagnostic.
  const Decision market = route("Improve my market positioning");
  EXPECT_EQ(market.assistant, "diagnostic");
  EXPECT_FALSE(market.scores.contains("capture"));
  // "business model" is one canvas hit, not a hit per word.
  const Decision model = route("Design my business model");
  EXPECT_EQ(model.assistant, "canvas");
  EXPECT_EQ(model.scores.at("canvas"), 1);
  EXPECT_NE(model.reasoning.find("business model"), std::string::npos) << model.reasoning;
}

TEST(Route, InflectionsMatch) {
  EXPECT_EQ(route("My prices are too low").assistant, "canvas");
  EXPECT_EQ(route("We priced it badly").assistant, "canvas");
  EXPECT_EQ(route("Send more emails").assistant, "capture");
  EXPECT_EQ(route("Who are my clients").assistant, "avatar");
  EXPECT_EQ(route("EVALUATING THE MARKET").assistant, "diagnostic");
}

TEST(Route, ReasoningListsMatchedWords) {
  const Decision decision = route("Identify customer pain points");
  EXPECT_EQ(decision.reasoning, "matched: customer, pain points");
  const Decision assess = route("Assess my brand strength");
  EXPECT_NE(assess.reasoning.find("assess"), std::string::npos) << assess.reasoning;
  EXPECT_NE(assess.reasoning.find("brand"), std::string::npos) << assess.reasoning;
  EXPECT_NE(assess.reasoning.find("strength"), std::string::npos) << assess.reasoning;
}

TEST(Route, ScoresCountHitsPerAssistant) {
  const Decision decision = route("Analyze my competitive position");
  EXPECT_EQ(decision.scores.at("diagnostic"), 2);
  EXPECT_EQ(decision.scores.at("capture"), 1);
  EXPECT_DOUBLE_EQ(decision.confidence, 0.9);
}

TEST(Route, WordsAreMatchedWholeNotAsSubstrings) {
  // "help" is a core keyword; "helpful" is not, and "branded" is not "brand".
  EXPECT_EQ(route("That was helpful").method, "fallback");
  EXPECT_EQ(route("branded mugs").method, "fallback");
}

TEST(Route, EmptyAndPunctuationOnlyMessagesFallBack) {
  for (const std::string message : {"", "   ", "?!?!...", "\xFF\xFE", "--- *** ###"}) {
    const Decision decision = route(message);
    EXPECT_EQ(decision.assistant, "core") << "'" << message << "'";
    EXPECT_EQ(decision.method, "fallback") << "'" << message << "'";
  }
}

TEST(Route, FullwidthTextIsNormalisedBeforeMatching) {
  // ＰＲＩＣＩＮＧ
  EXPECT_EQ(
      route("\xEF\xBC\xB0\xEF\xBC\xB2\xEF\xBC\xA9\xEF\xBC\xA3\xEF\xBC\xA9\xEF\xBC\xAE\xEF\xBC\xA7").assistant,
      "canvas");
}

TEST(Route, LongMessageDoesNotCrash) {
  std::string message;
  for (int i = 0; i < 2000; ++i) message += "customer pricing story ";
  const Decision decision = route(message);
  EXPECT_TRUE(is_assistant(decision.assistant));
  EXPECT_EQ(decision.method, "rule");
}

}  // namespace
}  // namespace brandcoach::route
