// The Store contract: what store.hpp promises, checked through the interface alone on every backend.
//
// Each test runs once per backend (SQLite in a temp folder, PostgreSQL in a database of its own on the
// server scripts/services started), and never looks at tables behind the store's back, so one set of
// assertions says the backends are interchangeable.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <tuple>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "brandcoach/store/store.hpp"
#include "brandcoach/text/text.hpp"
#include "support/pg_database.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::store {
namespace {

using brandcoach::testing::PostgresDatabase;
using brandcoach::testing::service_url;
using brandcoach::testing::services_env_path;
using brandcoach::testing::TempDir;

// 2023-11-14T22:13:20Z: a fixed time, so days in the usage ledger are known.
constexpr int64_t kNov14 = 1700000000000;
constexpr int64_t kDayMs = 86400000;

// ---------------------------------------------------------------------------------------------
// Backends

// Where one test's stores live: a fresh, empty place that the store can be opened on again (the
// reopen tests), removed when the test ends.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<std::unique_ptr<Store>> open() = 0;
};

class SqliteBackend final : public Backend {
 public:
  // The "db" folder does not exist yet: open_sqlite creates it.
  Result<std::unique_ptr<Store>> open() override {
    return open_sqlite({(dir_ / "db" / "brandcoach.sqlite3").string(), 4, 10000});
  }

 private:
  TempDir dir_;
};

// A database of its own per test (tests run in parallel, and each must start empty), dropped when
// the test ends.
class PostgresBackend final : public Backend {
 public:
  // The backend, or nullptr with `error` saying why the database could not be made.
  static std::unique_ptr<PostgresBackend> create(const std::string& admin_url, std::string& error) {
    auto database = PostgresDatabase::create(admin_url, error);
    if (!database) return nullptr;
    return std::unique_ptr<PostgresBackend>(new PostgresBackend(std::move(database)));
  }
  ~PostgresBackend() override {
    // FORCE (in drop): a store that leaked a connection must not leave the database behind.
    if (const auto error = database_->drop(); !error.empty())
      ADD_FAILURE() << "DROP DATABASE " << database_->name() << ": " << error;
  }
  Result<std::unique_ptr<Store>> open() override { return open_postgres({database_->url(), 4}); }

 private:
  explicit PostgresBackend(std::unique_ptr<PostgresDatabase> database) : database_(std::move(database)) {}

  std::unique_ptr<PostgresDatabase> database_;
};

// ---------------------------------------------------------------------------------------------
// Helpers

// The value of a call that must succeed; on failure the test fails naming the call and the error.
template <class T>
T must(Result<T> result, const char* call) {
  if (!result) {
    ADD_FAILURE() << call << " failed: " << result.error().message;
    return T{};
  }
  return std::move(result).value();
}
#define MUST(call) must((call), #call)

// The error message of a failed call, for assertion messages ("" when it succeeded).
template <class T>
std::string why(const Result<T>& result) {
  return result ? std::string() : result.error().message;
}

// JSON compared as values: a backend may keep it as jsonb, which orders keys and drops spaces.
::testing::AssertionResult same_json(const std::string& actual, const std::string& expected) {
  const auto parsed = nlohmann::json::parse(actual, nullptr, false);
  if (!parsed.is_discarded() && parsed == nlohmann::json::parse(expected, nullptr, false)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "JSON " << actual << " is not " << expected;
}
#define EXPECT_SAME_JSON(actual, expected) EXPECT_TRUE(same_json((actual), (expected)))

Message message(int64_t user_id, std::string text, std::string role = "user") {
  Message m;
  m.user_id = user_id;
  m.role = std::move(role);
  m.text = std::move(text);
  return m;
}

Message message_at(int64_t user_id, std::string text, int64_t created_at, std::string role = "user") {
  Message m = message(user_id, std::move(text), std::move(role));
  m.created_at = created_at;
  return m;
}

std::vector<int64_t> seqs_of(const std::vector<Message>& messages) {
  std::vector<int64_t> out;
  for (const auto& m : messages) out.push_back(m.seq);
  return out;
}

std::vector<std::string> texts_of(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.text);
  return out;
}

std::vector<int64_t> one_to(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i = 1; i <= n; ++i) out.push_back(i);
  return out;
}

NewChunk chunk(int ordinal, std::string heading, std::string text, std::vector<float> vector = {}) {
  return NewChunk{ordinal, std::move(heading), std::move(text), 10, 0, std::move(vector)};
}

// A file whose content hash stands for its chunk texts, so different content is never a duplicate.
FileWrite file_write(const std::string& filename, std::vector<NewChunk> chunks) {
  std::string content;
  for (const auto& c : chunks) content += c.text + "\n";
  FileInput input;
  input.filename = filename;
  input.bytes = static_cast<int64_t>(content.size());
  input.sha256 = sha256_hex(content);
  input.format = "md";
  return {input, std::move(chunks)};
}

// A vector store file, known by its file id.
FileInput keyed_file(const std::string& file_id, const std::string& content,
                     const std::string& attributes_json = "{}") {
  FileInput input;
  input.filename = "notes.md";
  input.bytes = static_cast<int64_t>(content.size());
  input.sha256 = sha256_hex(content);
  input.external_id = file_id;
  input.attributes_json = attributes_json;
  input.keyed_by_external_id = true;
  return input;
}

Fact fact(std::string key, std::string value, std::string status = "active") {
  Fact f;
  f.key = std::move(key);
  f.value = std::move(value);
  f.category = "business";
  f.status = std::move(status);
  return f;
}

FactWrite insert_fact(Fact f, std::string actor = "extractor") {
  FactWrite write;
  write.insert = std::move(f);
  write.actor = std::move(actor);
  return write;
}

std::vector<int64_t> fact_ids(const std::vector<Fact>& facts) {
  std::vector<int64_t> out;
  for (const auto& f : facts) out.push_back(f.id);
  return out;
}

std::vector<int64_t> sorted(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

// ---------------------------------------------------------------------------------------------
// The fixture: one store per test on the backend the parameter names.

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      // CI must run these: without a server they fail, never skip.
      const auto url = service_url("PG");
      ASSERT_TRUE(url) << "no PostgreSQL to test the store against: set BRANDCOACH_TEST_PG_URL, or start one "
                          "with `scripts/services start DIR` (ctest's Services.Start fixture writes "
                       << services_env_path() << ")";
      std::string error;
      backend_ = PostgresBackend::create(*url, error);
      ASSERT_TRUE(backend_) << error;
    }
    store_ = open();
    ASSERT_TRUE(store_);
  }

  // The store goes before its backend: a PostgreSQL database can be dropped only once it is closed.
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }

  std::unique_ptr<Store> open() {
    auto store = backend_->open();
    if (!store) {
      ADD_FAILURE() << "opening the " << GetParam() << " store: " << store.error().message;
      return nullptr;
    }
    return std::move(store).value();
  }

  // Closes the store and opens it again on the same file or database.
  void reopen() {
    store_.reset();
    store_ = open();
  }

  int64_t user(const std::string& external_id) { return MUST(store_->ensure_user(external_id)).id; }

  Message append(int64_t user_id, const std::string& text, const std::string& role = "user") {
    return MUST(store_->append_message(message(user_id, text, role)));
  }

  PutResult put(int64_t store_id, const std::string& filename, std::vector<NewChunk> chunks) {
    auto results = MUST(store_->put_files(store_id, {file_write(filename, std::move(chunks))}));
    return results.empty() ? PutResult{} : results.front();
  }

  int64_t knowledge_store(const std::string& name) { return MUST(store_->ensure_knowledge_store(name)); }

  int64_t store_version(const std::string& name) {
    const auto found = MUST(store_->find_knowledge_store(name));
    if (!found) ADD_FAILURE() << "no store named " << name;
    return found ? found->version : -1;
  }

  std::vector<ChunkHit> search(const std::vector<std::string>& stores, const std::string& query,
                               int limit = 10) {
    return MUST(store_->search_chunks(stores, query, limit));
  }

  std::vector<std::string> hit_texts(const std::vector<ChunkHit>& hits) {
    std::vector<std::string> out;
    for (const auto& hit : hits) out.push_back(hit.text);
    return out;
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
};

// ---------------------------------------------------------------------------------------------
// Schema, liveness and counts

TEST_P(StoreContract, SchemaVersionIsPositiveAndStaysAcrossReopening) {
  const int version = MUST(store_->schema_version());
  EXPECT_GT(version, 0);
  // Each backend has its own migration history, so only SQLite's number is known here.
  if (GetParam() == "sqlite") {
    EXPECT_EQ(version, latest_schema_version());
  }
  EXPECT_TRUE(store_->ping());
  reopen();
  ASSERT_TRUE(store_);
  EXPECT_EQ(MUST(store_->schema_version()), version) << "opening a migrated database migrates nothing";
}

TEST_P(StoreContract, CountsReflectWhatIsStored) {
  const auto totals = [&] {
    const Counts c = MUST(store_->counts());
    return std::vector<int64_t>{c.users, c.messages, c.stores, c.files, c.chunks};
  };
  EXPECT_EQ(totals(), (std::vector<int64_t>{0, 0, 0, 0, 0}));
  const int64_t ana = user("ana");
  user("ben");
  append(ana, "hi");
  append(ana, "again");
  const int64_t guides = knowledge_store("guides");
  knowledge_store("empty");
  put(guides, "f.md", {chunk(0, "", "one"), chunk(1, "", "two"), chunk(2, "", "three")});
  EXPECT_EQ(totals(), (std::vector<int64_t>{2, 2, 2, 1, 3}));
}

// ---------------------------------------------------------------------------------------------
// Users

TEST_P(StoreContract, EnsureUserIsIdempotentAndFindUserNeverCreates) {
  const User first = MUST(store_->ensure_user("ext-1"));
  const User second = MUST(store_->ensure_user("ext-1"));
  const User other = MUST(store_->ensure_user("ext-2"));
  EXPECT_GT(first.id, 0);
  EXPECT_EQ(first.id, second.id);
  EXPECT_EQ(first.created_at, second.created_at);
  EXPECT_NE(first.id, other.id);
  EXPECT_EQ(first.external_id, "ext-1");
  EXPECT_EQ(first.role, "user");
  EXPECT_EQ(first.display_name, "");
  EXPECT_GT(first.created_at, 0);
  EXPECT_FALSE(first.new_session_requested);

  const auto found = MUST(store_->find_user("ext-1"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, first.id);
  EXPECT_FALSE(MUST(store_->find_user("nobody")));
  EXPECT_EQ(MUST(store_->counts()).users, 2) << "find_user created no one";
}

TEST_P(StoreContract, DisplayNameIsReadBack) {
  const int64_t ana = user("ana");
  ASSERT_TRUE(store_->set_display_name(ana, "Ana Lima"));
  EXPECT_EQ(MUST(store_->ensure_user("ana")).display_name, "Ana Lima");
  EXPECT_EQ(MUST(store_->find_user("ana"))->display_name, "Ana Lima");
}

TEST_P(StoreContract, NewSessionRequestIsClearedByTheNextUserMessage) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  ASSERT_TRUE(store_->request_new_session(ana));
  EXPECT_TRUE(MUST(store_->find_user("ana"))->new_session_requested);
  EXPECT_FALSE(MUST(store_->find_user("ben"))->new_session_requested);
  append(ana, "a reply", "assistant");
  EXPECT_TRUE(MUST(store_->ensure_user("ana")).new_session_requested) << "only a user message opens it";
  append(ben, "ben speaks");
  EXPECT_TRUE(MUST(store_->find_user("ana"))->new_session_requested) << "another user's message is not it";
  append(ana, "a new question");
  EXPECT_FALSE(MUST(store_->find_user("ana"))->new_session_requested);
}

