#include <libstemmer.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "brandcoach/text/text.hpp"

namespace brandcoach::text {

namespace {

// Decodes one code point at `pos`; returns its length, or 0 when the bytes are not valid UTF-8.
size_t decode(std::string_view bytes, size_t pos, utf8proc_int32_t& code_point) {
  const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(bytes.data() + pos);
  const auto length = utf8proc_iterate(data, static_cast<utf8proc_ssize_t>(bytes.size() - pos), &code_point);
  return length > 0 ? static_cast<size_t>(length) : 0;
}

bool is_word_code_point(utf8proc_int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ND:
      return true;
    default:
      return false;
  }
}

// libstemmer stemmers are not thread-safe, so each thread keeps its own; this is a per-thread cache
// of an immutable algorithm, not shared state.
struct StemmerDeleter {
  void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};

sb_stemmer* thread_stemmer() {
  thread_local std::unique_ptr<sb_stemmer, StemmerDeleter> stemmer(sb_stemmer_new("english", "UTF_8"));
  return stemmer.get();
}

}  // namespace

std::string utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

bool is_valid_utf8(std::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    if (static_cast<unsigned char>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const size_t length = decode(bytes, pos, cp);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

// Whitespace runs become one space, leading and trailing whitespace goes.
template <class Bytes>
std::string collapse_whitespace(const Bytes& bytes, size_t length, bool lowercase_ascii) {
  std::string out;
  out.reserve(length);
  bool pending_space = false;
  for (size_t i = 0; i < length; ++i) {
    char c = static_cast<char>(bytes[i]);
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (lowercase_ascii && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
  }
  return out;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string normalize(std::string_view text) {
  // ASCII is already in NFKC and lumped; case folding is lowercasing. Most text is ASCII, and this
  // path is several times faster than the full Unicode mapping.
  if (std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
    return collapse_whitespace(text, text.size(), true);
  std::string valid;
  valid.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    utf8proc_int32_t cp = 0;
    const size_t length = decode(text, pos, cp);
    if (length == 0) {
      valid += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++pos;
    } else {
      valid.append(text.substr(pos, length));
      pos += length;
    }
  }
  utf8proc_uint8_t* mapped = nullptr;
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |
                                                      UTF8PROC_STABLE | UTF8PROC_LUMP);
  const auto length = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                   static_cast<utf8proc_ssize_t>(valid.size()), &mapped, options);
  if (length < 0) return valid;
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(mapped, &std::free);
  return collapse_whitespace(mapped, static_cast<size_t>(length), false);
}

std::vector<std::string> words(std::string_view text) {
  const std::string normal = normalize(text);
  std::vector<std::string> out;
  std::string current;
  size_t pos = 0;
  while (pos < normal.size()) {
    utf8proc_int32_t cp = 0;
    size_t length = decode(normal, pos, cp);
    if (length == 0) length = 1;
    if (length > 0 && is_word_code_point(cp)) {
      current.append(normal, pos, length);
    } else if (!current.empty()) {
      out.push_back(std::move(current));
      current.clear();
    }
    pos += length;
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

namespace {

std::string snowball_stem(std::string_view word) {
  sb_stemmer* stemmer = thread_stemmer();
  if (!stemmer || word.empty()) return std::string(word);
  const sb_symbol* result = sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(word.data()),
                                            static_cast<int>(word.size()));
  if (!result) return std::string(word);
  return std::string(reinterpret_cast<const char*>(result), static_cast<size_t>(sb_stemmer_length(stemmer)));
}

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Text repeats its vocabulary, and a hash lookup costs a fraction of the Snowball rules: ingest stems
// each chunk for the embedder and both lexical indexes. Per thread like the stemmer, and bounded.
class StemMemo {
 public:
  const std::string& stem(std::string_view word) {
    if (const auto found = stems_.find(word); found != stems_.end()) return found->second;
    if (stems_.size() >= kCapacity) stems_.clear();
    return stems_.emplace(std::string(word), snowball_stem(word)).first->second;
  }

 private:
  static constexpr size_t kCapacity = 1 << 16;
  std::unordered_map<std::string, std::string, TransparentHash, std::equal_to<>> stems_;
};

}  // namespace

std::string stem(std::string_view word) {
  if (word.size() > 64) return snowball_stem(word);  // rare, and would only crowd the memo
  thread_local StemMemo memo;
  return memo.stem(word);
}

bool is_stopword(std::string_view word) {
  static const std::unordered_set<std::string_view> stopwords = {
      "a",     "about",  "above", "after",  "again", "all",   "am",      "an",   "and",  "any",    "are",
      "as",    "at",     "be",    "been",   "being", "both",  "but",     "by",   "can",  "could",  "did",
      "do",    "does",   "doing", "don",    "down",  "each",  "few",     "for",  "from", "get",    "got",
      "had",   "has",    "have",  "having", "he",    "her",   "here",    "hers", "him",  "his",    "how",
      "i",     "if",     "in",    "into",   "is",    "it",    "its",     "just", "let",  "me",     "more",
      "most",  "much",   "my",    "myself", "no",    "nor",   "not",     "now",  "of",   "off",    "on",
      "once",  "only",   "or",    "other",  "our",   "ours",  "out",     "over", "own",  "s",      "same",
      "she",   "should", "so",    "some",   "such",  "t",     "than",    "that", "the",  "their",  "them",
      "then",  "there",  "these", "they",   "this",  "those", "through", "to",   "too",  "under",  "until",
      "up",    "us",     "very",  "want",   "was",   "we",    "were",    "what", "when", "where",  "which",
      "while", "who",    "whom",  "why",    "will",  "with",  "would",   "you",  "your", "yours",  "ll",
      "re",    "ve",     "d",     "m",      "im",    "also",  "really",  "need", "tell", "please", "make"};
  return stopwords.contains(word);
}

std::vector<std::string> content_stems(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& word : words(text)) {
    if (!is_stopword(word)) out.push_back(stem(word));
  }
  return out;
}

std::string index_terms(std::string_view text) {
  std::string out;
  for (const auto& word : words(text)) {
    if (!out.empty()) out.push_back(' ');
    out += stem(word);
  }
  return out;
}

std::vector<std::string> query_terms(std::string_view text) {
  std::vector<std::string> terms = content_stems(text);
  if (terms.empty()) {
    const std::string all = index_terms(text);
    for (size_t pos = 0; pos < all.size();) {
      auto space = all.find(' ', pos);
      if (space == std::string::npos) space = all.size();
      if (space > pos) terms.push_back(all.substr(pos, space - pos));
      pos = space + 1;
    }
  }
  std::vector<std::string> unique;
  for (auto& term : terms) {
    if (std::find(unique.begin(), unique.end(), term) == unique.end()) unique.push_back(std::move(term));
  }
  return unique;
}

size_t count_tokens(std::string_view text) {
  size_t tokens = 0;
  size_t word_length = 0;
  const auto flush_word = [&] {
    if (word_length > 0) tokens += (word_length + 3) / 4;
    word_length = 0;
  };
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || byte >= 0x80) {
      // Count bytes of multi-byte characters too: non-Latin scripts take more tokens per character.
      ++word_length;
    } else {
      flush_word();
      if (!std::isspace(byte)) ++tokens;
    }
  }
  flush_word();
  return tokens;
}

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  const auto flush = [&] {
    const auto first = current.find_first_not_of(" \t");
    if (first != std::string::npos) {
      const auto last = current.find_last_not_of(" \t");
      out.push_back(current.substr(first, last - first + 1));
    }
    current.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      // A line break ends a sentence only at a paragraph break or before a list item / heading.
      const bool paragraph = i + 1 < text.size() && text[i + 1] == '\n';
      size_t next = i + 1;
      while (next < text.size() && text[next] == ' ') ++next;
      const bool block_start =
          next < text.size() && (text[next] == '-' || text[next] == '*' || text[next] == '#' ||
                                 std::isdigit(static_cast<unsigned char>(text[next])));
      if (paragraph || block_start) {
        flush();
      } else {
        current.push_back(' ');
      }
      continue;
    }
    current.push_back(c);
    if ((c == '.' || c == '!' || c == '?') && i + 1 < text.size() && text[i + 1] == ' ') {
      size_t next = i + 1;
      while (next < text.size() && text[next] == ' ') ++next;
      if (next < text.size()) {
        const auto after = static_cast<unsigned char>(text[next]);
        if (std::isupper(after) || std::isdigit(after) || after == '"' || after == '*' || after >= 0x80)
          flush();
      }
    }
  }
  flush();
  return out;
}

}  // namespace brandcoach::text
