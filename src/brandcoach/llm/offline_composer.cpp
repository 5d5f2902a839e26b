#include <algorithm>
#include <cmath>
#include <set>
#include <unordered_set>

#include <fmt/format.h>

#include "brandcoach/llm/llm.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::llm {

namespace {

constexpr size_t kMinPoints = 3;
constexpr size_t kMaxPoints = 5;
constexpr double kDiversityWeight = 0.35;  // MMR: how much overlap with chosen points costs
constexpr double kNearDuplicate = 0.7;     // stem overlap (Jaccard) at which two sentences say the same

struct Candidate {
  size_t source_index = 0;
  size_t position = 0;  // sentence position inside its passage
  std::string sentence;
  std::set<std::string> stems;
  double relevance = 0;
};

// Markdown list markers and emphasis are presentation, not content: "- **Price** it" -> "Price it".
std::string clean_sentence(std::string_view raw) {
  std::string s(raw);
  const auto first = s.find_first_not_of(" \t-*+>");
  s = first == std::string::npos ? "" : s.substr(first);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits > 0 && digits + 1 < s.size() && (s[digits] == '.' || s[digits] == ')') && s[digits + 1] == ' ') {
    s = s.substr(digits + 2);
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '*' || s[i] == '_' || s[i] == '`') continue;
    out.push_back(s[i]);
  }
  return out;
}

bool usable(const std::string& sentence) {
  const auto words = text::words(sentence);
  if (words.size() < 6 || words.size() > 60) return false;
  const char last = sentence.back();
  if (last == ':') return false;  // a lead-in to a list says nothing on its own
  return std::isupper(static_cast<unsigned char>(sentence.front())) ||
         std::isdigit(static_cast<unsigned char>(sentence.front()));
}

double jaccard(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.empty() || b.empty()) return 0;
  size_t shared = 0;
  for (const auto& s : a) shared += b.count(s);
  return static_cast<double>(shared) / static_cast<double>(a.size() + b.size() - shared);
}

std::vector<Candidate> candidates(const Prompt& prompt, const std::set<std::string>& query) {
  std::vector<Candidate> out;
  for (size_t index = 0; index < prompt.sources.size(); ++index) {
    const auto sentences = text::split_sentences(prompt.sources[index].text);
    // Passages arrive best first; the retriever's order is evidence too.
    const double rank_prior = 0.5 / static_cast<double>(index + 1);
    const auto heading_stems = text::content_stems(prompt.sources[index].heading);
    size_t heading_overlap = 0;
    for (const auto& s : heading_stems) heading_overlap += query.count(s);
    for (size_t position = 0; position < sentences.size(); ++position) {
      std::string sentence = clean_sentence(sentences[position]);
      if (!usable(sentence)) continue;
      const auto stems_list = text::content_stems(sentence);
      std::set<std::string> stems(stems_list.begin(), stems_list.end());
      size_t overlap = 0;
      for (const auto& s : stems) overlap += query.count(s);
      const double length_norm = 1.0 + std::log1p(static_cast<double>(stems.size()) / 12.0);
      const double relevance = static_cast<double>(overlap) / length_norm + rank_prior +
                               0.15 * static_cast<double>(heading_overlap);
      out.push_back({index, position, std::move(sentence), std::move(stems), relevance});
    }
  }
  return out;
}

// Maximal marginal relevance: each pick trades relevance against overlap with points already made.
std::vector<const Candidate*> choose_points(const std::vector<Candidate>& pool) {
  std::vector<const Candidate*> chosen;
  std::vector<bool> used(pool.size(), false);
  while (chosen.size() < kMaxPoints) {
    double best_score = -1e9;
    size_t best = pool.size();
    for (size_t i = 0; i < pool.size(); ++i) {
      if (used[i]) continue;
      double redundancy = 0;
      for (const auto* c : chosen) redundancy = std::max(redundancy, jaccard(pool[i].stems, c->stems));
      if (redundancy >= kNearDuplicate) continue;  // the same point, quoted from another passage
      const double score = pool[i].relevance - kDiversityWeight * redundancy * 3.0;
      if (score > best_score) {
        best_score = score;
        best = i;
      }
    }
    if (best == pool.size()) break;
    // Beyond the minimum, only add points that are still about the question.
    if (chosen.size() >= kMinPoints && pool[best].relevance < 1.0) break;
    used[best] = true;
    chosen.push_back(&pool[best]);
  }
  return chosen;
}

