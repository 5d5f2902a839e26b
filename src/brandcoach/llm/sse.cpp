// An incremental text/event-stream parser, as the WHATWG HTML standard defines the format.
#include "brandcoach/llm/llm.hpp"

namespace brandcoach::llm {

Result<std::vector<SseEvent>> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\n' && c != '\r') continue;
    // A CR LF pair split across two feeds: the LF ends nothing new.
    if (c == '\n' && i == 0 && last_was_cr_ && pending_.empty()) {
      start = 1;
      last_was_cr_ = false;
      continue;
    }
    pending_.append(bytes.substr(start, i - start));
    if (auto status = line(pending_, out); !status) return status.error();
    pending_.clear();
    const bool crlf = c == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n';
    if (crlf) ++i;
    // Only a CR that ends this feed may have its LF at the start of the next. (Tested after skipping
    // the LF of a CR LF pair, this was also true for a pair that ends the feed, and the next feed's
    // leading LF, a blank line that dispatches an event, was dropped.)
    last_was_cr_ = c == '\r' && !crlf && i + 1 >= bytes.size();
    start = i + 1;
  }
  if (start < bytes.size()) {
    last_was_cr_ = false;
    pending_.append(bytes.substr(start));
    if (pending_.size() > max_event_bytes_) return Error::invalid("server-sent event line is too long");
  }
  return out;
}

Status SseParser::line(std::string_view text, std::vector<SseEvent>& out) {
  if (text.empty()) {
    if (has_data_) {
      if (!data_.empty() && data_.back() == '\n') data_.pop_back();
      out.push_back({event_.empty() ? "message" : event_, std::move(data_)});
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    return ok();
  }
  if (text.front() == ':') return ok();  // a comment (keep-alive)
  const auto colon = text.find(':');
  const std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "event") {
    event_ = std::string(value);
  } else if (field == "data") {
    if (data_.size() + value.size() + 1 > max_event_bytes_)
      return Error::invalid("server-sent event is too large");
    data_.append(value);
    data_.push_back('\n');
    has_data_ = true;
  }
  // "id" and "retry" matter to reconnecting browsers, not to one upstream call.
  return ok();
}

}  // namespace brandcoach::llm
