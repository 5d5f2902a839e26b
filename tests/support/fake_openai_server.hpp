// A fake OpenAI-compatible upstream over real HTTP on 127.0.0.1, port 0.
//
// The server parses HTTP/1.1 requests (Content-Length bodies, keep-alive, Expect: 100-continue),
// records every request, and answers with whatever a handler returns; helpers build the common
// OpenAI answers (embeddings, errors). Faults can be queued for the next requests (429 with
// Retry-After: 0, 500, malformed JSON, a slow answer, a dropped connection) so retry and timeout
// paths are tested against a real socket and a real client library.
//
//   FakeOpenAiServer server(embeddings_handler(8));
//   server.inject(FakeOpenAiServer::Fault::rate_limited, 2);
//   ... client posts to server.base_url() + "/embeddings" ...
//   EXPECT_EQ(server.requests().size(), 3u);
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace brandcoach::testing {

class FakeOpenAiServer {
 public:
  /// One request as received.
  struct Request {
    std::string method;
    std::string target;                          // path and query, e.g. "/v1/embeddings"
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    /// A header's value, or "" when absent; `name` in lower case.
    std::string header(const std::string& name) const {
      const auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    }
    /// The body as JSON; discarded (is_discarded()) when it is not JSON.
    nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  };

  /// What to answer. `chunks`, when not empty, are streamed with Transfer-Encoding: chunked (one
  /// write per chunk, `chunk_delay` apart) instead of `body`, for server-sent-event fakes.
  struct Reply {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string content_type = "application/json";
    std::chrono::milliseconds delay{0};  // waited before the status line is sent
    std::vector<std::string> chunks;
    std::chrono::milliseconds chunk_delay{0};
    bool drop = false;        // close the connection without answering
    bool cut_stream = false;  // streamed: close after the chunks, without the chunked terminator

    static Reply json(const nlohmann::json& body, int status = 200) {
      Reply reply;
      reply.status = status;
      reply.body = body.dump();
      return reply;
    }
    /// OpenAI's error shape: {"error": {"message", "type", "param", "code"}}.
    static Reply openai_error(int status, const std::string& message, const std::string& type = "api_error") {
      return json({{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}}}},
                  status);
    }
  };

  using Handler = std::function<Reply(const Request&)>;

  /// Canned misbehaviour, consumed one per request before the handler is asked.
  enum class Fault {
    rate_limited,    // 429, Retry-After: 0, OpenAI error body
    server_error,    // 500, OpenAI error body
    malformed_json,  // 200 with a truncated JSON body
    slow,            // the handler's reply, sent after slow_delay
    disconnect,      // the connection is closed without an answer
  };

  explicit FakeOpenAiServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("fake server: socket() failed");
    const int yes = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("fake server: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }

  ~FakeOpenAiServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    accept_thread_.join();
    std::vector<std::thread> connections;
    {
      std::lock_guard lock(mutex_);
      connections.swap(connections_);
    }
    for (auto& t : connections) t.join();
    ::close(listen_fd_);
  }

  FakeOpenAiServer(const FakeOpenAiServer&) = delete;
  FakeOpenAiServer& operator=(const FakeOpenAiServer&) = delete;

  int port() const { return port_; }
  /// "http://127.0.0.1:<port>/v1", the shape of OpenAI's base URL.
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  /// Replaces the handler for later requests.
  void set_handler(Handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
  }

  /// Queues `count` faults of one kind for the next requests (after those already queued).
  void inject(Fault fault, size_t count = 1, std::chrono::milliseconds slow_delay = std::chrono::seconds(2)) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < count; ++i) faults_.push_back({fault, slow_delay});
  }

  /// Every request received so far, in arrival order.
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  /// Streamed answers whose client went away before the last chunk (a cancelled upstream call).
  size_t cut_streams() const { return cut_streams_.load(); }
  /// Streamed answers sent to the end.
  size_t finished_streams() const { return finished_streams_.load(); }

 private:
  struct QueuedFault {
    Fault fault;
    std::chrono::milliseconds slow_delay;
  };

  bool stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  // Waits until `fd` is readable, polling the stop flag; false when stopping.
  bool wait_readable(int fd) const {
    while (!stopping()) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 20);
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return false;
    }
    return false;
  }

  // Sleeps up to `delay`; false when the server stopped meanwhile.
  bool sleep_for(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, delay, [this] { return stopping_; });
  }

  void accept_loop() {
    while (wait_readable(listen_fd_)) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      // Each streamed chunk leaves at once, as a real SSE server flushes it (no Nagle delay).
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] {
        serve_connection(fd);
        ::close(fd);
      });
    }
  }

  static bool send_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads more bytes into `buffer`; false on close, error or stop.
  bool read_more(int fd, std::string& buffer) const {
    if (!wait_readable(fd)) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }

  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  static std::string reason(int status) {
    switch (status) {
      case 100:
        return "Continue";
      case 200:
        return "OK";
      case 400:
        return "Bad Request";
      case 401:
        return "Unauthorized";
      case 404:
        return "Not Found";
      case 411:
        return "Length Required";
      case 429:
        return "Too Many Requests";
      case 500:
        return "Internal Server Error";
      case 502:
        return "Bad Gateway";
      case 503:
        return "Service Unavailable";
      case 504:
        return "Gateway Timeout";
      default:
        return "Status";
    }
  }

  // Parses one request from the front of `buffer`, reading more as needed; nullopt when the peer
  // closed or sent something unparseable.
  std::optional<Request> read_request(int fd, std::string& buffer) {
    size_t head_end = std::string::npos;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > (1 << 20) || !read_more(fd, buffer)) return std::nullopt;
    }
    Request request;
    const std::string head = buffer.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const size_t space1 = request_line.find(' ');
    const size_t space2 = request_line.find(' ', space1 + 1);
    if (space1 == std::string::npos || space2 == std::string::npos) return std::nullopt;
    request.method = request_line.substr(0, space1);
    request.target = request_line.substr(space1 + 1, space2 - space1 - 1);
    while (line_end != std::string::npos && line_end < head.size()) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line =
          head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t") + 1);
      request.headers[lower(line.substr(0, colon))] = value;
    }
    buffer.erase(0, head_end + 4);
    if (lower(request.header("expect")) == "100-continue") send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    size_t length = 0;
    if (const auto cl = request.header("content-length"); !cl.empty())
      length = std::strtoul(cl.c_str(), nullptr, 10);
    if (!request.header("transfer-encoding").empty()) return std::nullopt;  // chunked bodies: not needed yet
    while (buffer.size() < length) {
      if (!read_more(fd, buffer)) return std::nullopt;
    }
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return request;
  }

  void serve_connection(int fd) {
    std::string buffer;
    while (true) {
      auto request = read_request(fd, buffer);
      if (!request) return;
      std::optional<QueuedFault> fault;
      Handler handler;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(*request);
        if (!faults_.empty()) {
          fault = faults_.front();
          faults_.pop_front();
        }
        handler = handler_;
      }
      Reply reply;
      if (fault && fault->fault == Fault::rate_limited) {
        reply = Reply::openai_error(429, "Rate limit reached; please retry", "rate_limit_error");
        reply.headers.emplace_back("Retry-After", "0");
      } else if (fault && fault->fault == Fault::server_error) {
        reply = Reply::openai_error(500, "The server had an error while processing your request");
      } else if (fault && fault->fault == Fault::malformed_json) {
        reply.body = R"({"object": "list", "data": [{"index": 0, "embedding": [0.1, )";
      } else if (fault && fault->fault == Fault::disconnect) {
        reply.drop = true;
      } else {
        try {
          reply = handler(*request);
        } catch (const std::exception& e) {  // a throwing test handler must not take the process down
          reply = Reply::openai_error(500, std::string("fake server handler threw: ") + e.what());
        }
        if (fault && fault->fault == Fault::slow) reply.delay = fault->slow_delay;
      }
      if (reply.drop) return;
      if (reply.delay.count() > 0 && !sleep_for(reply.delay)) return;
      const bool close_after = lower(request->header("connection")) == "close";
      std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
      head += "Content-Type: " + reply.content_type + "\r\n";
      for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
      head += close_after ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
      if (reply.chunks.empty()) {
        head += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n\r\n";
        if (!send_all(fd, head + reply.body)) return;
      } else {
        head += "Transfer-Encoding: chunked\r\n\r\n";
        if (!send_all(fd, head)) return;
        for (const auto& chunk : reply.chunks) {
          if (reply.chunk_delay.count() > 0 && !sleep_for(reply.chunk_delay)) return;
          char size[32];
          std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
          if (!send_all(fd, size + chunk + "\r\n") || client_closed(fd)) {
            ++cut_streams_;
            return;
          }
        }
        if (reply.cut_stream) return;  // end the connection mid-answer, without the last chunk
        if (!send_all(fd, "0\r\n\r\n")) return;
        ++finished_streams_;
      }
      if (close_after) return;
    }
  }

  // True when the peer has closed its side (readable with nothing to read).
  static bool client_closed(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char byte;
    return ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

  std::atomic<size_t> cut_streams_{0};
  std::atomic<size_t> finished_streams_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                 // guarded by mutex_
  Handler handler_;                       // guarded by mutex_
  std::deque<QueuedFault> faults_;        // guarded by mutex_
  std::vector<Request> requests_;         // guarded by mutex_
  std::vector<std::thread> connections_;  // guarded by mutex_
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accept_thread_;
};

