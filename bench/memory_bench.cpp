// Measures the memory tiers on a user with a long thread:
//   - fact extraction per message (the inline rule extractor) and observe (extract + version + write);
//   - memory search p50/p95 for a user with N messages (hybrid: BM25 candidates re-ranked), against
//     the store's BM25 search alone as the baseline, with other users' messages in the same tables;
//   - recall of "what did I tell you about …" questions;
//   - the memory stage of Coach::turn and the whole turn, for that user (offline composer, bundled
//     knowledge base, keyword router).
// Usage: memory_bench [--messages=10000] [--queries=500] [--turns=300] [--seed=7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/memory/memory.hpp"
#include "support/temp_dir.hpp"

using namespace brandcoach;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  size_t messages = 10000;
  size_t queries = 500;
  size_t turns = 300;
  unsigned seed = 7;
};

double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Latency {
  double p50 = 0, p95 = 0, p99 = 0;
};

Latency latency(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return samples[std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()))];
  };
  return {at(0.5), at(0.95), at(0.99)};
}

const std::vector<std::string> kCities = {"Leeds",  "Porto", "Lagos",   "Pune",
                                          "Denver", "Kyoto", "Cardiff", "Galway"};
const std::vector<std::string> kThings = {"sourdough",    "candles",   "mugs",    "tacos",    "haircuts",
                                          "yoga classes", "tote bags", "lessons", "bouquets", "coffee beans"};
const std::vector<std::string> kRivals = {"Acme", "Bolt", "Crumb Theory", "Zephyr", "Northwind", "Blue Fern"};
const std::vector<std::string> kFiller = {
    "I keep thinking about how our brand sounds on Instagram compared with the shop window.",
    "Can you help me write a short story about why we started?",
    "Customers keep asking whether we deliver on weekends, which we do not yet.",
    "What would a customer journey map look like for someone buying a gift?",
    "We had a busy weekend at the market and ran out of stock by noon.",
    "I am not sure whether our logo works in black and white.",
    "Our newsletter open rate dropped a little this month.",
    "How do I pick three brand values that are not generic?",
};

