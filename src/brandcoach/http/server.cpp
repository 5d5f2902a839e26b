// Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>; it must come first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

Status check_bind_address(std::string_view host, bool authenticated) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(std::string(host), ec);
  if (ec)
    return Error::config("server.host must be an IP address (got '" + std::string(host) + "')",
                         "server.host");
  if (!address.is_loopback() && !authenticated) {
    return Error::config("refusing to listen on " + std::string(host) +
                             ": without authentication (auth.required, auth.jwt_secret or "
                             "auth.jwt_public_key_file) brandcoach serves loopback addresses only",
                         "server.host");
  }
  return ok();
}

namespace {

using Clock = std::chrono::steady_clock;

// Blocking work runs on the worker pool; co_spawn resumes the awaiting coroutine on its own executor.
// The function travels as a coroutine parameter so it lives in the frame, not in a temporary.
awaitable<Response> call(std::function<Response()> fn) {
  co_return fn();
}

// Takes the work by reference: g++ 12 mishandles non-trivial temporaries inside co_await expressions,
// so callers build the function as a named local first.
awaitable<Response> run_blocking(asio::thread_pool& pool, std::function<Response()>& work) {
  return asio::co_spawn(pool, call(std::move(work)), use_awaitable);
}

// Hands SSE frames from the worker running a turn to the coroutine writing them. The worker
// appends and pokes the timer; the writer sleeps on the timer until there is something to send.
class EventQueue : public std::enable_shared_from_this<EventQueue> {
 public:
  explicit EventQueue(asio::any_io_executor executor) : executor_(executor), wake_(executor) {
    wake_.expires_at(asio::steady_timer::time_point::max());
  }

  void push(std::string frame) {
    {
      std::lock_guard lock(mutex_);
      pending_ += frame;
    }
    poke();
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    poke();
  }

  // Everything queued so far; empty only once the queue is closed and drained.
  awaitable<std::string> next() {
    while (true) {
      std::string frames;
      bool closed = false;
      {
        std::lock_guard lock(mutex_);
        frames = std::exchange(pending_, {});
        closed = closed_;
      }
      if (!frames.empty() || closed) co_return frames;
      boost::system::error_code ec;
      co_await wake_.async_wait(asio::redirect_error(use_awaitable, ec));
      wake_.expires_at(asio::steady_timer::time_point::max());
    }
  }

 private:
  void poke() {
    asio::post(executor_, [self = shared_from_this()] { self->wake_.cancel(); });
  }

  asio::any_io_executor executor_;
  asio::steady_timer wake_;  // used only on executor_
  std::mutex mutex_;
  std::string pending_;  // guarded by mutex_
  bool closed_ = false;  // guarded by mutex_
};

std::string header_value(const bhttp::request<bhttp::string_body>& req, std::string_view name) {
  auto it = req.find(beast::string_view(name.data(), name.size()));
  if (it == req.end()) return {};
  return std::string(it->value());
}

// TLS 1.2 and 1.3 only (1.3 is negotiated whenever the client has it); for 1.2, forward-secret AEAD
// suites only. TLS 1.3's own suites are all modern, so OpenSSL's defaults stand there.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Result<std::unique_ptr<asio::ssl::context>> tls_context(const ServerOptions& options) {
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return Error::config("TLS needs both a certificate (--tls-cert) and its private key (--tls-key)",
                         options.tls_cert_file.empty() ? "server.tls_cert_file" : "server.tls_key_file");
  }
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(context->native_handle(), kTls12Ciphers);
  boost::system::error_code ec;
  context->use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    return Error::config(fmt::format("cannot use {} as the TLS certificate (PEM chain): {}",
                                     options.tls_cert_file, ec.message()),
                         "server.tls_cert_file");
  }
  context->use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec);
  if (ec || SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Error::config(fmt::format("cannot use {} as the TLS private key of that certificate (PEM){}",
                                     options.tls_key_file, ec ? ": " + ec.message() : ": it does not match"),
                         "server.tls_key_file");
  }
  return context;
}

std::string peer_address(beast::tcp_stream& stream) {
  boost::system::error_code ec;
  const auto endpoint = stream.socket().remote_endpoint(ec);
  return ec ? std::string("unknown") : endpoint.address().to_string();
}

