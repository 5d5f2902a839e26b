// Memory end to end: scripted users replayed session by session in separate processes, the memory
// CLI (import, search, facts, export, erase) and the /api/me routes, with their bad inputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/fake_openai_server.hpp"
#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

std::string data_dir_arg(const TempDir& dir) {
  return dir.path().string();
}

TEST(MemoryChat, NewSessionGreetsByNameAndRecallsAcrossProcesses) {
  TempDir dir;
  const auto first =
      run_brandcoach({"--data-dir", data_dir_arg(dir), "chat", "--json", "--user", "ana"},
                     "Hi, I'm Ana and my bakery is called Crumb & Co. Our sourdough costs £4.50.\n");
  ASSERT_EQ(first.code, 0) << first.err;
  const auto second =
      run_brandcoach({"--data-dir", data_dir_arg(dir), "chat", "--json", "--new-session", "--user", "ana"},
                     "What did I tell you my sourdough costs?\n");
  ASSERT_EQ(second.code, 0) << second.err;
  const auto reply = json::parse(lines(second.out).at(0));
  EXPECT_EQ(reply["thread"]["session"], 2);
  const auto text = reply["reply"].get<std::string>();
  EXPECT_TRUE(contains(text, "Welcome back, Ana")) << text;
  EXPECT_TRUE(contains(text, "£4.50")) << text;
  EXPECT_FALSE(reply["memory_used"].empty());
}

