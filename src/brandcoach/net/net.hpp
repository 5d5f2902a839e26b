// brandcoach net: every outbound HTTP call (LLM and embedding APIs) and the one resilience layer
// around it.
//
// `Client` POSTs JSON to an OpenAI-compatible server with libcurl: connect and total timeouts,
// retries with exponential backoff and full jitter on network errors, 429 and 5xx (honouring
// Retry-After), and, for streamed answers, no retry once the first byte reached the caller.
// `Upstream` is the state shared by every call to one provider: a circuit breaker (open after N
// consecutive failed calls, one half-open probe after a cool-down) and a concurrency limit with a
// bounded wait queue (full: ErrorKind::overloaded with a Retry-After).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::net {

struct UpstreamOptions {
  int breaker_failures = 5;             // consecutive failed calls that open the breaker; 0: never opens
  int64_t breaker_cooldown_ms = 30000;  // open this long before one probe call is let through
  int max_concurrency = 8;              // calls in flight at once
  int max_queue = 32;                   // calls allowed to wait for a slot; more are refused
  int64_t queue_wait_ms = 10000;        // longest a call waits for a slot
};

/// Checks the bounds of the options; the error (invalid_config) names `section`.key.
Status validate(const UpstreamOptions& options, std::string_view section);

enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState state);

/// What one provider's calls came to since start, for metrics.
struct UpstreamCounts {
  uint64_t calls = 0;          // admitted calls (one however many attempts it took)
  uint64_t retries = 0;        // attempts beyond each call's first
  uint64_t failures = 0;       // calls that failed on the provider's side
  uint64_t rejected_open = 0;  // refused at once: the breaker was open
  uint64_t rejected_busy = 0;  // refused: the wait queue was full or no slot came in time
};

/// One provider's breaker and concurrency gate; thread-safe, shared by all of its calls.
class Upstream {
 public:
  Upstream(std::string name, UpstreamOptions options);

  /// A slot for one call; its destructor frees the slot. `succeeded`/`failed` report the outcome
  /// to the breaker (a permit dropped without either counts as neither, e.g. a cancelled call).
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();
    void succeeded();
    void failed();

