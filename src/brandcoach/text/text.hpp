// brandcoach text: the one place where raw text becomes something comparable.
//
// Every module that matches words (router, retrieval, composer) goes through these functions so that
// "Customers", "customer's" and "ＣＵＳＴＯＭＥＲ" compare equal everywhere.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brandcoach::text {

/// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

/// The first `max_bytes` bytes of `text`, cut before a character that would not fit whole, so the
/// prefix of valid UTF-8 is valid UTF-8.
std::string utf8_prefix(std::string_view text, size_t max_bytes);

/// NFKC + case folding + whitespace collapsing. Invalid UTF-8 is replaced, never passed through.
std::string normalize(std::string_view text);

/// `text` with ASCII letters lower-cased and every other byte kept: positions stay those of `text`,
/// for matching cue phrases without the cost of full Unicode folding.
std::string ascii_lower(std::string_view text);

/// Lower-cased words (letters and digits; an apostrophe inside a word splits it), in order.
std::vector<std::string> words(std::string_view text);

/// The Snowball English stem of a lower-cased word ("branding" -> "brand").
std::string stem(std::string_view word);

/// Stems of the non-stopword words of `text`, in order.
std::vector<std::string> content_stems(std::string_view text);

/// The terms a full-text index stores for `text`: the stem of every word (stopwords included, so a
/// query made only of them still finds something), joined by single spaces. The query side stems
/// with the same function, so index and query always agree on what a word is.
std::string index_terms(std::string_view text);

/// The stems a query searches for: its content stems (stopwords too when nothing else is left),
/// each once, in order.
std::vector<std::string> query_terms(std::string_view text);

/// True for English function words that carry no topic ("the", "my", "how").
bool is_stopword(std::string_view word);

/// Approximate LLM token count (about four characters of a word per token, one per punctuation mark).
/// Used for budgets and usage reporting; exact enough to be within ~15% of BPE on English prose.
size_t count_tokens(std::string_view text);

/// Splits prose into sentences at . ! ? followed by whitespace and a capital/digit, keeping list
/// items and lines that end without punctuation as their own sentences.
std::vector<std::string> split_sentences(std::string_view text);

/// A structural piece of a document. Every reader (markdown, HTML, PDF, DOCX, JSON) produces these,
/// so the chunker sees one shape whatever the format.
struct Block {
  enum class Kind { heading, paragraph };
  Kind kind = Kind::paragraph;
  int level = 0;     // heading level 1..6 (headings only)
  std::string text;  // plain UTF-8 text without markup; list items and table rows are one line each
  int page = 0;      // 1-based page in paginated formats (PDF), 0 otherwise
};

/// Markdown to blocks: ATX headings (`#`..`######`), paragraphs separated by blank lines, fenced code
/// kept as one paragraph (a `#` inside it is not a heading).
std::vector<Block> markdown_blocks(std::string_view markdown);

/// A passage of a document, as stored in the knowledge base.
struct Chunk {
  int ordinal = 0;
  std::string heading;  // heading path, "Title > Section > Subsection"
  std::string text;
  size_t tokens = 0;
  int page = 0;  // page where the chunk starts, 0 when not paginated
};

/// The `static` chunking strategy (OpenAI's names): chunks of at most max_tokens, each starting with
/// up to overlap_tokens of the previous chunk's end so a passage cut in two is still found whole.
struct ChunkOptions {
  size_t max_tokens = 800;      // 100..4096
  size_t overlap_tokens = 400;  // at most max_tokens / 2
};

/// Checks the bounds above; the error names the offending field.
std::optional<std::string> validate(const ChunkOptions& options);

/// Splits blocks into chunks that break at headings first, then paragraphs, then sentences, and
/// never inside a sentence unless one sentence alone exceeds max_tokens (then between words). Whole
/// short sections are packed into the chunk before them while it stays within half of max_tokens (their
/// headings kept in the text as markdown headings); a packed chunk's heading path is the part its sections'
/// paths share.
std::vector<Chunk> chunk_blocks(const std::vector<Block>& blocks, const ChunkOptions& options = {});

/// chunk_blocks(markdown_blocks(markdown), options).
std::vector<Chunk> chunk_markdown(std::string_view markdown, const ChunkOptions& options = {});

}  // namespace brandcoach::text
