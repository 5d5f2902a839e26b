// Black-box tests of `brandcoach kb ingest` and `brandcoach kb search`: the real binary, a temp data dir,
// input files written by each test.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "support/cli_helpers.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

std::vector<json> json_lines(const std::string& text) {
  std::vector<json> out;
  for (const auto& line : lines(text)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// Each test gets its own data dir; `settings` are global --set options, placed before the command.
class KbCli : public ::testing::Test {
 protected:
  Outcome bc(std::vector<std::string> args, const std::string& input = {},
             const std::vector<std::string>& settings = {}) {
    std::vector<std::string> full{BRANDCOACH_BINARY, "--data-dir", data_.string()};
    for (const auto& s : settings) {
      full.push_back("--set");
      full.push_back(s);
    }
    full.insert(full.end(), args.begin(), args.end());
    Process process(full, input);
    const int code = process.wait(std::chrono::seconds(120));
    return {code, process.out(), process.err()};
  }

  Outcome ingest(const std::string& store, std::vector<std::string> paths) {
    paths.insert(paths.begin(), {"kb", "ingest", "--store", store});
    return bc(paths);
  }

  Outcome search(const std::string& store, const std::string& input, std::vector<std::string> options = {}) {
    options.insert(options.begin(), {"kb", "search", "--store", store});
    return bc(options, input);
  }

  std::vector<json> list(const std::string& store) {
    const auto r = bc({"kb", "list", "--store", store});
    EXPECT_EQ(r.code, 0) << r.err;
    return json_lines(r.out);
  }

  // Six short documents on unrelated subjects; zebra.md and kiln.md are "advanced".
  fs::path write_corpus() {
    const auto docs = dir_ / "docs";
    write_file(docs / "zebra.md",
               markdown("packaging", "advanced",
                        "# Zebra-striped packaging\n\nOur zebra-striped packaging prints bold "
                        "black and white stripes on every box so shoppers spot it on "
                        "crowded shelves.\n"));
    write_file(docs / "sourdough.md", markdown("baking", "beginner",
                                               "# Sourdough starter\n\nFeed the sourdough starter flour and "
                                               "water daily; a bubbly starter leavens rustic loaves.\n"));
    write_file(docs / "kiln.md",
               markdown("ceramics", "advanced",
                        "# Kiln firing\n\nA pottery kiln ramps slowly through bisque firing "
                        "before the glaze firing reaches cone six.\n"));
    write_file(docs / "lighthouse.txt",
               "Lighthouse keepers polish the lantern lens every evening at dusk.\n");
    write_file(docs / "glacier.html",
               "<html><head><title>Glacier hiking</title></head><body><h1>Glacier hiking</h1>"
               "<p>Crampons and ice axes keep glacier hikers safe near crevasse fields.</p></body></html>");
    write_file(
        docs / "telescope.json",
        R"({"id": "telescope-1", "title": "Telescopes", "text": "Refracting telescopes gather )"
        R"(starlight from distant nebulae through an objective lens.", "attributes": {"level": "beginner"}})");
    return docs;
  }

  TempDir dir_;
  fs::path data_ = dir_ / "var";
};

using KbIngest = KbCli;
using KbSearch = KbCli;

// ---------------------------------------------------------------------------------------------
// kb ingest

TEST_F(KbIngest, FolderOfMixedFormatsAddsEveryFileWithItsFormat) {
  const auto docs = write_corpus();
  const auto r = ingest("mixed", {docs.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "mixed: 6 added, 0 updated, 0 unchanged, 0 duplicates")) << r.out;
  std::map<std::string, std::string> formats;
  for (const auto& file : list("mixed")) formats[file["filename"]] = file["format"];
  const std::map<std::string, std::string> expected{{"glacier.html", "html"},
                                                    {"kiln.md", "md"},
                                                    {"lighthouse.txt", "txt"},
                                                    {"sourdough.md", "md"},
                                                    {"telescope.json#telescope-1", "json"},
                                                    {"zebra.md", "md"}};
  EXPECT_EQ(formats, expected);
}

