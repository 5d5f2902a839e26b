#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::ingest {

namespace fs = std::filesystem;

bool is_supported(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".md" || ext == ".markdown" || ext == ".txt";
}

Result<Document> read_document(const fs::path& path, std::string name) {
  if (!is_supported(path)) {
    return Error::invalid(
        "unsupported format '" + path.extension().string() + "' (supported: .md, .markdown, .txt)",
        path.string());
  }
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return Error::invalid("cannot read: " + ec.message(), path.string());
  if (size > kMaxDocumentBytes) {
    return Error::invalid(fmt::format("too large: {} bytes (limit {})", size, kMaxDocumentBytes),
                          path.string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("cannot open for reading", path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string content = buffer.str();
  if (!text::is_valid_utf8(content)) return Error::invalid("not valid UTF-8 text", path.string());
  if (content.find('\0') != std::string::npos)
    return Error::invalid("contains NUL bytes (binary file?)", path.string());
  if (text::count_tokens(content) == 0) return Error::invalid("empty document", path.string());
  Document doc;
  doc.filename = std::move(name);
  doc.bytes = content.size();
  doc.sha256 = sha256_hex(content);
  doc.text = std::move(content);
  return doc;
}

namespace {

bool hidden(const fs::path& relative) {
  for (const auto& part : relative) {
    if (part.string().starts_with(".")) return true;
  }
  return false;
}

void read_folder(const fs::path& root, Batch& batch) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && !hidden(fs::relative(it->path(), root))) files.push_back(it->path());
  }
  if (ec) batch.failures.push_back({root.string(), "cannot list folder: " + ec.message()});
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto doc = read_document(file, fs::relative(file, root).generic_string());
    if (doc) {
      batch.documents.push_back(std::move(doc).value());
    } else {
      batch.failures.push_back({file.string(), doc.error().message});
    }
  }
}

}  // namespace

Batch read_paths(const std::vector<fs::path>& paths) {
  Batch batch;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      read_folder(path, batch);
    } else if (fs::exists(path, ec)) {
      auto doc = read_document(path, path.filename().string());
      if (doc) {
        batch.documents.push_back(std::move(doc).value());
      } else {
        batch.failures.push_back({path.string(), doc.error().message});
      }
    } else {
      batch.failures.push_back({path.string(), "no such file or folder"});
    }
  }
  return batch;
}

}  // namespace brandcoach::ingest
