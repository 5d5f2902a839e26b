// The shape of each assistant's offline answer: what a coach would hand back, filled from what the
// user said and from cited knowledge, saying what is still missing.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "brandcoach/llm/llm.hpp"

namespace brandcoach::llm {
namespace {

Source source(const std::string& file, const std::string& text) {
  return {"kb", file, "", text};
}

Prompt base(const std::string& assistant, const std::string& message) {
  Prompt p;
  p.assistant = assistant;
  p.assistant_title = assistant;
  p.user_message = message;
  p.next_steps = {"Which of these would you like to work on first?"};
  p.profile = {{"company", "Company", "personal", "Brightside Bakery"},
               {"target_market", "Target market", "business", "busy parents in Leeds"},
               {"usp", "What makes you different", "brand", "sourdough baked overnight with local flour"},
               {"competitors", "Competitors", "business", "Greggs"},
               {"competitors", "Competitors", "business", "Gail's"},
               {"challenges", "Challenges", "business", "inconsistent Instagram posting"},
               {"goals", "Goals", "business", "open a second shop"},
               {"price", "Price", "business", "£4.50 (sourdough loaf)"}};
  return p;
}

// Every [n] in the answer names a returned citation, and every citation's snippet is text the
// answer quotes.
void expect_grounded(const Completion& c) {
  const std::regex marker(R"(\[(\d+)\])");
  std::set<int> used;
  for (auto it = std::sregex_iterator(c.text.begin(), c.text.end(), marker); it != std::sregex_iterator();
       ++it) {
    const int n = std::stoi((*it)[1]);
    ASSERT_GE(n, 1);
    ASSERT_LE(static_cast<size_t>(n), c.citations.size()) << c.text;
    used.insert(n);
  }
  for (const auto& citation : c.citations) {
    EXPECT_TRUE(used.contains(citation.number)) << "citation " << citation.number << " is never referred to";
    EXPECT_NE(c.text.find(citation.snippet.substr(0, 30)), std::string::npos) << citation.snippet;
  }
}

Completion answer(const Prompt& p) {
  auto completion = make_offline_composer()->generate(p, {0.7, 2000, "", {}}, {});
  EXPECT_TRUE(completion);
  return *completion;
}

TEST(ComposerShapes, DiagnosticAnswersWithASwotTableFromFactsAndFindings) {
  auto p = base("diagnostic", "How strong is my brand compared with my competitors?");
  p.sources = {
      source("audit.md",
             "A brand audit compares how strong your brand looks against each competitor in the market. "
             "Loyal customers are the clearest strength a small brand can show. "
             "Inconsistent visuals are the most common weakness in small brands. "
             "Cheaper competitors copying your product is a threat to watch every quarter."),
      source("growth.md",
             "An untapped niche is an opportunity to grow without fighting the big players. "
             "Your competitors set the price customers expect to pay for a brand like yours.")};
  const auto c = answer(p);
  expect_grounded(c);
  EXPECT_NE(c.text.find("### Brand SWOT — Brightside Bakery"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("| Quadrant | What you've told me | From the knowledge base |"), std::string::npos);
  const auto row = [&](const std::string& title) {
    const auto at = c.text.find("| **" + title + "** |");
    EXPECT_NE(at, std::string::npos) << title << "\n" << c.text;
    return at == std::string::npos ? std::string() : c.text.substr(at, c.text.find('\n', at) - at);
  };
  EXPECT_NE(row("Strengths").find("sourdough baked overnight"), std::string::npos);
  EXPECT_NE(row("Weaknesses").find("inconsistent Instagram posting"), std::string::npos);
  EXPECT_NE(row("Opportunities").find("open a second shop"), std::string::npos);
  EXPECT_NE(row("Threats").find("Competitors: Greggs, Gail's"), std::string::npos);
  // A finding, cited: quoted in the row, or pointing at the numbered point that already quotes it.
  const auto threats = row("Threats");
  const auto point = threats.find("See point ");
  if (point == std::string::npos) {
    EXPECT_NE(threats.find("copying your product"), std::string::npos) << c.text;
  } else {
    const auto n = threats.substr(point + 10, 1);
    const auto listed = c.text.find("\n" + n + ". ");
    ASSERT_NE(listed, std::string::npos);
    EXPECT_EQ(c.text.substr(listed + 4, 20), "Cheaper competitors ") << c.text;
  }
}

TEST(ComposerShapes, AvatarSketchSaysWhatIsMissingAndAsksForIt) {
  auto p = base("avatar", "Who is my ideal customer?");
  p.sources = {source("avatar.md",
                      "Your ideal customer profile starts with the segment that buys most often from you. "
                      "The biggest pain for busy parents is finding time to shop for fresh food. "
                      "Most customers hesitate because they doubt a premium loaf is worth the price.")};
  const auto c = answer(p);
  expect_grounded(c);
  for (const std::string part :
       {"Who they are", "Their situation", "Pains", "Desires", "Objections", "Where they are"}) {
    EXPECT_NE(c.text.find("- **" + part + ":**"), std::string::npos) << part << "\n" << c.text;
  }
  EXPECT_NE(c.text.find("- **Who they are:** You told me: Target market: busy parents in Leeds"),
            std::string::npos)
      << c.text;
  EXPECT_NE(c.text.find("Still open:"), std::string::npos);
  // The next step asks for the first thing the sketch is missing.
  const auto open = c.text.find("_Still open: ");
  const auto question = c.text.substr(open + 13, c.text.find('_', open + 13) - open - 13);
  EXPECT_NE(c.text.find("**Next step:** " + question), std::string::npos) << c.text;
}

TEST(ComposerShapes, CanvasShowsTheBlocksTheQuestionIsAbout) {
  auto p = base("canvas", "How should I set my pricing and revenue model?");
  p.sources = {source("revenue.md",
                      "Revenue streams describe how each customer segment pays you, once or again and again. "
                      "A subscription turns a one-off price into recurring revenue you can plan around. "
                      "Key partners such as suppliers lower your costs and your risk.")};
  const auto c = answer(p);
  expect_grounded(c);
  size_t blocks = 0;
  for (size_t at = c.text.find("| **"); at != std::string::npos; at = c.text.find("| **", at + 1)) ++blocks;
  EXPECT_LE(blocks, 4u) << c.text;
  EXPECT_GE(blocks, 2u);
  EXPECT_NE(c.text.find("| **Revenue streams** | Price: £4.50 (sourdough loaf)"), std::string::npos)
      << c.text;
}

TEST(ComposerShapes, CapturePlansByLetter) {
  auto p = base("capture", "What content should I post next month?");
  p.sources = {source("capture.md",
                      "Create three content pillars that your audience cares about and rotate them. "
                      "Repurpose one long video into five short clips for different channels. "
                      "Engage with every comment in the first hour after you post.")};
  const auto c = answer(p);
  expect_grounded(c);
  for (const std::string letter : {"C — Create", "A — Amplify", "P — Position", "T — Target",
                                   "U — Utilize data", "R — Repurpose", "E — Engage"}) {
    EXPECT_NE(c.text.find("| **" + letter + "** |"), std::string::npos) << letter << "\n" << c.text;
  }
  EXPECT_NE(c.text.find("| **T — Target** | Target market: busy parents in Leeds"), std::string::npos);
}

TEST(ComposerShapes, CoreDraftsMissionAndVisionFromTheUsersOwnWords) {
  auto p = base("core", "Help me write my mission and vision");
  p.sources = {source("mission.md",
                      "A mission says why the business exists and whom it serves, in one sentence. "
                      "A vision describes the future you want to build in the next five to ten years.")};
  const auto c = answer(p);
  expect_grounded(c);
  EXPECT_NE(c.text.find("Draft: “Brightside Bakery exists to serve busy parents in Leeds — sourdough baked "
                        "overnight with local flour.”"),
            std::string::npos)
      << c.text;
  EXPECT_NE(
      c.text.find("Draft: “In five years, Brightside Bakery will have achieved this: open a second shop.”"),
      std::string::npos);
}

TEST(ComposerShapes, CoreTellsAStoryWhenAskedForOne) {
  auto p = base("core", "How do I tell my brand story?");
  p.sources = {source("story.md",
                      "Every brand story needs a hero, and the hero is your customer, not you. "
                      "Your brand plays the guide who shows empathy and authority.")};
  const auto c = answer(p);
  expect_grounded(c);
  EXPECT_NE(c.text.find("### Your brand story beats"), std::string::npos) << c.text;
  EXPECT_NE(c.text.find("- **The problem:** You told me: Challenges: inconsistent Instagram posting."),
            std::string::npos)
      << c.text;
}

TEST(ComposerShapes, TableCellsCannotBeBrokenByTheUsersWords) {
  auto p = base("diagnostic", "How strong is my brand?");
  p.profile.push_back({"usp", "What makes you different", "brand", "fast | friendly\nservice"});
  p.sources = {source("audit.md", "Loyal customers are the clearest strength a small brand can show today.")};
  const auto c = answer(p);
  const auto row = c.text.find("| **Strengths** |");
  ASSERT_NE(row, std::string::npos);
  const auto line = c.text.substr(row, c.text.find('\n', row) - row);
  EXPECT_NE(line.find("fast \\| friendly service"), std::string::npos) << line;
}

}  // namespace
}  // namespace brandcoach::llm
