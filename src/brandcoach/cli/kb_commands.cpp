// `brandcoach kb …`: ingest, search, stats, list, delete, reindex.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "brandcoach/cli/app.hpp"

namespace brandcoach::cli {

namespace {

using Clock = std::chrono::steady_clock;

// One line, redrawn in place on a terminal: files, MB, chunks, rate and ETA.
class ProgressBar {
 public:
  ProgressBar() : enabled_(isatty(STDERR_FILENO) != 0), started_(Clock::now()) {}

  void update(const coach::IngestProgress& p) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (p.documents_done < p.documents_total && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - started_).count();
    const double mb = static_cast<double>(p.bytes_done) / 1e6;
    const double total_mb = static_cast<double>(p.bytes_total) / 1e6;
    const double rate = seconds > 0 ? mb / seconds : 0;
    const double eta = rate > 0 ? (total_mb - mb) / rate : 0;
    const double fraction =
        p.bytes_total > 0 ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1.0;
    const int filled = static_cast<int>(fraction * 24);
    std::cerr << fmt::format(
                     "\r[{}{}] {}/{} files · {:.1f}/{:.1f} MB · {} chunks · {:.2f} MB/s · ETA {:.0f}s ",
                     std::string(static_cast<size_t>(filled), '='),
                     std::string(24 - static_cast<size_t>(filled), ' '), p.documents_done, p.documents_total,
                     mb, total_mb, p.chunks, rate, eta)
              << std::flush;
  }
  void finish() {
    if (enabled_) std::cerr << "\n";
  }

 private:
  bool enabled_;
  Clock::time_point started_;
  Clock::time_point last_{};
};

std::string result_id(const index::Passage& p) {
  return p.external_id.empty() ? p.filename : p.external_id;
}

Result<store::KnowledgeStore> existing_store(store::Store& store, const std::string& name) {
  auto info = store.find_knowledge_store(name);
  if (!info) return info.error();
  if (!*info) return Error{ErrorKind::not_found, "no knowledge store named '" + name + "'", "store"};
  return **info;
}

}  // namespace

int kb_ingest(Config config, const IngestArgs& args) {
  if (args.paths.empty() && args.jsonl.empty()) {
    return fail(Error::invalid("give files, folders or globs to ingest, or --jsonl FILE", "paths"));
  }
  const auto options_chunking = chunking(config, args.chunk_size, args.chunk_overlap);
  if (auto problem = text::validate(options_chunking)) return fail(Error::invalid(*problem, "--chunk-size"));
  auto app = build_knowledge(std::move(config), 2);
  if (!app) return fail(app.error());
  const auto started = Clock::now();
  ingest::Batch batch = args.paths.empty() ? ingest::Batch{} : ingest::read_paths(args.paths);
  if (!args.jsonl.empty()) {
    auto records = ingest::read_jsonl_records(args.jsonl);
    for (auto& doc : records.documents) batch.documents.push_back(std::move(doc));
    for (auto& failure : records.failures) batch.failures.push_back(std::move(failure));
  }
  ProgressBar bar;
  coach::IngestOptions options;
  options.chunking = options_chunking;
  options.on_progress = [&](const coach::IngestProgress& p) { bar.update(p); };
  auto report = coach::ingest_into(*app->store, *app->vectors, args.store, std::move(batch), options);
  bar.finish();
  if (!report) return fail(report.error());
  if (auto status = app->vectors->save_all(); !status) return fail(status.error());
  for (const auto& failure : report->failures)
    std::cerr << "skipped " << failure.path << ": " << failure.reason << "\n";
  for (const auto& note : report->duplicate_notes)
    std::cerr << "duplicate " << note.path << ": " << note.reason << "\n";
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::cout << fmt::format(
      "{}: {} added, {} updated, {} unchanged, {} duplicates, {} chunks written, {} skipped "
      "({:.2f} MB in {:.2f} s)\n",
      args.store, report->added, report->updated, report->unchanged, report->duplicates, report->chunks,
      report->failures.size(), static_cast<double>(report->bytes) / 1e6, seconds);
  return report->failures.empty() ? 0 : 1;
}