std::string choose_next_step(const Prompt& prompt) {
  for (const auto& question : prompt.next_steps) {
    const bool asked =
        std::any_of(prompt.earlier_replies.begin(), prompt.earlier_replies.end(),
                    [&](const std::string& reply) { return reply.find(question) != std::string::npos; });
    if (!asked) return question;
  }
  if (!prompt.next_steps.empty()) return prompt.next_steps.front();
  return "What would you like to work on next?";
}

class OfflineComposer final : public LlmProvider {
 public:
  std::string_view name() const override { return "offline"; }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    const auto query_list = text::content_stems(prompt.user_message);
    const std::set<std::string> query(query_list.begin(), query_list.end());
    const auto pool = candidates(prompt, query);
    const auto points = choose_points(pool);

    Completion completion;
    completion.provider = "offline";
    completion.model = "extractive-composer";
    std::string out;
    if (!prompt.greeting.empty()) {
      out += prompt.greeting + "\n\n";
    } else if (!prompt.user_name.empty()) {
      out += fmt::format("Hi {}! ", prompt.user_name);
    }
    if (!prompt.memory_answer.empty()) {
      // A question about what the user said is answered from memory alone: knowledge-base passages
      // would only dilute the answer.
      std::string_view answer = prompt.memory_answer;
      while (!answer.empty() && answer.back() == '\n') answer.remove_suffix(1);
      out += std::string(answer) + "\n\n";
    } else if (points.empty()) {
      out += fmt::format(
          "I couldn't find material on that in the {} knowledge base, and in offline mode I only answer from "
          "sources I can cite, so I won't guess.\n\n",
          prompt.assistant_title);
    } else {
      out += prompt.intro.empty() ? std::string("Here is what the knowledge base suggests:") : prompt.intro;
      out += "\n\n";
      if (!prompt.known_facts.empty()) {
        std::string known;
        for (const auto& fact : prompt.known_facts) known += (known.empty() ? "" : " · ") + fact;
        out += fmt::format("_With what you've told me in mind ({})._\n\n", known);
      }
      std::vector<size_t> citation_of_source(prompt.sources.size(), 0);
      for (size_t i = 0; i < points.size(); ++i) {
        const auto* point = points[i];
        size_t& number = citation_of_source[point->source_index];
        if (number == 0) {
          completion.citations.push_back({point->source_index, point->sentence});
          number = completion.citations.size();
        } else {
          completion.citations[number - 1].snippet += " " + point->sentence;
        }
        out += fmt::format("{}. {} [{}]\n", i + 1, point->sentence, number);
      }
      out += "\n";
    }
    for (const auto& question : prompt.confirmations)
      out += fmt::format("**Please confirm:** {}\n\n", question);
    out += fmt::format("**Next step:** {}\n\n", choose_next_step(prompt));
    out += prompt.memory_answer.empty()
               ? "_Offline coach: every point above is quoted from the cited knowledge-base passages._"
               : "_Offline coach: this answer quotes only what you told me, with the date you said it._";

    // Honour the output budget without cutting a word in half.
    const auto budget = static_cast<size_t>(std::max<int64_t>(options.max_output_tokens, 1));
    if (text::count_tokens(out) > budget) {
      size_t cut = out.size();
      while (cut > 0 && text::count_tokens(std::string_view(out).substr(0, cut)) > budget) {
        cut = out.rfind(' ', cut - 1);
        if (cut == std::string::npos) cut = 0;
      }
      out.resize(cut);
      completion.finish_reason = "length";
    }

    // Stream word by word, as a model would.
    if (on_delta) {
      size_t start = 0;
      while (start < out.size()) {
        size_t end = out.find(' ', start);
        end = end == std::string::npos ? out.size() : end + 1;
        on_delta(std::string_view(out).substr(start, end - start));
        start = end;
      }
    }

    size_t input_tokens = text::count_tokens(prompt.instructions) + text::count_tokens(prompt.user_message);
    for (const auto& source : prompt.sources) input_tokens += text::count_tokens(source.text);
    completion.usage = {static_cast<int64_t>(input_tokens), static_cast<int64_t>(text::count_tokens(out))};
    completion.text = std::move(out);
    return completion;
  }
};

}  // namespace

std::unique_ptr<LlmProvider> make_offline_composer() {
  return std::make_unique<OfflineComposer>();
}

}  // namespace brandcoach::llm
