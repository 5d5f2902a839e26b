// `brandcoach eval retrieval`: ranking quality of each search mode against TREC-style judgements.
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "brandcoach/cli/app.hpp"

namespace brandcoach::cli {

namespace {

struct EvalQuery {
  std::string id;
  std::string text;
  std::vector<std::string> stores;
};

using Judgements = std::map<std::string, std::map<std::string, int>>;  // query -> doc -> relevance

Result<std::vector<EvalQuery>> read_queries(const std::string& path,
                                            const std::vector<std::string>& default_stores) {
  std::ifstream in(path);
  if (!in) return Error::invalid("cannot read " + path, "--queries");
  std::vector<EvalQuery> out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto json = parse_json(line);
    if (!json.is_object() || !json.contains("id") || !json.contains("query") || !json["query"].is_string()) {
      return Error::invalid(fmt::format("{}:{}: expected {{\"id\", \"query\", \"store\"?}}", path, number),
                            "--queries");
    }
    EvalQuery q;
    q.id = json["id"].is_string() ? json["id"].get<std::string>() : json["id"].dump();
    q.text = json["query"].get<std::string>();
    q.stores = default_stores;
    if (json.contains("store") && json["store"].is_string()) q.stores = {json["store"].get<std::string>()};
    if (q.stores.empty())
      return Error::invalid(fmt::format("{}:{}: no store (add --store)", path, number), "--store");
    out.push_back(std::move(q));
  }
  return out;
}

Result<Judgements> read_qrels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::invalid("cannot read " + path, "--qrels");
  Judgements out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream fields(line);
    std::string query, iteration, doc;
    int relevance = 0;
    if (!(fields >> query >> iteration >> doc >> relevance)) {
      return Error::invalid(fmt::format("{}:{}: expected `query_id 0 doc_id relevance`", path, number),
                            "--qrels");
    }
    out[query][doc] = relevance;
  }
  return out;
}

struct Scores {
  double ndcg10 = 0, mrr10 = 0, recall10 = 0, recall100 = 0;
};

// Graded nDCG (gain 2^rel - 1), MRR of the first relevant document, and recall, over a ranked list
// of distinct document ids.
Scores score(const std::vector<std::string>& ranked, const std::map<std::string, int>& relevant) {
  Scores s;
  double dcg = 0;
  for (size_t i = 0; i < ranked.size() && i < 10; ++i) {
    auto it = relevant.find(ranked[i]);
    if (it == relevant.end() || it->second <= 0) continue;
    dcg += (std::pow(2.0, it->second) - 1) / std::log2(static_cast<double>(i) + 2);
    if (s.mrr10 == 0) s.mrr10 = 1.0 / static_cast<double>(i + 1);
  }
  std::vector<int> ideal;
  for (const auto& [doc, rel] : relevant) {
    if (rel > 0) ideal.push_back(rel);
  }
  std::sort(ideal.rbegin(), ideal.rend());
  double idcg = 0;
  for (size_t i = 0; i < ideal.size() && i < 10; ++i)
    idcg += (std::pow(2.0, ideal[i]) - 1) / std::log2(static_cast<double>(i) + 2);
  s.ndcg10 = idcg > 0 ? dcg / idcg : 0;
  const auto recall_at = [&](size_t k) {
    if (ideal.empty()) return 0.0;
    size_t found = 0;
    for (size_t i = 0; i < ranked.size() && i < k; ++i) {
      auto it = relevant.find(ranked[i]);
      found += it != relevant.end() && it->second > 0 ? 1 : 0;
    }
    return static_cast<double>(found) / static_cast<double>(ideal.size());
  };
  s.recall10 = recall_at(10);
  s.recall100 = recall_at(100);
  return s;
}

}  // namespace

int eval_retrieval(Config config, const EvalArgs& args) {
  auto queries = read_queries(args.queries, args.stores);
  if (!queries) return fail(queries.error());
  auto qrels = read_qrels(args.qrels);
  if (!qrels) return fail(qrels.error());
  std::vector<index::SearchMode> modes;
  for (const auto& name : args.modes) {
    auto mode = index::parse_search_mode(name);
    if (!mode) return fail(mode.error());
    modes.push_back(*mode);
  }
  auto app = build_knowledge(std::move(config), 2);
  if (!app) return fail(app.error());
  if (!args.json) {
    std::cout << fmt::format("{:<8} {:>8} {:>8} {:>10} {:>11} {:>8}\n", "mode", "nDCG@10", "MRR@10",
                             "Recall@10", "Recall@100", "queries");
  }
  for (const auto mode : modes) {
    Scores total;
    size_t judged = 0;
    for (const auto& q : *queries) {
      auto relevant = qrels->find(q.id);
      if (relevant == qrels->end()) continue;  // unjudged queries do not count
      index::Query query;
      query.text = q.text;
      query.stores = q.stores;
      query.limit = 200;  // enough chunks to rank 100 distinct documents
      query.mode = mode;
      query.lexical_weight = app->config.retrieval.lexical_weight;
      query.dense_weight = app->config.retrieval.dense_weight;
      auto results = app->retriever->retrieve(query);
      if (!results) return fail(results.error());
      std::vector<std::string> ranked;
      std::set<std::string> seen;
      for (const auto& p : *results) {
        const std::string id = p.external_id.empty() ? p.filename : p.external_id;
        if (seen.insert(id).second) ranked.push_back(id);
      }
      const auto s = score(ranked, relevant->second);
      total.ndcg10 += s.ndcg10;
      total.mrr10 += s.mrr10;
      total.recall10 += s.recall10;
      total.recall100 += s.recall100;
      ++judged;
    }
    const double n = judged > 0 ? static_cast<double>(judged) : 1.0;
    if (args.json) {
      std::cout << nlohmann::json{{"mode", index::to_string(mode)},    {"ndcg@10", total.ndcg10 / n},
                                  {"mrr@10", total.mrr10 / n},         {"recall@10", total.recall10 / n},
                                  {"recall@100", total.recall100 / n}, {"queries", judged}}
                       .dump()
                << "\n";
    } else {
      std::cout << fmt::format("{:<8} {:>8.3f} {:>8.3f} {:>10.3f} {:>11.3f} {:>8}\n", index::to_string(mode),
                               total.ndcg10 / n, total.mrr10 / n, total.recall10 / n, total.recall100 / n,
                               judged);
    }
  }
  return 0;
}

}  // namespace brandcoach::cli
