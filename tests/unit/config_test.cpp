// Configuration loading: defaults, file < environment < overrides, and errors that name the key.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "brandcoach/core/core.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach {
namespace {

using testing::TempDir;

// Writes `contents` to a file in `dir` and returns its path.
std::string write_file(const TempDir& dir, const std::string& contents, const std::string& name = "bc.toml") {
  const auto path = dir / name;
  std::ofstream out(path);
  out << contents;
  return path.string();
}

// Sources with an explicit (possibly empty) file, so ./brandcoach.toml is never consulted.
ConfigSources with_file(const std::string& path) {
  ConfigSources sources;
  sources.file = path;
  return sources;
}

void expect_config_error(const Result<Config>& result, const std::string& param) {
  ASSERT_FALSE(result.has_value()) << "expected an error naming " << param;
  EXPECT_EQ(result.error().kind, ErrorKind::invalid_config);
  EXPECT_EQ(result.error().param, param);
  EXPECT_FALSE(result.error().message.empty());
}

TEST(Config, EmptyFileAndEnvironmentGiveDefaults) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, "")));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  const Config defaults;
  EXPECT_EQ(config->server.host, "127.0.0.1");
  EXPECT_EQ(config->server.port, 8080);
  EXPECT_EQ(config->server.io_threads, defaults.server.io_threads);
  EXPECT_EQ(config->storage.data_dir, "./var");
  EXPECT_EQ(config->knowledge.top_k, 5);
  EXPECT_TRUE(config->knowledge.sync_on_start);
  EXPECT_EQ(config->llm.provider, "offline");
  EXPECT_EQ(config->log.level, "info");
  EXPECT_EQ(config->log.format, "auto");
}

// Runs the test body in `dir` as working directory, restoring the previous one afterwards.
class WorkingDirectory {
 public:
  explicit WorkingDirectory(const std::filesystem::path& dir) : previous_(std::filesystem::current_path()) {
    std::filesystem::current_path(dir);
  }
  ~WorkingDirectory() { std::filesystem::current_path(previous_); }

 private:
  std::filesystem::path previous_;
};

TEST(Config, NoSourcesAtAllGiveDefaults) {
  TempDir dir;
  WorkingDirectory cwd(dir.path());  // no ./brandcoach.toml here
  auto config = load_config(ConfigSources{});
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server.port, 8080);
  EXPECT_EQ(config->storage.data_dir, "./var");
}

TEST(Config, WithoutFileReadsBrandcoachTomlFromWorkingDirectory) {
  TempDir dir;
  write_file(dir, "[server]\nport = 7070\n", "brandcoach.toml");
  WorkingDirectory cwd(dir.path());
  auto config = load_config(ConfigSources{});
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server.port, 7070);
}

TEST(Config, DatabasePathDefaultsUnderDataDirAndFollowsSqliteUrl) {
  Config config;
  config.storage.data_dir = "/srv/bc";
  EXPECT_EQ(config.database_path(), "/srv/bc/brandcoach.sqlite3");
  config.storage.url = "sqlite:/tmp/x.db";
  EXPECT_EQ(config.database_path(), "/tmp/x.db");
}

TEST(Config, MissingExplicitFileIsAnError) {
  TempDir dir;
  auto config = load_config(with_file((dir / "absent.toml").string()));
  expect_config_error(config, "--config");
}

TEST(Config, FileValuesAreApplied) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, R"(
[server]
host = "0.0.0.0"
port = 9000
[knowledge]
top_k = 8
sync_on_start = false
[log]
format = "json"
)")));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server.host, "0.0.0.0");
  EXPECT_EQ(config->server.port, 9000);
  EXPECT_EQ(config->knowledge.top_k, 8);
  EXPECT_FALSE(config->knowledge.sync_on_start);
  EXPECT_EQ(config->log.format, "json");
}

