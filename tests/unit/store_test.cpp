// The SQLite store: migrations, users, the message thread, the usage ledger and chunk search.
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "brandcoach/store/store.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::store {
namespace {

using brandcoach::testing::TempDir;

// A plain sqlite3 connection for looking at the database behind the store's back.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) ADD_FAILURE() << "cannot open " << path;
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  // The first column of the first row as an integer; -1 when there is no row.
  int64_t scalar(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return -1;
    }
    int64_t value = -1;
    if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return value;
  }
  void exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (message ? message : "?");
    }
    sqlite3_free(message);
  }

 private:
  sqlite3* db_ = nullptr;
};

class StoreTest : public ::testing::Test {
 protected:
  // The "db" folder does not exist yet: open_sqlite creates it.
  std::string db_path() const { return (dir_ / "db" / "brandcoach.sqlite3").string(); }

  std::unique_ptr<Store> open(int connections = 4) {
    auto store = open_sqlite({db_path(), connections, 10000});
    if (!store) {
      ADD_FAILURE() << "open_sqlite: " << store.error().message;
      return nullptr;
    }
    return std::move(store).value();
  }

  Message message(int64_t user_id, std::string text, std::string role = "user") {
    Message m;
    m.user_id = user_id;
    m.role = std::move(role);
    m.text = std::move(text);
    return m;
  }

  NewChunk chunk(int ordinal, std::string heading, std::string text) {
    return NewChunk{ordinal, std::move(heading), std::move(text), 10, 0, {}};
  }

  TempDir dir_;
};

// ---------------------------------------------------------------------------------------------
// Schema and migrations

TEST_F(StoreTest, MigratesEmptyDatabaseToLatestVersionWithAllTables) {
  auto store = open();
  ASSERT_TRUE(store);
  auto version = store->schema_version();
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(*version, latest_schema_version());
  EXPECT_GE(latest_schema_version(), 1);
  EXPECT_TRUE(store->ping());
  EXPECT_TRUE(std::filesystem::exists(db_path()));

  RawDb raw(db_path());
  for (const char* table : {"users", "messages", "facts", "audit", "summaries", "stores", "files", "chunks",
                            "responses", "api_keys", "usage", "schema_version", "chunks_fts"}) {
    EXPECT_EQ(raw.scalar(std::string("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '") +
                         table + "'"),
              1)
        << "missing table " << table;
  }
  EXPECT_EQ(raw.scalar("SELECT MAX(version) FROM schema_version"), latest_schema_version());
}

TEST_F(StoreTest, ReopeningKeepsDataAndDoesNotMigrateAgain) {
  int64_t user_id = 0;
  {
    auto store = open();
    ASSERT_TRUE(store);
    auto user = store->ensure_user("alice");
    ASSERT_TRUE(user) << user.error().message;
    user_id = user->id;
    ASSERT_TRUE(store->append_message(message(user_id, "hello")));
  }
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->schema_version().value(), latest_schema_version());
  auto again = store->ensure_user("alice");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, user_id);
  auto recent = store->recent_messages(user_id, 10);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 1u);
  EXPECT_EQ(recent->front().text, "hello");

  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM schema_version"), latest_schema_version());
  EXPECT_EQ(raw.scalar("SELECT COUNT(DISTINCT version) FROM schema_version"), latest_schema_version());
}

TEST_F(StoreTest, RefusesDatabaseWithNewerSchema) {
  { ASSERT_TRUE(open()); }
  {
    RawDb raw(db_path());
    raw.exec("INSERT INTO schema_version (version, applied_at) VALUES (" +
             std::to_string(latest_schema_version() + 1) + ", 0)");
  }
  auto store = open_sqlite({db_path(), 2, 1000});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::invalid_config);
  EXPECT_FALSE(store.error().message.empty());
}

// ---------------------------------------------------------------------------------------------
// Users and messages

