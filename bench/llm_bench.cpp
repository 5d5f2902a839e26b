// Measures the generation stage: the offline composer's latency per assistant on prompts built from
// the bundled knowledge base, and what the provider layer adds to one model call (JSON request,
// SSE and chunk parsing, breaker and queue, fallback wrapper) over a bare HTTP exchange with the same
// fake model on loopback, measured in the same run.
// Usage: llm_bench [rounds=400] [calls=300]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "brandcoach/llm/llm.hpp"
#include "brandcoach/net/net.hpp"
#include "support/fake_openai_server.hpp"

namespace llm = brandcoach::llm;
namespace net = brandcoach::net;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

std::string read(const fs::path& path, size_t limit) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().substr(0, limit);
}

// Five passages of about 700 tokens from the assistant's bundled knowledge, a full profile and a
// thread of earlier replies: the prompt a busy user's turn hands the composer.
llm::Prompt prompt_for(const std::string& assistant, const std::string& message) {
  llm::Prompt p;
  p.assistant = assistant;
  p.assistant_title = assistant;
  p.user_message = message;
  p.user_name = "Ana";
  std::vector<fs::path> files;
  for (const auto& entry :
       fs::directory_iterator(fs::path(BRANDCOACH_SOURCE_DATA_DIR) / "knowledge" / assistant))
    files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i < files.size() && i < 5; ++i)
    p.sources.push_back({assistant, files[i].filename().string(), "", read(files[i], 3500)});
  p.profile = {{"company", "Company", "personal", "Brightside Bakery"},
               {"target_market", "Target market", "business", "busy parents in Leeds"},
               {"usp", "What makes you different", "brand", "sourdough baked overnight"},
               {"competitors", "Competitors", "business", "Greggs"},
               {"challenges", "Challenges", "business", "inconsistent posting"},
               {"goals", "Goals", "business", "open a second shop"},
               {"price", "Price", "business", "£4.50 (loaf)"},
               {"values", "Values", "brand", "craft"}};
  p.next_steps = {"What would you like to work on next?"};
  for (int i = 0; i < 10; ++i)
    p.earlier_replies.push_back("An earlier answer. **Next step:** Question " + std::to_string(i));
  return p;
}

void composer(int rounds) {
  auto composer = llm::make_offline_composer();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"diagnostic", "How strong is my brand against my competitors?"},
      {"avatar", "Who is my ideal customer and what do they struggle with?"},
      {"canvas", "How should I price my products and which channels should I use?"},
      {"capture", "What content should I post next month?"},
      {"core", "Help me write my mission, vision and values"}};
  std::printf("offline composer (5 passages of ~700 tokens, 8 facts, %d rounds each):\n", rounds);
  std::vector<double> all;
  for (const auto& [assistant, message] : cases) {
    const auto p = prompt_for(assistant, message);
    std::vector<double> micros;
    size_t bytes = 0;
    for (int i = 0; i < rounds; ++i) {
      const auto begin = Clock::now();
      auto completion =
          composer->generate(p, {0.7, 800, "", {}}, [&](std::string_view d) { bytes += d.size(); });
      micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
      if (!completion) std::abort();
    }
    all.insert(all.end(), micros.begin(), micros.end());
    std::printf("  %-10s p50 %7.1f us  p95 %7.1f us  p99 %7.1f us  (%zu bytes streamed per answer)\n",
                assistant.c_str(), percentile(micros, 0.5), percentile(micros, 0.95),
                percentile(micros, 0.99), bytes / static_cast<size_t>(rounds));
  }
  std::printf("  %-10s p50 %7.1f us  p95 %7.1f us\n", "all", percentile(all, 0.5), percentile(all, 0.95));
}

void provider_layer(int calls) {
  using brandcoach::testing::FakeOpenAiServer;
  brandcoach::testing::ModelScript script;
  script.pieces = std::vector<std::string>(40, "word ");
  FakeOpenAiServer server(brandcoach::testing::chat_handler([&](const nlohmann::json&) { return script; }));
  const auto p = prompt_for("canvas", "How should I price my products?");

  llm::ModelOptions options;
  options.base_url = server.base_url();
  options.model = "bench-model";
  options.upstream = std::make_shared<net::Upstream>("bench", net::UpstreamOptions{});
  auto provider = llm::make_fallback_provider(llm::make_chat_provider(options), llm::make_offline_composer());
  // The same exchange without the provider layer: the request body made once, the answer's bytes
  // counted, nothing parsed; a kept connection, as the provider keeps its own.
  const std::string body =
      nlohmann::json{{"model", "bench-model"},
                     {"stream", true},
                     {"messages", {{{"role", "user"}, {"content", llm::model_turn_input(p)}}}}}
          .dump();
  net::Client bare(server.base_url(), {});

  std::vector<double> bare_us, layer_us;
  for (int i = 0; i < calls; ++i) {
    // Interleaved, so both see the same machine state.
    auto begin = Clock::now();
    size_t bytes = 0;
    auto status = bare.post_stream("chat/completions", body, "bench", [&](std::string_view b) {
      bytes += b.size();
      return true;
    });
    bare_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
    begin = Clock::now();
    auto completion = provider->generate(p, {0.7, 800, "", {}}, [&](std::string_view) {});
    layer_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - begin).count());
    if (!status || !completion || completion->degraded) std::abort();
  }
  const double bare50 = percentile(bare_us, 0.5), layer50 = percentile(layer_us, 0.5);
  std::printf(
      "provider layer (chat provider + fallback + breaker/queue, 40 streamed chunks, %d calls, loopback):\n",
      calls);
  std::printf("  bare HTTP exchange   p50 %7.1f us  p95 %7.1f us\n", bare50, percentile(bare_us, 0.95));
  std::printf("  through the provider p50 %7.1f us  p95 %7.1f us\n", layer50, percentile(layer_us, 0.95));
  std::printf("  overhead per call    p50 %7.1f us  (x%.2f of the bare exchange)\n", layer50 - bare50,
              layer50 / bare50);
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 400;
  const int calls = argc > 2 ? std::max(1, std::atoi(argv[2])) : 300;
  composer(rounds);
  provider_layer(calls);
  return 0;
}
