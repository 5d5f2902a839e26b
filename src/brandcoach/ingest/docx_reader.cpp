// DOCX: word/document.xml out of the zip container, read with guards against zip bombs and XML
// entity tricks, then paragraphs, headings and table rows from the WordprocessingML.
#include <algorithm>
#include <climits>
#include <memory>

#include <fmt/format.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zip.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/ingest/reader_support.hpp"

namespace brandcoach::ingest {

namespace {

struct ZipDiscard {
  void operator()(zip_t* archive) const { zip_discard(archive); }
};
struct ZipFileClose {
  void operator()(zip_file_t* file) const { zip_fclose(file); }
};
struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};

// Reads one entry, spending at most `budget` uncompressed bytes (shared by all entries of the file).
// The sizes in the zip directory are checked first so a bomb is refused without inflating anything,
// and the read loop enforces both limits again because those sizes are written by the attacker.
Result<std::string> read_entry(zip_t* archive, const char* name, const Limits& limits, size_t& budget) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(archive, name, 0, &stat) != 0)
    return Error::not_found(fmt::format("no {} in the archive", name));
  const auto too_big = [&] {
    return Error::invalid(fmt::format("{} expands beyond the limit of {} bytes (max_uncompressed_bytes)",
                                      name, limits.max_uncompressed_bytes));
  };
  const auto ratio_error = [&](uint64_t size, uint64_t compressed) {
    return Error::invalid(fmt::format(
        "{} has a compression ratio of {}:1, over the limit of {}:1 (max_compression_ratio; zip bomb?)", name,
        compressed == 0 ? size : size / compressed, limits.max_compression_ratio));
  };
  const bool has_size = (stat.valid & ZIP_STAT_SIZE) != 0;
  const bool has_compressed = (stat.valid & ZIP_STAT_COMP_SIZE) != 0;
  if (has_size && stat.size > budget) return too_big();
  const auto over_ratio = [&](uint64_t size) {
    if (!has_compressed || stat.comp_method == ZIP_CM_STORE) return false;
    return stat.comp_size == 0 ? size > 0 : size / stat.comp_size > limits.max_compression_ratio;
  };
  if (has_size && over_ratio(stat.size)) return ratio_error(stat.size, stat.comp_size);

  std::unique_ptr<zip_file_t, ZipFileClose> file(zip_fopen(archive, name, 0));
  if (!file) return Error::invalid(fmt::format("cannot open {} in the archive", name));
  std::string out;
  out.reserve(has_size ? static_cast<size_t>(stat.size) : 0);
  char buffer[64 * 1024];
  while (true) {
    const zip_int64_t n = zip_fread(file.get(), buffer, sizeof buffer);
    if (n < 0) return Error::invalid(fmt::format("{} is damaged in the archive", name));
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > budget) return too_big();
    if (over_ratio(out.size())) return ratio_error(out.size(), stat.comp_size);
  }
  budget -= out.size();
  return out;
}

// Entities are where XML turns small files into huge or remote ones (billion laughs, XXE). Word never
// writes a DTD, so any document that declares one is refused before libxml2 sees it; the parse
// options keep entity substitution and DTD loading off as a second line of defence.
Result<std::unique_ptr<xmlDoc, DocFree>> parse_xml(const std::string& xml, const char* name) {
  if (xml.find("<!DOCTYPE") != std::string::npos || xml.find("<!ENTITY") != std::string::npos) {
    return Error::invalid(fmt::format("{} declares a DOCTYPE (refused: entity expansion risk)", name));
  }
  if (xml.size() > static_cast<size_t>(INT_MAX)) return Error::invalid(fmt::format("{} is too large", name));
  constexpr int kOptions = XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  std::unique_ptr<xmlDoc, DocFree> doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), name, nullptr, kOptions));
  if (!doc) return Error::invalid(fmt::format("{} is not well-formed XML", name));
  if (doc->intSubset || doc->extSubset) {
    return Error::invalid(fmt::format("{} declares a DOCTYPE (refused: entity expansion risk)", name));
  }
  return doc;
}

std::string_view local_name(const xmlNode* node) {
  return node->name ? reinterpret_cast<const char*>(node->name) : "";
}