std::string synthetic_message(std::mt19937& rng, size_t i) {
  auto pick = [&](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
  switch (i % 6) {
    case 0:
      return "We're based in " + pick(kCities) + " and our " + pick(kThings) + " cost $" +
             std::to_string(5 + rng() % 60) + " each.";
    case 1:
      return "Our main competitors are " + pick(kRivals) + " and " + pick(kRivals) + ".";
    case 2:
      return "We're a team of " + std::to_string(2 + rng() % 20) + " now, mostly part time.";
    default:
      return pick(kFiller) + " " + pick(kFiller);
  }
}

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> std::optional<size_t> {
      const std::string prefix = std::string("--") + name + "=";
      if (arg.rfind(prefix, 0) != 0) return std::nullopt;
      return std::stoul(arg.substr(prefix.size()));
    };
    if (auto v = value("messages"))
      o.messages = *v;
    else if (auto v = value("queries"))
      o.queries = *v;
    else if (auto v = value("turns"))
      o.turns = *v;
    else if (auto v = value("seed"))
      o.seed = static_cast<unsigned>(*v);
    else {
      std::fprintf(stderr,
                   "usage: memory_bench [--messages=10000] [--queries=500] [--turns=300] [--seed=7]\n");
      return std::nullopt;
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) return 2;
  std::mt19937 rng(options->seed);
  testing::TempDir dir;
  auto opened = store::open_sqlite({(dir / "bench.sqlite3").string(), 4, 10000});
  if (!opened) {
    std::fprintf(stderr, "cannot open store: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& db = **opened;
  memory::Memory memory(db);
  memory::FactExtractor extractor;

  // The user under test and five others whose messages share the tables and the full-text index.
  auto user = *db.ensure_user("bench-user");
  std::vector<double> extract_us, observe_us;
  const auto write_thread = [&](const store::User& who, size_t count, bool measure) {
    std::vector<store::Message> batch;
    for (size_t i = 0; i < count; ++i) {
      store::Message m;
      m.user_id = who.id;
      m.role = i % 2 == 0 ? "user" : "assistant";
      m.text = synthetic_message(rng, i / 2);
      m.created_at = 1700000000000 + static_cast<int64_t>(i) * 60000;
      batch.push_back(std::move(m));
      if (batch.size() == 500 || i + 1 == count) {
        auto stored = db.append_messages(std::move(batch));
        batch.clear();
        if (!stored) {
          std::fprintf(stderr, "append failed: %s\n", stored.error().message.c_str());
          std::exit(1);
        }
        for (const auto& s : *stored) {
          if (s.role != "user") continue;
          auto start = Clock::now();
          auto facts = extractor.extract(s.text);
          if (measure) extract_us.push_back(us_since(start));
          start = Clock::now();
          auto observed = memory.observe(s);
          if (measure) observe_us.push_back(us_since(start));
          if (!observed) std::exit(1);
        }
      }
    }
  };
  auto start = Clock::now();
  write_thread(user, options->messages, true);
  for (int other = 0; other < 5; ++other)
    write_thread(*db.ensure_user("other-" + std::to_string(other)), 2000, false);
  std::printf("memory: wrote %zu messages for the user under test + 10000 for 5 other users in %.1f s\n",
              options->messages, us_since(start) / 1e6);
  auto facts = db.list_facts(user.id, true);
  std::printf("memory: the user has %zu fact versions (%zu current)\n", facts->size(),
              static_cast<size_t>(std::count_if(facts->begin(), facts->end(),
                                                [](const store::Fact& f) { return f.status == "active"; })));
  auto report = [](const char* what, const std::vector<double>& samples, const char* unit, double scale) {
    const auto l = latency(samples);
    std::printf("memory: %-52s p50 %8.1f %s  p95 %8.1f %s  p99 %8.1f %s  (%zu samples)\n", what,
                l.p50 / scale, unit, l.p95 / scale, unit, l.p99 / scale, unit, samples.size());
    return l;
  };
  report("rule extraction per user message", extract_us, "us", 1);
  report("observe (extract + version + write) per message", observe_us, "us", 1);

  const std::vector<std::string> questions = {"where are we based",      "how much do the candles cost",
                                              "who are our competitors", "team size part time",
                                              "newsletter open rate",    "logo black and white",
                                              "weekend delivery",        "why we started story",
                                              "customer journey gift",   "market stock noon"};
  std::vector<double> lexical_us, hybrid_us;
  for (size_t i = 0; i < options->queries; ++i) {
    const auto& q = questions[i % questions.size()];
    auto t = Clock::now();
    auto lexical = db.search_messages(user.id, q, 10);
    lexical_us.push_back(us_since(t));
    t = Clock::now();
    auto hybrid = memory.search(user.id, q, 10);
    hybrid_us.push_back(us_since(t));
    if (!lexical || !hybrid) return 1;
  }
  const auto base = report("store BM25 search, k=10 (baseline)", lexical_us, "ms", 1000);
  const auto hybrid = report("memory search (hybrid), k=10", hybrid_us, "ms", 1000);
  std::printf("memory: hybrid / BM25 p50 ratio %.2fx, p95 ratio %.2fx\n", hybrid.p50 / base.p50,
              hybrid.p95 / base.p95);

  std::vector<double> recall_us;
  const std::vector<std::string> asks = {"Remind me where we're based?", "What did I say the candles cost?",
                                         "Who did I say our competitors are?",
                                         "How big did I say the team is?"};
  for (size_t i = 0; i < options->queries; ++i) {
    const auto& q = asks[i % asks.size()];
    auto t = Clock::now();
    auto recalled = memory.recall(user.id, memory::recall_request(q), q, 0);
    recall_us.push_back(us_since(t));
    if (!recalled) return 1;
  }
  report("recall of a memory question (facts + history)", recall_us, "ms", 1000);

  // The whole turn for this user: the memory stage against the total.
  auto assistants = coach::AssistantRegistry::load(coach::bundled_data_dir() / "assistants.toml");
  if (!assistants) return 1;
  auto embedder = embed::make_hashing_embedder();
  index::KnowledgeIndexes vectors(db, *embedder, dir / "index");
  if (!coach::sync_knowledge(db, vectors, *assistants, coach::bundled_data_dir() / "knowledge")) return 1;
  index::HybridRetriever retriever(db, vectors);
  route::KeywordRouter router;
  auto provider = llm::make_offline_composer();
  coach::Coach coach(db, retriever, router, *provider, std::move(assistants).value(), {});
  std::vector<double> memory_ms, total_ms;
  const std::vector<std::string> turns = {
      "Our candles cost $24 each now.", "Remind me who our competitors are?",
      "How do I describe my ideal customer?", "We're a team of 9 now.", "What should go in our brand story?"};
  for (size_t i = 0; i < options->turns; ++i) {
    auto result = coach.turn("bench-user", turns[i % turns.size()]);
    if (!result) {
      std::fprintf(stderr, "turn failed: %s\n", result.error().message.c_str());
      return 1;
    }
    memory_ms.push_back(result->timings_ms["memory"] * 1000);
    total_ms.push_back(result->timings_ms["total"] * 1000);
  }
  const auto mem = report("Coach::turn memory stage", memory_ms, "ms", 1000);
  const auto total = report("Coach::turn total (everything but an LLM)", total_ms, "ms", 1000);
  std::printf("memory: memory stage share of the turn: p50 %.0f%%, p95 %.0f%%\n", 100 * mem.p50 / total.p50,
              100 * mem.p95 / total.p95);
  return 0;
}
