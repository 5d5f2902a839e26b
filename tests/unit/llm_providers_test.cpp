// The model providers and the offline fallback, against a fake OpenAI-compatible server over HTTP.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "brandcoach/llm/llm.hpp"
#include "support/fake_openai_server.hpp"

namespace brandcoach::llm {
namespace {

using testing::chat_handler;
using testing::FakeOpenAiServer;
using testing::ModelScript;
using testing::responses_handler;
using Fault = FakeOpenAiServer::Fault;
using nlohmann::json;
using std::chrono::milliseconds;

Prompt prompt() {
  Prompt p;
  p.assistant = "canvas";
  p.assistant_title = "IDEA Canvas Developer";
  p.instructions = "You are the IDEA Business Model Canvas Specialist.";
  p.user_message = "How should I price my consulting service?";
  p.user_name = "Ana";
  p.known_facts = {"Company: Brightside Consulting"};
  p.recent_turns = {"user: I run a consultancy", "assistant: Tell me more about it."};
  p.next_steps = {"What does one customer pay you in a year?"};
  p.sources = {
      {"canvas", "pricing.md", "Pricing",
       "Value-based pricing sets the price from the result the customer gets, not from your hours. "
       "A consulting service priced by outcome can earn more than one priced by the hour."},
      {"canvas", "tiers.md", "Tiers",
       "Three pricing tiers let customers choose how much service they want to buy. Most buyers pick "
       "the middle tier, so design the middle tier as the one you want to sell."}};
  return p;
}

ModelOptions model_options(const FakeOpenAiServer& server, int retries = 0) {
  ModelOptions options;
  options.base_url = server.base_url();
  options.api_key = "sk-test";
  options.model = "gpt-test";
  options.max_retries = retries;
  options.timeout_ms = 3000;
  return options;
}

ModelScript plain(const json&) {
  return {};
}

struct Streamed {
  Result<Completion> completion;
  std::vector<std::string> deltas;
  std::string joined() const {
    std::string out;
    for (const auto& d : deltas) out += d;
    return out;
  }
};

// Each provider test runs both ways a provider answers: on the calling thread (generate) and on the
// provider's stream hub (generate_async), which must give the same answers, errors and requests.
enum class Mode { blocking, hub };

class Generation : public ::testing::TestWithParam<Mode> {
 protected:
  Streamed generate(LlmProvider& provider, const Prompt& p = prompt(), Options options = {},
                    const std::function<void()>& on_each_delta = {}) const {
    auto deltas = std::make_shared<std::vector<std::string>>();
    const DeltaSink sink = [deltas, on_each_delta](std::string_view d) {
      deltas->emplace_back(d);
      if (on_each_delta) on_each_delta();
    };
    if (GetParam() == Mode::blocking) {
      auto completion = provider.generate(p, options, sink);
      return {std::move(completion), std::move(*deltas)};
    }
    std::promise<Result<Completion>> finished;
    auto answer = finished.get_future();
    provider.generate_async(
        std::make_shared<const Prompt>(p), options, sink,
        [&finished](Result<Completion> completion) { finished.set_value(std::move(completion)); });
    auto completion = answer.get();
    return {std::move(completion), std::move(*deltas)};
  }
};

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return info.param == Mode::blocking ? "Blocking" : "Hub";
}

class ResponsesProvider : public Generation {};
class ChatProvider : public Generation {};
class FallbackProvider : public Generation {};
INSTANTIATE_TEST_SUITE_P(BothWays, ResponsesProvider, ::testing::Values(Mode::blocking, Mode::hub),
                         mode_name);
INSTANTIATE_TEST_SUITE_P(BothWays, ChatProvider, ::testing::Values(Mode::blocking, Mode::hub), mode_name);
INSTANTIATE_TEST_SUITE_P(BothWays, FallbackProvider, ::testing::Values(Mode::blocking, Mode::hub), mode_name);

TEST_P(ResponsesProvider, StreamsDeltasInOrderAndReportsUsageAndTheResponseId) {
  FakeOpenAiServer server(responses_handler(plain));
  auto provider = make_responses_provider(model_options(server));
  auto run = generate(*provider, prompt(), {0.7, 300, "", {}});
  ASSERT_TRUE(run.completion) << run.completion.error().message;
  EXPECT_EQ(run.deltas, (std::vector<std::string>{"Price ", "by the ", "value you ", "deliver [1]."}));
  EXPECT_EQ(run.completion->text, "Price by the value you deliver [1].");
  EXPECT_EQ(run.completion->usage.input_tokens, 321);
  EXPECT_EQ(run.completion->usage.output_tokens, 17);
  EXPECT_EQ(run.completion->response_id, "resp_1");
  EXPECT_EQ(run.completion->provider, "openai");
  EXPECT_EQ(run.completion->model, "gpt-test");
  EXPECT_FALSE(run.completion->degraded);
  ASSERT_EQ(run.completion->citations.size(), 1u);
  EXPECT_EQ(run.completion->citations[0].number, 1);
  EXPECT_EQ(run.completion->citations[0].source_index, 0u);

  const auto body = server.requests().at(0).json();
  EXPECT_EQ(server.requests().at(0).target, "/v1/responses");
  EXPECT_EQ(body["model"], "gpt-test");
  EXPECT_EQ(body["stream"], true);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.7);
  EXPECT_EQ(body["max_output_tokens"], 300);
  EXPECT_EQ(body["store"], false);
  EXPECT_FALSE(body.contains("previous_response_id"));
  EXPECT_NE(body["instructions"].get<std::string>().find("IDEA Business Model Canvas Specialist"),
            std::string::npos);
  EXPECT_NE(body["instructions"].get<std::string>().find("Company: Brightside Consulting"),
            std::string::npos);
  ASSERT_EQ(body["input"].size(), 3u) << "the recent turns, then this message";
  EXPECT_EQ(body["input"][0]["role"], "user");
  EXPECT_EQ(body["input"][1]["role"], "assistant");
  const auto turn = body["input"][2]["content"].get<std::string>();
  EXPECT_NE(turn.find("[1] (pricing.md — Pricing) Value-based pricing"), std::string::npos) << turn;
  EXPECT_NE(turn.find("How should I price my consulting service?"), std::string::npos);
}