TEST_P(StoreContract, ListUsersPagesInCreationOrderWithActivity) {
  for (const char* name : {"u1", "u2", "u3", "u4", "u5"}) user(name);
  const int64_t u2 = user("u2");
  ASSERT_TRUE(store_->set_display_name(u2, "Second"));
  ASSERT_TRUE(
      store_->append_message(message_at(u2, "question", kNov14), UsageTally{"canvas", 100, 40, 0.25}));
  ASSERT_TRUE(store_->append_message(message_at(u2, "answer", kNov14 + 5000, "assistant"),
                                     UsageTally{"canvas", 10, 5, 0.5}));
  ASSERT_TRUE(store_->write_facts(
      u2, {insert_fact(fact("price", "100")), insert_fact(fact("city", "Porto", "pending_confirmation")),
           insert_fact(fact("name", "Old", "superseded"))}));

  const auto names = [](const std::vector<UserSummary>& page) {
    std::vector<std::string> out;
    for (const auto& u : page) out.push_back(u.user);
    return out;
  };
  const auto first = MUST(store_->list_users("", 2));
  EXPECT_EQ(names(first), (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(names(MUST(store_->list_users("u2", 2))), (std::vector<std::string>{"u3", "u4"}));
  EXPECT_EQ(names(MUST(store_->list_users("u4", 10))), (std::vector<std::string>{"u5"}));
  EXPECT_TRUE(MUST(store_->list_users("u5", 10)).empty());

  ASSERT_EQ(first.size(), 2u);
  const UserSummary& second = first[1];
  EXPECT_EQ(second.display_name, "Second");
  EXPECT_GT(second.created_at, 0);
  EXPECT_EQ(second.messages, 2);
  EXPECT_EQ(second.last_active_at, kNov14 + 5000);
  EXPECT_EQ(second.active_facts, 1) << "pending and superseded facts are not active";
  EXPECT_EQ(second.tokens, 155);
  EXPECT_NEAR(second.cost_usd, 0.75, 1e-9);
  const UserSummary& idle = first[0];
  EXPECT_EQ(idle.messages, 0);
  EXPECT_EQ(idle.last_active_at, 0) << "never wrote";
  EXPECT_EQ(idle.tokens, 0);
}

// ---------------------------------------------------------------------------------------------
// The thread

TEST_P(StoreContract, AppendGivesEachUserAGaplessSequence) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  std::vector<int64_t> ana_seqs, ben_seqs;
  std::set<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    const Message a = append(ana, "a" + std::to_string(i));
    const Message b = append(ben, "b" + std::to_string(i));
    EXPECT_GT(a.id, 0);
    EXPECT_GT(a.created_at, 0) << "filled in when zero";
    EXPECT_EQ(a.user_id, ana);
    ana_seqs.push_back(a.seq);
    ben_seqs.push_back(b.seq);
    ids.insert(a.id);
    ids.insert(b.id);
  }
  EXPECT_EQ(ana_seqs, one_to(3));
  EXPECT_EQ(ben_seqs, one_to(3));
  EXPECT_EQ(ids.size(), 6u) << "ids are unique across users";
  EXPECT_EQ(MUST(store_->message_count(ana)), 3);
  EXPECT_EQ(MUST(store_->message_count(ben)), 3);
}

TEST_P(StoreContract, AppendKeepsEveryFieldAsGiven) {
  const int64_t ana = user("ana");
  Message m = message_at(ana, "Prices go up in May.", 1700000000123, "assistant");
  m.assistant = "canvas";
  m.route_json = R"({"assistant":"canvas","score":0.5})";
  m.citations_json = R"([{"number":1,"file":"pricing.md"}])";
  m.usage_json = R"({"input_tokens":12,"output_tokens":3})";
  m.session_no = 4;
  m.external_id = "import-7";
  m.speaker = "Ana";
  m.ts_text = "last Tuesday";
  const Message stored = MUST(store_->append_message(m));
  EXPECT_EQ(stored.created_at, m.created_at) << "a given time is kept";
  EXPECT_EQ(stored.session_no, 4);

  const auto recent = MUST(store_->recent_messages(ana, 1));
  ASSERT_EQ(recent.size(), 1u);
  const Message& got = recent.front();
  EXPECT_EQ(got.id, stored.id);
  EXPECT_EQ(got.user_id, ana);
  EXPECT_EQ(got.seq, 1);
  EXPECT_EQ(got.role, "assistant");
  EXPECT_EQ(got.text, m.text);
  EXPECT_EQ(got.assistant, "canvas");
  EXPECT_SAME_JSON(got.route_json, m.route_json);
  EXPECT_SAME_JSON(got.citations_json, m.citations_json);
  EXPECT_SAME_JSON(got.usage_json, m.usage_json);
  EXPECT_EQ(got.created_at, m.created_at);
  EXPECT_EQ(got.session_no, 4);
  EXPECT_EQ(got.external_id, "import-7");
  EXPECT_EQ(got.speaker, "Ana");
  EXPECT_EQ(got.ts_text, "last Tuesday");

  const Message plain = append(ana, "plain");
  const auto defaults = MUST(store_->messages_by_id(ana, {plain.id}));
  ASSERT_EQ(defaults.size(), 1u);
  EXPECT_SAME_JSON(defaults.front().route_json, "{}");
  EXPECT_SAME_JSON(defaults.front().citations_json, "[]");
  EXPECT_SAME_JSON(defaults.front().usage_json, "{}");
  EXPECT_EQ(defaults.front().session_no, 1);
  EXPECT_EQ(defaults.front().external_id, "");
}

TEST_P(StoreContract, AppendWithInvalidRoleWritesNothing) {
  const int64_t ana = user("ana");
  auto bad = store_->append_message(message(ana, "x", "bogus"), UsageTally{"canvas", 5, 5, 1.0}, true);
  ASSERT_FALSE(bad);
  EXPECT_EQ(MUST(store_->message_count(ana)), 0);
  EXPECT_TRUE(MUST(store_->usage(ana)).empty()) << "the usage of a failed append is not counted";
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 0);
  EXPECT_EQ(append(ana, "y").seq, 1) << "no sequence number was used up";
}

TEST_P(StoreContract, ConcurrentAppendsToOneThreadAreGaplessWithoutDuplicates) {
  const int64_t busy = user("busy");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::vector<int64_t>> seqs(kThreads);
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto m = store_->append_message(message(busy, "t" + std::to_string(t) + "-" + std::to_string(i)));
        if (m) {
          seqs[t].push_back(m->seq);
        } else if (failures[t].empty()) {
          failures[t] = m.error().message;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], "") << "thread " << t;
    EXPECT_TRUE(std::is_sorted(seqs[t].begin(), seqs[t].end())) << "thread " << t << " saw seq go back";
    all.insert(all.end(), seqs[t].begin(), seqs[t].end());
  }
  constexpr int64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(sorted(all), one_to(kTotal));
  EXPECT_EQ(MUST(store_->message_count(busy)), kTotal);
  const auto stored = MUST(store_->messages_between(busy, 0, kTotal, -1));
  EXPECT_EQ(seqs_of(stored), one_to(kTotal));
  std::set<std::string> texts;
  for (const auto& m : stored) texts.insert(m.text);
  EXPECT_EQ(texts.size(), static_cast<size_t>(kTotal)) << "every message stored once";
}

TEST_P(StoreContract, UsageTalliesAddUpPerDayAndAssistant) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  ASSERT_TRUE(store_->append_message(message_at(ana, "q1", kNov14), UsageTally{"canvas", 100, 40, 0.25}));
  ASSERT_TRUE(
      store_->append_message(message_at(ana, "q2", kNov14 + 60000), UsageTally{"canvas", 10, 5, 0.5}));
  ASSERT_TRUE(store_->append_message(message_at(ana, "q3", kNov14 + 1000), UsageTally{"core", 7, 7, 0}));
  ASSERT_TRUE(
      store_->append_message(message_at(ana, "q4", kNov14 + 2 * kDayMs), UsageTally{"canvas", 1, 1, 0.125}));
  ASSERT_TRUE(store_->append_message(message_at(ana, "no usage", kNov14)));
  ASSERT_TRUE(store_->append_message(message_at(ben, "ben's", kNov14), UsageTally{"canvas", 1000, 1000, 9}));

  std::map<std::pair<std::string, std::string>, UsageRow> rows;
  for (const auto& row : MUST(store_->usage(ana))) rows[{row.day, row.assistant}] = row;
  ASSERT_EQ(rows.size(), 3u);
  const UsageRow& canvas = rows[{"2023-11-14", "canvas"}];
  EXPECT_EQ(canvas.input_tokens, 110);
  EXPECT_EQ(canvas.output_tokens, 45);
  EXPECT_NEAR(canvas.cost_usd, 0.75, 1e-9);
  const UsageRow& core = rows[{"2023-11-14", "core"}];
  EXPECT_EQ(core.input_tokens, 7);
  const UsageRow& later = rows[{"2023-11-16", "canvas"}];
  EXPECT_EQ(later.input_tokens, 1);
  EXPECT_NEAR(later.cost_usd, 0.125, 1e-9);
}

TEST_P(StoreContract, AppendMessagesIsAllOrNone) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  auto bad = store_->append_messages(
      {message(ana, "one"), message(ben, "two"), message(ana, "three", "bogus")}, true);
  ASSERT_FALSE(bad) << "a message with an unknown role fails the batch";
  EXPECT_EQ(MUST(store_->message_count(ana)), 0);
  EXPECT_EQ(MUST(store_->message_count(ben)), 0);
  EXPECT_EQ(MUST(store_->counts()).messages, 0);
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 0);

  const auto stored = MUST(store_->append_messages(
      {message(ana, "one"), message(ana, "reply", "assistant"), message(ben, "two"), message(ana, "three")},
      true));
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(seqs_of(stored), (std::vector<int64_t>{1, 2, 1, 3}));
  for (const auto& m : stored) EXPECT_GT(m.id, 0);
  EXPECT_EQ(texts_of(MUST(store_->recent_messages(ana, 10))),
            (std::vector<std::string>{"one", "reply", "three"}));
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 3) << "only user messages are queued for extraction";
}

