// Model fact extraction from the durable queue, off the turn's path.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "brandcoach/memory/memory.hpp"

namespace brandcoach::memory {

std::string extraction_prompt() {
  std::string keys;
  for (const auto& spec : fact_keys())
    keys += fmt::format("- {} ({}): {}\n", spec.key, spec.category, spec.label);
  return fmt::format(
      "You read one message a small-business owner wrote to their brand coach and list the facts it states "
      "about the writer and their business.\n"
      "Answer with one JSON object and nothing else: {{\"facts\": [{{\"key\": \"…\", \"value\": \"…\", "
      "\"confidence\": 0.0-1.0, \"change\": \"new\" | \"correction\" | \"retraction\"}}]}}.\n"
      "Keys:\n{}- person:<role> (context): a named person and their role, e.g. person:designer\n"
      "Rules: use the writer's own words for values; for price and events add what it is for in "
      "parentheses, e.g. \"$14 (taco plate)\"; \"correction\" when the message changes something said "
      "before, \"retraction\" when something stops being true (e.g. a competitor that closed). Leave out "
      "other people's numbers, hypotheticals, questions and things that were true only in the past. "
      "No facts: {{\"facts\": []}}.",
      keys);
}

Result<std::vector<ExtractedFact>> parse_model_facts(std::string_view answer) {
  auto json = parse_json(answer);
  if (json.is_discarded() || !json.is_object()) return Error::invalid("the answer is not a JSON object");
  if (!json.contains("facts") || !json["facts"].is_array())
    return Error::invalid("\"facts\" must be an array");
  if (json["facts"].size() > 50) return Error::invalid("more than 50 facts");
  std::vector<ExtractedFact> out;
  for (const auto& item : json["facts"]) {
    if (!item.is_object()) return Error::invalid("a fact must be an object");
    for (const auto& [field, value] : item.items()) {
      if (field != "key" && field != "value" && field != "confidence" && field != "change")
        return Error::invalid("unknown fact field \"" + field + "\"");
    }
    if (!item.contains("key") || !item["key"].is_string()) return Error::invalid("a fact needs a string key");
    if (!item.contains("value") || !item["value"].is_string())
      return Error::invalid("a fact needs a string value");
    ExtractedFact fact;
    fact.key = item["key"].get<std::string>();
    fact.value = item["value"].get<std::string>();
    const bool person = fact.key.starts_with("person:") && fact.key.size() > 7 && fact.key.size() <= 38 &&
                        std::all_of(fact.key.begin() + 7, fact.key.end(),
                                    [](char c) { return (c >= 'a' && c <= 'z') || c == ' ' || c == '-'; });
    if (!person && (!key_spec(fact.key) || fact.key.starts_with("person"))) {
      return Error::invalid("unknown key \"" + fact.key + "\"");
    }
    if (comparable(fact.value).empty() || fact.value.size() > 200)
      return Error::invalid("bad value for " + fact.key);
    fact.confidence = 0.8;
    if (item.contains("confidence")) {
      if (!item["confidence"].is_number()) return Error::invalid("confidence must be a number");
      fact.confidence = item["confidence"].get<double>();
      if (fact.confidence < 0 || fact.confidence > 1) return Error::invalid("confidence must be within 0..1");
    }
    const std::string change = item.value("change", std::string("new"));
    if (change == "new") {
      fact.cue = Cue::plain;
    } else if (change == "correction") {
      fact.cue = Cue::correction;
    } else if (change == "retraction") {
      fact.cue = Cue::retraction;
    } else {
      return Error::invalid("change must be new, correction or retraction");
    }
    out.push_back(std::move(fact));
  }
  return out;
}

struct ExtractionQueue::State {
  store::Store& store;
  ExtractionModel model;
  Options options;
  std::mutex mutex;
  std::condition_variable wakeup;
  bool stopping = false;
  std::atomic<int64_t> completed{0};
  struct SummaryRequest {
    int64_t user_id;
    int64_t last_seq;
    int recent_window;
  };
  std::deque<SummaryRequest> summaries;  // guarded by mutex
  ExtractionModel text_model;
  std::vector<std::jthread> workers;

