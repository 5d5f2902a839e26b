// Attribute filters: OpenAI's vector-store filter grammar, validated once and evaluated per chunk.
//
// The parsed filter is kept as normalised JSON rather than an AST: a filter has at most 256
// comparisons and 16 levels, so walking the JSON is cheap, and json() can hand it back verbatim.
// Evaluation never copies an attribute value; strings are compared through references.
#include <cmath>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "brandcoach/index/index.hpp"

namespace brandcoach::index {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 16;
constexpr int kMaxComparisons = 256;

enum class Op { eq, ne, gt, gte, lt, lte, in, nin, all, any };

std::optional<Op> op_from_type(std::string_view type) {
  if (type == "eq") return Op::eq;
  if (type == "ne") return Op::ne;
  if (type == "gt") return Op::gt;
  if (type == "gte") return Op::gte;
  if (type == "lt") return Op::lt;
  if (type == "lte") return Op::lte;
  if (type == "in") return Op::in;
  if (type == "nin") return Op::nin;
  if (type == "and") return Op::all;
  if (type == "or") return Op::any;
  return std::nullopt;
}

bool is_compound(Op op) {
  return op == Op::all || op == Op::any;
}
bool is_ordering(Op op) {
  return op == Op::gt || op == Op::gte || op == Op::lt || op == Op::lte;
}
bool is_membership(Op op) {
  return op == Op::in || op == Op::nin;
}

// The comparable families. Integers and floats are one family so that 3 == 3.0.
enum class Kind { string, number, boolean, other };

Kind kind_of(const json& value) {
  if (value.is_string()) return Kind::string;
  if (value.is_number()) return Kind::number;
  if (value.is_boolean()) return Kind::boolean;
  return Kind::other;
}

// ---------------------------------------------------------------------------------------------
// Exact numeric comparison across int64, uint64 and double. Casting everything to double would
// make distinct integers above 2^53 compare equal.

constexpr double kTwoPow63 = 9223372036854775808.0;
constexpr double kTwoPow64 = 18446744073709551616.0;

std::partial_ordering compare_int_double(int64_t i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= kTwoPow63) return std::partial_ordering::less;
  if (d < -kTwoPow63) return std::partial_ordering::greater;
  // In range, so the truncation is defined; d - trunc(d) is exact in binary floating point.
  const auto whole = static_cast<int64_t>(d);
  if (i != whole) return i <=> whole;
  return 0.0 <=> (d - static_cast<double>(whole));
}

std::partial_ordering compare_uint_double(uint64_t u, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d < 0) return std::partial_ordering::greater;
  if (d >= kTwoPow64) return std::partial_ordering::less;
  const auto whole = static_cast<uint64_t>(d);
  if (u != whole) return u <=> whole;
  return 0.0 <=> (d - static_cast<double>(whole));
}

std::partial_ordering compare_int_uint(int64_t i, uint64_t u) {
  if (i < 0) return std::partial_ordering::less;
  return static_cast<uint64_t>(i) <=> u;
}

std::partial_ordering compare_numbers(const json& a, const json& b) {
  using T = json::value_t;
  const T ta = a.type();
  const T tb = b.type();
  if (ta == T::number_float) {
    const double da = a.get<double>();
    if (tb == T::number_float) return da <=> b.get<double>();
    if (tb == T::number_unsigned) return 0 <=> compare_uint_double(b.get<uint64_t>(), da);
    return 0 <=> compare_int_double(b.get<int64_t>(), da);
  }
  if (ta == T::number_unsigned) {
    const auto ua = a.get<uint64_t>();
    if (tb == T::number_float) return compare_uint_double(ua, b.get<double>());
    if (tb == T::number_unsigned) return ua <=> b.get<uint64_t>();
    return 0 <=> compare_int_uint(b.get<int64_t>(), ua);
  }
  const auto ia = a.get<int64_t>();
  if (tb == T::number_float) return compare_int_double(ia, b.get<double>());
  if (tb == T::number_unsigned) return compare_int_uint(ia, b.get<uint64_t>());
  return ia <=> b.get<int64_t>();
}

