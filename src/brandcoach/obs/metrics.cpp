#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "brandcoach/obs/obs.hpp"

namespace brandcoach::obs {

namespace {

std::atomic<uint64_t> next_family_id{1};

// Transparent hashing, so a lookup by a string_view built on the stack allocates nothing.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view key) const noexcept { return std::hash<std::string_view>{}(key); }
};

// The children this thread has used, by family id and raw label values. Entries of a family that was
// destroyed are never looked up again: ids are never reused.
thread_local std::unordered_map<std::string, void*, KeyHash, std::equal_to<>> local_children;

// A number as the exposition format writes it.
std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size())) {}

void Histogram::observe(double value) {
  // Each observation lands in one (non-cumulative) slot; bucket() adds them up when read.
  const auto slot = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  if (static_cast<size_t>(slot) < bounds_.size())
    buckets_[static_cast<size_t>(slot)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t Histogram::bucket(size_t i) const {
  uint64_t total = 0;
  for (size_t j = 0; j <= i && j < bounds_.size(); ++j) total += buckets_[j].load(std::memory_order_relaxed);
  return total;
}

// ---------------------------------------------------------------------------------------------

template <class Child>
Family<Child>::Family(std::string name, std::string help, std::vector<std::string> labels,
                      std::span<const double> bounds)
    : id_(next_family_id.fetch_add(1)),
      name_(std::move(name)),
      help_(std::move(help)),
      labels_(std::move(labels)),
      bounds_(bounds) {}

template <class Child>
Child& Family<Child>::with(LabelValues values) {
  // The per-thread key: the family id, then the raw values separated by a byte no label holds.
  fmt::memory_buffer key;
  fmt::format_to(std::back_inserter(key), "{}", id_);
  for (const auto value : values) {
    key.push_back('\x1f');
    key.append(value);
  }
  const std::string_view key_view(key.data(), key.size());
  if (auto it = local_children.find(key_view); it != local_children.end())
    return *static_cast<Child*>(it->second);

  std::string rendered;
  size_t i = 0;
  for (const auto value : values) {
    if (i > 0) rendered += ',';
    rendered += fmt::format("{}=\"{}\"", i < labels_.size() ? labels_[i] : "label", escape_label(value));
    ++i;
  }
  Child& child = create(std::move(rendered));
  local_children.emplace(std::string(key_view), &child);
  return child;
}

template <class Child>
Child& Family<Child>::create(std::string key) {
  {
    std::shared_lock lock(mutex_);
    if (auto it = children_.find(key); it != children_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto& slot = children_[key];
  if (!slot) {
    if constexpr (std::is_same_v<Child, Histogram>) {
      slot = std::make_unique<Histogram>(bounds_);
    } else {
      slot = std::make_unique<Child>();
    }
  }
  return *slot;
}

template <class Child>
void Family<Child>::each(const std::function<void(const std::string&, const Child&)>& visit) const {
  std::shared_lock lock(mutex_);
  for (const auto& [labels, child] : children_) visit(labels, *child);
}

template class Family<Counter>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------------------------

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Exposition::sample(std::string_view name,
                        std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
                        double value) {
  std::string rendered;
  for (const auto& [label, label_value] : labels) {
    if (!rendered.empty()) rendered += ',';
    rendered += fmt::format("{}=\"{}\"", label, escape_label(label_value));
  }
  sample_rendered(name, rendered, value);
}

void Exposition::sample_rendered(std::string_view name, std::string_view labels, double value) {
  if (labels.empty()) {
    text_ += fmt::format("{} {}\n", name, number(value));
  } else {
    text_ += fmt::format("{}{{{}}} {}\n", name, labels, number(value));
  }
}

void Exposition::counters(const Family<Counter>& family, double scale) {
  this->family(family.name_, "counter", family.help_);
  family.each([&](const std::string& labels, const Counter& counter) {
    sample_rendered(family.name_, labels, static_cast<double>(counter.value()) * scale);
  });
}

void Exposition::histograms(const Family<Histogram>& family) {
  this->family(family.name_, "histogram", family.help_);
  family.each([&](const std::string& labels, const Histogram& h) {
    const std::string prefix = labels.empty() ? "" : labels + ",";
    // Read the count first: buckets observed after it may exceed it by a little, never fall short.
    const uint64_t count = h.count();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < h.bounds().size(); ++i) {
      cumulative = std::min(h.bucket(i), count);
      sample_rendered(family.name_ + "_bucket", fmt::format("{}le=\"{}\"", prefix, number(h.bounds()[i])),
                      static_cast<double>(cumulative));
    }
    sample_rendered(family.name_ + "_bucket", prefix + "le=\"+Inf\"", static_cast<double>(count));
    sample_rendered(family.name_ + "_sum", labels, h.sum());
    sample_rendered(family.name_ + "_count", labels, static_cast<double>(count));
  });
}

// ---------------------------------------------------------------------------------------------

Metrics::Metrics()
    : requests_("brandcoach_http_requests_total", "HTTP requests by route, method and status.",
                {"route", "method", "status"}),
      request_seconds_("brandcoach_http_request_duration_seconds", "HTTP request latency by route.",
                       {"route"}, kLatencyBuckets),
      response_seconds_("assistant_response_time_seconds",
                        "Response time for assistant requests (a whole turn).", {"assistant_type"},
                        kTurnBuckets),
      tokens_("openai_token_usage_total", "Tokens used by the answering model, by assistant and token type.",
              {"assistant_type", "token_type"}),
      memory_operations_("memory_operations_total", "Memory operations performed, by type and outcome.",
                         {"operation_type", "status"}),
      routing_decisions_("brandcoach_routing_decisions_total",
                         "Routing decisions by method and chosen assistant.", {"method", "assistant"}),
      routing_confidence_("brandcoach_routing_confidence", "Confidence of the routing decisions.", {},
                          kConfidenceBuckets),
      turns_("brandcoach_turns_total", "Coach turns by answering assistant and routing method.",
             {"assistant", "method"}),
      llm_calls_("brandcoach_llm_calls_total",
                 "Answers by provider and outcome (ok, or fallback to the offline composer).",
                 {"provider", "outcome"}),
      cost_micro_usd_("brandcoach_llm_cost_usd_total",
                      "What the answering model's tokens cost, by assistant (USD).", {"assistant_type"}),
      started_s_(static_cast<double>(unix_millis()) / 1000.0) {}

void Metrics::observe_request(std::string_view route, std::string_view method, int status, double seconds) {
  const auto code = fmt::format_int(status);
  requests_.with({route, method, std::string_view(code.data(), code.size())}).add();
  request_seconds_.with({route}).observe(seconds);
  request_count_.fetch_add(1, std::memory_order_relaxed);
  if (status >= 500) server_errors_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::observe_turn(const TurnSample& sample) {
  response_seconds_.with({sample.assistant}).observe(sample.seconds);
  routing_decisions_.with({sample.method, sample.assistant}).add();
  routing_confidence_.with({}).observe(sample.confidence);
  turns_.with({sample.assistant, sample.method}).add();
  tokens_.with({sample.assistant, "input"})
      .add(static_cast<uint64_t>(std::max<int64_t>(sample.input_tokens, 0)));
  tokens_.with({sample.assistant, "output"})
      .add(static_cast<uint64_t>(std::max<int64_t>(sample.output_tokens, 0)));
  llm_calls_.with({sample.provider, sample.degraded ? "fallback" : "ok"}).add();
  cost_micro_usd_.with({sample.assistant})
      .add(static_cast<uint64_t>(std::llround(std::max(sample.cost_usd, 0.0) * 1e6)));
  if (sample.new_session) conversations_.add();
  if (sample.provider != "offline" || sample.degraded) model_answers_.fetch_add(1, std::memory_order_relaxed);
  if (sample.degraded) fallbacks_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_memory_operation(std::string_view operation, std::string_view status) {
  memory_operations_.with({operation, status}).add();
  if (status == "error" || status == "fail") memory_failures_.fetch_add(1, std::memory_order_relaxed);
}

void Metrics::record_error(ErrorRecord error) {
  std::lock_guard lock(errors_mutex_);
  errors_.push_front(std::move(error));
  if (errors_.size() > kRecentErrors) errors_.pop_back();
}

std::vector<ErrorRecord> Metrics::recent_errors() const {
  std::lock_guard lock(errors_mutex_);
  return {errors_.begin(), errors_.end()};
}

RequestTotals Metrics::request_totals() const {
  return {request_count_.load(std::memory_order_relaxed), server_errors_.load(std::memory_order_relaxed)};
}

Totals Metrics::totals() const {
  Totals t;
  t.at_ms = unix_millis();
  t.requests = request_count_.load(std::memory_order_relaxed);
  t.server_errors = server_errors_.load(std::memory_order_relaxed);
  response_seconds_.each([&](const std::string&, const Histogram& h) {
    t.turns += h.count();
    t.turn_seconds += h.sum();
  });
  tokens_.each([&](const std::string&, const Counter& c) { t.tokens += c.value(); });
  memory_operations_.each([&](const std::string&, const Counter& c) { t.memory_operations += c.value(); });
  t.memory_failures = memory_failures_.load(std::memory_order_relaxed);
  t.model_answers = model_answers_.load(std::memory_order_relaxed);
  t.fallbacks = fallbacks_.load(std::memory_order_relaxed);
  return t;
}

std::vector<std::pair<std::string, uint64_t>> Metrics::memory_operation_counts() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  memory_operations_.each(
      [&](const std::string& labels, const Counter& c) { out.emplace_back(labels, c.value()); });
  return out;
}

void Metrics::add_collector(std::function<void(Exposition&)> collector) {
  collectors_.push_back(std::move(collector));
}

std::string Metrics::render() const {
  Exposition out;
  out.family("brandcoach_build_info", "gauge", "The running build (always 1).");
  out.sample("brandcoach_build_info", {{"version", BRANDCOACH_VERSION}}, 1);
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch (seconds).");
  out.sample("process_start_time_seconds", {}, started_s_);
  out.counters(requests_);
  out.histograms(request_seconds_);
  out.family("brandcoach_http_inflight_requests", "gauge", "HTTP requests being handled now.");
  out.sample("brandcoach_http_inflight_requests", {}, static_cast<double>(in_flight_.load()));
  out.histograms(response_seconds_);
  out.counters(tokens_);
  out.counters(memory_operations_);
  out.counters(routing_decisions_);
  out.histograms(routing_confidence_);
  out.counters(turns_);
  out.counters(llm_calls_);
  out.counters(cost_micro_usd_, 1e-6);
  out.family("brandcoach_conversations_total", "counter",
             "Sessions opened (the denominator of cost per conversation).");
  out.sample("brandcoach_conversations_total", {}, static_cast<double>(conversations_.value()));
  for (const auto& collect : collectors_) collect(out);
  return out.take();
}

}  // namespace brandcoach::obs
