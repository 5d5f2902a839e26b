#include <toml++/toml.h>

#include <fmt/format.h>

#include "brandcoach/coach/coach.hpp"

namespace brandcoach::coach {

namespace fs = std::filesystem;

fs::path bundled_data_dir() {
  if (fs::exists("data/assistants.toml")) return fs::path("data");
  return fs::path(BRANDCOACH_SOURCE_DATA_DIR);
}

namespace {

Result<std::string> required_string(const toml::table& table, const std::string& where, const char* key) {
  auto value = table[key].value<std::string>();
  if (!value || value->empty())
    return Error::config(where + "." + key + " must be a non-empty string", where + "." + key);
  return *value;
}

}  // namespace

Result<AssistantRegistry> AssistantRegistry::load(const fs::path& file) {
  toml::table root;
  try {
    root = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Error::config(fmt::format("{}:{}: {}", file.string(), e.source().begin.line, e.description()),
                         "knowledge.assistants_file");
  }
  const auto* table = root["assistants"].as_table();
  if (!table) return Error::config(file.string() + " has no [assistants] table", "knowledge.assistants_file");

  AssistantRegistry registry;
  for (const auto& id : route::assistant_names()) {
    const std::string where = "assistants." + id;
    const auto* entry = (*table)[id].as_table();
    if (!entry) return Error::config(file.string() + " lacks [" + where + "]", where);
    Assistant a;
    a.id = id;
    for (auto [field, key] : {std::pair{&a.title, "title"},
                              {&a.instructions, "instructions"},
                              {&a.knowledge_store, "knowledge_store"},
                              {&a.intro, "intro"}}) {
      auto value = required_string(*entry, where, key);
      if (!value) return value.error();
      *field = *value;
    }
    a.model = (*entry)["model"].value_or(std::string());
    a.temperature = (*entry)["temperature"].value_or(0.7);
    if (a.temperature < 0 || a.temperature > 2)
      return Error::config(where + ".temperature must be 0..2", where);
    a.max_output_tokens = (*entry)["max_output_tokens"].value_or(int64_t{800});
    if (a.max_output_tokens < 16 || a.max_output_tokens > 32768) {
      return Error::config(where + ".max_output_tokens must be 16..32768", where);
    }
    if (const auto* steps = (*entry)["next_steps"].as_array()) {
      for (const auto& step : *steps) {
        if (auto text = step.value<std::string>()) a.next_steps.push_back(*text);
      }
    }
    if (a.next_steps.empty())
      return Error::config(where + ".next_steps must list at least one question", where);
    registry.assistants_.push_back(std::move(a));
  }
  return registry;
}

const Assistant* AssistantRegistry::find(std::string_view id) const {
  for (const auto& a : assistants_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

}  // namespace brandcoach::coach