TEST_P(StoreContract, RecentMessagesAreTheLastOnesOldestFirst) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  for (int i = 1; i <= 5; ++i) append(ana, "m" + std::to_string(i));
  append(ben, "not ana's");
  const auto recent = MUST(store_->recent_messages(ana, 3));
  EXPECT_EQ(texts_of(recent), (std::vector<std::string>{"m3", "m4", "m5"}));
  EXPECT_EQ(seqs_of(recent), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(MUST(store_->recent_messages(ana, 50)).size(), 5u);
  EXPECT_TRUE(MUST(store_->recent_messages(ana, 0)).empty());
  EXPECT_EQ(texts_of(MUST(store_->recent_messages(ben, 50))), (std::vector<std::string>{"not ana's"}));
}

TEST_P(StoreContract, ThreadReadsKeepOnlyTheUsersWordsOrLeaveDetailsOut) {
  const int64_t ana = user("ana");
  append(ana, "my price is $40");
  auto reply = message(ana, "noted", "assistant");
  reply.route_json = R"({"assistant":"core"})";
  reply.citations_json = R"([{"file":"a.md"}])";
  reply.usage_json = R"({"response_id":"resp_1"})";
  MUST(store_->append_message(reply, std::nullopt, false));
  append(ana, "now $45");
  const ThreadRead users_only{.users_only = true, .brief = false};
  EXPECT_EQ(texts_of(MUST(store_->recent_messages(ana, 2, users_only))),
            (std::vector<std::string>{"my price is $40", "now $45"}));
  EXPECT_EQ(texts_of(MUST(store_->messages_between(ana, 0, 100, -1, users_only))),
            (std::vector<std::string>{"my price is $40", "now $45"}));
  const auto brief = MUST(store_->recent_messages(ana, 3, ThreadRead{.users_only = false, .brief = true}));
  ASSERT_EQ(brief.size(), 3u);
  EXPECT_EQ(brief[1].text, "noted");
  EXPECT_EQ(brief[1].route_json, "{}");
  EXPECT_EQ(brief[1].citations_json, "[]");
  EXPECT_EQ(brief[1].usage_json, R"({"response_id":"resp_1"})") << "usage stays: it holds the response id";
  const auto full = MUST(store_->recent_messages(ana, 3));
  EXPECT_EQ(full[1].citations_json, R"([{"file":"a.md"}])");
}

TEST_P(StoreContract, MessagesBetweenAndByIdStayWithinTheUser) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  std::vector<int64_t> ana_ids, ben_ids;
  for (int i = 1; i <= 6; ++i) {
    ana_ids.push_back(append(ana, "a" + std::to_string(i)).id);
    ben_ids.push_back(append(ben, "b" + std::to_string(i)).id);
  }
  EXPECT_EQ(seqs_of(MUST(store_->messages_between(ana, 2, 5, -1))), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(seqs_of(MUST(store_->messages_between(ana, 2, 5, 2))), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(texts_of(MUST(store_->messages_between(ana, 0, 100, -1))),
            (std::vector<std::string>{"a1", "a2", "a3", "a4", "a5", "a6"}));
  EXPECT_TRUE(MUST(store_->messages_between(ana, 6, 100, -1)).empty());
  EXPECT_TRUE(MUST(store_->messages_between(ana, 3, 3, -1)).empty());

  const auto mixed =
      MUST(store_->messages_by_id(ana, {ana_ids[0], ben_ids[0], ana_ids[4], ben_ids[5], 987654}));
  std::vector<int64_t> got;
  for (const auto& m : mixed) {
    EXPECT_EQ(m.user_id, ana) << "messages_by_id returned another user's message";
    got.push_back(m.id);
  }
  EXPECT_EQ(sorted(got), sorted({ana_ids[0], ana_ids[4]}));
  EXPECT_TRUE(MUST(store_->messages_by_id(ana, {})).empty());
  EXPECT_TRUE(MUST(store_->messages_by_id(ben, {ana_ids[1]})).empty());
}

TEST_P(StoreContract, ImportedMessagesAreFoundByTheirExternalId) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  Message imported = message_at(ana, "We launched in March", kNov14);
  imported.external_id = "slack-42";
  imported.speaker = "Ana L.";
  imported.ts_text = "spring 2023";
  Message bens = message(ben, "Ben's own import");
  bens.external_id = "slack-43";
  ASSERT_TRUE(store_->append_messages({imported, bens}));

  const auto found = MUST(store_->find_imported_message(ana, "slack-42"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->text, "We launched in March");
  EXPECT_EQ(found->seq, 1);
  EXPECT_EQ(found->speaker, "Ana L.");
  EXPECT_EQ(found->ts_text, "spring 2023");
  EXPECT_EQ(found->created_at, kNov14);
  EXPECT_FALSE(MUST(store_->find_imported_message(ben, "slack-42"))) << "another user's import";
  EXPECT_FALSE(MUST(store_->find_imported_message(ana, "slack-43"))) << "another user's import";
  EXPECT_FALSE(MUST(store_->find_imported_message(ana, "slack-404")));
}

TEST_P(StoreContract, SearchMessagesFindsOnlyTheUsersOwnMessages) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  append(ana, "Our prices went up last spring");
  append(ana, "The logo is teal and orange");
  append(ana, "Teal again: teal is our colour, teal everywhere");
  append(ben, "Ben also talks about prices and teal");

  const auto prices = MUST(store_->search_messages(ana, "prices", 10));
  ASSERT_EQ(prices.size(), 1u);
  EXPECT_EQ(prices[0].message.text, "Our prices went up last spring");
  EXPECT_EQ(prices[0].message.user_id, ana);
  EXPECT_EQ(prices[0].message.seq, 1);

  const auto teal = MUST(store_->search_messages(ana, "teal", 10));
  ASSERT_EQ(teal.size(), 2u);
  for (const auto& hit : teal) EXPECT_EQ(hit.message.user_id, ana);
  EXPECT_GE(teal[0].score, teal[1].score) << "best first";
  EXPECT_EQ(MUST(store_->search_messages(ana, "teal", 1)).size(), 1u);
  EXPECT_TRUE(MUST(store_->search_messages(ana, "teal", 0)).empty());

  const auto bens = MUST(store_->search_messages(ben, "prices teal logo", 10));
  ASSERT_EQ(bens.size(), 1u) << "never another user's message";
  EXPECT_EQ(bens[0].message.user_id, ben);
  EXPECT_TRUE(MUST(store_->search_messages(ben, "orange", 10)).empty());
  for (const std::string query : {"\"AND (OR* NEAR", "(((", "*", "?!.,;:", "", "   ", "NOT", "a & b | !c",
                                  "col:teal", "'; DROP TABLE messages; --", "\xFF\xFE"}) {
    auto hits = store_->search_messages(ana, query, 5);
    EXPECT_TRUE(hits) << "query '" << query << "': " << why(hits);
  }
}

// ---------------------------------------------------------------------------------------------
// Extraction queue

TEST_P(StoreContract, ExtractionJobsAreClaimedLeasedRetriedAndFinished) {
  const int64_t ana = user("ana");
  const Message first = MUST(store_->append_message(message(ana, "first"), std::nullopt, true));
  const Message second = MUST(store_->append_message(message(ana, "second"), std::nullopt, true));
  append(ana, "not queued");
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 2);

  // Claims are leases: a claimed job is no one else's until its lease runs out.
  const int64_t now = unix_millis() + 1000;
  constexpr int64_t kLease = 60000;
  const auto a = MUST(store_->claim_extraction_job(now, kLease));
  ASSERT_TRUE(a);
  EXPECT_EQ(a->attempts, 1);
  EXPECT_EQ(a->message.id, first.id) << "the oldest job first";
  EXPECT_EQ(a->message.text, "first");
  EXPECT_EQ(a->message.user_id, ana);
  const auto b = MUST(store_->claim_extraction_job(now, kLease));
  ASSERT_TRUE(b);
  EXPECT_NE(b->id, a->id) << "two claims never get the same job while it is leased";
  EXPECT_EQ(b->message.id, second.id);
  EXPECT_FALSE(MUST(store_->claim_extraction_job(now + 1, kLease))) << "every job is leased";
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 2) << "leased jobs are still pending";

  ASSERT_TRUE(store_->retry_extraction_job(a->id, now + 10 * kLease, "model timed out"));
  ASSERT_TRUE(store_->finish_extraction_job(b->id));
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 1);
  EXPECT_FALSE(MUST(store_->claim_extraction_job(now + 2 * kLease, kLease))) << "not before its retry time";
  const auto again = MUST(store_->claim_extraction_job(now + 10 * kLease + 1, kLease));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, a->id);
  EXPECT_EQ(again->attempts, 2);
  EXPECT_EQ(again->message.text, "first");
  ASSERT_TRUE(store_->finish_extraction_job(again->id));
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 0);
  EXPECT_FALSE(MUST(store_->claim_extraction_job(now + 100 * kLease, kLease)));
}

TEST_P(StoreContract, AnExpiredLeaseMakesTheJobClaimableAgain) {
  const int64_t ana = user("ana");
  ASSERT_TRUE(store_->append_message(message(ana, "only"), std::nullopt, true));
  const int64_t now = unix_millis() + 1000;
  const auto claimed = MUST(store_->claim_extraction_job(now, 5000));
  ASSERT_TRUE(claimed);
  EXPECT_FALSE(MUST(store_->claim_extraction_job(now + 4000, 5000)));
  const auto reclaimed = MUST(store_->claim_extraction_job(now + 5001, 5000));
  ASSERT_TRUE(reclaimed) << "a worker that died mid-job leaves it to another";
  EXPECT_EQ(reclaimed->id, claimed->id);
  EXPECT_EQ(reclaimed->attempts, 2);
}

TEST_P(StoreContract, ConcurrentClaimsNeverShareAJob) {
  const int64_t ana = user("ana");
  constexpr int kJobs = 24;
  for (int i = 0; i < kJobs; ++i) {
    ASSERT_TRUE(store_->append_message(message(ana, "job " + std::to_string(i)), std::nullopt, true));
  }
  const int64_t now = unix_millis() + 1000;
  constexpr int kWorkers = 4;
  std::vector<std::vector<int64_t>> claimed(kWorkers);
  std::vector<std::string> failures(kWorkers);
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      while (true) {
        auto job = store_->claim_extraction_job(now, 600000);
        if (!job) {
          failures[w] = job.error().message;
          return;
        }
        if (!*job) return;
        claimed[w].push_back((*job)->id);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  std::vector<int64_t> all;
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(failures[w], "") << "worker " << w;
    all.insert(all.end(), claimed[w].begin(), claimed[w].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), all.size()) << "a job was claimed twice";
}

// ---------------------------------------------------------------------------------------------
// Facts and audit

