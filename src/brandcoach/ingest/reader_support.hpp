// Private to the ingest module: the checks and text clean-up every format reader shares, so that the
// guards (UTF-8, size, emptiness) are written once and cannot drift between readers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/ingest/ingest.hpp"

namespace brandcoach::ingest::detail {

/// Extracted text made safe to store: invalid UTF-8 becomes U+FFFD, NUL and other C0 controls except
/// tab and newline become spaces, "\r\n" and "\r" become "\n". Used for HTML, PDF and DOCX, whose
/// decoders may hand us stray bytes; for md/txt/json invalid input is rejected instead.
std::string clean_extracted(std::string_view text);

/// Collapses whitespace inside each line (spaces, tabs, NBSP) to one space, trims every line and drops
/// empty ones; lines are joined by "\n".
std::string collapse_whitespace(std::string_view text);

/// Splits text into paragraph blocks at blank lines; lines inside a paragraph are trimmed on the right.
std::vector<text::Block> paragraphs(std::string_view text, int page = 0);

/// The guards every document passes before it leaves a reader: drops empty blocks, enforces
/// max_text_bytes, rejects invalid UTF-8 and empty documents, defaults the title to the first heading.
Status finish(Document& doc, const Limits& limits);

/// Checks raw md/txt/json bytes: no NUL bytes, valid UTF-8. Strips a UTF-8 byte order mark.
Result<std::string_view> check_text_input(std::string_view bytes);

/// One JSON/JSONL record {"id", "text", "title"?, "attributes"?} as a document. `id_required` is true
/// for JSONL; `default_id` is used when the record has no id (JSON arrays: the index).
Result<Document> record_document(const nlohmann::json& record, bool id_required,
                                 const std::string& default_id, const Limits& limits);

}  // namespace brandcoach::ingest::detail