TEST_F(KbIngest, GlobPatternIsExpandedByTheBinaryItself) {
  write_file(dir_ / "notes" / "a.md", "# Alpha\n\nAlpaca wool scarves for winter markets.\n");
  write_file(dir_ / "notes" / "b.md", "# Beta\n\nBeeswax candles poured by hand.\n");
  write_file(dir_ / "notes" / "c.txt", "Cider pressing in the autumn orchard.\n");
  // One argument holding the pattern, as if quoted in a shell: no shell expands it.
  const auto r = ingest("globbed", {(dir_ / "notes").string() + "/*.md"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "2 added")) << r.out;
  std::set<std::string> names;
  for (const auto& file : list("globbed")) names.insert(file["filename"]);
  EXPECT_EQ(names, (std::set<std::string>{"a.md", "b.md"}));

  const auto none = ingest("globbed", {(dir_ / "notes").string() + "/*.pdf"});
  EXPECT_EQ(none.code, 1);
  EXPECT_TRUE(contains(none.err, "no files match")) << none.err;
}

TEST_F(KbIngest, JsonlRecordsKeepTheirIdAsTheResultId) {
  const auto file = dir_ / "records.jsonl";
  write_file(file,
             R"({"id": "rec-kite", "text": "Kite surfing lessons teach riders to harness coastal wind.", )"
             R"("attributes": {"level": "beginner"}})"
             "\n"
             R"({"id": "rec-moss", "title": "Moss", "text": "Moss terrariums thrive in humid glass jars."})"
             "\n");
  const auto r = bc({"kb", "ingest", "--store", "recs", "--jsonl", file.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "2 added")) << r.out;

  const auto s = search("recs", "kite surfing wind\nmoss terrarium\n", {"--k", "1"});
  ASSERT_EQ(s.code, 0) << s.err;
  const auto answers = json_lines(s.out);
  ASSERT_EQ(answers.size(), 2u) << s.out;
  EXPECT_EQ(result_ids(answers[0]), std::vector<std::string>{"rec-kite"});
  EXPECT_EQ(result_ids(answers[1]), std::vector<std::string>{"rec-moss"});

  const auto files = list("recs");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0]["external_id"], "rec-kite");
  EXPECT_EQ(files[0]["attributes"], (json{{"level", "beginner"}}));
}

TEST_F(KbIngest, JsonlBadLineExitsOneNamesTheLineAndKeepsTheGoodRecords) {
  const auto file = dir_ / "records.jsonl";
  write_file(file,
             "{\"id\": \"good-1\", \"text\": \"Hot air balloons drift over vineyards at sunrise.\"}\n"
             "{\"id\": \"bad\", this is not json\n"
             "{\"id\": \"good-2\", \"text\": \"Origami cranes folded from washi paper.\"}\n");
  const auto r = bc({"kb", "ingest", "--store", "recs", "--jsonl", file.string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "records.jsonl")) << r.err;
  EXPECT_TRUE(contains(r.err, "line 2")) << r.err;
  EXPECT_FALSE(contains(r.err, "line 1")) << r.err;
  EXPECT_TRUE(contains(r.out, "2 added")) << r.out;
  std::set<std::string> ids;
  for (const auto& f : list("recs")) ids.insert(f["external_id"]);
  EXPECT_EQ(ids, (std::set<std::string>{"good-1", "good-2"}));
}

TEST_F(KbIngest, ReingestingTheSameFilesReportsThemUnchanged) {
  const auto docs = write_corpus();
  ASSERT_EQ(ingest("again", {docs.string()}).code, 0);
  const auto before = list("again");
  const auto r = ingest("again", {docs.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "0 added, 0 updated, 6 unchanged, 0 duplicates, 0 chunks written")) << r.out;
  EXPECT_EQ(list("again"), before) << "ids, chunks and attributes stay as they were";
}

