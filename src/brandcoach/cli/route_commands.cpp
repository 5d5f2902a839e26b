// `brandcoach route` (route messages from stdin) and `brandcoach eval routing` (quality on a labelled file).
#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/cli/app.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::cli {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxMessageBytes = 100 * 1024;

// One line of routing input: the message and the conversation before it.
struct RouteRequest {
  nlohmann::json id;  // null when absent
  std::string text;
  std::string label;  // eval only
  std::vector<route::Turn> history;
};

Status check_message(const std::string& text) {
  if (!text::is_valid_utf8(text)) return Error::invalid("the message is not valid UTF-8", "text");
  if (text.size() > kMaxMessageBytes)
    return Error::invalid(fmt::format("the message is over {} KB", kMaxMessageBytes / 1024), "text");
  if (text::words(text).empty()) return Error::invalid("the message has no words", "text");
  return ok();
}

// A JSON line {"id"?, "text", "label"?, "history"?}, or a plain line that is the message itself.
Result<RouteRequest> parse_request(const std::string& line, bool want_label) {
  RouteRequest request;
  const auto first = line.find_first_not_of(" \t");
  if (first == std::string::npos || line[first] != '{') {
    if (want_label)
      return Error::invalid("expected a JSON object {\"text\", \"label\", \"history\"?}", "line");
    request.text = line;
    if (auto status = check_message(request.text); !status) return status.error();
    return request;
  }
  if (!text::is_valid_utf8(line)) return Error::invalid("the line is not valid UTF-8", "text");
  const auto json = parse_json(line);
  if (json.is_discarded() || !json.is_object())
    return Error::invalid("the line is not a JSON object", "line");
  if (!json.contains("text") || !json["text"].is_string())
    return Error::invalid("\"text\" must be a string", "text");
  request.text = json["text"].get<std::string>();
  if (auto status = check_message(request.text); !status) return status.error();
  if (json.contains("id")) request.id = json["id"];
  if (want_label) {
    request.label = json.value("label", std::string());
    if (!route::is_assistant(request.label))
      return Error::invalid(
          fmt::format("\"label\" must be one of the five assistants, not '{}'", request.label), "label");
  }
  if (json.contains("history")) {
    if (!json["history"].is_array()) return Error::invalid("\"history\" must be an array", "history");
    for (const auto& turn : json["history"]) {
      if (!turn.is_object() || !turn.contains("text") || !turn["text"].is_string())
        return Error::invalid("each history turn needs a \"text\" string", "history");
      const auto role = turn.value("role", std::string("user"));
      if (role != "user" && role != "assistant")
        return Error::invalid("a history turn's role is \"user\" or \"assistant\"", "history");
      const auto assistant = turn.value("assistant", std::string());
      if (!assistant.empty() && !route::is_assistant(assistant))
        return Error::invalid(fmt::format("unknown assistant '{}' in history", assistant), "history");
      request.history.push_back({role, turn["text"].get<std::string>(), assistant});
    }
  }
  return request;
}

nlohmann::json error_json(const Error& error) {
  return {{"type", "invalid_request_error"}, {"message", error.message}, {"param", error.param}};
}

struct Tally {
  std::map<std::string, std::map<std::string, int>> confusion;  // label -> predicted -> count
  int total = 0;
  int correct = 0;
  void add(const std::string& label, const std::string& predicted) {
    ++confusion[label][predicted];
    ++total;
    correct += label == predicted ? 1 : 0;
  }
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0.0; }
};

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  int support = 0;
};

std::map<std::string, ClassScores> per_class(const Tally& tally) {
  std::map<std::string, ClassScores> out;
  for (const auto& name : route::assistant_names()) {
    int tp = 0, predicted = 0, actual = 0;
    for (const auto& [label, row] : tally.confusion) {
      for (const auto& [guess, count] : row) {
        if (guess == name) predicted += count;
        if (label == name) actual += count;
        if (label == name && guess == name) tp += count;
      }
    }
    ClassScores s;
    s.support = actual;
    s.precision = predicted ? static_cast<double>(tp) / predicted : 0.0;
    s.recall = actual ? static_cast<double>(tp) / actual : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    out[name] = s;
  }
  return out;
}