TEST_P(StoreContract, WriteFactsInsertsAndSupersedesWithAuditRows) {
  const int64_t ana = user("ana");
  const Message source = append(ana, "We charge 100 per hour");
  Fact price = fact("price", "100 per hour");
  price.source_message_id = source.id;
  price.confidence = 0.75;
  const auto inserted = MUST(store_->write_facts(ana, {insert_fact(price)}));
  ASSERT_EQ(inserted.size(), 1u);
  const Fact& v1 = inserted[0];
  EXPECT_GT(v1.id, 0);
  EXPECT_EQ(v1.user_id, ana);
  EXPECT_GT(v1.created_at, 0);
  EXPECT_EQ(v1.confirmed_at, 0);

  const auto found = MUST(store_->find_fact(ana, v1.id));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->key, "price");
  EXPECT_EQ(found->value, "100 per hour");
  EXPECT_EQ(found->category, "business");
  EXPECT_EQ(found->source_message_id, source.id);
  EXPECT_DOUBLE_EQ(found->confidence, 0.75);
  EXPECT_EQ(found->status, "active");
  EXPECT_EQ(found->supersedes_id, 0);
  EXPECT_EQ(found->created_at, v1.created_at);

  // A change of value: the old version is superseded and a new one points at it, in one call.
  FactWrite change;
  change.status_changes = {{v1.id, "superseded"}};
  Fact raised = fact("price", "120 per hour");
  raised.supersedes_id = v1.id;
  change.insert = raised;
  change.actor = "user";
  const auto second = MUST(store_->write_facts(ana, {change}));
  ASSERT_EQ(second.size(), 1u);
  const Fact& v2 = second[0];
  EXPECT_EQ(v2.supersedes_id, v1.id);

  const auto current = MUST(store_->list_facts(ana, false));
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0].id, v2.id);
  EXPECT_EQ(current[0].value, "120 per hour");
  const auto history = MUST(store_->list_facts(ana, true));
  EXPECT_EQ(fact_ids(history), (std::vector<int64_t>{v1.id, v2.id}));
  EXPECT_EQ(MUST(store_->find_fact(ana, v1.id))->status, "superseded");
  EXPECT_EQ(MUST(store_->find_fact(ana, v1.id))->value, "100 per hour") << "a version is never rewritten";

  const auto audit = MUST(store_->audit_log(ana));
  ASSERT_EQ(audit.size(), 3u);
  EXPECT_EQ(audit[0].action, "fact.add");
  EXPECT_EQ(audit[0].actor, "extractor");
  EXPECT_EQ(audit[0].object, "fact:" + std::to_string(v1.id));
  EXPECT_EQ(audit[1].action, "fact.superseded");
  EXPECT_EQ(audit[1].actor, "user");
  EXPECT_EQ(audit[1].object, "fact:" + std::to_string(v1.id));
  EXPECT_EQ(nlohmann::json::parse(audit[1].before_json, nullptr, false).value("status", ""), "active");
  EXPECT_EQ(nlohmann::json::parse(audit[1].after_json, nullptr, false).value("status", ""), "superseded");
  EXPECT_EQ(audit[2].action, "fact.add");
  EXPECT_EQ(audit[2].object, "fact:" + std::to_string(v2.id));
  for (const auto& entry : audit) {
    EXPECT_EQ(entry.user_id, ana);
    EXPECT_GT(entry.at, 0);
  }
}

TEST_P(StoreContract, ConfirmingAFactStampsItAndAnInvalidStatusWritesNothing) {
  const int64_t ana = user("ana");
  const auto pending =
      MUST(store_->write_facts(ana, {insert_fact(fact("city", "Porto", "pending_confirmation"))}));
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].confirmed_at, 0);
  FactWrite confirm;
  confirm.status_changes = {{pending[0].id, "active"}};
  confirm.confirm = true;
  confirm.actor = "user";
  ASSERT_TRUE(store_->write_facts(ana, {confirm}));
  const auto confirmed = MUST(store_->find_fact(ana, pending[0].id));
  ASSERT_TRUE(confirmed);
  EXPECT_EQ(confirmed->status, "active");
  EXPECT_GT(confirmed->confirmed_at, 0);
  EXPECT_EQ(MUST(store_->audit_log(ana)).back().action, "fact.confirm");

  FactWrite told = insert_fact(fact("name", "Tidy Tails"), "user");
  told.confirm = true;
  const auto stamped = MUST(store_->write_facts(ana, {told}));
  ASSERT_EQ(stamped.size(), 1u);
  EXPECT_GT(stamped[0].confirmed_at, 0) << "a fact the user stated is confirmed as written";

  const size_t audit_rows = MUST(store_->audit_log(ana)).size();
  auto bad =
      store_->write_facts(ana, {insert_fact(fact("tone", "warm")), insert_fact(fact("x", "y", "bogus"))});
  ASSERT_FALSE(bad) << "an unknown status fails the whole call";
  EXPECT_EQ(MUST(store_->list_facts(ana, true)).size(), 2u) << "nothing of the failed call was written";
  EXPECT_EQ(MUST(store_->audit_log(ana)).size(), audit_rows);
}

TEST_P(StoreContract, ListFactsShowsActiveAndPendingUnlessAllAreAsked) {
  const int64_t ana = user("ana");
  const auto facts = MUST(store_->write_facts(
      ana, {insert_fact(fact("a", "1", "active")), insert_fact(fact("b", "2", "pending_confirmation")),
            insert_fact(fact("c", "3", "rejected")), insert_fact(fact("d", "4", "superseded")),
            insert_fact(fact("e", "5", "active"))}));
  ASSERT_EQ(facts.size(), 5u);
  EXPECT_EQ(fact_ids(MUST(store_->list_facts(ana, false))),
            (std::vector<int64_t>{facts[0].id, facts[1].id, facts[4].id}));
  EXPECT_EQ(fact_ids(MUST(store_->list_facts(ana, true))), fact_ids(facts)) << "every version, oldest first";
  EXPECT_TRUE(MUST(store_->list_facts(user("ben"), true)).empty());
}

TEST_P(StoreContract, FactsForKeysReadsEveryVersionAndPersonMeansEveryPerson) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  const auto facts = MUST(store_->write_facts(
      ana,
      {insert_fact(fact("person:lani", "runs the site", "superseded")), insert_fact(fact("price", "100")),
       insert_fact(fact("person:freja", "designer")), insert_fact(fact("personal_style", "calm")),
       insert_fact(fact("person:lani", "took over the site")), insert_fact(fact("competitors", "Acme"))}));
  ASSERT_EQ(facts.size(), 6u);
  ASSERT_TRUE(store_->write_facts(
      ben, {insert_fact(fact("person:omar", "ben's partner")), insert_fact(fact("price", "9"))}));

  EXPECT_EQ(fact_ids(MUST(store_->facts_for_keys(ana, {"person"}))),
            (std::vector<int64_t>{facts[0].id, facts[2].id, facts[4].id}))
      << "every person:… key, every version, oldest first; not personal_style";
  EXPECT_EQ(fact_ids(MUST(store_->facts_for_keys(ana, {"price", "person:freja"}))),
            (std::vector<int64_t>{facts[1].id, facts[2].id}));
  EXPECT_EQ(fact_ids(MUST(store_->facts_for_keys(ana, {"price", "person"}))),
            (std::vector<int64_t>{facts[0].id, facts[1].id, facts[2].id, facts[4].id}));
  EXPECT_TRUE(MUST(store_->facts_for_keys(ana, {})).empty());
  EXPECT_TRUE(MUST(store_->facts_for_keys(ana, {"unknown"})).empty());
  EXPECT_TRUE(MUST(store_->facts_for_keys(ana, {"person:"})).empty()) << "only the word person is a prefix";
}

TEST_P(StoreContract, AnotherUsersFactCanBeNeitherReadNorChanged) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  const auto anas = MUST(store_->write_facts(ana, {insert_fact(fact("price", "100"))}));
  ASSERT_EQ(anas.size(), 1u);
  const int64_t anas_fact = anas[0].id;
  const size_t ana_audit = MUST(store_->audit_log(ana)).size();

  EXPECT_FALSE(MUST(store_->find_fact(ben, anas_fact)));
  FactWrite reject;
  reject.status_changes = {{anas_fact, "rejected"}};
  auto status = store_->write_facts(ben, {insert_fact(fact("city", "Lisbon")), reject});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::not_found);
  EXPECT_EQ(MUST(store_->find_fact(ana, anas_fact))->status, "active");
  EXPECT_TRUE(MUST(store_->list_facts(ben, true)).empty()) << "the whole call failed: ben's insert too";
  EXPECT_TRUE(MUST(store_->audit_log(ben)).empty());
  EXPECT_EQ(MUST(store_->audit_log(ana)).size(), ana_audit);
  FactWrite unknown;
  unknown.status_changes = {{987654, "rejected"}};
  auto missing = store_->write_facts(ana, {unknown});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

TEST_P(StoreContract, AppendedAuditEntriesAreReadBack) {
  const int64_t ana = user("ana");
  AuditEntry entry;
  entry.user_id = ana;
  entry.actor = "admin";
  entry.action = "user.export";
  entry.object = "user:ana";
  entry.after_json = R"({"format":"json"})";
  entry.at = kNov14;
  ASSERT_TRUE(store_->append_audit(entry));
  const auto log = MUST(store_->audit_log(ana));
  ASSERT_EQ(log.size(), 1u);
  EXPECT_GT(log[0].id, 0);
  EXPECT_EQ(log[0].user_id, ana);
  EXPECT_EQ(log[0].actor, "admin");
  EXPECT_EQ(log[0].action, "user.export");
  EXPECT_EQ(log[0].object, "user:ana");
  EXPECT_EQ(log[0].before_json, "") << "no before state";
  EXPECT_SAME_JSON(log[0].after_json, R"({"format":"json"})");
  EXPECT_EQ(log[0].at, kNov14);
  EXPECT_TRUE(MUST(store_->audit_log(user("ben"))).empty());
}

TEST_P(StoreContract, EveryAuditRowIsExportedInOrderAdminActionsIncluded) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  const auto row = [](int64_t user_id, std::string action) {
    AuditEntry entry;
    entry.user_id = user_id;
    entry.actor = user_id == 0 ? "root" : "user";
    entry.action = std::move(action);
    entry.object = "thing";
    entry.after_json = R"({"status":200})";
    entry.at = kNov14;
    return entry;
  };
  ASSERT_TRUE(store_->append_audit(row(ana, "fact.confirm")));
  ASSERT_TRUE(store_->append_audit(row(0, "admin.POST")));
  ASSERT_TRUE(store_->append_audit(row(ben, "fact.reject")));
  ASSERT_TRUE(store_->write_facts(ana, {insert_fact(fact("price", "$14"))}));  // writes its own row
  const auto all = MUST(store_->audit_entries(0, 100));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const AuditEntry& a, const AuditEntry& b) { return a.id < b.id; }));
  EXPECT_EQ(all[0].action, "fact.confirm");
  EXPECT_EQ(all[0].user_external_id, "ana");
  EXPECT_EQ(all[1].action, "admin.POST");
  EXPECT_EQ(all[1].user_id, 0);
  EXPECT_EQ(all[1].user_external_id, "") << "an admin action is about no user";
  EXPECT_EQ(all[2].user_external_id, "ben");
  EXPECT_EQ(all[3].action, "fact.add");
  // Pages continue after the last id seen.
  const auto first = MUST(store_->audit_entries(0, 2));
  ASSERT_EQ(first.size(), 2u);
  const auto rest = MUST(store_->audit_entries(first.back().id, 100));
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, all[2].id);
  EXPECT_TRUE(MUST(store_->audit_entries(all.back().id, 100)).empty());
  EXPECT_TRUE(MUST(store_->audit_log(ana)).size() == 2u) << "a user's own log never holds admin rows";
}

