// The attribute filter grammar: JSON from the input (other inputs are skipped) through Filter::parse;
// a filter that parses must parse again from its normalised form to the same filter, and is evaluated
// against attribute objects built from its own keys and values (so comparisons meet equal, missing
// and differently typed attributes).
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "brandcoach/index/index.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;
using nlohmann::json;

namespace {

// Every {"key": k, "value": v} in the filter, as attributes {k: v} (an array value: its first element).
void collect(const json& node, json& attributes, int depth) {
  if (depth > 32) return;
  if (node.is_object()) {
    const auto key = node.find("key");
    const auto value = node.find("value");
    if (key != node.end() && key->is_string() && value != node.end()) {
      const json& v = value->is_array() && !value->empty() ? value->front() : *value;
      attributes[key->get<std::string>()] = v;
    }
    for (const auto& item : node) collect(item, attributes, depth + 1);
  } else if (node.is_array()) {
    for (const auto& item : node) collect(item, attributes, depth + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const json input = json::parse(fuzz::as_text(data, size), nullptr, /*allow_exceptions=*/false);
  if (input.is_discarded()) return 0;
  auto filter = index::Filter::parse(input);
  if (!filter) return 0;

  // Normalising is idempotent: the normalised filter parses to itself.
  auto again = index::Filter::parse(filter->json());
  if (!again || again->json() != filter->json()) __builtin_trap();

  json exact = json::object();
  collect(input, exact, 0);
  json shifted = json::object();  // the same keys with other values and types
  for (const auto& [key, value] : exact.items()) {
    if (value.is_number_integer()) {
      shifted[key] = value.get<int64_t>() == INT64_MAX ? json(-1.5) : json(value.get<int64_t>() + 1);
    } else if (value.is_number()) {
      shifted[key] = std::to_string(value.get<double>());
    } else if (value.is_string()) {
      shifted[key] = value.get<std::string>() + "~";
    } else if (value.is_boolean()) {
      shifted[key] = !value.get<bool>();
    } else {
      shifted[key] = json::array({value});
    }
  }
  const std::vector<json> attributes = {json::object(), exact, shifted,
                                        json{{"a", nullptr}, {"b", json::object()}, {"c", 1e308}}};
  for (const auto& attrs : attributes) {
    const bool matched = filter->matches(attrs);
    // Evaluation depends only on the filter's meaning, so the normalised copy agrees.
    if (again->matches(attrs) != matched) __builtin_trap();
  }
  return 0;
}