int kb_search(Config config, const SearchArgs& args) {
  if (args.k < 1 || args.k > 50) return fail(Error::invalid("--k must be between 1 and 50", "--k"));
  auto mode = index::parse_search_mode(args.mode);
  if (!mode) return fail(mode.error());
  std::optional<index::Filter> filter;
  if (!args.filter.empty()) {
    auto json = parse_json(args.filter);
    if (json.is_discarded()) return fail(Error::invalid("--filter is not valid JSON", "--filter"));
    auto parsed = index::Filter::parse(json);
    if (!parsed) {
      Error error = parsed.error();
      error.message = "--filter: " + error.message + (error.param.empty() ? "" : " (at " + error.param + ")");
      return fail(error);
    }
    filter = std::move(parsed).value();
  }
  auto app = build_knowledge(std::move(config), 2);
  if (!app) return fail(app.error());
  for (const auto& name : args.stores) {
    if (auto store = existing_store(*app->store, name); !store) return fail(store.error());
  }
  int exit_status = 0;
  std::string line;
  for (int number = 1; std::getline(std::cin, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string id = std::to_string(number);
    std::string text = line;
    if (line.front() == '{') {
      auto json = parse_json(line);
      if (!json.is_object() || !json.contains("query") || !json["query"].is_string()) {
        std::cerr << "brandcoach: line " << number << ": expected {\"id\": …, \"query\": \"…\"}\n";
        exit_status = 2;
        continue;
      }
      text = json["query"].get<std::string>();
      if (json.contains("id"))
        id = json["id"].is_string() ? json["id"].get<std::string>() : json["id"].dump();
    }
    index::Query query;
    query.text = text;
    query.stores = args.stores;
    query.limit = args.k;
    query.mode = *mode;
    query.filter = filter;
    query.score_threshold = args.score_threshold;
    query.lexical_weight = app->config.retrieval.lexical_weight;
    query.dense_weight = app->config.retrieval.dense_weight;
    auto results = app->retriever->retrieve(query);
    if (!results) return fail(results.error());
    nlohmann::json out = {{"query_id", id}, {"results", nlohmann::json::array()}};
    for (const auto& p : *results) {
      out["results"].push_back({{"id", result_id(p)},
                                {"store", p.store},
                                {"chunk", p.chunk_id},
                                {"score", p.score},
                                {"heading", p.heading},
                                {"page", p.page},
                                {"text", p.text}});
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return exit_status;
}

int kb_stats(Config config) {
  auto app = build_knowledge(std::move(config), 1);
  if (!app) return fail(app.error());
  auto stores = app->store->list_knowledge_stores();
  if (!stores) return fail(stores.error());
  std::cout << fmt::format("{:<20} {:>7} {:>8} {:>12} {:>8}  {}\n", "store", "files", "chunks", "bytes",
                           "version", "embedder");
  for (const auto& s : *stores) {
    std::cout << fmt::format("{:<20} {:>7} {:>8} {:>12} {:>8}  {}\n", s.name, s.files, s.chunks, s.bytes,
                             s.version, s.embedder.empty() ? "-" : s.embedder);
  }
  return 0;
}

int kb_list(Config config, const std::string& store_name) {
  auto app = build_knowledge(std::move(config), 1);
  if (!app) return fail(app.error());
  auto store = existing_store(*app->store, store_name);
  if (!store) return fail(store.error());
  auto files = app->store->list_files(store->id);
  if (!files) return fail(files.error());
  for (const auto& f : *files) {
    std::cout << nlohmann::json{{"id", f.id},
                                {"filename", f.filename},
                                {"external_id", f.external_id},
                                {"title", f.title},
                                {"format", f.format},
                                {"bytes", f.bytes},
                                {"chunks", f.chunks},
                                {"attributes", parse_json(f.attributes_json)}}
                     .dump()
              << "\n";
  }
  return 0;
}

int kb_delete(Config config, const std::string& store_name, const std::vector<std::string>& files,
              bool whole_store) {
  if (files.empty() == !whole_store)
    return fail(Error::invalid("give either --file (repeatable) or --all", "--file"));
  auto app = build_knowledge(std::move(config), 1);
  if (!app) return fail(app.error());
  auto store = existing_store(*app->store, store_name);
  if (!store) return fail(store.error());
  if (whole_store) {
    if (auto status = app->store->delete_knowledge_store(store->id); !status) return fail(status.error());
    if (auto status = app->vectors->remove_files(store->id); !status) return fail(status.error());
    std::cout << "deleted store " << store_name << "\n";
    return 0;
  }
  auto listed = app->store->list_files(store->id);
  if (!listed) return fail(listed.error());
  (void)app->vectors->refresh(store_name);  // load before deleting, so deletes update it in place
  int exit_status = 0;
  for (const auto& wanted : files) {
    const auto match = std::find_if(listed->begin(), listed->end(), [&](const store::StoredFile& f) {
      return f.filename == wanted || std::to_string(f.id) == wanted;
    });
    if (match == listed->end()) {
      exit_status = fail(Error::not_found("no file '" + wanted + "' in store " + store_name));
      continue;
    }
    auto removed = app->store->delete_file(match->id);
    if (!removed) return fail(removed.error());
    app->vectors->apply(store_name, {}, *removed);
    std::cout << fmt::format("deleted {} ({} chunks)\n", match->filename, removed->size());
  }
  if (auto status = app->vectors->save_all(); !status) return fail(status.error());
  return exit_status;
}

int kb_reindex(Config config, const std::string& store_name) {
  auto app = build_knowledge(std::move(config), 1);
  if (!app) return fail(app.error());
  const auto started = Clock::now();
  auto count = coach::reindex(*app->store, *app->vectors, store_name);
  if (!count) return fail(count.error());
  if (auto status = app->vectors->save_all(); !status) return fail(status.error());
  std::cout << fmt::format("{}: {} chunks re-embedded with {} in {:.2f} s\n", store_name, *count,
                           app->embedder->id(),
                           std::chrono::duration<double>(Clock::now() - started).count());
  return 0;
}

}  // namespace brandcoach::cli
