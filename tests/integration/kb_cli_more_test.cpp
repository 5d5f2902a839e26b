// Black-box tests of `brandcoach kb stats|list|delete|reindex`, the persisted dense index, crash-safe
// ingest and `brandcoach eval retrieval`: the real binary, a temp data dir, inputs written by each test.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

std::vector<std::string> non_empty_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const auto& line : non_empty_lines(text)) out.push_back(json::parse(line));
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::vector<std::string> command(const fs::path& data, std::vector<std::string> args,
                                 const std::vector<std::string>& settings = {}) {
  std::vector<std::string> full{BRANDCOACH_BINARY, "--data-dir", data.string()};
  for (const auto& s : settings) {
    full.push_back("--set");
    full.push_back(s);
  }
  full.insert(full.end(), args.begin(), args.end());
  return full;
}

Outcome run(const fs::path& data, std::vector<std::string> args, const std::string& input = {},
            const std::vector<std::string>& settings = {}) {
  Process process(command(data, std::move(args), settings), input);
  const int code = process.wait(std::chrono::seconds(120));
  return {code, process.out(), process.err()};
}

// A read-write SQLite connection (read-write so that a WAL left by a killed writer is recovered).
class Database {
 public:
  explicit Database(const fs::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      sqlite3_close(db_);
      db_ = nullptr;
    }
  }
  ~Database() { sqlite3_close(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  bool open() const { return db_ != nullptr; }

  // The first column of every row, as text; throws with SQLite's message on error.
  std::vector<std::string> column(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    std::vector<std::string> out;
    int rc = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(stmt, 0);
      out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
    return out;
  }
  int64_t number(const std::string& sql) { return std::stoll(column(sql).at(0)); }

 private:
  sqlite3* db_ = nullptr;
};

class KbCli : public ::testing::Test {
 protected:
  Outcome bc(std::vector<std::string> args, const std::string& input = {},
             const std::vector<std::string>& settings = {}) {
    return run(data_, std::move(args), input, settings);
  }
  Outcome ingest(const std::string& store, const fs::path& path) {
    return bc({"kb", "ingest", "--store", store, path.string()});
  }
  // The result ids of one query.
  std::vector<std::string> search(const std::string& store, const std::string& query, const std::string& mode,
                                  const std::vector<std::string>& settings = {}) {
    const auto r = bc({"kb", "search", "--store", store, "--mode", mode, "--k", "5"}, query + "\n", settings);
    EXPECT_EQ(r.code, 0) << mode << ": " << r.err;
    const auto answers = json_lines(r.out);
    return answers.size() == 1 ? result_ids(answers[0]) : std::vector<std::string>{"<no answer>"};
  }
  std::vector<json> list(const std::string& store) {
    const auto r = bc({"kb", "list", "--store", store});
    EXPECT_EQ(r.code, 0) << r.err;
    return json_lines(r.out);
  }
  // The `kb stats` row of `store`, split into words; empty when the store is not listed.
  std::vector<std::string> stats_row(const std::string& store) {
    const auto r = bc({"kb", "stats"});
    EXPECT_EQ(r.code, 0) << r.err;
    for (const auto& line : non_empty_lines(r.out)) {
      auto row = words(line);
      if (!row.empty() && row[0] == store) return row;
    }
    return {};
  }

  fs::path write_corpus() {
    const auto docs = dir_ / "docs";
    write_file(docs / "zebra.md",
               markdown("packaging", "advanced",
                        "# Zebra-striped packaging\n\nOur zebra-striped packaging prints bold "
                        "black and white stripes on every box so shoppers spot it.\n"));
    write_file(docs / "sourdough.md", markdown("baking", "beginner",
                                               "# Sourdough starter\n\nFeed the sourdough starter flour and "
                                               "water daily; a bubbly starter leavens rustic loaves.\n"));
    write_file(docs / "glacier.html",
               "<html><head><title>Glacier hiking</title></head><body><h1>Glacier hiking</h1>"
               "<p>Crampons and ice axes keep glacier hikers safe near crevasse fields.</p></body></html>");
    return docs;
  }

  TempDir dir_;
  fs::path data_ = dir_ / "var";
};

using KbManage = KbCli;
using KbReindex = KbCli;
using KbDenseIndex = KbCli;
using KbCrash = KbCli;

// ---------------------------------------------------------------------------------------------
// stats, list, delete

TEST_F(KbManage, StatsListsEachStoreWithFilesChunksAndEmbedder) {
  ASSERT_EQ(ingest("alpha", write_corpus()).code, 0);
  write_file(dir_ / "beta" / "one.txt", "Beta store holds a single note about teapots.\n");
  ASSERT_EQ(ingest("beta", dir_ / "beta").code, 0);
  int64_t chunks = 0;
  for (const auto& f : list("alpha")) chunks += f["chunks"].get<int64_t>();
  const auto r = bc({"kb", "stats"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(non_empty_lines(r.out).at(0), "embedder")) << r.out;
  const auto alpha = stats_row("alpha");
  ASSERT_GE(alpha.size(), 6u) << r.out;
  EXPECT_EQ(alpha[1], "3") << "files";
  EXPECT_EQ(alpha[2], std::to_string(chunks)) << "chunks";
  EXPECT_EQ(alpha.back(), "hashing:512:v1");
  const auto beta = stats_row("beta");
  ASSERT_GE(beta.size(), 6u) << r.out;
  EXPECT_EQ(beta[1], "1");
  EXPECT_EQ(beta[2], "1");
  EXPECT_EQ(beta.back(), "hashing:512:v1");
}

TEST_F(KbManage, ListPrintsOneJsonLinePerFileWithFrontMatterAttributes) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  const auto files = list("s");
  ASSERT_EQ(files.size(), 3u);
  std::map<std::string, json> by_name;
  for (const auto& f : files) by_name[f["filename"]] = f;
  ASSERT_TRUE(by_name.contains("zebra.md"));
  const auto& zebra = by_name["zebra.md"];
  EXPECT_EQ(zebra["attributes"], (json{{"topic", "packaging"}, {"level", "advanced"}}));
  EXPECT_EQ(zebra["title"], "Zebra-striped packaging");
  EXPECT_EQ(zebra["format"], "md");
  EXPECT_GE(zebra["chunks"].get<int>(), 1);
  EXPECT_GT(zebra["bytes"].get<int>(), 0);
  EXPECT_TRUE(zebra["id"].is_number_integer());
  EXPECT_EQ(by_name["sourdough.md"]["attributes"], (json{{"topic", "baking"}, {"level", "beginner"}}));
  EXPECT_EQ(by_name["glacier.html"]["title"], "Glacier hiking");
}

TEST_F(KbManage, DeleteFileRemovesItFromListAndSearch) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  for (const char* mode : {"lexical", "dense", "hybrid"})
    ASSERT_EQ(search("s", "zebra-striped packaging", mode).at(0), "zebra.md") << mode;
  const auto r = bc({"kb", "delete", "--store", "s", "--file", "zebra.md"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "deleted zebra.md")) << r.out;
  for (const auto& f : list("s")) EXPECT_NE(f["filename"], "zebra.md");
  for (const char* mode : {"lexical", "dense", "hybrid"}) {
    const auto ids = search("s", "zebra-striped packaging", mode);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), "zebra.md"), 0) << mode;
  }
  EXPECT_EQ(stats_row("s").at(1), "2");

  // A file can also be named by the id `kb list` shows.
  std::string sourdough_id;
  for (const auto& f : list("s")) {
    if (f["filename"] == "sourdough.md") sourdough_id = std::to_string(f["id"].get<int64_t>());
  }
  ASSERT_FALSE(sourdough_id.empty());
  ASSERT_EQ(bc({"kb", "delete", "--store", "s", "--file", sourdough_id}).code, 0);
  const auto left = list("s");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]["filename"], "glacier.html");
}

