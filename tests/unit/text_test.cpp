// Text primitives: UTF-8 validation, normalisation, words, stems, token counts, sentences, chunks.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "brandcoach/text/text.hpp"

namespace brandcoach::text {
namespace {

using Strings = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// is_valid_utf8

TEST(TextUtf8, AcceptsAsciiAndMultiByteSequences) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("caf\xC3\xA9"));               // é, 2 bytes
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC 5"));            // €, 3 bytes
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));          // 😀, 4 bytes
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF, the last code point
  EXPECT_TRUE(is_valid_utf8("\xEF\xBC\xA1\xEF\xBC\xA2"));  // ＡＢ
}

TEST(TextUtf8, RejectsTruncatedSequences) {
  EXPECT_FALSE(is_valid_utf8("caf\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98 after"));
}

TEST(TextUtf8, PrefixNeverCutsACharacter) {
  EXPECT_EQ(utf8_prefix("caf\xC3\xA9", 4), "caf");  // é would not fit whole
  EXPECT_EQ(utf8_prefix("caf\xC3\xA9", 5), "caf\xC3\xA9");
  EXPECT_EQ(utf8_prefix("\xE2\x82\xAC\xE2\x82\xAC", 5), "\xE2\x82\xAC");
  EXPECT_EQ(utf8_prefix("\xF0\x9F\x98\x80", 3), "");
  EXPECT_EQ(utf8_prefix("short", 100), "short");
  for (size_t n = 0; n <= 12; ++n)
    EXPECT_TRUE(is_valid_utf8(utf8_prefix("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80" "b", n)));
}

TEST(TextUtf8, RejectsStrayContinuationBytes) {
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("ok\xBFok"));
}

TEST(TextUtf8, RejectsOverlongEncodings) {
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));      // '/' in two bytes
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));  // '/' in three bytes
}

TEST(TextUtf8, RejectsSurrogates) {
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));  // U+D800
  EXPECT_FALSE(is_valid_utf8("\xED\xBF\xBF"));  // U+DFFF
}

TEST(TextUtf8, RejectsCodePointsAboveUnicodeRange) {
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));
}

// ---------------------------------------------------------------------------------------------
// normalize

TEST(TextNormalize, FoldsCase) {
  EXPECT_EQ(normalize("Hello WORLD"), "hello world");
  EXPECT_EQ(normalize("Stra\xC3\x9F"
                      "e"),
            "strasse");  // ß folds to ss
}

TEST(TextNormalize, AppliesNfkcToFullwidthLetters) {
  EXPECT_EQ(normalize("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3"), "abc");  // ＡＢＣ
}

TEST(TextNormalize, ComposesDecomposedCharacters) {
  EXPECT_EQ(normalize("cafe\xCC\x81"), "caf\xC3\xA9");  // e + combining acute -> é
}

TEST(TextNormalize, CollapsesAndTrimsWhitespace) {
  EXPECT_EQ(normalize("  a \t\n b\r\n\nc  "), "a b c");
  EXPECT_EQ(normalize(" \n\t "), "");
  EXPECT_EQ(normalize(""), "");
}

TEST(TextNormalize, AsciiTextNormalisesExactlyAsTheUnicodePathDoes) {
  // Plain ASCII takes a fast path; appending one non-ASCII letter sends the same text down the full
  // Unicode mapping. Both must agree on every ASCII byte, control characters included.
  uint64_t state = 42;
  for (int round = 0; round < 500; ++round) {
    std::string ascii;
    const size_t length = 1 + round % 40;
    for (size_t i = 0; i < length; ++i) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      ascii.push_back(static_cast<char>((state >> 33) % 128));
    }
    ascii.push_back('x');  // not whitespace, so nothing is trimmed between the two parts
    EXPECT_EQ(normalize(ascii) + "\xC3\xA9", normalize(ascii + "\xC3\xA9")) << round;
  }
}