TEST_P(StoreContract, SummaryIsReplacedAndPerUser) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  EXPECT_FALSE(MUST(store_->summary(ana)));
  ASSERT_TRUE(store_->put_summary({ana, 4, "Ana runs a bakery."}));
  ASSERT_TRUE(store_->put_summary({ana, 9, "Ana runs a bakery in Porto."}));
  const auto summary = MUST(store_->summary(ana));
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->user_id, ana);
  EXPECT_EQ(summary->upto_seq, 9);
  EXPECT_EQ(summary->text, "Ana runs a bakery in Porto.");
  EXPECT_FALSE(MUST(store_->summary(ben)));
}

// ---------------------------------------------------------------------------------------------
// Erasure

TEST_P(StoreContract, EraseUserLeavesNothingOfThemFindableAndOthersUntouched) {
  const int64_t ben = user("ben");
  const int64_t ana = user("ana");  // the highest id: a backend may hand it out again after the erase
  const int64_t guides = knowledge_store("guides");
  put(guides, "shared.md", {chunk(0, "", "zanzibar is in the shared guide")});
  ASSERT_TRUE(store_->create_api_key("ben", "laptop", "user", "hash-ben"));
  for (const int64_t who : {ana, ben}) {
    const std::string name = who == ana ? "ana" : "ben";
    ASSERT_TRUE(store_->append_message(message_at(who, name + " likes zanzibar spice", kNov14),
                                       UsageTally{"canvas", 10, 10, 0.5}, true));
    ASSERT_TRUE(store_->append_message(message_at(who, "a reply about zanzibar", kNov14 + 10, "assistant")));
    ASSERT_TRUE(store_->write_facts(who, {insert_fact(fact("spice", "zanzibar"))}));
    ASSERT_TRUE(store_->put_summary({who, 2, name + " likes zanzibar"}));
    ASSERT_TRUE(
        store_->create_upload(Upload{"file-" + name, who, "a.md", "assistants", 0, "", 0, "zanzibar"}));
    ASSERT_TRUE(store_->put_response({"resp_" + name, who, "", "{}", "{}", "{}", 0}));
    const auto own = MUST(store_->create_user_store(who, "vs_" + name, "{}", "", "{}"));
    put(own.id, "mine.md", {chunk(0, "", name + " zanzibar notes")});
  }
  ASSERT_TRUE(store_->create_api_key("ana", "phone", "user", "hash-ana"));
  const auto ana_facts = MUST(store_->list_facts(ana, true));
  ASSERT_EQ(ana_facts.size(), 1u);
  const auto ana_messages = MUST(store_->recent_messages(ana, 10));
  ASSERT_EQ(ana_messages.size(), 2u);

  ASSERT_TRUE(store_->erase_user(ana, "admin"));

  EXPECT_FALSE(MUST(store_->find_user("ana")));
  EXPECT_EQ(MUST(store_->message_count(ana)), 0);
  EXPECT_TRUE(MUST(store_->recent_messages(ana, 10)).empty());
  EXPECT_TRUE(MUST(store_->messages_between(ana, 0, 100, -1)).empty());
  EXPECT_TRUE(MUST(store_->messages_by_id(ana, {ana_messages[0].id, ana_messages[1].id})).empty());
  EXPECT_TRUE(MUST(store_->search_messages(ana, "zanzibar", 10)).empty());
  EXPECT_TRUE(MUST(store_->list_facts(ana, true)).empty());
  EXPECT_FALSE(MUST(store_->find_fact(ana, ana_facts[0].id)));
  EXPECT_TRUE(MUST(store_->facts_for_keys(ana, {"spice"})).empty());
  for (const auto& entry : MUST(store_->audit_log(ana))) {
    EXPECT_EQ(entry.action.rfind("fact.", 0), std::string::npos) << "an audit row about ana's facts is left";
  }
  EXPECT_FALSE(MUST(store_->summary(ana)));
  EXPECT_TRUE(MUST(store_->usage(ana)).empty());
  EXPECT_TRUE(MUST(store_->list_uploads(ana)).empty());
  EXPECT_FALSE(MUST(store_->find_upload(ana, "file-ana", true)));
  EXPECT_FALSE(MUST(store_->find_response(ana, "resp_ana")));
  EXPECT_TRUE(MUST(store_->list_user_stores(ana)).empty());
  EXPECT_FALSE(MUST(store_->find_knowledge_store("vs_ana")));
  EXPECT_TRUE(search({"vs_ana"}, "zanzibar").empty());
  EXPECT_FALSE(MUST(store_->find_api_key("hash-ana")));
  EXPECT_TRUE(MUST(store_->list_api_keys(std::string_view("ana"))).empty());
  for (const auto& listed : MUST(store_->list_users("", 100))) EXPECT_NE(listed.user, "ana");
  for (const auto& total : MUST(store_->usage_totals("", ""))) EXPECT_NE(total.user, "ana");
  for (const auto& reply : MUST(store_->replies_since(0))) EXPECT_NE(reply.user_id, ana);
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 1) << "ana's queued extraction went with her";
  const auto job = MUST(store_->claim_extraction_job(unix_millis() + 1000, 60000));
  ASSERT_TRUE(job);
  EXPECT_EQ(job->message.user_id, ben);

  // Ben, and what belongs to everyone, are untouched.
  EXPECT_EQ(MUST(store_->message_count(ben)), 2);
  EXPECT_EQ(MUST(store_->search_messages(ben, "zanzibar", 10)).size(), 2u);
  EXPECT_EQ(MUST(store_->list_facts(ben, true)).size(), 1u);
  EXPECT_TRUE(MUST(store_->summary(ben)));
  EXPECT_EQ(MUST(store_->usage(ben)).size(), 1u);
  EXPECT_TRUE(MUST(store_->find_upload(ben, "file-ben", true)));
  EXPECT_TRUE(MUST(store_->find_response(ben, "resp_ben")));
  EXPECT_EQ(MUST(store_->list_user_stores(ben)).size(), 1u);
  EXPECT_EQ(search({"vs_ben"}, "zanzibar").size(), 1u);
  EXPECT_EQ(search({"guides"}, "zanzibar").size(), 1u);
  EXPECT_TRUE(MUST(store_->find_api_key("hash-ben")));
  EXPECT_EQ(MUST(store_->counts()).users, 1);

  // The external id can come back as a new user (perhaps under the same id) who starts from nothing.
  const int64_t again = user("ana");
  EXPECT_TRUE(MUST(store_->recent_messages(again, 10)).empty());
  EXPECT_TRUE(MUST(store_->list_facts(again, true)).empty());
  EXPECT_TRUE(MUST(store_->search_messages(again, "zanzibar", 10)).empty());
  EXPECT_EQ(append(again, "fresh start").seq, 1);
}

// ---------------------------------------------------------------------------------------------
// API keys, analytics

TEST_P(StoreContract, ApiKeysAreCreatedFoundListedAndRevoked) {
  const auto laptop = MUST(store_->create_api_key("ana", "laptop", "user", "hash-1"));
  EXPECT_GT(laptop.id, 0);
  EXPECT_EQ(laptop.user, "ana");
  EXPECT_EQ(laptop.name, "laptop");
  EXPECT_EQ(laptop.role, "user");
  EXPECT_GT(laptop.created_at, 0);
  EXPECT_EQ(laptop.revoked_at, 0);
  EXPECT_TRUE(MUST(store_->find_user("ana"))) << "the owner is created on first sight";
  const auto admin = MUST(store_->create_api_key("ana", "ops", "admin", "hash-2"));
  const auto bens = MUST(store_->create_api_key("ben", "", "user", "hash-3"));
  EXPECT_FALSE(store_->create_api_key("ben", "again", "user", "hash-3")) << "a hash names one key";

  const auto found = MUST(store_->find_api_key("hash-2"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, admin.id);
  EXPECT_EQ(found->user, "ana");
  EXPECT_EQ(found->name, "ops");
  EXPECT_EQ(found->role, "admin");
  EXPECT_EQ(found->created_at, admin.created_at);
  EXPECT_FALSE(MUST(store_->find_api_key("hash-404")));

  const auto ids = [](const std::vector<ApiKey>& keys) {
    std::vector<int64_t> out;
    for (const auto& k : keys) out.push_back(k.id);
    return out;
  };
  EXPECT_EQ(ids(MUST(store_->list_api_keys(std::nullopt))),
            (std::vector<int64_t>{laptop.id, admin.id, bens.id}));
  EXPECT_EQ(ids(MUST(store_->list_api_keys(std::string_view("ana")))),
            (std::vector<int64_t>{laptop.id, admin.id}));
  EXPECT_TRUE(MUST(store_->list_api_keys(std::string_view("nobody"))).empty());

  ASSERT_TRUE(store_->revoke_api_key(laptop.id));
  const auto revoked = MUST(store_->find_api_key("hash-1"));
  ASSERT_TRUE(revoked) << "a revoked key is still found, marked revoked";
  EXPECT_GT(revoked->revoked_at, 0);
  EXPECT_EQ(MUST(store_->find_api_key("hash-2"))->revoked_at, 0);
  EXPECT_EQ(MUST(store_->list_api_keys(std::nullopt)).size(), 3u);
  auto unknown = store_->revoke_api_key(987654);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::not_found);
}

TEST_P(StoreContract, RepliesSinceReadsEveryUsersAssistantRepliesOldestFirst) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  ASSERT_TRUE(store_->append_message(message_at(ana, "question", kNov14)));
  Message measured = message_at(ana, "answer", kNov14 + 10, "assistant");
  measured.assistant = "canvas";
  measured.session_no = 3;
  measured.usage_json = R"({"input_tokens":100,"output_tokens":20,"cost_usd":0.5,"memory_used":["fact:1"],)"
                        R"("memory_question":true,"degraded":true,"timings_ms":{"total":1234.5,"route":3}})";
  measured.route_json = R"({"assistant":"canvas","confidence":0.8,"method":"classifier"})";
  ASSERT_TRUE(store_->append_message(measured));
  Message bare = message_at(ben, "older answer", kNov14 + 5, "assistant");
  bare.assistant = "core";
  ASSERT_TRUE(store_->append_message(bare));
  Message unasked = message_at(ben, "later answer", kNov14 + 20, "assistant");
  unasked.usage_json = R"({"memory_used":[],"memory_question":false})";
  ASSERT_TRUE(store_->append_message(unasked));

  const auto replies = MUST(store_->replies_since(kNov14));
  ASSERT_EQ(replies.size(), 3u) << "assistant replies only";
  EXPECT_EQ(replies[0].user_id, ben);
  EXPECT_EQ(replies[0].assistant, "core");
  EXPECT_EQ(replies[0].total_ms, 0.0) << "not recorded";
  EXPECT_EQ(replies[0].memory_question, -1) << "not recorded";
  EXPECT_FALSE(replies[0].memory_used);
  const ReplyRecord& r = replies[1];
  EXPECT_EQ(r.user_id, ana);
  EXPECT_EQ(r.session_no, 3);
  EXPECT_EQ(r.created_at, kNov14 + 10);
  EXPECT_EQ(r.assistant, "canvas");
  EXPECT_DOUBLE_EQ(r.total_ms, 1234.5);
  EXPECT_EQ(r.input_tokens, 100);
  EXPECT_EQ(r.output_tokens, 20);
  EXPECT_DOUBLE_EQ(r.cost_usd, 0.5);
  EXPECT_EQ(r.memory_question, 1);
  EXPECT_TRUE(r.memory_used);
  EXPECT_TRUE(r.degraded);
  EXPECT_EQ(nlohmann::json::parse(r.route_json)["method"], "classifier");
  EXPECT_FALSE(replies[0].degraded) << "not recorded";
  EXPECT_EQ(replies[0].route_json, "{}");
  EXPECT_EQ(replies[2].memory_question, 0);
  EXPECT_FALSE(replies[2].memory_used);

  EXPECT_EQ(MUST(store_->replies_since(kNov14 + 10)).size(), 2u) << "at or after from_ms";
  EXPECT_TRUE(MUST(store_->replies_since(kNov14 + 21)).empty());
}