TEST_F(KbManage, DeleteUnknownFileExitsOneAndNeedsFileOrAll) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  auto r = bc({"kb", "delete", "--store", "s", "--file", "unknown.md"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "unknown.md")) << r.err;
  r = bc({"kb", "delete", "--store", "s"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--file")) << r.err;
  r = bc({"kb", "delete", "--store", "s", "--file", "zebra.md", "--all"});
  EXPECT_EQ(r.code, 2) << "--file and --all together are ambiguous";
  EXPECT_EQ(list("s").size(), 3u) << "nothing was deleted";
  r = bc({"kb", "delete", "--store", "nope", "--all"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no knowledge store")) << r.err;
}

TEST_F(KbManage, DeleteAllRemovesTheWholeStore) {
  ASSERT_EQ(ingest("doomed", write_corpus()).code, 0);
  ASSERT_EQ(ingest("kept", dir_ / "docs" / "glacier.html").code, 0);
  const auto r = bc({"kb", "delete", "--store", "doomed", "--all"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(stats_row("doomed").empty());
  EXPECT_FALSE(stats_row("kept").empty());
  const auto s = bc({"kb", "search", "--store", "doomed"}, "zebra\n");
  EXPECT_EQ(s.code, 1);
  EXPECT_TRUE(contains(s.err, "no knowledge store")) << s.err;
  // The name can be used again, from scratch.
  const auto again = ingest("doomed", dir_ / "docs");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "3 added")) << again.out;
  EXPECT_EQ(search("doomed", "zebra-striped packaging", "dense").at(0), "zebra.md");
}

// ---------------------------------------------------------------------------------------------
// reindex

TEST_F(KbReindex, AfterAnEmbedderChangeDenseNeedsReindexAndHybridFallsBackToLexical) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  const std::vector<std::string> dim256{"embed.dimension=256"};
  auto r = bc({"kb", "search", "--store", "s", "--mode", "dense"}, "sourdough starter\n", dim256);
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.err, "kb reindex")) << r.err;
  EXPECT_TRUE(json_lines(r.out).empty()) << r.out;
  EXPECT_EQ(search("s", "sourdough starter", "hybrid", dim256).at(0), "sourdough.md");

  r = bc({"kb", "reindex", "--store", "s"}, {}, dim256);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "hashing:256:v1")) << r.out;
  EXPECT_EQ(stats_row("s").back(), "hashing:256:v1");
  for (const char* mode : {"dense", "hybrid", "lexical"})
    EXPECT_EQ(search("s", "sourdough starter", mode, dim256).at(0), "sourdough.md") << mode;
  // Now the default embedder is the stale one.
  r = bc({"kb", "search", "--store", "s", "--mode", "dense"}, "sourdough starter\n");
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(contains(r.err, "kb reindex")) << r.err;
}

