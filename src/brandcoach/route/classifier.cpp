// The only translation unit that includes fastText.
#include <fasttext/fasttext.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

#include <fmt/format.h>

#include "brandcoach/route/route.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::route {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kLabelPrefix = "__label__";
// Part of the model's cache key: a change to how text is prepared must not reuse an old model.
constexpr std::string_view kPreparationVersion = "words-v1";

// fastText splits on whitespace only; the text module's words make "Who's", "who's" and "WHO'S" one
// token sequence, as everywhere else in the project.
std::string joined_words(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

std::string prepared(std::string_view text) {
  return joined_words(text::words(text));
}

std::string options_key(const ClassifierOptions& o) {
  return fmt::format("{} e{} d{} lr{} n{} sub{}-{} b{} s{}", kPreparationVersion, o.epochs, o.dimension,
                     o.learning_rate, o.word_ngrams, o.min_subword, o.max_subword, o.buckets, o.seed);
}

Status write_training_file(const TrainingSet& training, const fs::path& path, int seed) {
  // fastText reads the file in order each epoch: examples grouped by label would teach it whichever
  // label came last. A seeded shuffle mixes them the same way every time.
  std::vector<const Example*> order;
  for (const auto& example : training.examples) order.push_back(&example);
  std::mt19937 rng(static_cast<unsigned>(seed));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
  std::ofstream out(path, std::ios::trunc);
  for (const Example* example_ptr : order) {
    const auto& example = *example_ptr;
    const auto text = prepared(example.text);
    if (!text.empty()) out << kLabelPrefix << example.label << ' ' << text << '\n';
  }
  out.close();
  if (!out) return Error::unavailable("cannot write " + path.string());
  return ok();
}

}  // namespace

struct Classifier::Impl {
  fasttext::FastText model;
  fs::path path;
  bool trained_now = false;
};

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::~Classifier() = default;
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;

const fs::path& Classifier::model_path() const {
  return impl_->path;
}

bool Classifier::trained_now() const {
  return impl_->trained_now;
}

Result<Classifier> Classifier::load_or_train(const TrainingSet& training, const fs::path& model_dir,
                                             const ClassifierOptions& options) {
  if (training.examples.empty()) return Error::invalid("no routing examples to train on", "route.data_dir");
  const std::string key = sha256_hex(training.digest + "\n" + options_key(options)).substr(0, 16);
  auto impl = std::make_unique<Impl>();
  impl->path = model_dir / ("router-" + key + ".bin");
  std::error_code ec;
  if (fs::exists(impl->path, ec)) {
    try {
      impl->model.loadModel(impl->path.string());
      return Classifier(std::move(impl));
    } catch (const std::exception& e) {
      // A truncated or foreign file is not fatal: the model is retrained and the file replaced.
      impl = std::make_unique<Impl>();
      impl->path = model_dir / ("router-" + key + ".bin");
    }
  }
  fs::create_directories(model_dir, ec);
  if (ec) return Error::unavailable(fmt::format("cannot create {}: {}", model_dir.string(), ec.message()));
  // Per-process names: two processes training the same model at once must not share a file.
  const std::string unique = fmt::format(".{}.{}", key, ::getpid());
  const fs::path input = model_dir / ("router-train" + unique + ".txt");
  const fs::path output = model_dir / ("router" + unique);
  if (auto status = write_training_file(training, input, options.seed); !status) return status.error();
  fasttext::Args args;
  args.input = input.string();
  args.output = output.string();
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.epoch = options.epochs;
  args.dim = options.dimension;
  args.lr = options.learning_rate;
  args.wordNgrams = options.word_ngrams;
  args.minn = options.min_subword;
  args.maxn = options.max_subword;
  args.bucket = options.buckets;
  args.minCount = 1;
  args.thread = 1;  // one thread: the same examples always give the same model
  args.seed = options.seed;
  args.verbose = 0;
  try {
    impl->model.train(args);
    impl->model.saveModel(output.string() + ".bin");
  } catch (const std::exception& e) {
    fs::remove(input, ec);
    return Error::internal(std::string("training the router failed: ") + e.what());
  }
  fs::remove(input, ec);
  fs::rename(output.string() + ".bin", impl->path, ec);  // atomic: readers see a whole model or none
  if (ec) return Error::unavailable(fmt::format("cannot write {}: {}", impl->path.string(), ec.message()));
  impl->trained_now = true;
  return Classifier(std::move(impl));
}

std::vector<std::pair<std::string, double>> Classifier::predict(std::string_view text) const {
  return predict_words(text::words(text));
}

std::vector<std::pair<std::string, double>> Classifier::predict_words(
    const std::vector<std::string>& words) const {
  std::istringstream line(joined_words(words) + '\n');
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  impl_->model.predictLine(line, predictions, -1, 0.0);
  std::vector<std::pair<std::string, double>> out;
  out.reserve(predictions.size());
  for (const auto& [probability, label] : predictions) {
    const std::string_view name =
        std::string_view(label).substr(label.starts_with(kLabelPrefix) ? kLabelPrefix.size() : 0);
    out.emplace_back(std::string(name), static_cast<double>(probability));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

Result<TrainingSet> load_training_set(const fs::path& dir) {
  const fs::path train = dir / "train";
  std::error_code ec;
  if (!fs::is_directory(train, ec)) return Error::not_found("no routing training folder " + train.string());
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(train, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // a stable order makes a stable digest and model
  TrainingSet set;
  std::string content;
  for (const auto& file : files) {
    const std::string stem = file.stem().string();
    const std::string label = stem.substr(0, stem.find('.'));
    if (!is_assistant(label)) {
      return Error::invalid(
          fmt::format("{}: '{}' is not an assistant (the file name is the label)", file.string(), label),
          "route.data_dir");
    }
    std::ifstream in(file);
    if (!in) return Error::unavailable("cannot read " + file.string());
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line.front() == '#') continue;
      content += label + '\t' + line + '\n';
      set.examples.push_back({label, std::move(line)});
    }
  }
  if (set.examples.empty())
    return Error::invalid("no routing examples in " + train.string(), "route.data_dir");
  set.digest = sha256_hex(content);
  return set;
}

}  // namespace brandcoach::route
