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
  bool strong = false;                // terms that name one assistant's domain on their own
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
      // Distinctive terms: each names one assistant's domain so plainly that, when no other
      // assistant's keyword appears, the message needs no classifier.
      {"diagnostic",
       "core",
       {"swot", "brand audit*", "brand health", "brand strength", "competitor analysis",
        "competitive analysis"},
       true},
      {"avatar",
       "canvas",
       {"persona", "personas", "psychographic*", "demographic*", "ideal customer*", "ideal client*",
        "target audience*", "pain point*", "customer journey*", "buyer persona*", "empathy map*",
        "jobs to be done"},
       true},
      {"canvas",
       "core",
       {"business model*", "value proposition*", "revenue stream*", "cost structure*", "unit economics",
        "monetiz*", "monetis*", "key partner*"},
       true},
      {"capture",
       "core",
       {"content calendar*", "editorial calendar*", "content strateg*", "social media", "newsletter*",
        "blog post*", "email campaign*", "hashtag*", "repurpos*"},
       true},
      {"core",
       "avatar",
       {"mission statement*", "vision statement*", "core values", "brand story", "brand personality",
        "archetype*", "tagline*", "slogan*", "brand voice", "idea framework"},
       true},
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
      keywords_.push_back({split_words(keyword), family.assistant, family.secondary, family.strong});
    }
  }
  std::stable_sort(keywords_.begin(), keywords_.end(),
                   [](const Keyword& a, const Keyword& b) { return a.words.size() > b.words.size(); });
  for (size_t i = 0; i < keywords_.size(); ++i) {
    by_first_byte_[static_cast<unsigned char>(keywords_[i].words.front().front())].push_back(i);
  }
}

KeywordMatch KeywordRouter::match(std::string_view message) const {
  return match_words(text::words(message));
}

KeywordMatch KeywordRouter::match_words(const std::vector<std::string>& words) const {
  KeywordMatch match;
  // Two passes, so the seed's matrix counts exactly as it would alone and the distinctive terms are
  // an extra signal on top.
  for (const bool strong : {false, true}) {
    auto& counts = strong ? match.strong : match.scores;
    for (size_t i = 0; i < words.size();) {
      const Keyword* hit = nullptr;
      // Longest phrases first, so the first hit is the longest.
      for (const size_t index : by_first_byte_[static_cast<unsigned char>(words[i].front())]) {
        const Keyword& keyword = keywords_[index];
        if (keyword.strong != strong || i + keyword.words.size() > words.size()) continue;
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
      if (!strong) {
        std::string phrase;
        for (size_t k = 0; k < hit->words.size(); ++k) phrase += (k ? " " : "") + words[i + k];
        match.matched.push_back(phrase);
        if (!match.secondary.contains(hit->assistant)) {
          match.secondary[hit->assistant] = hit->secondary;
          match.first_seen[hit->assistant] = i;
        }
      }
      ++counts[hit->assistant];
      i += hit->words.size();
    }
  }
  return match;
}

Decision KeywordRouter::route(const Input& input) const {
  const auto hits = match(input.message);
  Decision decision;
  for (const auto& [assistant, count] : hits.scores) decision.scores[assistant] = count;
  if (hits.scores.empty()) {
    decision.assistant = "core";
    decision.confidence = 0.3;
    decision.method = "fallback";
    decision.fallback = "core";
    decision.secondary = "avatar";
    decision.reasoning = "no routing keyword matched; core handles general questions";
    return decision;
  }
  // Highest score wins; on a tie a specialist beats core (the generalist), then the earliest mention.
  std::vector<std::pair<std::string, int>> ranked(hits.scores.begin(), hits.scores.end());
  std::stable_sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    const bool a_core = a.first == "core", b_core = b.first == "core";
    if (a_core != b_core) return b_core;
    if (hits.first_seen.at(a.first) != hits.first_seen.at(b.first))
      return hits.first_seen.at(a.first) < hits.first_seen.at(b.first);
    return specialist_rank(a.first) < specialist_rank(b.first);
  });
  const auto& [winner, top] = ranked.front();
  const int runner_up = ranked.size() > 1 ? ranked[1].second : 0;
  decision.assistant = winner;
  decision.method = "rule";
  // The seed treats two or more hits as a strong match; a lead over the runner-up adds confidence.
  decision.confidence = top >= 2 && top > runner_up ? 0.9 : top > runner_up ? 0.7 : 0.5;
  decision.secondary = hits.secondary.at(winner);
  if (decision.secondary.empty()) decision.secondary = ranked.size() > 1 ? ranked[1].first : "avatar";
  decision.fallback = winner == "core" ? decision.secondary : "core";
  decision.reasoning = fmt::format("matched: {}", fmt::join(hits.matched, ", "));
  return decision;
}

std::string default_secondary(std::string_view assistant) {
  if (assistant == "diagnostic") return "core";
  if (assistant == "avatar") return "canvas";
  if (assistant == "canvas") return "core";
  if (assistant == "capture") return "core";
  return "";
}

bool is_assistant(std::string_view name) {
  const auto& names = assistant_names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace brandcoach::route