TEST(Config, EnvironmentBeatsFileAndOverridesBeatEnvironment) {
  TempDir dir;
  auto sources = with_file(write_file(dir, "[server]\nport = 1111\nhost = \"10.0.0.1\"\n"));
  sources.env = {{"BRANDCOACH_SERVER_PORT", "2222"}, {"BRANDCOACH_LOG_LEVEL", "debug"}};
  sources.overrides = {{"server.port", "3333"}};
  auto config = load_config(sources);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server.port, 3333);
  EXPECT_EQ(config->server.host, "10.0.0.1");  // only the file set it
  EXPECT_EQ(config->log.level, "debug");       // only the environment set it

  sources.overrides.clear();
  auto env_only = load_config(sources);
  ASSERT_TRUE(env_only.has_value()) << env_only.error().message;
  EXPECT_EQ(env_only->server.port, 2222);

  sources.env.clear();
  auto file_only = load_config(sources);
  ASSERT_TRUE(file_only.has_value()) << file_only.error().message;
  EXPECT_EQ(file_only->server.port, 1111);
}

TEST(Config, UnknownFileKeyIsNamed) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, "[server]\nprot = 8081\n")));
  expect_config_error(config, "server.prot");
  EXPECT_NE(config.error().message.find("server.prot"), std::string::npos);
}

TEST(Config, UnknownFileSectionIsRejected) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, "[sever]\nport = 8081\n")));
  expect_config_error(config, "sever.port");
}

TEST(Config, WrongTypeInFileNamesTheKey) {
  TempDir dir;
  expect_config_error(load_config(with_file(write_file(dir, "[server]\nport = \"abc\"\n"))), "server.port");
  expect_config_error(load_config(with_file(write_file(dir, "[knowledge]\nsync_on_start = \"yes\"\n"))),
                      "knowledge.sync_on_start");
  expect_config_error(load_config(with_file(write_file(dir, "[server]\nhost = 17\n"))), "server.host");
}

TEST(Config, WrongTypeInEnvironmentNamesTheKey) {
  TempDir dir;
  auto sources = with_file(write_file(dir, ""));
  sources.env = {{"BRANDCOACH_SERVER_PORT", "abc"}};
  auto config = load_config(sources);
  expect_config_error(config, "server.port");
  EXPECT_NE(config.error().message.find("BRANDCOACH_SERVER_PORT"), std::string::npos);

  sources.env = {{"BRANDCOACH_SERVER_PORT", "80x"}};
  expect_config_error(load_config(sources), "server.port");
  sources.env = {{"BRANDCOACH_SERVER_PORT", ""}};
  expect_config_error(load_config(sources), "server.port");
  sources.env = {{"BRANDCOACH_KNOWLEDGE_SYNC_ON_START", "maybe"}};
  expect_config_error(load_config(sources), "knowledge.sync_on_start");
}

TEST(Config, OutOfRangeValuesAreRejected) {
  TempDir dir;
  expect_config_error(load_config(with_file(write_file(dir, "[server]\nport = 70000\n"))), "server.port");
  expect_config_error(load_config(with_file(write_file(dir, "[server]\nport = -1\n"))), "server.port");
  expect_config_error(load_config(with_file(write_file(dir, "[server]\nio_threads = 0\n"))),
                      "server.io_threads");

  auto sources = with_file(write_file(dir, ""));
  sources.env = {{"BRANDCOACH_SERVER_IO_THREADS", "0"}};
  expect_config_error(load_config(sources), "server.io_threads");
  sources.env.clear();
  sources.overrides = {{"server.port", "65536"}};
  expect_config_error(load_config(sources), "server.port");
}

TEST(Config, RangeBoundariesAreAccepted) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, "[server]\nport = 65535\nio_threads = 1\n")));
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->server.port, 65535);
  auto zero = load_config(with_file(write_file(dir, "[server]\nport = 0\n")));
  ASSERT_TRUE(zero.has_value()) << zero.error().message;
  EXPECT_EQ(zero->server.port, 0);
}

TEST(Config, EnumeratedValuesOutsideTheSetAreRejected) {
  TempDir dir;
  expect_config_error(load_config(with_file(write_file(dir, "[log]\nlevel = \"loud\"\n"))), "log.level");
  expect_config_error(load_config(with_file(write_file(dir, "[llm]\nprovider = \"magic\"\n"))),
                      "llm.provider");
  expect_config_error(load_config(with_file(write_file(dir, "[storage]\nurl = \"mysql://x\"\n"))),
                      "storage.url");
}

