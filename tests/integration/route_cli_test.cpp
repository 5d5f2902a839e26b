// Black-box tests of `brandcoach route` and `brandcoach eval routing` with the bundled routing data.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/fake_openai_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

// A fake chat model that routes everything to `assistant`, and remembers what it was asked.
FakeOpenAiServer::Handler routing_model(const std::string& assistant, std::vector<json>* requests) {
  return [assistant, requests](const FakeOpenAiServer::Request& request) {
    if (request.target.find("/chat/completions") == std::string::npos)
      return FakeOpenAiServer::Reply::openai_error(404, "unknown path");
    requests->push_back(request.json());
    const json answer = {{"assistant", assistant}, {"confidence", 0.66}, {"reasoning", "the fake says so"}};
    return FakeOpenAiServer::Reply::json(
        {{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", answer.dump()}}}}}}});
  };
}

Run run(const TempDir& dir, std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), {"--data-dir", dir.path().string()});
  return run_brandcoach(std::move(args), input);
}

TEST(RouteCli, PlainAndJsonLinesGetOneDecisionEach) {
  TempDir dir;
  const std::string input =
      "how should I price my dog grooming packages\n"
      "{\"id\": 7, \"text\": \"can you run a SWOT on my bakery\"}\n"
      "{\"id\": \"f\", \"text\": \"why?\", \"history\": [{\"role\": \"user\", \"text\": \"who buys "
      "candles\"}, "
      "{\"role\": \"assistant\", \"text\": \"Mostly gift buyers.\", \"assistant\": \"avatar\"}]}\n";
  const auto r = run(dir, {"route"}, input);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 3u) << r.out;
  const auto first = json::parse(out[0]);
  EXPECT_FALSE(first.contains("id"));
  for (const char* key : {"assistant", "confidence", "method", "fallback", "secondary"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  const auto swot = json::parse(out[1]);
  EXPECT_EQ(swot["id"], 7);
  EXPECT_EQ(swot["assistant"], "diagnostic");
  EXPECT_EQ(swot["method"], "rule");
  const auto follow_up = json::parse(out[2]);
  EXPECT_EQ(follow_up["id"], "f");
  EXPECT_EQ(follow_up["assistant"], "avatar");
  EXPECT_EQ(follow_up["method"], "context");
}

TEST(RouteCli, BadLinesAreReportedAndTheRestStillRouted) {
  TempDir dir;
  const std::string huge(101 * 1024, 'a');
  const std::string input =
      "{\"text\": \"\"}\n"
      "{not json\n"
      "{\"text\": \"bad \xff\xfe bytes\"}\n"
      "{\"text\": \"" +
      huge +
      "\"}\n"
      "{\"text\": \"ok\", \"history\": [{\"role\": \"boss\", \"text\": \"x\"}]}\n"
      "what should my tagline be\n";
  const auto r = run(dir, {"route"}, input);
  EXPECT_EQ(r.code, 2) << "bad input exits 2";
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 6u) << r.out;
  for (size_t i = 0; i < 5; ++i) {
    const auto line = json::parse(out[i]);
    ASSERT_TRUE(line.contains("error")) << out[i].substr(0, 200);
    EXPECT_EQ(line["line"], i + 1);
  }
  EXPECT_TRUE(contains(json::parse(out[0])["error"]["message"], "no words"));
  EXPECT_TRUE(contains(json::parse(out[2])["error"]["message"], "UTF-8"));
  EXPECT_TRUE(contains(json::parse(out[3])["error"]["message"], "100 KB"));
  EXPECT_EQ(json::parse(out[5])["assistant"], "core");
  EXPECT_TRUE(contains(r.err, "line 2"));
}

TEST(RouteCli, EvalReportsAccuracyConfusionAndMisroutes) {
  TempDir dir;
  write_file(
      dir / "eval.jsonl",
      "{\"text\": \"can you run a SWOT on my bakery\", \"label\": \"diagnostic\"}\n"
      "{\"text\": \"what should my tagline be\", \"label\": \"core\"}\n"
      "{\"text\": \"ideas for a weekly newsletter\", \"label\": \"capture\"}\n"
      "{\"text\": \"ideas for a weekly newsletter\", \"label\": \"canvas\"}\n"
      "{\"text\": \"more\", \"label\": \"avatar\", \"history\": [{\"role\": \"assistant\", \"text\": \"x\", "
      "\"assistant\": \"avatar\"}]}\n");
  const auto text = run(dir, {"eval", "routing", (dir / "eval.jsonl").string()});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "router: accuracy 80.0% (4/5)")) << text.out;
  EXPECT_TRUE(contains(text.out, "keyword-only baseline")) << text.out;
  EXPECT_TRUE(contains(text.out, "confusion")) << text.out;
  EXPECT_TRUE(contains(text.out, "misrouted (1)")) << text.out;

  const auto as_json = run(dir, {"eval", "routing", "--json", (dir / "eval.jsonl").string()});
  ASSERT_EQ(as_json.code, 0) << as_json.err;
  const auto report = json::parse(as_json.out);
  EXPECT_DOUBLE_EQ(report["accuracy"].get<double>(), 0.8);
  EXPECT_EQ(report["with_history"]["examples"], 1);
  EXPECT_EQ(report["confusion"]["canvas"]["capture"], 1);
  EXPECT_EQ(report["misrouted"].size(), 1u);
  EXPECT_EQ(report["per_assistant"]["diagnostic"]["precision"], 1.0);
}

