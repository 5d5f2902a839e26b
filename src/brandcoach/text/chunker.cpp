#include <string>
#include <vector>

#include "brandcoach/text/text.hpp"

namespace brandcoach::text {

namespace {

struct Section {
  std::string heading;
  std::vector<std::string> paragraphs;
};

std::string strip(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

// Heading level of a markdown ATX heading line ("## Pricing" -> 2), 0 when not a heading.
int heading_level(std::string_view line) {
  int level = 0;
  while (level < static_cast<int>(line.size()) && line[level] == '#') ++level;
  if (level == 0 || level > 6 || level >= static_cast<int>(line.size()) || line[level] != ' ') return 0;
  return level;
}

std::string join_path(const std::vector<std::string>& stack) {
  std::string out;
  for (const auto& part : stack) {
    if (part.empty()) continue;
    if (!out.empty()) out += " > ";
    out += part;
  }
  return out;
}

std::vector<Section> split_sections(std::string_view markdown) {
  std::vector<Section> sections(1);
  std::vector<std::string> stack;
  std::string paragraph;
  bool in_fence = false;
  const auto end_paragraph = [&] {
    std::string text = strip(paragraph);
    if (!text.empty()) sections.back().paragraphs.push_back(std::move(text));
    paragraph.clear();
  };
  size_t pos = 0;
  while (pos <= markdown.size()) {
    const auto newline = markdown.find('\n', pos);
    const auto line =
        markdown.substr(pos, newline == std::string_view::npos ? std::string_view::npos : newline - pos);
    pos = newline == std::string_view::npos ? markdown.size() + 1 : newline + 1;
    const std::string trimmed = strip(line);
    if (trimmed.starts_with("```")) in_fence = !in_fence;
    const int level = in_fence ? 0 : heading_level(trimmed);
    if (level > 0) {
      end_paragraph();
      stack.resize(static_cast<size_t>(level - 1));
      stack.push_back(strip(std::string_view(trimmed).substr(static_cast<size_t>(level))));
      sections.push_back(Section{join_path(stack), {}});
    } else if (trimmed.empty() && !in_fence) {
      end_paragraph();
    } else {
      paragraph += std::string(line) + "\n";
    }
  }
  end_paragraph();
  return sections;
}

}  // namespace

std::vector<Chunk> chunk_markdown(std::string_view markdown, const ChunkOptions& options) {
  std::vector<Chunk> chunks;
  const auto emit = [&](const std::string& heading, std::string& body, size_t& tokens) {
    if (tokens == 0) return;
    chunks.push_back(Chunk{static_cast<int>(chunks.size()), heading, strip(body), tokens});
    body.clear();
    tokens = 0;
  };
  for (const auto& section : split_sections(markdown)) {
    std::string body;
    size_t tokens = 0;
    for (const auto& paragraph : section.paragraphs) {
      const size_t paragraph_tokens = count_tokens(paragraph);
      if (paragraph_tokens <= options.max_tokens) {
        if (tokens + paragraph_tokens > options.max_tokens) emit(section.heading, body, tokens);
        body += paragraph + "\n\n";
        tokens += paragraph_tokens;
        continue;
      }
      // An oversized paragraph is split between sentences, never inside one.
      for (const auto& sentence : split_sentences(paragraph)) {
        const size_t sentence_tokens = count_tokens(sentence);
        if (tokens > 0 && tokens + sentence_tokens > options.max_tokens) emit(section.heading, body, tokens);
        body += sentence + " ";
        tokens += sentence_tokens;
      }
      body += "\n\n";
    }
    emit(section.heading, body, tokens);
  }
  return chunks;
}

}  // namespace brandcoach::text