double macro_f1(const Tally& tally) {
  double sum = 0;
  int classes = 0;
  for (const auto& [name, s] : per_class(tally)) {
    if (s.support == 0) continue;
    sum += s.f1;
    ++classes;
  }
  return classes ? sum / classes : 0.0;
}

nlohmann::json tally_json(const Tally& tally) {
  nlohmann::json classes = nlohmann::json::object();
  for (const auto& [name, s] : per_class(tally))
    classes[name] = {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
  return {{"examples", tally.total},
          {"accuracy", tally.accuracy()},
          {"macro_f1", macro_f1(tally)},
          {"per_assistant", classes},
          {"confusion", tally.confusion}};
}

void print_tally(const std::string& title, const Tally& tally) {
  if (tally.total == 0) return;
  fmt::print("{}: accuracy {:.1f}% ({}/{}), macro F1 {:.3f}\n", title, 100 * tally.accuracy(), tally.correct,
             tally.total, macro_f1(tally));
}

void print_table(const Tally& tally) {
  const auto& names = route::assistant_names();
  fmt::print("\n{:<12}{:>10}{:>10}{:>10}{:>9}\n", "assistant", "precision", "recall", "F1", "support");
  for (const auto& [name, s] : per_class(tally))
    fmt::print("{:<12}{:>10.3f}{:>10.3f}{:>10.3f}{:>9}\n", name, s.precision, s.recall, s.f1, s.support);
  fmt::print("\nconfusion (rows: label, columns: routed to)\n{:<12}", "");
  for (const auto& name : names) fmt::print("{:>11}", name);
  fmt::print("\n");
  for (const auto& label : names) {
    fmt::print("{:<12}", label);
    const auto row = tally.confusion.find(label);
    for (const auto& guess : names) {
      int count = 0;
      if (row != tally.confusion.end() && row->second.contains(guess)) count = row->second.at(guess);
      fmt::print("{:>11}", count);
    }
    fmt::print("\n");
  }
}

}  // namespace

Result<std::unique_ptr<route::IdeaRouter>> build_router(const Config& config,
                                                        std::shared_ptr<net::Upstream> llm_upstream) {
  const fs::path data =
      config.route.data_dir.empty() ? coach::bundled_data_dir() / "routing" : fs::path(config.route.data_dir);
  const fs::path models = config.route.model_dir.empty() ? fs::path(config.storage.data_dir) / "models"
                                                         : fs::path(config.route.model_dir);
  auto training = route::load_training_set(data);
  if (!training) return training.error();
  const auto started = std::chrono::steady_clock::now();
  auto classifier = route::Classifier::load_or_train(*training, models);
  if (!classifier) return classifier.error();
  spdlog::info("router model {} {} ({} examples, {:.0f} ms)",
               classifier->trained_now() ? "trained into" : "loaded from", classifier->model_path().string(),
               training->examples.size(),
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  route::RouterOptions options;
  options.confidence_threshold = config.route.confidence_threshold;
  options.switch_confidence = config.route.switch_confidence;
  options.follow_up_max_words = static_cast<int>(config.route.follow_up_max_words);
  route::AskModel ask_model;
  if (config.route.llm) {
    if (config.llm.base_url.empty() || config.llm.model.empty()) {
      return Error::config("route.llm needs llm.base_url and llm.model",
                           config.llm.base_url.empty() ? "llm.base_url" : "llm.model");
    }
    // Routing sits on the turn's path: one retry and a short timeout, whatever answers may take.
    auto routing = model_options(config, llm_upstream ? llm_upstream : make_llm_upstream(config));
    routing.max_retries = 1;
    routing.timeout_ms = std::min<int64_t>(routing.timeout_ms, 10000);
    auto client = std::make_shared<llm::ChatClient>(std::move(routing));
    ask_model = [client](const std::string& system, const std::string& user, double temperature) {
      return client->complete(system, user, temperature, true);
    };
  }
  return std::make_unique<route::IdeaRouter>(std::move(classifier).value(), options, std::move(ask_model));
}

int route_messages(Config config) {
  auto router = build_router(config);
  if (!router) return fail(router.error());
  std::string line;
  int bad = 0;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    auto request = parse_request(line, false);
    if (!request) {
      ++bad;
      std::cout << nlohmann::json{{"line", number}, {"error", error_json(request.error())}}.dump() << "\n";
      std::cerr << fmt::format("brandcoach: line {}: {}\n", number, request.error().message);
      continue;
    }
    const auto decision = (*router)->route({request->text, request->history});
    nlohmann::json out;
    if (!request->id.is_null()) out["id"] = request->id;
    out["assistant"] = decision.assistant;
    out["confidence"] = std::round(decision.confidence * 1000) / 1000;
    out["method"] = decision.method;
    out["fallback"] = decision.fallback;
    out["secondary"] = decision.secondary;
    out["reasoning"] = decision.reasoning;
    std::cout << out.dump() << "\n";
  }
  std::cout.flush();
  return bad == 0 ? 0 : exit_code(ErrorKind::invalid_input);
}

