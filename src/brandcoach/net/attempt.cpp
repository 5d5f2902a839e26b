// One attempt of an OpenAI-compatible POST: its libcurl options and callbacks, and the verdict on
// how it ended (done, retry after a backoff, or failed with the upstream's reason). Upstream failures
// come back as ErrorKind::unavailable with the HTTP status and the upstream's own message; the API
// key is scrubbed from every message we build.
#include "brandcoach/net/attempt.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <random>

#include <nlohmann/json.hpp>

namespace brandcoach::net::attempt {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffBase{200};
constexpr milliseconds kBackoffCap{5000};
constexpr int64_t kRetryAfterCapSeconds = 10;   // a longer wait would outlast the caller's own timeout
constexpr size_t kMaxResponseBytes = 64 << 20;  // 64 texts x 3072 floats as JSON is about 4 MiB
constexpr size_t kMaxUpstreamMessage = 300;

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  if (exchange->stop.stop_requested()) return 0;
  if (exchange->sink != nullptr) {
    long status = 0;
    curl_easy_getinfo(exchange->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      exchange->streamed = true;
      if (!(*exchange->sink)(std::string_view(data, bytes))) {
        exchange->sink_stopped = true;
        return 0;
      }
      return bytes;
    }
  }
  if (exchange->body.size() + bytes > kMaxResponseBytes) return 0;  // aborts with CURLE_WRITE_ERROR
  exchange->body.append(data, bytes);
  return bytes;
}

// Called often during a transfer and about once a second while it idles: where a stop request
// (a client that disconnected) aborts the upstream call.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Exchange*>(user)->stop.stop_requested() ? 1 : 0;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  const std::string_view line(data, bytes);
  constexpr std::string_view name = "retry-after:";
  if (line.size() > name.size() && std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    // Seconds only; an HTTP-date falls back to our own backoff.
    std::string_view value = line.substr(name.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    int64_t seconds = 0;
    size_t digits = 0;
    while (digits < value.size() && value[digits] >= '0' && value[digits] <= '9' && digits < 9) {
      seconds = seconds * 10 + (value[digits] - '0');
      ++digits;
    }
    const std::string_view rest = value.substr(digits);
    if (digits > 0 && rest.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      exchange->retry_after_seconds = seconds;
    }
  }
  return bytes;
}

bool retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// Failures of the network or the peer that a later attempt may not see again.
bool retryable_curl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

// Full jitter (uniform in [0, min(cap, base * 2^attempt)]) so clients that failed together do not
// retry together; a Retry-After from the server wins, capped.
milliseconds retry_delay(int attempt, std::optional<int64_t> retry_after_seconds) {
  if (retry_after_seconds) return std::chrono::seconds(std::min(*retry_after_seconds, kRetryAfterCapSeconds));
  const int64_t ceiling =
      std::min<int64_t>(kBackoffCap.count(), kBackoffBase.count() << std::min(attempt, 16));
  thread_local std::mt19937_64 random{std::random_device{}()};
  return milliseconds(std::uniform_int_distribution<int64_t>(0, ceiling)(random));
}

// The upstream's own explanation: OpenAI's {"error": {"message": …}}, a few common variants, or the
// start of the body; one line, bounded.
std::string upstream_message(const std::string& body) {
  std::string message;
  const json doc = parse_json(body);
  if (doc.is_object()) {
    const auto error = doc.find("error");
    if (error != doc.end() && error->is_object() && error->contains("message") &&
        (*error)["message"].is_string()) {
      message = (*error)["message"].get<std::string>();
    } else if (error != doc.end() && error->is_string()) {
      message = error->get<std::string>();
    } else if (doc.contains("message") && doc["message"].is_string()) {
      message = doc["message"].get<std::string>();
    }
  }
  if (message.empty()) message = body;
  if (message.size() > kMaxUpstreamMessage) message = message.substr(0, kMaxUpstreamMessage) + "...";
  for (auto& c : message) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return message;
}

}  // namespace

