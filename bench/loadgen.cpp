// loadgen: many simulated users chatting with a running brandcoach server at once.
//
// Turn mode (default): --users coroutines, each one user (X-Brandcoach-User: load-<run>-<n>, which a
// local-mode server takes as the user) on one keep-alive connection, sends POST /api/chat with the next
// line of a conversation (introductions with name, company and price; questions for each of the five
// assistants; memory questions such as "what price did I settle on?"), waits for the whole answer, or for
// `event: done` when the turn is streamed, optionally thinks, and goes on. Turns completed inside the
// measuring window (after --warmup, for --duration seconds) give turns/s and latency percentiles; streamed
// turns also give the time to the first event and to the first `delta`. A streamed answer ends its
// connection (the server closes it), so the next turn connects again, and that time counts.
//
// Hold mode (--hold-streams N): opens N streamed turns, --ramp-batch every --ramp-interval-ms, and reports
// the most that were open at once (headers received, `event: done` not yet), how many of those the model
// was answering (a `delta` arrived), failures, and the server's VmRSS at that peak (--server-pid).
//
// Usage: loadgen [--url http://127.0.0.1:8080] [--users 100] [--duration 30 | --turns-per-user K]
//                [--warmup 5] [--stream-fraction 0] [--think-ms 0] [--ramp-ms 1000] [--timeout-ms 60000]
//                [--threads 1] [--run-id ID] [--server-pid PID] [--json]
//        loadgen --hold-streams N [--ramp-batch 500] [--ramp-interval-ms 100] [--hold-timeout 120] ...

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>; it must come first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  int users = 100;
  double duration_s = 30;
  int turns_per_user = 0;  // > 0: a fixed number of turns per user instead of a duration
  double warmup_s = 5;
  double stream_fraction = 0;
  int think_ms = 0;
  int ramp_ms = 1000;  // users start spread over this, so connects and first turns do not come in one burst
  int timeout_ms = 60000;
  int threads = 1;
  std::string run_id;
  long server_pid = 0;
  bool json_output = false;
  int hold_streams = 0;
  int ramp_batch = 500;
  int ramp_interval_ms = 100;
  double hold_timeout_s = 120;
};

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// ---- the server process, read from /proc ----

// A "VmRSS:"-style line of /proc/PID/status, in bytes; 0 when unreadable.
long long process_memory_bytes(long pid, std::string_view field) {
  if (pid <= 0) return 0;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field)) return std::atoll(line.c_str() + field.size()) * 1024;
  }
  return 0;
}