int eval_routing(Config config, const std::string& path, bool json_output) {
  std::ifstream in(path);
  if (!in) return fail(Error::invalid("cannot read " + path, "FILE"));
  std::vector<RouteRequest> requests;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto request = parse_request(line, true);
    if (!request)
      return fail(Error::invalid(fmt::format("{}:{}: {}", path, number, request.error().message), "FILE"));
    requests.push_back(std::move(request).value());
  }
  if (requests.empty()) return fail(Error::invalid(path + " holds no examples", "FILE"));
  auto router = build_router(config);
  if (!router) return fail(router.error());
  const route::KeywordRouter keywords;

  Tally all, fresh, follow_ups, baseline;
  std::map<std::string, int> methods;
  nlohmann::json misrouted = nlohmann::json::array();
  for (const auto& request : requests) {
    const route::Input input{request.text, request.history};
    const auto decision = (*router)->route(input);
    all.add(request.label, decision.assistant);
    (request.history.empty() ? fresh : follow_ups).add(request.label, decision.assistant);
    baseline.add(request.label, keywords.route(input).assistant);
    ++methods[decision.method];
    if (decision.assistant != request.label) {
      misrouted.push_back({{"text", request.text},
                           {"label", request.label},
                           {"routed", decision.assistant},
                           {"method", decision.method},
                           {"confidence", std::round(decision.confidence * 1000) / 1000},
                           {"reasoning", decision.reasoning}});
    }
  }
  if (json_output) {
    nlohmann::json out = tally_json(all);
    if (fresh.total) out["without_history"] = tally_json(fresh);
    if (follow_ups.total) out["with_history"] = tally_json(follow_ups);
    out["keyword_baseline"] = tally_json(baseline);
    out["methods"] = methods;
    out["misrouted"] = misrouted;
    std::cout << out.dump() << "\n";
    return 0;
  }
  print_tally("router", all);
  print_tally("  messages without history", fresh);
  print_tally("  follow-ups (with history)", follow_ups);
  print_tally("keyword-only baseline", baseline);
  std::string used;
  for (const auto& [method, count] : methods)
    used += fmt::format("{}{} {}", used.empty() ? "" : ", ", method, count);
  fmt::print("decided by: {}\n", used);
  print_table(all);
  if (!misrouted.empty()) {
    fmt::print("\nmisrouted ({}):\n", misrouted.size());
    for (const auto& miss : misrouted) {
      fmt::print("  [{} -> {} by {} {:.2f}] {}\n", miss["label"].get<std::string>(),
                 miss["routed"].get<std::string>(), miss["method"].get<std::string>(),
                 miss["confidence"].get<double>(), miss["text"].get<std::string>().substr(0, 160));
    }
  }
  return 0;
}

}  // namespace brandcoach::cli