TEST_F(KbIngest, ChangedFileIsUpdatedAndItsOldTextIsGone) {
  const auto docs = write_corpus();
  ASSERT_EQ(ingest("edit", {docs.string()}).code, 0);
  write_file(docs / "lighthouse.txt", "Harbour pilots steer freighters past the breakwater at night.\n");
  const auto r = ingest("edit", {docs.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "0 added, 1 updated, 5 unchanged")) << r.out;
  const auto s = search("edit", "lighthouse lantern\nharbour pilots freighters\n", {"--mode", "lexical"});
  ASSERT_EQ(s.code, 0) << s.err;
  const auto answers = json_lines(s.out);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_TRUE(answers[0]["results"].empty()) << answers[0];
  EXPECT_EQ(result_ids(answers[1]).at(0), "lighthouse.txt");
}

TEST_F(KbIngest, SameContentUnderAnotherNameIsReportedAsDuplicateAndStoredOnce) {
  const std::string text =
      markdown("brand", "beginner", "# Mascots\n\nA friendly walrus mascot greets visitors.\n");
  write_file(dir_ / "first" / "walrus.md", text);
  ASSERT_EQ(ingest("dups", {(dir_ / "first" / "walrus.md").string()}).code, 0);
  write_file(dir_ / "second" / "walrus-copy.md", text);
  const auto r = ingest("dups", {(dir_ / "second" / "walrus-copy.md").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "0 added, 0 updated, 0 unchanged, 1 duplicates, 0 chunks written")) << r.out;
  EXPECT_TRUE(contains(r.err, "duplicate")) << r.err;
  EXPECT_TRUE(contains(r.err, "walrus-copy.md")) << r.err;
  EXPECT_TRUE(contains(r.err, "walrus.md")) << r.err;
  const auto files = list("dups");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0]["filename"], "walrus.md");
}

TEST_F(KbIngest, FileChangedToAnotherFilesContentNoLongerServesItsOldText) {
  write_file(dir_ / "shop" / "a.md", "# A\n\nAlpaca wool scarves for winter markets.\n");
  write_file(dir_ / "shop" / "b.md", "# B\n\nBeeswax candles poured by hand in small batches.\n");
  ASSERT_EQ(ingest("shop", {(dir_ / "shop").string()}).code, 0);
  fs::copy_file(dir_ / "shop" / "a.md", dir_ / "shop" / "b.md", fs::copy_options::overwrite_existing);
  const auto r = ingest("shop", {(dir_ / "shop").string()});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "b.md")) << r.err;
  // No file holds the beeswax text any more, so no search may answer with it.
  const auto s = search("shop", "beeswax candles poured by hand\n", {"--mode", "lexical"});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_TRUE(json_lines(s.out).at(0)["results"].empty()) << "stale text of b.md still served: " << s.out;
}

TEST_F(KbIngest, ChunkSizeBelow100IsAUsageError) {
  const auto docs = write_corpus();
  const auto r = bc({"kb", "ingest", "--store", "small", "--chunk-size", "50", docs.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "50")) << r.err;
  EXPECT_TRUE(contains(r.err, "chunk")) << r.err;
  const auto stats = bc({"kb", "stats"});
  EXPECT_FALSE(contains(stats.out, "small")) << "nothing was ingested:\n" << stats.out;
}

TEST_F(KbIngest, MissingPathExitsOneWithNoSuchFile) {
  const auto r = ingest("missing", {(dir_ / "not-there.md").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "not-there.md")) << r.err;
  EXPECT_TRUE(contains(r.err, "no such file")) << r.err;
}

// ---------------------------------------------------------------------------------------------
// kb search