TEST_P(StoreContract, ActivityCountsFactsByStatusAndUsersWithRecentReplies) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  user("cy");  // never answered
  ASSERT_TRUE(store_->append_message(message_at(ana, "early answer", kNov14, "assistant")));
  ASSERT_TRUE(store_->append_message(message_at(ana, "late answer", kNov14 + 100, "assistant")));
  ASSERT_TRUE(store_->append_message(message_at(ben, "a question only", kNov14 + 100)));
  ASSERT_TRUE(store_->append_message(message_at(ben, "an answer", kNov14 + 50, "assistant")));
  ASSERT_TRUE(
      store_->write_facts(ana, {insert_fact(fact("price", "$14")), insert_fact(fact("team_size", "4"))}));
  ASSERT_TRUE(store_->write_facts(ben, {insert_fact(fact("price", "$9", "pending_confirmation"))}));
  const auto activity = MUST(store_->activity({kNov14, kNov14 + 60, kNov14 + 101}));
  EXPECT_EQ(activity.users_active, (std::vector<int64_t>{2, 1, 0}))
      << "users with a reply at or after each time";
  EXPECT_EQ(activity.facts_by_status,
            (std::map<std::string, int64_t>{{"active", 2}, {"pending_confirmation", 1}}));
  EXPECT_TRUE(MUST(store_->activity({})).users_active.empty());
}

TEST_P(StoreContract, UsageTotalsFilterByDayInclusively) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  ASSERT_TRUE(store_->append_message(message_at(ana, "a", kNov14), UsageTally{"canvas", 1, 2, 0.5}));
  ASSERT_TRUE(store_->append_message(message_at(ben, "b", kNov14 + kDayMs), UsageTally{"core", 3, 4, 0.25}));
  ASSERT_TRUE(
      store_->append_message(message_at(ana, "c", kNov14 + 2 * kDayMs), UsageTally{"canvas", 5, 6, 1}));

  const auto rows = [&](std::string_view from, std::string_view to) {
    std::vector<std::string> out;
    for (const auto& t : MUST(store_->usage_totals(from, to))) out.push_back(t.day + " " + t.user);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(rows("", ""), (std::vector<std::string>{"2023-11-14 ana", "2023-11-15 ben", "2023-11-16 ana"}));
  EXPECT_EQ(rows("2023-11-15", ""), (std::vector<std::string>{"2023-11-15 ben", "2023-11-16 ana"}));
  EXPECT_EQ(rows("", "2023-11-15"), (std::vector<std::string>{"2023-11-14 ana", "2023-11-15 ben"}));
  EXPECT_EQ(rows("2023-11-15", "2023-11-15"), (std::vector<std::string>{"2023-11-15 ben"}));
  EXPECT_TRUE(rows("2024-01-01", "").empty());

  const auto all = MUST(store_->usage_totals("2023-11-15", "2023-11-15"));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].assistant, "core");
  EXPECT_EQ(all[0].input_tokens, 3);
  EXPECT_EQ(all[0].output_tokens, 4);
  EXPECT_NEAR(all[0].cost_usd, 0.25, 1e-9);
}

// ---------------------------------------------------------------------------------------------
// Knowledge stores

TEST_P(StoreContract, KnowledgeStoresAreEnsuredFoundListedConfiguredAndDeleted) {
  const int64_t guides = knowledge_store("guides");
  EXPECT_GT(guides, 0);
  EXPECT_EQ(knowledge_store("guides"), guides) << "same name, same store";
  const int64_t other = knowledge_store("other");
  EXPECT_NE(other, guides);

  const auto found = MUST(store_->find_knowledge_store("guides"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, guides);
  EXPECT_EQ(found->name, "guides");
  EXPECT_EQ(found->kind, "knowledge");
  EXPECT_EQ(found->embedder, "");
  EXPECT_GT(found->created_at, 0);
  EXPECT_FALSE(MUST(store_->find_knowledge_store("missing")));

  const int64_t before = found->version;
  const std::string chunking = R"({"max_chunk_size_tokens":400,"chunk_overlap_tokens":40})";
  ASSERT_TRUE(store_->configure_knowledge_store(guides, "hash-256", chunking));
  const auto configured = MUST(store_->find_knowledge_store("guides"));
  ASSERT_TRUE(configured);
  EXPECT_EQ(configured->embedder, "hash-256");
  EXPECT_SAME_JSON(configured->chunking_json, chunking);
  EXPECT_EQ(configured->version, before + 1);

  const auto file = put(guides, "a.md", {chunk(0, "", "alpha words"), chunk(1, "", "beta words")});
  std::map<std::string, KnowledgeStore> listed;
  for (const auto& s : MUST(store_->list_knowledge_stores())) listed[s.name] = s;
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed["guides"].files, 1);
  EXPECT_EQ(listed["guides"].chunks, 2);
  EXPECT_EQ(listed["guides"].bytes, file.file.bytes);
  EXPECT_EQ(listed["other"].files, 0);

  ASSERT_TRUE(store_->delete_knowledge_store(guides));
  EXPECT_FALSE(MUST(store_->find_knowledge_store("guides")));
  EXPECT_EQ(MUST(store_->list_knowledge_stores()).size(), 1u);
  EXPECT_TRUE(search({"guides"}, "alpha").empty());
  EXPECT_TRUE(MUST(store_->chunks_by_id(file.chunk_ids)).empty()) << "its chunks went with it";
  EXPECT_EQ(MUST(store_->counts()).files, 0);
}

TEST_P(StoreContract, UserStoresBelongToTheirOwnerAndNamesAreUniqueAcrossKinds) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  knowledge_store("guides");
  const auto own = MUST(store_->create_user_store(ana, "vs_one", R"({"name":"One"})", "hash-256", "{}"));
  EXPECT_GT(own.id, 0);
  EXPECT_EQ(own.name, "vs_one");
  EXPECT_EQ(own.kind, "user");
  EXPECT_EQ(own.owner_user_id, ana);
  EXPECT_EQ(own.embedder, "hash-256");
  EXPECT_SAME_JSON(own.metadata_json, R"({"name":"One"})");
  EXPECT_EQ(MUST(store_->list_user_stores(ana)).size(), 1u);
  EXPECT_TRUE(MUST(store_->list_user_stores(ben)).empty());
  for (const auto& listed : MUST(store_->list_knowledge_stores())) EXPECT_NE(listed.name, "vs_one");

  auto taken = store_->create_user_store(ben, "vs_one", "{}", "", "{}");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().kind, ErrorKind::conflict);
  auto knowledge_name = store_->create_user_store(ana, "guides", "{}", "", "{}");
  ASSERT_FALSE(knowledge_name);
  EXPECT_EQ(knowledge_name.error().kind, ErrorKind::conflict) << "a knowledge store's name is taken too";
  auto as_knowledge = store_->ensure_knowledge_store("vs_one");
  ASSERT_FALSE(as_knowledge);
  EXPECT_EQ(as_knowledge.error().kind, ErrorKind::conflict);

  const auto found = MUST(store_->find_knowledge_store("vs_one"));
  ASSERT_TRUE(found) << "retrieval finds user stores by name";
  EXPECT_EQ(found->kind, "user");
  EXPECT_EQ(found->owner_user_id, ana);
  ASSERT_TRUE(store_->set_store_metadata(own.id, R"({"name":"Renamed"})"));
  const auto renamed = MUST(store_->list_user_stores(ana));
  ASSERT_EQ(renamed.size(), 1u);
  EXPECT_SAME_JSON(renamed[0].metadata_json, R"({"name":"Renamed"})");

  put(own.id, "n.md", {chunk(0, "", "private notes")});
  EXPECT_EQ(MUST(store_->list_user_stores(ana))[0].chunks, 1);
  ASSERT_TRUE(store_->delete_knowledge_store(own.id)) << "deletes a store of either kind";
  EXPECT_TRUE(MUST(store_->list_user_stores(ana)).empty());
  EXPECT_TRUE(MUST(store_->create_user_store(ben, "vs_one", "{}", "", "{}")).id > 0)
      << "the name is free again";
}

// ---------------------------------------------------------------------------------------------
// Files and chunks

TEST_P(StoreContract, PutFilesStoresIdenticalContentOncePerStore) {
  const int64_t a = knowledge_store("a");
  const int64_t b = knowledge_store("b");
  const NewChunk same = chunk(0, "", "Same words in both files");
  FileWrite one = file_write("one.md", {same});
  FileWrite two = one;
  two.file.filename = "two.md";
  const auto first = MUST(store_->put_files(a, {one}));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].duplicate);
  EXPECT_EQ(first[0].chunk_ids.size(), 1u);
  EXPECT_GT(first[0].file.id, 0);
  EXPECT_EQ(first[0].file.store_id, a);
  EXPECT_EQ(first[0].file.sha256, one.file.sha256);
  const int64_t version = store_version("a");

  const auto copy = MUST(store_->put_files(a, {two}));
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_TRUE(copy[0].duplicate);
  EXPECT_EQ(copy[0].file.id, first[0].file.id) << "points at the copy already stored";
  EXPECT_EQ(copy[0].file.filename, "one.md");
  EXPECT_TRUE(copy[0].chunk_ids.empty());
  EXPECT_EQ(MUST(store_->list_files(a)).size(), 1u);
  EXPECT_EQ(store_version("a"), version) << "nothing was written";

  const auto in_b = MUST(store_->put_files(b, {two}));
  ASSERT_EQ(in_b.size(), 1u);
  EXPECT_FALSE(in_b[0].duplicate) << "dedup is per store";
}

