// The coach's router: training data loading, the fastText classifier (determinism, caching), and
// each way a decision is made: rule, classifier, context, llm and fallback.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "brandcoach/route/route.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::route {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A small training set in the bundled layout, written by the test: distinct vocabulary per
// assistant so a few epochs learn it.
void write_training(const fs::path& dir) {
  fs::create_directories(dir / "train");
  const std::map<std::string, std::vector<std::string>> topics = {
      {"diagnostic",
       {"rival shop", "losing sales", "reviews say", "how do we compare", "what is wrong with us"}},
      {"avatar", {"who buys", "what kind of person", "which people", "shoppers worry", "buyers want"}},
      {"canvas", {"charge for", "margin on", "sell wholesale", "subscription box", "supplier deal"}},
      {"capture", {"instagram post", "weekly newsletter", "tiktok video", "post ideas", "reels and stories"}},
      {"core", {"what we stand for", "our purpose", "name for the shop", "why we exist", "where to begin"}},
  };
  const std::vector<std::string> businesses = {"bakery", "candle shop", "gym", "florist", "plumber", "salon"};
  for (const auto& [label, phrases] : topics) {
    std::ofstream out(dir / "train" / (label + ".txt"));
    out << "# written by the test\n\n";
    for (const auto& phrase : phrases) {
      for (const auto& business : businesses) out << phrase << " for my " << business << "\n";
    }
  }
}

struct Fixture {
  TempDir dir;
  TrainingSet training;
  Fixture() {
    write_training(dir / "routing");
    auto loaded = load_training_set(dir / "routing");
    if (!loaded) throw std::runtime_error(loaded.error().message);
    training = std::move(loaded).value();
  }
  Classifier classifier(const fs::path& models) const {
    ClassifierOptions options;
    options.epochs = 25;
    options.buckets = 20000;
    auto trained = Classifier::load_or_train(training, models, options);
    if (!trained) throw std::runtime_error(trained.error().message);
    return std::move(trained).value();
  }
};

std::string file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(RoutingData, LoadsEveryLabelFileAndSkipsComments) {
  Fixture f;
  EXPECT_EQ(f.training.examples.size(), 5u * 5 * 6);
  EXPECT_EQ(f.training.examples.front().label, "avatar");  // files in name order
  EXPECT_EQ(f.training.digest.size(), 64u);
}

TEST(RoutingData, PartsOfALabelShareIt) {
  Fixture f;
  std::ofstream(f.dir / "routing" / "train" / "core.more.txt") << "help me figure out the basics\n";
  auto loaded = load_training_set(f.dir / "routing");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->examples.size(), f.training.examples.size() + 1);
  EXPECT_NE(loaded->digest, f.training.digest) << "new content, new digest";
}

TEST(RoutingData, BadFolderOrLabelIsAClearError) {
  TempDir dir;
  auto missing = load_training_set(dir / "nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  fs::create_directories(dir / "train");
  auto empty = load_training_set(dir.path());
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().kind, ErrorKind::invalid_input);
  std::ofstream(dir / "train" / "marketing.txt") << "post more\n";
  auto unknown = load_training_set(dir.path());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("'marketing' is not an assistant"), std::string::npos);
}

TEST(Classifier, TrainingIsDeterministicAndCachedByContent) {
  Fixture f;
  const auto first = f.classifier(f.dir / "models-a");
  const auto second = f.classifier(f.dir / "models-b");
  EXPECT_TRUE(first.trained_now());
  EXPECT_EQ(first.model_path().filename(), second.model_path().filename()) << "named by content hash";
  EXPECT_EQ(file_bytes(first.model_path()), file_bytes(second.model_path())) << "same examples, same bytes";
  for (const std::string message : {"who buys scented candles", "is my margin ok", "a reel for friday"}) {
    EXPECT_EQ(first.predict(message), second.predict(message)) << message;
  }
  const auto cached = f.classifier(f.dir / "models-a");
  EXPECT_FALSE(cached.trained_now()) << "the second start loads the cached model";
  EXPECT_EQ(cached.predict("who buys"), first.predict("who buys"));
}