TEST(TextNormalize, ReplacesInvalidBytesInsteadOfPassingThem) {
  const std::string out = normalize(
      "ab\xFF"
      "cd\xC0\xAF");
  EXPECT_TRUE(is_valid_utf8(out)) << out;
  EXPECT_EQ(out.find('\xFF'), std::string::npos);
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos) << out;  // U+FFFD
  EXPECT_EQ(out.substr(0, 2), "ab");
  EXPECT_NE(out.find("cd"), std::string::npos);
}

TEST(TextNormalize, OutputIsAlwaysValidUtf8) {
  for (const std::string input : {"\xED\xA0\x80", "\xF4\x90\x80\x80", "x\xC3", "\x80\x80\x80"}) {
    EXPECT_TRUE(is_valid_utf8(normalize(input)));
  }
}

// ---------------------------------------------------------------------------------------------
// words, stem, content_stems

TEST(TextWords, SplitsOnPunctuationAndLowerCases) {
  EXPECT_EQ(words("Hello, World! How's it going?"), (Strings{"hello", "world", "how", "s", "it", "going"}));
  EXPECT_EQ(words("brand-new...strategy;plan"), (Strings{"brand", "new", "strategy", "plan"}));
}

TEST(TextWords, ApostropheInsideAWordSplitsIt) {
  EXPECT_EQ(words("customer's"), (Strings{"customer", "s"}));
  EXPECT_EQ(words("don't"), (Strings{"don", "t"}));
}

TEST(TextWords, KeepsDigits) {
  EXPECT_EQ(words("Top 10 tips for 2024"), (Strings{"top", "10", "tips", "for", "2024"}));
  EXPECT_EQ(words("b2b"), (Strings{"b2b"}));
}

TEST(TextWords, NormalisesFullwidthAndAccentedLetters) {
  EXPECT_EQ(words("\xEF\xBC\xA3\xEF\xBC\xB5\xEF\xBC\xB3\xEF\xBC\xB4"), (Strings{"cust"}));  // ＣＵＳＴ
  EXPECT_EQ(words("Caf\xC3\xA9 au lait"), (Strings{"caf\xC3\xA9", "au", "lait"}));
}

TEST(TextWords, EmptyAndPunctuationOnlyGiveNoWords) {
  EXPECT_TRUE(words("").empty());
  EXPECT_TRUE(words("?!... -- ;").empty());
}

TEST(TextStem, GivesSnowballEnglishStems) {
  EXPECT_EQ(stem("branding"), "brand");
  EXPECT_EQ(stem("customers"), "custom");
  EXPECT_EQ(stem("customer"), "custom");
  EXPECT_EQ(stem("pricing"), "price");
  EXPECT_EQ(stem("price"), "price");
  EXPECT_EQ(stem("running"), "run");
  EXPECT_EQ(stem("weaknesses"), "weak");
}

TEST(TextStem, EmptyWordStaysEmpty) {
  EXPECT_EQ(stem(""), "");
}

TEST(TextStopwords, RecognisesFunctionWordsOnly) {
  EXPECT_TRUE(is_stopword("the"));
  EXPECT_TRUE(is_stopword("my"));
  EXPECT_TRUE(is_stopword("how"));
  EXPECT_FALSE(is_stopword("brand"));
  EXPECT_FALSE(is_stopword("customer"));
}

TEST(TextContentStems, DropsStopwordsAndStemsTheRest) {
  EXPECT_EQ(content_stems("How do I price my Branding for the customers?"),
            (Strings{"price", "brand", "custom"}));
  EXPECT_TRUE(content_stems("what is the").empty());
}

TEST(TextContentStems, InflectionsCompareEqual) {
  EXPECT_EQ(content_stems("Customers"), content_stems("customer's"));
  EXPECT_EQ(content_stems("\xEF\xBC\xA3\xEF\xBC\xB5\xEF\xBC\xB3\xEF\xBC\xB4\xEF\xBC\xAF\xEF\xBC\xAD\xEF\xBC"
                          "\xA5\xEF\xBC\xB2"),  // ＣＵＳＴＯＭＥＲ
            content_stems("customers"));
}

// ---------------------------------------------------------------------------------------------
// count_tokens