TEST_F(StoreTest, EnsureUserIsIdempotent) {
  auto store = open();
  ASSERT_TRUE(store);
  auto first = store->ensure_user("ext-1");
  auto second = store->ensure_user("ext-1");
  auto other = store->ensure_user("ext-2");
  ASSERT_TRUE(first && second && other);
  EXPECT_GT(first->id, 0);
  EXPECT_EQ(first->id, second->id);
  EXPECT_EQ(first->created_at, second->created_at);
  EXPECT_NE(first->id, other->id);
  EXPECT_EQ(first->external_id, "ext-1");
  EXPECT_EQ(first->role, "user");
  EXPECT_GT(first->created_at, 0);
  EXPECT_EQ(store->counts()->users, 2);
}

TEST_F(StoreTest, SetDisplayNameIsReadBack) {
  auto store = open();
  ASSERT_TRUE(store);
  auto user = store->ensure_user("ana");
  ASSERT_TRUE(user);
  EXPECT_EQ(user->display_name, "");
  ASSERT_TRUE(store->set_display_name(user->id, "Ana"));
  EXPECT_EQ(store->ensure_user("ana")->display_name, "Ana");
}

TEST_F(StoreTest, AppendAssignsSequencePerUserIndependently) {
  auto store = open();
  ASSERT_TRUE(store);
  const int64_t a = store->ensure_user("a")->id;
  const int64_t b = store->ensure_user("b")->id;
  std::vector<int64_t> seq_a, seq_b;
  for (int i = 0; i < 3; ++i) {
    auto ma = store->append_message(message(a, "a" + std::to_string(i)));
    ASSERT_TRUE(ma) << ma.error().message;
    seq_a.push_back(ma->seq);
    EXPECT_GT(ma->id, 0);
    EXPECT_GT(ma->created_at, 0);
    auto mb = store->append_message(message(b, "b" + std::to_string(i)));
    ASSERT_TRUE(mb) << mb.error().message;
    seq_b.push_back(mb->seq);
  }
  EXPECT_EQ(seq_a, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(seq_b, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(store->message_count(a).value(), 3);
  EXPECT_EQ(store->message_count(b).value(), 3);
}

TEST_F(StoreTest, AppendKeepsGivenCreatedAtAndFields) {
  auto store = open();
  ASSERT_TRUE(store);
  const int64_t user = store->ensure_user("u")->id;
  Message m = message(user, "answer", "assistant");
  m.created_at = 1700000000000;
  m.assistant = "canvas";
  m.route_json = R"({"assistant":"canvas"})";
  m.session_no = 2;
  ASSERT_TRUE(store->append_message(m));
  auto recent = store->recent_messages(user, 1);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 1u);
  const auto& got = recent->front();
  EXPECT_EQ(got.created_at, 1700000000000);
  EXPECT_EQ(got.role, "assistant");
  EXPECT_EQ(got.assistant, "canvas");
  EXPECT_EQ(got.route_json, R"({"assistant":"canvas"})");
  EXPECT_EQ(got.citations_json, "[]");
  EXPECT_EQ(got.session_no, 2);
}

TEST_F(StoreTest, AppendWithInvalidRoleWritesNothing) {
  auto store = open();
  ASSERT_TRUE(store);
  const int64_t user = store->ensure_user("u")->id;
  auto bad = store->append_message(message(user, "x", "robot"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(store->message_count(user).value(), 0);
  auto good = store->append_message(message(user, "y"));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->seq, 1);
}

TEST_F(StoreTest, RecentMessagesReturnsLastNOldestFirst) {
  auto store = open();
  ASSERT_TRUE(store);
  const int64_t user = store->ensure_user("u")->id;
  const int64_t other = store->ensure_user("other")->id;
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(store->append_message(message(user, "m" + std::to_string(i))));
  ASSERT_TRUE(store->append_message(message(other, "not mine")));
  auto recent = store->recent_messages(user, 3);
  ASSERT_TRUE(recent);
  ASSERT_EQ(recent->size(), 3u);
  EXPECT_EQ((*recent)[0].text, "m3");
  EXPECT_EQ((*recent)[1].text, "m4");
  EXPECT_EQ((*recent)[2].text, "m5");
  EXPECT_EQ((*recent)[0].seq, 3);
  EXPECT_EQ(store->recent_messages(user, 50)->size(), 5u);
  EXPECT_TRUE(store->recent_messages(user, 0)->empty());
}

TEST_F(StoreTest, ConcurrentAppendsGiveGaplessSequence) {
  auto store = open(4);
  ASSERT_TRUE(store);
  const int64_t user = store->ensure_user("busy")->id;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::vector<int64_t>> seqs(kThreads);
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto m = store->append_message(message(user, "t" + std::to_string(t) + "-" + std::to_string(i)));
        if (m)
          seqs[t].push_back(m->seq);
        else
          ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::vector<int64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(failures[t], 0) << "thread " << t;
    EXPECT_TRUE(std::is_sorted(seqs[t].begin(), seqs[t].end())) << "thread " << t;
    all.insert(all.end(), seqs[t].begin(), seqs[t].end());
  }
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expected(kThreads * kPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int64_t>(i) + 1;
  EXPECT_EQ(all, expected);
  EXPECT_EQ(store->message_count(user).value(), kThreads * kPerThread);

  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT COUNT(DISTINCT seq) FROM messages"), kThreads * kPerThread);
  EXPECT_EQ(raw.scalar("SELECT MAX(seq) FROM messages"), kThreads * kPerThread);
}

// Concurrent appends share commits; a write that fails (an invalid role) must fail alone, and every
// stored message must be findable, whichever batch it was committed in.
TEST_F(StoreTest, ConcurrentAppendsWithFailuresLoseNoOtherWrite) {
  auto store = open(4);
  ASSERT_TRUE(store);
  const int64_t user = store->ensure_user("mixed")->id;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::vector<int> stored(kThreads, 0);
  std::vector<int> refused(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool bad = i % 5 == 2;
        auto m = store->append_message(
            message(user, "marmalade order " + std::to_string(t * 100 + i), bad ? "robot" : "user"));
        (m ? stored : refused)[t]++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const int expected_stored = kThreads * (kPerThread - kPerThread / 5);
  int total_stored = 0;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(refused[t], kPerThread / 5) << "thread " << t;
    total_stored += stored[t];
  }
  EXPECT_EQ(total_stored, expected_stored);
  EXPECT_EQ(store->message_count(user).value(), expected_stored);
  auto hits = store->search_messages(user, "marmalade", 500);
  ASSERT_TRUE(hits) << hits.error().message;
  EXPECT_EQ(static_cast<int>(hits->size()), expected_stored);
  RawDb raw(db_path());
  EXPECT_EQ(raw.scalar("SELECT MAX(seq) FROM messages"), expected_stored);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM messages WHERE role = 'robot'"), 0);
}

// ---------------------------------------------------------------------------------------------
// Usage ledger

TEST_F(StoreTest, UsageOnTheSameDaySumsPerAssistant) {
  auto store = open();
  ASSERT_TRUE(store);
  const int64_t user = store->ensure_user("u")->id;
  const int64_t base = 1700000000000;  // 2023-11-14T22:13:20Z
  Message first = message(user, "q1");
  first.created_at = base;
  Message second = message(user, "q2");
  second.created_at = base + 60000;
  ASSERT_TRUE(store->append_message(first, UsageTally{"canvas", 100, 40, 0.25}));
  ASSERT_TRUE(store->append_message(second, UsageTally{"canvas", 10, 5, 0.5}));
  ASSERT_TRUE(store->append_message(message(user, "q"), UsageTally{"core", 7, 7, 0}));  // own row: today
  Message other_day = message(user, "q3");
  other_day.created_at = base + 2 * 86400000LL;
  ASSERT_TRUE(store->append_message(other_day, UsageTally{"canvas", 1, 1, 0}));
  ASSERT_TRUE(store->append_message(message(user, "no usage")));

  RawDb raw(db_path());
  const std::string where = " FROM usage WHERE user_id = " + std::to_string(user) +
                            " AND day = '2023-11-14' AND assistant = 'canvas'";
  EXPECT_EQ(raw.scalar("SELECT COUNT(*)" + where), 1);
  EXPECT_EQ(raw.scalar("SELECT input_tokens" + where), 110);
  EXPECT_EQ(raw.scalar("SELECT output_tokens" + where), 45);
  EXPECT_EQ(raw.scalar("SELECT CAST(ROUND(cost_usd * 100) AS INTEGER)" + where), 75);
  EXPECT_EQ(raw.scalar("SELECT COUNT(*) FROM usage"), 3);  // canvas x 2 days, core x 1
  EXPECT_EQ(raw.scalar("SELECT input_tokens FROM usage WHERE assistant = 'core'"), 7);
}

// ---------------------------------------------------------------------------------------------
// Knowledge files and search

class StoreSearchTest : public StoreTest {
 protected:
  void SetUp() override {
    store_ = open();
    ASSERT_TRUE(store_);
    auto a = store_->ensure_knowledge_store("a");
    auto b = store_->ensure_knowledge_store("b");
    ASSERT_TRUE(a && b);
    a_ = *a;
    b_ = *b;
  }
  // The content hash stands for the chunk texts, so different content never counts as a duplicate.
  StoredFile put(int64_t store_id, const std::string& filename, const std::vector<NewChunk>& chunks) {
    std::string content;
    for (const auto& c : chunks) content += c.text + "\n";
    FileInput input{filename, 100, sha256_hex(content), "", "", "md", "{}"};
    auto put = store_->put_file(store_id, input, chunks);
    if (!put) ADD_FAILURE() << "put_file: " << put.error().message;
    return put ? put->file : StoredFile{};
  }
  std::vector<ChunkHit> search(const std::vector<std::string>& stores, const std::string& query,
                               int limit = 10) {
    auto hits = store_->search_chunks(stores, query, limit);
    if (!hits) ADD_FAILURE() << "search_chunks(" << query << "): " << hits.error().message;
    return hits ? *hits : std::vector<ChunkHit>{};
  }
  std::unique_ptr<Store> store_;
  int64_t a_ = 0, b_ = 0;
};

TEST_F(StoreSearchTest, FindsChunkByInflectedWord) {
  put(a_, "pricing.md",
      {chunk(0, "Guide", "Pricing your services"), chunk(1, "Guide", "Finding your voice")});
  const auto hits = search({"a"}, "price");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].text, "Pricing your services");
  EXPECT_EQ(hits[0].store, "a");
  EXPECT_EQ(hits[0].filename, "pricing.md");
  EXPECT_EQ(hits[0].ordinal, 0);
  EXPECT_EQ(hits[0].heading, "Guide");
  EXPECT_GT(hits[0].chunk_id, 0);
}