TEST(MemoryCli, ImportSearchFactsExportErase) {
  TempDir dir;
  write_file(
      dir / "thread.jsonl",
      "{\"id\": \"m1\", \"role\": \"user\", \"text\": \"We are based in Porto and sell ceramic mugs.\", "
      "\"ts\": \"1:56 pm on 8 May, 2023\", \"speaker\": \"Rita\"}\n"
      "{\"id\": \"m2\", \"role\": \"assistant\", \"text\": \"Lovely, tell me about your customers.\", "
      "\"ts\": \"2023-05-08T14:00:00Z\"}\n"
      "{\"id\": \"m3\", \"role\": \"user\", \"text\": \"Our mugs cost €28 each and tourists buy most of "
      "them.\", "
      "\"ts\": \"2023-06-01\"}\n");
  const std::vector<std::string> base = {"--data-dir", data_dir_arg(dir), "memory"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  auto imported = run_brandcoach(with({"import", "--user", "rita", (dir / "thread.jsonl").string()}));
  ASSERT_EQ(imported.code, 0) << imported.err;
  EXPECT_TRUE(contains(imported.err, "imported 3 messages")) << imported.err;
  // Importing the same ids again adds nothing.
  auto again = run_brandcoach(with({"import", "--user", "rita", (dir / "thread.jsonl").string()}));
  ASSERT_EQ(again.code, 0);
  EXPECT_TRUE(contains(again.err, "imported 0 messages for 'rita' (3 already present")) << again.err;

  auto search =
      run_brandcoach(with({"search", "--user", "rita", "--k", "2"}),
                     "where are they based?\n{\"id\": \"q2\", \"query\": \"how much do the mugs cost\"}\n");
  ASSERT_EQ(search.code, 0) << search.err;
  const auto answers = lines(search.out);
  ASSERT_EQ(answers.size(), 2u);
  const auto first = json::parse(answers[0]);
  EXPECT_EQ(first["query_id"], "1");
  EXPECT_EQ(first["results"][0]["id"], "m1");
  EXPECT_EQ(first["results"][0]["ts"], "1:56 pm on 8 May, 2023");
  const auto second = json::parse(answers[1]);
  EXPECT_EQ(second["query_id"], "q2");
  EXPECT_EQ(second["results"][0]["id"], "m3");

  auto facts = run_brandcoach(with({"facts", "--user", "rita"}));
  ASSERT_EQ(facts.code, 0) << facts.err;
  EXPECT_TRUE(contains(facts.out, "\"key\":\"location\"")) << facts.out;
  EXPECT_TRUE(contains(facts.out, "€28")) << facts.out;

  auto exported = run_brandcoach(with({"export", "--user", "rita"}));
  ASSERT_EQ(exported.code, 0) << exported.err;
  const auto document = json::parse(exported.out);
  EXPECT_EQ(document["thread"].size(), 3u);
  EXPECT_EQ(document["thread"][0]["id"], "m1");
  auto markdown = run_brandcoach(with({"export", "--user", "rita", "--format", "md"}));
  ASSERT_EQ(markdown.code, 0);
  EXPECT_TRUE(contains(markdown.out, "# What brandcoach keeps about rita"));

  auto erased = run_brandcoach(with({"erase", "--user", "rita"}));
  ASSERT_EQ(erased.code, 0) << erased.err;
  auto after = run_brandcoach(with({"facts", "--user", "rita"}));
  EXPECT_EQ(after.code, 1);
  EXPECT_TRUE(contains(after.err, "no user 'rita'")) << after.err;
}

TEST(MemoryCli, BadInputIsRefusedWithoutWriting) {
  TempDir dir;
  const std::vector<std::string> base = {"--data-dir", data_dir_arg(dir), "memory"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  write_file(dir / "bad.jsonl",
             "{\"id\": \"a\", \"role\": \"user\", \"text\": \"fine\"}\n{\"id\": \"b\", \"role\": \"robot\", "
             "\"text\": \"x\"}\n");
  auto bad_role = run_brandcoach(with({"import", "--user", "u1", (dir / "bad.jsonl").string()}));
  EXPECT_EQ(bad_role.code, 2);
  EXPECT_TRUE(contains(bad_role.err, "line 2")) << bad_role.err;
  // Nothing of the file was written: the user does not even exist.
  auto facts = run_brandcoach(with({"facts", "--user", "u1"}));
  EXPECT_EQ(facts.code, 1);
  write_file(dir / "notjson.jsonl", "this is not json\n");
  EXPECT_EQ(run_brandcoach(with({"import", "--user", "u1", (dir / "notjson.jsonl").string()})).code, 2);
  EXPECT_EQ(run_brandcoach(with({"import", "--user", "u1", (dir / "missing.jsonl").string()})).code, 1);
  EXPECT_EQ(run_brandcoach(with({"import", "--user", "bad user!", (dir / "bad.jsonl").string()})).code, 2);
  EXPECT_EQ(run_brandcoach(with({"search", "--user", "nobody"}), "hi\n").code, 1);
  EXPECT_EQ(run_brandcoach(with({"export", "--user", "nobody", "--format", "pdf"})).code, 2);
  EXPECT_EQ(run_brandcoach(with({"erase", "--user", "nobody"})).code, 1);
}

// ---------------------------------------------------------------------------------------------

json chat_as(int port, const std::string& user, const std::string& message) {
  const auto reply = request(port, "POST", "/api/chat", json{{"message", message}}.dump(),
                             {{"Content-Type", "application/json"}, {"X-Brandcoach-User", user}});
  EXPECT_EQ(reply.status, 200) << reply.body;
  return json::parse(reply.body);
}

HttpReply as(int port, const std::string& user, const std::string& method, const std::string& path,
             const std::string& body = {}) {
  return request(port, method, path, body,
                 {{"Content-Type", "application/json"}, {"X-Brandcoach-User", user}});
}

TEST(MemoryApi, ProfileFactsHistoryExportSessionAndErase) {
  TempDir dir;
  ServerProcess server(dir.path());
  const int port = server.port();
  chat_as(port, "ana", "We're based in Leeds and our competitors are Greggs and Pret.");
  chat_as(port, "ana", "Actually we relocated to York.");
  chat_as(port, "ben", "We're based in Leeds too.");

  auto profile = json::parse(as(port, "ana", "GET", "/api/me/profile").body);
  EXPECT_EQ(profile["user"], "ana");
  json location;
  for (const auto& f : profile["facts"]) {
    if (f["key"] == "location") location = f;
  }
  ASSERT_FALSE(location.is_null()) << profile.dump();
  EXPECT_EQ(location["value"], "York");
  EXPECT_EQ(location["history"][0]["value"], "Leeds");

  // Ben cannot touch Ana's fact; Ana can correct it.
  const std::string path = "/api/me/facts/" + std::to_string(location["id"].get<int64_t>());
  EXPECT_EQ(as(port, "ben", "PATCH", path, R"({"action": "reject"})").status, 404);
  auto corrected =
      as(port, "ana", "PATCH", path, R"({"action": "correct", "value": "York, North Yorkshire"})");
  ASSERT_EQ(corrected.status, 200) << corrected.body;
  EXPECT_EQ(json::parse(corrected.body)["value"], "York, North Yorkshire");
  EXPECT_EQ(as(port, "ana", "PATCH", path, R"({"action": "confirm"})").status, 409);  // already superseded
  EXPECT_EQ(as(port, "ana", "PATCH", path, R"({"action": "explode"})").status, 400);
  EXPECT_EQ(as(port, "ana", "PATCH", path, R"({"action": 3})").status, 400);
  EXPECT_EQ(as(port, "ana", "PATCH", path, R"({"action": "confirm", "extra": "x"})").status, 400);
  EXPECT_EQ(as(port, "ana", "PATCH", path, "not json").status, 400);
  EXPECT_EQ(as(port, "ana", "PATCH", "/api/me/facts/abc", R"({"action": "confirm"})").status, 400);

  auto page = json::parse(as(port, "ana", "GET", "/api/me/history?limit=2").body);
  ASSERT_EQ(page["messages"].size(), 2u);
  EXPECT_EQ(page["messages"][1]["role"], "assistant");
  const auto older = as(port, "ana", "GET", "/api/me/history?limit=2&before=" + page["next_before"].dump());
  ASSERT_EQ(older.status, 200);
  EXPECT_EQ(json::parse(older.body)["messages"][0]["seq"], 1);
  EXPECT_EQ(as(port, "ana", "GET", "/api/me/history?limit=0").status, 400);
  EXPECT_EQ(as(port, "ana", "GET", "/api/me/history?before=x").status, 400);

  const auto exported = as(port, "ana", "GET", "/api/me/export?format=md");
  ASSERT_EQ(exported.status, 200);
  EXPECT_TRUE(contains(exported.body, "relocated to York"));
  EXPECT_FALSE(contains(exported.body, "We're based in Leeds too"));  // Ben's words
  EXPECT_EQ(as(port, "ana", "GET", "/api/me/export?format=xml").status, 400);

  ASSERT_EQ(as(port, "ana", "POST", "/api/me/session").status, 200);
  const auto welcome = chat_as(port, "ana", "Where am I based again?");
  EXPECT_EQ(welcome["thread"]["session"], 2);
  EXPECT_TRUE(contains(welcome["reply"].get<std::string>(), "York, North Yorkshire")) << welcome.dump();

  ASSERT_EQ(as(port, "ana", "DELETE", "/api/me").status, 200);
  auto gone = json::parse(as(port, "ana", "GET", "/api/me/profile").body);
  EXPECT_TRUE(gone["facts"].empty());
  EXPECT_EQ(as(port, "ana", "GET", "/api/me/export").status, 404);
  auto bens = json::parse(as(port, "ben", "GET", "/api/me/profile").body);
  EXPECT_FALSE(bens["facts"].empty());
}

}  // namespace
}  // namespace brandcoach::testing

