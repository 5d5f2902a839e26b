// The resilience layer of every outbound call, against a real HTTP server on loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "brandcoach/net/net.hpp"
#include "support/fake_openai_server.hpp"

namespace brandcoach::net {
namespace {

using testing::FakeOpenAiServer;
using Fault = FakeOpenAiServer::Fault;
using std::chrono::milliseconds;

FakeOpenAiServer::Handler echo_ok() {
  return [](const FakeOpenAiServer::Request& request) {
    return FakeOpenAiServer::Reply::json({{"ok", true}, {"got", request.json()}});
  };
}

UpstreamOptions breaker_after(int failures, int64_t cooldown_ms) {
  UpstreamOptions options;
  options.breaker_failures = failures;
  options.breaker_cooldown_ms = cooldown_ms;
  return options;
}

TEST(Upstream, OpensAfterConsecutiveFailuresAndRecoversThroughOneProbe) {
  Upstream upstream("model", breaker_after(2, 150));
  for (int i = 0; i < 2; ++i) {
    auto permit = upstream.admit();
    ASSERT_TRUE(permit);
    permit->failed();
  }
  EXPECT_EQ(upstream.state(), BreakerState::open);
  auto refused = upstream.admit();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::unavailable);
  EXPECT_GE(refused.error().retry_after_s, 1);
  EXPECT_NE(refused.error().message.find("circuit breaker is open"), std::string::npos);

  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(upstream.state(), BreakerState::half_open);
  auto probe = upstream.admit();
  ASSERT_TRUE(probe) << "one probe goes through after the cool-down";
  EXPECT_FALSE(upstream.admit()) << "only one probe at a time";
  probe->succeeded();
  EXPECT_EQ(upstream.state(), BreakerState::closed);
  EXPECT_TRUE(upstream.admit());
}

TEST(Upstream, AFailedProbeOpensTheBreakerAgain) {
  Upstream upstream("model", breaker_after(1, 100));
  upstream.admit()->failed();
  std::this_thread::sleep_for(milliseconds(130));
  auto probe = upstream.admit();
  ASSERT_TRUE(probe);
  probe->failed();
  EXPECT_EQ(upstream.state(), BreakerState::open);
  EXPECT_FALSE(upstream.admit());
}

TEST(Upstream, SuccessResetsTheFailureCount) {
  Upstream upstream("model", breaker_after(2, 10000));
  upstream.admit()->failed();
  upstream.admit()->succeeded();
  upstream.admit()->failed();
  EXPECT_EQ(upstream.state(), BreakerState::closed) << "failures must be consecutive";
}

TEST(Upstream, AFullQueueIsRefusedWithRetryAfter) {
  UpstreamOptions options;
  options.max_concurrency = 1;
  options.max_queue = 0;
  Upstream upstream("model", options);
  auto first = upstream.admit();
  ASSERT_TRUE(first);
  EXPECT_EQ(upstream.in_flight(), 1);
  auto second = upstream.admit();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, ErrorKind::overloaded);
  EXPECT_EQ(http_status(second.error().kind), 503);
  EXPECT_EQ(second.error().retry_after_s, 1);
}

TEST(Upstream, AWaiterGetsTheSlotWhenItIsFreedAndGivesUpAtItsDeadline) {
  UpstreamOptions options;
  options.max_concurrency = 1;
  options.max_queue = 1;
  options.queue_wait_ms = 2000;
  Upstream upstream("model", options);
  auto first = upstream.admit();
  ASSERT_TRUE(first);
  auto waiter = std::async(std::launch::async, [&] { return upstream.admit(); });
  while (upstream.waiting() == 0) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(upstream.admit().error().kind, ErrorKind::overloaded) << "the queue holds one waiter";
  first = Upstream::Permit();  // frees the slot
  auto second = waiter.get();
  ASSERT_TRUE(second);
  EXPECT_EQ(upstream.in_flight(), 1);

  UpstreamOptions short_wait = options;
  short_wait.queue_wait_ms = 50;
  Upstream busy("model", short_wait);
  auto held = busy.admit();
  const auto started = std::chrono::steady_clock::now();
  auto late = busy.admit();
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, ErrorKind::overloaded);
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(45));
}

TEST(Upstream, AWaiterStopsWaitingWhenItsCallerLeaves) {
  UpstreamOptions options;
  options.max_concurrency = 1;
  options.max_queue = 4;
  Upstream upstream("model", options);
  auto held = upstream.admit();
  std::stop_source leave;
  auto waiter = std::async(std::launch::async, [&] { return upstream.admit(leave.get_token()); });
  while (upstream.waiting() == 0) std::this_thread::sleep_for(milliseconds(1));
  leave.request_stop();
  auto result = waiter.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(upstream.waiting(), 0);
}