TEST(Config, ScaleOutSettingsAreCheckedAndApplied) {
  TempDir dir;
  expect_config_error(load_config(with_file(write_file(dir, "[cache]\nredis_url = \"http://x:6379\"\n"))),
                      "cache.redis_url");
  expect_config_error(load_config(with_file(write_file(dir, "[cache]\nsemantic_threshold = 0.2\n"))),
                      "cache.semantic_threshold");
  expect_config_error(load_config(with_file(write_file(dir, "[cache]\nl1_bytes = -1\n"))), "cache.l1_bytes");
  expect_config_error(load_config(with_file(write_file(dir, "[storage]\nconnections = 0\n"))),
                      "storage.connections");
  auto config = load_config(with_file(
      write_file(dir,
                 "[storage]\nurl = \"postgresql://coach@db:5432/brand\"\nconnections = 16\n"
                 "[cache]\nredis_url = \"redis://cache:6379/2\"\nl1_bytes = 1024\nsemantic = false\n")));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->storage.url, "postgresql://coach@db:5432/brand");
  EXPECT_EQ(config->storage.connections, 16);
  EXPECT_EQ(config->cache.redis_url, "redis://cache:6379/2");
  EXPECT_EQ(config->cache.l1_bytes, 1024);
  EXPECT_FALSE(config->cache.semantic);
}

TEST(Config, AlertAndProbeSettingsAreCheckedAndApplied) {
  TempDir dir;
  expect_config_error(load_config(with_file(write_file(dir, "[alerts]\nerror_rate = 1.5\n"))),
                      "alerts.error_rate");
  expect_config_error(load_config(with_file(write_file(dir, "[alerts]\ninterval_s = 0\n"))),
                      "alerts.interval_s");
  expect_config_error(load_config(with_file(write_file(dir, "[alerts]\ntoken_spike = 0.5\n"))),
                      "alerts.token_spike");
  expect_config_error(load_config(with_file(write_file(dir, "[alerts]\nwebhook_url = \"ftp://hooks\"\n"))),
                      "alerts.webhook_url");
  expect_config_error(load_config(with_file(write_file(dir, "[memory]\nprobe_facts = 0\n"))),
                      "memory.probe_facts");
  expect_config_error(load_config(with_file(write_file(dir, "[memory]\nprobe_interval_s = -1\n"))),
                      "memory.probe_interval_s");
  auto sources = with_file(write_file(dir, "[alerts]\nresponse_time_s = 2.5\nwindow_s = 120\n"));
  sources.env = {{"BRANDCOACH_ALERTS_WEBHOOK_URL", "https://hooks.example/brandcoach"},
                 {"BRANDCOACH_MEMORY_PROBE_INTERVAL_S", "0"}};
  auto config = load_config(sources);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->alerts.response_time_s, 2.5);
  EXPECT_EQ(config->alerts.window_s, 120);
  EXPECT_EQ(config->alerts.error_rate, 0.05) << "the seed's default";
  EXPECT_EQ(config->alerts.webhook_url, "https://hooks.example/brandcoach");
  EXPECT_EQ(config->memory.probe_interval_s, 0);
}

TEST(Config, UnknownEnvironmentVariableIsNamed) {
  TempDir dir;
  auto sources = with_file(write_file(dir, ""));
  sources.env = {{"BRANDCOACH_SERVER_PROT", "8081"}};
  auto config = load_config(sources);
  expect_config_error(config, "BRANDCOACH_SERVER_PROT");
  EXPECT_NE(config.error().message.find("BRANDCOACH_SERVER_PROT"), std::string::npos);
}

TEST(Config, UnknownOverrideKeyIsNamed) {
  TempDir dir;
  auto sources = with_file(write_file(dir, ""));
  sources.overrides = {{"server.prot", "8081"}};
  expect_config_error(load_config(sources), "server.prot");
  sources.overrides = {{"port", "8081"}};
  expect_config_error(load_config(sources), "port");
}

