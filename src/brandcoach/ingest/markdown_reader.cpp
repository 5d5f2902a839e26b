// Markdown (with an optional flat front matter) and plain text.
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "brandcoach/ingest/ingest.hpp"
#include "brandcoach/ingest/reader_support.hpp"
#include "brandcoach/text/text.hpp"

namespace brandcoach::ingest {

namespace {

std::string_view trim(std::string_view s) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

bool is_integer(std::string_view s) {
  if (s.starts_with('-') || s.starts_with('+')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Digits with one '.', optionally an exponent: "3.5", "-0.25", "1e6", "2.5E-3". Anything looser
// ("1.2.3", "v2", ".") stays a string so version numbers and codes are not silently mangled.
bool is_float(std::string_view s) {
  if (s.starts_with('-') || s.starts_with('+')) s.remove_prefix(1);
  const size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  const size_t dot = mantissa.find('.');
  const std::string_view whole = mantissa.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : mantissa.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return d.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (whole.empty() && fraction.empty()) return false;
  if (!digits(whole) || !digits(fraction)) return false;
  if (e == std::string_view::npos) return dot != std::string_view::npos;
  std::string_view exponent = s.substr(e + 1);
  if (exponent.starts_with('-') || exponent.starts_with('+')) exponent.remove_prefix(1);
  return !exponent.empty() && digits(exponent);
}

// A front matter value as JSON: numbers, booleans, quoted or bare strings. Only flat scalars are
// understood; nested YAML is reported as malformed rather than half-read.
Result<nlohmann::json> parse_value(std::string_view raw) {
  std::string_view v = trim(raw);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    const char quote = v.front();
    v = v.substr(1, v.size() - 2);
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (quote == '"' && v[i] == '\\' && i + 1 < v.size()) {
        const char next = v[++i];
        out += next == 'n' ? '\n' : next == 't' ? '\t' : next;
      } else if (quote == '\'' && v[i] == '\'' && i + 1 < v.size() && v[i + 1] == '\'') {
        out += '\'';  // YAML's '' escape in single-quoted strings
        ++i;
      } else {
        out += v[i];
      }
    }
    return nlohmann::json(out);
  }
  if (!v.empty() && (v.front() == '"' || v.front() == '\''))
    return Error::invalid("unterminated quoted value");
  if (v == "true") return nlohmann::json(true);
  if (v == "false") return nlohmann::json(false);
  if (is_integer(v)) {
    int64_t n = 0;
    std::string_view digits = v.starts_with('+') ? v.substr(1) : v;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc() && end == digits.data() + digits.size()) return nlohmann::json(n);
    return nlohmann::json(std::string(v));  // out of range: keep the digits rather than lose precision
  }
  if (is_float(v)) {
    const std::string copy(v);
    char* end = nullptr;
    const double d = std::strtod(copy.c_str(), &end);
    if (end == copy.c_str() + copy.size() && std::isfinite(d)) return nlohmann::json(d);
  }
  return nlohmann::json(std::string(v));
}

struct FrontMatter {
  nlohmann::json attributes = nlohmann::json::object();
  std::string_view body;
};

// "---\nkey: value\n...\n---\n" at the very start of the file. Without an opening "---" line the whole
// input is the body.
Result<FrontMatter> split_front_matter(std::string_view input) {
  FrontMatter result;
  result.body = input;
  const auto next_line = [](std::string_view& rest) {
    const size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
  };
  std::string_view rest = input;
  if (trim(next_line(rest)) != "---") return result;
  size_t line_number = 1;
  while (true) {
    if (rest.empty()) return Error::invalid("malformed front matter: no closing '---'");
    const std::string_view line = next_line(rest);
    ++line_number;
    if (trim(line) == "---") break;
    if (trim(line).empty() || trim(line).starts_with('#')) continue;  // blank lines and YAML comments
    const size_t colon = line.find(':');
    const std::string_view key =
        colon == std::string_view::npos ? std::string_view{} : trim(line.substr(0, colon));
    if (line.front() == ' ' || line.front() == '\t' || key.empty()) {
      return Error::invalid(
          fmt::format("malformed front matter at line {}: expected 'key: value'", line_number));
    }
    auto value = parse_value(line.substr(colon + 1));
    if (!value) {
      return Error::invalid(
          fmt::format("malformed front matter at line {}: {}", line_number, value.error().message));
    }
    const std::string name(key);
    if (result.attributes.contains(name)) {
      return Error::invalid(
          fmt::format("malformed front matter at line {}: duplicate key '{}'", line_number, name));
    }
    result.attributes[name] = std::move(value).value();
  }
  result.body = rest;
  return result;
}

}  // namespace

Result<Document> read_markdown(std::string_view bytes, const Limits& limits) {
  auto input = detail::check_text_input(bytes);
  if (!input) return input.error();
  auto front = split_front_matter(*input);
  if (!front) return front.error();
  Document doc;
  doc.attributes = std::move(front->attributes);
  doc.blocks = text::markdown_blocks(front->body);
  // The title is the first heading (finish() fills it); a front matter title is the fallback for
  // documents that have none.
  if (auto status = detail::finish(doc, limits); !status) return status.error();
  if (doc.title.empty() && doc.attributes.contains("title") && doc.attributes["title"].is_string()) {
    doc.title = doc.attributes["title"].get<std::string>();
  }
  return doc;
}

Result<Document> read_text(std::string_view bytes, const Limits& limits) {
  auto input = detail::check_text_input(bytes);
  if (!input) return input.error();
  Document doc;
  doc.blocks = detail::paragraphs(*input);
  if (auto status = detail::finish(doc, limits); !status) return status.error();
  return doc;
}

}  // namespace brandcoach::ingest
