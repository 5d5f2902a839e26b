#include <array>
#include <cctype>
#include <unordered_set>

#include "brandcoach/memory/memory.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::memory {

namespace {

bool is_name_word(std::string_view word) {
  if (word.empty() || !std::isupper(static_cast<unsigned char>(word[0]))) return false;
  for (const char c : word) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalpha(u) && c != '-' && c != '\'' && u < 0x80) return false;
  }
  return true;
}

// Words that follow "I'm" without being a name ("I'm Trying", "I'm Not sure" at sentence start).
bool is_common_word(std::string_view word) {
  static const std::unordered_set<std::string> words = {
      "a",       "an",      "the",      "not",     "so",       "very",      "just",    "trying",
      "looking", "new",     "here",     "from",    "going",    "about",     "really",  "also",
      "still",   "in",      "on",       "at",      "stuck",    "ready",     "sure",    "happy",
      "glad",    "curious", "starting", "running", "building", "launching", "working", "thinking"};
  return words.contains(text::ascii_lower(word));
}

}  // namespace

std::optional<std::string> introduced_name(std::string_view message) {
  static constexpr std::array<std::string_view, 5> cues = {"my name is ", "my name's ", "call me ", "i'm ",
                                                           "i am "};
  const std::string folded = text::ascii_lower(message);
  for (const auto cue : cues) {
    for (size_t at = folded.find(cue); at != std::string::npos; at = folded.find(cue, at + 1)) {
      if (at > 0 && std::isalpha(static_cast<unsigned char>(folded[at - 1]))) continue;
      size_t pos = at + cue.size();
      std::string name;
      // Up to three capitalised words, with an optional title such as "Dr." before them.
      for (int words = 0; words < 3 && pos < message.size(); ++words) {
        size_t end = pos;
        while (end < message.size() && !std::isspace(static_cast<unsigned char>(message[end])) &&
               message[end] != ',' && message[end] != '!' && message[end] != '?' && message[end] != ';') {
          ++end;
        }
        std::string_view word = message.substr(pos, end - pos);
        const bool title = word == "Dr." || word == "Mr." || word == "Ms." || word == "Mrs.";
        if (!title && !word.empty() && word.back() == '.') word.remove_suffix(1);
        if (!title && (!is_name_word(word) || is_common_word(word))) break;
        name += (name.empty() ? "" : " ") + std::string(word);
        if (end >= message.size() || message[end] != ' ' || (!title && message[end - 1] == '.')) break;
        pos = end + 1;
      }
      const bool only_title = name == "Dr." || name == "Mr." || name == "Ms." || name == "Mrs.";
      if (!name.empty() && !only_title) return name;
    }
  }
  return std::nullopt;
}

}  // namespace brandcoach::memory