// User plus system CPU time of a process, in seconds; negative when unreadable.
double process_cpu_seconds(long pid) {
  if (pid <= 0) return -1;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  // The command name (field 2) may hold spaces; fields are counted after its closing parenthesis.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields;
  size_t at = close + 2;
  while (at < text.size()) {
    const auto end = text.find(' ', at);
    fields.push_back(text.substr(at, end - at));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  if (fields.size() < 13) return -1;  // utime and stime are fields 14 and 15: 11 and 12 after the name
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// ---- the conversation ----

struct Persona {
  std::string_view company, offer, customer, city;
};

constexpr std::string_view kNames[] = {"Ana",  "Ben",   "Chloe", "Diego", "Emeka", "Fatima", "Greta",
                                       "Hiro", "Ines",  "Jonas", "Kemal", "Lena",  "Mateo",  "Nadia",
                                       "Omar", "Priya", "Quinn", "Rosa",  "Sven",  "Yara",   "Zoe"};
constexpr Persona kPersonas[] = {
    {"Tidewrack Brewing", "small-batch craft beer", "locals who like trying new beers", "Portland"},
    {"Ledgerlight Accounting", "bookkeeping and tax filing", "freelancers and one-person agencies", "Leeds"},
    {"Tidy Tails Mobile Grooming", "dog grooming at the customer's door", "busy dog owners", "Austin"},
    {"Bloom & Root Florals", "wedding and event flowers", "couples planning a wedding", "Lisbon"},
    {"Northpeak Fitness", "small-group strength training", "office workers over forty", "Denver"},
    {"Copper Kettle Bakery", "sourdough and pastries", "neighbourhood families", "Dublin"},
    {"Brightside Tutoring", "maths tutoring online", "parents of secondary-school students", "Toronto"},
    {"Fernwood Candles", "hand-poured soy candles", "gift buyers", "Melbourne"},
    {"Pixel & Pine Design", "websites for local shops", "independent retailers", "Glasgow"},
};
constexpr std::string_view kPrices[] = {"$49", "$79", "$120", "$250 a month", "$35 per session", "$1,500"};
constexpr std::string_view kNewPrices[] = {"$59", "$99", "$140", "$300 a month", "$45 per session", "$1,800"};
constexpr std::string_view kPartners[] = {"Lani", "Freja", "Marco", "Ivy", "Tariq", "Noor"};

// Every user opens with these, in this order, so the coach has details to remember.
constexpr std::string_view kIntroductions[] = {
    "Hi, I'm {name} and I run {company} in {city}.",
    "We sell {offer}, mostly to {customer}.",
    "Our main package costs {price} right now.",
};
// The rest of the conversation, shuffled per user: each assistant's questions, a change of details,
// and questions that only memory can answer.
constexpr std::string_view kConversation[] = {
    "Can you assess how strong my brand is today?",
    "Where is my brand weakest: awareness, trust or loyalty?",
    "Give me a quick brand health checklist for {company}.",
    "How do I find my ideal customer?",
    "Help me describe {customer} as a buyer persona: what keeps them up at night?",
    "Which emotional triggers make {customer} choose a brand like mine?",
    "Fill in a brand canvas for {company}: purpose, vision, mission and values.",
    "What should my brand promise be?",
    "How do I position {company} against the bigger competitors in {city}?",
    "Write three Instagram captions that sell {offer}.",
    "Plan an email campaign for spring for {company}.",
    "How do I use the CAPTURE framework for a blog post about {offer}?",
    "Give me a landing page headline for {offer}.",
    "What are good core values for a small business like mine?",
    "Tell me my brand story in three sentences.",
    "How do I stay authentic while {company} grows?",
    "I've decided to raise the price to {new_price}.",
    "My co-founder {partner} is taking over our marketing from next month.",
    "What price did I settle on?",
    "What's my company called again?",
    "Who did I say my customers are?",
    "Who is handling our marketing now?",
    "Remind me what we said about my brand promise.",
    "How should I price my service compared to competitors?",
    "Is my logo important or should I focus on messaging first?",
    "What is the one thing I should do this week for my brand?",
    "Where do I start?",
    "{name} here again. What should I work on next?",
};

class Conversation {
 public:
  explicit Conversation(std::mt19937_64& random) : random_(random) {
    const auto pick = [&](size_t count) { return static_cast<size_t>(random_() % count); };
    const size_t price = pick(std::size(kPrices));
    const Persona& persona = kPersonas[pick(std::size(kPersonas))];
    values_ = {{"{name}", std::string(kNames[pick(std::size(kNames))])},
               {"{company}", std::string(persona.company)},
               {"{offer}", std::string(persona.offer)},
               {"{customer}", std::string(persona.customer)},
               {"{city}", std::string(persona.city)},
               {"{price}", std::string(kPrices[price])},
               {"{new_price}", std::string(kNewPrices[price])},
               {"{partner}", std::string(kPartners[pick(std::size(kPartners))])}};
    for (const auto line : kIntroductions) script_.push_back(line);
    append_shuffled_body();
  }

  std::string next() {
    if (position_ == script_.size()) append_shuffled_body();  // a long run goes round again
    return fill(script_[position_++]);
  }

 private:
  void append_shuffled_body() {
    std::vector<std::string_view> body(std::begin(kConversation), std::end(kConversation));
    std::shuffle(body.begin(), body.end(), random_);
    script_.insert(script_.end(), body.begin(), body.end());
  }

  std::string fill(std::string_view line) const {
    std::string text(line);
    for (const auto& [placeholder, value] : values_) {
      for (auto at = text.find(placeholder); at != std::string::npos;
           at = text.find(placeholder, at + value.size()))
        text.replace(at, placeholder.size(), value);
    }
    return text;
  }

  std::mt19937_64& random_;
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string_view> script_;
  size_t position_ = 0;
};

std::string chat_request(const Options& options, const std::string& user, const std::string& message,
                         bool streamed) {
  const std::string body = json{{"message", message}, {"stream", streamed}}.dump();
  std::string request = "POST /api/chat HTTP/1.1\r\nHost: " + options.host + ":" + options.port +
                        "\r\nX-Brandcoach-User: " + user + "\r\nContent-Type: application/json\r\n";
  if (streamed) request += "Accept: text/event-stream\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return request;
}

// ---- HTTP exchange ----

using ResponseParser = bhttp::response_parser<bhttp::string_body>;
constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();

std::string error_kind(const boost::system::error_code& ec, std::string_view stage) {
  if (ec == beast::error::timeout) return "timeout";
  return std::string(stage);
}

// What a streamed answer showed, event by event; `on_event` sees each event's name as it arrives.
struct StreamProgress {
  std::function<void(std::string_view)> on_event;
  std::optional<Clock::time_point> first_event, first_delta, done;
  bool error_event = false;
  std::string error_data;  // the `data:` of an `event: error`, to say what went wrong
};

// The first few hundred bytes of what a failure said, kept once per kind of failure for the report.
void remember_example(std::map<std::string, std::string>& examples, const std::string& kind,
                      std::string_view text) {
  if (!text.empty() && !examples.contains(kind)) examples[kind] = std::string(text.substr(0, 300));
}

// Takes every complete `event: NAME\ndata: …\n\n` block off the front of the body read so far; what is
// left is the start of an event still arriving. Dropping consumed text keeps a long stream's memory flat.
void take_events(std::string& body, StreamProgress& progress) {
  size_t end;
  while ((end = body.find("\n\n")) != std::string::npos) {
    std::string_view block(body.data(), end);
    std::string_view name = "message", data;
    for (size_t at = 0; at < block.size();) {
      auto line_end = block.find('\n', at);
      if (line_end == std::string_view::npos) line_end = block.size();
      const auto line = block.substr(at, line_end - at);
      if (line.starts_with("event:")) {
        name = line.substr(6);
        while (!name.empty() && (name.front() == ' ')) name.remove_prefix(1);
        while (!name.empty() && (name.back() == '\r')) name.remove_suffix(1);
      } else if (line.starts_with("data:")) {
        data = line.substr(5);
        if (data.starts_with(' ')) data.remove_prefix(1);  // the one optional space after the colon
      }
      at = line_end + 1;
    }
    const auto now = Clock::now();
    if (!progress.first_event) progress.first_event = now;
    if (name == "delta" && !progress.first_delta) progress.first_delta = now;
    if (name == "done") progress.done = now;
    if (name == "error") {
      progress.error_event = true;
      progress.error_data = std::string(data);
    }
    if (progress.on_event) progress.on_event(name);
    body.erase(0, end + 2);
  }
}

// Reads an event stream whose headers are in `parser` to its end. Returns the error that ended it early.
awaitable<boost::system::error_code> read_event_stream(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                                       ResponseParser& parser, StreamProgress& progress) {
  boost::system::error_code ec;
  while (!parser.is_done()) {
    co_await bhttp::async_read_some(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    take_events(parser.get().body(), progress);
    if (ec) break;
  }
  co_return ec;
}

// ---- turn mode ----

struct Recorder {
  std::vector<double> latency_ms, stream_latency_ms, first_event_ms, first_delta_ms;
  long turns = 0, streamed_turns = 0;
  std::map<std::string, long> errors;
  std::map<std::string, std::string> error_examples;
};

struct Window {
  Clock::time_point begins, ends;  // turns completed inside count
  bool contains(Clock::time_point t) const { return t >= begins && t <= ends; }
};

// One simulated user: one connection, kept open while the server allows, one turn after another.
awaitable<void> run_user(const Options& options, const Window& window, Clock::time_point stop_starting_at,
                         int index, Recorder& recorder, tcp::resolver::results_type endpoints) {
  auto executor = co_await asio::this_coro::executor;
  std::mt19937_64 random(std::hash<std::string>{}(options.run_id) ^ (0x9e3779b97f4a7c15ULL * (index + 1)));
  Conversation conversation(random);
  const std::string user = "load-" + options.run_id + "-" + std::to_string(index);
  std::uniform_real_distribution<double> unit(0, 1);
  asio::steady_timer timer(executor);
  boost::system::error_code ec;
  if (options.ramp_ms > 0 && options.users > 1) {
    timer.expires_after(std::chrono::milliseconds(options.ramp_ms * index / options.users));
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  }
  beast::tcp_stream stream(executor);
  beast::flat_buffer buffer;
  bool connected = false;
  for (int turn = 0;; ++turn) {
    if (options.turns_per_user > 0 ? turn >= options.turns_per_user : Clock::now() >= stop_starting_at) break;
    const bool streamed = unit(random) < options.stream_fraction;
    const std::string request = chat_request(options, user, conversation.next(), streamed);
    const auto started = Clock::now();
    stream.expires_at(started + std::chrono::milliseconds(options.timeout_ms));
    std::string failure, failure_detail;
    std::optional<Clock::time_point> finished;
    StreamProgress progress;
    // A kept connection the server has since closed fails before any answer: then connect once more.
    for (int attempt = 0; attempt < 2 && failure.empty() && !finished; ++attempt) {
      const bool reused = connected;
      if (!connected) {
        buffer.clear();
        co_await stream.async_connect(endpoints, asio::redirect_error(use_awaitable, ec));
        if (ec) {
          failure = error_kind(ec, "connect");
          failure_detail = ec.message();
          break;
        }
        stream.socket().set_option(tcp::no_delay(true), ec);
        connected = true;
      }
      co_await asio::async_write(stream, asio::buffer(request), asio::redirect_error(use_awaitable, ec));
      std::string_view stage = "write";
      ResponseParser parser;
      // A stream's events are dropped as they are read. (Not boost::none: Beast 1.74 then refuses every
      // Content-Length, comparing the length with an empty optional.)
      parser.body_limit(kNoBodyLimit);
      if (!ec) {
        stage = "read";
        co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      }
      if (ec) {
        stream.close();
        connected = false;
        const bool server_had_closed = ec == bhttp::error::end_of_stream ||
                                       ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
        if (!(reused && server_had_closed && attempt == 0)) {
          failure = error_kind(ec, stage);
          failure_detail = ec.message();
        }
        continue;
      }
      const unsigned status = parser.get().result_int();
      const bool event_stream = status == 200 && streamed;
      if (event_stream) {
        ec = co_await read_event_stream(stream, buffer, parser, progress);
      } else {
        co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      }
      if (!parser.keep_alive() || ec) {
        stream.close();
        connected = false;
      }
      if (status != 200) {
        failure = "http_" + std::to_string(status);
        failure_detail = parser.get().body();
      } else if (event_stream && progress.error_event) {
        failure = "stream_error_event";
        failure_detail = progress.error_data;
      } else if (event_stream && progress.done) {
        finished = *progress.done;  // the answer is complete at `done`, whatever follows
      } else if (ec) {
        failure = error_kind(ec, "read");
        failure_detail = ec.message();
      } else if (event_stream) {
        failure = "stream_without_done";
      } else {
        finished = Clock::now();
      }
    }
    const auto now = Clock::now();
    const bool counted = options.turns_per_user > 0 || window.contains(finished.value_or(now));
    if (!failure.empty() && (options.turns_per_user > 0 || now >= window.begins)) {
      ++recorder.errors[failure];
      remember_example(recorder.error_examples, failure, failure_detail);
    }
    if (finished && counted) {
      ++recorder.turns;
      recorder.latency_ms.push_back(ms_between(started, *finished));
      if (streamed) {
        ++recorder.streamed_turns;
        recorder.stream_latency_ms.push_back(ms_between(started, *finished));
        if (progress.first_event)
          recorder.first_event_ms.push_back(ms_between(started, *progress.first_event));
        if (progress.first_delta)
          recorder.first_delta_ms.push_back(ms_between(started, *progress.first_delta));
      }
    }
    if (options.think_ms > 0) {
      // Jittered, so users that started together drift apart as real ones do.
      timer.expires_after(
          std::chrono::milliseconds(static_cast<long>(options.think_ms * (0.5 + unit(random)))));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }
  stream.close();
}

// ---- hold mode ----

struct HoldCounters {
  std::atomic<long> launched{0}, open{0}, answering{0}, completed{0}, settled{0};
  std::mutex mutex;
  std::map<std::string, long> failures;                 // guarded by mutex
  std::map<std::string, std::string> failure_examples;  // guarded by mutex
  std::vector<double> headers_ms, first_delta_ms;       // guarded by mutex

  void fail(const std::string& kind, std::string_view detail) {
    std::lock_guard lock(mutex);
    ++failures[kind];
    remember_example(failure_examples, kind, detail);
  }
};

// One streamed turn, held open by the slow model until `event: done` or the deadline.
awaitable<void> hold_one_stream(const Options& options, int index, Clock::time_point deadline,
                                HoldCounters& counters, tcp::resolver::results_type endpoints) {
  auto executor = co_await asio::this_coro::executor;
  std::mt19937_64 random(std::hash<std::string>{}(options.run_id) ^ (0x9e3779b97f4a7c15ULL * (index + 1)));
  Conversation conversation(random);
  const std::string request = chat_request(options, "load-" + options.run_id + "-" + std::to_string(index),
                                           conversation.next(), true);
  beast::tcp_stream stream(executor);
  beast::flat_buffer buffer;
  stream.expires_at(deadline);
  const auto started = Clock::now();
  boost::system::error_code ec;
  bool open = false, answering = false;
  std::string failure, failure_detail;
  co_await stream.async_connect(endpoints, asio::redirect_error(use_awaitable, ec));
  if (ec) {
    failure = error_kind(ec, "connect");
    failure_detail = ec.message();
  }
  if (failure.empty()) {
    co_await asio::async_write(stream, asio::buffer(request), asio::redirect_error(use_awaitable, ec));
    ResponseParser parser;
    parser.body_limit(kNoBodyLimit);
    if (!ec)
      co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      failure = error_kind(ec, "read");
      failure_detail = ec.message();
    } else if (parser.get().result_int() != 200) {
      failure = "http_" + std::to_string(parser.get().result_int());
      // The error's JSON body, for the report; the deadline still bounds the read.
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      failure_detail = parser.get().body();
    } else {
      open = true;
      ++counters.open;
      const auto headers_at = Clock::now();
      StreamProgress progress;
      progress.on_event = [&](std::string_view name) {
        if (name == "delta" && !answering) {
          answering = true;
          ++counters.answering;
        }
      };
      ec = co_await read_event_stream(stream, buffer, parser, progress);
      {
        std::lock_guard lock(counters.mutex);
        counters.headers_ms.push_back(ms_between(started, headers_at));
        if (progress.first_delta)
          counters.first_delta_ms.push_back(ms_between(started, *progress.first_delta));
      }
      if (progress.error_event) {
        failure = "stream_error_event";
        failure_detail = progress.error_data;
      } else if (progress.done) {
        ++counters.completed;
      } else {
        failure = ec ? error_kind(ec, "read") : "stream_without_done";
        failure_detail = ec.message();
      }
    }
  }
  if (open) --counters.open;
  if (answering) --counters.answering;
  if (!failure.empty()) counters.fail(failure, failure_detail);
  ++counters.settled;
  stream.close();
}

// ---- reporting ----

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

json distribution(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  const auto round2 = [](double v) { return std::round(v * 100) / 100; };
  return {{"count", samples.size()},
          {"p50", round2(percentile(samples, 0.50))},
          {"p95", round2(percentile(samples, 0.95))},
          {"p99", round2(percentile(samples, 0.99))},
          {"max", round2(samples.empty() ? 0 : samples.back())}};
}

std::string describe(const json& d) {
  char line[160];
  std::snprintf(line, sizeof line, "p50 %.1f  p95 %.1f  p99 %.1f  max %.1f ms (n=%ld)",
                d["p50"].get<double>(), d["p95"].get<double>(), d["p99"].get<double>(),
                d["max"].get<double>(), d["count"].get<long>());
  return line;
}

std::string describe_errors(const json& errors) {
  std::string out;
  for (const auto& [kind, count] : errors.items())
    out += (out.empty() ? "" : ", ") + kind + " " + count.dump();
  return out.empty() ? "none" : out;
}

void print_report(const json& report, bool json_output) {
  if (json_output) {
    // Error examples quote the server; a stray invalid byte must not cost the whole report.
    std::printf("%s\n", report.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return;
  }
  if (report["mode"] == "turns") {
    std::printf("users %d, streamed fraction %.2f, window %.1f s\n", report["users"].get<int>(),
                report["stream_fraction"].get<double>(), report["window_s"].get<double>());
    std::printf("turns completed   : %ld (%ld streamed)\n", report["turns"].get<long>(),
                report["streamed_turns"].get<long>());
    std::printf("turns/s           : %.1f\n", report["turns_per_s"].get<double>());
    std::printf("latency           : %s\n", describe(report["latency_ms"]).c_str());
    if (report["streamed_turns"].get<long>() > 0) {
      std::printf("stream first event: %s\n", describe(report["stream_first_event_ms"]).c_str());
      std::printf("stream first delta: %s\n", describe(report["stream_first_delta_ms"]).c_str());
    }
    std::printf("errors            : %s\n", describe_errors(report["errors"]).c_str());
    for (const auto& [kind, text] : report["error_examples"].items())
      std::printf("  e.g. %s: %s\n", kind.c_str(), text.get<std::string>().c_str());
  } else {
    std::printf("streams requested : %d\n", report["streams_requested"].get<int>());
    std::printf("peak open at once : %ld (model answering %ld of them)\n", report["peak_open"].get<long>(),
                report["answering_at_peak"].get<long>());
    std::printf("most answering    : %ld at once (a delta arrived, no done yet)\n",
                report["peak_answering"].get<long>());
    std::printf("completed         : %ld\n", report["completed"].get<long>());
    std::printf("time to headers   : %s\n", describe(report["headers_ms"]).c_str());
    std::printf("time to 1st delta : %s\n", describe(report["first_delta_ms"]).c_str());
    std::printf("failures          : %s\n", describe_errors(report["failures"]).c_str());
    for (const auto& [kind, text] : report["failure_examples"].items())
      std::printf("  e.g. %s: %s\n", kind.c_str(), text.get<std::string>().c_str());
  }
  if (report.contains("server_rss_bytes")) {
    std::printf("server RSS        : %.1f MiB%s, peak (VmHWM) %.1f MiB\n",
                report["server_rss_bytes"].get<double>() / 1048576.0,
                report["mode"] == "turns" ? " at the end" : " at the peak",
                report["server_rss_hwm_bytes"].get<double>() / 1048576.0);
  }
  if (report.contains("server_cpu_cores")) {
    std::printf("CPU (cores busy)  : server %.2f, loadgen %.2f\n", report["server_cpu_cores"].get<double>(),
                report["loadgen_cpu_cores"].get<double>());
  }
  std::fflush(stdout);
}

// Runs each io_context on a thread of its own until it has no work left; an exception in one is reported.
void run_contexts(std::vector<std::unique_ptr<asio::io_context>>& contexts) {
  std::vector<std::thread> threads;
  for (auto& context : contexts) {
    threads.emplace_back([&context] {
      try {
        context->run();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: io thread failed: %s\n", e.what());
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

// Reports an exception escaping a simulated user instead of ending the run.
auto report_failure(const char* what) {
  return [what](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "loadgen: %s failed: %s\n", what, e.what());
    }
  };
}

json run_turns(const Options& options, const tcp::resolver::results_type& endpoints) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<Recorder> recorders(static_cast<size_t>(options.threads));
  for (int i = 0; i < options.threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  const auto start = Clock::now();
  Window window{
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.warmup_s)),
      Clock::time_point::max()};
  if (options.turns_per_user == 0)
    window.ends = window.begins + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options.duration_s));
  for (int i = 0; i < options.users; ++i) {
    const size_t worker = static_cast<size_t>(i % options.threads);
    asio::co_spawn(*contexts[worker], run_user(options, window, window.ends, i, recorders[worker], endpoints),
                   report_failure("a simulated user"));
  }
  // CPU use over the window: both processes share this machine's cores.
  double server_cpu_start = -1, own_cpu_start = 0, server_cpu_end = -1, own_cpu_end = 0;
  // Named, not a temporary: a coroutine lambda reads its captures through the closure, which must outlive it.
  const auto sample_cpu = [&]() -> awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor, window.begins);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    server_cpu_start = process_cpu_seconds(options.server_pid);
    own_cpu_start = own_cpu_seconds();
    if (window.ends == Clock::time_point::max()) co_return;
    timer.expires_at(window.ends);
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    server_cpu_end = process_cpu_seconds(options.server_pid);
    own_cpu_end = own_cpu_seconds();
  };
  asio::co_spawn(*contexts[0], sample_cpu(), report_failure("the CPU sampler"));
  run_contexts(contexts);
  const auto finished = Clock::now();

  Recorder all;
  for (auto& r : recorders) {
    all.turns += r.turns;
    all.streamed_turns += r.streamed_turns;
    for (auto field : {&Recorder::latency_ms, &Recorder::stream_latency_ms, &Recorder::first_event_ms,
                       &Recorder::first_delta_ms})
      (all.*field).insert((all.*field).end(), (r.*field).begin(), (r.*field).end());
    for (const auto& [kind, count] : r.errors) all.errors[kind] += count;
    for (const auto& [kind, text] : r.error_examples) remember_example(all.error_examples, kind, text);
  }
  const double window_s = options.turns_per_user > 0 ? std::chrono::duration<double>(finished - start).count()
                                                     : options.duration_s;
  json report = {{"mode", "turns"},
                 {"users", options.users},
                 {"run_id", options.run_id},
                 {"stream_fraction", options.stream_fraction},
                 {"think_ms", options.think_ms},
                 {"window_s", window_s},
                 {"turns", all.turns},
                 {"streamed_turns", all.streamed_turns},
                 {"turns_per_s", window_s > 0 ? std::round(all.turns / window_s * 10) / 10 : 0.0},
                 {"latency_ms", distribution(all.latency_ms)},
                 {"stream_latency_ms", distribution(all.stream_latency_ms)},
                 {"stream_first_event_ms", distribution(all.first_event_ms)},
                 {"stream_first_delta_ms", distribution(all.first_delta_ms)},
                 {"errors", all.errors},
                 {"error_examples", all.error_examples}};
  if (options.server_pid > 0) {
    report["server_rss_bytes"] = process_memory_bytes(options.server_pid, "VmRSS:");
    report["server_rss_hwm_bytes"] = process_memory_bytes(options.server_pid, "VmHWM:");
    if (server_cpu_start >= 0 && server_cpu_end >= 0 && options.duration_s > 0) {
      report["server_cpu_cores"] =
          std::round((server_cpu_end - server_cpu_start) / options.duration_s * 100) / 100;
      report["loadgen_cpu_cores"] =
          std::round((own_cpu_end - own_cpu_start) / options.duration_s * 100) / 100;
    }
  }
  return report;
}

json run_hold(const Options& options, const tcp::resolver::results_type& endpoints) {
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int i = 0; i < options.threads; ++i) contexts.push_back(std::make_unique<asio::io_context>(1));
  HoldCounters counters;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options.hold_timeout_s));
  long peak_open = 0, answering_at_peak = 0, peak_answering = 0;
  long long rss_at_peak = 0, max_rss = 0;
  // Launches the streams in batches; contexts other than the first are kept alive until all are launched.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (size_t i = 1; i < contexts.size(); ++i) guards.push_back(asio::make_work_guard(*contexts[i]));
  // Named, not temporaries: a coroutine lambda reads its captures through the closure, which must outlive it.
  const auto launch = [&]() -> awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    for (int launched = 0; launched < options.hold_streams;) {
      for (int i = 0; i < options.ramp_batch && launched < options.hold_streams; ++i, ++launched) {
        auto& context = *contexts[static_cast<size_t>(launched % options.threads)];
        asio::co_spawn(context, hold_one_stream(options, launched, deadline, counters, endpoints),
                       report_failure("a held stream"));
        ++counters.launched;
      }
      timer.expires_after(std::chrono::milliseconds(options.ramp_interval_ms));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    guards.clear();
  };
  // Samples how many streams are open; the server's memory is read at each new peak.
  const auto sample = [&]() -> awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    boost::system::error_code ec;
    while (counters.settled < options.hold_streams) {
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
      const long open = counters.open;
      const long long rss = process_memory_bytes(options.server_pid, "VmRSS:");
      max_rss = std::max(max_rss, rss);
      peak_answering = std::max(peak_answering, counters.answering.load());
      if (open > peak_open) {
        peak_open = open;
        answering_at_peak = counters.answering;
        rss_at_peak = rss;
      }
    }
  };
  asio::co_spawn(*contexts[0], launch(), report_failure("the stream launcher"));
  asio::co_spawn(*contexts[0], sample(), report_failure("the sampler"));
  run_contexts(contexts);

  json report = {{"mode", "hold"},
                 {"run_id", options.run_id},
                 {"streams_requested", options.hold_streams},
                 {"peak_open", peak_open},
                 {"answering_at_peak", answering_at_peak},
                 {"peak_answering", peak_answering},
                 {"completed", counters.completed.load()},
                 {"headers_ms", distribution(counters.headers_ms)},
                 {"first_delta_ms", distribution(counters.first_delta_ms)},
                 {"failures", counters.failures},
                 {"failure_examples", counters.failure_examples}};
  if (options.server_pid > 0) {
    report["server_rss_bytes"] = rss_at_peak;
    report["server_rss_max_sampled_bytes"] = max_rss;
    report["server_rss_hwm_bytes"] = process_memory_bytes(options.server_pid, "VmHWM:");
  }
  return report;
}