TEST(Config, IndexingRepliesIsABooleanOffByDefault) {
  TempDir dir;
  auto defaults = load_config(with_file(write_file(dir, "")));
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_FALSE(defaults->memory.index_replies);
  expect_config_error(load_config(with_file(write_file(dir, "[memory]\nindex_replies = \"sometimes\"\n"))),
                      "memory.index_replies");
  auto on = load_config(with_file(write_file(dir, "[memory]\nindex_replies = true\n")));
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_TRUE(on->memory.index_replies);
}

TEST(Config, OverrideWithWrongTypeIsNamed) {
  TempDir dir;
  auto sources = with_file(write_file(dir, ""));
  sources.overrides = {{"knowledge.top_k", "many"}};
  expect_config_error(load_config(sources), "knowledge.top_k");
}

TEST(Config, InvalidTomlSyntaxIsAConfigError) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, "[server\nport = = 1\n")));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().kind, ErrorKind::invalid_config);
  EXPECT_FALSE(config.error().message.empty());
}

TEST(Config, TopLevelKeyOutsideASectionIsRejected) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, "port = 8081\n")));
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().kind, ErrorKind::invalid_config);
  EXPECT_EQ(config.error().param, "port");
}

TEST(Config, BooleansFromEnvironmentAcceptWordsAndDigits) {
  TempDir dir;
  auto sources = with_file(write_file(dir, ""));
  for (const char* falsy : {"false", "0", "no", "off", " false "}) {
    sources.env = {{"BRANDCOACH_KNOWLEDGE_SYNC_ON_START", falsy}};
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << falsy << ": " << config.error().message;
    EXPECT_FALSE(config->knowledge.sync_on_start) << falsy;
  }
  // Start from false in the file so that "true" visibly changes it.
  sources = with_file(write_file(dir, "[knowledge]\nsync_on_start = false\n"));
  for (const char* truthy : {"true", "1", "yes", "on"}) {
    sources.env = {{"BRANDCOACH_KNOWLEDGE_SYNC_ON_START", truthy}};
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << truthy << ": " << config.error().message;
    EXPECT_TRUE(config->knowledge.sync_on_start) << truthy;
  }
}

TEST(Config, StringValuesFromEnvironmentAreTakenVerbatim) {
  TempDir dir;
  auto sources = with_file(write_file(dir, ""));
  sources.env = {{"BRANDCOACH_STORAGE_DATA_DIR", "/data/bc"}, {"BRANDCOACH_LLM_API_KEY", "sk-123"}};
  auto config = load_config(sources);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->storage.data_dir, "/data/bc");
  EXPECT_EQ(config->llm.api_key, "sk-123");
}

TEST(Config, RenderMasksTheApiKeyAndShowsOtherValues) {
  Config config;
  config.llm.api_key = "sk-very-secret-value";
  config.server.port = 9123;
  config.server.host = "0.0.0.0";
  config.knowledge.sync_on_start = false;
  const std::string out = render_config(config);
  EXPECT_EQ(out.find("sk-very-secret-value"), std::string::npos) << out;
  EXPECT_NE(out.find("api_key = \"********\""), std::string::npos) << out;
  EXPECT_NE(out.find("[server]"), std::string::npos) << out;
  EXPECT_NE(out.find("port = 9123"), std::string::npos) << out;
  EXPECT_NE(out.find("host = \"0.0.0.0\""), std::string::npos) << out;
  EXPECT_NE(out.find("sync_on_start = false"), std::string::npos) << out;
  EXPECT_NE(out.find("provider = \"offline\""), std::string::npos) << out;
}

TEST(Config, RenderShowsAnEmptyApiKeyAsEmpty) {
  const std::string out = render_config(Config{});
  EXPECT_NE(out.find("api_key = \"\""), std::string::npos) << out;
  EXPECT_EQ(out.find("********"), std::string::npos) << out;
}

TEST(Config, RenderedConfigLoadsBackToTheSameValues) {
  Config config;
  config.server.port = 4242;
  config.storage.data_dir = "/var/lib/brandcoach";
  config.knowledge.top_k = 7;
  config.log.format = "human";
  TempDir dir;
  auto loaded = load_config(with_file(write_file(dir, render_config(config))));
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->server.port, 4242);
  EXPECT_EQ(loaded->storage.data_dir, "/var/lib/brandcoach");
  EXPECT_EQ(loaded->knowledge.top_k, 7);
  EXPECT_EQ(loaded->log.format, "human");
}

