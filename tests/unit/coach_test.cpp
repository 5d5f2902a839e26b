// The turn pipeline with a real SQLite store and the bundled knowledge base.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <thread>

#include "brandcoach/coach/coach.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::coach {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class FailingProvider final : public llm::LlmProvider {
 public:
  std::string_view name() const override { return "failing"; }
  Result<llm::Completion> generate(const llm::Prompt&, const llm::Options&, const llm::DeltaSink&) override {
    return Error::unavailable("upstream down");
  }
};

// Answers like the offline composer, but from a thread of its own, as a model's stream hub does.
class ElsewhereProvider final : public llm::LlmProvider {
 public:
  ~ElsewhereProvider() override {
    if (answering_.joinable()) answering_.join();
  }
  std::string_view name() const override { return "elsewhere"; }
  Result<llm::Completion> generate(const llm::Prompt& prompt, const llm::Options& options,
                                   const llm::DeltaSink& on_delta) override {
    return offline_->generate(prompt, options, on_delta);
  }
  void generate_async(std::shared_ptr<const llm::Prompt> prompt, llm::Options options,
                      llm::DeltaSink on_delta, llm::CompletionHandler done) override {
    asked_on = std::this_thread::get_id();
    answering_ = std::thread([this, prompt, options, on_delta, done] {
      answered_on = std::this_thread::get_id();
      done(offline_->generate(*prompt, options, on_delta));
    });
  }
  void wait() {
    if (answering_.joinable()) answering_.join();
  }
  std::thread::id asked_on;
  std::thread::id answered_on;

 private:
  std::unique_ptr<llm::LlmProvider> offline_ = llm::make_offline_composer();
  std::thread answering_;
};

class CoachTurn : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
    ASSERT_TRUE(opened);
    store = std::move(opened).value();
    auto loaded = AssistantRegistry::load(fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "assistants.toml");
    ASSERT_TRUE(loaded);
    registry = std::move(loaded).value();
    embedder = embed::make_hashing_embedder();
    vectors = std::make_unique<index::KnowledgeIndexes>(*store, *embedder, dir / "index");
    ASSERT_TRUE(
        sync_knowledge(*store, *vectors, registry, fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge"));
    retriever = std::make_unique<index::HybridRetriever>(*store, *vectors);
  }

  Coach make(llm::LlmProvider& provider) { return Coach(*store, *retriever, router, provider, registry, {}); }

  TempDir dir;
  std::unique_ptr<store::Store> store;
  AssistantRegistry registry;
  std::unique_ptr<embed::Embedder> embedder;
  std::unique_ptr<index::KnowledgeIndexes> vectors;
  std::unique_ptr<index::Retriever> retriever;
  route::KeywordRouter router;
  std::unique_ptr<llm::LlmProvider> offline = llm::make_offline_composer();
};

TEST_F(CoachTurn, StoresMessageAndReplyWithRouteAndCitations) {
  auto coach = make(*offline);
  std::vector<std::string> events;
  TurnEvents on;
  on.on_route = [&](const route::Decision& d) { events.push_back("route:" + d.assistant); };
  on.on_delta = [&](std::string_view) {
    if (events.back() != "delta") events.push_back("delta");
  };
  auto result = coach.turn("ana", "Identify customer pain points for my salon", on);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->assistant, "avatar");
  EXPECT_EQ(events, (std::vector<std::string>{"route:avatar", "delta"}));
  EXPECT_FALSE(result->citations.empty());

  auto user = store->ensure_user("ana");
  auto thread = store->recent_messages(user->id, 10);
  ASSERT_TRUE(thread);
  ASSERT_EQ(thread->size(), 2u);
  EXPECT_EQ((*thread)[0].role, "user");
  EXPECT_EQ((*thread)[0].text, "Identify customer pain points for my salon");
  EXPECT_EQ((*thread)[1].role, "assistant");
  EXPECT_EQ((*thread)[1].assistant, "avatar");
  EXPECT_EQ((*thread)[1].text, result->reply);
  const auto route = nlohmann::json::parse((*thread)[1].route_json);
  EXPECT_EQ(route["assistant"], "avatar");
  const auto citations = nlohmann::json::parse((*thread)[1].citations_json);
  EXPECT_EQ(citations.size(), result->citations.size());
}

TEST_F(CoachTurn, RepliesAreSearchableOnlyWhenAskedFor) {
  const auto replies_found = [&](const std::string& user, bool index_replies) {
    CoachOptions options;
    options.index_replies = index_replies;
    Coach coach(*store, *retriever, router, *offline, registry, options);
    auto result = coach.turn(user, "Identify customer pain points for my salon");
    EXPECT_TRUE(result) << result.error().message;
    auto id = store->ensure_user(user);
    // A word of the reply that the user never said.
    auto hits = store->search_messages(id->id, "customers pain points interviews", 20);
    EXPECT_TRUE(hits);
    size_t replies = 0;
    for (const auto& hit : *hits) replies += hit.message.role == "assistant" ? 1 : 0;
    return std::make_pair(replies, hits->size());
  };
  const auto [kept_out, found] = replies_found("cleo", false);
  EXPECT_EQ(kept_out, 0u) << "the reply is in the thread, not in the search index";
  EXPECT_GE(found, 1u) << "the user's own words are";
  EXPECT_EQ(replies_found("dina", true).first, 1u);
}

