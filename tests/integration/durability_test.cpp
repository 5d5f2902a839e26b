// No acknowledged message is ever lost: chat turns from several users run while the server is killed
// with SIGKILL at random moments and restarted, cycle after cycle. Afterwards every turn a client saw
// answered is in its user's thread once, every thread is numbered without a gap or a duplicate, and
// the database and its indexes pass their own checks. On SQLite and on PostgreSQL.
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "brandcoach/store/sqlite/encrypted_vfs.hpp"
#include "support/http_client.hpp"
#include "support/pg_database.hpp"
#include "support/server.hpp"
#include "support/services.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int kCycles = 20;
constexpr int kUsers = 4;

struct Ledger {
  std::mutex mutex;
  std::map<std::string, std::vector<std::string>> acknowledged;  // user -> messages answered 200
  int attempted = 0;
};

// One user's client: sends turns until the server stops answering.
void client(int port, const std::string& user, int cycle, std::atomic<bool>& stop, Ledger& ledger) {
  std::mt19937 random(static_cast<unsigned>(cycle * 100 + user.back()));
  for (int i = 0; !stop; ++i) {
    const std::string message = "Cycle " + std::to_string(cycle) + " turn " + std::to_string(i) +
                                ": our price is $" + std::to_string(10 + random() % 90) + " per box.";
    {
      std::lock_guard lock(ledger.mutex);
      ++ledger.attempted;
    }
    HttpReply reply;
    try {
      reply = request(port, "POST", "/api/chat", json{{"message", message}}.dump(),
                      {{"Content-Type", "application/json"}, {"X-Brandcoach-User", user}});
    } catch (const std::exception&) {
      return;  // the server is gone
    }
    if (reply.status != 200) return;
    std::lock_guard lock(ledger.mutex);
    ledger.acknowledged[user].push_back(message);
  }
}

// Every message of the user's thread, oldest first, through the API.
std::vector<json> whole_thread(int port, const std::string& user) {
  std::vector<json> messages;
  std::string before;
  while (true) {
    const auto page = json::parse(
        request(port, "GET", "/api/me/history?limit=500" + before, "", {{"X-Brandcoach-User", user}}).body);
    std::vector<json> older(page["messages"].begin(), page["messages"].end());
    messages.insert(messages.begin(), older.begin(), older.end());
    if (page["next_before"].is_null()) break;
    before = "&before=" + std::to_string(page["next_before"].get<int64_t>());
  }
  return messages;
}

// Runs the kill cycles against servers started with `settings` on `data_dir`, then checks every thread.
void kill_cycles(const std::filesystem::path& data_dir, const std::vector<std::string>& settings) {
  Ledger ledger;
  std::mt19937 random(20261127);
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    ServerProcess server(data_dir, settings);
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int u = 0; u < kUsers; ++u)
      clients.emplace_back(client, server.port(), "user" + std::to_string(u), cycle, std::ref(stop),
                           std::ref(ledger));
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + random() % 1400));
    server.process().signal(SIGKILL);
    server.process().wait(10s);
    stop = true;
    for (auto& c : clients) c.join();
  }

  ServerProcess server(data_dir, settings);
  size_t verified = 0;
  for (const auto& [user, acknowledged] : ledger.acknowledged) {
    const auto thread = whole_thread(server.port(), user);
    std::map<std::string, int> user_messages;
    int64_t expected_seq = 1;
    for (const auto& m : thread) {
      EXPECT_EQ(m["seq"].get<int64_t>(), expected_seq) << user << ": the thread has a gap or a duplicate";
      expected_seq = m["seq"].get<int64_t>() + 1;
      if (m["role"] == "user") ++user_messages[m["text"].get<std::string>()];
    }
    for (const auto& message : acknowledged) {
      const auto found = user_messages.find(message);
      ASSERT_NE(found, user_messages.end()) << user << " was answered, but the thread lost: " << message;
      EXPECT_EQ(found->second, 1) << user << ": stored more than once: " << message;
      ++verified;
    }
  }
  std::printf("kill cycles: %d, turns attempted: %d, acknowledged and verified: %zu\n", kCycles,
              ledger.attempted, verified);
  EXPECT_GT(verified, static_cast<size_t>(kCycles)) << "the load must have reached the server";
}

// The file and its full-text indexes pass SQLite's own checks after all those kills.
void expect_sqlite_checks_pass(const std::filesystem::path& file, const char* vfs = nullptr) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(file.string().c_str(), &db, SQLITE_OPEN_READWRITE, vfs), SQLITE_OK);
  const auto one_text = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    std::string out = "(error)";
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK) {
      const int rc = sqlite3_step(stmt);
      out = rc == SQLITE_ROW    ? reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))
            : rc == SQLITE_DONE ? "done"
                                : sqlite3_errmsg(db);
    } else {
      out = sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
    return out;
  };
  EXPECT_EQ(one_text("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(one_text("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"), "done");
  EXPECT_EQ(one_text("INSERT INTO chunks_fts (chunks_fts) VALUES ('integrity-check')"), "done");
  sqlite3_close(db);
}

TEST(Durability, SqliteKeepsEveryAcknowledgedMessageThroughKillCycles) {
  TempDir dir;
  kill_cycles(dir.path(), {"--set", "memory.probe_interval_s=0"});
  expect_sqlite_checks_pass(dir.path() / "brandcoach.sqlite3");
}

// The same through the encrypting VFS: its unit rewrites must not tear what a kill interrupts.
TEST(Durability, EncryptedSqliteKeepsEveryAcknowledgedMessageThroughKillCycles) {
  TempDir dir;
  const std::string key = "kill-cycle passphrase, long enough";
  std::ofstream(dir.path() / "store.key") << key << "\n";
  kill_cycles(dir.path(), {"--set", "memory.probe_interval_s=0", "--set",
                           "storage.encryption_key_file=" + (dir.path() / "store.key").string()});
  const auto file = dir.path() / "brandcoach.sqlite3";
  auto vfs = store::sqlite::EncryptedVfs::create(file.string(), key);
  ASSERT_TRUE(vfs) << vfs.error().message;
  expect_sqlite_checks_pass(file, (*vfs)->name().c_str());
}

TEST(Durability, PostgresKeepsEveryAcknowledgedMessageThroughKillCycles) {
  const auto pg_url = service_url("PG");
  ASSERT_TRUE(pg_url) << "no PostgreSQL: start it with `scripts/services start DIR` (ctest's Services.Start)";
  std::string error;
  auto database = PostgresDatabase::create(*pg_url, error);
  ASSERT_TRUE(database) << error;
  TempDir dir;
  kill_cycles(dir.path(), {"--set", "storage.url=" + database->url(), "--set", "memory.probe_interval_s=0"});
  // Every B-tree index agrees with its table, every row of the table included (amcheck, heapallindexed).
  PostgresAdmin check(database->url());
  ASSERT_EQ(check.connect_error(), "");
  ASSERT_EQ(check.exec("CREATE EXTENSION IF NOT EXISTS amcheck"), "");
  EXPECT_EQ(
      check.exec("SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                 "JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
                 "WHERE a.amname = 'btree' AND c.relkind = 'i' AND n.nspname = 'public'"),
      "");
}

}  // namespace
}  // namespace brandcoach::testing