TEST(Upstream, OptionsOutOfRangeAreConfigurationErrors) {
  UpstreamOptions options;
  options.max_concurrency = 0;
  auto status = validate(options, "llm");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().param, "llm.max_concurrency");
}

ClientOptions quick(int retries, std::shared_ptr<Upstream> upstream = nullptr) {
  ClientOptions options;
  options.max_retries = retries;
  options.timeout_ms = 3000;
  options.connect_timeout_ms = 1000;
  options.upstream = std::move(upstream);
  return options;
}

TEST(Client, RetriesARateLimitHonouringRetryAfterAndThenSucceeds) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::rate_limited, 2);
  Client client(server.base_url(), quick(2));
  auto answer = client.post("things", R"({"a":1})", "test call");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(client.attempts(), 3);
}

TEST(Client, RetriesAServerErrorThenSucceeds) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::server_error, 1);
  Client client(server.base_url(), quick(1));
  auto answer = client.post("things", "{}", "test call");
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(Client, GivesUpAfterItsRetriesWithTheUpstreamsReason) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::server_error, 5);
  Client client(server.base_url(), quick(2));
  auto answer = client.post("things", "{}", "test call");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().kind, ErrorKind::unavailable);
  EXPECT_NE(answer.error().message.find("after 3 attempts"), std::string::npos) << answer.error().message;
  EXPECT_NE(answer.error().message.find("HTTP 500"), std::string::npos);
}

TEST(Client, DoesNotRetryARequestTheServerRejected) {
  FakeOpenAiServer server([](const FakeOpenAiServer::Request&) {
    return FakeOpenAiServer::Reply::openai_error(400, "bad model", "invalid_request_error");
  });
  Client client(server.base_url(), quick(3));
  auto answer = client.post("things", "{}", "test call");
  ASSERT_FALSE(answer);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_NE(answer.error().message.find("bad model"), std::string::npos);
}

TEST(Client, AHungUpstreamTimesOut) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::slow, 1, std::chrono::seconds(5));
  ClientOptions options = quick(0);
  options.timeout_ms = 300;
  Client client(server.base_url(), options);
  const auto started = std::chrono::steady_clock::now();
  auto answer = client.post("things", "{}", "test call");
  ASSERT_FALSE(answer);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_NE(answer.error().message.find("imeout"), std::string::npos) << answer.error().message;
}

TEST(Client, NeverPutsTheApiKeyInAnError) {
  const std::string key = "sk-test-1234567890";
  FakeOpenAiServer server([&](const FakeOpenAiServer::Request&) {
    return FakeOpenAiServer::Reply::openai_error(401, "Incorrect API key provided: " + key, "auth_error");
  });
  ClientOptions options = quick(0);
  options.api_key = key;
  Client client(server.base_url(), options);
  auto answer = client.post("things", "{}", "test call");
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().message.find(key), std::string::npos) << answer.error().message;
  EXPECT_EQ(server.requests().at(0).header("authorization"), "Bearer " + key);
}

FakeOpenAiServer::Handler streaming(std::vector<std::string> chunks, milliseconds delay, bool cut = false) {
  return [=](const FakeOpenAiServer::Request&) {
    FakeOpenAiServer::Reply reply;
    reply.content_type = "text/event-stream";
    reply.chunks = chunks;
    reply.chunk_delay = delay;
    reply.cut_stream = cut;
    return reply;
  };
}

TEST(Client, StreamsTheBodyInOrder) {
  FakeOpenAiServer server(streaming({"one ", "two ", "three"}, milliseconds(5)));
  Client client(server.base_url(), quick(0));
  std::string seen;
  int pieces = 0;
  auto status = client.post_stream("s", "{}", "stream", [&](std::string_view bytes) {
    seen.append(bytes);
    ++pieces;
    return true;
  });
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(seen, "one two three");
  EXPECT_GE(pieces, 2) << "pieces arrive as they are sent, not all at the end";
}

TEST(Client, AStreamCutMidAnswerIsAFailureAndIsNotRetried) {
  FakeOpenAiServer server(streaming({"partial ", "answer"}, milliseconds(1), true));
  Client client(server.base_url(), quick(3));
  std::string seen;
  auto status = client.post_stream("s", "{}", "stream", [&](std::string_view bytes) {
    seen.append(bytes);
    return true;
  });
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::unavailable);
  EXPECT_NE(status.error().message.find("cut off"), std::string::npos) << status.error().message;
  EXPECT_EQ(seen, "partial answer");
  EXPECT_EQ(server.request_count(), 1u) << "no retry after the first streamed byte";
}