/// A deterministic pseudo-random vector for a text (FNV-1a seeded xorshift), not normalised, so
/// tests can predict what a fake embeddings endpoint answers.
inline std::vector<double> fake_embedding(const std::string& text, size_t dimension) {
  uint64_t state = 0xcbf29ce484222325ULL;
  for (const char c : text) state = (state ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  std::vector<double> out(dimension);
  for (auto& x : out) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    x = static_cast<double>(state % 2001) / 1000.0 - 1.0;  // in [-1, 1]
  }
  return out;
}

/// An OpenAI /embeddings handler: fake_embedding() of each input, answered in reverse order with
/// the right "index" so clients must order by index. 404 for other paths, 400 for bad bodies.
inline FakeOpenAiServer::Handler embeddings_handler(size_t dimension) {
  using Reply = FakeOpenAiServer::Reply;
  return [dimension](const FakeOpenAiServer::Request& request) {
    if (request.method != "POST" || request.target.size() < 11 ||
        request.target.compare(request.target.size() - 11, 11, "/embeddings") != 0) {
      return Reply::openai_error(404, "Unknown path " + request.target, "invalid_request_error");
    }
    const auto body = request.json();
    if (body.is_discarded() || !body.contains("input") || !body.contains("model")) {
      return Reply::openai_error(400, "body must have model and input", "invalid_request_error");
    }
    std::vector<std::string> inputs;
    if (body["input"].is_string()) {
      inputs.push_back(body["input"].get<std::string>());
    } else if (body["input"].is_array()) {
      for (const auto& x : body["input"]) inputs.push_back(x.is_string() ? x.get<std::string>() : x.dump());
    }
    nlohmann::json data = nlohmann::json::array();
    for (size_t i = inputs.size(); i-- > 0;) {
      data.push_back(
          {{"object", "embedding"}, {"index", i}, {"embedding", fake_embedding(inputs[i], dimension)}});
    }
    return Reply::json({{"object", "list"},
                        {"data", data},
                        {"model", body["model"]},
                        {"usage", {{"prompt_tokens", inputs.size()}, {"total_tokens", inputs.size()}}}});
  };
}