TEST_F(KbSearch, PlainAndJsonQueryLinesGetOneJsonAnswerEach) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const auto r = search("s",
                        "how do I feed a sourdough starter\n"
                        "{\"id\": \"q-zebra\", \"query\": \"zebra stripes on boxes\"}\n"
                        "{\"id\": 7, \"query\": \"glacier crampons\"}\n",
                        {"--k", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto answers = json_lines(r.out);
  ASSERT_EQ(answers.size(), 3u) << r.out;
  EXPECT_EQ(answers[0]["query_id"], "1");
  EXPECT_EQ(answers[1]["query_id"], "q-zebra");
  EXPECT_EQ(answers[2]["query_id"], "7");
  EXPECT_EQ(result_ids(answers[0]).at(0), "sourdough.md");
  EXPECT_EQ(result_ids(answers[1]).at(0), "zebra.md");
  EXPECT_EQ(result_ids(answers[2]).at(0), "glacier.html");
  for (const auto& answer : answers) {
    ASSERT_TRUE(answer["results"].is_array());
    for (const auto& result : answer["results"]) {
      EXPECT_TRUE(result["id"].is_string()) << result;
      EXPECT_TRUE(result["chunk"].is_number_integer()) << result;
      EXPECT_TRUE(result["score"].is_number()) << result;
      EXPECT_TRUE(result["text"].is_string()) << result;
      EXPECT_EQ(result["store"], "s") << result;
    }
  }
  EXPECT_TRUE(contains(answers[0]["results"][0]["text"].get<std::string>(), "sourdough starter"));
}

TEST_F(KbSearch, KLimitsTheNumberOfResults) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const std::string everything = "zebra sourdough kiln lighthouse glacier telescopes\n";
  for (const char* mode : {"lexical", "hybrid"}) {
    const auto all = search("s", everything, {"--mode", mode});
    ASSERT_EQ(all.code, 0) << all.err;
    EXPECT_EQ(json_lines(all.out).at(0)["results"].size(), 6u) << mode << ": every document matches";
    for (const char* k : {"1", "2", "5"}) {
      const auto r = search("s", everything, {"--mode", mode, "--k", k});
      ASSERT_EQ(r.code, 0) << r.err;
      EXPECT_EQ(json_lines(r.out).at(0)["results"].size(), std::stoul(k)) << mode << " --k " << k;
    }
  }
}

TEST_F(KbSearch, EveryModeFindsTheDocumentThatIsClearlyTheAnswer) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const std::string queries =
      "zebra-striped packaging\n"
      "sourdough starter\n"
      "{\"id\": \"kiln\", \"query\": \"bisque firing in a pottery kiln\"}\n"
      "{\"id\": \"scope\", \"query\": \"refracting telescopes and nebulae\"}\n";
  for (const char* mode : {"lexical", "dense", "hybrid"}) {
    const auto r = search("s", queries, {"--mode", mode, "--k", "3"});
    ASSERT_EQ(r.code, 0) << mode << ": " << r.err;
    const auto answers = json_lines(r.out);
    ASSERT_EQ(answers.size(), 4u) << r.out;
    EXPECT_EQ(result_ids(answers[0]).at(0), "zebra.md") << mode;
    EXPECT_EQ(result_ids(answers[1]).at(0), "sourdough.md") << mode;
    EXPECT_EQ(result_ids(answers[2]).at(0), "kiln.md") << mode;
    EXPECT_EQ(result_ids(answers[3]).at(0), "telescope-1") << mode;
  }
}

TEST_F(KbSearch, FilterReturnsOnlyMatchingDocuments) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const std::string advanced = R"({"type":"eq","key":"level","value":"advanced"})";
  const std::set<std::string> advanced_docs{"zebra.md", "kiln.md"};
  for (const char* mode : {"lexical", "dense", "hybrid"}) {
    const auto r = search("s", "sourdough starter loaves\nzebra-striped packaging\npottery kiln glaze\n",
                          {"--mode", mode, "--filter", advanced});
    ASSERT_EQ(r.code, 0) << mode << ": " << r.err;
    const auto answers = json_lines(r.out);
    ASSERT_EQ(answers.size(), 3u) << r.out;
    for (const auto& answer : answers) {
      for (const auto& id : result_ids(answer)) EXPECT_TRUE(advanced_docs.contains(id)) << mode << ": " << id;
    }
    EXPECT_EQ(result_ids(answers[1]).at(0), "zebra.md") << mode;
    EXPECT_EQ(result_ids(answers[2]).at(0), "kiln.md") << mode;
  }
  const auto beginner = search("s", "zebra-striped packaging\n",
                               {"--filter", R"({"type":"ne","key":"level","value":"advanced"})"});
  ASSERT_EQ(beginner.code, 0) << beginner.err;
  for (const auto& id : result_ids(json_lines(beginner.out).at(0))) {
    EXPECT_FALSE(advanced_docs.contains(id)) << id;
  }
}