// The CORS headers for an allowed origin; none for a request without Origin or from elsewhere.
std::vector<std::pair<std::string, std::string>> cors_headers(const std::vector<std::string>& allowed,
                                                              const std::string& origin) {
  if (origin.empty() || std::find(allowed.begin(), allowed.end(), origin) == allowed.end()) return {};
  return {{"Access-Control-Allow-Origin", origin},
          {"Vary", "Origin"},
          {"Access-Control-Expose-Headers", "X-Request-Id, Retry-After"}};
}

}  // namespace

struct Server::Impl {
  // A live connection, so shutdown can close the idle ones: plain TCP, or TLS over it.
  struct Connection {
    Connection(tcp::socket socket, asio::ssl::context* tls_context) {
      if (tls_context) {
        tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), *tls_context);
      } else {
        plain = std::make_unique<beast::tcp_stream>(std::move(socket));
      }
    }
    beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    std::atomic<bool> idle{true};  // waiting for (the rest of) a request, nothing acknowledged
  };

  Impl(ServerOptions options, Services services)
      : options(std::move(options)),
        services(services),
        io(static_cast<int>(this->options.io_threads)),
        pool(static_cast<size_t>(this->options.workers > 0
                                     ? this->options.workers
                                     : std::max(2u, std::thread::hardware_concurrency()))),
        acceptor(io),
        signals(io, SIGINT, SIGTERM),
        grace_timer(io) {}

  ServerOptions options;
  Services services;
  std::unique_ptr<asio::ssl::context> tls;  // set by listen() when a certificate is configured
  asio::io_context io;
  asio::thread_pool pool;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer grace_timer;
  std::atomic<bool> draining{false};
  std::mutex connections_mutex;
  std::unordered_set<std::shared_ptr<Connection>> connections;  // guarded by connections_mutex

  awaitable<void> accept_loop() {
    while (true) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::make_strand(io), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (draining || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      auto connection = std::make_shared<Connection>(std::move(socket), tls.get());
      {
        std::lock_guard lock(connections_mutex);
        connections.insert(connection);
      }
      asio::co_spawn(connection->lowest().get_executor(), session(connection),
                     [this, connection](std::exception_ptr e) {
                       if (e) {
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& error) {
                           spdlog::error("connection failed: {}", error.what());
                         }
                       }
                       forget(connection);
                     });
    }
  }

  void forget(const std::shared_ptr<Connection>& connection) {
    std::lock_guard lock(connections_mutex);
    connections.erase(connection);
    if (draining && connections.empty()) asio::post(io, [this] { grace_timer.cancel(); });
  }

  awaitable<void> session(std::shared_ptr<Connection> connection) {
    if (!connection->tls) {
      co_await serve_requests(*connection->plain, *connection);
      boost::system::error_code ignored;
      connection->plain->socket().shutdown(tcp::socket::shutdown_send, ignored);
      connection->plain->close();
      co_return;
    }
    auto& stream = *connection->tls;
    boost::system::error_code ec;
    stream.next_layer().expires_after(std::chrono::milliseconds(options.request_timeout_ms));
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      // Scanners and plain-HTTP clients end here; nothing was asked, so nothing is answered.
      spdlog::debug("TLS handshake with {} failed: {}", peer_address(stream.next_layer()), ec.message());
      stream.next_layer().close();
      co_return;
    }
    co_await serve_requests(stream, *connection);
    stream.next_layer().expires_after(std::chrono::seconds(2));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
    stream.next_layer().close();
  }

  // The requests of one connection, over plain TCP or TLS, until it closes or the server drains.
  template <class Stream>
  awaitable<void> serve_requests(Stream& stream, Connection& connection) {
    beast::flat_buffer buffer;
    const auto timeout = std::chrono::milliseconds(options.request_timeout_ms);
    while (!draining) {
      bhttp::request_parser<bhttp::string_body> parser;
      size_t body_limit = options.body_limit_bytes;
      // The larger bound until the route is known; a declared length is then checked against its own.
      parser.body_limit(std::max(options.body_limit_bytes, options.upload_limit_bytes));
      parser.header_limit(16 * 1024);
      beast::get_lowest_layer(stream).expires_after(timeout);
      connection.idle = true;
      boost::system::error_code ec;
      // The head first: an upload route may receive a larger body than any other.
      co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      connection.idle = false;
      if (!ec) {
        const std::string target(parser.get().target());
        if (is_upload_route(match_route(target.substr(0, target.find('?'))).route))
          body_limit = options.upload_limit_bytes;
        parser.body_limit(body_limit);  // enforced on chunked bodies as they arrive
        const auto declared = parser.content_length();
        if (declared && *declared > body_limit) {
          ec = bhttp::error::body_limit;
        } else {
          co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        }
      }
      const auto started = Clock::now();
      if (ec) {
        // A request we could not read: answer when the client can still hear us, then close.
        std::optional<Error> error;
        if (ec == bhttp::error::body_limit) {
          error = Error{
              ErrorKind::payload_too_large, fmt::format("request body exceeds {} bytes", body_limit), {}};
        } else if (ec == bhttp::error::header_limit) {
          error = Error::invalid("request headers are too large");
        } else if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
                   ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
          error = Error::invalid("malformed HTTP request: " + ec.message());
        }
        if (error) {
          const std::string no_request_id;
          Response response = error_response(*error);
          if (ec == bhttp::error::header_limit) response.status = 431;
          co_await write_response(stream, response, no_request_id, false, 11);
          services.metrics.observe_request("unmatched", "", response.status, seconds_since(started));
        }
        break;
      }
      auto req = parser.release();
      const InFlight in_flight(services.metrics);
      const bool keep_alive = req.keep_alive() && !draining;
      Request request;
      request.method = std::string(req.method_string());
      const std::string target(req.target());
      request.path = target.substr(0, target.find('?'));
      if (const auto q = target.find('?'); q != std::string::npos) request.query = target.substr(q + 1);
      request.body = std::move(req.body());
      request.user_header = header_value(req, "X-Brandcoach-User");
      request.authorization = header_value(req, "Authorization");
      request.accept_encoding = header_value(req, "Accept-Encoding");
      request.content_type = header_value(req, "Content-Type");
      request.peer = peer_address(beast::get_lowest_layer(stream));
      request.request_id = random_id("req_");
      const auto route = match_route(request.path).route;
      const auto cors = cors_headers(options.cors_origins, header_value(req, "Origin"));
      if (request.method == "OPTIONS" && !cors.empty()) {
        // A browser's preflight: say what the real request may carry; it is authenticated itself.
        Response preflight{204, "text/plain", "", cors};
        preflight.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS");
        preflight.headers.emplace_back("Access-Control-Allow-Headers",
                                       "Authorization, Content-Type, X-Brandcoach-User");
        preflight.headers.emplace_back("Access-Control-Max-Age", "600");
        beast::get_lowest_layer(stream).expires_after(timeout);
        const bool written =
            co_await write_response(stream, preflight, request.request_id, keep_alive, req.version());
        log_request(request, route, 204, started);
        if (!written || !keep_alive) break;
        continue;
      }

      // Who is asking, decided on a worker (an API key is a store lookup) before anything else.
      // Open routes need no one; the gate sees the request without its body (uploads are large).
      auto principal = std::make_shared<Principal>();
      Response refusal{0, "", "", {}};
      if (match_route(request.path).access != Access::open) {
        Request head;
        head.method = request.method;
        head.path = request.path;
        head.user_header = request.user_header;
        head.authorization = request.authorization;
        head.peer = request.peer;
        std::function<Response()> gate = [this, head = std::move(head), principal] {
          auto admitted = admit(head, services, unix_millis() / 1000.0);
          if (!admitted) return error_response(admitted.error());
          if (*admitted) *principal = std::move(**admitted);
          return Response{0, "", "", {}};
        };
        refusal = co_await run_blocking(pool, gate);
      }
      std::function<Response()> work;
      std::optional<Response> answered;  // a chat turn answered without a worker waiting for it
      if (refusal.status != 0) {
        work = [refusal] { return refusal; };
      } else if (request.method == "POST" &&
                 (route == "/api/chat" || route == "/v1/chat/completions" || route == "/v1/responses")) {
        // A chat body is parsed once, here; it decides between streaming and a plain JSON answer.
        auto chat = parse_chat_body(route, request.body);
        Response refused{0, "", "", {}};
        if (chat && chat->stream) {
          // What the request names is checked before the stream starts, so a refusal keeps its status.
          std::function<Response()> prepare = [this, format = chat->format, user = principal->user] {
            if (auto status = format->prepare(services, user); !status) return error_response(status.error());
            return Response{0, "", "", {}};
          };
          refused = co_await run_blocking(pool, prepare);
        }
        if (!chat) {
          work = [error = chat.error()] { return error_response(error); };
        } else if (refused.status != 0) {
          work = [refused] { return refused; };
        } else if (chat->stream) {
          const int status =
              co_await stream_chat(stream, *chat, principal->user, request.request_id, req.version(), cors);
          log_request(request, route, status, started);
          break;  // the event stream ends with the connection
        } else {
          answered = co_await answer_chat(*chat, principal->user, request.request_id);
        }
      } else {
        work = [this, request, principal] { return handle(request, *principal, services); };
      }
      Response response;
      if (answered) {
        response = std::move(*answered);
      } else {
        work = [work = std::move(work), id = request.request_id]() noexcept {
          try {
            return work();
          } catch (const std::exception& e) {
            spdlog::error("request {} failed: {}", id, e.what());
            return error_response(Error::internal("internal error; see the server log for " + id));
          }
        };
        response = co_await run_blocking(pool, work);
      }
      response.headers.insert(response.headers.end(), cors.begin(), cors.end());
      const int status = response.status;
      if (status >= 500) record_error(request, route, status, response.body);
      beast::get_lowest_layer(stream).expires_after(timeout);
      const bool written =
          co_await write_response(stream, response, request.request_id, keep_alive, req.version());
      log_request(request, route, status, started);
      if (!written || !keep_alive) break;
    }
  }

  // A chat body in the format of its route. Parsing runs on this coroutine, so nothing may escape it.
  Result<ChatRequest> parse_chat_body(const std::string& route, const std::string& body) const {
    try {
      if (route == "/api/chat") return parse_chat_request(body);
      if (route == "/v1/chat/completions")
        return parse_openai_chat_request(body, services.coach.assistants());
      return parse_openai_responses_request(body, services.coach.assistants());
    } catch (const std::exception& e) {
      spdlog::error("parsing a {} body failed: {}", route, e.what());
      return Error::internal("internal error while reading the request body");
    }
  }

  // On every answer (a route may add more, e.g. the pages' Content-Security-Policy): no content-type
  // guessing, never framed, and over HTTPS a year of HTTPS-only for this host.
  template <class Body>
  void set_security_headers(bhttp::response<Body>& res) const {
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    res.set("Referrer-Policy", "no-referrer");
    if (tls) res.set("Strict-Transport-Security", "max-age=31536000");
  }

  // Counts a request as being handled for as long as it lives (the in-flight gauge).
  struct InFlight {
    explicit InFlight(obs::Metrics& metrics) : metrics(metrics) { metrics.request_started(); }
    ~InFlight() { metrics.request_finished(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;
    obs::Metrics& metrics;
  };

  static double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  // Server errors are kept for the dashboard with the message their body gave the client.
  void record_error(const Request& request, const std::string& route, int status, std::string_view body) {
    const auto parsed = parse_json(body);
    std::string message = "see the server log";
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_object())
      message = parsed["error"].value("message", message);
    services.metrics.record_error({unix_millis(), status, route, std::move(message), request.request_id});
  }

  void log_request(const Request& request, const std::string& route, int status, Clock::time_point started) {
    const double seconds = seconds_since(started);
    services.metrics.observe_request(route, request.method, status, seconds);
    spdlog::info("request_id={} method={} path={} status={} duration_ms={:.2f}", request.request_id,
                 request.method, request.path, status, seconds * 1000);
  }

  template <class Stream>
  awaitable<bool> write_response(Stream& stream, const Response& response, const std::string& request_id,
                                 bool keep_alive, unsigned version) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
    res.set(bhttp::field::server, "brandcoach");
    res.set(bhttp::field::content_type, response.content_type);
    res.set(bhttp::field::cache_control, "no-store");
    set_security_headers(res);
    if (!request_id.empty()) res.set("X-Request-Id", request_id);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = response.body;
    res.prepare_payload();
    boost::system::error_code ec;
    co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  // Where a turn's steps after its answer run.
  coach::Scheduler on_workers() {
    return [this](std::function<void()> task) { asio::post(pool, std::move(task)); };
  }

  // A chat turn answered as one JSON document. Like a stream's, its steps run on workers and no
  // worker waits while the model answers (Coach::turn_async); this coroutine waits instead.
  awaitable<Response> answer_chat(const ChatRequest& chat, const std::string& user, const std::string& id) {
    const auto executor = co_await asio::this_coro::executor;
    auto finished = std::make_shared<EventQueue>(executor);
    auto answer = std::make_shared<Response>(
        error_response(Error::internal("internal error; see the server log for " + id)));
    asio::post(pool, [this, finished, answer, chat, user, id] {
      auto ended = std::make_shared<std::atomic<bool>>(false);
      // Sets the answer once and wakes the coroutine; nothing may escape a worker's task.
      auto finish = [finished, answer, chat, ended, id](Result<coach::TurnResult> result) {
        if (ended->exchange(true)) return;
        try {
          *answer = result ? chat.format->complete(*result) : error_response(result.error());
        } catch (const std::exception& e) {
          spdlog::error("request {} failed: {}", id, e.what());
        }
        finished->close();
      };
      try {
        if (auto status = chat.format->prepare(services, user); !status) return finish(status.error());
        start_chat_turn(chat, user, services, {}, {}, on_workers(), finish);
      } catch (const std::exception& e) {
        spdlog::error("request {} failed: {}", id, e.what());
        finish(Error::internal("internal error; see the server log for " + id));
      }
    });
    while (!(co_await finished->next()).empty()) {
    }
    co_return *answer;
  }

  // Streams a chat turn as server-sent events over a chunked response. Returns the HTTP status.
  template <class Stream>
  awaitable<int> stream_chat(Stream& stream, const ChatRequest& chat, const std::string& user,
                             const std::string& request_id, unsigned version,
                             const std::vector<std::pair<std::string, std::string>>& cors) {
    auto queue = std::make_shared<EventQueue>(stream.get_executor());
    auto status = std::make_shared<std::atomic<int>>(200);
    // Requested when the client goes away: the model call upstream is cancelled with it.
    auto client_left = std::make_shared<std::stop_source>();
    // The turn's steps before the answer run on a worker; the answer streams from the provider
    // without holding one (a model's stream is read on its hub); the steps after it run on a worker.
    asio::post(pool, [this, queue, status, client_left, chat, user, id = request_id] {
      auto format = chat.format;
      auto ended = std::make_shared<std::atomic<bool>>(false);
      // Ends the stream with the turn's outcome, once; nothing may escape a worker's task.
      auto finish = [this, queue, status, format, ended, id](Result<coach::TurnResult> result) {
        if (ended->exchange(true)) return;
        try {
          if (result) {
            queue->push(format->done(*result));
          } else {
            status->store(http_status(result.error().kind));
            if (status->load() >= 500)
              services.metrics.record_error(
                  {unix_millis(), status->load(), "stream", result.error().message, id});
            queue->push(format->error(result.error()));
          }
        } catch (const std::exception& e) {
          spdlog::error("request {} failed: {}", id, e.what());
          status->store(500);
        }
        queue->close();
      };
      coach::TurnEvents events;
      events.stop = client_left->get_token();
      events.on_route = [queue, format](const route::Decision& d) { queue->push(format->route(d)); };
      events.on_delta = [queue, format](std::string_view text) { queue->push(format->delta(text)); };
      const std::function<void(std::string)> emit = [queue](std::string frames) {
        queue->push(std::move(frames));
      };
      try {
        queue->push(format->start());
        start_chat_turn(chat, user, services, std::move(events), emit, on_workers(), finish);
      } catch (const std::exception& e) {
        spdlog::error("request {} failed: {}", id, e.what());
        finish(Error::internal("internal error; see the server log"));
      }
    });

    bhttp::response<bhttp::empty_body> res{bhttp::status::ok, version};
    res.set(bhttp::field::server, "brandcoach");
    res.set(bhttp::field::content_type, "text/event-stream");
    res.set(bhttp::field::cache_control, "no-store");
    set_security_headers(res);
    res.set("X-Request-Id", request_id);
    for (const auto& [name, value] : cors) res.set(name, value);
    res.chunked(true);
    res.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{res};
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(options.request_timeout_ms));
    co_await bhttp::async_write_header(stream, serializer, asio::redirect_error(use_awaitable, ec));
    bool client_gone = static_cast<bool>(ec);
    if (client_gone) client_left->request_stop();
    while (true) {
      std::string frames = co_await queue->next();
      if (frames.empty()) break;  // closed and drained
      if (client_gone) continue;  // keep draining until the worker is done with the turn
      beast::get_lowest_layer(stream).expires_after(std::chrono::milliseconds(options.request_timeout_ms));
      co_await asio::async_write(stream, bhttp::make_chunk(asio::buffer(frames)),
                                 asio::redirect_error(use_awaitable, ec));
      client_gone = static_cast<bool>(ec);
      if (client_gone) client_left->request_stop();
    }
    if (!client_gone) {
      co_await asio::async_write(stream, bhttp::make_chunk_last(), asio::redirect_error(use_awaitable, ec));
    }
    co_return status->load();
  }

  void begin_shutdown() {
    if (draining.exchange(true)) return;
    spdlog::info("shutting down: no new connections, finishing in-flight requests");
    boost::system::error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    std::lock_guard lock(connections_mutex);
    for (const auto& connection : connections) {
      if (connection->idle) {
        asio::post(connection->lowest().get_executor(), [connection] {
          // The connection may have closed meanwhile: nothing to cancel then, and no throw.
          boost::system::error_code already_closed;
          connection->lowest().socket().cancel(already_closed);
        });
      }
    }
    if (connections.empty()) return;
    grace_timer.expires_after(std::chrono::milliseconds(options.shutdown_grace_ms));
    grace_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // every connection finished in time
      std::lock_guard lock(connections_mutex);
      spdlog::warn("shutdown grace period over; closing {} connection(s)", connections.size());
      for (const auto& connection : connections) {
        asio::post(connection->lowest().get_executor(), [connection] {
          // The connection may have closed meanwhile: nothing to cancel then, and no throw.
          boost::system::error_code already_closed;
          connection->lowest().socket().cancel(already_closed);
        });
      }
    });
  }
};

