// Measures the coach from outside, as a user's client would see it:
//   - cold start: exec of `brandcoach serve` on an empty data dir until /readyz answers 200
//     (includes migrating the database and ingesting the bundled knowledge base), and warm start
//     on the same data dir (nothing to ingest);
//   - turn latency of POST /api/chat over one keep-alive connection, N sequential requests,
//     against GET /healthz on the same connection as the baseline (pure HTTP overhead).
// Usage: chat_bench [requests=1000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/server.hpp"
#include "support/temp_dir.hpp"

using namespace brandcoach::testing;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Reads one response with a Content-Length body from a keep-alive connection.
int read_response(int fd, std::string& pending) {
  char buffer[65536];
  while (true) {
    const auto head_end = pending.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const auto at = pending.find("Content-Length: ");
      const size_t length = std::stoul(pending.substr(at + 16));
      if (pending.size() >= head_end + 4 + length) {
        const int status = std::stoi(pending.substr(9, 3));
        pending.erase(0, head_end + 4 + length);
        return status;
      }
    }
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return -1;
    pending.append(buffer, static_cast<size_t>(n));
  }
}

struct Stats {
  double median, p95, mean;
};

Stats stats(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  double sum = 0;
  for (double s : samples) sum += s;
  return {samples[samples.size() / 2], samples[std::min(samples.size() - 1, samples.size() * 95 / 100)],
          sum / static_cast<double>(samples.size())};
}

std::vector<double> measure(int port, const std::vector<std::string>& requests, int count) {
  const int fd = connect_local(port);
  std::string pending;
  std::vector<double> samples;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    send_all(fd, requests[static_cast<size_t>(i) % requests.size()]);
    const int status = read_response(fd, pending);
    samples.push_back(ms_since(start));
    if (status != 200) {
      std::fprintf(stderr, "request %d failed with status %d\n", i, status);
      std::exit(1);
    }
  }
  close(fd);
  return samples;
}

std::string chat_request(const std::string& message) {
  const std::string body = nlohmann::json{{"message", message}}.dump();
  return "POST /api/chat HTTP/1.1\r\nHost: bench\r\nX-Brandcoach-User: bench\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

double start_until_ready(const std::filesystem::path& dir) {
  const auto start = Clock::now();
  ServerProcess server(dir, {"--set", "log.level=warn"});
  while (request(server.port(), "GET", "/readyz").status != 200) {
  }
  const double elapsed = ms_since(start);
  server.process().signal(SIGTERM);
  server.process().wait();
  return elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::stoi(argv[1]) : 1000;
  TempDir dir;

  const double cold = start_until_ready(dir.path());
  std::vector<double> warm_samples;
  for (int i = 0; i < 5; ++i) warm_samples.push_back(start_until_ready(dir.path()));
  std::printf("cold start (empty data dir, ingest bundled KB) : %.1f ms\n", cold);
  std::printf("warm start (median of 5)                        : %.1f ms\n", stats(warm_samples).median);

  ServerProcess server(dir.path(), {"--set", "log.level=warn"});
  const std::vector<std::string> chats = {
      chat_request("How do I find my ideal customer?"),      chat_request("How should I price my service?"),
      chat_request("Assess my brand strength"),              chat_request("Plan an email campaign for spring"),
      chat_request("What's my brand story?"),                chat_request("Where do I start?"),
  };
  const std::vector<std::string> health = {"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"};
  measure(server.port(), chats, 50);  // warm-up
  const auto baseline = stats(measure(server.port(), health, count));
  const auto turns = stats(measure(server.port(), chats, count));
  std::printf("GET /healthz  (%d sequential, keep-alive)       : median %.3f ms, p95 %.3f ms\n", count,
              baseline.median, baseline.p95);
  std::printf("POST /api/chat (%d sequential, keep-alive)      : median %.3f ms, p95 %.3f ms, mean %.3f ms\n",
              count, turns.median, turns.p95, turns.mean);
  std::printf("chat / healthz ratio                            : median %.1fx, p95 %.1fx\n",
              turns.median / baseline.median, turns.p95 / baseline.p95);
  server.process().signal(SIGTERM);
  return server.process().wait();
}