// curl_global_init must run once before any other libcurl call and is not guaranteed thread-safe;
// a function-local static is initialised exactly once even when several threads race to it (C++11
// [stmt.dcl]), and later callers only read the result. There is no curl_global_cleanup: other
// modules may still use libcurl while static destructors run.
CURLcode curl_initialised() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

Result<HeaderList> request_headers(const std::string& api_key) {
  HeaderList headers;
  const auto append = [&headers](const std::string& line) {
    curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
    if (grown != nullptr) {
      static_cast<void>(headers.release());
      headers.reset(grown);
    }
    return grown != nullptr;
  };
  bool built = append("Content-Type: application/json") && append("Expect:");  // no 100-continue round trip
  if (!api_key.empty()) built = built && append("Authorization: Bearer " + api_key);
  if (!built) return Error::internal("out of memory building request headers");
  return headers;
}

void configure(CURL* curl, Exchange& exchange, const std::string& url, const std::string& body,
               curl_slist* headers, const ClientOptions& options) {
  exchange.curl = curl;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: required with threads
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "brandcoach/" BRANDCOACH_VERSION);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, exchange.error_buffer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &exchange);
}

Error cancelled(std::string_view what) {
  return Error::cancelled(std::string(what) + " was cancelled: the caller went away");
}

Error scrubbed(std::string message, const std::string& api_key) {
  if (!api_key.empty()) {
    for (size_t at = message.find(api_key); at != std::string::npos; at = message.find(api_key, at)) {
      message.replace(at, api_key.size(), "[redacted]");
    }
  }
  return Error::unavailable(std::move(message));
}

Verdict judge(Exchange& exchange, int attempt, std::string_view what, const ClientOptions& options,
              Upstream::Permit* permit) {
  curl_easy_getinfo(exchange.curl, CURLINFO_RESPONSE_CODE, &exchange.status);
  // The handle may outlive this exchange (it keeps the connection); it must not keep pointers into it.
  curl_easy_setopt(exchange.curl, CURLOPT_ERRORBUFFER, nullptr);
  using Kind = Verdict::Kind;
  if (exchange.stop.stop_requested()) return {Kind::failed, {}, cancelled(what)};
  if (exchange.sink_stopped) {
    if (permit) permit->succeeded();
    return {Kind::succeeded, {}, {}};
  }
  std::string problem;
  bool retry = false;
  if (exchange.code != CURLE_OK) {
    problem = std::string("network error: ") + curl_easy_strerror(exchange.code);
    if (exchange.error_buffer[0] != '\0') problem += std::string(" (") + exchange.error_buffer + ")";
    retry = retryable_curl(exchange.code);
  } else if (exchange.status >= 200 && exchange.status < 300) {
    if (permit) permit->succeeded();
    return {Kind::succeeded, {}, {}};
  } else {
    problem = "HTTP " + std::to_string(exchange.status) + ": " + upstream_message(exchange.body);
    retry = retryable_status(exchange.status);
  }
  // Once part of an answer reached the caller a retry would repeat it: the call has failed.
  if (exchange.streamed) retry = false;
  if (retry && attempt < options.max_retries) {
    if (options.upstream) options.upstream->count_retry();
    return {Kind::retry, retry_delay(attempt, exchange.retry_after_seconds), {}};
  }
  // A 4xx other than 429 is our request's fault, not a sign the provider is down.
  const bool provider_fault = exchange.code != CURLE_OK || exchange.status == 429 || exchange.status >= 500;
  if (permit) {
    if (provider_fault) {
      permit->failed();
    } else {
      permit->succeeded();
    }
  }
  Error error = scrubbed(std::string(what) + " failed after " + std::to_string(attempt + 1) +
                             (attempt == 0 ? " attempt: " : " attempts: ") + problem +
                             (exchange.streamed ? " (the answer was cut off)" : ""),
                         options.api_key);
  if (exchange.status == 429 && exchange.retry_after_seconds)
    error.retry_after_s = *exchange.retry_after_seconds;
  return {Kind::failed, {}, std::move(error)};
}

}  // namespace brandcoach::net::attempt
