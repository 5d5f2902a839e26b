// One HTTP attempt of an OpenAI-compatible POST, as both ways of driving it share it: `Client` runs
// attempts one at a time on the caller's thread, `StreamHub` runs many at once on its own thread.
// Private to the net module.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "brandcoach/net/net.hpp"

namespace brandcoach::net::attempt {

/// curl_global_init, once per process, before any other libcurl call.
CURLcode curl_initialised();

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

struct EasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

/// The request headers of every call: JSON, no 100-continue round trip, the bearer key if any.
Result<HeaderList> request_headers(const std::string& api_key);

/// What one attempt produced; the callbacks write into it, so it must not move during the attempt.
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

/// Sets every option of one attempt on `curl` (reset first), its callbacks writing into `exchange`.
/// `url`, `body` and `headers` must outlive the attempt.
void configure(CURL* curl, Exchange& exchange, const std::string& url, const std::string& body,
               curl_slist* headers, const ClientOptions& options);

/// What to do after an attempt ended.
struct Verdict {
  enum class Kind { succeeded, retry, failed } kind = Kind::failed;
  std::chrono::milliseconds delay{0};  // retry: wait this long first
  std::optional<Error> error;          // failed: why
};

/// Judges a finished attempt (the `attempt`-th, from 0) of the call `what`, reports the outcome to
/// the call's permit when it is final, and counts a retry on the upstream.
Verdict judge(Exchange& exchange, int attempt, std::string_view what, const ClientOptions& options,
              Upstream::Permit* permit);

/// The error of a call its caller left.
Error cancelled(std::string_view what);

/// `message` with the API key replaced, as an unavailable error.
Error scrubbed(std::string message, const std::string& api_key);

}  // namespace brandcoach::net::attempt