  // One requested summary refresh: returns false when none was waiting.
  bool summarise_one() {
    SummaryRequest request{};
    {
      std::lock_guard lock(mutex);
      if (summaries.empty()) return false;
      request = summaries.front();
      summaries.pop_front();
    }
    auto done = memory.refresh_summary(request.user_id, request.last_seq, request.recent_window,
                                       text_model ? &text_model : nullptr);
    if (!done) spdlog::warn("memory: summary refresh failed: {}", done.error().message);
    if (!done || *done) outcome("summary", done ? "ok" : "error");
    return true;
  }

  Memory memory;  // one for all summary requests (its extractor is compiled once)

  void outcome(std::string_view operation, std::string_view status) const {
    if (options.on_outcome) options.on_outcome(operation, status);
  }

  State(store::Store& s, ExtractionModel m, Options o)
      : store(s), model(std::move(m)), options(o), memory(s, MemoryOptions{o.summary_every}) {}

  // One job: returns false when there was none due.
  bool run_one() {
    auto claimed = store.claim_extraction_job(unix_millis(), options.lease_ms);
    if (!claimed) {
      spdlog::warn("memory: cannot read the extraction queue: {}", claimed.error().message);
      return false;
    }
    if (!*claimed) return false;
    const auto& job = **claimed;
    auto answer = model(extraction_prompt(), job.message.text);
    if (!answer) {
      outcome("llm_extract", "error");
      if (job.attempts >= options.max_attempts) {
        spdlog::warn("memory: giving up model extraction of message {} after {} tries: {}", job.message.id,
                     job.attempts, answer.error().message);
        (void)store.finish_extraction_job(job.id);
        ++completed;
      } else {
        const int64_t backoff = int64_t{1000} << std::min<int64_t>(job.attempts, 8);
        (void)store.retry_extraction_job(job.id, unix_millis() + backoff, answer.error().message);
      }
      return true;
    }
    auto facts = parse_model_facts(*answer);
    if (!facts) {
      // The rule extractor already recorded what it found in this message; keep that.
      spdlog::warn("memory: model extraction of message {} rejected ({}); the rule extractor's facts stand",
                   job.message.id, facts.error().message);
      outcome("llm_extract", "rejected");
    } else if (!facts->empty()) {
      auto current = store.list_facts(job.message.user_id, false);
      if (!current) {
        (void)store.retry_extraction_job(job.id, unix_millis() + 1000, current.error().message);
        return true;
      }
      auto writes = plan_fact_writes(*current, *facts, job.message.id);
      for (auto& write : writes) write.actor = "llm";
      if (!writes.empty()) {
        if (auto written = store.write_facts(job.message.user_id, writes); !written) {
          (void)store.retry_extraction_job(job.id, unix_millis() + 1000, written.error().message);
          return true;
        }
      }
    }
    if (facts) outcome("llm_extract", "ok");
    (void)store.finish_extraction_job(job.id);
    ++completed;
    return true;
  }

  void loop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      if (summarise_one()) continue;
      if (run_one()) continue;
      std::unique_lock lock(mutex);
      if (stopping) return;
      wakeup.wait_for(lock, std::chrono::milliseconds(options.idle_poll_ms));
      if (stopping) return;
    }
  }
};

ExtractionQueue::ExtractionQueue(store::Store& store, ExtractionModel model, Options options,
                                 ExtractionModel text_model)
    : state_(std::make_unique<State>(store, std::move(model), options)) {
  state_->text_model = std::move(text_model);
  for (int i = 0; i < std::max(1, options.workers); ++i) {
    state_->workers.emplace_back([state = state_.get()](std::stop_token stop) { state->loop(stop); });
  }
}

ExtractionQueue::~ExtractionQueue() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  for (auto& worker : state_->workers) worker.request_stop();
  state_->wakeup.notify_all();
  state_->workers.clear();  // joins
}

void ExtractionQueue::wake() {
  state_->wakeup.notify_one();
}

void ExtractionQueue::request_summary(int64_t user_id, int64_t last_seq, int recent_window) {
  {
    std::lock_guard lock(state_->mutex);
    // One waiting request per user is enough: the newest covers the older ones.
    std::erase_if(state_->summaries, [&](const State::SummaryRequest& r) { return r.user_id == user_id; });
    state_->summaries.push_back({user_id, last_seq, recent_window});
  }
  state_->wakeup.notify_one();
}

int64_t ExtractionQueue::completed() const {
  return state_->completed.load();
}

}  // namespace brandcoach::memory