TEST(TextTokens, EmptyAndWhitespaceAreZero) {
  EXPECT_EQ(count_tokens(""), 0u);
  EXPECT_EQ(count_tokens("   \n\t"), 0u);
}

TEST(TextTokens, GrowsWithLength) {
  const size_t one = count_tokens("brand");
  const size_t sentence = count_tokens("Your brand is the promise you make to every customer.");
  const size_t paragraph = count_tokens(
      "Your brand is the promise you make to every customer. Keep it simple, keep it true, and repeat "
      "it everywhere your customers meet you.");
  EXPECT_GE(one, 1u);
  EXPECT_GT(sentence, one);
  EXPECT_GT(paragraph, sentence);
}

TEST(TextTokens, LongWordsTakeMoreTokensThanShortOnes) {
  EXPECT_EQ(count_tokens("a"), 1u);
  EXPECT_EQ(count_tokens("abcd"), 1u);
  EXPECT_EQ(count_tokens("abcde"), 2u);
  EXPECT_GT(count_tokens("internationalization"), count_tokens("brand"));
}

TEST(TextTokens, PunctuationIsCounted) {
  EXPECT_EQ(count_tokens("!"), 1u);
  EXPECT_EQ(count_tokens("hi"), 1u);
  EXPECT_EQ(count_tokens("hi!"), 2u);
  EXPECT_GT(count_tokens("hi, there!!"), count_tokens("hi there"));
}

// ---------------------------------------------------------------------------------------------
// split_sentences

TEST(TextSentences, SplitsAtEndPunctuationBeforeCapitals) {
  EXPECT_EQ(split_sentences("Know your customer. Price for value! Is it working? Yes."),
            (Strings{"Know your customer.", "Price for value!", "Is it working?", "Yes."}));
}

TEST(TextSentences, KeepsAbbreviationFollowedByLowerCaseTogether) {
  EXPECT_EQ(split_sentences("Use a channel, e.g. something cheap. Then measure."),
            (Strings{"Use a channel, e.g. something cheap.", "Then measure."}));
}

TEST(TextSentences, SplitsBeforeDigits) {
  EXPECT_EQ(split_sentences("Start small. 3 offers are enough."),
            (Strings{"Start small.", "3 offers are enough."}));
}

TEST(TextSentences, ListItemsOnTheirOwnLinesAreSentences) {
  EXPECT_EQ(split_sentences("Steps:\n- define the mission\n- find the audience\n* write the story"),
            (Strings{"Steps:", "- define the mission", "- find the audience", "* write the story"}));
  EXPECT_EQ(split_sentences("Plan\n1. research\n2. launch"), (Strings{"Plan", "1. research", "2. launch"}));
}

TEST(TextSentences, SoftLineBreakJoinsAndBlankLineSplits) {
  EXPECT_EQ(split_sentences("a sentence that\ncontinues here\n\nnew paragraph"),
            (Strings{"a sentence that continues here", "new paragraph"}));
}

TEST(TextSentences, EmptyInputGivesNoSentences) {
  EXPECT_TRUE(split_sentences("").empty());
  EXPECT_TRUE(split_sentences("  \n\n  ").empty());
}

// ---------------------------------------------------------------------------------------------
// chunk_markdown

std::string long_paragraph(const std::string& topic, int sentences) {
  std::string out;
  for (int i = 0; i < sentences; ++i) {
    out += "Sentence " + std::to_string(i) + " explains how " + topic + " shapes a small business brand. ";
  }
  return out;
}

// Chunk text without surrounding whitespace (see ChunkTextHasNoSurroundingBlankLines for the raw text).
std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// A section of about `sentences` * 7 tokens, so tests can choose whether sections fit together.
std::string section_text(std::string_view word, int sentences) {
  std::string out;
  for (int i = 0; i < sentences; ++i)
    out += std::string(word) + " sentence number " + std::to_string(i) + " here. ";
  return out;
}

