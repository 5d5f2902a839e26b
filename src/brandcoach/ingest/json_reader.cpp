// JSON documents and records: {"id"?, "text", "title"?, "attributes"?} or an array of them.
#include <set>

#include <fmt/format.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/ingest/reader_support.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::ingest {

namespace detail {

Result<Document> record_document(const nlohmann::json& record, bool id_required,
                                 const std::string& default_id, const Limits& limits) {
  if (!record.is_object()) return Error::invalid("record is not a JSON object");
  Document doc;
  doc.external_id = default_id;
  if (auto id = record.find("id"); id != record.end()) {
    if (!id->is_string() || id->get_ref<const std::string&>().empty()) {
      return Error::invalid("\"id\" must be a non-empty string");
    }
    doc.external_id = id->get<std::string>();
  } else if (id_required) {
    return Error::invalid("missing \"id\"");
  }
  const auto text = record.find("text");
  if (text == record.end()) return Error::invalid("missing \"text\"");
  if (!text->is_string()) return Error::invalid("\"text\" must be a string");
  const auto& body = text->get_ref<const std::string&>();
  // "\u0000" is legal JSON but no document text contains it; treat it like a binary file.
  if (body.find('\0') != std::string::npos) return Error::invalid("\"text\" contains NUL characters");
  if (auto title = record.find("title"); title != record.end()) {
    if (!title->is_string()) return Error::invalid("\"title\" must be a string");
    doc.title = title->get<std::string>();
  }
  if (auto attributes = record.find("attributes"); attributes != record.end()) {
    if (!attributes->is_object()) return Error::invalid("\"attributes\" must be an object");
    for (const auto& [key, value] : attributes->items()) {
      if (!value.is_string() && !value.is_number() && !value.is_boolean()) {
        return Error::invalid("attribute '" + key + "' must be a string, number or boolean");
      }
    }
    doc.attributes = *attributes;
  }
  doc.blocks = text::markdown_blocks(body);
  if (auto status = finish(doc, limits); !status) return status.error();
  return doc;
}

}  // namespace detail

Result<std::vector<Document>> read_json(std::string_view bytes, const Limits& limits) {
  if (!text::is_valid_utf8(bytes)) return Error::invalid("not valid UTF-8 text");
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::parse_error& e) {
    return Error::invalid(fmt::format("not valid JSON (at byte {})", e.byte));
  } catch (const nlohmann::json::out_of_range&) {
    // A number too large for a double (1e400) is not a parse_error: it escaped the reader (found by
    // fuzzing, fuzz/regressions/json_records).
    return Error::invalid("not valid JSON (a number is out of range)");
  }

  std::vector<Document> docs;
  if (root.is_object()) {
    auto doc = detail::record_document(root, /*id_required=*/false, {}, limits);
    if (!doc) return doc.error();
    doc->sha256 = sha256_hex(bytes);
    doc->bytes = bytes.size();
    doc->format = "json";
    docs.push_back(std::move(doc).value());
    return docs;
  }
  if (!root.is_array()) return Error::invalid("expected a JSON object or an array of objects");
  if (root.size() > limits.max_records) {
    return Error::invalid(fmt::format("more than {} records (max_records)", limits.max_records));
  }
  if (root.empty()) return Error::invalid("empty document");

  // One bad record fails the file: read_json returns all records or an error, and a partly read
  // array would silently drop content.
  std::set<std::string> seen_ids;
  size_t total_text = 0;
  for (size_t i = 0; i < root.size(); ++i) {
    auto doc = detail::record_document(root[i], /*id_required=*/false, std::to_string(i), limits);
    if (!doc) return Error::invalid(fmt::format("record {}: {}", i, doc.error().message));
    if (!seen_ids.insert(doc->external_id).second) {
      return Error::invalid(fmt::format("record {}: duplicate id '{}'", i, doc->external_id));
    }
    for (const auto& block : doc->blocks) total_text += block.text.size();
    if (total_text > limits.max_text_bytes) {
      return Error::invalid(fmt::format("extracted text is over the limit of {} bytes (max_text_bytes)",
                                        limits.max_text_bytes));
    }
    // A record's identity is its own content, so that editing one record re-indexes only that one.
    const std::string serialized = root[i].dump();
    doc->sha256 = sha256_hex(serialized);
    doc->bytes = serialized.size();
    doc->format = "json";
    docs.push_back(std::move(doc).value());
  }
  return docs;
}

}  // namespace brandcoach::ingest
