// brandcoach route: choosing which of the five assistants answers a message.
//
// `IdeaRouter` decides in the order the system specification describes: an unambiguous keyword of
// the seed's routing matrix (rule), a follow-up that stays with the previous assistant (context), a
// fastText classifier trained on data/routing (classifier), a language model when the classifier is
// unsure and one is configured (llm), and `core`, the generalist, when nothing is sure (fallback).
// Every decision says which of these made it and why.
#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::route {

/// The five specialist assistants, in the seed's order.
inline const std::vector<std::string>& assistant_names() {
  static const std::vector<std::string> names = {"diagnostic", "avatar", "canvas", "capture", "core"};
  return names;
}
bool is_assistant(std::string_view name);

/// Where a message goes and why.
struct Decision {
  std::string assistant;                 // the primary assistant that answers
  double confidence = 0;                 // 0..1
  std::string method;                    // rule | classifier | context | llm | fallback
  std::string fallback;                  // who answers if the primary cannot: core, or for core its runner-up
  std::string secondary;                 // the seed matrix's secondary assistant for this intent
  std::string reasoning;                 // one human-readable line
  std::map<std::string, double> scores;  // classifier probabilities, when the classifier ran
};

/// One earlier message of the conversation.
struct Turn {
  std::string role;  // user | assistant
  std::string text;
  std::string assistant;  // for assistant turns: who answered
};

struct Input {
  std::string_view message;
  std::span<const Turn> history;  // oldest first; empty on a user's first turn
};

class Router {
 public:
  virtual ~Router() = default;
  virtual Decision route(const Input& input) const = 0;
};

// ---------------------------------------------------------------------------------------------------
// Keyword rules: the seed's routing decision matrix.

struct KeywordMatch {
  std::map<std::string, int> scores;  // hits per assistant, every keyword of the matrix
  std::map<std::string, int> strong;  // hits of distinctive terms only ("swot", "value proposition")
  std::map<std::string, std::string> secondary;  // the matrix row's secondary for each assistant hit first
  std::vector<std::string> matched;              // the words and phrases that matched, in order
  std::map<std::string, size_t> first_seen;      // word position of each assistant's first hit
};

class KeywordRouter final : public Router {
 public:
  KeywordRouter();
  /// Every keyword hit of the message. Keywords match inflections ("weaknesses", "priced") and
  /// multi-word phrases ("business model", "pain points") are matched before their single words.
  KeywordMatch match(std::string_view message) const;
  /// The same, over words already split by text::words (the router splits a message once).
  KeywordMatch match_words(const std::vector<std::string>& words) const;
  /// The keyword-only router (the baseline the classifier is measured against): the most hits win,
  /// `core` when nothing matches.
  Decision route(const Input& input) const override;

  struct Keyword {
    std::vector<std::string> words;  // one or more words; a trailing '*' allows any suffix
    std::string assistant;
    std::string secondary;
    bool strong = false;  // distinctive enough to decide alone when no other assistant is named
  };

 private:
  std::vector<Keyword> keywords_;  // longest phrases first
  // Indexes into keywords_ by the first byte of their first word (in keywords_ order), so a word is
  // compared only with keywords that can start with it.
  std::array<std::vector<size_t>, 256> by_first_byte_;
};

/// The seed matrix's default secondary assistant of a primary ("" for core: it depends on the message).
std::string default_secondary(std::string_view assistant);

// ---------------------------------------------------------------------------------------------------
// The learned classifier.

struct Example {
  std::string label;
  std::string text;
};

/// Labelled utterances from `dir/train/<label>[.<part>].txt` (one per line; '#' lines and blank lines
/// skipped). `digest` identifies the content, so a model trained from it can be cached by it.
struct TrainingSet {
  std::vector<Example> examples;
  std::string digest;
};
Result<TrainingSet> load_training_set(const std::filesystem::path& dir);

struct ClassifierOptions {
  int epochs = 5;  // more epochs fit no better and make probabilities over-sure (useless for thresholds)
  int dimension = 50;
  double learning_rate = 0.5;
  int word_ngrams = 2;
  int min_subword = 4;  // 4-6: best of the n-gram ranges in 10% cross-validation on the training data
  int max_subword = 6;
  int buckets = 100000;
  int seed = 1;
};

/// fastText supervised classifier over words, word bigrams and character n-grams. Trained on one
/// thread with a fixed seed, so the same examples always give the same model bytes.
class Classifier {
 public:
  /// Loads `<model_dir>/router-<digest>.bin` if present, else trains and writes it there.
  static Result<Classifier> load_or_train(const TrainingSet& training, const std::filesystem::path& model_dir,
                                          const ClassifierOptions& options = {});
  ~Classifier();
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;

  /// Probability of every label, best first. Thread-safe.
  std::vector<std::pair<std::string, double>> predict(std::string_view text) const;
  /// The same, over words already split by text::words.
  std::vector<std::pair<std::string, double>> predict_words(const std::vector<std::string>& words) const;
  const std::filesystem::path& model_path() const;
  bool trained_now() const;  // false when the cached model was loaded

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------------
// The router of the coach.

/// Asks a language model: (system prompt, user prompt, temperature) -> the text of its answer.
using AskModel = std::function<Result<std::string>(const std::string&, const std::string&, double)>;

struct RouterOptions {
  double confidence_threshold = 0.4;  // below it: the LLM if configured, else the core fallback
  double switch_confidence = 0.7;     // a follow-up leaves its assistant only for a classifier this sure
  int follow_up_max_words = 14;       // longer messages are read on their own
};

class IdeaRouter final : public Router {
 public:
  IdeaRouter(Classifier classifier, RouterOptions options = {}, AskModel ask_model = {});
  Decision route(const Input& input) const override;

 private:
  Decision classify(const std::vector<std::string>& words) const;
  Decision ask_llm(const Input& input, const Decision& unsure) const;

  KeywordRouter keywords_;
  Classifier classifier_;
  RouterOptions options_;
  AskModel ask_model_;
};

/// True when a message reads as a follow-up to the previous answer ("why?", "go deeper on the second
/// one", "ok and for a small team?") rather than a new request.
bool reads_as_follow_up(std::string_view message, int max_words);
bool reads_as_follow_up(const std::vector<std::string>& words, int max_words);

/// The prompt the LLM routes with, and the parse of its JSON answer (`{"assistant", "confidence",
/// "reasoning"}`); an answer naming no known assistant is an error.
std::pair<std::string, std::string> llm_routing_prompt(const Input& input);
Result<Decision> parse_llm_routing(std::string_view answer);

}  // namespace brandcoach::route
