#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <sstream>

#include "brandcoach/llm/llm.hpp"

namespace brandcoach::llm {
namespace {

Prompt pricing_prompt() {
  Prompt p;
  p.assistant = "canvas";
  p.assistant_title = "IDEA Canvas Developer";
  p.intro = "Here is how to shape that part of your business model:";
  p.user_message = "How should I price my consulting service?";
  p.next_steps = {"What does one customer pay you in a year?", "Which channel brings most customers?"};
  p.sources = {
      {"canvas", "pricing.md", "Pricing",
       "Value-based pricing sets the price from the result the customer gets, not from your hours. "
       "A consulting service priced by outcome can earn more than one priced by the hour. "
       "Raise your price for new customers first and watch how many still say yes."},
      {"canvas", "tiers.md", "Tiers",
       "Three pricing tiers let customers choose how much service they want to buy. "
       "Most buyers pick the middle tier, so design the middle tier as the one you want to sell."},
      {"canvas", "costs.md", "Costs",
       "Know your cost to deliver each service before you set any price for it. "
       "Fixed costs such as rent stay the same whatever you sell in a month."},
  };
  return p;
}

TEST(OfflineComposer, AnswersWithThreeToFiveCitedPoints) {
  auto composer = make_offline_composer();
  auto completion = composer->generate(pricing_prompt(), {}, {});
  ASSERT_TRUE(completion) << completion.error().message;
  const std::regex point(R"(^\d\. .+ \[(\d)\]$)");
  size_t points = 0;
  std::istringstream lines(completion->text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_match(line, match, point)) {
      ++points;
      const size_t n = std::stoul(match[1]);
      ASSERT_GE(n, 1u);
      ASSERT_LE(n, completion->citations.size()) << "every [n] refers to a returned citation";
      EXPECT_NE(completion->citations[n - 1].snippet.find(line.substr(3, 20)), std::string::npos)
          << "the point is quoted from its cited passage";
    }
  }
  EXPECT_GE(points, 3u);
  EXPECT_LE(points, 5u);
  EXPECT_EQ(completion->provider, "offline");
  EXPECT_GT(completion->usage.input_tokens, 0);
  EXPECT_GT(completion->usage.output_tokens, 0);
}

TEST(OfflineComposer, PrefersSentencesAboutTheQuestion) {
  auto composer = make_offline_composer();
  auto completion = composer->generate(pricing_prompt(), {}, {});
  ASSERT_TRUE(completion);
  // The first point is the one that shares the most with "price my consulting service".
  EXPECT_NE(completion->text.find("1. A consulting service priced by outcome"), std::string::npos)
      << completion->text;
}

TEST(OfflineComposer, GreetsTheUserByNameWhenKnown) {
  auto prompt = pricing_prompt();
  prompt.user_name = "Ana";
  auto composer = make_offline_composer();
  auto completion = composer->generate(prompt, {}, {});
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->text.rfind("Hi Ana! ", 0), 0u);
}

std::string next_step_of(const std::string& answer) {
  const std::string marker = "**Next step:** ";
  const auto at = answer.find(marker);
  if (at == std::string::npos) return {};
  const auto end = answer.find('\n', at);
  return answer.substr(at + marker.size(), end - at - marker.size());
}

TEST(OfflineComposer, EndsWithANextStepNotAskedBefore) {
  auto prompt = pricing_prompt();
  auto composer = make_offline_composer();
  std::set<std::string> asked;
  // Five answers in a row: five different questions.
  for (int turn = 0; turn < 5; ++turn) {
    auto answer = composer->generate(prompt, {}, {});
    ASSERT_TRUE(answer);
    const auto question = next_step_of(answer->text);
    ASSERT_FALSE(question.empty()) << answer->text;
    EXPECT_TRUE(asked.insert(question).second) << "asked twice: " << question;
    prompt.earlier_replies.push_back(answer->text);
  }
}

TEST(OfflineComposer, WhenEveryQuestionWasAskedItAsksTheOneAskedLongestAgo) {
  auto prompt = pricing_prompt();
  prompt.assistant = "none";  // no shape: only the assistant's own next steps
  prompt.earlier_replies = {"**Next step:** Which channel brings most customers?",
                            "**Next step:** What does one customer pay you in a year?"};
  auto answer = make_offline_composer()->generate(prompt, {}, {});
  ASSERT_TRUE(answer);
  EXPECT_EQ(next_step_of(answer->text), "Which channel brings most customers?");
}

TEST(OfflineComposer, SaysSoWhenNothingWasRetrieved) {
  auto prompt = pricing_prompt();
  prompt.sources.clear();
  auto composer = make_offline_composer();
  auto completion = composer->generate(prompt, {}, {});
  ASSERT_TRUE(completion);
  EXPECT_TRUE(completion->citations.empty());
  EXPECT_NE(completion->text.find("couldn't find"), std::string::npos);
  EXPECT_EQ(completion->text.find("[1]"), std::string::npos);
}

TEST(OfflineComposer, StreamedDeltasConcatenateToTheAnswer) {
  auto composer = make_offline_composer();
  std::string streamed;
  size_t pieces = 0;
  auto completion = composer->generate(pricing_prompt(), {}, [&](std::string_view piece) {
    streamed += piece;
    ++pieces;
  });
  ASSERT_TRUE(completion);
  EXPECT_EQ(streamed, completion->text);
  EXPECT_GT(pieces, 10u);
}

TEST(OfflineComposer, IsDeterministic) {
  auto composer = make_offline_composer();
  auto a = composer->generate(pricing_prompt(), {}, {});
  auto b = composer->generate(pricing_prompt(), {}, {});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->text, b->text);
}

TEST(OfflineComposer, NeverRepeatsTheSamePointTwice) {
  auto prompt = pricing_prompt();
  prompt.sources.push_back(prompt.sources.front());  // the same passage retrieved twice
  auto composer = make_offline_composer();
  auto completion = composer->generate(prompt, {}, {});
  ASSERT_TRUE(completion);
  const std::string sentence = "A consulting service priced by outcome";
  const auto first = completion->text.find(sentence);
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(completion->text.find(sentence, first + 1), std::string::npos) << completion->text;
}

TEST(OfflineComposer, RespectsTheOutputTokenBudget) {
  auto composer = make_offline_composer();
  auto completion = composer->generate(pricing_prompt(), {0.7, 30, "", {}}, {});
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->finish_reason, "length");
  EXPECT_LE(completion->usage.output_tokens, 30);
}

}  // namespace
}  // namespace brandcoach::llm