TEST_F(StoreSearchTest, RespectsStoreFilter) {
  put(a_, "a.md", {chunk(0, "", "Pricing in store a")});
  put(b_, "b.md", {chunk(0, "", "Pricing in store b")});
  const auto only_a = search({"a"}, "pricing");
  ASSERT_EQ(only_a.size(), 1u);
  EXPECT_EQ(only_a[0].store, "a");
  EXPECT_EQ(search({"a", "b"}, "pricing").size(), 2u);
  EXPECT_TRUE(search({"c"}, "pricing").empty());
  EXPECT_TRUE(search({}, "pricing").empty());
  EXPECT_EQ(store_->ensure_knowledge_store("a").value(), a_);  // same name, same store
}

TEST_F(StoreSearchTest, ReturnsAtMostLimitBestFirst) {
  std::vector<NewChunk> chunks;
  chunks.push_back(
      chunk(0, "", "An unrelated paragraph that mentions price once among many other words here"));
  chunks.push_back(chunk(1, "", "Price price price: pricing is all about price"));
  chunks.push_back(chunk(2, "", "Some words about price and value"));
  chunks.push_back(chunk(3, "", "Nothing relevant at all"));
  put(a_, "f.md", chunks);
  const auto hits = search({"a"}, "price", 2);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].ordinal, 1);
  EXPECT_GE(hits[0].score, hits[1].score);
  const auto all = search({"a"}, "price", 10);
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 1; i < all.size(); ++i) EXPECT_GE(all[i - 1].score, all[i].score);
  EXPECT_TRUE(search({"a"}, "price", 0).empty());
}

