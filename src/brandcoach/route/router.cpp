#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/route/route.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::route {

namespace {

// Words that point back at the previous answer instead of naming a new subject.
const std::set<std::string, std::less<>>& pointing_words() {
  static const std::set<std::string, std::less<>> words = {
      "that",    "this",    "it",     "those",     "these",  "them",    "they",     "one",        "ones",
      "same",    "above",   "last",   "previous",  "second", "third",   "fourth",   "first",      "point",
      "points",  "bit",     "step",   "steps",     "part",   "option",  "options",  "idea",       "ideas",
      "more",    "further", "deeper", "elaborate", "expand", "example", "examples", "why",        "again",
      "simpler", "mean",    "meant",  "explain",   "else",   "also",    "too",      "instead",    "following",
      "follow",  "clarify", "detail", "details",   "list",   "tip",     "tips",     "suggestion", "one's"};
  return words;
}

// Openers of a reply in an ongoing conversation.
const std::set<std::string, std::less<>>& opening_words() {
  static const std::set<std::string, std::less<>> words = {
      "and",    "but",   "so",   "ok",   "okay",    "hmm",   "hm",          "also", "then",
      "yes",    "yeah",  "yep",  "no",   "nope",    "wait",  "sure",        "cool", "great",
      "thanks", "right", "what", "how",  "why",     "would", "could",       "can",  "should",
      "is",     "does",  "do",   "nice", "alright", "got",   "interesting", "not"};
  return words;
}

std::string previous_assistant(std::span<const Turn> history) {
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->role == "assistant" && is_assistant(it->assistant)) return it->assistant;
  }
  return {};
}

std::string strongest(const std::map<std::string, int>& counts) {
  std::string best;
  int top = 0;
  for (const auto& [assistant, count] : counts) {
    if (count > top) best = assistant, top = count;
  }
  return best;
}

void set_secondary(Decision& decision) {
  // The classifier's runner-up when it is a real contender, else the seed matrix's default.
  std::string runner_up;
  double runner_score = 0;
  for (const auto& [assistant, score] : decision.scores) {
    if (assistant != decision.assistant && score > runner_score) runner_up = assistant, runner_score = score;
  }
  decision.secondary = runner_score >= 0.2 ? runner_up : default_secondary(decision.assistant);
  if (decision.secondary.empty()) decision.secondary = runner_up.empty() ? "avatar" : runner_up;
  decision.fallback = decision.assistant == "core" ? decision.secondary : "core";
}

// Words that are neither function words nor pointers back at the previous answer.
int substantive_words(const std::vector<std::string>& words) {
  int count = 0;
  for (const auto& word : words) {
    if (!text::is_stopword(word) && !pointing_words().contains(word) && !opening_words().contains(word))
      ++count;
  }
  return count;
}

constexpr int kStandaloneWords = 5;

// The generalist answers what nobody is sure about.
Decision fallback_to_core(const Decision& unsure, const std::string& why) {
  Decision decision = unsure;
  decision.assistant = "core";
  decision.method = "fallback";
  const auto core = unsure.scores.find("core");
  decision.confidence = core == unsure.scores.end() ? 0.0 : core->second;
  set_secondary(decision);
  decision.reasoning = fmt::format("unsure ({}); {}", unsure.reasoning, why);
  return decision;
}

}  // namespace

bool reads_as_follow_up(std::string_view message, int max_words) {
  return reads_as_follow_up(text::words(message), max_words);
}

bool reads_as_follow_up(const std::vector<std::string>& words, int max_words) {
  if (words.empty()) return false;
  // "moving on", "unrelated:", "ok, now ...", "different question": the user says they change subject.
  std::string joined = " ";
  for (const auto& word : words) joined += word + ' ';
  for (const std::string_view cue : {" unrelated ", " moving on ", " different question ", " new question ",
                                     " another question ", " change of subject ", " switching gears ",
                                     " separate question ", " on another note ", " something else "}) {
    if (joined.find(cue) != std::string::npos) return false;
  }
  for (size_t i = 0; i < std::min<size_t>(words.size(), 3); ++i) {
    if (words[i] == "now") return false;
  }
  if (words.size() <= 3) return true;  // "why?", "more please", "not following"
  if (static_cast<int>(words.size()) > max_words) return false;
  if (opening_words().contains(words.front())) return true;
  return std::any_of(words.begin(), words.end(),
                     [](const std::string& w) { return pointing_words().contains(w); });
}

