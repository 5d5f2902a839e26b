// The OpenAI-compatible JSON client: POST {base_url}/{path}, retried with backoff, streamed or not.
//
// Each client owns its CURL easy handle (reused for keep-alive), so clients on different threads
// share only their Upstream.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "brandcoach/net/attempt.hpp"
#include "brandcoach/net/net.hpp"

namespace brandcoach::net {

struct Client::Handle {
  attempt::EasyHandle curl;
  attempt::HeaderList headers;
};

Client::Client(std::string base_url, ClientOptions options) : options_(std::move(options)) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  base_url_ = std::move(base_url);
}

Client::~Client() = default;
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;

Error Client::failure(std::string message) const {
  return attempt::scrubbed(std::move(message), options_.api_key);
}

Status Client::prepare() {
  if (handle_) return ok();
  if (attempt::curl_initialised() != CURLE_OK) return Error::internal("libcurl could not be initialised");
  auto handle = std::make_unique<Handle>();
  handle->curl.reset(curl_easy_init());
  if (!handle->curl) return Error::internal("libcurl could not create a handle");
  auto headers = attempt::request_headers(options_.api_key);
  if (!headers) return headers.error();
  handle->headers = std::move(headers).value();
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
    attempt::Exchange exchange;
    exchange.sink = on_chunk;
    exchange.stop = stop;
    attempt::configure(curl, exchange, url, body, handle_->headers.get(), options_);
    ++attempts_;
    exchange.code = curl_easy_perform(curl);
    auto verdict = attempt::judge(exchange, attempt, what, options_, permit ? &*permit : nullptr);
    if (verdict.kind == attempt::Verdict::Kind::succeeded) {
      if (collected != nullptr) *collected = std::move(exchange.body);
      return ok();
    }
    if (verdict.kind == attempt::Verdict::Kind::failed) return std::move(*verdict.error);
    // Sleep in short steps so a stop request is not held up by a long backoff.
    const auto wake = std::chrono::steady_clock::now() + verdict.delay;
    while (std::chrono::steady_clock::now() < wake) {
      if (stop.stop_requested()) return attempt::cancelled(what);
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          wake - std::chrono::steady_clock::now(), std::chrono::milliseconds(20)));
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