TEST_F(KbReindex, UnknownStoreExitsOne) {
  const auto r = bc({"kb", "reindex", "--store", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no knowledge store")) << r.err;
}

// ---------------------------------------------------------------------------------------------
// dense index persistence

std::vector<fs::path> index_files(const fs::path& data, const std::string& extension) {
  std::vector<fs::path> out;
  if (!fs::is_directory(data / "index")) return out;
  for (const auto& entry : fs::directory_iterator(data / "index")) {
    if (entry.path().extension() == extension) out.push_back(entry.path());
  }
  return out;
}

TEST_F(KbDenseIndex, IngestPersistsTheIndexAndItsMetadata) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  ASSERT_EQ(index_files(data_, ".hnsw").size(), 1u);
  const auto meta_files = index_files(data_, ".json");
  ASSERT_EQ(meta_files.size(), 1u);
  EXPECT_GT(fs::file_size(index_files(data_, ".hnsw")[0]), 0u);
  std::ifstream in(meta_files[0]);
  const auto meta = json::parse(in, nullptr, false);
  ASSERT_TRUE(meta.is_object()) << meta_files[0];
  EXPECT_EQ(meta.value("vectors", -1), std::stoi(stats_row("s").at(2)));
  EXPECT_EQ(meta.value("embedder", ""), "hashing:512:v1");
}

TEST_F(KbDenseIndex, MissingIndexFileIsRebuiltFromStoredVectors) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  const auto hnsw = index_files(data_, ".hnsw");
  ASSERT_EQ(hnsw.size(), 1u);
  fs::remove(hnsw[0]);
  EXPECT_EQ(search("s", "sourdough starter", "dense").at(0), "sourdough.md");
  EXPECT_EQ(search("s", "zebra-striped packaging", "dense").at(0), "zebra.md");
}

