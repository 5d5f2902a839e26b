// Recognising a user introducing themselves, so the coach can greet them by name.
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "brandcoach/memory/memory.hpp"

namespace brandcoach::memory {
namespace {

TEST(Memory, MyNameIsGivesTheNameOnly) {
  EXPECT_EQ(introduced_name("My name is Ana and I run a bakery"), std::optional<std::string>("Ana"));
  EXPECT_EQ(introduced_name("Hello! my name is Ana."), std::optional<std::string>("Ana"));
}

TEST(Memory, MyNamesContractionIsRecognised) {
  EXPECT_EQ(introduced_name("my name's Sam, nice to meet you"), std::optional<std::string>("Sam"));
}

TEST(Memory, CallMeKeepsATitle) {
  EXPECT_EQ(introduced_name("call me Dr. Lee"), std::optional<std::string>("Dr. Lee"));
  EXPECT_EQ(introduced_name("Please call me Mrs. Okafor, thanks"), std::optional<std::string>("Mrs. Okafor"));
}

TEST(Memory, TitleAloneIsNotAName) {
  EXPECT_EQ(introduced_name("call me Dr."), std::nullopt);
  EXPECT_EQ(introduced_name("call me Mr. smith"), std::nullopt);
}

TEST(Memory, ImStopsAtComma) {
  EXPECT_EQ(introduced_name("I'm Priya, I own a salon"), std::optional<std::string>("Priya"));
}

TEST(Memory, ImStopsAtSentenceEnd) {
  EXPECT_EQ(introduced_name("Hi, I'm Ana. I run a shop"), std::optional<std::string>("Ana"));
  EXPECT_EQ(introduced_name("I'm Priya! Help me"), std::optional<std::string>("Priya"));
}

TEST(Memory, LowerCaseNameIsNotTaken) {
  EXPECT_EQ(introduced_name("my name is maria"), std::nullopt);
}

TEST(Memory, ImFollowedByAVerbIsNotAName) {
  EXPECT_EQ(introduced_name("I'm trying to grow"), std::nullopt);
  EXPECT_EQ(introduced_name("I'm not sure"), std::nullopt);
  EXPECT_EQ(introduced_name("I am looking for customers"), std::nullopt);
}

TEST(Memory, CapitalisedCommonWordIsNotAName) {
  EXPECT_EQ(introduced_name("I'm Not sure where to begin"), std::nullopt);
  EXPECT_EQ(introduced_name("I'm Trying to grow"), std::nullopt);
  EXPECT_EQ(introduced_name("I am Ready to launch"), std::nullopt);
}

TEST(Memory, MessageWithoutIntroductionGivesNothing) {
  EXPECT_EQ(introduced_name("How should I price my service?"), std::nullopt);
  EXPECT_EQ(introduced_name("Ana runs a bakery in Lisbon"), std::nullopt);
  EXPECT_EQ(introduced_name(""), std::nullopt);
}

TEST(Memory, IAmWithHyphenatedFullName) {
  EXPECT_EQ(introduced_name("Hi, I am Jean-Luc Picard."), std::optional<std::string>("Jean-Luc Picard"));
}

TEST(Memory, NameIsAtMostThreeWords) {
  EXPECT_EQ(introduced_name("I am Mary Jane Watson Parker"), std::optional<std::string>("Mary Jane Watson"));
}

TEST(Memory, NameWithApostropheIsKept) {
  EXPECT_EQ(introduced_name("my name is Siobhan O'Brien"), std::optional<std::string>("Siobhan O'Brien"));
}

TEST(Memory, NonAsciiNameIsKept) {
  EXPECT_EQ(introduced_name("I'm Jos\xC3\xA9, I sell coffee"), std::optional<std::string>("Jos\xC3\xA9"));
}

TEST(Memory, CueInsideAnotherWordIsIgnored) {
  // "taxi am " contains "i am " but not as a word.
  EXPECT_EQ(introduced_name("The taxi am Bahnhof"), std::nullopt);
}

TEST(Memory, CueIsCaseInsensitiveButNameIsAsWritten) {
  EXPECT_EQ(introduced_name("MY NAME IS Ana"), std::optional<std::string>("Ana"));
  EXPECT_EQ(introduced_name("CALL ME Lee"), std::optional<std::string>("Lee"));
}

}  // namespace
}  // namespace brandcoach::memory