TEST_P(StoreContract, PutFileWithTheSameNameReplacesItAndReportsTheReplacedChunks) {
  const int64_t a = knowledge_store("a");
  const int64_t b = knowledge_store("b");
  const auto v1 = put(a, "guide.md", {chunk(0, "", "old zebras"), chunk(1, "", "more zebras")});
  put(b, "guide.md", {chunk(0, "", "zebras in b")});
  ASSERT_EQ(v1.chunk_ids.size(), 2u);
  const auto v2 = put(a, "guide.md", {chunk(0, "", "new giraffes")});
  EXPECT_FALSE(v2.duplicate);
  EXPECT_EQ(v2.replaced_chunk_ids, v1.chunk_ids);
  EXPECT_TRUE(MUST(store_->chunks_by_id(v1.chunk_ids)).empty());
  EXPECT_TRUE(search({"a"}, "zebras").empty());
  EXPECT_EQ(search({"a"}, "giraffes").size(), 1u);
  EXPECT_EQ(search({"b"}, "zebras").size(), 1u) << "the same name in another store is another file";
  const auto files = MUST(store_->list_files(a));
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].id, v2.file.id);
  EXPECT_EQ(files[0].chunks, 1);
  EXPECT_EQ(MUST(store_->counts()).chunks, 2);
}

TEST_P(StoreContract, PutFilesIsAllOrNothingAndOneVersionBump) {
  const int64_t a = knowledge_store("a");
  const int64_t version = store_version("a");
  FileWrite bad = file_write("bad.md", {chunk(0, "", "never stored")});
  bad.file.status = "bogus";
  auto failed = store_->put_files(a, {file_write("good.md", {chunk(0, "", "good words")}), bad});
  ASSERT_FALSE(failed) << "a file with an unknown status fails the batch";
  EXPECT_TRUE(MUST(store_->list_files(a)).empty()) << "the good file was not kept either";
  EXPECT_TRUE(search({"a"}, "good").empty());
  EXPECT_EQ(MUST(store_->counts()).chunks, 0);
  EXPECT_EQ(store_version("a"), version);

  // A batch dedups and replaces within itself, and is one commit.
  const std::vector<FileWrite> batch{
      file_write("one.md", {chunk(0, "", "first text")}),
      file_write("copy.md", {chunk(0, "", "first text")}),
      file_write("two.md", {chunk(0, "", "second, old")}),
      file_write("two.md", {chunk(0, "", "second, new")}),
  };
  const auto results = MUST(store_->put_files(a, batch));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_FALSE(results[0].duplicate);
  EXPECT_TRUE(results[1].duplicate) << "dedup sees earlier files of the same batch";
  EXPECT_EQ(results[1].file.filename, "one.md");
  EXPECT_EQ(results[3].replaced_chunk_ids, results[2].chunk_ids) << "the later write of a name wins";
  std::vector<std::string> names;
  for (const auto& f : MUST(store_->list_files(a))) names.push_back(f.filename);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"one.md", "two.md"}));
  const auto newest = MUST(store_->chunks_by_id(results[3].chunk_ids));
  ASSERT_EQ(newest.size(), 1u);
  EXPECT_EQ(newest[0].text, "second, new");
  EXPECT_EQ(store_version("a"), version + 1) << "one bump per batch";
  ASSERT_TRUE(store_->put_files(a, {batch[0]}));
  EXPECT_EQ(store_version("a"), version + 1) << "a batch that changes nothing writes nothing";
}

TEST_P(StoreContract, DeleteFileReturnsItsChunkIds) {
  const int64_t a = knowledge_store("a");
  const auto file = put(a, "f.md", {chunk(0, "", "elephants remember"), chunk(1, "", "elephants again")});
  put(a, "keep.md", {chunk(0, "", "an elephants stays")});
  ASSERT_EQ(search({"a"}, "elephants").size(), 3u);
  const int64_t version = store_version("a");
  EXPECT_EQ(MUST(store_->delete_file(file.file.id)), file.chunk_ids);
  EXPECT_EQ(store_version("a"), version + 1);
  const auto hits = search({"a"}, "elephants");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].filename, "keep.md");
  EXPECT_EQ(MUST(store_->list_files(a)).size(), 1u);
  auto twice = store_->delete_file(file.file.id);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::not_found);
}

TEST_P(StoreContract, FilesKeepTheirMetadata) {
  const int64_t a = knowledge_store("a");
  FileWrite write = file_write("report.pdf", {chunk(0, "", "x")});
  write.file.title = "Annual report";
  write.file.format = "pdf";
  write.file.external_id = "kb-7";
  write.file.attributes_json = R"({"year":2025,"team":"brand"})";
  write.file.chunking_json = R"({"max_chunk_size_tokens":200})";
  FileWrite broken = file_write("broken.pdf", {});
  broken.file.status = "failed";
  broken.file.last_error = "not a PDF";
  ASSERT_TRUE(store_->put_files(a, {write, broken}));
  std::map<std::string, StoredFile> files;
  for (const auto& f : MUST(store_->list_files(a))) files[f.filename] = f;
  ASSERT_EQ(files.size(), 2u);
  const StoredFile& report = files["report.pdf"];
  EXPECT_EQ(report.store_id, a);
  EXPECT_EQ(report.bytes, write.file.bytes);
  EXPECT_EQ(report.sha256, write.file.sha256);
  EXPECT_EQ(report.status, "completed");
  EXPECT_EQ(report.title, "Annual report");
  EXPECT_EQ(report.format, "pdf");
  EXPECT_EQ(report.external_id, "kb-7");
  EXPECT_SAME_JSON(report.attributes_json, write.file.attributes_json);
  EXPECT_SAME_JSON(report.chunking_json, write.file.chunking_json);
  EXPECT_EQ(report.chunks, 1);
  EXPECT_GT(report.created_at, 0);
  EXPECT_EQ(files["broken.pdf"].status, "failed");
  EXPECT_EQ(files["broken.pdf"].last_error, "not a PDF");
  EXPECT_EQ(files["broken.pdf"].chunks, 0);
  EXPECT_TRUE(MUST(store_->list_files(knowledge_store("b"))).empty());
}

TEST_P(StoreContract, VectorStoreFilesAreKnownByTheirFileId) {
  const int64_t ana = user("ana");
  const auto vs = MUST(store_->create_user_store(ana, "vs_files", "{}", "", "{}"));
  const std::vector<NewChunk> chunks = {chunk(0, "", "same words")};
  const auto first = MUST(store_->put_file(vs.id, keyed_file("file-a", "same"), chunks));
  const auto second = MUST(store_->put_file(vs.id, keyed_file("file-b", "same"), chunks));
  EXPECT_FALSE(second.duplicate) << "equal content under another file id is another file";
  EXPECT_NE(second.file.id, first.file.id);
  const auto both = MUST(store_->list_files(vs.id));
  ASSERT_EQ(both.size(), 2u) << "equal names replace neither";
  for (const auto& f : both) EXPECT_EQ(f.filename, "notes.md") << "the name is shown without the file id";
  const auto hits = search({"vs_files"}, "same words");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].filename, "notes.md");

  EXPECT_TRUE(MUST(store_->put_file(vs.id, keyed_file("file-a", "same"), chunks)).duplicate);
  const auto retagged =
      MUST(store_->put_file(vs.id, keyed_file("file-a", "same", R"({"year":2025})"), chunks));
  EXPECT_FALSE(retagged.duplicate) << "new attributes are a new version";
  EXPECT_EQ(retagged.replaced_chunk_ids, first.chunk_ids);
  EXPECT_EQ(MUST(store_->list_files(vs.id)).size(), 2u);
}

TEST_P(StoreContract, VectorsAreVisitedInIdOrderAndUpdatesBumpTheVersion) {
  const int64_t a = knowledge_store("a");
  const int64_t b = knowledge_store("b");
  const auto file = put(a, "v.md",
                        {chunk(0, "", "one", {1.0f, 2.0f, 3.0f}), chunk(1, "", "two", {0.5f, -0.25f, 1e-7f}),
                         chunk(2, "", "three")});
  put(b, "w.md", {chunk(0, "", "elsewhere", {9.0f, 9.0f, 9.0f})});
  ASSERT_EQ(file.chunk_ids.size(), 3u);

  const auto vectors = [&] {
    std::vector<std::pair<int64_t, std::vector<float>>> out;
    EXPECT_TRUE(store_->for_each_vector(a, [&](int64_t id, const float* data, size_t dim) {
      out.emplace_back(id, std::vector<float>(data, data + dim));
    }));
    return out;
  };
  using Vectors = std::vector<std::pair<int64_t, std::vector<float>>>;
  EXPECT_EQ(vectors(),
            (Vectors{{file.chunk_ids[0], {1.0f, 2.0f, 3.0f}}, {file.chunk_ids[1], {0.5f, -0.25f, 1e-7f}}}))
      << "only chunks with a vector, bit for bit, in id order";

  const int64_t version = store_version("a");
  ASSERT_TRUE(store_->update_vectors(
      a, {{file.chunk_ids[2], {7.0f, 8.0f, 9.0f}}, {file.chunk_ids[0], {0.0f, 0.0f, 1.0f}}}));
  EXPECT_EQ(store_version("a"), version + 1);
  EXPECT_EQ(vectors(), (Vectors{{file.chunk_ids[0], {0.0f, 0.0f, 1.0f}},
                                {file.chunk_ids[1], {0.5f, -0.25f, 1e-7f}},
                                {file.chunk_ids[2], {7.0f, 8.0f, 9.0f}}}));

  const auto texts = MUST(store_->chunk_texts(a));
  ASSERT_EQ(texts.size(), 3u);
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(texts[i].first, file.chunk_ids[i]) << "in id order";
  EXPECT_NE(texts[1].second.find("two"), std::string::npos);
}

TEST_P(StoreContract, ChunkTermsAreTheTextModulesStemsInIdOrder) {
  const int64_t a = knowledge_store("a");
  const auto file = put(a, "t.md",
                        {chunk(0, "Pricing Guide", "Raising prices without losing customers"),
                         chunk(1, "", "Finding your brand's voice")});
  put(knowledge_store("b"), "other.md", {chunk(0, "", "not visited")});
  std::vector<std::tuple<int64_t, std::string, std::string>> visited;
  ASSERT_TRUE(
      store_->for_each_chunk_terms(a, [&](int64_t id, std::string_view heading, std::string_view terms) {
        visited.emplace_back(id, std::string(heading), std::string(terms));
      }));
  ASSERT_EQ(visited.size(), 2u);
  EXPECT_EQ(visited[0], std::make_tuple(file.chunk_ids[0], text::index_terms("Pricing Guide"),
                                        text::index_terms("Raising prices without losing customers")));
  EXPECT_EQ(visited[1], std::make_tuple(file.chunk_ids[1], text::index_terms(""),
                                        text::index_terms("Finding your brand's voice")));
}