IdeaRouter::IdeaRouter(Classifier classifier, RouterOptions options, AskModel ask_model)
    : classifier_(std::move(classifier)), options_(options), ask_model_(std::move(ask_model)) {}

Decision IdeaRouter::classify(const std::vector<std::string>& words) const {
  Decision decision;
  const auto predictions = classifier_.predict_words(words);
  for (const auto& [label, probability] : predictions) decision.scores[label] = probability;
  if (predictions.empty()) return decision;
  decision.assistant = predictions.front().first;
  decision.confidence = predictions.front().second;
  decision.method = "classifier";
  set_secondary(decision);
  decision.reasoning =
      predictions.size() > 1
          ? fmt::format("classifier: {} {:.2f}, then {} {:.2f}", predictions[0].first, predictions[0].second,
                        predictions[1].first, predictions[1].second)
          : fmt::format("classifier: {} {:.2f}", predictions[0].first, predictions[0].second);
  return decision;
}

Decision IdeaRouter::route(const Input& input) const {
  const auto words = text::words(input.message);  // split once, shared by every stage
  const auto hits = keywords_.match_words(words);
  const std::string previous = previous_assistant(input.history);
  const bool follow_up = !previous.empty() && reads_as_follow_up(words, options_.follow_up_max_words);

  // 1. Rule: distinctive terms of exactly one assistant, and no keyword of any other.
  const std::string ruled = hits.strong.size() == 1 ? hits.strong.begin()->first : "";
  const bool others_named = std::any_of(hits.scores.begin(), hits.scores.end(), [&](const auto& entry) {
    return entry.first != ruled && entry.first != "core";  // core's words ("brand", "help") are everywhere
  });
  if (!ruled.empty() && !others_named) {
    Decision decision;
    decision.assistant = ruled;
    decision.confidence = 0.95;
    decision.method = "rule";
    decision.secondary = default_secondary(ruled);
    if (decision.secondary.empty()) decision.secondary = strongest(hits.scores);
    if (decision.secondary.empty() || decision.secondary == ruled) decision.secondary = "avatar";
    decision.fallback = ruled == "core" ? decision.secondary : "core";
    decision.reasoning =
        fmt::format("distinctive {} terms{}", ruled,
                    hits.matched.empty() ? "" : ": " + fmt::format("{}", fmt::join(hits.matched, ", ")));
    return decision;
  }

  Decision classified = classify(words);

  // 2. Context: a follow-up stays with the assistant that gave the previous answer, unless the
  // classifier is sure it is about another domain.
  if (follow_up) {
    // The classifier is over-sure on short follow-ups ("ok what's step 2" reads like a generic
    // question), so leaving also needs the message to name the new domain: one of its keywords, or
    // enough words of substance to stand on its own.
    const bool named = hits.scores.contains(classified.assistant) ||
                       hits.strong.contains(classified.assistant) ||
                       substantive_words(words) >= kStandaloneWords;
    const bool leaves =
        classified.assistant != previous && classified.confidence >= options_.switch_confidence && named;
    if (!leaves) {
      Decision decision = classified;
      decision.assistant = previous;
      decision.method = "context";
      decision.confidence =
          std::max(0.6, classified.scores.count(previous) ? classified.scores[previous] : 0.0);
      set_secondary(decision);
      decision.reasoning = fmt::format("follow-up to {}'s answer ({})", previous, classified.reasoning);
      return decision;
    }
  }

  // 3. Classifier, when sure enough.
  if (classified.confidence >= options_.confidence_threshold) return classified;

  // 4. LLM for the doubtful case, when one is configured.
  if (ask_model_) return ask_llm(input, classified);

  // 5. Fallback: core handles broad or unclear requests.
  return fallback_to_core(classified, "core handles unclear requests");
}