TEST(Client, AStreamIsRetriedWhileNothingWasStreamed) {
  FakeOpenAiServer server(streaming({"fine"}, milliseconds(0)));
  server.inject(Fault::rate_limited, 1);
  Client client(server.base_url(), quick(1));
  std::string seen;
  auto status = client.post_stream("s", "{}", "stream", [&](std::string_view bytes) {
    seen.append(bytes);
    return true;
  });
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(seen, "fine");
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(Client, AStopRequestCancelsTheUpstreamCall) {
  FakeOpenAiServer server(streaming(std::vector<std::string>(50, "tick "), milliseconds(40)));
  Client client(server.base_url(), quick(0));
  std::stop_source leave;
  const auto started = std::chrono::steady_clock::now();
  auto status = client.post_stream(
      "s", "{}", "stream",
      [&](std::string_view) {
        leave.request_stop();
        return true;
      },
      leave.get_token());
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::cancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  for (int i = 0; i < 200 && server.cut_streams() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(server.cut_streams(), 1u) << "the upstream saw its client go away";
  EXPECT_EQ(server.finished_streams(), 0u);
}

TEST(Client, FailedCallsOpenTheSharedBreakerAndAnOpenBreakerSendsNothing) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::server_error, 2);
  auto upstream = std::make_shared<Upstream>("model", breaker_after(2, 60000));
  Client client(server.base_url(), quick(0, upstream));
  EXPECT_FALSE(client.post("x", "{}", "call"));
  EXPECT_FALSE(client.post("x", "{}", "call"));
  EXPECT_EQ(upstream->state(), BreakerState::open);
  auto refused = client.post("x", "{}", "call");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("circuit breaker"), std::string::npos);
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(Client, ARejectedRequestDoesNotCountAgainstTheProvider) {
  FakeOpenAiServer server([](const FakeOpenAiServer::Request&) {
    return FakeOpenAiServer::Reply::openai_error(400, "bad", "invalid_request_error");
  });
  auto upstream = std::make_shared<Upstream>("model", breaker_after(1, 60000));
  Client client(server.base_url(), quick(0, upstream));
  EXPECT_FALSE(client.post("x", "{}", "call"));
  EXPECT_EQ(upstream->state(), BreakerState::closed);
}

// One StreamHub call, as a test waits for it.
struct HubCall {
  std::string seen;  // the streamed body
  std::promise<Status> finished;
  std::future<Status> outcome = finished.get_future();
  std::thread::id reader;  // the thread the body arrived on
};

std::shared_ptr<HubCall> start(StreamHub& hub, std::stop_token stop = {},
                               std::function<void(HubCall&)> on_chunk = {}) {
  auto call = std::make_shared<HubCall>();
  StreamHub::Call request;
  request.path = "s";
  request.body = "{}";
  request.what = "stream";
  request.on_chunk = [call, on_chunk](std::string_view bytes) {
    call->seen.append(bytes);
    call->reader = std::this_thread::get_id();
    if (on_chunk) on_chunk(*call);
    return true;
  };
  request.on_done = [call](Status status) { call->finished.set_value(std::move(status)); };
  request.stop = std::move(stop);
  hub.start(std::move(request));
  return call;
}

TEST(StreamHub, HoldsManyStreamsAtOnceOnOneThread) {
  FakeOpenAiServer server(streaming({"one ", "two ", "three"}, milliseconds(30)));
  StreamHub hub(server.base_url(), quick(0));
  constexpr int kCalls = 60;
  std::atomic<int> open{0};
  std::atomic<int> most_open{0};
  std::vector<std::shared_ptr<HubCall>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(start(hub, {}, [&](HubCall& call) {
      if (call.seen == "one ") most_open = std::max(most_open.load(), ++open);
      if (call.seen == "one two three") --open;
    }));
  }
  for (auto& call : calls) {
    auto status = call->outcome.get();
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(call->seen, "one two three");
    EXPECT_EQ(call->reader, calls.front()->reader) << "every stream is read on the hub's one thread";
  }
  EXPECT_NE(calls.front()->reader, std::this_thread::get_id());
  EXPECT_GT(most_open.load(), kCalls / 2) << "the streams were open together, not one after another";
  EXPECT_EQ(hub.open_calls(), 0u);
}

