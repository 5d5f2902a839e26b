#include <algorithm>
#include <cmath>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "brandcoach/llm/llm.hpp"
#include "brandcoach/llm/shapes.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::llm {

namespace {

constexpr size_t kMinPoints = 3;
constexpr size_t kMaxPoints = 5;
constexpr double kDiversityWeight = 0.35;  // MMR: how much overlap with chosen points costs
constexpr double kNearDuplicate = 0.7;     // stem overlap (Jaccard) at which two sentences say the same

// Stems as sorted, unique 64-bit hashes: overlaps are a linear merge instead of string compares.
using StemSet = std::vector<uint64_t>;

StemSet stem_set(const std::vector<std::string>& stems) {
  StemSet out;
  out.reserve(stems.size());
  for (const auto& s : stems) out.push_back(std::hash<std::string_view>{}(s));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

size_t shared(const StemSet& a, const StemSet& b) {
  size_t n = 0;
  for (auto i = a.begin(), j = b.begin(); i != a.end() && j != b.end();) {
    if (*i < *j) {
      ++i;
    } else if (*j < *i) {
      ++j;
    } else {
      ++n;
      ++i;
      ++j;
    }
  }
  return n;
}

struct Candidate {
  size_t source_index = 0;
  size_t position = 0;  // sentence position inside its passage
  std::string sentence;
  StemSet stems;
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
  if (sentence.empty()) return false;
  // Whitespace-separated words: close enough to bound a sentence's length, and cheap.
  size_t words = 0;
  bool in_word = false;
  for (const char c : sentence) {
    const bool space = c == ' ' || c == '\t' || c == '\n';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  if (words < 6 || words > 60) return false;
  const char last = sentence.back();
  if (last == ':') return false;  // a lead-in to a list says nothing on its own
  return std::isupper(static_cast<unsigned char>(sentence.front())) ||
         std::isdigit(static_cast<unsigned char>(sentence.front()));
}

double jaccard(const StemSet& a, const StemSet& b) {
  if (a.empty() || b.empty()) return 0;
  const size_t common = shared(a, b);
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

// A passage read for composing: its usable sentences with their stems, and its heading's stems.
struct ReadPassage {
  struct Sentence {
    size_t position = 0;
    std::string text;
    StemSet stems;
  };
  std::vector<Sentence> sentences;
  StemSet heading;
};

ReadPassage read_passage(const Source& source) {
  ReadPassage read;
  read.heading = stem_set(text::content_stems(source.heading));
  const auto sentences = text::split_sentences(source.text);
  for (size_t position = 0; position < sentences.size(); ++position) {
    std::string sentence = clean_sentence(sentences[position]);
    if (!usable(sentence)) continue;
    StemSet stems = stem_set(text::content_stems(sentence));
    read.sentences.push_back({position, std::move(sentence), std::move(stems)});
  }
  return read;
}

// The same knowledge passages come back turn after turn, and splitting and stemming them was a tenth
// of a turn. Read passages are kept by heading and text (the most recently used, up to a count).
class PassageCache {
 public:
  explicit PassageCache(size_t capacity) : capacity_(capacity) {}

  std::shared_ptr<const ReadPassage> get(const Source& source) {
    std::string key = source.heading + '\0' + source.text;
    {
      std::lock_guard lock(mutex_);
      if (auto found = index_.find(key); found != index_.end()) {
        order_.splice(order_.begin(), order_, found->second);
        return found->second->second;
      }
    }
    // Read outside the lock: two threads may read one passage at once, and both results are the same.
    auto read = std::make_shared<const ReadPassage>(read_passage(source));
    std::lock_guard lock(mutex_);
    if (index_.contains(key)) return read;
    order_.emplace_front(std::move(key), read);
    index_.emplace(order_.front().first, order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return read;
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const ReadPassage>>;
  const size_t capacity_;
  std::mutex mutex_;
  std::list<Entry> order_;                                                  // most recent first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into order_'s keys
};

std::vector<Candidate> candidates(const Prompt& prompt, const StemSet& query, PassageCache& passages) {
  std::vector<Candidate> out;
  for (size_t index = 0; index < prompt.sources.size(); ++index) {
    const auto read = passages.get(prompt.sources[index]);
    // Passages arrive best first; the retriever's order is evidence too.
    const double rank_prior = 0.5 / static_cast<double>(index + 1);
    const size_t heading_overlap = shared(read->heading, query);
    for (const auto& sentence : read->sentences) {
      const size_t overlap = shared(sentence.stems, query);
      const double length_norm = 1.0 + std::log1p(static_cast<double>(sentence.stems.size()) / 12.0);
      const double relevance = static_cast<double>(overlap) / length_norm + rank_prior +
                               0.15 * static_cast<double>(heading_overlap);
      out.push_back({index, sentence.position, sentence.text, sentence.stems, relevance});
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

// The first question not asked before in this thread: the open slots of the answer's shape first
// (they are what the coach is missing), then the assistant's own next steps, then the shape's other
// questions. When every one has been asked, the one asked longest ago.
std::string choose_next_step(const Prompt& prompt, const std::vector<std::string>& open_questions,
                             const std::vector<std::string>& later_questions) {
  std::vector<std::string> candidates = open_questions;
  candidates.insert(candidates.end(), prompt.next_steps.begin(), prompt.next_steps.end());
  candidates.insert(candidates.end(), later_questions.begin(), later_questions.end());
  if (candidates.empty()) candidates.push_back("What would you like to work on next?");
  const auto last_asked = [&](const std::string& question) -> long {
    for (size_t i = prompt.earlier_replies.size(); i-- > 0;) {
      if (prompt.earlier_replies[i].find(question) != std::string::npos) return static_cast<long>(i);
    }
    return -1;
  };
  const std::string* best = &candidates.front();
  long best_asked = last_asked(*best);
  for (const auto& question : candidates) {
    const long asked = last_asked(question);
    if (asked < best_asked) {
      best = &question;
      best_asked = asked;
    }
    if (best_asked < 0) break;
  }
  return *best;
}

// Table cells hold one line; a pipe would end the cell.
std::string cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// What the user told the coach that belongs in a slot: "Target market: busy parents".
std::vector<std::string> slot_facts(const shapes::Slot& slot, const Prompt& prompt) {
  std::vector<std::string> out;
  for (const auto key : slot.fact_keys) {
    std::string values;
    std::string label;
    for (const auto& fact : prompt.profile) {
      if (fact.key != key) continue;
      label = fact.label;
      values += (values.empty() ? "" : ", ") + fact.value;
    }
    if (!values.empty()) out.push_back(label + ": " + values);
  }
  return out;
}

std::string fact_value(const Prompt& prompt, std::string_view key) {
  std::string values;
  for (const auto& fact : prompt.profile) {
    if (fact.key == key) values += (values.empty() ? "" : ", ") + fact.value;
  }
  return values;
}

// A first draft built from the user's own words, where a slot asks for one.
std::string draft_for(const shapes::Slot& slot, const Prompt& prompt) {
  const std::string company = fact_value(prompt, "company");
  const std::string who = company.empty() ? "We" : company;
  if (slot.title == "Mission") {
    const std::string market = fact_value(prompt, "target_market");
    if (market.empty()) return {};
    const std::string usp = fact_value(prompt, "usp");
    return fmt::format("Draft: “{} exists to serve {}{}.”", who, market, usp.empty() ? "" : " — " + usp);
  }
  if (slot.title == "Vision") {
    const std::string goals = fact_value(prompt, "goals");
    if (goals.empty()) return {};
    return fmt::format("Draft: “In five years, {} will have achieved this: {}.”", who, goals);
  }
  return {};
}

StemSet cue_set(const shapes::Slot& slot) {
  return stem_set(std::vector<std::string>(slot.cues.begin(), slot.cues.end()));
}

struct FilledSlot {
  const shapes::Slot* slot = nullptr;
  std::vector<std::string> facts;
  std::string draft;
  const Candidate* sentence = nullptr;
  size_t point = 0;  // > 0: the sentence is already the answer's point number `point`
};

// The numbered point a sentence is (or repeats, quoted from another passage); 0 when none.
size_t point_number(const Candidate& candidate, const std::vector<const Candidate*>& points) {
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i] == &candidate || jaccard(points[i]->stems, candidate.stems) >= kNearDuplicate) return i + 1;
  }
  return 0;
}

// Fills each slot of the shape: the user's facts, a draft where one applies, and the knowledge
// sentence most about the slot that the answer has not used yet.
// A sentence already made as a numbered point may fill a slot too (the slot then points to it
// instead of repeating it), but a fresh sentence is preferred; no two slots share a sentence.
std::vector<FilledSlot> fill(const shapes::Shape& shape, const Prompt& prompt,
                             const std::vector<Candidate>& pool, const std::vector<const Candidate*>& points,
                             const StemSet& query) {
  std::vector<FilledSlot> filled;
  std::vector<const Candidate*> taken;
  std::vector<size_t> point_of(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) point_of[i] = point_number(pool[i], points);
  for (const auto& slot : shape.slots) {
    FilledSlot f{&slot, slot_facts(slot, prompt), draft_for(slot, prompt), nullptr, 0};
    const StemSet cue_stems = cue_set(slot);
    double best = 0;
    size_t best_index = 0;
    for (size_t i = 0; i < pool.size(); ++i) {
      const auto& candidate = pool[i];
      const size_t cues = shared(cue_stems, candidate.stems);
      if (cues == 0) continue;
      const bool shared = std::any_of(taken.begin(), taken.end(), [&](const Candidate* t) {
        return t == &candidate || jaccard(t->stems, candidate.stems) >= kNearDuplicate;
      });
      if (shared) continue;
      const double fresh = point_of[i] == 0 ? 0.75 : 0.0;
      const double score = static_cast<double>(cues) + 0.5 * candidate.relevance + fresh;
      if (score > best) {
        best = score;
        f.sentence = &candidate;
        best_index = i;
      }
    }
    if (f.sentence != nullptr) {
      taken.push_back(f.sentence);
      f.point = point_of[best_index];
    }
    filled.push_back(std::move(f));
  }
  if (shape.max_slots == 0 || filled.size() <= shape.max_slots) return filled;
  // Only the blocks the message is about, or that have something in them, in the shape's order.
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t i = 0; i < filled.size(); ++i) {
    const auto& slot = *filled[i].slot;
    const size_t asked =
        shared(cue_set(slot), query) + shared(stem_set(text::content_stems(slot.title)), query);
    const double score = 3.0 * static_cast<double>(asked) + (filled[i].facts.empty() ? 0.0 : 1.0) +
                         (filled[i].sentence ? 1.0 : 0.0) - 0.01 * static_cast<double>(i);
    ranked.emplace_back(score, i);
  }
  std::sort(ranked.begin(), ranked.end(), std::greater<>());
  std::vector<size_t> keep;
  for (size_t i = 0; i < shape.max_slots; ++i) keep.push_back(ranked[i].second);
  std::sort(keep.begin(), keep.end());
  std::vector<FilledSlot> chosen;
  for (const auto i : keep) chosen.push_back(std::move(filled[i]));
  return chosen;
}

template <class Cite>
std::string render(const shapes::Shape& shape, const std::vector<FilledSlot>& filled, const Prompt& prompt,
                   const Cite& cite, std::vector<std::string>& open_questions) {
  const std::string company = fact_value(prompt, "company");
  std::string out = fmt::format("### {}{}\n\n", shape.heading, company.empty() ? "" : " — " + company);
  const auto borrowed = [&](const FilledSlot& f) {
    if (f.point > 0) return fmt::format("See point {} above [{}].", f.point, cite(*f.sentence));
    return fmt::format("{} [{}]", f.sentence->sentence, cite(*f.sentence));
  };
  if (shape.layout == shapes::Layout::table) {
    out +=
        fmt::format("| {} | What you've told me | From the knowledge base |\n|---|---|---|\n", shape.column);
    for (const auto& f : filled) {
      std::string told = f.facts.empty() ? "—" : fmt::format("{}", fmt::join(f.facts, "; "));
      std::string found = f.sentence ? borrowed(f) : "—";
      if (f.facts.empty() && !f.sentence) {
        found = "_Still open: " + std::string(f.slot->question) + "_";
        open_questions.emplace_back(f.slot->question);
      }
      out += fmt::format("| **{}** | {} | {} |\n", cell(f.slot->title), cell(told), cell(found));
    }
  } else {
    for (const auto& f : filled) {
      std::vector<std::string> parts;
      if (!f.draft.empty()) parts.push_back(f.draft);
      if (!f.facts.empty()) parts.push_back(fmt::format("You told me: {}.", fmt::join(f.facts, "; ")));
      if (f.sentence) parts.push_back(borrowed(f));
      if (parts.empty()) {
        parts.push_back("_Still open: " + std::string(f.slot->question) + "_");
        open_questions.emplace_back(f.slot->question);
      }
      out += fmt::format("- **{}:** {}\n", f.slot->title, fmt::join(parts, " "));
    }
  }
  return out + "\n";
}

class OfflineComposer final : public LlmProvider {
 public:
  std::string_view name() const override { return "offline"; }

  Result<Completion> generate(const Prompt& prompt, const Options& options,
                              const DeltaSink& on_delta) override {
    const auto query_list = text::content_stems(prompt.user_message);
    const StemSet query = stem_set(query_list);
    const auto pool = candidates(prompt, query, passages_);
    const auto points = choose_points(pool);

    std::vector<std::string> open_questions;   // what the answer's shape is still missing
    std::vector<std::string> later_questions;  // the shape's other questions
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
      // Every borrowed sentence cites its passage; one passage keeps one number.
      const auto cite = [&](const Candidate& borrowed) {
        size_t& number = citation_of_source[borrowed.source_index];
        if (number == 0) {
          completion.citations.push_back(
              {borrowed.source_index, borrowed.sentence, static_cast<int>(completion.citations.size() + 1)});
          number = completion.citations.size();
        } else {
          completion.citations[number - 1].snippet += " " + borrowed.sentence;
        }
        return number;
      };
      for (size_t i = 0; i < points.size(); ++i) {
        const size_t number = cite(*points[i]);
        out += fmt::format("{}. {} [{}]\n", i + 1, points[i]->sentence, number);
      }
      out += "\n";
      if (const auto* shape = shapes::shape_for(prompt.assistant, query_list)) {
        const auto filled = fill(*shape, prompt, pool, points, query);
        out += render(*shape, filled, prompt, cite, open_questions);
        // Past what is missing, the shape's other questions are next steps too.
        for (const auto& slot : shape->slots) later_questions.emplace_back(slot.question);
      }
    }
    for (const auto& question : prompt.confirmations)
      out += fmt::format("**Please confirm:** {}\n\n", question);
    out += fmt::format("**Next step:** {}\n\n", choose_next_step(prompt, open_questions, later_questions));
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

 private:
  // The bundled knowledge base is a few hundred passages; more (users' own files) keep the most used.
  PassageCache passages_{2048};
};

}  // namespace

std::unique_ptr<LlmProvider> make_offline_composer() {
  return std::make_unique<OfflineComposer>();
}

}  // namespace brandcoach::llm
