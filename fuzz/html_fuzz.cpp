// The HTML reader (libxml2) with default and small bounds, and the chunker over what it reads.
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
                       [](auto bytes, const auto& limits) { return ingest::read_html(bytes, limits); });
  return 0;
}