TEST_F(KbSearch, BadFilterIsAUsageErrorNamingTheProblem) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"type":"like","key":"level","value":"advanced"})", "like"},
      {R"({"type":"gt","key":"level","value":true})", "boolean"},
      {R"({"type":"eq","key":"level","value":["a","b"]})", "array"},
      {R"({"type":"in","key":"level","value":"advanced"})", "array"},
      {R"({"type":"eq","key":"level","value":"advanced")", "JSON"},
  };
  for (const auto& [filter, named] : cases) {
    const auto r = search("s", "zebra\n", {"--filter", filter});
    EXPECT_EQ(r.code, 2) << filter;
    EXPECT_TRUE(contains(r.err, "--filter")) << filter << ": " << r.err;
    EXPECT_TRUE(contains(r.err, named)) << filter << ": " << r.err;
    EXPECT_EQ(r.out, "") << filter;
  }
}

TEST_F(KbSearch, KOutOfRangeAndUnknownModeAreUsageErrors) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  for (const char* k : {"0", "51"}) {
    const auto r = search("s", "zebra\n", {"--k", k});
    EXPECT_EQ(r.code, 2) << "--k " << k;
    EXPECT_TRUE(contains(r.err, "--k")) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(search("s", "zebra\n", {"--k", "50"}).code, 0) << "50 is the largest allowed";
  const auto r = search("s", "zebra\n", {"--mode", "fancy"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "fancy")) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(KbSearch, UnknownStoreExitsOneWithNoKnowledgeStore) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const auto r = search("nope", "zebra\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "no knowledge store")) << r.err;
  EXPECT_TRUE(contains(r.err, "nope")) << r.err;
  EXPECT_EQ(r.out, "");
  const auto mixed = bc({"kb", "search", "--store", "s", "--store", "nope"}, "zebra\n");
  EXPECT_EQ(mixed.code, 1) << "one unknown store among several";
}

TEST_F(KbSearch, NamingAStoreTwiceDoesNotRepeatResults) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  for (const char* mode : {"lexical", "dense", "hybrid"}) {
    const auto once = search("s", "zebra-striped packaging\n", {"--mode", mode});
    const auto twice =
        bc({"kb", "search", "--store", "s", "--store", "s", "--mode", mode}, "zebra-striped packaging\n");
    ASSERT_EQ(once.code, 0) << once.err;
    ASSERT_EQ(twice.code, 0) << twice.err;
    EXPECT_EQ(json_lines(twice.out), json_lines(once.out)) << mode;
  }
}

TEST_F(KbSearch, BadJsonLineIsReportedAndTheOtherLinesAreStillAnswered) {
  ASSERT_EQ(ingest("s", {write_corpus().string()}).code, 0);
  const auto r = search("s",
                        "zebra-striped packaging\n"
                        "{not json at all\n"
                        "{\"id\": \"no-query\"}\n"
                        "sourdough starter\n",
                        {"--k", "1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "line 2")) << r.err;
  EXPECT_TRUE(contains(r.err, "line 3")) << r.err;
  const auto answers = json_lines(r.out);
  ASSERT_EQ(answers.size(), 2u) << r.out;
  EXPECT_EQ(answers[0]["query_id"], "1");
  EXPECT_EQ(result_ids(answers[0]), std::vector<std::string>{"zebra.md"});
  EXPECT_EQ(answers[1]["query_id"], "4");
  EXPECT_EQ(result_ids(answers[1]), std::vector<std::string>{"sourdough.md"});
}

}  // namespace
}  // namespace brandcoach::testing
