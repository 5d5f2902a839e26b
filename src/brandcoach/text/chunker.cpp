#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "brandcoach/text/text.hpp"

namespace brandcoach::text {

namespace {

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

// The smallest piece the chunker moves: a sentence (or a slice of an overlong one).
struct Unit {
  std::string text;
  size_t tokens = 0;
  bool starts_paragraph = false;
  int page = 0;
};

// Splits one sentence that alone exceeds the budget between words.
void split_overlong(const std::string& sentence, size_t max_tokens, int page, bool starts_paragraph,
                    std::vector<Unit>& out) {
  std::string piece;
  size_t pos = 0;
  while (pos < sentence.size()) {
    auto space = sentence.find(' ', pos);
    if (space == std::string::npos) space = sentence.size();
    const std::string word = sentence.substr(pos, space - pos);
    pos = space + 1;
    const std::string candidate = piece.empty() ? word : piece + " " + word;
    if (!piece.empty() && count_tokens(candidate) > max_tokens) {
      out.push_back({piece, count_tokens(piece), starts_paragraph && out.empty(), page});
      starts_paragraph = false;
      piece = word;
    } else {
      piece = candidate;
    }
  }
  if (!piece.empty()) out.push_back({piece, count_tokens(piece), starts_paragraph, page});
}

std::vector<Unit> paragraph_units(const Block& block, size_t max_tokens) {
  std::vector<Unit> units;
  bool first = true;
  for (auto& sentence : split_sentences(block.text)) {
    const size_t tokens = count_tokens(sentence);
    if (tokens == 0) continue;
    if (tokens > max_tokens) {
      split_overlong(sentence, max_tokens, block.page, first, units);
    } else {
      units.push_back({std::move(sentence), tokens, first, block.page});
    }
    first = false;
  }
  return units;
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

// The leading " > "-separated parts two heading paths have in common.
std::string shared_path(std::string_view a, std::string_view b) {
  constexpr std::string_view kSeparator = " > ";
  size_t common = 0;  // length of the shared prefix that ends at a part boundary
  for (size_t i = 0;; ++i) {
    const bool a_end = i == a.size() || a.substr(i, kSeparator.size()) == kSeparator;
    const bool b_end = i == b.size() || b.substr(i, kSeparator.size()) == kSeparator;
    if (a_end && b_end) common = i;
    if (i == a.size() || i == b.size() || a[i] != b[i]) break;
  }
  return std::string(a.substr(0, common));
}

// Builds the chunks of one section (the paragraphs under one heading path).
class SectionChunker {
 public:
  SectionChunker(const ChunkOptions& options, std::vector<Chunk>& out) : options_(options), out_(out) {}

  void start(std::string heading) {
    flush();
    current_.clear();
    heading_ = std::move(heading);
  }

  void add_paragraph(std::vector<Unit> units) {
    size_t paragraph_tokens = 0;
    for (const auto& u : units) paragraph_tokens += u.tokens;
    // Prefer a paragraph boundary: when the whole paragraph does not fit and the chunk is already at
    // least half full, break before it rather than inside it.
    if (fresh_tokens() > 0 && tokens() + paragraph_tokens > options_.max_tokens &&
        tokens() * 2 >= options_.max_tokens) {
      emit_and_overlap();
    }
    for (auto& unit : units) {
      if (fresh_tokens() > 0 && tokens() + unit.tokens > options_.max_tokens) emit_and_overlap();
      // Overlap must never push a chunk over budget: drop the oldest overlap first.
      while (overlap_count_ > 0 && tokens() + unit.tokens > options_.max_tokens) {
        current_.erase(current_.begin());
        --overlap_count_;
      }
      current_.push_back(std::move(unit));
    }
  }

  // Whether a whole section of `section_tokens` joins the chunk being built, so a run of short
  // sections shares one chunk instead of each becoming a sliver of its own. Packing stops at half the
  // budget: on the bundled library, filling chunks to the brim lost more dense-retrieval precision
  // (one topic diluted by its neighbours) than it saved in vectors.
  bool fits(size_t section_tokens) const {
    return fresh_tokens() > 0 && tokens() + section_tokens <= options_.max_tokens / 2;
  }

  // Continues the current chunk with a whole section; its heading stays in the text, marked as one,
  // and the chunk's heading path narrows to what its sections share ("Guide > A" and "Guide > B"
  // make "Guide"), so a citation never names a section the chunk only partly is.
  void append_section(const std::string& path, Unit heading, std::vector<std::vector<Unit>> paragraphs) {
    heading_ = shared_path(heading_, path);
    current_.push_back(std::move(heading));
    for (auto& paragraph : paragraphs) {
      for (auto& unit : paragraph) current_.push_back(std::move(unit));
    }
  }

  void flush() {
    if (fresh_tokens() > 0) emit();
    current_.clear();
    overlap_count_ = 0;
  }

 private:
  size_t tokens() const {
    size_t total = 0;
    for (const auto& u : current_) total += u.tokens;
    return total;
  }
  size_t fresh_tokens() const {
    size_t total = 0;
    for (size_t i = overlap_count_; i < current_.size(); ++i) total += current_[i].tokens;
    return total;
  }

  void emit() {
    std::string body;
    for (size_t i = 0; i < current_.size(); ++i) {
      if (i > 0) body += current_[i].starts_paragraph ? "\n\n" : " ";
      body += current_[i].text;
    }
    const int page = current_.front().page;
    out_.push_back({static_cast<int>(out_.size()), heading_, strip(body), 0, page});
    out_.back().tokens = count_tokens(out_.back().text);
  }

  // Emits the chunk, then starts the next with the previous chunk's last sentences (at most
  // overlap_tokens of them) so a passage that straddles the cut is found whole in one chunk.
  void emit_and_overlap() {
    emit();
    std::vector<Unit> tail;
    size_t tail_tokens = 0;
    for (auto it = current_.rbegin(); it != current_.rend(); ++it) {
      if (tail_tokens + it->tokens > options_.overlap_tokens || tail.size() + 1 >= current_.size()) break;
      tail_tokens += it->tokens;
      tail.insert(tail.begin(), *it);
    }
    current_ = std::move(tail);
    overlap_count_ = current_.size();
  }

  const ChunkOptions& options_;
  std::vector<Chunk>& out_;
  std::string heading_;
  std::vector<Unit> current_;
  size_t overlap_count_ = 0;  // leading units of current_ repeated from the previous chunk
};

}  // namespace

std::vector<Block> markdown_blocks(std::string_view markdown) {
  std::vector<Block> blocks;
  std::string paragraph;
  bool in_fence = false;
  const auto end_paragraph = [&] {
    std::string text = strip(paragraph);
    if (!text.empty()) blocks.push_back({Block::Kind::paragraph, 0, std::move(text), 0});
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
      blocks.push_back({Block::Kind::heading, level, strip(std::string_view(trimmed).substr(level)), 0});
    } else if (trimmed.empty() && !in_fence) {
      end_paragraph();
    } else {
      paragraph += std::string(line) + "\n";
    }
  }
  end_paragraph();
  return blocks;
}

std::optional<std::string> validate(const ChunkOptions& options) {
  if (options.max_tokens < 100 || options.max_tokens > 4096) {
    return fmt::format("max_chunk_size_tokens must be between 100 and 4096 (got {})", options.max_tokens);
  }
  if (options.overlap_tokens * 2 > options.max_tokens) {
    return fmt::format("chunk_overlap_tokens must be at most half of max_chunk_size_tokens (got {} of {})",
                       options.overlap_tokens, options.max_tokens);
  }
  return std::nullopt;
}

namespace {

// A heading and the paragraphs under it, up to the next heading.
struct Section {
  std::string path;  // "Title > Section"
  int level = 0;     // 0 for text before the first heading
  std::string heading;
  std::vector<std::vector<Unit>> paragraphs;
  size_t tokens = 0;  // paragraphs and heading line together
};

std::vector<Section> sections_of(const std::vector<Block>& blocks, size_t max_tokens) {
  std::vector<Section> sections(1);
  std::vector<std::string> stack;
  for (const auto& block : blocks) {
    if (block.kind == Block::Kind::heading) {
      const auto level = static_cast<size_t>(std::clamp(block.level, 1, 6));
      stack.resize(level - 1);
      stack.push_back(block.text);
      Section next;
      next.path = join_path(stack);
      next.level = static_cast<int>(level);
      next.heading = block.text;
      next.tokens = count_tokens(block.text) + 1;
      sections.push_back(std::move(next));
    } else {
      auto units = paragraph_units(block, max_tokens);
      for (const auto& unit : units) sections.back().tokens += unit.tokens;
      sections.back().paragraphs.push_back(std::move(units));
    }
  }
  return sections;
}

}  // namespace

std::vector<Chunk> chunk_blocks(const std::vector<Block>& blocks, const ChunkOptions& options) {
  std::vector<Chunk> chunks;
  SectionChunker chunker(options, chunks);
  for (auto& section : sections_of(blocks, options.max_tokens)) {
    if (section.paragraphs.empty()) continue;
    // A heading is the preferred place to cut, but only where the next section would not fit: short
    // sections are packed together, so a chunk carries enough text to be worth a search hit.
    if (section.level > 0 && chunker.fits(section.tokens)) {
      const int page = section.paragraphs.front().empty() ? 0 : section.paragraphs.front().front().page;
      Unit heading{std::string(static_cast<size_t>(section.level), '#') + " " + section.heading,
                   section.tokens, true, page};
      heading.tokens = count_tokens(section.heading) + 1;
      chunker.append_section(section.path, std::move(heading), std::move(section.paragraphs));
      continue;
    }
    chunker.start(std::move(section.path));
    for (auto& paragraph : section.paragraphs) chunker.add_paragraph(std::move(paragraph));
  }
  chunker.flush();
  return chunks;
}

std::vector<Chunk> chunk_markdown(std::string_view markdown, const ChunkOptions& options) {
  return chunk_blocks(markdown_blocks(markdown), options);
}

}  // namespace brandcoach::text
