// brandcoach ingest: documents from disk, read and checked, ready to be chunked and stored.
//
// Readers never abort a batch: a file that cannot be read is reported with its reason and skipped.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "brandcoach/core/core.hpp"

namespace brandcoach::ingest {

/// A readable document: its name within the batch (relative to the folder it was found in),
/// its text (valid UTF-8) and the content hash used to detect changes.
struct Document {
  std::string filename;
  std::string text;
  std::string sha256;
  size_t bytes = 0;
};

/// A file that was skipped, and why.
struct Failure {
  std::string path;
  std::string reason;
};

struct Batch {
  std::vector<Document> documents;
  std::vector<Failure> failures;
};

/// Largest file a reader accepts; anything bigger is reported, not read.
inline constexpr size_t kMaxDocumentBytes = 32u << 20;

/// True for the extensions this build can read (.md, .markdown, .txt).
bool is_supported(const std::filesystem::path& path);

/// Reads one file as a document named `name`.
Result<Document> read_document(const std::filesystem::path& path, std::string name);

/// Reads files and folders (recursively, in name order). Unsupported or broken files become failures;
/// hidden files and folders are ignored.
Batch read_paths(const std::vector<std::filesystem::path>& paths);

}  // namespace brandcoach::ingest
