#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "brandcoach/cache/cache.hpp"

namespace brandcoach::cache {

namespace {

// A cache must answer quickly or not at all: a slow Redis turns into misses, not slow turns.
constexpr timeval kConnectTimeout{0, 500'000};
constexpr timeval kCommandTimeout{0, 250'000};
constexpr size_t kMaxIdleConnections = 16;

// Token bucket in one atomic step on the Redis server's clock (so nodes' clocks never matter).
// KEYS[1]: the bucket; ARGV: tokens per millisecond, capacity. Returns seconds to wait (0: allowed).
constexpr const char* kTakeTokenScript = R"lua(
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate / 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return wait
)lua";

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

Result<Redis::Endpoint> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "redis://";
  if (!url.starts_with(scheme)) return Error::config("must start with redis://", "cache.redis_url");
  std::string_view rest = url.substr(scheme.size());
  if (rest.find('@') != std::string_view::npos) {
    return Error::config("credentials in the URL are not supported; protect Redis by network",
                         "cache.redis_url");
  }
  Redis::Endpoint endpoint;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    const auto db = rest.substr(slash + 1);
    if (!db.empty()) {
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), endpoint.db);
      if (ec != std::errc() || end != db.data() + db.size() || endpoint.db < 0) {
        return Error::config("the database after / must be a number", "cache.redis_url");
      }
    }
    rest = rest.substr(0, slash);
  }
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    const auto port = rest.substr(colon + 1);
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), endpoint.port);
    if (ec != std::errc() || end != port.data() + port.size() || endpoint.port <= 0 ||
        endpoint.port > 65535) {
      return Error::config("the port must be a number from 1 to 65535", "cache.redis_url");
    }
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Error::config("the URL names no host", "cache.redis_url");
  endpoint.host = std::string(rest);
  return endpoint;
}

Result<Context> open_context(const Redis::Endpoint& endpoint, const timeval& command_timeout) {
  Context context(redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, kConnectTimeout));
  if (!context) return Error::unavailable("cannot allocate a Redis connection");
  if (context->err) {
    return Error::unavailable(
        fmt::format("cannot connect to Redis at {}:{}: {}", endpoint.host, endpoint.port, context->errstr));
  }
  redisSetTimeout(context.get(), command_timeout);
  if (endpoint.db != 0) {
    Reply reply(static_cast<redisReply*>(redisCommand(context.get(), "SELECT %d", endpoint.db)));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      return Error::unavailable(fmt::format("Redis refused database {}", endpoint.db));
    }
  }
  return context;
}

}  // namespace

struct Redis::Connection {
  Context context;
};

Redis::Redis(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
Redis::~Redis() = default;

Result<std::unique_ptr<Redis>> Redis::connect(std::string_view url) {
  auto endpoint = parse_url(url);
  if (!endpoint) return endpoint.error();
  std::unique_ptr<Redis> redis(new Redis(std::move(endpoint).value()));
  auto first = redis->acquire();
  if (!first) return first.error();
  redis->give_back(std::move(first).value());
  return redis;
}

Result<std::unique_ptr<Redis::Connection>> Redis::acquire() {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
  }
  auto context = open_context(endpoint_, kCommandTimeout);
  if (!context) return context.error();
  return std::make_unique<Connection>(Connection{std::move(context).value()});
}

void Redis::give_back(std::unique_ptr<Connection> connection) {
  // A connection that saw an error (timeout, reset) may hold half a reply: never reuse it.
  if (!connection || connection->context->err) return;
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(connection));
}

namespace {

// Runs one command on a pooled connection; an I/O error or an error reply becomes unavailable.
template <class... Args>
Result<Reply> command(Redis& redis, std::unique_ptr<Redis::Connection>& connection, const char* format,
                      Args... args) {
  Reply reply(static_cast<redisReply*>(redisCommand(connection->context.get(), format, args...)));
  if (!reply) {
    return Error::unavailable(fmt::format("Redis at {}:{}: {}", redis.endpoint().host, redis.endpoint().port,
                                          connection->context->errstr));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    return Error::unavailable(fmt::format("Redis: {}", std::string_view(reply->str, reply->len)));
  }
  return reply;
}

}  // namespace

// Each public call borrows a connection, runs its command and hands the connection back.
#define BRANDCOACH_REDIS_CALL(...)                       \
  auto connection = acquire();                           \
  if (!connection) return connection.error();            \
  auto reply = command(*this, *connection, __VA_ARGS__); \
  give_back(std::move(connection).value());              \
  if (!reply) return reply.error();

