// HTTP request parsing and routing: raw bytes through Boost.Beast's request parser with the server's
// limits (read in pieces, the head before the body, as the server reads a connection), then what the
// server makes of the parsed request: the route, its path parameters, query parameters, a multipart
// body, a chat body.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>

#include "brandcoach/http/http.hpp"
#include "fuzz_assistants.hpp"
#include "fuzz_support.hpp"

namespace bhttp = boost::beast::http;
using namespace brandcoach;

namespace {

// As ServerOptions has them by default.
constexpr size_t kBodyLimit = 1 << 20;
constexpr size_t kUploadLimit = 64u << 20;
constexpr size_t kHeaderLimit = 16 * 1024;

// Reads requests from `input` as the server reads one connection: the bytes arrive `piece` at a time
// into a buffer that keeps what the parser has not taken yet (a pipelined request stays there for the
// next parser); the head is parsed first, then the route decides the body limit. `on_request` sees
// each request read whole; reading stops at the first error, as the server closes the connection.
template <class OnRequest>
void read_connection(std::string_view input, size_t piece, OnRequest on_request) {
  std::string buffered;
  size_t offset = 0;
  for (int requests = 0; requests < 4; ++requests) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(std::max(kBodyLimit, kUploadLimit));
    parser.header_limit(kHeaderLimit);
    bool limits_set = false;
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      if (offset < input.size()) {
        const size_t n = std::min(piece, input.size() - offset);
        buffered.append(input.substr(offset, n));
        offset += n;
      }
      const bool closed = offset >= input.size();
      while (!buffered.empty() && !parser.is_done()) {
        const size_t used = parser.put(boost::asio::buffer(buffered), ec);
        buffered.erase(0, used);
        if (ec == bhttp::error::need_more) {
          ec = {};
          break;
        }
        if (ec) return;
        if (parser.is_header_done() && !limits_set) {
          limits_set = true;
          const std::string target(parser.get().target());
          const auto route = http::match_route(target.substr(0, target.find('?'))).route;
          const size_t limit = http::is_upload_route(route) ? kUploadLimit : kBodyLimit;
          parser.body_limit(limit);  // enforced on chunked bodies as they arrive
          const auto declared = parser.content_length();
          if (declared && *declared > limit) return;
        }
        if (used == 0) break;
      }
      if (!parser.is_done() && closed) {
        // Nothing more will arrive: the peer closed the connection. Before any byte of a request that
        // is the end of the stream, not an error (put_eof asserts it has seen some).
        if (!parser.got_some()) return;
        parser.put_eof(ec);
        if (ec || !parser.is_done()) return;
      }
    }
    on_request(parser.get());
    if (offset >= input.size() && buffered.empty()) return;
  }
}

std::string header(const bhttp::request<bhttp::string_body>& req, std::string_view name) {
  const auto it = req.find(boost::beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string() : std::string(it->value());
}

void handle(const bhttp::request<bhttp::string_body>& req) {
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const auto q = target.find('?');
  const std::string query = q == std::string::npos ? std::string() : target.substr(q + 1);

  const auto match = http::match_route(path);
  (void)http::is_upload_route(match.route);
  if (match.route.find('{') != std::string::npos) {
    for (size_t n = 0; n < 3; ++n) (void)http::path_parameter(match.route, path, n);
  }
  for (const char* name : {"limit", "order", "after", "before", "days", "format", "from", "to"}) {
    (void)http::query_param(query, name);
  }
  // The bounds the handlers use, the widest first.
  (void)http::integer_param(query, "before", INT64_MAX, 1, INT64_MAX);
  (void)http::integer_param(query, "limit", 50, 1, 500);
  (void)http::integer_param(query, "days", 14, 1, 90);
  const std::vector<nlohmann::json> items = {{{"id", "a"}}, {{"id", "b"}}, {{"id", "c"}}};
  (void)http::list_page(items, query, 20, 100);

  const std::string content_type = header(req, "Content-Type");
  if (http::is_upload_route(match.route)) (void)http::parse_multipart(content_type, req.body());
  if (req.method_string() == "POST") {
    if (match.route == "/api/chat") {
      (void)http::parse_chat_request(req.body());
    } else if (match.route == "/v1/chat/completions") {
      (void)http::parse_openai_chat_request(req.body(), fuzz::assistants());
    } else if (match.route == "/v1/responses") {
      (void)http::parse_openai_responses_request(req.body(), fuzz::assistants());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  (void)fuzz::assistants();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  // All at once, then in small pieces (their size picked by the input's length).
  for (const size_t piece : {input.size() + 1, size_t{1} + size % 23}) {
    read_connection(input, piece, [](const bhttp::request<bhttp::string_body>& req) { handle(req); });
  }
  return 0;
}
