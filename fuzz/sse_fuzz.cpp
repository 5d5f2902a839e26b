// The LLM client's server-sent events parser. The input's first byte picks the event bound (even: the
// default 4 MiB; odd: a small one, 1 to 128 bytes), the next three the positions the stream is cut at,
// the rest is the stream. Fed whole and fed in the four pieces, a stream must give the same events.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "brandcoach/llm/llm.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;

namespace {

constexpr size_t kHeader = 4;

bool same(const std::vector<llm::SseEvent>& a, const std::vector<llm::SseEvent>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.event == y.event && x.data == y.data; });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader) return 0;
  const size_t max_event_bytes = data[0] % 2 == 0 ? size_t{4} << 20 : size_t{1} + (data[0] >> 1);
  const std::string_view stream = fuzz::as_text(data + kHeader, size - kHeader);
  std::array<size_t, 5> cuts = {0, data[1] % (stream.size() + 1), data[2] % (stream.size() + 1),
                                data[3] % (stream.size() + 1), stream.size()};
  std::sort(cuts.begin(), cuts.end());

  llm::SseParser whole_parser(max_event_bytes);
  auto whole = whole_parser.feed(stream);

  llm::SseParser pieces_parser(max_event_bytes);
  std::vector<llm::SseEvent> pieces;
  bool failed = false;
  for (size_t i = 0; i + 1 < cuts.size() && !failed; ++i) {
    auto events = pieces_parser.feed(stream.substr(cuts[i], cuts[i + 1] - cuts[i]));
    if (!events) {
      failed = true;
    } else {
      pieces.insert(pieces.end(), events->begin(), events->end());
    }
  }
  // A bound may be met at a different point in pieces (an unfinished line is checked at the end of
  // each feed), so only streams read fully both ways are compared.
  if (whole && !failed && !same(*whole, pieces)) __builtin_trap();
  if (whole) {
    for (const auto& event : *whole) {
      if (event.data.size() > max_event_bytes) __builtin_trap();
    }
  }
  return 0;
}
