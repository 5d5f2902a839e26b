// brandcoach memory: what the coach learns about a user from what they write.
//
// This first piece recognises the user introducing themselves, so the coach can greet them by name
// in every later session. Fact extraction, versioning and summaries build on this module.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace brandcoach::memory {

/// The name a user gives for themselves ("my name is Ana", "call me Dr. Lee", "I'm Priya, I run…"),
/// capitalised as written; nullopt when the message does not introduce the user.
std::optional<std::string> introduced_name(std::string_view message);

}  // namespace brandcoach::memory