/// What a fake model says: the pieces of its answer, and how it behaves while saying them.
struct ModelScript {
  std::vector<std::string> pieces = {"Price ", "by the ", "value you ", "deliver [1]."};
  std::chrono::milliseconds piece_delay{0};
  bool cut = false;        // the stream ends after the pieces, before the completion event
  bool malformed = false;  // a data line that is not JSON comes after the first piece
  int64_t input_tokens = 321;
  int64_t output_tokens = 17;
};

/// Server-sent event framing, as OpenAI writes it.
inline std::string sse(const std::string& event, const nlohmann::json& data) {
  return (event.empty() ? std::string() : "event: " + event + "\n") + "data: " + data.dump() + "\n\n";
}

/// A fake OpenAI Responses API (POST …/responses): streamed events when the body asks for
/// `stream: true` (response.created, output_text.delta per piece, response.completed with usage),
/// one JSON response otherwise. Each response gets the id "resp_<n>" (n counts from 1).
inline FakeOpenAiServer::Handler responses_handler(std::function<ModelScript(const nlohmann::json&)> script) {
  auto counter = std::make_shared<std::atomic<int>>(0);
  return [script, counter](const FakeOpenAiServer::Request& request) {
    using Reply = FakeOpenAiServer::Reply;
    if (request.target.find("/responses") == std::string::npos)
      return Reply::openai_error(404, "Unknown path " + request.target, "invalid_request_error");
    const auto body = request.json();
    if (body.is_discarded() || !body.contains("model") || !body.contains("input"))
      return Reply::openai_error(400, "model and input are required", "invalid_request_error");
    const ModelScript s = script(body);
    const std::string id = "resp_" + std::to_string(++*counter);
    std::string text;
    for (const auto& p : s.pieces) text += p;
    const nlohmann::json usage = {{"input_tokens", s.input_tokens},
                                  {"output_tokens", s.output_tokens},
                                  {"total_tokens", s.input_tokens + s.output_tokens}};
    const nlohmann::json output = nlohmann::json::array(
        {{{"type", "message"},
          {"role", "assistant"},
          {"content", nlohmann::json::array({{{"type", "output_text"}, {"text", text}}})}}});
    if (!body.value("stream", false)) {
      return Reply::json({{"id", id},
                          {"object", "response"},
                          {"status", "completed"},
                          {"model", body["model"]},
                          {"output", output},
                          {"usage", usage}});
    }
    Reply reply;
    reply.content_type = "text/event-stream";
    reply.chunk_delay = s.piece_delay;
    reply.chunks.push_back(sse("response.created", {{"type", "response.created"},
                                                    {"response", {{"id", id}, {"status", "in_progress"}}}}));
    for (size_t i = 0; i < s.pieces.size(); ++i) {
      reply.chunks.push_back(
          sse("response.output_text.delta",
              {{"type", "response.output_text.delta"}, {"output_index", 0}, {"delta", s.pieces[i]}}));
      if (i == 0 && s.malformed)
        reply.chunks.push_back("event: response.output_text.delta\ndata: {\"type\": \n\n");
    }
    if (s.cut) {
      reply.cut_stream = true;
      return reply;
    }
    reply.chunks.push_back(
        sse("response.completed",
            {{"type", "response.completed"},
             {"response", {{"id", id}, {"status", "completed"}, {"output", output}, {"usage", usage}}}}));
    return reply;
  };
}