TEST(Config, BrandcoachEnvironmentReadsOnlyPrefixedVariables) {
  ASSERT_EQ(setenv("BRANDCOACH_TEST_ONLY_VAR", "v1", 1), 0);
  ASSERT_EQ(setenv("NOT_BRANDCOACH_VAR", "v2", 1), 0);
  const auto env = brandcoach_environment();
  unsetenv("BRANDCOACH_TEST_ONLY_VAR");
  unsetenv("NOT_BRANDCOACH_VAR");
  ASSERT_TRUE(env.contains("BRANDCOACH_TEST_ONLY_VAR"));
  EXPECT_EQ(env.at("BRANDCOACH_TEST_ONLY_VAR"), "v1");
  EXPECT_FALSE(env.contains("NOT_BRANDCOACH_VAR"));
}

TEST(Config, ErrorKindsMapToStatusAndExitCode) {
  EXPECT_EQ(http_status(ErrorKind::invalid_config), 400);
  EXPECT_EQ(exit_code(ErrorKind::invalid_config), 2);
  EXPECT_EQ(http_status(ErrorKind::not_found), 404);
  EXPECT_EQ(exit_code(ErrorKind::not_found), 1);
  EXPECT_EQ(http_status(ErrorKind::unavailable), 503);
  EXPECT_EQ(error_type(ErrorKind::rate_limited), "rate_limit_error");
}

}  // namespace
}  // namespace brandcoach

namespace brandcoach {
namespace {

TEST(ConfigLlm, ChoosesAProviderAndItsResilienceSettings) {
  TempDir dir;
  auto config = load_config(with_file(write_file(dir, R"(
[llm]
provider = "chat"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.2"
timeout_ms = 20000
max_retries = 3
max_concurrency = 4
max_queue = 10
breaker_failures = 3
breaker_cooldown_ms = 5000
)")));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->llm.provider, "chat");
  EXPECT_EQ(config->llm.timeout_ms, 20000);
  EXPECT_EQ(config->llm.max_retries, 3);
  EXPECT_EQ(config->llm.max_concurrency, 4);
  EXPECT_EQ(config->llm.max_queue, 10);
  EXPECT_EQ(config->llm.breaker_failures, 3);
}

TEST(ConfigLlm, OpenAiDefaultsToTheHostedApi) {
  ConfigSources sources;
  sources.env = {{"BRANDCOACH_LLM_PROVIDER", "openai"},
                 {"BRANDCOACH_LLM_MODEL", "gpt-4o-mini"},
                 {"OPENAI_API_KEY", "sk-from-openai-variable"}};
  auto config = load_config(sources);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->llm.base_url, "https://api.openai.com/v1");
  EXPECT_EQ(config->llm.api_key, "sk-from-openai-variable");
}

TEST(ConfigLlm, TheBrandcoachKeyVariableWinsOverOpenAis) {
  ConfigSources sources;
  sources.env = {{"BRANDCOACH_LLM_API_KEY", "sk-ours"}, {"OPENAI_API_KEY", "sk-theirs"}};
  auto config = load_config(sources);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->llm.api_key, "sk-ours");
  EXPECT_EQ(config->embed.api_key, "sk-theirs");
}

TEST(ConfigLlm, AModelProviderNeedsAModelAndAUrl) {
  ConfigSources sources;
  sources.env = {{"BRANDCOACH_LLM_PROVIDER", "chat"}};
  expect_config_error(load_config(sources), "llm.base_url");
  sources.env = {{"BRANDCOACH_LLM_PROVIDER", "openai"}};
  expect_config_error(load_config(sources), "llm.model");
  sources.env = {{"BRANDCOACH_LLM_PROVIDER", "gemini"}};
  expect_config_error(load_config(sources), "llm.provider");
}

TEST(ConfigLlm, KeysNeverComeFromAFileOrTheCommandLine) {
  TempDir dir;
  expect_config_error(load_config(with_file(write_file(dir, "[llm]\napi_key = \"sk-in-a-file\"\n"))),
                      "llm.api_key");
  ConfigSources sources;
  sources.overrides = {{"embed.api_key", "sk-on-the-command-line"}};
  expect_config_error(load_config(sources), "embed.api_key");
}

TEST(ConfigLlm, AKeyFileIsRead) {
  TempDir dir;
  const auto key_file = write_file(dir, "  sk-from-file  \nsecond line\n", "key.txt");
  ConfigSources sources;
  sources.overrides = {{"llm.api_key_file", key_file}};
  auto config = load_config(sources);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->llm.api_key, "sk-from-file");
  sources.overrides = {{"llm.api_key_file", (dir / "missing.txt").string()}};
  expect_config_error(load_config(sources), "llm.api_key_file");
  sources.overrides = {{"llm.api_key_file", write_file(dir, "\n", "empty.txt")}};
  expect_config_error(load_config(sources), "llm.api_key_file");
}

TEST(ConfigLlm, ResilienceSettingsOutOfRangeAreRejected) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"llm.max_concurrency", "0"},
                                                        {"llm.max_retries", "11"},
                                                        {"llm.timeout_ms", "5"},
                                                        {"llm.breaker_failures", "-1"},
                                                        {"embed.max_concurrency", "0"},
                                                        {"limits.burst", "0"},
                                                        {"limits.requests_per_minute_per_user", "-5"},
                                                        {"auth.jwt_leeway_s", "-1"},
                                                        {"auth.required", "maybe"}}) {
    ConfigSources sources;
    sources.overrides = {{key, value}};
    expect_config_error(load_config(sources), key);
  }
}

}  // namespace
}  // namespace brandcoach

