#include <algorithm>

#include <fmt/format.h>

#include "brandcoach/route/route.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::route {

namespace {

struct Family {
  std::string assistant;
  std::string secondary;
  std::vector<std::string> keywords;  // space separates words of a phrase; '*' allows a suffix
};

// The seed's routing decision matrix: one family per row, with that row's secondary assistant.
// Keywords are the seed's, widened to their inflections ("price*" covers price, prices, priced).
const std::vector<Family>& matrix() {
  static const std::vector<Family> families = {
      {"diagnostic", "core", {"assess*", "evaluat*", "analy*", "audit*", "swot"}},
      {"diagnostic", "canvas", {"competit*", "market position*", "benchmark*"}},
      {"diagnostic", "core", {"strength*", "weakness*", "opportunit*", "threat*"}},
      {"avatar", "core", {"customer*", "client*", "audience*", "persona", "personas"}},
      {"avatar", "diagnostic", {"demographic*", "psychographic*", "behavior*", "behaviour*"}},
      {"avatar", "capture", {"pain point*", "painpoint*", "needs", "desire*"}},
      {"canvas", "avatar", {"business model*", "revenue*", "value prop*", "value proposition*"}},
      {"canvas", "capture", {"channel*", "partner*", "resource*"}},
      {"canvas", "diagnostic", {"cost*", "pricing", "price*", "monetiz*", "monetis*"}},
      {"capture", "avatar", {"content", "social*", "marketing"}},
      {"capture", "canvas", {"engag*", "amplif*", "position", "positioning"}},
      {"capture", "avatar", {"blog*", "video*", "email*", "campaign*", "newsletter*"}},
      {"core", "", {"brand", "brands", "branding", "mission*", "vision*", "value", "values"}},
      {"core", "avatar", {"story", "stories", "storytelling", "personality", "identity"}},
      {"core", "", {"help", "start*", "begin*"}},
  };
  return families;
}

std::vector<std::string> split_words(const std::string& phrase) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < phrase.size()) {
    const auto space = phrase.find(' ', pos);
    out.push_back(phrase.substr(pos, space == std::string::npos ? std::string::npos : space - pos));
    pos = space == std::string::npos ? phrase.size() : space + 1;
  }
  return out;
}

bool word_matches(const std::string& pattern, const std::string& word) {
  if (!pattern.empty() && pattern.back() == '*') {
    return word.size() >= pattern.size() - 1 &&
           word.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  }
  return word == pattern;
}

size_t specialist_rank(const std::string& assistant) {
  const auto& names = assistant_names();
  return static_cast<size_t>(std::find(names.begin(), names.end(), assistant) - names.begin());
}

}  // namespace

KeywordRouter::KeywordRouter() {
  for (const auto& family : matrix()) {
    for (const auto& keyword : family.keywords) {
      keywords_.push_back({split_words(keyword), family.assistant, family.secondary});
    }
  }
  std::stable_sort(keywords_.begin(), keywords_.end(),
                   [](const Keyword& a, const Keyword& b) { return a.words.size() > b.words.size(); });
}

Decision KeywordRouter::route(const Input& input) const {
  const auto words = text::words(input.message);
  std::map<std::string, int> scores;
  std::map<std::string, size_t> first_seen;
  std::map<std::string, std::string> secondary;
  std::vector<std::string> matched;

  for (size_t i = 0; i < words.size();) {
    const Keyword* hit = nullptr;
    for (const auto& keyword : keywords_) {  // longest phrases first, so the first hit is the longest
      if (i + keyword.words.size() > words.size()) continue;
      bool all = true;
      for (size_t k = 0; k < keyword.words.size() && all; ++k)
        all = word_matches(keyword.words[k], words[i + k]);
      if (all) {
        hit = &keyword;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    std::string phrase;
    for (size_t k = 0; k < hit->words.size(); ++k) phrase += (k ? " " : "") + words[i + k];
    matched.push_back(phrase);
    if (++scores[hit->assistant] == 1) {
      first_seen[hit->assistant] = i;
      secondary[hit->assistant] = hit->secondary;
    }
    i += hit->words.size();
  }

  Decision decision;
  decision.scores = scores;
  if (scores.empty()) {
    decision.assistant = "core";
    decision.confidence = 0.3;
    decision.fallback = "core";
    decision.method = "fallback";
    decision.reasoning = "no routing keyword matched; core handles general questions";
    return decision;
  }

  // Highest score wins; on a tie a specialist beats core (the generalist), then the earliest mention.
  std::vector<std::pair<std::string, int>> ranked(scores.begin(), scores.end());
  std::sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    const bool a_core = a.first == "core", b_core = b.first == "core";
    if (a_core != b_core) return b_core;
    if (first_seen[a.first] != first_seen[b.first]) return first_seen[a.first] < first_seen[b.first];
    return specialist_rank(a.first) < specialist_rank(b.first);
  });
  const auto& [winner, top] = ranked.front();
  const int runner_up = ranked.size() > 1 ? ranked[1].second : 0;
  decision.assistant = winner;
  decision.method = "keyword";
  // The seed treats two or more hits as a strong match; a lead over the runner-up adds confidence.
  if (top >= 2 && top > runner_up) {
    decision.confidence = 0.9;
  } else if (top > runner_up) {
    decision.confidence = 0.7;
  } else {
    decision.confidence = 0.5;
  }
  decision.fallback = secondary[winner];
  if (decision.fallback.empty()) decision.fallback = ranked.size() > 1 ? ranked[1].first : "avatar";
  decision.reasoning = fmt::format("matched: {}", fmt::join(matched, ", "));
  return decision;
}

}  // namespace brandcoach::route
