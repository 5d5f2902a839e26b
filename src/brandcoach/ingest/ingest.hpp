// brandcoach ingest: documents from disk, read and checked, ready to be chunked and stored.
//
// One reader per format turns a file into text::Blocks (headings, paragraphs, pages). Readers never
// abort a batch: a file that cannot be read is reported with its reason and skipped. Every reader is
// bounded (file size, decompressed size, pages, characters) so a hostile file costs little.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/core/core.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::ingest {

/// A readable document.
struct Document {
  std::string filename;     // its name in the store: path relative to the folder it was found in;
                            // for a JSON/JSONL record "<file>#<id>"
  std::string external_id;  // the record's "id" for JSON/JSONL input, empty otherwise
  std::string title;        // first heading, <title>, or the record's "title"; may be empty
  std::vector<text::Block> blocks;
  nlohmann::json attributes = nlohmann::json::object();  // markdown front matter / record "attributes"
  std::string sha256;  // of the source bytes (for a record: of its JSON line) — used for dedup
  size_t bytes = 0;    // size of the source bytes
  std::string format;  // md | txt | html | pdf | docx | json | jsonl
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

/// Bounds every reader enforces. Exceeding one skips the file with a reason naming the bound.
struct Limits {
  size_t max_file_bytes = 64u << 20;           // on-disk size
  size_t max_text_bytes = 32u << 20;           // extracted text per document
  size_t max_uncompressed_bytes = 256u << 20;  // DOCX: total of all zip entries read
  size_t max_compression_ratio = 200;          // DOCX: uncompressed/compressed per entry (zip bombs)
  size_t max_pages = 5000;                     // PDF
  size_t max_page_bytes = 1u << 20;            // PDF: text of one page
  size_t max_records = 1000000;                // JSON/JSONL records per file
};

/// True for the extensions this build can read: .md .markdown .txt .html .htm .pdf .docx .json .jsonl
bool is_supported(const std::filesystem::path& path);

/// Reads one file, named `name` in the store. JSON arrays and JSONL files yield one document per
/// record; every other format yields exactly one.
Result<std::vector<Document>> read_file(const std::filesystem::path& path, const std::string& name,
                                        const Limits& limits = {});

/// Reads bytes already in memory (an upload) as the format `format_from`'s extension names, as
/// read_file does; the documents are named `name`.
Result<std::vector<Document>> read_document(const std::string& name, const std::string& format_from,
                                            std::string_view bytes, const Limits& limits = {});

/// Reads files, folders (recursively, in name order) and glob patterns ("docs/*.pdf").
/// Hidden files and folders are ignored.
Batch read_paths(const std::vector<std::string>& paths, const Limits& limits = {});

/// Reads a JSONL file of records {"id": "...", "text": "...", "title"?: "...", "attributes"?: {...}};
/// a bad line is a failure naming the line number, the other lines are still read.
Batch read_jsonl_records(const std::filesystem::path& path, const Limits& limits = {});

// Format readers, exposed for tests and fuzzing. Each takes the file's bytes.
Result<Document> read_markdown(std::string_view bytes, const Limits& limits);  // front matter -> attributes
Result<Document> read_text(std::string_view bytes, const Limits& limits);
Result<Document> read_html(std::string_view bytes, const Limits& limits);
Result<Document> read_pdf(std::string_view bytes, const Limits& limits);
Result<Document> read_docx(std::string_view bytes, const Limits& limits);
Result<std::vector<Document>> read_json(std::string_view bytes, const Limits& limits);  // object or array

}  // namespace brandcoach::ingest