TEST(Classifier, ACorruptCachedModelIsRetrained) {
  Fixture f;
  const auto path = f.classifier(f.dir / "models").model_path();
  std::ofstream(path, std::ios::trunc) << "not a model";
  const auto again = f.classifier(f.dir / "models");
  EXPECT_TRUE(again.trained_now());
  EXPECT_EQ(again.predict("instagram post for my bakery").front().first, "capture");
}

TEST(Classifier, ProbabilitiesCoverEveryLabelBestFirst) {
  Fixture f;
  const auto predictions = f.classifier(f.dir / "models").predict("what kind of person buys from a florist");
  ASSERT_EQ(predictions.size(), 5u);
  EXPECT_EQ(predictions.front().first, "avatar");
  double sum = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    sum += predictions[i].second;
    if (i > 0) {
      EXPECT_GE(predictions[i - 1].second, predictions[i].second);
    }
  }
  EXPECT_NEAR(sum, 1.0, 0.02);
}

class IdeaRouterTest : public ::testing::Test {
 protected:
  Fixture fixture_;
  IdeaRouter make(RouterOptions options = {}, AskModel ask = {}) {
    return IdeaRouter(fixture_.classifier(fixture_.dir / "models"), options, std::move(ask));
  }
  static std::vector<Turn> after(const std::string& assistant) {
    return {{"user", "first question", ""}, {"assistant", "an answer", assistant}};
  }
};

TEST_F(IdeaRouterTest, DistinctiveKeywordsOfOneAssistantDecideByRule) {
  const auto router = make();
  const auto decision = router.route({"can you run a SWOT for my bakery", {}});
  EXPECT_EQ(decision.assistant, "diagnostic");
  EXPECT_EQ(decision.method, "rule");
  EXPECT_EQ(decision.secondary, "core");
  EXPECT_EQ(decision.fallback, "core");
  EXPECT_TRUE(decision.scores.empty()) << "the fast path does not run the classifier";
}

TEST_F(IdeaRouterTest, KeywordsOfTwoAssistantsGoToTheClassifier) {
  const auto router = make();
  // "newsletter" is capture's, "customers" avatar's: not unambiguous, so the classifier decides.
  const auto decision = router.route({"which customers open my newsletter", {}});
  EXPECT_NE(decision.method, "rule");
  EXPECT_EQ(decision.scores.size(), 5u);
}

TEST_F(IdeaRouterTest, PlainMessagesAreClassified) {
  const auto router = make();
  const auto decision = router.route({"who buys from a candle shop like mine", {}});
  EXPECT_EQ(decision.assistant, "avatar");
  EXPECT_EQ(decision.method, "classifier");
  EXPECT_GT(decision.confidence, 0.4);
  EXPECT_TRUE(is_assistant(decision.secondary));
  EXPECT_NE(decision.secondary, "avatar");
  EXPECT_EQ(decision.fallback, "core");
  EXPECT_NE(decision.reasoning.find("classifier"), std::string::npos);
}

TEST_F(IdeaRouterTest, FollowUpsStayWithThePreviousAssistant) {
  const auto router = make();
  const auto history = after("canvas");
  for (const std::string message :
       {"why?", "ok go deeper on the second one", "more please", "and for a gym?"}) {
    const auto decision = router.route({message, history});
    EXPECT_EQ(decision.assistant, "canvas") << message;
    EXPECT_EQ(decision.method, "context") << message;
  }
}

TEST_F(IdeaRouterTest, AnExplicitSwitchLeavesThePreviousAssistant) {
  const auto router = make();
  const auto decision = router.route({"moving on: an instagram post idea for my salon", after("canvas")});
  EXPECT_EQ(decision.assistant, "capture");
  EXPECT_NE(decision.method, "context");
}

TEST_F(IdeaRouterTest, WithoutHistoryAShortMessageIsNotAFollowUp) {
  const auto router = make();
  EXPECT_NE(router.route({"why?", {}}).method, "context");
}