// ---- command line ----

bool parse_url(const std::string& url, Options& options) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) return false;
  std::string authority = url.substr(kScheme.size());
  authority = authority.substr(0, authority.find('/'));
  const auto colon = authority.rfind(':');
  options.host = colon == std::string::npos ? authority : authority.substr(0, colon);
  options.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  return !options.host.empty() && !options.port.empty();
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--json") {
      options.json_output = true;
      continue;
    }
    if (flag == "--help" || flag == "-h" || i + 1 >= argc) return false;
    const std::string value = argv[++i];
    char* end = nullptr;
    const double number = std::strtod(value.c_str(), &end);
    const bool numeric = end != value.c_str() && *end == '\0' && number >= 0;
    const auto whole = [&](int& field) {
      field = static_cast<int>(number);
      return numeric && number == std::floor(number) && number <= 1e7;
    };
    bool valid = true;
    if (flag == "--url")
      valid = parse_url(value, options);
    else if (flag == "--run-id")
      options.run_id = value;
    else if (flag == "--users")
      valid = whole(options.users) && options.users > 0;
    else if (flag == "--duration")
      valid = numeric && (options.duration_s = number) > 0;
    else if (flag == "--turns-per-user")
      valid = whole(options.turns_per_user);
    else if (flag == "--warmup")
      valid = numeric && ((options.warmup_s = number), true);
    else if (flag == "--stream-fraction")
      valid = numeric && (options.stream_fraction = number) <= 1;
    else if (flag == "--think-ms")
      valid = whole(options.think_ms);
    else if (flag == "--ramp-ms")
      valid = whole(options.ramp_ms);
    else if (flag == "--timeout-ms")
      valid = whole(options.timeout_ms) && options.timeout_ms > 0;
    else if (flag == "--threads")
      valid = whole(options.threads) && options.threads > 0 && options.threads <= 64;
    else if (flag == "--server-pid")
      valid = numeric && (options.server_pid = static_cast<long>(number)) > 0;
    else if (flag == "--hold-streams")
      valid = whole(options.hold_streams) && options.hold_streams > 0;
    else if (flag == "--ramp-batch")
      valid = whole(options.ramp_batch) && options.ramp_batch > 0;
    else if (flag == "--ramp-interval-ms")
      valid = whole(options.ramp_interval_ms);
    else if (flag == "--hold-timeout")
      valid = numeric && (options.hold_timeout_s = number) > 0;
    else
      valid = false;
    if (!valid) {
      std::fprintf(stderr, "loadgen: bad value for %s: %s\n", argv[i - 1], value.c_str());
      return false;
    }
  }
  return true;
}