   private:
    friend class Upstream;
    Permit(Upstream* owner, bool probe) : owner_(owner), probe_(probe) {}
    void release();
    Upstream* owner_ = nullptr;
    bool probe_ = false;
    bool reported_ = false;
  };

  /// Waits for a slot. Errors: unavailable (breaker open; retry_after_s = the rest of the cool-down),
  /// overloaded (the wait queue is full, or no slot came within queue_wait_ms), cancelled.
  Result<Permit> admit(std::stop_token stop = {});

  /// Admits a call without blocking, for callers that wait on an event loop (StreamHub): a permit; an
  /// error (the breaker is open, or the wait queue is full); or, while every slot is taken, no permit
  /// yet. A call without one counts as waiting until it asks again with `waiting` true, or gives up
  /// with stop_waiting().
  Result<std::optional<Permit>> try_admit(bool waiting);
  /// A waiting call gives up: after queue_wait_ms (refused as busy) or because its caller left.
  void stop_waiting(bool timed_out);
  std::chrono::milliseconds queue_wait() const { return std::chrono::milliseconds(options_.queue_wait_ms); }

  const std::string& name() const { return name_; }
  BreakerState state() const;
  int in_flight() const;
  int waiting() const;
  UpstreamCounts counts() const;
  /// One more attempt of an admitted call (its client is retrying).
  void count_retry() { retries_.fetch_add(1, std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  void finish(bool probe, std::optional<bool> success);
  std::optional<Error> breaker_refusal(bool& probe);
  Error queue_full();

  const std::string name_;
  const UpstreamOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable slot_freed_;
  int in_flight_ = 0;                          // guarded by mutex_
  int waiting_ = 0;                            // guarded by mutex_
  int consecutive_failures_ = 0;               // guarded by mutex_
  BreakerState state_ = BreakerState::closed;  // guarded by mutex_
  Clock::time_point open_until_{};             // guarded by mutex_
  bool probe_in_flight_ = false;               // guarded by mutex_
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> rejected_open_{0};
  std::atomic<uint64_t> rejected_busy_{0};
};

struct ClientOptions {
  std::string api_key;  // sent as Bearer token when not empty; scrubbed from every error message
  int max_retries = 2;  // on 429, 5xx and network errors; never after a streamed byte
  int64_t connect_timeout_ms = 5000;
  int64_t timeout_ms = 60000;          // the whole exchange, a streamed answer included
  std::shared_ptr<Upstream> upstream;  // breaker and concurrency limit; none: calls go straight out
};

/// Called with each piece of a streamed 2xx body, in order; return false to stop reading.
using ChunkSink = std::function<bool(std::string_view)>;

/// An OpenAI-compatible JSON client for one base URL. Keeps its connection between calls; use one
/// client per thread (it owns a libcurl handle).
class Client {
 public:
  Client(std::string base_url, ClientOptions options);
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  /// POSTs `body` to {base_url}/{path} and returns the 2xx answer's body. `what` names the request
  /// in errors ("embeddings request for model m").
  Result<std::string> post(std::string_view path, const std::string& body, std::string_view what,
                           std::stop_token stop = {});

  /// POSTs `body` and hands the 2xx answer to `on_chunk` as it arrives. Retries only while nothing
  /// has been handed over. A stop request aborts the transfer (ErrorKind::cancelled).
  Status post_stream(std::string_view path, const std::string& body, std::string_view what,
                     const ChunkSink& on_chunk, std::stop_token stop = {});

  /// An unavailable error whose message never contains the API key.
  Error failure(std::string message) const;
  /// How many HTTP attempts this client made (retries included), for metrics and tests.
  int64_t attempts() const { return attempts_; }

 private:
  struct Handle;
  Status prepare();
  Status exchange(std::string_view path, const std::string& body, std::string_view what,
                  const ChunkSink* on_chunk, std::string* collected, std::stop_token stop);

  std::string base_url_;
  ClientOptions options_;
  std::unique_ptr<Handle> handle_;
  int64_t attempts_ = 0;
};

/// Streamed POSTs to one base URL, every one driven by a single thread (libcurl's multi interface over
/// epoll): an open call costs a connection and its buffers, not a thread, so a server can hold
/// thousands of model streams at once. Calls get what `Client::post_stream` gives: timeouts, retries
/// while nothing was streamed, the upstream's breaker and concurrency limit (waited for without
/// blocking). The thread starts with the first call; callbacks run on it and must not block.
class StreamHub {
 public:
  struct Call {
    std::string path;  // under the base URL, e.g. "chat/completions"
    std::string body;
    std::string what;                     // names the request in errors
    ChunkSink on_chunk;                   // the 2xx body as it arrives, in order
    std::function<void(Status)> on_done;  // exactly once, when the call ended
    std::stop_token stop;                 // a stop request cancels the call (ErrorKind::cancelled)
  };

  StreamHub(std::string base_url, ClientOptions options);
  /// Ends every call still open as cancelled, then stops the thread.
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  void start(Call call);
  /// Calls started and not yet done.
  size_t open_calls() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Clients for one base URL kept between calls, so calls from any thread reuse open (TLS)
/// connections instead of paying a handshake each. Thread-safe.
class ClientPool {
 public:
  ClientPool(std::string base_url, ClientOptions options, size_t max_idle = 16);

  /// A client for the caller alone; it goes back to the pool when the lease ends.
  class Lease {
   public:
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Client& operator*() { return *client_; }
    Client* operator->() { return client_.get(); }

   private:
    friend class ClientPool;
    Lease(ClientPool* pool, std::unique_ptr<Client> client) : pool_(pool), client_(std::move(client)) {}
    ClientPool* pool_;
    std::unique_ptr<Client> client_;
  };

  Lease acquire();
  const ClientOptions& options() const { return options_; }

 private:
  void give_back(std::unique_ptr<Client> client);
  const std::string base_url_;
  const ClientOptions options_;
  const size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Client>> idle_;  // guarded by mutex_
};

}  // namespace brandcoach::net