TEST(TextChunk, RecordsHeadingPath) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 0};
  const auto chunks =
      chunk_markdown("# Title\n\n" + section_text("Intro", 10) + "\n\n## Section\n\n" +
                         section_text("Body", 10) + "\n\n### Deep\n\n" + section_text("Deep", 10),
                     options);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].heading, "Title");
  EXPECT_EQ(trimmed(chunks[0].text).substr(0, 6), "Intro ");
  EXPECT_EQ(chunks[1].heading, "Title > Section");
  EXPECT_EQ(trimmed(chunks[1].text).substr(0, 5), "Body ");
  EXPECT_EQ(chunks[2].heading, "Title > Section > Deep");
}

TEST(TextChunk, ShortSectionsShareAChunkWithTheirHeadingsInline) {
  const auto chunks =
      chunk_markdown("# Title\n\nIntro text.\n\n## Section\n\nBody text.\n\n### Deep\n\nDeep text.\n");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].heading, "Title");
  EXPECT_EQ(chunks[0].text, "Intro text.\n\n## Section\n\nBody text.\n\n### Deep\n\nDeep text.");
}

TEST(TextChunk, PackedChunkKeepsOnlyTheSharedHeadingPath) {
  const auto siblings = chunk_markdown("# Guide\n## Alpha\nalpha text\n## Beta\nbeta text\n");
  ASSERT_EQ(siblings.size(), 1u);
  EXPECT_EQ(siblings[0].heading, "Guide");
  const auto similar_names = chunk_markdown("# G\n## Price\np\n## Prices\nq\n");
  ASSERT_EQ(similar_names.size(), 1u);
  EXPECT_EQ(similar_names[0].heading, "G");  // "Price" is not a part of "Prices"
  const auto unrelated = chunk_markdown("# T\n## A\nalpha\n# U\ngamma\n");
  ASSERT_EQ(unrelated.size(), 1u);
  EXPECT_EQ(unrelated[0].heading, "");
}

TEST(TextChunk, SiblingHeadingReplacesThePreviousOne) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 0};
  const auto chunks = chunk_markdown("# T\n## A\n" + section_text("alpha", 10) + "\n## B\n" +
                                         section_text("beta", 10) + "\n# U\n" + section_text("gamma", 10),
                                     options);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].heading, "T > A");
  EXPECT_EQ(chunks[1].heading, "T > B");
  EXPECT_EQ(chunks[2].heading, "U");
}

TEST(TextChunk, SectionThatDoesNotFitStartsAChunkAtItsHeading) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 50};
  const auto chunks = chunk_markdown(
      "# T\n## A\n" + section_text("alpha", 5) + "\n## B\n" + section_text("beta", 9) + "\n", options);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].heading, "T > A");
  EXPECT_EQ(chunks[1].heading, "T > B");
  EXPECT_EQ(chunks[1].text.find("alpha"), std::string::npos);  // no overlap across a heading
  for (const auto& chunk : chunks) EXPECT_LE(chunk.tokens, 100u);
}

TEST(TextChunk, TextBeforeAnyHeadingHasEmptyPath) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 0};
  const auto chunks = chunk_markdown("preamble\n\n# Title\n\n" + section_text("body", 14), options);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].heading, "");
  EXPECT_EQ(trimmed(chunks[0].text), "preamble");
}

TEST(TextChunk, ChunkTextHasNoSurroundingBlankLines) {
  const auto chunks = chunk_markdown("# A\n\nFirst paragraph.\n\nSecond paragraph.\n");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "First paragraph.\n\nSecond paragraph.");
}