TEST_F(StoreSearchTest, QuerySyntaxCharactersNeverError) {
  put(a_, "f.md", {chunk(0, "", "Pricing and positioning near the market")});
  for (const std::string query : {"\"AND (OR* NEAR", "price\" OR", "(((", "*", "?!.,;:", "", "   ", "NOT",
                                  "near(price, 2)", "col:price", "^price", "a - b + c", "\xFF\xFE"}) {
    auto hits = store_->search_chunks({"a"}, query, 5);
    EXPECT_TRUE(hits) << "query '" << query << "': " << (hits ? "" : hits.error().message);
  }
  const auto near = search({"a"}, "\"AND (OR* NEAR");
  EXPECT_EQ(near.size(), 1u);  // "near" is an ordinary word here
}

TEST_F(StoreSearchTest, StopwordOnlyQueryStillSearches) {
  put(a_, "f.md", {chunk(0, "", "What is the point")});
  EXPECT_EQ(search({"a"}, "what is").size(), 1u);
}

TEST_F(StoreSearchTest, PutFileWithSameNameReplacesOldChunks) {
  put(a_, "guide.md", {chunk(0, "", "Old text about zebras"), chunk(1, "", "more zebras")});
  put(b_, "guide.md", {chunk(0, "", "zebras in b")});  // same name, other store: kept
  ASSERT_EQ(search({"a"}, "zebras").size(), 2u);
  const auto second = put(a_, "guide.md", {chunk(0, "", "New text about giraffes")});
  EXPECT_TRUE(search({"a"}, "zebras").empty());
  EXPECT_EQ(search({"a"}, "giraffes").size(), 1u);
  EXPECT_EQ(search({"b"}, "zebras").size(), 1u);
  auto files = store_->list_files(a_);
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ(files->front().id, second.id);
  EXPECT_EQ(store_->counts()->chunks, 2);
}