// Every simulated user holds a descriptor: take all the kernel allows.
long raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return -1;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<long>(limit.rlim_cur);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    std::fprintf(
        stderr,
        "usage: loadgen [--url http://127.0.0.1:8080] [--users 100] [--duration 30 | --turns-per-user K]\n"
        "               [--warmup 5] [--stream-fraction 0] [--think-ms 0] [--ramp-ms 1000]\n"
        "               [--timeout-ms 60000] [--threads 1] [--run-id ID] [--server-pid PID] [--json]\n"
        "       loadgen --hold-streams N [--ramp-batch 500] [--ramp-interval-ms 100] [--hold-timeout 120]"
        " ...\n");
    return 2;
  }
  const long descriptors = raise_descriptor_limit();
  const long needed = std::max(options.users, options.hold_streams) + 64;
  if (descriptors >= 0 && descriptors < needed)
    std::fprintf(stderr, "loadgen: warning: %ld file descriptors allowed, %ld needed\n", descriptors, needed);
  if (options.run_id.empty()) {
    std::random_device entropy;
    char id[16];
    std::snprintf(id, sizeof id, "%08x", entropy());
    options.run_id = id;  // fresh users for every run: no thread carries over from an earlier one
  }
  try {
    asio::io_context resolver_context;
    tcp::resolver resolver(resolver_context);
    const auto endpoints = resolver.resolve(options.host, options.port);
    const json report =
        options.hold_streams > 0 ? run_hold(options, endpoints) : run_turns(options, endpoints);
    print_report(report, options.json_output);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loadgen: %s\n", e.what());
    return 1;
  }
  return 0;
}