TEST_F(KbDenseIndex, TruncatedIndexFileIsRebuiltFromStoredVectors) {
  ASSERT_EQ(ingest("s", write_corpus()).code, 0);
  const auto hnsw = index_files(data_, ".hnsw");
  ASSERT_EQ(hnsw.size(), 1u);
  fs::resize_file(hnsw[0], 5);
  const auto r = bc({"kb", "search", "--store", "s", "--mode", "dense", "--k", "1"}, "glacier crampons\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(result_ids(json_lines(r.out).at(0)), std::vector<std::string>{"glacier.html"});
  EXPECT_EQ(search("s", "sourdough starter", "dense").at(0), "sourdough.md");
}

// ---------------------------------------------------------------------------------------------
// crash-safe ingest

struct CrashState {
  int64_t files = 0;
  std::string integrity;
  int64_t half_files = -1;     // files whose chunk rows do not add up to files.chunks
  int64_t orphan_chunks = -1;  // chunks of no file
  std::string fts_check;       // "ok" or the error of FTS5's integrity-check
};

CrashState inspect(const fs::path& database) {
  CrashState state;
  Database db(database);
  if (!db.open()) return state;  // killed before the database existed
  state.integrity = db.column("PRAGMA integrity_check").at(0);
  state.files = db.number("SELECT COUNT(*) FROM files");
  state.half_files = db.number(
      "SELECT COUNT(*) FROM files f WHERE f.chunks <> (SELECT COUNT(*) FROM chunks c WHERE c.file_id = "
      "f.id)");
  state.orphan_chunks = db.number("SELECT COUNT(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)");
  try {
    db.column("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')");
    state.fts_check = "ok";
  } catch (const std::exception& e) {
    state.fts_check = e.what();
  }
  return state;
}

// A word only section `section` of document `i` contains: "kw" + i's digits as letters + "v" + section.
std::string marker(int i, int section) {
  std::string word = "kw";
  for (const char digit : std::to_string(1000 + i).substr(1)) word += static_cast<char>('a' + (digit - '0'));
  return word + "v" + static_cast<char>('a' + section);
}

TEST_F(KbCrash, KilledIngestLeavesNoHalfFileAndARerunCompletes) {
  constexpr int kFiles = 300;
  const auto docs = dir_ / "many";
  const std::vector<std::string> vocabulary{"brand",   "customer", "story",  "value", "price",   "market",
                                            "loyalty", "craft",    "studio", "voice", "promise", "growth"};
  for (int i = 0; i < kFiles; ++i) {
    std::string body = markdown("t" + std::to_string(i % 7), "beginner", "");
    for (int section = 0; section < 6; ++section) {
      body += "# Section " + std::to_string(section) + " of document " + std::to_string(i) + "\n\n";
      for (int w = 0; w < 120; ++w)
        body += vocabulary[(i * 31 + section * 7 + w * w) % vocabulary.size()] + " ";
      body += marker(i, section) + ".\n\n";
    }
    char name[32];
    std::snprintf(name, sizeof name, "doc%03d.md", i);
    write_file(docs / name, body);
  }
  const std::vector<std::string> args{"kb", "ingest", "--store", "bulk", docs.string()};

  // One full run on another data dir tells how long an ingest takes on this machine now.
  const auto started = Clock::now();
  const auto full = run(dir_ / "measure", args);
  ASSERT_EQ(full.code, 0) << full.err;
  auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started) * 4 / 10;

  // Kill at ~40%; retry with a shorter delay if it finished, a longer one if nothing was written yet.
  fs::path data;
  CrashState state;
  bool partial = false;
  for (int attempt = 0; attempt < 8 && !partial; ++attempt) {
    data = dir_ / ("crash-" + std::to_string(attempt));
    Process process(command(data, args));
    std::this_thread::sleep_for(delay);
    process.signal(SIGKILL);
    const int code = process.wait(std::chrono::seconds(60));
    state = inspect(data / "brandcoach.sqlite3");
    if (code == 0) {
      delay /= 2;
    } else if (state.files == 0) {
      delay = delay * 3 / 2;
    } else {
      EXPECT_EQ(code, 128 + SIGKILL);
      partial = state.files < kFiles;
      if (!partial) delay /= 2;
    }
  }
  ASSERT_TRUE(partial) << "never caught the ingest part-way (last delay " << delay.count() << " ms)";
  EXPECT_EQ(state.integrity, "ok");
  EXPECT_EQ(state.half_files, 0) << "a file was stored without all its chunks";
  EXPECT_EQ(state.orphan_chunks, 0);
  EXPECT_EQ(state.fts_check, "ok");

  // Running the same ingest again finishes the job: every file once, the earlier ones unchanged.
  const auto rerun = run(data, args);
  ASSERT_EQ(rerun.code, 0) << rerun.err;
  EXPECT_TRUE(contains(rerun.out, std::to_string(kFiles - state.files) + " added, 0 updated, " +
                                      std::to_string(state.files) + " unchanged"))
      << rerun.out;
  const auto after = inspect(data / "brandcoach.sqlite3");
  EXPECT_EQ(after.files, kFiles);
  EXPECT_EQ(after.half_files, 0);
  EXPECT_EQ(after.fts_check, "ok");
  std::set<std::string> names;
  const auto listed = run(data, {"kb", "list", "--store", "bulk"});
  const auto listed_files = json_lines(listed.out);
  for (const auto& f : listed_files) names.insert(f["filename"]);
  EXPECT_EQ(listed_files.size(), static_cast<size_t>(kFiles));
  EXPECT_EQ(names.size(), static_cast<size_t>(kFiles)) << "each file once";
  // The last file and one from the killed run can be found, and the dense index holds every chunk.
  const auto found = run(data, {"kb", "search", "--store", "bulk", "--mode", "lexical", "--k", "1"},
                         marker(299, 5) + "\n" + marker(3, 2) + "\n");
  ASSERT_EQ(found.code, 0) << found.err;
  const auto answers = json_lines(found.out);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(result_ids(answers[0]), std::vector<std::string>{"doc299.md"});
  EXPECT_EQ(result_ids(answers[1]), std::vector<std::string>{"doc003.md"});
  const auto meta = index_files(data, ".json");
  ASSERT_EQ(meta.size(), 1u);
  std::ifstream in(meta[0]);
  EXPECT_EQ(json::parse(in, nullptr, false).value("vectors", int64_t{-1}),
            Database(data / "brandcoach.sqlite3").number("SELECT COUNT(*) FROM chunks"));
}