namespace brandcoach::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// Model extraction: after the reply, from the durable queue.

// A chat model that reads a project out of any message mentioning "zebra" and answers nonsense to
// messages mentioning "garbage"; `healthy` false makes it fail with 500s.
FakeOpenAiServer::Handler extraction_model(std::atomic<bool>* healthy, std::atomic<int>* calls) {
  return [healthy, calls](const FakeOpenAiServer::Request& request) {
    ++*calls;
    if (!healthy->load()) return FakeOpenAiServer::Reply::openai_error(500, "upstream down");
    const auto body = request.json();
    const std::string message = body["messages"][1]["content"].get<std::string>();
    if (!body.contains("response_format")) {  // a plain-text request: the rolling summary
      return FakeOpenAiServer::Reply::json(
          {{"choices",
            {{{"index", 0},
              {"message",
               {{"role", "assistant"},
                {"content", "MODEL SUMMARY of " + std::to_string(message.size()) + " bytes"}}}}}}});
    }
    std::string content = R"({"facts": []})";
    if (message.find("zebra") != std::string::npos) {
      content =
          R"({"facts": [{"key": "projects", "value": "Project Zebra", "confidence": 0.9, "change": "new"}]})";
    } else if (message.find("garbage") != std::string::npos) {
      content = R"({"facts": [{"key": "favourite_colour", "value": "teal"}]})";  // not in the schema
    }
    return FakeOpenAiServer::Reply::json(
        {{"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}}}});
  };
}

std::vector<std::string> model_settings(const FakeOpenAiServer& server) {
  const auto key_file =
      std::filesystem::temp_directory_path() / ("bc-extract-key-" + std::to_string(::getpid()));
  write_file(key_file, "sk-extract-secret\n");
  return {"--set", "memory.llm_extraction=true", "--set", "llm.base_url=" + server.base_url(),
          "--set", "llm.model=extractor",        "--set", "llm.api_key_file=" + key_file.string()};
}

bool has_fact(int port, const std::string& user, const std::string& value) {
  const auto profile = json::parse(as(port, user, "GET", "/api/me/profile").body);
  for (const auto& f : profile["facts"]) {
    if (f["value"] == value) return true;
  }
  return false;
}

bool eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 300; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(MemoryModelExtraction, FactsArriveAfterTheReplyAndBadAnswersKeepTheRules) {
  std::atomic<bool> healthy{true};
  std::atomic<int> calls{0};
  FakeOpenAiServer model(extraction_model(&healthy, &calls));
  TempDir dir;
  ServerProcess server(dir.path(), model_settings(model));
  chat_as(server.port(), "ana", "We are kicking off the zebra thing next week.");
  EXPECT_TRUE(eventually([&] { return has_fact(server.port(), "ana", "Project Zebra"); }));
  // An answer outside the schema changes nothing the rules found.
  chat_as(server.port(), "ana", "We're based in Leeds, garbage in garbage out.");
  EXPECT_TRUE(eventually([&] { return calls.load() >= 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(has_fact(server.port(), "ana", "Leeds"));
  EXPECT_FALSE(has_fact(server.port(), "ana", "teal"));
  // The model's facts are audited as its own.
  const auto exported = json::parse(as(server.port(), "ana", "GET", "/api/me/export").body);
  bool by_model = false;
  for (const auto& row : exported["audit"]) by_model |= row["actor"] == "llm";
  EXPECT_TRUE(by_model);
  EXPECT_FALSE(contains(server.process().err(), "sk-extract-secret"));
}

TEST(MemoryModelExtraction, TheModelWritesTheRollingSummary) {
  std::atomic<bool> healthy{true};
  std::atomic<int> calls{0};
  FakeOpenAiServer model(extraction_model(&healthy, &calls));
  TempDir dir;
  auto settings = model_settings(model);
  settings.insert(settings.end(), {"--set", "session.summary_every=2", "--set", "session.recent_turns=2"});
  ServerProcess server(dir.path(), settings);
  for (const char* message : {"We're based in Leeds.", "Our sourdough costs £4.50.", "We have 5 staff.",
                              "How do I write a tagline?"}) {
    chat_as(server.port(), "ana", message);
  }
  EXPECT_TRUE(eventually([&] {
    const auto exported = json::parse(as(server.port(), "ana", "GET", "/api/me/export").body);
    return exported["summary"].is_object() &&
           exported["summary"]["text"].get<std::string>().rfind("MODEL SUMMARY", 0) == 0;
  }));
}

TEST(MemoryModelExtraction, QueuedJobsSurviveARestart) {
  std::atomic<bool> healthy{false};
  std::atomic<int> calls{0};
  FakeOpenAiServer model(extraction_model(&healthy, &calls));
  TempDir dir;
  {
    ServerProcess server(dir.path(), model_settings(model));
    // The reply does not wait for the broken model.
    chat_as(server.port(), "ana", "We are kicking off the zebra thing next week.");
    // One failed attempt (the client's own retries included) is recorded for a later try; then the
    // process dies without any chance to clean up.
    EXPECT_TRUE(eventually([&] { return calls.load() >= 3; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    server.process().signal(SIGKILL);
    server.process().wait(std::chrono::seconds(10));
  }
  healthy = true;
  ServerProcess restarted(dir.path(), model_settings(model));
  EXPECT_TRUE(eventually([&] { return has_fact(restarted.port(), "ana", "Project Zebra"); }));
}

TEST(MemoryModelExtraction, ImportedMessagesJoinTheQueue) {
  std::atomic<bool> healthy{true};
  std::atomic<int> calls{0};
  FakeOpenAiServer model(extraction_model(&healthy, &calls));
  TempDir dir;
  write_file(dir / "thread.jsonl",
             "{\"id\": \"z1\", \"role\": \"user\", \"text\": \"The zebra project starts soon.\"}\n"
             "{\"id\": \"z2\", \"role\": \"assistant\", \"text\": \"Tell me more about the zebra idea.\"}\n");
  auto args = model_settings(model);
  args.insert(args.begin(), {"--data-dir", data_dir_arg(dir)});
  auto import_args = args;
  import_args.insert(import_args.end(),
                     {"memory", "import", "--user", "ana", (dir / "thread.jsonl").string()});
  const auto imported = run_brandcoach(import_args);
  ASSERT_EQ(imported.code, 0) << imported.err;
  EXPECT_TRUE(contains(imported.err, "queued for model extraction")) << imported.err;
  EXPECT_EQ(calls.load(), 0);  // importing only queues
  ServerProcess server(dir.path(), model_settings(model));
  EXPECT_TRUE(eventually([&] { return has_fact(server.port(), "ana", "Project Zebra"); }));
  EXPECT_EQ(calls.load(), 1);  // the user message only, not the coach's
}

TEST(MemoryModelExtraction, NeedsAModel) {
  TempDir dir;
  const auto run = run_brandcoach(
      {"--data-dir", data_dir_arg(dir), "--set", "memory.llm_extraction=true", "chat"}, "hello\n");
  EXPECT_EQ(run.code, 2);
  EXPECT_TRUE(contains(run.err, "llm.base_url")) << run.err;
}

}  // namespace
}  // namespace brandcoach::testing
