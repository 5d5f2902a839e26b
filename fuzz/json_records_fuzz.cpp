// The JSON reader (one record object or an array of them) and the JSONL path (one record a line, as an
// uploaded .jsonl file is read), with default and small bounds, and the chunker over what they read.
#include <cstdint>

#include "fuzz_ingest.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = fuzz::as_text(data, size);
  for (const auto& limits : fuzz::reader_limits()) {
    if (auto docs = ingest::read_json(bytes, limits)) {
      for (const auto& doc : *docs) fuzz::chunk(doc);
    }
    if (auto docs = ingest::read_document("records.jsonl", "records.jsonl", bytes, limits)) {
      for (const auto& doc : *docs) fuzz::chunk(doc);
    }
  }
  return 0;
}
