// File and folder walking, format dispatch, and the guards shared by every reader.
#include <glob.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/ingest/reader_support.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::ingest {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Shared guards (declared in reader_support.hpp)

namespace detail {

namespace {

// Length of the well-formed UTF-8 sequence at `pos`, or 0 when the bytes there are not one
// (overlongs, surrogates and code points above U+10FFFF count as malformed, as in text::is_valid_utf8).
size_t utf8_sequence_length(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) return 1;
  size_t length = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (pos + length > s.size()) return 0;
  if (byte(pos + 1) < lo || byte(pos + 1) > hi) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(pos + i) < 0x80 || byte(pos + i) > 0xBF) return 0;
  }
  return length;
}

bool is_blank_char(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank_char(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_blank_char(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string clean_extracted(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const char c = text[pos];
    if (c == '\r') {
      out += '\n';
      pos += (pos + 1 < text.size() && text[pos + 1] == '\n') ? 2 : 1;
      continue;
    }
    const size_t length = utf8_sequence_length(text, pos);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++pos;
    } else if (length == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
      out += ' ';
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

std::string collapse_whitespace(std::string_view text) {
  std::string out;
  std::string line;
  bool pending_space = false;
  const auto end_line = [&] {
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      out += line;
    }
    line.clear();
    pending_space = false;
  };
  for (size_t pos = 0; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (c == '\n') {
      end_line();
    } else if (is_blank_char(c)) {
      pending_space = true;
    } else if (c == '\xC2' && pos + 1 < text.size() && text[pos + 1] == '\xA0') {
      pending_space = true;  // NBSP: HTML and Word use it as layout, not as content
      ++pos;
    } else {
      if (pending_space && !line.empty()) line += ' ';
      pending_space = false;
      line += c;
    }
  }
  end_line();
  return out;
}

std::vector<text::Block> paragraphs(std::string_view text, int page) {
  std::vector<text::Block> blocks;
  std::string current;
  const auto flush = [&] {
    std::string_view t = trim(current);
    if (!t.empty()) blocks.push_back({text::Block::Kind::paragraph, 0, std::string(t), page});
    current.clear();
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    while (!line.empty() && is_blank_char(line.back())) line.remove_suffix(1);
    if (trim(line).empty()) {
      flush();
    } else {
      if (!current.empty()) current += '\n';
      current.append(line);
    }
    start = end + 1;
  }
  flush();
  return blocks;
}

Status finish(Document& doc, const Limits& limits) {
  std::erase_if(doc.blocks, [](const text::Block& b) { return trim(b.text).empty(); });
  size_t total = 0;
  for (const auto& block : doc.blocks) {
    total += block.text.size();
    if (!text::is_valid_utf8(block.text)) return Error::invalid("not valid UTF-8 text");
  }
  if (total > limits.max_text_bytes) {
    return Error::invalid(
        fmt::format("extracted text is over the limit of {} bytes (max_text_bytes)", limits.max_text_bytes));
  }
  if (doc.blocks.empty()) return Error::invalid("empty document");
  if (!text::is_valid_utf8(doc.title)) doc.title = clean_extracted(doc.title);
  if (doc.title.empty()) {
    for (const auto& block : doc.blocks) {
      if (block.kind == text::Block::Kind::heading) {
        doc.title = block.text;
        break;
      }
    }
  }
  return ok();
}

Result<std::string_view> check_text_input(std::string_view bytes) {
  if (bytes.find('\0') != std::string_view::npos) return Error::invalid("contains NUL bytes (binary file?)");
  if (!text::is_valid_utf8(bytes)) return Error::invalid("not valid UTF-8 text");
  if (bytes.starts_with("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  return bytes;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Files

namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

// Reads at most max_file_bytes; the size is checked before reading and again while reading, because
// the file can grow in between (or be a device that reports size 0).
Result<std::string> read_bytes(const fs::path& path, const Limits& limits) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return Error::invalid("no such file or folder");
  if (!fs::is_regular_file(status)) return Error::invalid("not a regular file");
  const auto size = fs::file_size(path, ec);
  if (ec) return Error::invalid("cannot read: " + ec.message());
  const auto too_large = [&] {
    return Error::invalid(
        fmt::format("file is larger than the limit of {} bytes (max_file_bytes)", limits.max_file_bytes));
  };
  if (size > limits.max_file_bytes) return too_large();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("cannot open for reading");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (in.bad()) return Error::invalid("cannot read");
  if (in.peek() != std::char_traits<char>::eof()) return too_large();  // grew while we read it
  return bytes;
}

// The documents of a JSONL file's bytes; bad lines become failures for `failure_path`.
Batch jsonl_batch(std::string_view bytes, const std::string& name, const std::string& failure_path,
                  const Limits& limits) {
  Batch batch;
  std::set<std::string> seen_ids;
  size_t records = 0;
  size_t line_number = 0;
  for (size_t start = 0; start < bytes.size();) {
    size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view line = bytes.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    const auto fail = [&](const std::string& reason) {
      batch.failures.push_back({failure_path, fmt::format("line {}: {}", line_number, reason)});
    };
    if (++records > limits.max_records) {
      fail(fmt::format("more than {} records (max_records); the rest of the file was not read",
                       limits.max_records));
      break;
    }
    if (!text::is_valid_utf8(line)) {
      fail("not valid UTF-8 text");
      continue;
    }
    auto record = parse_json(line);
    if (record.is_discarded()) {
      fail("not valid JSON");
      continue;
    }
    auto doc = detail::record_document(record, /*id_required=*/true, {}, limits);
    if (!doc) {
      fail(doc.error().message);
      continue;
    }
    if (!seen_ids.insert(doc->external_id).second) {
      fail("duplicate id '" + doc->external_id + "'");
      continue;
    }
    doc->filename = name + "#" + doc->external_id;
    doc->format = "jsonl";
    doc->sha256 = sha256_hex(line);
    doc->bytes = line.size();
    batch.documents.push_back(std::move(doc).value());
  }
  return batch;
}

bool is_hidden(const fs::path& path) {
  return path.filename().string().starts_with(".");
}

void add_file(const fs::path& path, const std::string& name, const Limits& limits, Batch& batch) {
  if (lower_extension(path) == ".jsonl") {
    // JSONL goes line by line so that one bad record does not cost the whole file.
    auto bytes = read_bytes(path, limits);
    if (!bytes) {
      batch.failures.push_back({path.string(), bytes.error().message});
      return;
    }
    Batch records = jsonl_batch(*bytes, name, path.string(), limits);
    if (records.documents.empty() && records.failures.empty()) {
      batch.failures.push_back({path.string(), "empty document"});
    }
    std::move(records.documents.begin(), records.documents.end(), std::back_inserter(batch.documents));
    std::move(records.failures.begin(), records.failures.end(), std::back_inserter(batch.failures));
    return;
  }
  auto docs = read_file(path, name, limits);
  if (!docs) {
    batch.failures.push_back({path.string(), docs.error().message});
    return;
  }
  std::move(docs->begin(), docs->end(), std::back_inserter(batch.documents));
}

void add_folder(const fs::path& root, const Limits& limits, Batch& batch) {
  std::vector<fs::path> files;  // relative to root
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    if (is_hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec)) files.push_back(it->path().lexically_relative(root));
  }
  if (ec) batch.failures.push_back({root.string(), "cannot list folder: " + ec.message()});
  std::sort(files.begin(), files.end());  // path order compares component by component
  for (const auto& relative : files) add_file(root / relative, relative.generic_string(), limits, batch);
}

void add_path(const fs::path& path, const Limits& limits, Batch& batch) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    add_folder(path, limits, batch);
  } else if (fs::exists(path, ec)) {
    add_file(path, path.filename().string(), limits, batch);
  } else {
    batch.failures.push_back({path.string(), "no such file or folder"});
  }
}

void add_glob(const std::string& pattern, const Limits& limits, Batch& batch) {
  glob_t matches{};
  // glob(3) sorts its matches and, without GLOB_PERIOD, never matches hidden names with a wildcard.
  const int rc = glob(pattern.c_str(), 0, nullptr, &matches);
  if (rc == GLOB_NOMATCH) {
    batch.failures.push_back({pattern, "no files match"});
  } else if (rc != 0) {
    batch.failures.push_back({pattern, "cannot expand pattern"});
  } else {
    for (size_t i = 0; i < matches.gl_pathc; ++i) add_path(matches.gl_pathv[i], limits, batch);
  }
  globfree(&matches);
}

}  // namespace