Decision IdeaRouter::ask_llm(const Input& input, const Decision& unsure) const {
  const auto [system, user] = llm_routing_prompt(input);
  auto answer = ask_model_(system, user, 0.3);  // the seed's routing temperature
  Result<Decision> parsed = answer ? parse_llm_routing(*answer) : Result<Decision>(answer.error());
  if (!parsed) {
    // The LLM failing never blocks a turn: the unsure decision falls back to core.
    return fallback_to_core(unsure, "LLM routing failed: " + parsed.error().message);
  }
  Decision decision = *parsed;
  decision.scores = unsure.scores;
  set_secondary(decision);
  return decision;
}

std::pair<std::string, std::string> llm_routing_prompt(const Input& input) {
  std::string system =
      "You are the router of the IDEA Brand Coach. Choose the one specialist who should answer the "
      "user's latest message:\n"
      "- diagnostic: assessing where the brand stands: audits, SWOT, strengths and weaknesses, "
      "competitors, market position, perception, reviews\n"
      "- avatar: who the customer is: ideal customer, audience, demographics, psychographics, pain "
      "points, needs, buying behaviour, customer journey\n"
      "- canvas: the business model: value proposition, revenue, pricing, costs, sales channels, "
      "partners, resources\n"
      "- capture: content and marketing: social media, posts, blogs, video, email, campaigns, "
      "engagement, community, repurposing\n"
      "- core: brand foundations and general questions: mission, vision, values, story, personality, "
      "naming, taglines, where to start\n"
      "A short follow-up stays with the specialist who answered last unless it clearly changes subject.\n"
      "Answer with JSON only: {\"assistant\": \"<name>\", \"confidence\": <0..1>, \"reasoning\": \"<one "
      "sentence>\"}";
  std::string user;
  const size_t first = input.history.size() > 6 ? input.history.size() - 6 : 0;
  for (size_t i = first; i < input.history.size(); ++i) {
    const auto& turn = input.history[i];
    user +=
        turn.role == "assistant" ? fmt::format("[assistant: {}] ", turn.assistant) : std::string("[user] ");
    user += turn.text.substr(0, 400) + "\n";
  }
  user += "[latest user message] " + std::string(input.message.substr(0, 4000));
  return {std::move(system), std::move(user)};
}

Result<Decision> parse_llm_routing(std::string_view answer) {
  // Models sometimes wrap JSON in prose or a code fence: the outermost braces hold the answer.
  const auto open = answer.find('{');
  const auto close = answer.rfind('}');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Error::unavailable("the LLM's routing answer holds no JSON object");
  }
  const auto parsed = parse_json(answer.substr(open, close - open + 1));
  if (parsed.is_discarded() || !parsed.is_object())
    return Error::unavailable("the LLM's routing answer is not JSON");
  const auto field = [&](const char* key) {
    const auto found = parsed.find(key);
    return found != parsed.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  const auto name = field("assistant");
  std::string lowered;
  for (const char c : name) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!is_assistant(lowered))
    return Error::unavailable(fmt::format("the LLM chose no known assistant ('{}')", name));
  Decision decision;
  decision.assistant = lowered;
  decision.method = "llm";
  const auto confidence = parsed.find("confidence");
  decision.confidence = confidence != parsed.end() && confidence->is_number()
                            ? std::clamp(confidence->get<double>(), 0.0, 1.0)
                            : 0.7;
  if (!std::isfinite(decision.confidence)) decision.confidence = 0.7;
  const auto reason = field("reasoning");
  decision.reasoning = "llm: " + (reason.empty() ? std::string("no reason given") : reason);
  return decision;
}

}  // namespace brandcoach::route
