// multipart/form-data (RFC 7578) for file uploads. No Debian package parses it (Boost.Beast does not),
// and the format is small: a boundary line between parts, each with its own headers.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

constexpr size_t kMaxParts = 200;
constexpr size_t kMaxPartHeaderBytes = 8 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The value of `name=` in a header's parameters: quoted ("a b") or a bare token.
std::optional<std::string> parameter(std::string_view header, std::string_view name) {
  const std::string lowered = lower(header);
  size_t at = 0;
  while ((at = lowered.find(name, at)) != std::string::npos) {
    const bool starts =
        at == 0 || lowered[at - 1] == ';' || lowered[at - 1] == ' ' || lowered[at - 1] == '\t';
    const size_t eq = at + name.size();
    if (!starts || eq >= header.size() || header[eq] != '=') {
      at = eq;
      continue;
    }
    std::string_view rest = header.substr(eq + 1);
    if (!rest.empty() && rest.front() == '"') {
      std::string value;
      for (size_t i = 1; i < rest.size(); ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) {
          value.push_back(rest[++i]);
        } else if (rest[i] == '"') {
          return value;
        } else {
          value.push_back(rest[i]);
        }
      }
      return std::nullopt;  // unterminated quote
    }
    const size_t end = rest.find_first_of("; \t");
    return std::string(rest.substr(0, end));
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<FormPart>> parse_multipart(std::string_view content_type, std::string_view body) {
  if (lower(content_type).rfind("multipart/form-data", 0) != 0)
    return Error::invalid("the upload must be multipart/form-data", "Content-Type");
  const auto boundary = parameter(content_type, "boundary");
  if (!boundary || boundary->empty() || boundary->size() > 200)
    return Error::invalid("multipart/form-data needs a boundary of 1 to 200 characters", "Content-Type");
  const std::string delimiter = "--" + *boundary;
  size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) return Error::invalid("the multipart body has no boundary line");
  std::vector<FormPart> parts;
  while (true) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(pos, 2) != "\r\n") return Error::invalid("a multipart boundary line is malformed");
    pos += 2;
    const size_t head_end = body.find("\r\n\r\n", pos);
    if (head_end == std::string_view::npos || head_end - pos > kMaxPartHeaderBytes)
      return Error::invalid("a multipart part has no end to its headers");
    FormPart part;
    std::string_view headers = body.substr(pos, head_end - pos);
    while (!headers.empty()) {
      const size_t line_end = std::min(headers.find("\r\n"), headers.size());
      const std::string_view line = headers.substr(0, line_end);
      headers.remove_prefix(std::min(line_end + 2, headers.size()));
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return Error::invalid("a multipart part header is malformed");
      const std::string name = lower(line.substr(0, colon));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      if (name == "content-disposition") {
        if (lower(value).rfind("form-data", 0) != 0)
          return Error::invalid("a multipart part is not form-data");
        part.name = parameter(value, "name").value_or("");
        part.filename = parameter(value, "filename").value_or("");
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (part.name.empty()) return Error::invalid("a multipart part has no name");
    const size_t data_start = head_end + 4;
    const size_t next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) return Error::invalid("the multipart body ends inside a part");
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    if (parts.size() > kMaxParts)
      return Error::invalid(fmt::format("more than {} multipart parts", kMaxParts));
    pos = next + 2;
  }
}

}  // namespace brandcoach::http
