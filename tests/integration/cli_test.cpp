// Black-box tests of the `brandcoach` command line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

using nlohmann::json;

Run run(std::vector<std::string> args, const std::string& input = {}, std::vector<std::string> env = {}) {
  return run_brandcoach(std::move(args), input, std::move(env));
}

TEST(Cli, VersionPrintsTheVersion) {
  const auto r = run({"version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("brandcoach ", 0), 0u);
}

TEST(Cli, UsageErrorsExitWith2) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"no-such-command"}).code, 2);
  EXPECT_EQ(run({"serve", "--port", "abc"}).code, 2);
  EXPECT_EQ(run({"kb", "ingest", "somefile.md"}).code, 2) << "--store is required";
}

TEST(Cli, ConfigShowAppliesFileThenEnvironmentThenFlags) {
  TempDir dir;
  const auto file = dir / "brandcoach.toml";
  write_file(file, "[server]\nport = 1111\n[log]\nlevel = \"debug\"\n");
  auto r = run({"--config", file.string(), "config", "show"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("port = 1111"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("level = \"debug\""), std::string::npos);
  r = run({"--config", file.string(), "config", "show"}, {}, {"BRANDCOACH_SERVER_PORT=2222"});
  EXPECT_NE(r.out.find("port = 2222"), std::string::npos) << r.out;
  r = run({"--config", file.string(), "--set", "server.port=3333", "config", "show"}, {},
          {"BRANDCOACH_SERVER_PORT=2222"});
  EXPECT_NE(r.out.find("port = 3333"), std::string::npos) << r.out;
  r = run({"--config", file.string(), "--data-dir", "/elsewhere", "config", "show"});
  EXPECT_NE(r.out.find("data_dir = \"/elsewhere\""), std::string::npos) << r.out;
}

TEST(Cli, ConfigShowMasksSecrets) {
  const auto r = run({"config", "show"}, {}, {"BRANDCOACH_LLM_API_KEY=sk-very-secret-value"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("sk-very-secret-value"), std::string::npos);
  EXPECT_NE(r.out.find("api_key = \"********\""), std::string::npos) << r.out;
}

TEST(Cli, ConfigErrorsExitWith2AndNameTheKey) {
  TempDir dir;
  const auto file = dir / "bad.toml";
  write_file(file, "[server]\nprot = 8080\n");
  auto r = run({"--config", file.string(), "config", "show"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("server.prot"), std::string::npos) << r.err;

  write_file(file, "[server]\nport = \"abc\"\n");
  r = run({"--config", file.string(), "config", "show"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("server.port"), std::string::npos) << r.err;

  write_file(file, "[server]\nport = 70000\n");
  r = run({"--config", file.string(), "config", "show"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("server.port"), std::string::npos) << r.err;

  r = run({"config", "show"}, {}, {"BRANDCOACH_SERVER_PROT=1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("BRANDCOACH_SERVER_PROT"), std::string::npos) << r.err;

  r = run({"--config", (dir / "missing.toml").string(), "config", "show"});
  EXPECT_EQ(r.code, 2);
}

TEST(Cli, ChatJsonPrintsOneObjectPerTurnAndNothingElse) {
  TempDir dir;
  const auto r = run({"--data-dir", dir.path().string(), "chat", "--json", "--user", "maria"},
                     "My name is Maria and I run a yoga studio\nHow should I price my classes?\n");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  const auto first = json::parse(out[0]);
  const auto second = json::parse(out[1]);
  EXPECT_EQ(second["assistant"], "canvas");
  EXPECT_EQ(second["thread"]["message_seq"], 3);
  EXPECT_EQ(second["reply"].get<std::string>().rfind("Hi Maria!", 0), 0u);
  for (const auto& turn : {first, second}) {
    for (const char* key : {"reply", "assistant", "route", "citations", "usage", "timings_ms"}) {
      EXPECT_TRUE(turn.contains(key)) << key;
    }
  }
}

TEST(Cli, ChatStreamsAndNamesTheAssistant) {
  TempDir dir;
  const auto r = run({"--data-dir", dir.path().string(), "chat"}, "Plan an email campaign for my bakery\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("[capture"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[1]"), std::string::npos) << r.out;
}

TEST(Cli, ChatReportsABadLineAndKeepsGoing) {
  TempDir dir;
  const auto r = run({"--data-dir", dir.path().string(), "chat", "--json"},
                     std::string(40 * 1024, 'x') + "\nWhat is my brand story?\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("message"), std::string::npos) << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 1u) << r.out;
  EXPECT_EQ(json::parse(out[0])["assistant"], "core");
}

TEST(Cli, KbIngestAddsReadableFilesAndReportsTheRest) {
  TempDir dir;
  write_file(dir / "docs" / "pricing.md",
             "# Pricing\n\nCharge for outcomes, not hours. Raise prices yearly.\n");
  write_file(dir / "docs" / "notes.txt", "Plain text notes about loyalty programs for cafes.\n");
  write_file(dir / "docs" / "image.png", "\x89PNG\r\n");
  write_file(dir / "docs" / "broken.md", "bad \xff\xfe bytes\n");
  const auto data = (dir / "var").string();
  auto r = run({"--data-dir", data, "kb", "ingest", "--store", "extras", (dir / "docs").string()});
  EXPECT_EQ(r.code, 1) << "some files were skipped";
  EXPECT_NE(r.out.find("2 added"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("image.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("broken.md"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("UTF-8"), std::string::npos) << r.err;

  r = run({"--data-dir", data, "kb", "ingest", "--store", "extras", (dir / "docs" / "pricing.md").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("1 unchanged"), std::string::npos) << r.out;

  r = run({"--data-dir", data, "kb", "ingest", "--store", "extras", (dir / "missing").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
}

// Every byte of the files under `folder`, concatenated.
std::string bytes_under(const std::filesystem::path& folder) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST(Cli, StoreEncryptAndDecryptRewriteTheFileAndOnlyTheKeyOpensIt) {
  TempDir dir;
  const std::string data = (dir / "data").string();
  write_file(dir / "said.jsonl",
             R"({"id": "m1", "role": "user", "text": "Our recipe uses Quokka vanilla", "ts": "2026-11-01"})"
             "\n");
  ASSERT_EQ(
      run({"--data-dir", data, "memory", "import", "--user", "ivy", (dir / "said.jsonl").string()}).code, 0);
  ASSERT_NE(bytes_under(data).find("Quokka vanilla"), std::string::npos) << "a plain store holds the words";
  const std::string key = "BRANDCOACH_STORAGE_ENCRYPTION_KEY=cli test passphrase 77";
  const std::vector<std::string> search = {"--data-dir", data, "memory", "search", "--user", "ivy"};

  auto r = run({"--data-dir", data, "store", "encrypt"});
  EXPECT_EQ(r.code, 2) << "no key configured";
  EXPECT_NE(r.err.find("storage.encryption_key"), std::string::npos) << r.err;
  r = run({"--data-dir", data, "store", "encrypt"}, {}, {key});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(bytes_under(data).find("Quokka"), std::string::npos) << "plaintext left after encrypting";

  r = run(search, "vanilla\n", {key});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Quokka vanilla"), std::string::npos) << r.out;
  r = run(search, "vanilla\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is encrypted"), std::string::npos) << r.err;
  r = run(search, "vanilla\n", {"BRANDCOACH_STORAGE_ENCRYPTION_KEY=some other passphrase"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("wrong key"), std::string::npos) << r.err;
  // A backup of an encrypted store is encrypted too, and opens as a store of its own.
  const auto backup_dir = dir / "restored";
  std::filesystem::create_directories(backup_dir);
  const std::string backup = (backup_dir / "brandcoach.sqlite3").string();
  r = run({"--data-dir", data, "store", "backup", backup}, {}, {key});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(bytes_under(backup_dir).find("Quokka"), std::string::npos) << "plaintext in the backup";
  r = run({"--data-dir", backup_dir.string(), "memory", "search", "--user", "ivy"}, "vanilla\n", {key});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Quokka vanilla"), std::string::npos) << r.out;
  r = run({"--data-dir", data, "store", "backup", backup}, {}, {key});
  EXPECT_EQ(r.code, 1) << "a backup never overwrites a file";
  r = run({"--data-dir", data, "store", "backup", (dir / "no" / "such" / "folder.sqlite3").string()}, {},
          {key});
  EXPECT_NE(r.code, 0);
  EXPECT_FALSE(r.err.empty());

  r = run({"--data-dir", data, "store", "encrypt"}, {}, {key});
  EXPECT_EQ(r.code, 1) << "encrypted already";
  EXPECT_NE(r.err.find("encrypted already"), std::string::npos) << r.err;

  r = run({"--data-dir", data, "store", "decrypt"}, {}, {key});
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"--data-dir", data, "store", "decrypt"}, {}, {key});
  EXPECT_EQ(r.code, 1) << "a plain file has nothing to decrypt";
  EXPECT_NE(r.err.find("is not encrypted"), std::string::npos) << r.err;
  r = run(search, "vanilla\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Quokka vanilla"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace brandcoach::testing
