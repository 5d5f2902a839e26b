// What the document reader targets share: the two sets of bounds every input is read with, and the
// chunking that follows a successful read in ingestion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/text/text.hpp"
#include "fuzz_support.hpp"

namespace brandcoach::fuzz {

/// The defaults, then bounds small enough that most inputs reach them, so every limit's path is fuzzed.
inline std::vector<ingest::Limits> reader_limits() {
  ingest::Limits small;
  small.max_file_bytes = 64 * 1024;
  small.max_text_bytes = 64;
  small.max_uncompressed_bytes = 4096;
  small.max_compression_ratio = 4;
  small.max_pages = 2;
  small.max_page_bytes = 32;
  small.max_records = 2;
  return {ingest::Limits{}, small};
}

/// What ingestion does next with a document: its blocks chunked, with the default and the smallest
/// chunk sizes.
inline void chunk(const ingest::Document& document) {
  (void)text::chunk_blocks(document.blocks);
  (void)text::chunk_blocks(document.blocks, text::ChunkOptions{100, 50});
}

/// The body of a reader target: the input read with each set of bounds, and what it yields chunked.
template <typename Read>
void read_and_chunk(const uint8_t* data, size_t size, Read read) {
  const auto bytes = as_text(data, size);
  for (const auto& limits : reader_limits()) {
    if (auto doc = read(bytes, limits)) chunk(*doc);
  }
}

}  // namespace brandcoach::fuzz