TEST_P(ResponsesProvider, ChainsTheThreadWithPreviousResponseId) {
  FakeOpenAiServer server(responses_handler(plain));
  auto options = model_options(server);
  options.chain = true;
  auto provider = make_responses_provider(options);
  auto p = prompt();
  p.previous_response_id = "resp_41";
  auto run = generate(*provider, p);
  ASSERT_TRUE(run.completion) << run.completion.error().message;
  const auto body = server.requests().at(0).json();
  EXPECT_EQ(body["previous_response_id"], "resp_41");
  EXPECT_EQ(body["store"], true) << "a chained response must be stored to be continued";
  EXPECT_EQ(body["input"].size(), 1u) << "the server already holds the earlier turns";
}

TEST_P(ResponsesProvider, AnswersWithTheWholeContextWhenThePreviousResponseIsGone) {
  FakeOpenAiServer server(responses_handler(plain));
  server.set_handler([inner = responses_handler(plain)](const FakeOpenAiServer::Request& request) {
    if (request.json().contains("previous_response_id"))
      return FakeOpenAiServer::Reply::openai_error(400, "Previous response not found",
                                                   "invalid_request_error");
    return inner(request);
  });
  auto options = model_options(server);
  options.chain = true;
  auto provider = make_responses_provider(options);
  auto p = prompt();
  p.previous_response_id = "resp_expired";
  auto run = generate(*provider, p);
  ASSERT_TRUE(run.completion) << run.completion.error().message;
  ASSERT_EQ(server.request_count(), 2u);
  EXPECT_EQ(server.requests()[1].json()["input"].size(), 3u);
}

TEST_P(ResponsesProvider, AFailedResponseAndAnErrorEventAreFailures) {
  FakeOpenAiServer server([](const FakeOpenAiServer::Request&) {
    FakeOpenAiServer::Reply reply;
    reply.content_type = "text/event-stream";
    reply.chunks = {testing::sse(
        "response.failed",
        {{"type", "response.failed"}, {"response", {{"error", {{"message", "model overloaded"}}}}}})};
    return reply;
  });
  auto provider = make_responses_provider(model_options(server));
  auto run = generate(*provider);
  ASSERT_FALSE(run.completion);
  EXPECT_NE(run.completion.error().message.find("model overloaded"), std::string::npos);

  server.set_handler([](const FakeOpenAiServer::Request&) {
    FakeOpenAiServer::Reply reply;
    reply.content_type = "text/event-stream";
    reply.chunks = {testing::sse("error", {{"type", "error"}, {"message", "quota exceeded"}})};
    return reply;
  });
  run = generate(*provider);
  ASSERT_FALSE(run.completion);
  EXPECT_NE(run.completion.error().message.find("quota exceeded"), std::string::npos);
}