TEST_F(CoachTurn, UserMessageIsKeptWhenGenerationFails) {
  FailingProvider failing;
  auto coach = make(failing);
  auto result = coach.turn("ben", "What is my brand story?");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::unavailable);
  auto user = store->ensure_user("ben");
  auto thread = store->recent_messages(user->id, 10);
  ASSERT_TRUE(thread);
  ASSERT_EQ(thread->size(), 1u);
  EXPECT_EQ((*thread)[0].text, "What is my brand story?");
}

TEST_F(CoachTurn, AnAsyncTurnIsAnsweredElsewhereAndFinishedByTheScheduler) {
  ElsewhereProvider elsewhere;
  auto coach = make(elsewhere);
  std::vector<std::function<void()>> scheduled;
  std::string streamed;
  TurnEvents on;
  on.on_delta = [&](std::string_view piece) { streamed.append(piece); };
  std::optional<Result<TurnResult>> finished;
  coach.turn_async(
      "cara", "Identify customer pain points for my salon", on,
      [&](std::function<void()> task) { scheduled.push_back(std::move(task)); },
      [&](Result<TurnResult> result) { finished = std::move(result); });
  elsewhere.wait();
  EXPECT_EQ(elsewhere.asked_on, std::this_thread::get_id());
  EXPECT_NE(elsewhere.answered_on, std::this_thread::get_id());
  auto user = store->ensure_user("cara");
  ASSERT_EQ(store->recent_messages(user->id, 10)->size(), 1u) << "the message is durable, the reply not yet";
  EXPECT_FALSE(finished) << "the steps after the answer wait for the scheduler";
  ASSERT_EQ(scheduled.size(), 1u);
  scheduled.front()();
  ASSERT_TRUE(finished);
  ASSERT_TRUE(*finished) << finished->error().message;
  const auto& result = **finished;
  EXPECT_EQ(result.assistant, "avatar");
  EXPECT_EQ(result.reply, streamed);
  EXPECT_FALSE(result.citations.empty());
  EXPECT_GT(result.reply_seq, result.message_seq);
  const auto thread = store->recent_messages(user->id, 10);
  ASSERT_EQ(thread->size(), 2u);
  EXPECT_EQ((*thread)[1].text, result.reply);
}

TEST_F(CoachTurn, AnAsyncTurnThatFailsKeepsTheMessageAndSaysWhy) {
  FailingProvider failing;
  auto coach = make(failing);
  std::optional<Result<TurnResult>> finished;
  coach.turn_async(
      "dan", "What is my brand story?", {}, [](std::function<void()> task) { task(); },
      [&](Result<TurnResult> result) { finished = std::move(result); });
  ASSERT_TRUE(finished);
  ASSERT_FALSE(*finished);
  EXPECT_EQ(finished->error().kind, ErrorKind::unavailable);
  auto user = store->ensure_user("dan");
  ASSERT_EQ(store->recent_messages(user->id, 10)->size(), 1u);

  coach.turn_async(
      "dan", "   ", {}, [](std::function<void()> task) { task(); },
      [&](Result<TurnResult> result) { finished = std::move(result); });
  ASSERT_FALSE(*finished);
  EXPECT_EQ(finished->error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(store->recent_messages(user->id, 10)->size(), 1u) << "a bad message writes nothing";
}

TEST_F(CoachTurn, RemembersTheNameAcrossTurns) {
  auto coach = make(*offline);
  ASSERT_TRUE(coach.turn("cy", "Hello, my name is Cyrus and I sell handmade candles"));
  auto later = coach.turn("cy", "How do I write my mission statement?");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->reply.rfind("Hi Cyrus!", 0), 0u) << later->reply;
  auto stranger = coach.turn("dee", "How do I write my mission statement?");
  ASSERT_TRUE(stranger);
  EXPECT_EQ(stranger->reply.find("Cyrus"), std::string::npos);
}

TEST_F(CoachTurn, DoesNotRepeatTheNextStepQuestion) {
  auto coach = make(*offline);
  auto first = coach.turn("eve", "Create content strategy");
  auto second = coach.turn("eve", "Create content strategy for video");
  ASSERT_TRUE(first && second);
  const auto question = [](const std::string& reply) { return reply.substr(reply.find("**Next step:**")); };
  EXPECT_NE(question(first->reply), question(second->reply));
}

