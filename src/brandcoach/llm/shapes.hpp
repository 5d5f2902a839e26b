// The shape each assistant's offline answer takes (private to the llm module).
//
// A shape is a small set of slots a coach would fill in: the SWOT quadrants of a diagnosis, the
// parts of a customer avatar, the blocks of the business model canvas, the CAPTURE letters, the
// mission/vision/values or story beats of a core brand. Each slot is filled from what the user told
// the coach (their profile facts) and from knowledge-base sentences about it; a slot with neither
// says what is missing and gives the question that would fill it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace brandcoach::llm::shapes {

struct Slot {
  std::string_view title;
  std::vector<std::string_view> fact_keys;  // profile keys whose values belong here
  std::vector<std::string_view> cues;       // stems that mark a knowledge sentence as about this slot
  std::string_view question;                // asked when the slot is empty
};

enum class Layout { table, list };

struct Shape {
  std::string_view heading;  // "Brand SWOT"
  std::string_view column;   // first column of a table: "Quadrant"
  Layout layout = Layout::list;
  std::vector<Slot> slots;
  size_t max_slots = 0;  // > 0: only this many slots, those the message is most about
};

/// The shape for an assistant's answer to a message whose content stems are `query`; null for an
/// assistant without one.
const Shape* shape_for(std::string_view assistant, const std::vector<std::string>& query);

}  // namespace brandcoach::llm::shapes