/// A fake Chat Completions API (POST …/chat/completions): `data:` chunks and `[DONE]` when the
/// body asks for `stream: true`, one JSON completion otherwise.
inline FakeOpenAiServer::Handler chat_handler(std::function<ModelScript(const nlohmann::json&)> script) {
  return [script](const FakeOpenAiServer::Request& request) {
    using Reply = FakeOpenAiServer::Reply;
    if (request.target.find("/chat/completions") == std::string::npos)
      return Reply::openai_error(404, "Unknown path " + request.target, "invalid_request_error");
    const auto body = request.json();
    if (body.is_discarded() || !body.contains("model") || !body.contains("messages"))
      return Reply::openai_error(400, "model and messages are required", "invalid_request_error");
    const ModelScript s = script(body);
    std::string text;
    for (const auto& p : s.pieces) text += p;
    const nlohmann::json usage = {{"prompt_tokens", s.input_tokens},
                                  {"completion_tokens", s.output_tokens},
                                  {"total_tokens", s.input_tokens + s.output_tokens}};
    if (!body.value("stream", false)) {
      return Reply::json({{"id", "chatcmpl-1"},
                          {"object", "chat.completion"},
                          {"choices",
                           {{{"index", 0},
                             {"message", {{"role", "assistant"}, {"content", text}}},
                             {"finish_reason", "stop"}}}},
                          {"usage", usage}});
    }
    Reply reply;
    reply.content_type = "text/event-stream";
    reply.chunk_delay = s.piece_delay;
    const auto chunk = [](const nlohmann::json& delta, const nlohmann::json& finish) {
      return sse("", {{"id", "chatcmpl-1"},
                      {"object", "chat.completion.chunk"},
                      {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}});
    };
    reply.chunks.push_back(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
    for (size_t i = 0; i < s.pieces.size(); ++i) {
      reply.chunks.push_back(chunk({{"content", s.pieces[i]}}, nullptr));
      if (i == 0 && s.malformed) reply.chunks.push_back("data: {\"choices\": [\n\n");
    }
    if (s.cut) {
      reply.cut_stream = true;
      return reply;
    }
    reply.chunks.push_back(chunk(nlohmann::json::object(), "stop"));
    reply.chunks.push_back(
        sse("", {{"id", "chatcmpl-1"}, {"choices", nlohmann::json::array()}, {"usage", usage}}));
    reply.chunks.push_back("data: [DONE]\n\n");
    return reply;
  };
}

}  // namespace brandcoach::testing