TEST_F(IdeaRouterTest, UnsureWithoutAnLlmFallsBackToCore) {
  RouterOptions options;
  options.confidence_threshold = 1.0;  // nothing is sure enough
  const auto router = make(options);
  const auto decision = router.route({"who buys from a candle shop like mine", {}});
  EXPECT_EQ(decision.assistant, "core");
  EXPECT_EQ(decision.method, "fallback");
  EXPECT_NE(decision.reasoning.find("unsure"), std::string::npos);
}

TEST_F(IdeaRouterTest, UnsureWithAnLlmAsksIt) {
  RouterOptions options;
  options.confidence_threshold = 1.0;
  std::string seen_user;
  double seen_temperature = 0;
  const auto router =
      make(options, [&](const std::string& system, const std::string& user, double temperature) {
        EXPECT_NE(system.find("diagnostic"), std::string::npos);
        seen_user = user;
        seen_temperature = temperature;
        return Result<std::string>(std::string(R"(```json
{"assistant": "Diagnostic", "confidence": 0.8, "reasoning": "asks how they compare"}
```)"));
      });
  const auto decision = router.route({"who buys from a candle shop like mine", after("avatar")});
  EXPECT_EQ(decision.assistant, "diagnostic");
  EXPECT_EQ(decision.method, "llm");
  EXPECT_DOUBLE_EQ(decision.confidence, 0.8);
  EXPECT_DOUBLE_EQ(seen_temperature, 0.3);
  EXPECT_NE(seen_user.find("[assistant: avatar]"), std::string::npos) << "the LLM sees the conversation";
  EXPECT_NE(seen_user.find("candle shop"), std::string::npos);
}

TEST_F(IdeaRouterTest, AFailingOrNonsenseLlmFallsBackToCore) {
  RouterOptions options;
  options.confidence_threshold = 1.0;
  const auto down = make(options, [](const std::string&, const std::string&, double) {
    return Result<std::string>(Error::unavailable("upstream 503"));
  });
  const auto decision = down.route({"who buys from a candle shop like mine", {}});
  EXPECT_EQ(decision.method, "fallback");
  EXPECT_EQ(decision.assistant, "core");
  EXPECT_NE(decision.reasoning.find("upstream 503"), std::string::npos);
  const auto nonsense = make(options, [](const std::string&, const std::string&, double) {
    return Result<std::string>(std::string(R"({"assistant": "marketing"})"));
  });
  EXPECT_EQ(nonsense.route({"who buys from a candle shop like mine", {}}).method, "fallback");
}

TEST(LlmRoutingAnswer, ParsesJsonAndRejectsTheRest) {
  auto plain = parse_llm_routing(R"({"assistant": "capture", "confidence": 3, "reasoning": "posts"})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->assistant, "capture");
  EXPECT_DOUBLE_EQ(plain->confidence, 1.0) << "clamped";
  auto missing_confidence = parse_llm_routing(R"(Sure! {"assistant": "core"} Hope that helps.)");
  ASSERT_TRUE(missing_confidence);
  EXPECT_DOUBLE_EQ(missing_confidence->confidence, 0.7);
  EXPECT_FALSE(parse_llm_routing("canvas"));
  EXPECT_FALSE(parse_llm_routing(R"({"assistant": 5})"));
  EXPECT_FALSE(parse_llm_routing(R"({"assistant": "canvas")"));
}

TEST(FollowUp, ShortAnaphoricMessagesReadAsFollowUps) {
  for (const std::string message :
       {"why?", "more", "not following", "ok what's step 2", "the last bit, expand",
        "can you give an example of that", "hmm and if I have no budget for that?"}) {
    EXPECT_TRUE(reads_as_follow_up(message, 14)) << message;
  }
  for (const std::string message :
       {"", "I run a bakery in Leeds and want to know who my best buyers are and where they shop online",
        "unrelated: what should I charge", "ok, now give me post ideas", "moving on — I need a name"}) {
    EXPECT_FALSE(reads_as_follow_up(message, 14)) << message;
  }
}

}  // namespace
}  // namespace brandcoach::route
