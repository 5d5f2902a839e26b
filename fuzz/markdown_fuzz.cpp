// The markdown reader (front matter, headings, fenced code) and the plain-text reader, with default and
// small bounds, and the chunker over what they read.
#include <cstdint>

#include "fuzz_ingest.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::read_and_chunk(data, size,
                       [](auto bytes, const auto& limits) { return ingest::read_markdown(bytes, limits); });
  fuzz::read_and_chunk(data, size,
                       [](auto bytes, const auto& limits) { return ingest::read_text(bytes, limits); });
  return 0;
}
