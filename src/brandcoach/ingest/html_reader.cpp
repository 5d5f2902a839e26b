// HTML: libxml2's forgiving HTML parser, then a walk of the DOM that keeps the readable text.
#include <climits>
#include <memory>
#include <set>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/ingest/reader_support.hpp"

namespace brandcoach::ingest {

namespace {

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};

std::string_view name_of(const xmlNode* node) {
  return node->name ? reinterpret_cast<const char*>(node->name) : "";
}

// Page furniture and non-text content: menus, banners, scripts. Dropped with everything inside.
bool is_dropped(std::string_view name) {
  static const std::set<std::string_view> kDropped = {
      "script", "style", "noscript", "nav",   "header", "footer", "aside",    "form",   "template", "svg",
      "iframe", "head",  "object",   "embed", "canvas", "select", "textarea", "button", "math",     "title"};
  return kDropped.contains(name);
}

// Elements that end the running paragraph when they open and when they close.
bool is_block(std::string_view name) {
  static const std::set<std::string_view> kBlocks = {
      "p",       "div",      "li",     "dt",         "dd",      "blockquote", "pre",    "section",
      "article", "main",     "ul",     "ol",         "dl",      "table",      "thead",  "tbody",
      "tfoot",   "caption",  "figure", "figcaption", "address", "hr",         "center", "details",
      "summary", "fieldset", "legend", "body",       "html",    "menu"};
  return kBlocks.contains(name);
}

int heading_level(std::string_view name) {
  if (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6') return name[1] - '0';
  return 0;
}

// Collects blocks while the DOM is walked; inline text accumulates in `buffer` until a block boundary.
class Collector {
 public:
  void enter_text(const xmlNode* node) {
    if (!node->content) return;
    std::string_view content(reinterpret_cast<const char*>(node->content));
    if (pre_depth_ > 0) {
      buffer_.append(content);
      return;
    }
    for (char c : content) buffer_ += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }

  // Returns false for an element whose content must be skipped.
  bool enter_element(std::string_view name) {
    if (is_dropped(name)) return false;
    if (const int level = heading_level(name); level > 0) {
      if (!in_container()) {
        flush();
        heading_level_ = level;
      }
      ++heading_depth_;
    } else if (name == "tr") {
      if (!in_container()) {
        flush();
        cells_ = 0;
      } else {
        buffer_ += ' ';
      }
      ++row_depth_;
    } else if ((name == "td" || name == "th") && row_depth_ == 1) {
      if (cells_++ > 0) buffer_ += " | ";
    } else if (name == "br") {
      buffer_ += in_container() ? ' ' : '\n';
    } else if (is_block(name) || name == "td" || name == "th") {
      if (in_container()) {
        buffer_ += ' ';
      } else {
        flush();
      }
    }
    if (name == "pre") ++pre_depth_;
    return true;
  }

  void leave_element(std::string_view name) {
    if (is_dropped(name)) return;
    if (name == "pre") --pre_depth_;
    if (heading_level(name) > 0) {
      if (--heading_depth_ == 0 && row_depth_ == 0) flush();
    } else if (name == "tr") {
      if (--row_depth_ == 0 && heading_depth_ == 0) flush();
    } else if (is_block(name) && !in_container()) {
      flush();
    }
  }

  std::vector<text::Block> take() {
    flush();
    return std::move(blocks_);
  }

 private:
  // Inside a heading or a table row, nested blocks do not split the text: a row is one line.
  bool in_container() const { return heading_depth_ > 0 || row_depth_ > 0; }

  void flush() {
    std::string cleaned = detail::clean_extracted(buffer_);
    buffer_.clear();
    std::string text = detail::collapse_whitespace(cleaned);
    if (heading_level_ > 0) {
      // A heading is one line, even when it contained <br>.
      for (char& c : text) c = c == '\n' ? ' ' : c;
      blocks_.push_back({text::Block::Kind::heading, heading_level_, std::move(text), 0});
    } else if (!text.empty()) {
      blocks_.push_back({text::Block::Kind::paragraph, 0, std::move(text), 0});
    }
    heading_level_ = 0;
    cells_ = 0;
  }

  std::vector<text::Block> blocks_;
  std::string buffer_;
  int heading_level_ = 0;
  int heading_depth_ = 0;
  int row_depth_ = 0;
  int pre_depth_ = 0;
  int cells_ = 0;
};

std::string element_text(const xmlNode* node) {
  std::unique_ptr<xmlChar, decltype(xmlFree)> content(xmlNodeGetContent(node), xmlFree);
  if (!content) return {};
  return detail::collapse_whitespace(detail::clean_extracted(reinterpret_cast<const char*>(content.get())));
}

// The first <title> anywhere (it belongs in <head>, but recovery can move it).
const xmlNode* find_title(const xmlNode* root) {
  const xmlNode* node = root;
  while (node) {
    if (node->type == XML_ELEMENT_NODE && name_of(node) == "title") return node;
    if (node->children && node->type == XML_ELEMENT_NODE && !(name_of(node) == "body")) {
      node = node->children;
      continue;
    }
    while (node && node != root && !node->next) node = node->parent;
    if (!node || node == root) return nullptr;
    node = node->next;
  }
  return nullptr;
}

}  // namespace

Result<Document> read_html(std::string_view bytes, const Limits& limits) {
  static const bool initialized = (xmlInitParser(), true);  // libxml2 wants one init before threads use it
  (void)initialized;
  if (bytes.find_first_not_of(" \t\r\n") == std::string_view::npos) return Error::invalid("empty document");
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return Error::invalid("file too large for the HTML parser");

  // No encoding is forced: libxml2 honours a BOM or <meta charset> and falls back to Latin-1 for
  // bytes that are not UTF-8, and hands every node back in UTF-8.
  constexpr int kOptions =
      HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NOBLANKS;
  std::unique_ptr<xmlDoc, DocFree> doc(
      htmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr, kOptions));
  if (!doc) return Error::invalid("not readable as HTML");
  xmlNode* root = xmlDocGetRootElement(doc.get());
  if (!root) return Error::invalid("empty document");

  // Iterative walk: a hostile page nests thousands of elements, and recursion would follow it.
  Collector collector;
  xmlNode* node = root;
  while (node) {
    bool descend = false;
    if (node->type == XML_ELEMENT_NODE) {
      descend = collector.enter_element(name_of(node));
    } else if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      collector.enter_text(node);
    }
    if (descend && node->children) {
      node = node->children;
      continue;
    }
    while (node) {
      if (node->type == XML_ELEMENT_NODE) collector.leave_element(name_of(node));
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

  Document result;
  result.blocks = collector.take();
  if (const xmlNode* title = find_title(root)) result.title = element_text(title);
  if (result.title.empty()) {
    for (const auto& block : result.blocks) {
      if (block.kind == text::Block::Kind::heading && block.level == 1) {
        result.title = block.text;
        break;
      }
    }
  }
  for (char& c : result.title) c = c == '\n' ? ' ' : c;
  if (auto status = detail::finish(result, limits); !status) return status.error();
  return result;
}

}  // namespace brandcoach::ingest
