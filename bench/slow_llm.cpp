// slow_llm: a fake OpenAI-compatible Chat Completions server that answers slowly, so a load test can
// hold many streamed chat turns open at once (bench/run-load-bench streams).
//
// POST …/chat/completions with "stream": true answers text/event-stream: a role chunk at once, then one
// `chat.completion.chunk` carrying "word " every --interval-ms for --seconds, a finish chunk, a usage
// chunk and `data: [DONE]` (the shapes brandcoach's `chat` provider reads). Without "stream" it answers
// one `chat.completion` after the same delay. Connections are kept alive, one coroutine each on a
// single-threaded io_context by default: a held stream costs a timer and a socket, nothing more.
//
// It prints "slow_llm listening on http://HOST:PORT/v1" once ready, a status line every
// --report-ms while anything changes, and on SIGINT/SIGTERM the peak of concurrent streams.
//
// Usage: slow_llm [--host 127.0.0.1] [--port 0] [--interval-ms 500] [--seconds 20] [--threads 1]
//                 [--report-ms 5000]

// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>; it must come first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
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

struct Options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int interval_ms = 500;
  int seconds = 20;
  int threads = 1;
  int report_ms = 5000;
};

// Shared by every connection; atomics because --threads may run several io_context threads.
struct Counters {
  std::atomic<long> open_connections{0};
  std::atomic<long> open_streams{0};
  std::atomic<long> peak_streams{0};
  std::atomic<long> streams_finished{0};
  std::atomic<long> streams_cut{0};  // the client went away mid-answer (brandcoach cancels on disconnect)
  std::atomic<long> plain_answers{0};

  void stream_opened() {
    const long now = ++open_streams;
    long peak = peak_streams.load();
    while (now > peak && !peak_streams.compare_exchange_weak(peak, now)) {
    }
  }
};

constexpr std::string_view kWords[] = {"Your",   "brand",    "promise", "is",    "what", "customers",
                                       "repeat", "to",       "friends", "when",  "you",  "are",
                                       "not",    "in",       "the",     "room;", "keep", "it",
                                       "short,", "specific", "and",     "true.", "[1]",  "Next:"};

std::string chunk_event(const json& delta, const json& finish_reason) {
  const json chunk = {{"id", "chatcmpl-slow"},
                      {"object", "chat.completion.chunk"},
                      {"created", 0},
                      {"model", "slow"},
                      {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish_reason}}}}};
  return "data: " + chunk.dump() + "\n\n";
}

int content_chunk_count(const Options& options) {
  return std::max(1, options.seconds * 1000 / std::max(1, options.interval_ms));
}

json usage_for(int completion_tokens) {
  return {{"prompt_tokens", 100},
          {"completion_tokens", completion_tokens},
          {"total_tokens", 100 + completion_tokens}};
}

template <class Body>
void set_common_headers(bhttp::response<Body>& response, bool keep_alive) {
  response.set(bhttp::field::server, "slow_llm");
  response.keep_alive(keep_alive);
}

awaitable<bool> write_json(beast::tcp_stream& stream, bhttp::status status, const json& body,
                           unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> response{status, version};
  set_common_headers(response, keep_alive);
  response.set(bhttp::field::content_type, "application/json");
  response.body() = body.dump();
  response.prepare_payload();
  boost::system::error_code ec;
  co_await bhttp::async_write(stream, response, asio::redirect_error(use_awaitable, ec));
  co_return !ec;
}

