// What both stores agree a fact change looks like: which statuses exist and how a fact appears in
// an audit row. Private to the store module.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "brandcoach/store/store.hpp"

namespace brandcoach::store {

/// A fact as an audit row's before/after shows it.
inline nlohmann::json fact_audit_json(const Fact& f) {
  return {{"id", f.id},
          {"key", f.key},
          {"value", f.value},
          {"category", f.category},
          {"status", f.status},
          {"confidence", f.confidence},
          {"source_message_id", f.source_message_id},
          {"supersedes_id", f.supersedes_id}};
}

inline bool valid_fact_status(std::string_view status) {
  return status == "active" || status == "superseded" || status == "rejected" ||
         status == "pending_confirmation";
}

}  // namespace brandcoach::store