TEST_F(StoreSearchTest, DeleteFileRemovesItsChunksFromSearch) {
  const auto file = put(a_, "f.md", {chunk(0, "", "Elephants remember"), chunk(1, "", "elephants again")});
  put(a_, "keep.md", {chunk(0, "", "An elephant stays")});
  ASSERT_EQ(search({"a"}, "elephant").size(), 3u);
  ASSERT_TRUE(store_->delete_file(file.id));
  const auto hits = search({"a"}, "elephant");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].filename, "keep.md");
  EXPECT_EQ(store_->counts()->chunks, 1);
  EXPECT_EQ(store_->list_files(a_)->size(), 1u);
}

TEST_F(StoreSearchTest, DeleteUnknownFileIsNotFound) {
  auto status = store_->delete_file(987654);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::not_found);
  const auto file = put(a_, "f.md", {chunk(0, "", "x")});
  ASSERT_TRUE(store_->delete_file(file.id));
  auto twice = store_->delete_file(file.id);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, ErrorKind::not_found);
}

TEST_F(StoreSearchTest, ListFilesReportsMetadataByName) {
  put(a_, "z.md", {chunk(0, "", "z")});
  put(a_, "m.md", {chunk(0, "", "m")});
  auto files = store_->list_files(a_);
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].filename, "m.md");
  EXPECT_EQ((*files)[1].filename, "z.md");
  EXPECT_EQ((*files)[0].bytes, 100);
  EXPECT_EQ((*files)[0].sha256, sha256_hex("m\n"));
  EXPECT_EQ((*files)[0].status, "completed");
  EXPECT_EQ((*files)[0].store_id, a_);
  EXPECT_TRUE(store_->list_files(b_)->empty());
}