// Sends the streamed answer; false when the client went away (the connection is then closed).
awaitable<bool> write_stream(beast::tcp_stream& stream, const Options& options, Counters& counters,
                             unsigned version, bool keep_alive) {
  bhttp::response<bhttp::empty_body> response{bhttp::status::ok, version};
  set_common_headers(response, keep_alive);
  response.set(bhttp::field::content_type, "text/event-stream");
  response.set(bhttp::field::cache_control, "no-cache");
  response.chunked(true);
  bhttp::response_serializer<bhttp::empty_body> serializer{response};
  boost::system::error_code ec;
  co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return false;

  counters.stream_opened();
  asio::steady_timer timer(stream.get_executor());
  const int chunks = content_chunk_count(options);
  bool client_present = true;
  std::string frame = chunk_event({{"role", "assistant"}, {"content", ""}}, nullptr);
  for (int i = 0; i <= chunks + 1 && client_present; ++i) {
    co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(frame)),
                               asio::redirect_error(use_awaitable, ec));
    client_present = !ec;
    if (i == chunks + 1 || !client_present) break;
    if (i < chunks) {
      timer.expires_after(std::chrono::milliseconds(options.interval_ms));
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
      const std::string_view word = kWords[static_cast<size_t>(i) % std::size(kWords)];
      frame = chunk_event({{"content", std::string(word) + " "}}, nullptr);
    } else {
      // The end, as OpenAI sends it with stream_options.include_usage: finish, usage, [DONE].
      frame = chunk_event(json::object(), "stop");
      frame += "data: " +
               json{{"id", "chatcmpl-slow"},
                    {"object", "chat.completion.chunk"},
                    {"choices", json::array()},
                    {"usage", usage_for(chunks)}}
                   .dump() +
               "\n\n";
      frame += "data: [DONE]\n\n";
    }
  }
  if (client_present) {
    co_await asio::async_write(stream, bhttp::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
    client_present = !ec;
  }
  --counters.open_streams;
  ++(client_present ? counters.streams_finished : counters.streams_cut);
  co_return client_present;
}

awaitable<bool> write_plain_answer(beast::tcp_stream& stream, const Options& options, Counters& counters,
                                   unsigned version, bool keep_alive) {
  asio::steady_timer timer(stream.get_executor());
  timer.expires_after(std::chrono::seconds(options.seconds));
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
  const int chunks = content_chunk_count(options);
  std::string text;
  for (int i = 0; i < chunks; ++i)
    text += std::string(kWords[static_cast<size_t>(i) % std::size(kWords)]) + " ";
  const json body = {
      {"id", "chatcmpl-slow"},
      {"object", "chat.completion"},
      {"created", 0},
      {"model", "slow"},
      {"choices",
       {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"finish_reason", "stop"}}}},
      {"usage", usage_for(chunks)}};
  ++counters.plain_answers;
  co_return co_await write_json(stream, bhttp::status::ok, body, version, keep_alive);
}

awaitable<void> serve_connection(tcp::socket socket, const Options& options, Counters& counters) {
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);  // each chunk leaves at once, as a real SSE server's does
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  while (true) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);  // prompts carry knowledge passages and history
    co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    const auto& request = parser.get();
    const bool keep_alive = request.keep_alive();
    const std::string_view target(request.target().data(), request.target().size());
    // Answers are built as named locals: g++ 12 mishandles non-trivial temporaries inside co_await.
    bool written = false;
    if (request.method() == bhttp::verb::post && target.find("/chat/completions") != std::string_view::npos) {
      const json body = json::parse(request.body(), nullptr, false);
      if (!body.is_object()) {
        const json error = {
            {"error", {{"message", "the body is not a JSON object"}, {"type", "invalid_request_error"}}}};
        written =
            co_await write_json(stream, bhttp::status::bad_request, error, request.version(), keep_alive);
      } else if (body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>()) {
        written = co_await write_stream(stream, options, counters, request.version(), keep_alive);
      } else {
        written = co_await write_plain_answer(stream, options, counters, request.version(), keep_alive);
      }
    } else if (request.method() == bhttp::verb::get && target.ends_with("/models")) {
      const json models = {{"object", "list"}, {"data", {{{"id", "slow"}, {"object", "model"}}}}};
      written = co_await write_json(stream, bhttp::status::ok, models, request.version(), keep_alive);
    } else {
      const json error = {
          {"error", {{"message", "slow_llm serves POST /v1/chat/completions"}, {"type", "not_found"}}}};
      written = co_await write_json(stream, bhttp::status::not_found, error, request.version(), keep_alive);
    }
    if (!written || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
}