bool is_supported(const fs::path& path) {
  static const std::set<std::string> kExtensions = {".md",  ".markdown", ".txt",  ".html", ".htm",
                                                    ".pdf", ".docx",     ".json", ".jsonl"};
  return kExtensions.contains(lower_extension(path));
}

Result<std::vector<Document>> read_file(const fs::path& path, const std::string& name, const Limits& limits) {
  if (!is_supported(path)) return read_document(name, path.filename().string(), {}, limits);
  auto bytes = read_bytes(path, limits);
  if (!bytes) return bytes.error();
  return read_document(name, path.filename().string(), *bytes, limits);
}

Result<std::vector<Document>> read_document(const std::string& name, const std::string& format_from,
                                            std::string_view bytes_view, const Limits& limits) {
  const fs::path path(format_from);
  const std::string ext = lower_extension(path);
  if (!is_supported(path)) {
    return Error::invalid(ext.empty() ? std::string("unsupported format (no file extension)")
                                      : "unsupported format '" + ext + "'");
  }
  if (bytes_view.size() > limits.max_file_bytes) {
    return Error::invalid("file is larger than " + std::to_string(limits.max_file_bytes) + " bytes");
  }
  const auto* bytes = &bytes_view;

  if (ext == ".jsonl") {
    // A single document has no room for partial results: the first bad line fails the file.
    // read_paths and read_jsonl_records keep the good lines.
    Batch records = jsonl_batch(*bytes, name, format_from, limits);
    if (!records.failures.empty()) return Error::invalid(records.failures.front().reason);
    if (records.documents.empty()) return Error::invalid("empty document");
    return std::move(records.documents);
  }
  if (ext == ".json") {
    auto docs = read_json(*bytes, limits);
    if (!docs) return docs.error();
    const bool single = docs->size() == 1 && docs->front().external_id.empty();
    for (auto& doc : *docs) {
      doc.filename = single ? name : name + "#" + doc.external_id;
      doc.format = "json";
    }
    return docs;
  }

  Result<Document> doc = Error::internal("unreachable");
  std::string format;
  if (ext == ".md" || ext == ".markdown") {
    doc = read_markdown(*bytes, limits);
    format = "md";
  } else if (ext == ".txt") {
    doc = read_text(*bytes, limits);
    format = "txt";
  } else if (ext == ".html" || ext == ".htm") {
    doc = read_html(*bytes, limits);
    format = "html";
  } else if (ext == ".pdf") {
    doc = read_pdf(*bytes, limits);
    format = "pdf";
  } else {
    doc = read_docx(*bytes, limits);
    format = "docx";
  }
  if (!doc) return doc.error();
  doc->filename = name;
  doc->format = std::move(format);
  doc->bytes = bytes->size();
  doc->sha256 = sha256_hex(*bytes);
  std::vector<Document> docs;
  docs.push_back(std::move(doc).value());
  return docs;
}

Batch read_paths(const std::vector<std::string>& paths, const Limits& limits) {
  Batch batch;
  for (const auto& path : paths) {
    if (path.find_first_of("*?[") != std::string::npos) {
      add_glob(path, limits, batch);
    } else {
      add_path(path, limits, batch);
    }
  }
  return batch;
}

Batch read_jsonl_records(const fs::path& path, const Limits& limits) {
  auto bytes = read_bytes(path, limits);
  if (!bytes) return Batch{{}, {{path.string(), bytes.error().message}}};
  return jsonl_batch(*bytes, path.filename().string(), path.string(), limits);
}

}  // namespace brandcoach::ingest