Server::Server(ServerOptions options, Services services)
    : impl_(std::make_unique<Impl>(std::move(options), services)) {}

Server::~Server() = default;

Result<uint16_t> Server::listen() {
  if (auto status = check_bind_address(impl_->options.host, !impl_->services.auth.local_mode()); !status)
    return status.error();
  if (!impl_->options.tls_cert_file.empty() || !impl_->options.tls_key_file.empty()) {
    auto context = tls_context(impl_->options);
    if (!context) return context.error();
    impl_->tls = std::move(context).value();
  }
  boost::system::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address(impl_->options.host), impl_->options.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::unavailable(
        fmt::format("cannot listen on {}:{}: {}", impl_->options.host, impl_->options.port, ec.message()));
  }
  return acceptor.local_endpoint().port();
}

void Server::run() {
  auto& impl = *impl_;
  impl.signals.async_wait([&impl](boost::system::error_code ec, int) {
    if (!ec) impl.begin_shutdown();
  });
  asio::co_spawn(impl.io, impl.accept_loop(), asio::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < impl.options.io_threads; ++i) threads.emplace_back([&impl] { impl.io.run(); });
  impl.io.run();
  for (auto& thread : threads) thread.join();
  impl.pool.join();  // turns already handed to workers finish and are stored
  spdlog::info("server stopped");
}

void Server::stop() {
  asio::post(impl_->io, [impl = impl_.get()] { impl->begin_shutdown(); });
}

}  // namespace brandcoach::http