// How `attribute` orders against the filter's `value`, or nullopt when they are of different
// families (or the attribute is null, an object or an array), which no operator can relate.
std::optional<std::partial_ordering> compare(const json& attribute, const json& value) {
  const Kind kind = kind_of(value);
  if (kind_of(attribute) != kind) return std::nullopt;
  switch (kind) {
    case Kind::string:
      return attribute.get_ref<const std::string&>() <=> value.get_ref<const std::string&>();
    case Kind::number:
      return compare_numbers(attribute, value);
    case Kind::boolean:
      return attribute.get<bool>() <=> value.get<bool>();
    case Kind::other:
      break;
  }
  return std::nullopt;
}

bool equals(const json& attribute, const json& value) {
  const auto order = compare(attribute, value);
  return order && std::is_eq(*order);
}

// ---------------------------------------------------------------------------------------------
// Validation

std::string join(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : path + "." + std::string(field);
}

std::string index_path(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

class Validator {
 public:
  // Checks `node` (the filter at `path`, `depth` levels down, the root being 1) and returns its
  // normalised form: only the fields the grammar defines, in canonical order.
  Result<json> validate(const json& node, const std::string& path, int depth) {
    if (depth > kMaxDepth) {
      return Error::invalid("filter nested too deeply (at most " + std::to_string(kMaxDepth) + " levels)",
                            path);
    }
    if (!node.is_object()) return Error::invalid("a filter must be a JSON object", path);
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string& field = it.key();
      if (field != "type" && field != "key" && field != "value" && field != "filters") {
        return Error::invalid("unknown field '" + field + "' in filter", join(path, field));
      }
    }
    const auto type = node.find("type");
    if (type == node.end()) return Error::invalid("missing required field 'type'", join(path, "type"));
    if (!type->is_string()) return Error::invalid("'type' must be a string", join(path, "type"));
    const auto& type_name = type->get_ref<const std::string&>();
    const auto op = op_from_type(type_name);
    if (!op) {
      return Error::invalid(
          "unknown filter type '" + type_name + "'; expected eq, ne, gt, gte, lt, lte, in, nin, and or or",
          join(path, "type"));
    }
    return is_compound(*op) ? validate_compound(node, type_name, path, depth)
                            : validate_comparison(node, *op, type_name, path);
  }

 private:
  Result<json> validate_compound(const json& node, const std::string& type, const std::string& path,
                                 int depth) {
    for (const char* field : {"key", "value"}) {
      if (node.contains(field)) {
        return Error::invalid("field '" + std::string(field) + "' is not allowed in an '" + type + "' filter",
                              join(path, field));
      }
    }
    const std::string filters_path = join(path, "filters");
    const auto filters = node.find("filters");
    if (filters == node.end()) return Error::invalid("missing required field 'filters'", filters_path);
    if (!filters->is_array()) return Error::invalid("'filters' must be an array of filters", filters_path);
    if (filters->empty()) return Error::invalid("'filters' must not be empty", filters_path);
    json children = json::array();
    for (size_t i = 0; i < filters->size(); ++i) {
      auto child = validate((*filters)[i], index_path(filters_path, i), depth + 1);
      if (!child) return child.error();
      children.push_back(std::move(child).value());
    }
    return json{{"type", type}, {"filters", std::move(children)}};
  }

  Result<json> validate_comparison(const json& node, Op op, const std::string& type,
                                   const std::string& path) {
    if (node.contains("filters")) {
      return Error::invalid("field 'filters' is not allowed in an '" + type + "' comparison",
                            join(path, "filters"));
    }
    const std::string key_path = join(path, "key");
    const auto key = node.find("key");
    if (key == node.end()) return Error::invalid("missing required field 'key'", key_path);
    if (!key->is_string()) return Error::invalid("'key' must be a string", key_path);
    if (key->get_ref<const std::string&>().empty())
      return Error::invalid("'key' must not be empty", key_path);

    const std::string value_path = join(path, "value");
    const auto value = node.find("value");
    if (value == node.end()) return Error::invalid("missing required field 'value'", value_path);
    if (auto checked = check_value(*value, op, type, value_path); !checked) return checked.error();

    // Counted after the comparison is known to be well formed, so the error names the first
    // comparison past the limit.
    if (++comparisons_ > kMaxComparisons) {
      return Error::invalid(
          "filter has too many comparisons (at most " + std::to_string(kMaxComparisons) + ")", path);
    }
    return json{{"type", type}, {"key", *key}, {"value", *value}};
  }

  static Status check_scalar(const json& value, const std::string& path) {
    const Kind kind = kind_of(value);
    if (kind == Kind::other) return Error::invalid("'value' must be a string, number or boolean", path);
    // Only reachable for JSON built in code (text cannot spell NaN or infinity), but a NaN would
    // make every comparison false and ne true, which no caller means.
    if (value.is_number_float() && !std::isfinite(value.get<double>())) {
      return Error::invalid("'value' must be a finite number", path);
    }
    return ok();
  }

  static Status check_value(const json& value, Op op, const std::string& type, const std::string& path) {
    if (is_membership(op)) {
      if (!value.is_array()) return Error::invalid("'" + type + "' takes an array of values", path);
      if (value.empty()) return Error::invalid("'value' must not be an empty array", path);
      const Kind first = kind_of(value.front());
      for (size_t i = 0; i < value.size(); ++i) {
        const std::string element_path = index_path(path, i);
        if (auto checked = check_scalar(value[i], element_path); !checked) return checked;
        if (kind_of(value[i]) != first) {
          return Error::invalid("all values of '" + type + "' must have the same type", element_path);
        }
      }
      return ok();
    }
    if (value.is_array()) return Error::invalid("'" + type + "' takes a single value, not an array", path);
    if (auto checked = check_scalar(value, path); !checked) return checked;
    if (is_ordering(op) && value.is_boolean()) {
      return Error::invalid("'" + type + "' takes a number or a string, not a boolean", path);
    }
    return ok();
  }

  int comparisons_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Evaluation over the normalised JSON; the validator guarantees every field read here exists.

bool evaluate(const json& node, const json& attributes);

bool evaluate_comparison(Op op, const json& node, const json& attributes) {
  const json& value = node["value"];
  const auto found = attributes.find(node["key"].get_ref<const std::string&>());
  const json* attribute = found == attributes.end() ? nullptr : &*found;

  if (is_membership(op)) {
    bool member = false;
    if (attribute != nullptr) {
      for (const auto& candidate : value) {
        if (equals(*attribute, candidate)) {
          member = true;
          break;
        }
      }
    }
    return op == Op::in ? member : !member;
  }

  const auto order = attribute == nullptr ? std::nullopt : compare(*attribute, value);
  switch (op) {
    case Op::eq:
      return order && std::is_eq(*order);
    case Op::ne:
      return !(order && std::is_eq(*order));
    case Op::gt:
      return order && std::is_gt(*order);
    case Op::gte:
      return order && std::is_gteq(*order);
    case Op::lt:
      return order && std::is_lt(*order);
    case Op::lte:
      return order && std::is_lteq(*order);
    default:
      return false;  // membership and compounds are handled elsewhere
  }
}

bool evaluate(const json& node, const json& attributes) {
  const Op op = *op_from_type(node["type"].get_ref<const std::string&>());
  if (!is_compound(op)) return evaluate_comparison(op, node, attributes);
  for (const auto& child : node["filters"]) {
    const bool result = evaluate(child, attributes);
    // Short-circuit: the first false decides an and, the first true decides an or.
    if (op == Op::all && !result) return false;
    if (op == Op::any && result) return true;
  }
  return op == Op::all;
}

}  // namespace

Result<Filter> Filter::parse(const nlohmann::json& json) {
  Validator validator;
  auto normalised = validator.validate(json, "", 1);
  if (!normalised) return normalised.error();
  Filter filter;
  filter.json_ = std::move(normalised).value();
  return filter;
}

bool Filter::matches(const nlohmann::json& attributes) const {
  // A default-constructed Filter was never parsed: it constrains nothing.
  if (!json_.is_object()) return true;
  // Attributes that are not an object (null, a stray array) behave as an empty object: find()
  // returns end() on them, so every key is missing and only ne/nin-style comparisons hold.
  return evaluate(json_, attributes);
}

}  // namespace brandcoach::index