TEST(RouteCli, EvalRejectsABadFileWithTheLineNumber) {
  TempDir dir;
  write_file(dir / "bad.jsonl",
             "{\"text\": \"hi there\", \"label\": \"core\"}\n{\"text\": \"x y\", \"label\": \"sales\"}\n");
  const auto r = run(dir, {"eval", "routing", (dir / "bad.jsonl").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "bad.jsonl:2")) << r.err;
  EXPECT_TRUE(contains(r.err, "five assistants")) << r.err;
  const auto missing = run(dir, {"eval", "routing", (dir / "nope.jsonl").string()});
  EXPECT_EQ(missing.code, 2);
}

TEST(RouteCli, ChatRepliesCarryTheRouteWithSecondaryAndMethod) {
  TempDir dir;
  const auto r = run(dir, {"chat", "--json"}, "who actually buys my candles?\nok, why?\n");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u);
  const auto first = json::parse(out[0]);
  const auto second = json::parse(out[1]);
  EXPECT_EQ(first["assistant"], "avatar");
  EXPECT_TRUE(first["route"].contains("secondary"));
  EXPECT_EQ(second["route"]["method"], "context") << "a follow-up stays with the previous assistant";
  EXPECT_EQ(second["assistant"], "avatar");
}

TEST(RouteCli, DoubtfulMessagesGoToTheConfiguredLlm) {
  TempDir dir;
  std::vector<json> requests;
  FakeOpenAiServer server(routing_model("canvas", &requests));
  // A few examples per assistant: the classifier trained on them is unsure of everything.
  for (const std::string name : {"diagnostic", "avatar", "canvas", "capture", "core"}) {
    write_file(dir / "routing" / "train" / (name + ".txt"), "about " + name + "\nmore " + name + "\n");
  }
  write_file(dir / "llm.key", "sk-secret\n");
  const std::vector<std::string> llm = {"--set", "route.llm=true",
                                        "--set", "llm.base_url=" + server.base_url(),
                                        "--set", "llm.model=router-model",
                                        "--set", "llm.api_key_file=" + (dir / "llm.key").string(),
                                        "--set", "route.data_dir=" + (dir / "routing").string(),
                                        "--set", "route.confidence_threshold=0.9"};
  std::vector<std::string> args = llm;
  args.push_back("route");
  const auto r = run(dir, args, "who actually buys my candles\n");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto decision = json::parse(lines(r.out).at(0));
  EXPECT_EQ(decision["method"], "llm");
  EXPECT_EQ(decision["assistant"], "canvas");
  EXPECT_DOUBLE_EQ(decision["confidence"].get<double>(), 0.66);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]["model"], "router-model");
  EXPECT_DOUBLE_EQ(requests[0]["temperature"].get<double>(), 0.3);
  EXPECT_EQ(requests[0]["response_format"]["type"], "json_object");
  EXPECT_TRUE(contains(requests[0]["messages"][1]["content"], "candles"));

  // The model failing (500, retried once, 500 again) never blocks routing: core answers.
  server.inject(FakeOpenAiServer::Fault::server_error, 2);
  const auto down = run(dir, args, "who actually buys my candles\n");
  ASSERT_EQ(down.code, 0) << down.err;
  const auto fallback = json::parse(lines(down.out).at(0));
  EXPECT_EQ(fallback["method"], "fallback");
  EXPECT_EQ(fallback["assistant"], "core");
  EXPECT_TRUE(contains(fallback["reasoning"], "HTTP 500")) << fallback.dump();
  EXPECT_FALSE(contains(down.out, "sk-secret"));
}

TEST(RouteCli, LlmRoutingWithoutAModelIsAConfigurationError) {
  TempDir dir;
  const auto r = run(dir, {"--set", "route.llm=true", "route"}, "hello\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "route.llm needs llm.base_url and llm.model")) << r.err;
}

}  // namespace
}  // namespace brandcoach::testing