// ---------------------------------------------------------------------------------------------
// eval retrieval

class KbEvalFiles : public KbCli {
 protected:
  void SetUp() override {
    ASSERT_EQ(ingest("s", write_corpus()).code, 0);
    write_file(queries_,
               "{\"id\": \"q1\", \"query\": \"zebra striped packaging boxes\", \"store\": \"s\"}\n"
               "{\"id\": \"q2\", \"query\": \"feeding a sourdough starter\", \"store\": \"s\"}\n"
               "{\"id\": \"q3\", \"query\": \"glacier crampons crevasse\", \"store\": \"s\"}\n");
    write_file(qrels_, "q1 0 zebra.md 1\nq2 0 sourdough.md 1\nq3 0 glacier.html 2\n");
  }
  Outcome eval(const fs::path& qrels, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"eval",    "retrieval",   "--queries", queries_.string(),
                                  "--qrels", qrels.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return bc(args);
  }
  fs::path queries_ = dir_ / "queries.jsonl";
  fs::path qrels_ = dir_ / "qrels.tsv";
};

using KbEvalRetrieval = KbEvalFiles;

TEST_F(KbEvalRetrieval, EasyJudgementsScorePerfectNdcgInEveryMode) {
  const auto r = eval(qrels_);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto table = non_empty_lines(r.out);
  ASSERT_EQ(table.size(), 4u) << r.out;
  EXPECT_TRUE(contains(table[0], "nDCG@10")) << table[0];
  std::set<std::string> modes;
  for (size_t i = 1; i < table.size(); ++i) {
    const auto row = words(table[i]);
    ASSERT_EQ(row.size(), 6u) << table[i];
    modes.insert(row[0]);
    EXPECT_EQ(row[1], "1.000") << table[i];
    EXPECT_EQ(row[5], "3") << "judged queries: " << table[i];
  }
  EXPECT_EQ(modes, (std::set<std::string>{"lexical", "dense", "hybrid"}));
}

TEST_F(KbEvalRetrieval, JsonPrintsOneObjectPerModeWithEveryMetric) {
  // q1's only relevant document is not in the store: every mode scores 0 on it and 1 on the others.
  write_file(qrels_, "q1 0 no-such-doc.md 1\nq2 0 sourdough.md 1\nq3 0 glacier.html 1\n");
  const auto r = eval(qrels_, {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto objects = json_lines(r.out);
  ASSERT_EQ(objects.size(), 3u) << r.out;
  std::set<std::string> modes;
  for (const auto& o : objects) {
    modes.insert(o.at("mode").get<std::string>());
    for (const char* metric : {"ndcg@10", "mrr@10", "recall@10", "recall@100"}) {
      ASSERT_TRUE(o.contains(metric) && o[metric].is_number()) << metric << " in " << o;
      EXPECT_NEAR(o[metric].get<double>(), 2.0 / 3.0, 1e-9) << metric << " in " << o;
    }
    EXPECT_EQ(o["queries"], 3);
  }
  EXPECT_EQ(modes, (std::set<std::string>{"lexical", "dense", "hybrid"}));
}

TEST_F(KbEvalRetrieval, MalformedQrelsLineIsAUsageErrorNamingTheLine) {
  write_file(qrels_, "q1 0 zebra.md 1\nq2 0 sourdough.md\nq3 0 glacier.html 1\n");
  const auto r = eval(qrels_);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, qrels_.filename().string() + ":2")) << r.err;
  EXPECT_EQ(r.out, "") << "nothing is scored";
}

}  // namespace
}  // namespace brandcoach::testing
