// The circuit breaker and concurrency gate shared by every call to one provider.
#include <fmt/format.h>

#include "brandcoach/net/net.hpp"

namespace brandcoach::net {

Status validate(const UpstreamOptions& options, std::string_view section) {
  const auto key = [&](std::string_view name) { return fmt::format("{}.{}", section, name); };
  if (options.breaker_failures < 0 || options.breaker_failures > 1000)
    return Error::config("breaker_failures must be 0 to 1000", key("breaker_failures"));
  if (options.breaker_cooldown_ms < 1 || options.breaker_cooldown_ms > 3'600'000)
    return Error::config("breaker_cooldown_ms must be 1 to 3600000", key("breaker_cooldown_ms"));
  if (options.max_concurrency < 1 || options.max_concurrency > 10000)
    return Error::config("max_concurrency must be 1 to 10000", key("max_concurrency"));
  if (options.max_queue < 0 || options.max_queue > 100000)
    return Error::config("max_queue must be 0 to 100000", key("max_queue"));
  if (options.queue_wait_ms < 0 || options.queue_wait_ms > 600'000)
    return Error::config("queue_wait_ms must be 0 to 600000", key("queue_wait_ms"));
  return ok();
}

std::string_view to_string(BreakerState state) {
  switch (state) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "closed";
}

Upstream::Upstream(std::string name, UpstreamOptions options) : name_(std::move(name)), options_(options) {}

Upstream::Permit::Permit(Permit&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), probe_(other.probe_), reported_(other.reported_) {}

Upstream::Permit& Upstream::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    probe_ = other.probe_;
    reported_ = other.reported_;
  }
  return *this;
}

Upstream::Permit::~Permit() {
  release();
}

void Upstream::Permit::succeeded() {
  if (owner_ == nullptr || reported_) return;
  reported_ = true;
  owner_->finish(probe_, true);
}

void Upstream::Permit::failed() {
  if (owner_ == nullptr || reported_) return;
  reported_ = true;
  owner_->finish(probe_, false);
}

void Upstream::Permit::release() {
  if (owner_ == nullptr) return;
  // An unreported probe (a cancelled call) must not leave the breaker waiting for it forever.
  if (!reported_ && probe_) owner_->finish(true, std::nullopt);
  {
    std::lock_guard lock(owner_->mutex_);
    --owner_->in_flight_;
  }
  owner_->slot_freed_.notify_one();
  owner_ = nullptr;
}

// Records an outcome. `probe` marks the half-open trial call; `success` empty means "no verdict".
void Upstream::finish(bool probe, std::optional<bool> success) {
  std::lock_guard lock(mutex_);
  if (probe) probe_in_flight_ = false;
  if (!success) {
    if (probe && state_ == BreakerState::half_open) state_ = BreakerState::open;  // try again later
    return;
  }
  if (*success) {
    consecutive_failures_ = 0;
    state_ = BreakerState::closed;
    return;
  }
  failures_.fetch_add(1, std::memory_order_relaxed);
  ++consecutive_failures_;
  const bool trips =
      probe || (options_.breaker_failures > 0 && consecutive_failures_ >= options_.breaker_failures);
  if (trips) {
    state_ = BreakerState::open;
    open_until_ = Clock::now() + std::chrono::milliseconds(options_.breaker_cooldown_ms);
  }
}

// The breaker's answer to a new call (the caller holds mutex_): an error while it is open, or a
// permit to go ahead; the first call after the cool-down goes as the one half-open probe.
std::optional<Error> Upstream::breaker_refusal(bool& probe) {
  probe = false;
  if (state_ == BreakerState::closed) return std::nullopt;
  const auto now = Clock::now();
  if (now < open_until_ || probe_in_flight_) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(open_until_ - now).count() + 1;
    Error error = Error::unavailable(fmt::format("{} is failing; its circuit breaker is open (retry in {} s)",
                                                 name_, std::max<int64_t>(left, 1)));
    error.retry_after_s = std::max<int64_t>(left, 1);
    rejected_open_.fetch_add(1, std::memory_order_relaxed);
    return error;
  }
  state_ = BreakerState::half_open;
  probe_in_flight_ = true;
  probe = true;
  return std::nullopt;
}

Error Upstream::queue_full() {
  rejected_busy_.fetch_add(1, std::memory_order_relaxed);
  return Error::overloaded(
      fmt::format("{} is busy: {} calls in flight and {} waiting", name_, in_flight_, waiting_), 1);
}

Result<Upstream::Permit> Upstream::admit(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  bool probe = false;
  if (auto refusal = breaker_refusal(probe)) return *refusal;
  if (in_flight_ >= options_.max_concurrency) {
    if (waiting_ >= options_.max_queue) {
      if (probe) probe_in_flight_ = false;
      return queue_full();
    }
    ++waiting_;
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.queue_wait_ms);
    bool got_slot = true;
    while (in_flight_ >= options_.max_concurrency) {
      if (stop.stop_requested()) {
        got_slot = false;
        break;
      }
      // Short waits so a stop request is noticed without a stop_callback per waiter.
      const auto until = std::min(deadline, Clock::now() + std::chrono::milliseconds(50));
      slot_freed_.wait_until(lock, until);
      if (Clock::now() >= deadline && in_flight_ >= options_.max_concurrency) {
        got_slot = false;
        break;
      }
    }
    --waiting_;
    if (!got_slot) {
      if (probe) probe_in_flight_ = false;
      if (stop.stop_requested()) return Error::cancelled("the caller went away while waiting for " + name_);
      rejected_busy_.fetch_add(1, std::memory_order_relaxed);
      return Error::overloaded(
          fmt::format("{} is busy: no free slot within {} ms", name_, options_.queue_wait_ms), 1);
    }
  }
  ++in_flight_;
  calls_.fetch_add(1, std::memory_order_relaxed);
  return Permit(this, probe);
}

Result<std::optional<Upstream::Permit>> Upstream::try_admit(bool waiting) {
  std::lock_guard lock(mutex_);
  const auto leave_queue = [&] {
    if (waiting) --waiting_;
  };
  if (in_flight_ >= options_.max_concurrency) {
    if (waiting) return std::optional<Permit>();
    // A breaker that would refuse the call refuses it now rather than after its wait.
    const bool refusing = state_ != BreakerState::closed && (Clock::now() < open_until_ || probe_in_flight_);
    bool probe = false;
    if (refusing) return *breaker_refusal(probe);
    if (waiting_ >= options_.max_queue) return queue_full();
    ++waiting_;
    return std::optional<Permit>();
  }
  bool probe = false;
  if (auto refusal = breaker_refusal(probe)) {
    leave_queue();
    return *refusal;
  }
  leave_queue();
  ++in_flight_;
  calls_.fetch_add(1, std::memory_order_relaxed);
  return std::optional<Permit>(Permit(this, probe));
}

void Upstream::stop_waiting(bool timed_out) {
  std::lock_guard lock(mutex_);
  --waiting_;
  if (timed_out) rejected_busy_.fetch_add(1, std::memory_order_relaxed);
}

BreakerState Upstream::state() const {
  std::lock_guard lock(mutex_);
  if (state_ == BreakerState::open && Clock::now() >= open_until_) return BreakerState::half_open;
  return state_;
}

int Upstream::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

UpstreamCounts Upstream::counts() const {
  return {calls_.load(std::memory_order_relaxed), retries_.load(std::memory_order_relaxed),
          failures_.load(std::memory_order_relaxed), rejected_open_.load(std::memory_order_relaxed),
          rejected_busy_.load(std::memory_order_relaxed)};
}

int Upstream::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

}  // namespace brandcoach::net