TEST(TextChunk, NeverExceedsMaxTokensAndKeepsEveryParagraph) {
  std::vector<std::string> paragraphs;
  std::string markdown = "# Guide\n\n";
  for (int i = 0; i < 12; ++i) {
    paragraphs.push_back("Paragraph " + std::to_string(i) + " covers pricing, positioning and story.");
    markdown += paragraphs.back() + "\n\n";
    if (i == 5) markdown += "## Second half\n\n";
  }
  const ChunkOptions options{.max_tokens = 30};
  const auto chunks = chunk_markdown(markdown, options);
  ASSERT_GT(chunks.size(), 2u);
  for (const auto& chunk : chunks) {
    EXPECT_LE(chunk.tokens, options.max_tokens) << chunk.text;
    EXPECT_LE(count_tokens(chunk.text), options.max_tokens) << chunk.text;
    EXPECT_GT(chunk.tokens, 0u);
  }
  for (const auto& paragraph : paragraphs) {
    const bool found = std::any_of(chunks.begin(), chunks.end(), [&](const Chunk& c) {
      return c.text.find(paragraph) != std::string::npos;
    });
    EXPECT_TRUE(found) << "lost: " << paragraph;
  }
}

TEST(TextChunk, OversizedParagraphIsSplitBetweenSentences) {
  const std::string paragraph = long_paragraph("pricing", 20);
  const ChunkOptions options{.max_tokens = 40};
  const auto chunks = chunk_markdown("# Pricing\n\n" + paragraph, options);
  ASSERT_GT(chunks.size(), 1u);
  std::string joined;
  for (const auto& chunk : chunks) {
    EXPECT_LE(chunk.tokens, options.max_tokens) << chunk.text;
    EXPECT_EQ(chunk.heading, "Pricing");
    joined += chunk.text + " ";
  }
  for (const auto& sentence : split_sentences(paragraph)) {
    EXPECT_NE(joined.find(sentence), std::string::npos) << "lost: " << sentence;
  }
}

TEST(TextChunk, SentenceLongerThanMaxIsSplitBetweenWords) {
  std::string sentence = "This";
  for (int i = 0; i < 40; ++i) sentence += " very";
  sentence += " long sentence never ends.";
  const ChunkOptions options{.max_tokens = 10, .overlap_tokens = 0};
  const auto chunks = chunk_markdown(sentence + " Short one.", options);
  ASSERT_GT(chunks.size(), 1u);
  std::string rejoined;
  for (const auto& chunk : chunks) {
    EXPECT_LE(chunk.tokens, options.max_tokens) << chunk.text;
    rejoined += (rejoined.empty() ? "" : " ") + chunk.text;
  }
  EXPECT_NE(rejoined.find(sentence), std::string::npos) << "every word kept, in order";
}
TEST(TextChunk, OrdinalsAreConsecutiveFromZero) {
  std::string markdown;
  for (int s = 0; s < 4; ++s)
    markdown += "# Part " + std::to_string(s) + "\n\n" + long_paragraph("story", 6) + "\n\n";
  const auto chunks = chunk_markdown(markdown, ChunkOptions{.max_tokens = 25});
  ASSERT_GT(chunks.size(), 4u);
  for (size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].ordinal, static_cast<int>(i));
}

TEST(TextChunk, TokensFieldMatchesCountOfText) {
  const auto chunks = chunk_markdown("# A\n\nOne short paragraph, with commas.\n\nAnother one!\n");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].tokens, count_tokens(chunks[0].text));
}

TEST(TextChunk, HashLinesInsideFencedCodeAreNotHeadings) {
  const std::string markdown =
      "# Setup\n\nRun this:\n\n```sh\n# install the tool\napt-get install brandcoach\n\n## not a "
      "heading\n```\n\n"
      "Done.\n";
  const auto chunks = chunk_markdown(markdown);
  ASSERT_FALSE(chunks.empty());
  for (const auto& chunk : chunks) {
    EXPECT_EQ(chunk.heading, "Setup") << chunk.text;
  }
  const bool kept = std::any_of(chunks.begin(), chunks.end(), [](const Chunk& c) {
    return c.text.find("# install the tool") != std::string::npos &&
           c.text.find("## not a heading") != std::string::npos;
  });
  EXPECT_TRUE(kept);
}

TEST(TextChunk, HashWithoutSpaceIsNotAHeading) {
  const auto chunks = chunk_markdown("# Tags\n\n#brand #growth\n");
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].heading, "Tags");
  EXPECT_EQ(trimmed(chunks[0].text), "#brand #growth");
}

