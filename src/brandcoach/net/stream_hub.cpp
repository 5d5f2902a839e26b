// The stream hub: many streamed POSTs on one thread. libcurl's multi interface tells us which sockets
// to watch (CURLMOPT_SOCKETFUNCTION) and when its next timeout falls (CURLMOPT_TIMERFUNCTION); epoll
// watches them, so each wake-up costs only the transfers that have something to do. An eventfd wakes
// the thread for new calls and for shutdown. Calls waiting for an upstream slot or for their next
// attempt wait in lists the loop looks at every few milliseconds, never on a blocked thread.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>

#include "brandcoach/net/attempt.hpp"
#include "brandcoach/net/net.hpp"

namespace brandcoach::net {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Model streams arrive as small events; libcurl's default 16 KiB receive buffer per transfer would be
// most of what a held stream costs.
constexpr long kReceiveBufferBytes = 4096;
// How often calls that wait (for a slot, a retry, or an answer) are checked for a stop request.
constexpr milliseconds kStopCheck{100};
constexpr int kEventsPerWake = 256;

struct FileDescriptor {
  int fd = -1;
  explicit FileDescriptor(int value) : fd(value) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

struct MultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};

}  // namespace

// One call, from start() to on_done. Held by unique_ptr: libcurl's callbacks point into `exchange`.
struct Transfer {
  StreamHub::Call call;
  std::string url;
  ChunkSink sink;  // call.on_chunk, with no exception let through libcurl
  int attempt = 0;
  std::optional<Upstream::Permit> permit;
  Clock::time_point due;  // waiting for a slot: give up then; sleeping: next attempt then
  attempt::EasyHandle easy;
  attempt::Exchange exchange;
};