Result<std::optional<std::string>> Redis::get(std::string_view key) {
  BRANDCOACH_REDIS_CALL("GET %b", key.data(), key.size());
  if ((*reply)->type != REDIS_REPLY_STRING) return std::optional<std::string>{};
  return std::optional<std::string>(std::string((*reply)->str, (*reply)->len));
}

Status Redis::set(std::string_view key, std::string_view value, std::chrono::seconds ttl) {
  const std::string seconds = std::to_string(std::max<int64_t>(1, ttl.count()));
  BRANDCOACH_REDIS_CALL("SET %b %b EX %s", key.data(), key.size(), value.data(), value.size(),
                        seconds.c_str());
  return ok();
}

Status Redis::publish(std::string_view channel, std::string_view message) {
  BRANDCOACH_REDIS_CALL("PUBLISH %b %b", channel.data(), channel.size(), message.data(), message.size());
  return ok();
}

Result<int64_t> Redis::take_token(std::string_view key, double per_minute, double burst) {
  const std::string rate = fmt::format("{:.9g}", per_minute / 60000.0);
  const std::string capacity = fmt::format("{:.9g}", std::max(1.0, burst));
  BRANDCOACH_REDIS_CALL("EVAL %s 1 %b %s %s", kTakeTokenScript, key.data(), key.size(), rate.c_str(),
                        capacity.c_str());
  if ((*reply)->type != REDIS_REPLY_INTEGER)
    return Error::unavailable("Redis: the rate limit script gave no number");
  return static_cast<int64_t>((*reply)->integer);
}

#undef BRANDCOACH_REDIS_CALL

// ---- subscriber ----

Subscriber::Subscriber(Redis::Endpoint endpoint, std::string channel,
                       std::function<void(std::string_view)> on_message, std::function<void()> on_reconnect)
    : endpoint_(std::move(endpoint)),
      channel_(std::move(channel)),
      on_message_(std::move(on_message)),
      on_reconnect_(std::move(on_reconnect)),
      thread_([this](std::stop_token stop) { run(stop); }) {}

Subscriber::~Subscriber() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

bool Subscriber::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return ready_changed_.wait_for(lock, timeout, [&] { return ready_; });
}

void Subscriber::run(std::stop_token stop) {
  bool lost_once = false;
  auto backoff = std::chrono::milliseconds(100);
  while (!stop.stop_requested()) {
    // Blocking reads with no timeout: the loop below polls the socket, so a stop is seen promptly.
    auto context = open_context(endpoint_, timeval{0, 0});
    if (context) {
      Reply reply(static_cast<redisReply*>(
          redisCommand(context->get(), "SUBSCRIBE %b", channel_.data(), channel_.size())));
      if (reply && reply->type != REDIS_REPLY_ERROR) {
        backoff = std::chrono::milliseconds(100);
        if (lost_once && on_reconnect_) on_reconnect_();
        {
          std::lock_guard lock(mutex_);
          ready_ = true;
        }
        ready_changed_.notify_all();
        redisContext* c = context->get();
        while (!stop.stop_requested()) {
          pollfd fd{c->fd, POLLIN, 0};
          const int polled = ::poll(&fd, 1, 200);
          if (polled < 0 && errno != EINTR) break;
          if (polled <= 0) continue;
          if (redisBufferRead(c) != REDIS_OK) break;
          void* raw = nullptr;
          bool failed = false;
          while (true) {
            if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
              failed = true;
              break;
            }
            if (!raw) break;
            Reply message(static_cast<redisReply*>(raw));
            // ["message", channel, payload]
            if (message->type == REDIS_REPLY_ARRAY && message->elements == 3 &&
                message->element[2]->type == REDIS_REPLY_STRING) {
              on_message_(std::string_view(message->element[2]->str, message->element[2]->len));
            }
          }
          if (failed) break;
        }
      }
    }
    if (stop.stop_requested()) break;
    {
      std::lock_guard lock(mutex_);
      ready_ = false;
    }
    if (!lost_once) spdlog::warn("cache: lost the Redis invalidation channel; reconnecting");
    lost_once = true;
    // While disconnected, messages are missed: the caller treats a reconnect as "drop everything".
    std::mutex sleep_mutex;
    std::unique_lock sleep_lock(sleep_mutex);
    std::condition_variable_any sleeper;
    sleeper.wait_for(sleep_lock, stop, backoff, [] { return false; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace brandcoach::cache
