// What both stores agree a fact change looks like: which statuses exist and how a fact appears in
// an audit row. Private to the store module.
#pragma once

#include <cstdint>
#include <string>
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

/// The audit row of one change (`before`/`after` null: nothing on that side), stamped now.
inline AuditEntry audit_entry(int64_t user_id, std::string_view actor, std::string_view action,
                              std::string_view object, const nlohmann::json& before,
                              const nlohmann::json& after) {
  AuditEntry entry;
  entry.user_id = user_id;
  entry.actor = std::string(actor);
  entry.action = std::string(action);
  entry.object = std::string(object);
  entry.before_json = before.is_null() ? "" : before.dump();
  entry.after_json = after.is_null() ? "" : after.dump();
  entry.at = unix_millis();
  return entry;
}

inline bool valid_fact_status(std::string_view status) {
  return status == "active" || status == "superseded" || status == "rejected" ||
         status == "pending_confirmation";
}

}  // namespace brandcoach::store