TEST_F(CoachTurn, AWeakContradictionIsAskedAboutAndSettledByYes) {
  auto coach = make(*offline);
  ASSERT_TRUE(coach.turn("fay", "We're based in Leeds and sell candles."));
  auto doubt = coach.turn("fay", "I'm from Hull, by the way.");
  ASSERT_TRUE(doubt);
  EXPECT_NE(doubt->reply.find("**Please confirm:**"), std::string::npos) << doubt->reply;
  EXPECT_NE(doubt->reply.find("Hull"), std::string::npos) << doubt->reply;
  auto user = store->ensure_user("fay");
  auto before = store->list_facts(user->id, false);
  ASSERT_TRUE(before);
  const auto pending = std::count_if(before->begin(), before->end(),
                                     [](const store::Fact& f) { return f.status == "pending_confirmation"; });
  EXPECT_EQ(pending, 1);
  auto yes = coach.turn("fay", "yes");
  ASSERT_TRUE(yes);
  EXPECT_EQ(yes->facts_changed["settled"]["value"], "Hull");
  auto after = store->list_facts(user->id, false);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].value, "Hull");
  EXPECT_EQ((*after)[0].status, "active");
}

TEST_F(CoachTurn, ContextBudgetDropsKnowledgeWholeAndSaysSo) {
  CoachOptions options;
  options.max_prompt_tokens = 200;
  Coach coach(*store, *retriever, router, *offline, registry, options);
  auto result = coach.turn("gus", "How do I find my ideal customer?");
  ASSERT_TRUE(result);
  EXPECT_LE(result->context["tokens"].get<int64_t>(), 200);
  EXPECT_FALSE(result->context["dropped"].empty()) << result->context.dump();
  EXPECT_EQ(result->context["dropped"][0].get<std::string>().rfind("knowledge#", 0), 0u);
}

TEST_F(CoachTurn, RejectsBadInputWithoutWriting) {
  auto coach = make(*offline);
  EXPECT_EQ(coach.turn("ok", "   ").error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(coach.turn("ok", "bad \xff").error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(coach.turn("not ok!", "hello").error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(coach.turn("ok", std::string(kMaxMessageBytes + 1, 'a')).error().kind,
            ErrorKind::payload_too_large);
  auto counts = store->counts();
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->messages, 0);
}

}  // namespace
}  // namespace brandcoach::coach

namespace brandcoach::coach {
namespace {

TEST_F(CoachTurn, EachAssistantAnswersInItsShapeWithTheUsersFactsAndCitesRealChunks) {
  auto coach = make(*offline);
  ASSERT_TRUE(coach.turn(
      "fay", "My company is called Brightside Bakery. We sell sourdough to busy parents in Leeds."));
  ASSERT_TRUE(coach.turn("fay", "Our main competitor is Greggs."));
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"Can you run a SWOT analysis of my brand?", "diagnostic", "### Brand SWOT — Brightside Bakery"},
      {"Describe my ideal customer avatar", "avatar", "### Your customer avatar (draft) — Brightside Bakery"},
      {"Help me with my revenue streams and pricing on the business model canvas", "canvas",
       "### Business model canvas — Brightside Bakery"},
      {"Plan my content strategy for social media", "capture",
       "### Your CAPTURE content plan — Brightside Bakery"},
      {"Help me write my brand mission statement", "core",
       "### Brand foundations (draft) — Brightside Bakery"},
  };
  for (const auto& [message, assistant, heading] : cases) {
    auto result = coach.turn("fay", message);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->assistant, assistant) << message;
    EXPECT_NE(result->reply.find(heading), std::string::npos) << result->reply;
    ASSERT_FALSE(result->citations.empty()) << result->reply;
    std::vector<int64_t> ids;
    for (const auto& c : result->citations) {
      EXPECT_NE(result->reply.find("[" + std::to_string(c.number) + "]"), std::string::npos);
      ids.push_back(c.chunk);
    }
    auto chunks = store->chunks_by_id(ids);
    ASSERT_TRUE(chunks);
    ASSERT_EQ(chunks->size(), ids.size()) << "every citation names a stored chunk";
    for (const auto& c : result->citations) {
      const auto chunk =
          std::find_if(chunks->begin(), chunks->end(), [&](const auto& r) { return r.chunk_id == c.chunk; });
      ASSERT_NE(chunk, chunks->end());
      // The snippet is quoted from that chunk (the composer drops markdown emphasis).
      std::string plain;
      for (const char ch : chunk->text) {
        if (ch != '*' && ch != '_' && ch != '`') plain.push_back(ch);
      }
      EXPECT_NE(plain.find(c.snippet.substr(0, std::min<size_t>(40, c.snippet.size()))), std::string::npos)
          << c.snippet;
    }
  }
  // Facts the user gave are woven into the shapes.
  auto swot = coach.turn("fay", "Can you run a SWOT analysis of my brand?");
  ASSERT_TRUE(swot);
  EXPECT_NE(swot->reply.find("Competitors: Greggs"), std::string::npos) << swot->reply;
}

}  // namespace
}  // namespace brandcoach::coach