awaitable<void> accept_connections(tcp::acceptor& acceptor, std::vector<asio::io_context*> contexts,
                                   const Options& options, Counters& counters) {
  size_t next_context = 0;
  while (true) {
    boost::system::error_code ec;
    asio::io_context& target = *contexts[next_context++ % contexts.size()];
    tcp::socket socket = co_await acceptor.async_accept(target, asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors (EMFILE) is the usual cause under load: say so once in a while, keep going.
      static std::atomic<long> accept_failures{0};
      if (accept_failures++ % 1000 == 0)
        std::fprintf(stderr, "slow_llm: accept failed: %s\n", ec.message().c_str());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    ++counters.open_connections;
    asio::co_spawn(target, serve_connection(std::move(socket), options, counters),
                   [&counters](std::exception_ptr error) {
                     --counters.open_connections;
                     if (!error) return;
                     try {
                       std::rethrow_exception(error);
                     } catch (const std::exception& e) {
                       std::fprintf(stderr, "slow_llm: connection failed: %s\n", e.what());
                     }
                   });
  }
}

void print_status(const char* label, const Counters& counters) {
  std::printf(
      "slow_llm %s: connections %ld, streams open %ld (peak %ld), finished %ld, cut by client %ld, plain "
      "answers %ld\n",
      label, counters.open_connections.load(), counters.open_streams.load(), counters.peak_streams.load(),
      counters.streams_finished.load(), counters.streams_cut.load(), counters.plain_answers.load());
  std::fflush(stdout);
}

awaitable<void> report_periodically(const Options& options, const Counters& counters) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  long last_signature = -1;
  while (true) {
    timer.expires_after(std::chrono::milliseconds(options.report_ms));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    const long signature = counters.open_connections + counters.open_streams * 7 +
                           counters.streams_finished * 13 + counters.streams_cut * 17 +
                           counters.plain_answers * 19;
    if (signature != last_signature) print_status("status", counters);
    last_signature = signature;
  }
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h" || i + 1 >= argc) return false;
    const std::string value = argv[++i];
    char* end = nullptr;
    const long number = std::strtol(value.c_str(), &end, 10);
    const bool numeric = end != value.c_str() && *end == '\0' && number >= 0;
    if (flag == "--host") {
      options.host = value;
    } else if (flag == "--port" && numeric && number < 65536) {
      options.port = static_cast<unsigned short>(number);
    } else if (flag == "--interval-ms" && numeric && number > 0) {
      options.interval_ms = static_cast<int>(number);
    } else if (flag == "--seconds" && numeric) {
      options.seconds = static_cast<int>(number);
    } else if (flag == "--threads" && numeric && number > 0 && number <= 64) {
      options.threads = static_cast<int>(number);
    } else if (flag == "--report-ms" && numeric && number > 0) {
      options.report_ms = static_cast<int>(number);
    } else {
      return false;
    }
  }
  return true;
}

// Every held stream is a descriptor: take all the kernel allows.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse_options(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: slow_llm [--host 127.0.0.1] [--port 0] [--interval-ms 500] [--seconds 20] "
                 "[--threads 1] [--report-ms 5000]\n");
    return 2;
  }
  raise_descriptor_limit();
  // Declared before the contexts: connection frames destroyed with them still point at it.
  Counters counters;
  try {
    asio::io_context acceptor_context(1);
    std::vector<std::unique_ptr<asio::io_context>> extra_contexts;
    std::vector<asio::io_context*> contexts{&acceptor_context};
    for (int i = 1; i < options.threads; ++i) {
      extra_contexts.push_back(std::make_unique<asio::io_context>(1));
      contexts.push_back(extra_contexts.back().get());
    }
    const tcp::endpoint endpoint(asio::ip::make_address(options.host), options.port);
    tcp::acceptor acceptor(acceptor_context, endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(acceptor_context, accept_connections(acceptor, contexts, options, counters),
                   asio::detached);
    asio::co_spawn(acceptor_context, report_periodically(options, counters), asio::detached);
    asio::signal_set signals(acceptor_context, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int) {
      for (auto* context : contexts) context->stop();
    });
    std::printf("slow_llm listening on http://%s:%u/v1 (a word every %d ms for %d s)\n", options.host.c_str(),
                acceptor.local_endpoint().port(), options.interval_ms, options.seconds);
    std::fflush(stdout);
    std::vector<std::thread> threads;
    for (auto& context : extra_contexts) {
      // Keeps an idle extra context running until stop().
      threads.emplace_back([&context] {
        auto guard = asio::make_work_guard(*context);
        try {
          context->run();
        } catch (const std::exception& e) {
          std::fprintf(stderr, "slow_llm: io thread failed: %s\n", e.what());
        }
      });
    }
    acceptor_context.run();
    for (auto& thread : threads) thread.join();
    print_status("final", counters);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "slow_llm: %s\n", e.what());
    return 1;
  }
  return 0;
}