std::string_view prefix(const xmlNode* node) {
  return node->ns && node->ns->prefix ? reinterpret_cast<const char*>(node->ns->prefix) : "";
}

// WordprocessingML elements are compared by local name under the "w" namespace (transitional or
// strict); Word always binds that prefix.
bool is_w(const xmlNode* node, std::string_view name) {
  return node->type == XML_ELEMENT_NODE && prefix(node) == "w" && local_name(node) == name;
}

std::string attribute(const xmlNode* node, const char* name) {
  std::unique_ptr<xmlChar, decltype(xmlFree)> value(xmlGetProp(node, reinterpret_cast<const xmlChar*>(name)),
                                                    xmlFree);
  return value ? std::string(reinterpret_cast<const char*>(value.get())) : std::string();
}

// Heading level from <w:pPr>: the style id "Heading1".."Heading6" (or "Title" = 1), else an outline
// level; 0 for body text.
int heading_level(const xmlNode* paragraph_properties) {
  for (const xmlNode* child = paragraph_properties->children; child; child = child->next) {
    if (is_w(child, "pStyle")) {
      std::string style = attribute(child, "val");
      std::erase(style, ' ');
      std::transform(style.begin(), style.end(), style.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (style == "title") return 1;
      if (style.size() == 8 && style.starts_with("heading") && style[7] >= '1' && style[7] <= '6') {
        return style[7] - '0';
      }
    } else if (is_w(child, "outlineLvl")) {
      const std::string level = attribute(child, "val");
      if (level.size() == 1 && level[0] >= '0' && level[0] <= '5') return level[0] - '0' + 1;
    }
  }
  return 0;
}

// Walks w:body in document order. Paragraphs outside tables become blocks; inside a table row every
// paragraph of every cell joins one line, cells separated by " | ".
class Collector {
 public:
  // Returns false for an element whose content must be skipped.
  bool enter(const xmlNode* node) {
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      if (in_text_ && node->content) buffer_ += reinterpret_cast<const char*>(node->content);
      return false;
    }
    if (node->type != XML_ELEMENT_NODE) return false;
    // Properties hold tab stops and styles, not text; mc:Fallback repeats what mc:Choice already says.
    if (is_w(node, "pPr")) {
      if (paragraph_depth_ == 1 && row_depth_ == 0) level_ = heading_level(node);
      return false;
    }
    if (is_w(node, "rPr") || is_w(node, "sectPr") || is_w(node, "tblPr") || is_w(node, "trPr") ||
        is_w(node, "tcPr") || is_w(node, "delText") || is_w(node, "instrText") ||
        local_name(node) == "Fallback") {
      return false;
    }
    if (is_w(node, "t")) {
      in_text_ = true;
    } else if (is_w(node, "tab")) {
      buffer_ += '\t';
    } else if (is_w(node, "br") || is_w(node, "cr")) {
      buffer_ += row_depth_ > 0 ? ' ' : '\n';
    } else if (is_w(node, "noBreakHyphen")) {
      buffer_ += '-';
    } else if (is_w(node, "tr")) {
      if (row_depth_++ == 0) {
        flush();
        cells_ = 0;
      } else {
        buffer_ += ' ';
      }
    } else if (is_w(node, "tc")) {
      if (row_depth_ == 1 && cells_++ > 0) buffer_ += " | ";
    } else if (is_w(node, "p")) {
      if (row_depth_ > 0) {
        buffer_ += ' ';
      } else if (paragraph_depth_ == 0) {
        flush();
      } else {
        buffer_ += '\n';  // a text box inside a paragraph: its paragraphs stay lines of this one
      }
      ++paragraph_depth_;
    }
    return true;
  }

  void leave(const xmlNode* node) {
    if (is_w(node, "t")) {
      in_text_ = false;
    } else if (is_w(node, "tr")) {
      if (--row_depth_ == 0) flush();
    } else if (is_w(node, "p")) {
      if (--paragraph_depth_ == 0 && row_depth_ == 0) flush();
    }
  }

  std::vector<text::Block> take() {
    flush();
    return std::move(blocks_);
  }

 private:
  void flush() {
    std::string text = detail::collapse_whitespace(detail::clean_extracted(buffer_));
    buffer_.clear();
    if (!text.empty()) {
      if (level_ > 0) {
        for (char& c : text) c = c == '\n' ? ' ' : c;
        blocks_.push_back({text::Block::Kind::heading, level_, std::move(text), 0});
      } else {
        blocks_.push_back({text::Block::Kind::paragraph, 0, std::move(text), 0});
      }
    }
    level_ = 0;
  }

  std::vector<text::Block> blocks_;
  std::string buffer_;
  int level_ = 0;
  int paragraph_depth_ = 0;
  int row_depth_ = 0;
  int cells_ = 0;
  bool in_text_ = false;
};