namespace brandcoach {
namespace {

TEST(ConfigLlm, EmbeddingsIsAnotherNameForTheEmbedSection) {
  TempDir dir;
  auto sources =
      with_file(write_file(dir, "[embeddings]\nprovider = \"http\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"));
  sources.env = {{"BRANDCOACH_EMBEDDINGS_MODEL", "text-embedding-3-small"}};
  sources.overrides = {{"embeddings.timeout_ms", "1234"}};
  auto config = load_config(sources);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->embed.provider, "http");
  EXPECT_EQ(config->embed.model, "text-embedding-3-small");
  EXPECT_EQ(config->embed.timeout_ms, 1234);
}

TEST(ConfigStorage, TheEncryptionKeyComesOnlyFromTheEnvironmentOrAKeyFile) {
  TempDir dir;
  ConfigSources sources;
  sources.env = {{"BRANDCOACH_STORAGE_ENCRYPTION_KEY", "a passphrase of some length"}};
  auto from_env = load_config(sources);
  ASSERT_TRUE(from_env) << from_env.error().message;
  EXPECT_EQ(from_env->storage.encryption_key, "a passphrase of some length");

  ConfigSources file_sources;
  file_sources.overrides = {
      {"storage.encryption_key_file", write_file(dir, "key from a file, long\n", "k.txt")}};
  auto from_file = load_config(file_sources);
  ASSERT_TRUE(from_file) << from_file.error().message;
  EXPECT_EQ(from_file->storage.encryption_key, "key from a file, long");

  expect_config_error(load_config(with_file(write_file(dir, "[storage]\nencryption_key = \"in a file\"\n"))),
                      "storage.encryption_key");
  ConfigSources command_line;
  command_line.overrides = {{"storage.encryption_key", "on the command line"}};
  expect_config_error(load_config(command_line), "storage.encryption_key");
  file_sources.overrides = {{"storage.encryption_key_file", (dir / "missing.key").string()}};
  expect_config_error(load_config(file_sources), "storage.encryption_key_file");
}

TEST(ConfigStorage, AShortKeyOrAKeyForPostgresIsRejected) {
  ConfigSources sources;
  sources.env = {{"BRANDCOACH_STORAGE_ENCRYPTION_KEY", "short"}};
  expect_config_error(load_config(sources), "storage.encryption_key");
  sources.env = {{"BRANDCOACH_STORAGE_ENCRYPTION_KEY", "a passphrase of some length"},
                 {"BRANDCOACH_STORAGE_URL", "postgresql://bc@localhost:5432/bc"}};
  expect_config_error(load_config(sources), "storage.encryption_key");
}

}  // namespace
}  // namespace brandcoach