TEST(StreamHub, RetriesWhileNothingWasStreamedButNotAfter) {
  FakeOpenAiServer server(streaming({"fine"}, milliseconds(0)));
  server.inject(Fault::rate_limited, 1);
  StreamHub hub(server.base_url(), quick(1));
  auto retried = start(hub);
  ASSERT_TRUE(retried->outcome.get());
  EXPECT_EQ(retried->seen, "fine");
  EXPECT_EQ(server.request_count(), 2u);

  server.set_handler(streaming({"partial ", "answer"}, milliseconds(1), true));
  auto cut = start(hub);
  auto status = cut->outcome.get();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::unavailable);
  EXPECT_NE(status.error().message.find("cut off"), std::string::npos) << status.error().message;
  EXPECT_EQ(server.request_count(), 3u) << "no retry after the first streamed byte";
}

TEST(StreamHub, AStopRequestCancelsTheUpstreamCall) {
  FakeOpenAiServer server(streaming(std::vector<std::string>(100, "tick "), milliseconds(40)));
  StreamHub hub(server.base_url(), quick(0));
  std::stop_source leave;
  auto call = start(hub, leave.get_token(), [&](HubCall&) { leave.request_stop(); });
  auto status = call->outcome.get();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::cancelled);
  for (int i = 0; i < 200 && server.cut_streams() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(server.cut_streams(), 1u) << "the upstream saw its client go away";
}

TEST(StreamHub, ACallerWhoLeavesASilentStreamIsNotKeptWaiting) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::slow, 1, std::chrono::seconds(3));
  StreamHub hub(server.base_url(), quick(0));
  std::stop_source leave;
  auto call = start(hub, leave.get_token());
  std::this_thread::sleep_for(milliseconds(100));
  leave.request_stop();
  ASSERT_EQ(call->outcome.wait_for(std::chrono::seconds(2)), std::future_status::ready)
      << "the hub noticed the stop before the upstream said anything";
  EXPECT_EQ(call->outcome.get().error().kind, ErrorKind::cancelled);
}

TEST(StreamHub, WaitsForAnUpstreamSlotWithoutBlockingAndRefusesAFullQueue) {
  FakeOpenAiServer server(streaming({"a ", "b"}, milliseconds(60)));
  UpstreamOptions limits;
  limits.max_concurrency = 2;
  limits.max_queue = 2;
  auto upstream = std::make_shared<Upstream>("model", limits);
  StreamHub hub(server.base_url(), quick(0, upstream));
  std::atomic<int> most_in_flight{0};
  std::vector<std::shared_ptr<HubCall>> calls;
  for (int i = 0; i < 5; ++i) {
    calls.push_back(start(
        hub, {}, [&](HubCall&) { most_in_flight = std::max(most_in_flight.load(), upstream->in_flight()); }));
  }
  int refused = 0;
  for (auto& call : calls) {
    auto status = call->outcome.get();
    if (!status) {
      EXPECT_EQ(status.error().kind, ErrorKind::overloaded) << status.error().message;
      ++refused;
      continue;
    }
    EXPECT_EQ(call->seen, "a b");
  }
  EXPECT_EQ(refused, 1) << "two in flight and two waiting; the fifth is refused";
  EXPECT_LE(most_in_flight.load(), 2);
  EXPECT_EQ(upstream->in_flight(), 0);
  EXPECT_EQ(upstream->waiting(), 0);
  EXPECT_EQ(upstream->counts().rejected_busy, 1u);
}

TEST(StreamHub, AnOpenBreakerRefusesAtOnce) {
  FakeOpenAiServer server(echo_ok());
  server.inject(Fault::server_error, 1);
  auto upstream = std::make_shared<Upstream>("model", breaker_after(1, 60000));
  StreamHub hub(server.base_url(), quick(0, upstream));
  EXPECT_FALSE(start(hub)->outcome.get());
  EXPECT_EQ(upstream->state(), BreakerState::open);
  auto refused = start(hub)->outcome.get();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::unavailable);
  EXPECT_NE(refused.error().message.find("circuit breaker"), std::string::npos);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(StreamHub, EndsOpenCallsAsCancelledWhenItStops) {
  FakeOpenAiServer server(streaming(std::vector<std::string>(100, "tick "), milliseconds(40)));
  std::shared_ptr<HubCall> call;
  {
    StreamHub hub(server.base_url(), quick(0));
    call = start(hub);
    while (call->seen.empty()) std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(call->outcome.wait_for(milliseconds(0)), std::future_status::ready);
  EXPECT_EQ(call->outcome.get().error().kind, ErrorKind::cancelled);
}

}  // namespace
}  // namespace brandcoach::net