TEST_F(StoreSearchTest, CountsReflectInserts) {
  const auto totals = [&] {
    const Counts c = store_->counts().value();
    return std::vector<int64_t>{c.users, c.messages, c.stores, c.files, c.chunks};
  };
  EXPECT_EQ(totals(), (std::vector<int64_t>{0, 0, 2, 0, 0}));
  const int64_t user = store_->ensure_user("u")->id;
  ASSERT_TRUE(store_->append_message(message(user, "hi")));
  ASSERT_TRUE(store_->append_message(message(user, "again")));
  put(a_, "f.md", {chunk(0, "", "one"), chunk(1, "", "two"), chunk(2, "", "three")});
  EXPECT_EQ(totals(), (std::vector<int64_t>{1, 2, 2, 1, 3}));
}

}  // namespace
}  // namespace brandcoach::store

namespace brandcoach::store {
namespace {

TEST(StoreDedup, IdenticalContentIsStoredOncePerStore) {
  testing::TempDir dir;
  auto store = open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
  ASSERT_TRUE(store);
  auto a = (*store)->ensure_knowledge_store("a");
  auto b = (*store)->ensure_knowledge_store("b");
  const NewChunk chunk{0, "", "Same words in both files", 5, 0, {}};
  const FileInput first{"one.md", 24, sha256_hex("same"), "", "", "md", "{}"};
  FileInput second = first;
  second.filename = "two.md";
  auto put_one = (*store)->put_file(*a, first, {chunk});
  ASSERT_TRUE(put_one);
  EXPECT_FALSE(put_one->duplicate);
  EXPECT_EQ(put_one->chunk_ids.size(), 1u);
  auto put_two = (*store)->put_file(*a, second, {chunk});
  ASSERT_TRUE(put_two);
  EXPECT_TRUE(put_two->duplicate);
  EXPECT_EQ(put_two->file.filename, "one.md") << "points at the copy already stored";
  EXPECT_TRUE(put_two->chunk_ids.empty());
  EXPECT_EQ((*store)->list_files(*a)->size(), 1u);
  auto in_b = (*store)->put_file(*b, second, {chunk});
  ASSERT_TRUE(in_b);
  EXPECT_FALSE(in_b->duplicate) << "dedup is per store";
}

TEST(StoreBatch, ABatchIsOneCommitThatDedupsAndReplacesWithinItself) {
  testing::TempDir dir;
  auto store = open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
  ASSERT_TRUE(store);
  auto a = (*store)->ensure_knowledge_store("a");
  ASSERT_TRUE(a);
  const auto version_before = (*store)->find_knowledge_store("a")->value().version;
  const std::vector<FileWrite> batch{
      {{"one.md", 3, sha256_hex("one"), "", "", "md", "{}"}, {{0, "", "first text", 2, 0, {}}}},
      {{"copy.md", 3, sha256_hex("one"), "", "", "md", "{}"}, {{0, "", "first text", 2, 0, {}}}},
      {{"two.md", 3, sha256_hex("two"), "", "", "md", "{}"}, {{0, "", "second, old", 2, 0, {}}}},
      {{"two.md", 3, sha256_hex("two-v2"), "", "", "md", "{}"}, {{0, "", "second, new", 2, 0, {}}}},
  };
  auto results = (*store)->put_files(*a, batch);
  ASSERT_TRUE(results) << results.error().message;
  ASSERT_EQ(results->size(), 4u);
  EXPECT_FALSE((*results)[0].duplicate);
  EXPECT_TRUE((*results)[1].duplicate) << "dedup sees earlier files of the same batch";
  EXPECT_EQ((*results)[1].file.filename, "one.md");
  EXPECT_EQ((*results)[3].replaced_chunk_ids, (*results)[2].chunk_ids) << "the later write of a name wins";
  auto files = (*store)->list_files(*a);
  ASSERT_TRUE(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[1].filename, "two.md");
  auto chunks = (*store)->chunks_by_id((*results)[3].chunk_ids);
  ASSERT_TRUE(chunks);
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ(chunks->front().text, "second, new");
  EXPECT_EQ((*store)->find_knowledge_store("a")->value().version, version_before + 1) << "one bump per batch";

  auto unchanged = (*store)->put_files(*a, {batch[0]});
  ASSERT_TRUE(unchanged);
  EXPECT_EQ((*store)->find_knowledge_store("a")->value().version, version_before + 1)
      << "a batch that changes nothing writes nothing";
}

TEST(StoreSearch, ATermInTooManyChunksIsLeftOutWhenRarerTermsAreAsked) {
  testing::TempDir dir;
  auto store = open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
  ASSERT_TRUE(store);
  auto a = (*store)->ensure_knowledge_store("a");
  ASSERT_TRUE(a);
  // 9,000 chunks say "brand" (more rows than lexical search scores for one term); three say "zebra".
  std::vector<FileWrite> batch;
  for (int f = 0; f < 90; ++f) {
    FileWrite write{
        {"f" + std::to_string(f) + ".md", 10, sha256_hex("f" + std::to_string(f)), "", "", "md", "{}"}, {}};
    for (int c = 0; c < 100; ++c) {
      const bool rare = f == 7 && c < 3;
      write.chunks.push_back(
          {c, "", rare ? "brand zebra stripes" : "brand words number " + std::to_string(c), 3, 0, {}});
    }
    batch.push_back(std::move(write));
  }
  ASSERT_TRUE((*store)->put_files(*a, batch));
  auto both = (*store)->search_chunks({"a"}, "brand zebra", 10);
  ASSERT_TRUE(both) << both.error().message;
  ASSERT_EQ(both->size(), 3u) << "only the rare term is matched: the common one would cost 9,000 scored rows";
  for (const auto& hit : *both) EXPECT_NE(hit.text.find("zebra"), std::string::npos);
  auto common = (*store)->search_chunks({"a"}, "brand", 10);
  ASSERT_TRUE(common);
  EXPECT_EQ(common->size(), 10u) << "a query's rarest term is always kept";
  auto other_store = (*store)->ensure_knowledge_store("b");
  ASSERT_TRUE(other_store);
  ASSERT_TRUE((*store)->put_file(*other_store, {"b.md", 5, sha256_hex("b"), "", "", "md", "{}"},
                                 {{0, "", "brand in another store", 4, 0, {}}}));
  auto crowded = (*store)->search_chunks({"b"}, "brand", 10);
  ASSERT_TRUE(crowded);
  ASSERT_EQ(crowded->size(), 1u) << "the top list widens past 9,000 rows of store a";
  EXPECT_EQ(crowded->front().store, "b");
}

TEST(StoreDedup, ReplacingAFileReportsTheChunksItReplaced) {
  testing::TempDir dir;
  auto store = open_sqlite({(dir / "db.sqlite3").string(), 2, 5000});
  ASSERT_TRUE(store);
  auto a = (*store)->ensure_knowledge_store("a");
  auto v1 = (*store)->put_file(*a, {"f.md", 1, sha256_hex("v1"), "", "", "md", "{}"},
                               {{0, "", "old one", 2, 0, {}}, {1, "", "old two", 2, 0, {}}});
  ASSERT_TRUE(v1);
  auto v2 =
      (*store)->put_file(*a, {"f.md", 1, sha256_hex("v2"), "", "", "md", "{}"}, {{0, "", "new", 1, 0, {}}});
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->replaced_chunk_ids, v1->chunk_ids);
  auto found = (*store)->chunks_by_id(v1->chunk_ids);
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());
  auto stores = (*store)->list_knowledge_stores();
  ASSERT_TRUE(stores);
  EXPECT_EQ(stores->front().files, 1);
  EXPECT_EQ(stores->front().chunks, 1);
  EXPECT_GE(stores->front().version, 2) << "every write bumps the version";
}

}  // namespace
}  // namespace brandcoach::store