// Iterative: recursion would follow whatever nesting the file declares.
template <class Enter, class Leave>
void walk(xmlNode* root, Enter enter, Leave leave) {
  xmlNode* node = root;
  while (node) {
    if (enter(node) && node->children) {
      node = node->children;
      continue;
    }
    while (node) {
      if (node->type == XML_ELEMENT_NODE) leave(node);
      if (node == root) {
        node = nullptr;
      } else if (node->next) {
        node = node->next;
        break;
      } else {
        node = node->parent;
      }
    }
  }
}

// dc:title from docProps/core.xml. Optional: any problem just means no title from there.
std::string core_title(zip_t* archive, const Limits& limits, size_t& budget) {
  auto xml = read_entry(archive, "docProps/core.xml", limits, budget);
  if (!xml) return {};
  auto doc = parse_xml(*xml, "docProps/core.xml");
  if (!doc) return {};
  std::string title;
  walk(
      xmlDocGetRootElement(doc->get()),
      [&](xmlNode* node) {
        if (title.empty() && node->type == XML_ELEMENT_NODE && local_name(node) == "title" &&
            prefix(node) == "dc") {
          std::unique_ptr<xmlChar, decltype(xmlFree)> content(xmlNodeGetContent(node), xmlFree);
          if (content) title = reinterpret_cast<const char*>(content.get());
        }
        return node->type == XML_ELEMENT_NODE;
      },
      [](xmlNode*) {});
  title = detail::collapse_whitespace(detail::clean_extracted(title));
  for (char& c : title) c = c == '\n' ? ' ' : c;
  return title;
}

}  // namespace

Result<Document> read_docx(std::string_view bytes, const Limits& limits) {
  static const bool initialized = (xmlInitParser(), true);  // libxml2 wants one init before threads use it
  (void)initialized;
  if (bytes.empty()) return Error::invalid("empty document");

  zip_error_t error;
  zip_error_init(&error);
  // The source does not own `bytes` (freep = 0); the archive takes ownership of the source on success.
  zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (!source) {
    zip_error_fini(&error);
    return Error::internal("cannot allocate a zip source");
  }
  std::unique_ptr<zip_t, ZipDiscard> archive(zip_open_from_source(source, ZIP_RDONLY, &error));
  zip_error_fini(&error);
  if (!archive) {
    zip_source_free(source);
    return Error::invalid("not a DOCX file (not a zip archive)");
  }

  size_t budget = limits.max_uncompressed_bytes;
  auto xml = read_entry(archive.get(), "word/document.xml", limits, budget);
  if (!xml) {
    if (xml.error().kind == ErrorKind::not_found)
      return Error::invalid("not a DOCX file (no word/document.xml)");
    return xml.error();
  }
  auto doc = parse_xml(*xml, "word/document.xml");
  if (!doc) return doc.error();
  xml->clear();
  xml->shrink_to_fit();

  xmlNode* root = xmlDocGetRootElement(doc->get());
  xmlNode* body = nullptr;
  for (xmlNode* child = root ? root->children : nullptr; child && !body; child = child->next) {
    if (is_w(child, "body")) body = child;
  }
  if (!body) return Error::invalid("not a DOCX file (no document body)");

  Collector collector;
  walk(
      body, [&](xmlNode* node) { return collector.enter(node); },
      [&](xmlNode* node) { collector.leave(node); });
  Document result;
  result.blocks = collector.take();
  result.title = core_title(archive.get(), limits, budget);
  if (auto status = detail::finish(result, limits); !status) return status.error();
  return result;
}

}  // namespace brandcoach::ingest
