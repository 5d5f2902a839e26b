// brandcoach route: choosing which of the five assistants answers a message.
//
// `Router` is the routing stage of the turn. `KeywordRouter` implements the seed's routing matrix:
// each keyword family votes for its primary assistant, the highest score wins, and `core` answers
// when nothing matches. Keywords match inflections ("weaknesses", "priced", "emails") and
// multi-word phrases ("business model", "pain points") are matched before their single words.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace brandcoach::route {

/// The five specialist assistants, in the seed's order.
inline const std::vector<std::string>& assistant_names() {
  static const std::vector<std::string> names = {"diagnostic", "avatar", "canvas", "capture", "core"};
  return names;
}

/// Where a message goes and why.
struct Decision {
  std::string assistant;  // the primary assistant that answers
  double confidence = 0;  // 0..1
  std::string fallback;   // the seed's secondary assistant for the matched intent
  std::string method;     // "keyword" or "fallback"
  std::string reasoning;  // one human-readable line, e.g. "matched: customer, pain points"
  std::map<std::string, int> scores;
};

struct Input {
  std::string_view message;
  std::string_view previous_assistant;  // empty on a user's first turn
};

class Router {
 public:
  virtual ~Router() = default;
  virtual Decision route(const Input& input) const = 0;
};

class KeywordRouter final : public Router {
 public:
  KeywordRouter();
  Decision route(const Input& input) const override;

  struct Keyword {
    std::vector<std::string> words;  // one or more words; a trailing '*' allows any suffix
    std::string assistant;
    std::string secondary;
  };

 private:
  std::vector<Keyword> keywords_;  // longest phrases first
};

}  // namespace brandcoach::route
