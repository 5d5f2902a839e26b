// PDF: poppler-cpp's text extraction, one page at a time, with page numbers kept on every block.
#include <climits>
#include <exception>
#include <memory>

#include <fmt/format.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/ingest/reader_support.hpp"

namespace brandcoach::ingest {

namespace {

// poppler prints every syntax error of a damaged file to stderr; our callers report one reason per
// file instead, so its diagnostics go nowhere.
void ignore_poppler_message(const std::string& /*message*/, void* /*closure*/) {}

std::string to_string(const poppler::ustring& text) {
  const poppler::byte_array utf8 = text.to_utf8();
  return std::string(utf8.begin(), utf8.end());
}

Result<Document> extract(std::string_view bytes, const Limits& limits) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return Error::invalid("file too large for the PDF reader");
  if (!bytes.starts_with("%PDF-") && bytes.substr(0, 1024).find("%PDF-") == std::string_view::npos) {
    return Error::invalid("not a PDF file");
  }
  // poppler reads from our buffer without copying it; `bytes` outlives `doc`.
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) return Error::invalid("not readable as PDF (damaged or truncated file?)");
  // An encrypted PDF that opens without a password (the usual "no copying" restriction) is read; one
  // that needs a password is refused, since we have none to give.
  if (doc->is_locked()) return Error::invalid("PDF is password-protected");

  const int pages = doc->pages();
  if (pages <= 0) return Error::invalid("not readable as PDF (no pages)");
  if (static_cast<size_t>(pages) > limits.max_pages) {
    return Error::invalid(
        fmt::format("PDF has {} pages, over the limit of {} (max_pages)", pages, limits.max_pages));
  }

  Document result;
  size_t total = 0;
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (!page) continue;
    std::string text = to_string(page->text());
    if (text.size() > limits.max_page_bytes) {
      return Error::invalid(fmt::format("page {} has more than {} bytes of text (max_page_bytes)", i + 1,
                                        limits.max_page_bytes));
    }
    total += text.size();
    if (total > limits.max_text_bytes) {
      return Error::invalid(fmt::format("extracted text is over the limit of {} bytes (max_text_bytes)",
                                        limits.max_text_bytes));
    }
    // clean_extracted turns the trailing form feed poppler adds into a space, which paragraphs() trims.
    for (auto& block : detail::paragraphs(detail::clean_extracted(text), i + 1)) {
      block.text = detail::collapse_whitespace(block.text);
      result.blocks.push_back(std::move(block));
    }
  }
  std::erase_if(result.blocks, [](const text::Block& b) { return b.text.empty(); });
  if (result.blocks.empty()) return Error::invalid("no extractable text (scanned PDF?)");
  result.title = detail::collapse_whitespace(detail::clean_extracted(to_string(doc->info_key("Title"))));
  for (char& c : result.title) c = c == '\n' ? ' ' : c;
  if (auto status = detail::finish(result, limits); !status) return status.error();
  return result;
}

}  // namespace

Result<Document> read_pdf(std::string_view bytes, const Limits& limits) {
  static const bool silenced = (poppler::set_debug_error_function(ignore_poppler_message, nullptr), true);
  (void)silenced;
  if (bytes.empty()) return Error::invalid("empty document");
  // poppler-cpp reports failures by return value, but allocation can still throw; nothing escapes.
  try {
    return extract(bytes, limits);
  } catch (const std::exception& e) {
    return Error::invalid(std::string("not readable as PDF: ") + e.what());
  }
}

}  // namespace brandcoach::ingest