TEST_P(ResponsesProvider, MalformedEventsAndCutStreamsAreFailures) {
  FakeOpenAiServer server(responses_handler([](const json&) {
    ModelScript s;
    s.malformed = true;
    return s;
  }));
  auto provider = make_responses_provider(model_options(server));
  auto run = generate(*provider);
  ASSERT_FALSE(run.completion);
  EXPECT_NE(run.completion.error().message.find("not a JSON object"), std::string::npos)
      << run.completion.error().message;

  server.set_handler(responses_handler([](const json&) {
    ModelScript s;
    s.cut = true;
    return s;
  }));
  run = generate(*provider);
  ASSERT_FALSE(run.completion);
  EXPECT_NE(run.completion.error().message.find("cut off"), std::string::npos)
      << run.completion.error().message;
}

TEST_P(ChatProvider, StreamsChunksUntilDoneWithUsage) {
  FakeOpenAiServer server(chat_handler(plain));
  auto provider = make_chat_provider(model_options(server));
  auto run = generate(*provider, prompt(), {0.2, 256, "llama3.2", {}});
  ASSERT_TRUE(run.completion) << run.completion.error().message;
  EXPECT_EQ(run.joined(), "Price by the value you deliver [1].");
  EXPECT_EQ(run.completion->text, run.joined());
  EXPECT_EQ(run.completion->usage.input_tokens, 321);
  EXPECT_EQ(run.completion->provider, "chat");
  EXPECT_EQ(run.completion->model, "llama3.2") << "a per-assistant model overrides the provider's";
  const auto body = server.requests().at(0).json();
  EXPECT_EQ(server.requests().at(0).target, "/v1/chat/completions");
  EXPECT_EQ(body["model"], "llama3.2");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["max_tokens"], 256);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"].size(), 4u);
}

TEST_P(ChatProvider, EstimatesUsageWhenTheServerReportsNone) {
  FakeOpenAiServer server(chat_handler([](const json&) {
    ModelScript s;
    s.input_tokens = 0;
    s.output_tokens = 0;
    return s;
  }));
  auto provider = make_chat_provider(model_options(server));
  auto run = generate(*provider);
  ASSERT_TRUE(run.completion);
  EXPECT_GT(run.completion->usage.input_tokens, 50);
  EXPECT_GT(run.completion->usage.output_tokens, 3);
}