struct StreamHub::Impl {
  Impl(std::string base, ClientOptions client_options)
      : options(std::move(client_options)),
        epoll(::epoll_create1(EPOLL_CLOEXEC)),
        wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    while (!base.empty() && base.back() == '/') base.pop_back();
    base_url = std::move(base);
    if (attempt::curl_initialised() != CURLE_OK) {
      broken = Error::internal("libcurl could not be initialised");
      return;
    }
    auto built = attempt::request_headers(options.api_key);
    if (!built) {
      broken = built.error();
      return;
    }
    headers = std::move(built).value();
    multi.reset(curl_multi_init());
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake.fd;
    if (!multi || epoll.fd < 0 || wake.fd < 0 || ::epoll_ctl(epoll.fd, EPOLL_CTL_ADD, wake.fd, &event) != 0) {
      broken = Error::internal("the stream hub could not set up its event loop");
      return;
    }
    curl_multi_setopt(multi.get(), CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi.get(), CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi.get(), CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi.get(), CURLMOPT_TIMERDATA, this);
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    poke();
    if (thread.joinable()) thread.join();
    // libcurl's callbacks may run while it closes its cached connections: every member they touch
    // must still be alive.
    multi.reset();
  }

  void start(StreamHub::Call call) {
    auto transfer = std::make_unique<Transfer>();
    transfer->url = base_url + "/" + call.path;
    transfer->call = std::move(call);
    transfer->sink = [transfer = transfer.get()](std::string_view bytes) {
      try {
        return !transfer->call.on_chunk || transfer->call.on_chunk(bytes);
      } catch (const std::exception& e) {
        spdlog::error("{}: reading the answer failed: {}", transfer->call.what, e.what());
        return false;
      }
    };
    open.fetch_add(1);
    if (broken) {
      complete(std::move(transfer), *broken);
      return;
    }
    {
      std::lock_guard lock(mutex);
      if (!stopping) {
        inbox.push_back(std::move(transfer));
        if (!thread.joinable()) thread = std::thread([this] { run(); });
      }
    }
    if (transfer) {
      Error error = attempt::cancelled(transfer->call.what);
      complete(std::move(transfer), std::move(error));
      return;
    }
    poke();
  }

  void poke() const {
    if (wake.fd < 0) return;
    const uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wake.fd, &one, sizeof one);
  }

  // libcurl says which events of a socket it wants now; epoll follows.
  static int on_socket(CURL*, curl_socket_t socket, int what, void* user, void*) {
    auto* impl = static_cast<Impl*>(user);
    if (what == CURL_POLL_REMOVE) {
      ::epoll_ctl(impl->epoll.fd, EPOLL_CTL_DEL, socket, nullptr);
      return 0;
    }
    epoll_event event{};
    event.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    event.data.fd = socket;
    if (::epoll_ctl(impl->epoll.fd, EPOLL_CTL_MOD, socket, &event) != 0 && errno == ENOENT)
      ::epoll_ctl(impl->epoll.fd, EPOLL_CTL_ADD, socket, &event);
    return 0;
  }

  static int on_timer(CURLM*, long timeout_ms, void* user) {
    auto* impl = static_cast<Impl*>(user);
    impl->curl_due = timeout_ms < 0 ? std::nullopt : std::optional(Clock::now() + milliseconds(timeout_ms));
    return 0;
  }

  void run() {
    std::array<epoll_event, kEventsPerWake> events{};
    auto next_stop_check = Clock::now() + kStopCheck;
    while (true) {
      if (!take_inbox()) break;
      const auto now = Clock::now();
      admit_waiting(now);
      wake_sleepers(now);
      if (now >= next_stop_check) {
        drop_stopped_waiting();
        drop_stopped_running();
        next_stop_check = now + kStopCheck;
      }
      const int ready = ::epoll_wait(epoll.fd, events.data(), kEventsPerWake, wait_ms(next_stop_check));
      int still_running = 0;
      for (int i = 0; i < ready; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake.fd) {
          uint64_t count = 0;
          [[maybe_unused]] const auto read = ::read(wake.fd, &count, sizeof count);
          continue;
        }
        int mask = 0;
        if (events[i].events & EPOLLIN) mask |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP)) mask |= CURL_CSELECT_ERR;
        curl_multi_socket_action(multi.get(), fd, mask, &still_running);
      }
      if (curl_due && Clock::now() >= *curl_due) {
        curl_due.reset();
        curl_multi_socket_action(multi.get(), CURL_SOCKET_TIMEOUT, 0, &still_running);
      }
      finish_attempts();
    }
    cancel_everything();
  }

  // Moves new calls to the admission queue; false once the hub is stopping.
  bool take_inbox() {
    std::vector<std::unique_ptr<Transfer>> arrived;
    {
      std::lock_guard lock(mutex);
      if (stopping) return false;
      arrived.swap(inbox);
    }
    for (auto& transfer : arrived) {
      if (!options.upstream) {
        begin_attempt(std::move(transfer));
        continue;
      }
      auto admitted = options.upstream->try_admit(false);
      if (!admitted) {
        complete(std::move(transfer), admitted.error());
      } else if (*admitted) {
        transfer->permit = std::move(**admitted);
        begin_attempt(std::move(transfer));
      } else {
        transfer->due = Clock::now() + options.upstream->queue_wait();
        waiting.push_back(std::move(transfer));
      }
    }
    return true;
  }

  // Calls waiting for a slot, oldest first: admitted, still waiting, refused, or gone.
  void admit_waiting(Clock::time_point now) {
    while (!waiting.empty()) {
      auto& transfer = waiting.front();
      if (transfer->call.stop.stop_requested() || now >= transfer->due) {
        const bool timed_out = !transfer->call.stop.stop_requested();
        options.upstream->stop_waiting(timed_out);
        Error error =
            timed_out ? Error::overloaded(options.upstream->name() + " is busy: no free slot within " +
                                              std::to_string(options.upstream->queue_wait().count()) + " ms",
                                          1)
                      : attempt::cancelled(transfer->call.what);
        auto gone = std::move(transfer);
        waiting.pop_front();
        complete(std::move(gone), std::move(error));
        continue;
      }
      auto admitted = options.upstream->try_admit(true);
      if (admitted && !*admitted) break;  // no slot yet; the rest wait behind this one
      auto next = std::move(transfer);
      waiting.pop_front();
      if (!admitted) {
        complete(std::move(next), admitted.error());
      } else {
        next->permit = std::move(**admitted);
        begin_attempt(std::move(next));
      }
    }
  }

  // Calls waiting behind the head may have been cancelled; their callers should not wait for the
  // head. Looked at with the other stop checks, not on every wake-up.
  void drop_stopped_waiting() {
    for (auto it = waiting.begin(); it != waiting.end();) {
      if (!(*it)->call.stop.stop_requested()) {
        ++it;
        continue;
      }
      options.upstream->stop_waiting(false);
      auto gone = std::move(*it);
      it = waiting.erase(it);
      Error error = attempt::cancelled(gone->call.what);
      complete(std::move(gone), std::move(error));
    }
  }

  void wake_sleepers(Clock::time_point now) {
    for (size_t i = 0; i < sleeping.size();) {
      auto& transfer = sleeping[i];
      if (transfer->call.stop.stop_requested() || now >= transfer->due) {
        auto next = std::move(transfer);
        sleeping[i] = std::move(sleeping.back());
        sleeping.pop_back();
        if (next->call.stop.stop_requested()) {
          Error error = attempt::cancelled(next->call.what);
          complete(std::move(next), std::move(error));
        } else {
          begin_attempt(std::move(next));
        }
        continue;
      }
      ++i;
    }
  }

  // A transfer whose caller left while the model is silent: libcurl would not look at it until data
  // or its timeout came.
  void drop_stopped_running() {
    std::vector<CURL*> stopped;
    for (const auto& [easy, transfer] : running) {
      if (transfer->call.stop.stop_requested()) stopped.push_back(easy);
    }
    for (CURL* easy : stopped) {
      auto node = running.extract(easy);
      curl_multi_remove_handle(multi.get(), easy);
      Error error = attempt::cancelled(node.mapped()->call.what);
      complete(std::move(node.mapped()), std::move(error));
    }
  }

  int wait_ms(Clock::time_point next_stop_check) const {
    std::optional<Clock::time_point> due = curl_due;
    const auto sooner = [&due](Clock::time_point t) {
      if (!due || t < *due) due = t;
    };
    if (!waiting.empty() || !sleeping.empty() || !running.empty()) sooner(next_stop_check);
    for (const auto& transfer : sleeping) sooner(transfer->due);
    if (!due) return -1;
    const auto left = std::chrono::ceil<milliseconds>(*due - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, 60'000));
  }

  void begin_attempt(std::unique_ptr<Transfer> transfer) {
    if (!transfer->easy) transfer->easy.reset(curl_easy_init());
    CURL* easy = transfer->easy.get();
    if (easy == nullptr) {
      complete(std::move(transfer), Error::internal("libcurl could not create a handle"));
      return;
    }
    transfer->exchange = attempt::Exchange{};
    transfer->exchange.sink = &transfer->sink;
    transfer->exchange.stop = transfer->call.stop;
    attempt::configure(easy, transfer->exchange, transfer->url, transfer->call.body, headers.get(), options);
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, kReceiveBufferBytes);
    // Over HTTPS a model server that speaks HTTP/2 carries many streams per connection (libcurl
    // multiplexes by default); waiting for a new connection's TLS handshake to say whether it can
    // keeps the calls that follow from opening connections of their own, so thousands of streams need
    // tens of sockets, not thousands. Plain HTTP is HTTP/1.1 here, where the wait would last until
    // the first answer's headers and hold every new call behind it.
    if (transfer->url.starts_with("https://")) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    if (curl_multi_add_handle(multi.get(), easy) != CURLM_OK) {
      complete(std::move(transfer), Error::internal("libcurl could not start a transfer"));
      return;
    }
    running.emplace(easy, std::move(transfer));
  }

  // Judges every attempt libcurl finished: done, failed, or asleep until its retry.
  void finish_attempts() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi.get(), &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      const CURLcode code = message->data.result;
      auto node = running.extract(easy);
      curl_multi_remove_handle(multi.get(), easy);
      if (node.empty()) continue;
      auto transfer = std::move(node.mapped());
      transfer->exchange.code = code;
      auto verdict = attempt::judge(transfer->exchange, transfer->attempt, transfer->call.what, options,
                                    transfer->permit ? &*transfer->permit : nullptr);
      switch (verdict.kind) {
        case attempt::Verdict::Kind::succeeded:
          complete(std::move(transfer), ok());
          break;
        case attempt::Verdict::Kind::failed:
          complete(std::move(transfer), std::move(*verdict.error));
          break;
        case attempt::Verdict::Kind::retry:
          ++transfer->attempt;
          transfer->due = Clock::now() + verdict.delay;
          sleeping.push_back(std::move(transfer));
          break;
      }
    }
  }

  void cancel_everything() {
    const auto cancel = [this](std::unique_ptr<Transfer>& transfer) {
      Error error = attempt::cancelled(transfer->call.what);
      complete(std::move(transfer), std::move(error));
    };
    for (auto& [easy, transfer] : running) {
      curl_multi_remove_handle(multi.get(), easy);
      cancel(transfer);
    }
    running.clear();
    for (auto& transfer : waiting) {
      options.upstream->stop_waiting(false);
      cancel(transfer);
    }
    waiting.clear();
    for (auto& transfer : sleeping) cancel(transfer);
    sleeping.clear();
    std::vector<std::unique_ptr<Transfer>> arrived;
    {
      std::lock_guard lock(mutex);
      arrived.swap(inbox);
    }
    for (auto& transfer : arrived) cancel(transfer);
  }

  // Ends a call: its slot is freed before its caller hears, and nothing its callback throws escapes.
  void complete(std::unique_ptr<Transfer> transfer, Status status) {
    transfer->permit.reset();
    open.fetch_sub(1);
    try {
      if (transfer->call.on_done) transfer->call.on_done(std::move(status));
    } catch (const std::exception& e) {
      spdlog::error("{}: finishing the call failed: {}", transfer->call.what, e.what());
    }
  }

  std::string base_url;
  ClientOptions options;
  std::optional<Error> broken;  // set when the hub cannot work at all: every call fails with it
  attempt::HeaderList headers;
  std::unique_ptr<CURLM, MultiDeleter> multi;
  FileDescriptor epoll;
  FileDescriptor wake;
  std::atomic<size_t> open{0};

  std::mutex mutex;
  std::vector<std::unique_ptr<Transfer>> inbox;  // guarded by mutex
  bool stopping = false;                         // guarded by mutex
  std::thread thread;                            // started, under mutex, by the first call

  // The hub thread's own.
  std::deque<std::unique_ptr<Transfer>> waiting;  // for an upstream slot, oldest first
  std::vector<std::unique_ptr<Transfer>> sleeping;
  std::unordered_map<CURL*, std::unique_ptr<Transfer>> running;
  std::optional<Clock::time_point> curl_due;
};

StreamHub::StreamHub(std::string base_url, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(base_url), std::move(options))) {}

StreamHub::~StreamHub() = default;

void StreamHub::start(Call call) {
  impl_->start(std::move(call));
}

size_t StreamHub::open_calls() const {
  return impl_->open.load();
}

}  // namespace brandcoach::net
