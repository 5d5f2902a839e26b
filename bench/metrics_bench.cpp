// What the metrics cost a turn, measured in one run:
//   - whole turns (Coach::turn, offline composer, bundled knowledge base) with the metrics a served
//     turn records (its memory operations, observe_turn, observe_request, the in-flight gauge) and
//     without, interleaved in blocks so drift in the machine hits both alike: medians and the ratio;
//   - the metrics alone, as one served turn records them, on 1 and 2 threads: ns per turn's worth,
//     and that against the turn's median;
//   - rendering /metrics with every label set a busy server has.
// Usage: metrics_bench [--turns=N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "brandcoach/coach/coach.hpp"
#include "brandcoach/obs/obs.hpp"
#include "support/temp_dir.hpp"

using namespace brandcoach;
using Clock = std::chrono::steady_clock;

namespace {

double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double p95(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, v.size() * 95 / 100)];
}

// What serving one turn records besides the turn: as the coach's observer, the handler and the server do.
void record_turn(obs::Metrics& metrics, const coach::TurnResult& result, double seconds) {
  metrics.request_started();
  metrics.count_memory_operation("extract", "ok");
  metrics.count_memory_operation("recall", "ok");
  metrics.observe_turn({result.assistant, result.route.method, result.provider, result.usage.input_tokens,
                        result.usage.output_tokens, result.cost_usd, result.degraded, result.new_session,
                        seconds, result.route.confidence});
  metrics.observe_request("/api/chat", "POST", 200, seconds);
  metrics.request_finished();
}

}  // namespace

int main(int argc, char** argv) {
  size_t turns = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--turns=", 8) == 0) turns = std::stoul(argv[i] + 8);
  }
  testing::TempDir dir;
  auto opened = store::open_sqlite({(dir.path() / "bench.sqlite3").string(), 4, 10000});
  if (!opened) return 1;
  auto& db = **opened;
  auto assistants = coach::AssistantRegistry::load(coach::bundled_data_dir() / "assistants.toml");
  if (!assistants) return 1;
  auto embedder = embed::make_hashing_embedder();
  index::KnowledgeIndexes vectors(db, *embedder, dir.path() / "index");
  if (!coach::sync_knowledge(db, vectors, *assistants, coach::bundled_data_dir() / "knowledge")) return 1;
  index::HybridRetriever retriever(db, vectors);
  route::KeywordRouter router;
  auto provider = llm::make_offline_composer();
  coach::Coach coach(db, retriever, router, *provider, std::move(assistants).value(), {});
  obs::Metrics metrics;
  coach.on_memory_operation(
      [&](std::string_view op, std::string_view status) { metrics.count_memory_operation(op, status); });
  coach::Coach bare(db, retriever, router, *provider,
                    coach::AssistantRegistry::load(coach::bundled_data_dir() / "assistants.toml").value(),
                    {});

  const std::vector<std::string> messages = {
      "Our candles cost $24 each now.", "How do I describe my ideal customer?", "We're a team of 9 now.",
      "What should go in our brand story?", "How should I price a subscription box?"};
  std::vector<double> with, without;
  // Blocks of 50 turns, alternating, each user's thread growing alike on both sides.
  for (size_t done = 0; done < turns;) {
    for (int side = 0; side < 2; ++side) {
      for (size_t i = 0; i < 50 && done + i < turns; ++i) {
        const auto& message = messages[(done + i) % messages.size()];
        const auto start = Clock::now();
        if (side == 0) {
          auto result = coach.turn("with-metrics", message);
          if (!result) return 1;
          record_turn(metrics, *result, us_since(start) / 1e6);
          with.push_back(us_since(start));
        } else {
          auto result = bare.turn("without-metrics", message);
          if (!result) return 1;
          without.push_back(us_since(start));
        }
      }
    }
    done += 50;
  }
  const double with_median = median(with);
  const double without_median = median(without);
  std::printf("turns: %zu with metrics, %zu without (interleaved blocks of 50)\n", with.size(),
              without.size());
  std::printf("turn with metrics    : p50 %8.1f us  p95 %8.1f us\n", with_median, p95(with));
  std::printf("turn without metrics : p50 %8.1f us  p95 %8.1f us\n", without_median, p95(without));
  std::printf("ratio with/without (p50): %.3f\n", with_median / without_median);

  // The metrics alone: one served turn's worth of observations, on 1 and 2 threads.
  coach::TurnResult sample;
  sample.assistant = "canvas";
  sample.route.method = "classifier";
  sample.route.confidence = 0.9;
  sample.provider = "offline";
  sample.usage.output_tokens = 120;
  for (const int threads : {1, 2}) {
    obs::Metrics alone;
    constexpr int kRounds = 200000;
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int i = 0; i < kRounds; ++i) record_turn(alone, sample, 0.003);
      });
    }
    for (auto& w : workers) w.join();
    const double ns = us_since(start) * 1000 / kRounds;  // wall time per round of every thread
    std::printf(
        "metrics of one turn, %d thread%s: %.0f ns per turn (%.4f%% of the turn's p50 without metrics)\n",
        threads, threads > 1 ? "s" : "", ns, 100 * ns / 1000 / without_median);
  }

  // Rendering, with the label sets of a busy server.
  obs::Metrics busy;
  for (int r = 0; r < 60; ++r)
    for (const int status : {200, 400, 404, 500})
      busy.observe_request("/route/" + std::to_string(r), "GET", status, 0.01);
  for (const char* a : {"diagnostic", "avatar", "canvas", "capture", "core"})
    for (const char* m : {"keyword", "classifier", "sticky", "fallback"})
      busy.observe_turn({a, m, "chat", 10, 10, 0.001, false, false, 0.5, 0.7});
  std::vector<double> render_us;
  size_t bytes = 0;
  for (int i = 0; i < 200; ++i) {
    const auto start = Clock::now();
    bytes = busy.render().size();
    render_us.push_back(us_since(start));
  }
  std::printf("render /metrics (%zu bytes): p50 %.0f us\n", bytes, median(render_us));
  return 0;
}