TEST_P(ChatProvider, AStreamCutMidAnswerIsAFailure) {
  FakeOpenAiServer server(chat_handler([](const json&) {
    ModelScript s;
    s.cut = true;
    return s;
  }));
  auto provider = make_chat_provider(model_options(server, 2));
  auto run = generate(*provider);
  ASSERT_FALSE(run.completion);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_P(ChatProvider, NeedsABaseUrlAndAModel) {
  auto provider = make_chat_provider({});
  auto run = generate(*provider);
  ASSERT_FALSE(run.completion);
  EXPECT_EQ(run.completion.error().kind, ErrorKind::invalid_config);
}

std::unique_ptr<LlmProvider> with_fallback(std::unique_ptr<LlmProvider> model) {
  return make_fallback_provider(std::move(model), make_offline_composer());
}

TEST_P(FallbackProvider, AFailingModelIsAnsweredOfflineWithANotice) {
  FakeOpenAiServer server(chat_handler(plain));
  server.inject(Fault::server_error, 3);
  auto provider = with_fallback(make_chat_provider(model_options(server, 1)));
  auto run = generate(*provider);
  ASSERT_TRUE(run.completion) << run.completion.error().message;
  EXPECT_TRUE(run.completion->degraded);
  EXPECT_EQ(run.completion->provider, "offline");
  EXPECT_NE(run.completion->notice.find("HTTP 500"), std::string::npos) << run.completion->notice;
  EXPECT_EQ(run.completion->text.rfind("_The language model could not answer just now", 0), 0u)
      << run.completion->text;
  EXPECT_EQ(run.joined(), run.completion->text) << "the stream carries the notice and the fallback";
  EXPECT_FALSE(run.completion->citations.empty()) << "the offline answer cites the knowledge base";
  EXPECT_EQ(server.request_count(), 2u) << "one retry, then the fallback";
}

TEST_P(FallbackProvider, AnAnswerCutMidStreamKeepsWhatWasSentAndContinuesOffline) {
  FakeOpenAiServer server(responses_handler([](const json&) {
    ModelScript s;
    s.cut = true;
    return s;
  }));
  auto provider = with_fallback(make_responses_provider(model_options(server, 2)));
  auto run = generate(*provider);
  ASSERT_TRUE(run.completion);
  EXPECT_TRUE(run.completion->degraded);
  EXPECT_EQ(run.completion->text.rfind("Price by the value you deliver [1].", 0), 0u);
  EXPECT_NE(run.completion->text.find("answer was cut off"), std::string::npos);
  EXPECT_EQ(run.joined(), run.completion->text);
}

TEST_P(FallbackProvider, AHungModelTimesOutAndTheTurnIsStillAnswered) {
  FakeOpenAiServer server(chat_handler(plain));
  server.inject(Fault::slow, 1, std::chrono::seconds(5));
  auto options = model_options(server);
  options.timeout_ms = 300;
  auto provider = with_fallback(make_chat_provider(options));
  const auto started = std::chrono::steady_clock::now();
  auto run = generate(*provider);
  ASSERT_TRUE(run.completion);
  EXPECT_TRUE(run.completion->degraded);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

TEST_P(FallbackProvider, AnOpenBreakerAnswersOfflineAndAHalfOpenProbeRecovers) {
  FakeOpenAiServer server(chat_handler(plain));
  server.inject(Fault::server_error, 2);
  net::UpstreamOptions breaker;
  breaker.breaker_failures = 2;
  breaker.breaker_cooldown_ms = 200;
  auto upstream = std::make_shared<net::Upstream>("chat", breaker);
  auto options = model_options(server);
  options.upstream = upstream;
  auto provider = with_fallback(make_chat_provider(options));

  EXPECT_TRUE(generate(*provider).completion->degraded);
  EXPECT_TRUE(generate(*provider).completion->degraded);
  EXPECT_EQ(upstream->state(), net::BreakerState::open);
  auto while_open = generate(*provider);
  ASSERT_TRUE(while_open.completion);
  EXPECT_TRUE(while_open.completion->degraded);
  EXPECT_NE(while_open.completion->notice.find("circuit breaker"), std::string::npos);
  EXPECT_EQ(server.request_count(), 2u) << "an open breaker sends nothing upstream";

  std::this_thread::sleep_for(milliseconds(250));
  auto probe = generate(*provider);
  ASSERT_TRUE(probe.completion);
  EXPECT_FALSE(probe.completion->degraded) << "the half-open probe succeeded";
  EXPECT_EQ(upstream->state(), net::BreakerState::closed);
  EXPECT_EQ(server.request_count(), 3u);
}

TEST_P(FallbackProvider, AFullQueueIsBackpressureNotAFallback) {
  FakeOpenAiServer server(chat_handler([](const json&) {
    ModelScript s;
    s.piece_delay = milliseconds(150);
    return s;
  }));
  net::UpstreamOptions limits;
  limits.max_concurrency = 1;
  limits.max_queue = 0;
  auto options = model_options(server);
  options.upstream = std::make_shared<net::Upstream>("chat", limits);
  auto provider = with_fallback(make_chat_provider(options));
  auto slow = std::async(std::launch::async, [&] { return generate(*provider).completion.has_value(); });
  while (options.upstream->in_flight() == 0) std::this_thread::sleep_for(milliseconds(2));
  auto refused = generate(*provider);
  ASSERT_FALSE(refused.completion);
  EXPECT_EQ(refused.completion.error().kind, ErrorKind::overloaded);
  EXPECT_EQ(refused.completion.error().retry_after_s, 1);
  EXPECT_TRUE(slow.get());
}

TEST_P(FallbackProvider, ACancelledCallIsNotAnsweredOffline) {
  FakeOpenAiServer server(chat_handler([](const json&) {
    ModelScript s;
    s.pieces = std::vector<std::string>(40, "word ");
    s.piece_delay = milliseconds(50);
    return s;
  }));
  auto provider = with_fallback(make_chat_provider(model_options(server)));
  std::stop_source leave;
  Options options;
  options.stop = leave.get_token();
  auto run = generate(*provider, prompt(), options, [&] { leave.request_stop(); });
  ASSERT_FALSE(run.completion);
  EXPECT_EQ(run.completion.error().kind, ErrorKind::cancelled);
  for (int i = 0; i < 200 && server.cut_streams() == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(server.cut_streams(), 1u);
}

TEST(Sse, ParsesEventsSplitAnywhere) {
  const std::string stream =
      ": keep-alive\r\nevent: response.output_text.delta\r\ndata: {\"delta\":\"a\"}\r\n\r\n"
      "data: line one\ndata: line two\n\nevent: done\rdata: [DONE]\r\r";
  for (size_t split = 0; split <= stream.size(); ++split) {
    SseParser parser;
    std::vector<SseEvent> events;
    for (const auto& part : {stream.substr(0, split), stream.substr(split)}) {
      auto got = parser.feed(part);
      ASSERT_TRUE(got);
      events.insert(events.end(), got->begin(), got->end());
    }
    ASSERT_EQ(events.size(), 3u) << "split at " << split;
    EXPECT_EQ(events[0].event, "response.output_text.delta");
    EXPECT_EQ(events[0].data, R"({"delta":"a"})");
    EXPECT_EQ(events[1].event, "message");
    EXPECT_EQ(events[1].data, "line one\nline two");
    EXPECT_EQ(events[2].event, "done");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

// Found by fuzzing (fuzz/regressions/sse): a CR LF that ended one feed made the LF opening the next
// feed look like the second half of that pair, so the blank line it was got lost with its event.
TEST(Sse, ALineFeedAfterACrLfAtTheEndOfAFeedIsABlankLine) {
  SseParser parser;
  auto first = parser.feed("data: x\r\n");
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->empty());
  auto second = parser.feed("\ndata: y\n\n");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[0].data, "x");
  EXPECT_EQ((*second)[1].data, "y");
}

TEST(Sse, RefusesAnEventLargerThanItsBound) {
  SseParser parser(64);
  auto got = parser.feed("data: " + std::string(100, 'x'));
  EXPECT_FALSE(got);
  SseParser other(64);
  EXPECT_FALSE(other.feed("data: " + std::string(40, 'x') + "\ndata: " + std::string(40, 'y') + "\n"));
}

TEST(Citations, MarkersMapToTheSourcesTheyName) {
  const auto p = prompt();
  const auto citations =
      citations_from_markers("First [2], then [1] and [2] again; [9] and [x] are not sources.", p);
  ASSERT_EQ(citations.size(), 2u);
  EXPECT_EQ(citations[0].number, 2);
  EXPECT_EQ(citations[0].source_index, 1u);
  EXPECT_EQ(citations[1].number, 1);
  EXPECT_NE(citations[1].snippet.find("Value-based pricing"), std::string::npos);
}

std::filesystem::path write_prices(const std::string& text) {
  const auto path =
      std::filesystem::temp_directory_path() / ("bc-prices-" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << text;
  return path;
}

TEST(Prices, CostsUsageByModelAndFamily) {
  const auto path = write_prices(
      "[models.\"gpt-4o\"]\ninput_per_million = 2.5\noutput_per_million = 10\n"
      "[models.\"gpt-4o-mini\"]\ninput_per_million = 0.15\noutput_per_million = 0.6\n");
  auto table = load_prices(path);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_DOUBLE_EQ(table->cost("gpt-4o", {1'000'000, 100'000}), 3.5);
  EXPECT_DOUBLE_EQ(table->cost("gpt-4o-2024-08-06", {1'000'000, 0}), 2.5)
      << "a snapshot is priced as its family";
  EXPECT_DOUBLE_EQ(table->cost("gpt-4o-mini-2024-07-18", {1'000'000, 0}), 0.15) << "the longest family wins";
  EXPECT_DOUBLE_EQ(table->cost("llama3.2", {1'000'000, 1'000'000}), 0) << "local models cost nothing";
  EXPECT_DOUBLE_EQ(table->cost("extractive-composer", {500, 500}), 0);
  std::filesystem::remove(path);
}

TEST(Prices, ABadTableIsAConfigurationError) {
  for (const std::string text :
       {"[models.\"m\"]\ninput_per_million = \"cheap\"\n", "[models.\"m\"]\ncolour = 1\n",
        "[models.\"m\"]\ninput_per_million = -1\n", "nothing = 1\n", "[models\n"}) {
    const auto path = write_prices(text);
    auto table = load_prices(path);
    ASSERT_FALSE(table) << text;
    EXPECT_EQ(table.error().kind, ErrorKind::invalid_config);
    EXPECT_EQ(table.error().param, "llm.price_file");
    std::filesystem::remove(path);
  }
}

TEST(Prices, TheBundledTableLoads) {
  auto table = load_prices(std::filesystem::path(BRANDCOACH_SOURCE_DATA_DIR) / "prices.toml");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_TRUE(table->knows("gpt-4o-mini"));
}

}  // namespace
}  // namespace brandcoach::llm
