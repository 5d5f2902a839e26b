// The OpenAI-compatible JSON client: POST {base_url}/{path}, retried with backoff, streamed or not.
//
// Each client owns its CURL easy handle (reused for keep-alive), so clients on different threads
// share only their Upstream. Upstream failures come back as ErrorKind::unavailable with the HTTP
// status and the upstream's own message; the API key is scrubbed from every message we build.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "brandcoach/net/net.hpp"

namespace brandcoach::net {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kBackoffBase{200};
constexpr milliseconds kBackoffCap{5000};
constexpr int64_t kRetryAfterCapSeconds = 10;   // a longer wait would outlast the caller's own timeout
constexpr size_t kMaxResponseBytes = 64 << 20;  // 64 texts x 3072 floats as JSON is about 4 MiB
constexpr size_t kMaxUpstreamMessage = 300;

// curl_global_init must run once before any other libcurl call and is not guaranteed thread-safe;
// a function-local static is initialised exactly once even when several threads race to it (C++11
// [stmt.dcl]), and later callers only read the result. There is no curl_global_cleanup: other
// modules may still use libcurl while static destructors run.
CURLcode curl_initialised() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// What one HTTP exchange produced.
struct Exchange {
  CURL* curl = nullptr;
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;  // a non-streamed answer, or the body of a failed streamed one
  std::optional<int64_t> retry_after_seconds;
  char error_buffer[CURL_ERROR_SIZE] = {};
  const ChunkSink* sink = nullptr;  // streaming: where a 2xx body goes
  bool streamed = false;            // some of the body reached the sink: no retry any more
  bool sink_stopped = false;        // the sink asked to stop reading
  std::stop_token stop;
};

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

struct Client::Handle {
  struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  std::unique_ptr<CURL, CurlDeleter> curl;
  HeaderList headers;
};

Client::Client(std::string base_url, ClientOptions options) : options_(std::move(options)) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  base_url_ = std::move(base_url);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Error Client::failure(std::string message) const {
  if (!options_.api_key.empty()) {
    for (size_t at = message.find(options_.api_key); at != std::string::npos;
         at = message.find(options_.api_key, at)) {
      message.replace(at, options_.api_key.size(), "[redacted]");
    }
  }
  return Error::unavailable(std::move(message));
}

Status Client::prepare() {
  if (handle_) return ok();
  if (curl_initialised() != CURLE_OK) return Error::internal("libcurl could not be initialised");
  auto handle = std::make_unique<Handle>();
  handle->curl.reset(curl_easy_init());
  if (!handle->curl) return Error::internal("libcurl could not create a handle");
  const auto append = [&handle](const std::string& line) {
    curl_slist* grown = curl_slist_append(handle->headers.get(), line.c_str());
    if (grown != nullptr) {
      static_cast<void>(handle->headers.release());
      handle->headers.reset(grown);
    }
    return grown != nullptr;
  };
  bool built = append("Content-Type: application/json") && append("Expect:");  // no 100-continue round trip
  if (!options_.api_key.empty()) built = built && append("Authorization: Bearer " + options_.api_key);
  if (!built) return Error::internal("out of memory building request headers");
  handle_ = std::move(handle);
  return ok();
}

Result<std::string> Client::post(std::string_view path, const std::string& body, std::string_view what,
                                 std::stop_token stop) {
  std::string answer;
  if (auto status = exchange(path, body, what, nullptr, &answer, std::move(stop)); !status)
    return status.error();
  return answer;
}

Status Client::post_stream(std::string_view path, const std::string& body, std::string_view what,
                           const ChunkSink& on_chunk, std::stop_token stop) {
  return exchange(path, body, what, &on_chunk, nullptr, std::move(stop));
}

Status Client::exchange(std::string_view path, const std::string& body, std::string_view what,
                        const ChunkSink* on_chunk, std::string* collected, std::stop_token stop) {
  if (auto status = prepare(); !status) return status.error();
  // The breaker and the concurrency limit see one call, however many attempts it takes.
  std::optional<Upstream::Permit> permit;
  if (options_.upstream) {
    auto admitted = options_.upstream->admit(stop);
    if (!admitted) return admitted.error();
    permit.emplace(std::move(admitted).value());
  }
  const std::string url = base_url_ + "/" + std::string(path);
  CURL* curl = handle_->curl.get();
  for (int attempt = 0;; ++attempt) {
    Exchange exchange;
    exchange.curl = curl;
    exchange.sink = on_chunk;
    exchange.stop = stop;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: required with threads
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, handle_->headers.get());
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "brandcoach/" BRANDCOACH_VERSION);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout_ms));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, exchange.error_buffer);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &exchange);
    ++attempts_;
    exchange.code = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &exchange.status);
    // The handle outlives this exchange (it keeps the connection); it must not keep pointers into it.
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

    if (stop.stop_requested())
      return Error::cancelled(std::string(what) + " was cancelled: the caller went away");
    std::string problem;
    bool retry = false;
    if (exchange.sink_stopped) {
      if (permit) permit->succeeded();
      return ok();
    }
    if (exchange.code != CURLE_OK) {
      problem = std::string("network error: ") + curl_easy_strerror(exchange.code);
      if (exchange.error_buffer[0] != '\0') problem += std::string(" (") + exchange.error_buffer + ")";
      retry = retryable_curl(exchange.code);
    } else if (exchange.status >= 200 && exchange.status < 300) {
      if (permit) permit->succeeded();
      if (collected != nullptr) *collected = std::move(exchange.body);
      return ok();
    } else {
      problem = "HTTP " + std::to_string(exchange.status) + ": " + upstream_message(exchange.body);
      retry = retryable_status(exchange.status);
    }
    // Once part of an answer reached the caller a retry would repeat it: the call has failed.
    if (exchange.streamed) retry = false;
    if (!retry || attempt >= options_.max_retries) {
      // A 4xx other than 429 is our request's fault, not a sign the provider is down.
      const bool provider_fault =
          exchange.code != CURLE_OK || exchange.status == 429 || exchange.status >= 500;
      if (permit) {
        if (provider_fault) {
          permit->failed();
        } else {
          permit->succeeded();
        }
      }
      Error error = failure(std::string(what) + " failed after " + std::to_string(attempt + 1) +
                            (attempt == 0 ? " attempt: " : " attempts: ") + problem +
                            (exchange.streamed ? " (the answer was cut off)" : ""));
      if (exchange.status == 429 && exchange.retry_after_seconds)
        error.retry_after_s = *exchange.retry_after_seconds;
      return error;
    }
    if (options_.upstream) options_.upstream->count_retry();
    // Sleep in short steps so a stop request is not held up by a long backoff.
    const auto wake = std::chrono::steady_clock::now() + retry_delay(attempt, exchange.retry_after_seconds);
    while (std::chrono::steady_clock::now() < wake) {
      if (stop.stop_requested())
        return Error::cancelled(std::string(what) + " was cancelled: the caller went away");
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          wake - std::chrono::steady_clock::now(), milliseconds(20)));
    }
  }
}

ClientPool::ClientPool(std::string base_url, ClientOptions options, size_t max_idle)
    : base_url_(std::move(base_url)), options_(std::move(options)), max_idle_(max_idle) {}

ClientPool::Lease ClientPool::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto client = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(client));
    }
  }
  return Lease(this, std::make_unique<Client>(base_url_, options_));
}

void ClientPool::give_back(std::unique_ptr<Client> client) {
  std::lock_guard lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(client));
}

ClientPool::Lease::~Lease() {
  if (pool_ != nullptr && client_) pool_->give_back(std::move(client_));
}

}  // namespace brandcoach::net