TEST(TextChunk, EmptyDocumentHasNoChunks) {
  EXPECT_TRUE(chunk_markdown("").empty());
  EXPECT_TRUE(chunk_markdown("# Only a heading\n\n\n").empty());
}

}  // namespace
}  // namespace brandcoach::text

namespace brandcoach::text {
namespace {

std::string numbered_sentences(int count) {
  std::string out;
  for (int i = 0; i < count; ++i)
    out += "Sentence number " + std::to_string(i) + " talks about pricing and customers. ";
  return out;
}

TEST(TextChunkOverlap, NextChunkStartsWithTheEndOfThePreviousWithinTheBudget) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 30};
  const auto chunks = chunk_markdown("# Guide\n\n" + numbered_sentences(60), options);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_LE(chunks[i].tokens, options.max_tokens);
    const auto first_sentence = split_sentences(chunks[i + 1].text).front();
    EXPECT_NE(chunks[i].text.find(first_sentence), std::string::npos)
        << "chunk " << i + 1 << " overlaps chunk " << i;
    // The repeated part is at most overlap_tokens long.
    size_t repeated = 0;
    for (const auto& sentence : split_sentences(chunks[i + 1].text)) {
      if (chunks[i].text.find(sentence) == std::string::npos) break;
      repeated += count_tokens(sentence);
    }
    EXPECT_GT(repeated, 0u);
    EXPECT_LE(repeated, options.overlap_tokens);
  }
}

TEST(TextChunkOverlap, ZeroOverlapNeverRepeatsASentence) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 0};
  const auto chunks = chunk_markdown(numbered_sentences(40), options);
  ASSERT_GT(chunks.size(), 1u);
  std::string all;
  for (const auto& c : chunks) all += c.text + " ";
  for (int i = 0; i < 40; ++i) {
    const std::string marker = "number " + std::to_string(i) + " ";
    const auto first = all.find(marker);
    ASSERT_NE(first, std::string::npos);
    EXPECT_EQ(all.find(marker, first + 1), std::string::npos) << marker;
  }
}

TEST(TextChunkOverlap, OverlapNeverCrossesAHeading) {
  const ChunkOptions options{.max_tokens = 100, .overlap_tokens = 50};
  const auto chunks =
      chunk_markdown("# A\n\n" + section_text("Alpha", 8) + "\n\n# B\n\n" + section_text("Beta", 8), options);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1].heading, "B");
  EXPECT_EQ(chunks[1].text.find("Alpha"), std::string::npos);
}

TEST(TextChunkBlocks, ChunksKeepHeadingPathAndPage) {
  std::vector<Block> blocks = {
      {Block::Kind::heading, 1, "Report", 1},
      {Block::Kind::paragraph, 0, "First page text about brand audits.", 1},
      {Block::Kind::heading, 2, "Findings", 2},
      {Block::Kind::paragraph, 0, "Second page text about competitors.", 2},
  };
  ASSERT_EQ(chunk_blocks(blocks, {}).size(), 1u);  // both fit in one chunk of 800, which starts on page 1
  blocks[1].text = section_text("First", 9);
  const auto chunks = chunk_blocks(blocks, {.max_tokens = 100, .overlap_tokens = 0});
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].heading, "Report");
  EXPECT_EQ(chunks[0].page, 1);
  EXPECT_EQ(chunks[1].heading, "Report > Findings");
  EXPECT_EQ(chunks[1].page, 2);
}

TEST(TextChunkOptions, ValidateEnforcesOpenAIBounds) {
  EXPECT_FALSE(validate(ChunkOptions{}));
  EXPECT_FALSE(validate(ChunkOptions{.max_tokens = 100, .overlap_tokens = 50}));
  EXPECT_TRUE(validate(ChunkOptions{.max_tokens = 99, .overlap_tokens = 0}));
  EXPECT_TRUE(validate(ChunkOptions{.max_tokens = 4097, .overlap_tokens = 0}));
  EXPECT_TRUE(validate(ChunkOptions{.max_tokens = 100, .overlap_tokens = 51}));
}

}  // namespace
}  // namespace brandcoach::text