TEST_P(StoreContract, FileChunksAndChunksByIdCarryTheirFileAndStore) {
  const int64_t a = knowledge_store("a");
  FileWrite write = file_write("guide.md", {chunk(0, "Intro", "first part"), chunk(1, "Body", "second part"),
                                            chunk(2, "End", "third part")});
  write.file.external_id = "kb-guide";
  write.file.attributes_json = R"({"lang":"en"})";
  write.chunks[1].page = 2;
  const auto put_result = MUST(store_->put_files(a, {write}));
  ASSERT_EQ(put_result.size(), 1u);
  const auto& ids = put_result[0].chunk_ids;
  ASSERT_EQ(ids.size(), 3u);

  const auto first_two = MUST(store_->file_chunks(put_result[0].file.id, 2));
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[0].ordinal, 0);
  EXPECT_EQ(first_two[1].ordinal, 1);
  const ChunkRecord& body = first_two[1];
  EXPECT_EQ(body.chunk_id, ids[1]);
  EXPECT_EQ(body.file_id, put_result[0].file.id);
  EXPECT_EQ(body.store, "a");
  EXPECT_EQ(body.filename, "guide.md");
  EXPECT_EQ(body.external_id, "kb-guide");
  EXPECT_EQ(body.heading, "Body");
  EXPECT_EQ(body.page, 2);
  EXPECT_EQ(body.text, "second part");
  EXPECT_SAME_JSON(body.attributes_json, R"({"lang":"en"})");
  EXPECT_EQ(MUST(store_->file_chunks(put_result[0].file.id, 10)).size(), 3u);

  auto by_id = MUST(store_->chunks_by_id({ids[2], 987654, ids[0]}));
  std::vector<int64_t> found;
  for (const auto& c : by_id) found.push_back(c.chunk_id);
  EXPECT_EQ(sorted(found), sorted({ids[0], ids[2]})) << "unknown ids are skipped";
  EXPECT_TRUE(MUST(store_->chunks_by_id({})).empty());
}

TEST_P(StoreContract, SearchChunksFindsByWordWithinTheNamedStores) {
  const int64_t a = knowledge_store("a");
  const int64_t b = knowledge_store("b");
  put(a, "a.md", {chunk(0, "Guide", "pricing in store a"), chunk(1, "Guide", "nothing relevant here")});
  put(b, "b.md", {chunk(0, "", "pricing in store b")});
  const auto only_a = search({"a"}, "pricing");
  ASSERT_EQ(only_a.size(), 1u);
  EXPECT_EQ(only_a[0].text, "pricing in store a");
  EXPECT_EQ(only_a[0].store, "a");
  EXPECT_EQ(only_a[0].filename, "a.md");
  EXPECT_EQ(only_a[0].heading, "Guide");
  EXPECT_EQ(only_a[0].ordinal, 0);
  EXPECT_GT(only_a[0].chunk_id, 0);
  EXPECT_EQ(search({"a", "b"}, "pricing").size(), 2u);
  EXPECT_TRUE(search({"c"}, "pricing").empty());
  EXPECT_TRUE(search({}, "pricing").empty());
  EXPECT_TRUE(search({"a"}, "pricing", 0).empty());

  const int64_t c = knowledge_store("c");
  put(c, "ranked.md",
      {chunk(0, "", "an unrelated paragraph that mentions zebra once among many other words here"),
       chunk(1, "", "zebra zebra zebra: all about the zebra"), chunk(2, "", "some words on a zebra"),
       chunk(3, "", "nothing at all")});
  const auto top = search({"c"}, "zebra", 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].ordinal, 1);
  EXPECT_GE(top[0].score, top[1].score);
  const auto all = search({"c"}, "zebra", 10);
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].score, all[i].score) << "best first";
  for (const std::string query : {"\"AND (OR* NEAR", "(((", "*", "", "NOT", "a & b | !c", "near(zebra, 2)",
                                  "'; DROP TABLE chunks; --", "\xFF\xFE"}) {
    auto hits = store_->search_chunks({"c"}, query, 5);
    EXPECT_TRUE(hits) << "query '" << query << "': " << why(hits);
  }
}

// ---------------------------------------------------------------------------------------------
// Uploads and responses

TEST_P(StoreContract, UploadsBelongToTheirUserOnly) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  Upload upload;
  upload.id = "file-abc";
  upload.user_id = ana;
  upload.filename = "guide.md";
  upload.purpose = "assistants";
  static constexpr char kBinary[] = "# Guide\n\0binary-safe\xFF";
  upload.content = std::string(kBinary, sizeof kBinary - 1);
  const auto created = MUST(store_->create_upload(upload));
  EXPECT_EQ(created.bytes, static_cast<int64_t>(upload.content.size()));
  EXPECT_EQ(created.sha256, sha256_hex(upload.content));
  EXPECT_GT(created.created_at, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // "oldest first" needs distinct times
  ASSERT_TRUE(store_->create_upload(Upload{"file-def", ana, "b.md", "user_data", 0, "", 0, "second"}));

  const auto found = MUST(store_->find_upload(ana, "file-abc", true));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->content, upload.content) << "content is kept byte for byte";
  EXPECT_EQ(found->filename, "guide.md");
  EXPECT_EQ(found->purpose, "assistants");
  EXPECT_EQ(found->bytes, created.bytes);
  EXPECT_EQ(found->created_at, created.created_at);
  const auto without = MUST(store_->find_upload(ana, "file-abc", false));
  ASSERT_TRUE(without);
  EXPECT_TRUE(without->content.empty());
  EXPECT_FALSE(MUST(store_->find_upload(ben, "file-abc", true))) << "ben cannot read ana's file";

  const auto listed = MUST(store_->list_uploads(ana));
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, "file-abc");
  EXPECT_EQ(listed[1].id, "file-def");
  for (const auto& u : listed) EXPECT_TRUE(u.content.empty()) << "listed without content";
  EXPECT_TRUE(MUST(store_->list_uploads(ben)).empty());

  auto not_bens = store_->delete_upload(ben, "file-abc");
  ASSERT_FALSE(not_bens);
  EXPECT_EQ(not_bens.error().kind, ErrorKind::not_found);
  ASSERT_TRUE(store_->delete_upload(ana, "file-abc"));
  EXPECT_FALSE(MUST(store_->find_upload(ana, "file-abc", false)));
  EXPECT_EQ(MUST(store_->list_uploads(ana)).size(), 1u);
  EXPECT_FALSE(store_->create_upload(Upload{"file-x", 987654, "a.md", "assistants", 0, "", 0, "x"}))
      << "an upload needs a user that exists";
}

TEST_P(StoreContract, ResponsesBelongToTheirUserOnly) {
  const int64_t ana = user("ana");
  const int64_t ben = user("ben");
  ASSERT_TRUE(
      store_->put_response({"resp_1", ana, "", R"({"input_items":[]})", R"({"id":"resp_1"})", "{}", 0}));
  ASSERT_TRUE(store_->put_response(
      {"resp_2", ana, "resp_1", "{}", R"({"id":"resp_2"})", R"({"input_tokens":3})", kNov14}));
  const auto first = MUST(store_->find_response(ana, "resp_1"));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->previous_id, "");
  EXPECT_GT(first->created_at, 0) << "filled in when zero";
  EXPECT_SAME_JSON(first->request_json, R"({"input_items":[]})");
  const auto second = MUST(store_->find_response(ana, "resp_2"));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->user_id, ana);
  EXPECT_EQ(second->previous_id, "resp_1");
  EXPECT_SAME_JSON(second->output_json, R"({"id":"resp_2"})");
  EXPECT_SAME_JSON(second->usage_json, R"({"input_tokens":3})");
  EXPECT_EQ(second->created_at, kNov14);

  EXPECT_FALSE(MUST(store_->find_response(ben, "resp_1")));
  auto not_bens = store_->delete_response(ben, "resp_1");
  ASSERT_FALSE(not_bens);
  EXPECT_EQ(not_bens.error().kind, ErrorKind::not_found);
  ASSERT_TRUE(store_->delete_response(ana, "resp_1"));
  EXPECT_FALSE(MUST(store_->find_response(ana, "resp_1")));
  EXPECT_FALSE(store_->put_response({"resp_2", ana, "", "{}", "{}", "{}", 0})) << "ids are unique";
}

// ---------------------------------------------------------------------------------------------
// Durability across reopening

TEST_P(StoreContract, EverythingSurvivesClosingAndReopening) {
  const int64_t ana = user("ana");
  ASSERT_TRUE(store_->set_display_name(ana, "Ana"));
  ASSERT_TRUE(store_->append_message(message_at(ana, "we sell sourdough", kNov14),
                                     UsageTally{"canvas", 3, 4, 0.5}, true));
  append(ana, "noted", "assistant");
  const auto facts = MUST(store_->write_facts(ana, {insert_fact(fact("product", "sourdough"))}));
  ASSERT_TRUE(store_->put_summary({ana, 2, "sells bread"}));
  const int64_t guides = knowledge_store("guides");
  ASSERT_TRUE(store_->configure_knowledge_store(guides, "hash-256", "{}"));
  const auto file = put(guides, "bread.md", {chunk(0, "", "sourdough starter care", {1.0f, 0.0f})});
  ASSERT_TRUE(store_->create_upload(Upload{"file-1", ana, "a.md", "assistants", 0, "", 0, "content"}));
  ASSERT_TRUE(store_->put_response({"resp_1", ana, "", "{}", "{}", "{}", 0}));
  ASSERT_TRUE(store_->create_api_key("ana", "laptop", "user", "hash-1"));
  const int64_t version = store_version("guides");

  reopen();
  ASSERT_TRUE(store_);
  const auto again = MUST(store_->find_user("ana"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, ana);
  EXPECT_EQ(again->display_name, "Ana");
  EXPECT_EQ(texts_of(MUST(store_->recent_messages(ana, 10))),
            (std::vector<std::string>{"we sell sourdough", "noted"}));
  EXPECT_EQ(MUST(store_->search_messages(ana, "sourdough", 5)).size(), 1u);
  EXPECT_EQ(fact_ids(MUST(store_->list_facts(ana, false))), fact_ids(facts));
  EXPECT_EQ(MUST(store_->summary(ana))->text, "sells bread");
  EXPECT_EQ(MUST(store_->usage(ana)).size(), 1u);
  EXPECT_EQ(MUST(store_->pending_extraction_jobs()), 1);
  EXPECT_EQ(MUST(store_->find_knowledge_store("guides"))->embedder, "hash-256");
  EXPECT_EQ(store_version("guides"), version);
  EXPECT_EQ(search({"guides"}, "sourdough").size(), 1u);
  size_t vectors = 0;
  ASSERT_TRUE(store_->for_each_vector(guides, [&](int64_t id, const float*, size_t dim) {
    EXPECT_EQ(id, file.chunk_ids[0]);
    EXPECT_EQ(dim, 2u);
    ++vectors;
  }));
  EXPECT_EQ(vectors, 1u);
  EXPECT_EQ(MUST(store_->find_upload(ana, "file-1", true))->content, "content");
  EXPECT_TRUE(MUST(store_->find_response(ana, "resp_1")));
  EXPECT_TRUE(MUST(store_->find_api_key("hash-1")));
  EXPECT_EQ(append(ana, "next").seq, 3) << "the thread goes on where it was";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace brandcoach::store
