// brandcoach text: the one place where raw text becomes something comparable.
//
// Every module that matches words (router, retrieval, composer) goes through these functions so that
// "Customers", "customer's" and "ＣＵＳＴＯＭＥＲ" compare equal everywhere.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace brandcoach::text {

/// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

/// NFKC + case folding + whitespace collapsing. Invalid UTF-8 is replaced, never passed through.
std::string normalize(std::string_view text);

/// Lower-cased words (letters and digits; an apostrophe inside a word splits it), in order.
std::vector<std::string> words(std::string_view text);

/// The Snowball English stem of a lower-cased word ("branding" -> "brand").
std::string stem(std::string_view word);

/// Stems of the non-stopword words of `text`, in order.
std::vector<std::string> content_stems(std::string_view text);

/// True for English function words that carry no topic ("the", "my", "how").
bool is_stopword(std::string_view word);

/// Approximate LLM token count (about four characters of a word per token, one per punctuation mark).
/// Used for budgets and usage reporting; exact enough to be within ~15% of BPE on English prose.
size_t count_tokens(std::string_view text);

/// Splits prose into sentences at . ! ? followed by whitespace and a capital/digit, keeping list
/// items and lines that end without punctuation as their own sentences.
std::vector<std::string> split_sentences(std::string_view text);

/// A passage of a document, as stored in the knowledge base.
struct Chunk {
  int ordinal = 0;
  std::string heading;  // heading path, "Title > Section > Subsection"
  std::string text;
  size_t tokens = 0;
};

struct ChunkOptions {
  size_t max_tokens = 300;  // a chunk never exceeds this unless a single sentence does
};

/// Splits markdown into chunks that prefer to break at headings, then paragraphs, then sentences.
/// Each chunk records the heading path it sits under.
std::vector<Chunk> chunk_markdown(std::string_view markdown, const ChunkOptions& options = {});

}  // namespace brandcoach::text
