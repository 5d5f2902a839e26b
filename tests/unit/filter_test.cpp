// Attribute filters: OpenAI's vector-store filter grammar — parsing, validation errors with the
// JSON path of the fault, and matching semantics (types, missing keys, nesting).
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "brandcoach/index/index.hpp"

namespace brandcoach::index {
namespace {

using nlohmann::json;

// Parses `filter` (which must be valid) and evaluates it against `attributes`. A parse failure
// fails the test, so a broken filter can never pass as an expected `false`.
bool match(const json& filter, const json& attributes) {
  auto parsed = Filter::parse(filter);
  if (!parsed) {
    ADD_FAILURE() << "filter did not parse: " << parsed.error().message << " at '" << parsed.error().param
                  << "': " << filter.dump();
    return false;
  }
  return parsed->matches(attributes);
}

// The error `filter` is rejected with; fails the test when it parses, or with another error kind.
Error rejection(const json& filter) {
  auto parsed = Filter::parse(filter);
  if (parsed) {
    ADD_FAILURE() << "filter parsed but should not have: " << filter.dump();
    return {};
  }
  EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_input) << filter.dump();
  EXPECT_FALSE(parsed.error().message.empty()) << filter.dump();
  return parsed.error();
}

json cmp(const std::string& type, const std::string& key, json value) {
  return {{"type", type}, {"key", key}, {"value", std::move(value)}};
}

json compound(const std::string& type, json filters) {
  return {{"type", type}, {"filters", std::move(filters)}};
}

// ---------------------------------------------------------------------------------------------
// Strings

TEST(FilterStrings, EqMatchesOnlyTheIdenticalString) {
  EXPECT_TRUE(match(cmp("eq", "region", "emea"), {{"region", "emea"}}));
  EXPECT_FALSE(match(cmp("eq", "region", "emea"), {{"region", "apac"}}));
  EXPECT_FALSE(match(cmp("eq", "region", "emea"), {{"region", "EMEA"}}));
  EXPECT_FALSE(match(cmp("eq", "region", "emea"), {{"region", "emea "}}));
}

TEST(FilterStrings, NeMatchesEveryOtherString) {
  EXPECT_FALSE(match(cmp("ne", "region", "emea"), {{"region", "emea"}}));
  EXPECT_TRUE(match(cmp("ne", "region", "emea"), {{"region", "apac"}}));
  EXPECT_TRUE(match(cmp("ne", "region", "emea"), {{"region", ""}}));
}

TEST(FilterStrings, OrderingOperatorsCompareLexicographically) {
  const json attributes = {{"name", "beta"}};
  EXPECT_TRUE(match(cmp("gt", "name", "alpha"), attributes));
  EXPECT_FALSE(match(cmp("gt", "name", "beta"), attributes));
  EXPECT_TRUE(match(cmp("gte", "name", "beta"), attributes));
  EXPECT_FALSE(match(cmp("gte", "name", "gamma"), attributes));
  EXPECT_TRUE(match(cmp("lt", "name", "gamma"), attributes));
  EXPECT_FALSE(match(cmp("lt", "name", "beta"), attributes));
  EXPECT_TRUE(match(cmp("lte", "name", "beta"), attributes));
  EXPECT_FALSE(match(cmp("lte", "name", "alpha"), attributes));
  // A prefix sorts before the longer string; "B" (0x42) before "a" (0x61).
  EXPECT_TRUE(match(cmp("lt", "name", "betamax"), attributes));
  EXPECT_TRUE(match(cmp("gt", "name", "Zeta"), attributes));
}

TEST(FilterStrings, IsoDatesCompareChronologically) {
  const json attributes = {{"published", "2024-03-01T09:00:00Z"}};
  EXPECT_TRUE(match(cmp("gte", "published", "2024-03-01"), attributes));
  EXPECT_TRUE(match(cmp("gt", "published", "2024-02-29T23:59:59Z"), attributes));
  EXPECT_TRUE(match(cmp("lt", "published", "2024-12-31"), attributes));
  EXPECT_FALSE(match(cmp("lt", "published", "2023-12-31"), attributes));
}

TEST(FilterStrings, Utf8StringsOrderByCodePoint) {
  // Byte order of UTF-8 is code-point order only if bytes compare unsigned: é (0xC3…) > z.
  EXPECT_TRUE(match(cmp("gt", "word", "z"), {{"word", "\xC3\xA9t\xC3\xA9"}}));
  EXPECT_TRUE(match(cmp("eq", "word", "\xC3\xA9t\xC3\xA9"), {{"word", "\xC3\xA9t\xC3\xA9"}}));
}

// ---------------------------------------------------------------------------------------------
// Numbers

TEST(FilterNumbers, IntegersAndFloatsCompareByValue) {
  EXPECT_TRUE(match(cmp("eq", "n", 3), {{"n", 3.0}}));
  EXPECT_TRUE(match(cmp("eq", "n", 3.0), {{"n", 3}}));
  EXPECT_TRUE(match(cmp("eq", "n", 3), {{"n", 3u}}));
  EXPECT_FALSE(match(cmp("eq", "n", 3), {{"n", 3.5}}));
  EXPECT_FALSE(match(cmp("ne", "n", 3.0), {{"n", 3}}));
  EXPECT_TRUE(match(cmp("ne", "n", 3), {{"n", 3.000001}}));
}

TEST(FilterNumbers, OrderingOperatorsMixIntegersAndFloats) {
  const json attributes = {{"year", 2024}};
  EXPECT_TRUE(match(cmp("gt", "year", 2023.5), attributes));
  EXPECT_FALSE(match(cmp("gt", "year", 2024.0), attributes));
  EXPECT_TRUE(match(cmp("gte", "year", 2024.0), attributes));
  EXPECT_FALSE(match(cmp("gte", "year", 2024.5), attributes));
  EXPECT_TRUE(match(cmp("lt", "year", 2024.5), attributes));
  EXPECT_FALSE(match(cmp("lt", "year", 2024), attributes));
  EXPECT_TRUE(match(cmp("lte", "year", 2024), attributes));
  EXPECT_FALSE(match(cmp("lte", "year", 2023.999), attributes));

  const json price = {{"price", 9.99}};
  EXPECT_TRUE(match(cmp("lt", "price", 10), price));
  EXPECT_TRUE(match(cmp("gt", "price", 9), price));
  EXPECT_FALSE(match(cmp("gte", "price", 10), price));
}

TEST(FilterNumbers, NegativeNumbersAndUnsignedCompareCorrectly) {
  EXPECT_TRUE(match(cmp("lt", "t", 0), {{"t", -1}}));
  EXPECT_TRUE(match(cmp("lt", "t", -0.5), {{"t", -1}}));
  EXPECT_TRUE(match(cmp("gt", "t", -1), {{"t", 0u}}));
  EXPECT_TRUE(match(cmp("gt", "t", -1.5), {{"t", 0u}}));
  const uint64_t huge = std::numeric_limits<uint64_t>::max();
  EXPECT_TRUE(match(cmp("gt", "t", -1), {{"t", huge}}));
  EXPECT_TRUE(match(cmp("lt", "t", huge), {{"t", std::numeric_limits<int64_t>::max()}}));
  EXPECT_TRUE(match(cmp("eq", "t", huge), {{"t", huge}}));
}

TEST(FilterNumbers, IntegersBeyondDoublePrecisionStayDistinct) {
  // 2^53 + 1 has no double; casting both sides to double would call these equal.
  const int64_t above = (int64_t{1} << 53) + 1;
  const double two_pow_53 = 9007199254740992.0;
  EXPECT_TRUE(match(cmp("gt", "n", two_pow_53), {{"n", above}}));
  EXPECT_FALSE(match(cmp("eq", "n", two_pow_53), {{"n", above}}));
  EXPECT_TRUE(match(cmp("eq", "n", two_pow_53), {{"n", int64_t{1} << 53}}));
  EXPECT_TRUE(match(cmp("ne", "n", above - 2), {{"n", above}}));
  EXPECT_TRUE(match(cmp("lt", "n", 1e300), {{"n", std::numeric_limits<int64_t>::max()}}));
  EXPECT_TRUE(match(cmp("gt", "n", -1e300), {{"n", std::numeric_limits<int64_t>::min()}}));
  EXPECT_TRUE(match(cmp("lt", "n", 1e300), {{"n", std::numeric_limits<uint64_t>::max()}}));
}

TEST(FilterNumbers, NanAttributeIsUnequalToEverything) {
  const json attributes = {{"n", std::nan("")}};
  EXPECT_FALSE(match(cmp("eq", "n", 1), attributes));
  EXPECT_TRUE(match(cmp("ne", "n", 1), attributes));
  EXPECT_FALSE(match(cmp("gt", "n", 1), attributes));
  EXPECT_FALSE(match(cmp("lte", "n", 1), attributes));
}

// ---------------------------------------------------------------------------------------------
// Booleans

TEST(FilterBooleans, EqAndNeCompareBooleans) {
  EXPECT_TRUE(match(cmp("eq", "draft", true), {{"draft", true}}));
  EXPECT_FALSE(match(cmp("eq", "draft", true), {{"draft", false}}));
  EXPECT_TRUE(match(cmp("ne", "draft", true), {{"draft", false}}));
  EXPECT_FALSE(match(cmp("ne", "draft", false), {{"draft", false}}));
}

TEST(FilterBooleans, BooleansAreNeitherNumbersNorStrings) {
  EXPECT_FALSE(match(cmp("eq", "draft", true), {{"draft", 1}}));
  EXPECT_FALSE(match(cmp("eq", "draft", 1), {{"draft", true}}));
  EXPECT_FALSE(match(cmp("eq", "draft", "true"), {{"draft", true}}));
  EXPECT_TRUE(match(cmp("ne", "draft", false), {{"draft", 0}}));
}

TEST(FilterBooleans, InAndNinTestBooleanMembership) {
  EXPECT_TRUE(match(cmp("in", "draft", {true}), {{"draft", true}}));
  EXPECT_FALSE(match(cmp("in", "draft", {true}), {{"draft", false}}));
  EXPECT_TRUE(match(cmp("in", "draft", {false, true}), {{"draft", false}}));
  EXPECT_TRUE(match(cmp("nin", "draft", {true}), {{"draft", false}}));
  EXPECT_FALSE(match(cmp("nin", "draft", {false}), {{"draft", false}}));
}

// ---------------------------------------------------------------------------------------------
// in / nin

TEST(FilterMembership, InMatchesWhenTheAttributeIsOneOfTheValues) {
  const json in = cmp("in", "region", {"emea", "apac"});
  EXPECT_TRUE(match(in, {{"region", "emea"}}));
  EXPECT_TRUE(match(in, {{"region", "apac"}}));
  EXPECT_FALSE(match(in, {{"region", "amer"}}));
}

TEST(FilterMembership, NinMatchesWhenTheAttributeIsNoneOfTheValues) {
  const json nin = cmp("nin", "region", {"emea", "apac"});
  EXPECT_FALSE(match(nin, {{"region", "emea"}}));
  EXPECT_FALSE(match(nin, {{"region", "apac"}}));
  EXPECT_TRUE(match(nin, {{"region", "amer"}}));
}

TEST(FilterMembership, NumericMembershipMixesIntegersAndFloats) {
  EXPECT_TRUE(match(cmp("in", "tier", {1, 2.5, 3}), {{"tier", 3.0}}));
  EXPECT_TRUE(match(cmp("in", "tier", {1, 2.5, 3}), {{"tier", 2.5}}));
  EXPECT_FALSE(match(cmp("in", "tier", {1, 2.5, 3}), {{"tier", 2}}));
  EXPECT_TRUE(match(cmp("nin", "tier", {1.0, 2.0}), {{"tier", 3}}));
  EXPECT_FALSE(match(cmp("nin", "tier", {1.0, 2.0}), {{"tier", 2}}));
}

TEST(FilterMembership, ValuesOfAnotherTypeAreNotMembers) {
  EXPECT_FALSE(match(cmp("in", "tier", {"1", "2"}), {{"tier", 1}}));
  EXPECT_TRUE(match(cmp("nin", "tier", {"1", "2"}), {{"tier", 1}}));
}

// ---------------------------------------------------------------------------------------------
// Compound filters

TEST(FilterCompound, AndRequiresEveryFilter) {
  const json both = compound("and", {cmp("eq", "a", 1), cmp("eq", "b", 2)});
  EXPECT_TRUE(match(both, {{"a", 1}, {"b", 2}}));
  EXPECT_FALSE(match(both, {{"a", 1}, {"b", 3}}));
  EXPECT_FALSE(match(both, {{"a", 0}, {"b", 2}}));
  EXPECT_FALSE(match(both, json::object()));
}

TEST(FilterCompound, OrRequiresAnyFilter) {
  const json either = compound("or", {cmp("eq", "a", 1), cmp("eq", "b", 2)});
  EXPECT_TRUE(match(either, {{"a", 1}, {"b", 0}}));
  EXPECT_TRUE(match(either, {{"a", 0}, {"b", 2}}));
  EXPECT_TRUE(match(either, {{"a", 1}, {"b", 2}}));
  EXPECT_FALSE(match(either, {{"a", 0}, {"b", 0}}));
  EXPECT_FALSE(match(either, json::object()));
}

TEST(FilterCompound, SingleChildCompoundBehavesLikeTheChild) {
  EXPECT_TRUE(match(compound("and", {cmp("eq", "a", 1)}), {{"a", 1}}));
  EXPECT_FALSE(match(compound("or", {cmp("eq", "a", 1)}), {{"a", 2}}));
}

TEST(FilterCompound, ThreeLevelsNestEvaluateInsideOut) {
  // region == emea AND (year >= 2024 OR (draft == false AND tag in [policy, legal]))
  const json filter = compound(
      "and",
      {cmp("eq", "region", "emea"),
       compound("or", {cmp("gte", "year", 2024), compound("and", {cmp("eq", "draft", false),
                                                                  cmp("in", "tag", {"policy", "legal"})})})});
  EXPECT_TRUE(match(filter, {{"region", "emea"}, {"year", 2024}}));
  EXPECT_TRUE(match(filter, {{"region", "emea"}, {"year", 2020}, {"draft", false}, {"tag", "legal"}}));
  EXPECT_FALSE(match(filter, {{"region", "emea"}, {"year", 2020}, {"draft", true}, {"tag", "legal"}}));
  EXPECT_FALSE(match(filter, {{"region", "emea"}, {"year", 2020}, {"draft", false}, {"tag", "press"}}));
  EXPECT_FALSE(match(filter, {{"region", "apac"}, {"year", 2025}}));
  EXPECT_FALSE(match(filter, {{"region", "emea"}}));
}

// ---------------------------------------------------------------------------------------------
// Missing keys and type mismatches, every operator (table-driven)

struct OperatorCase {
  const char* type;
  json value;
  bool expected;
};

TEST(FilterMissingKey, OnlyNeAndNinHoldWhenTheKeyIsAbsent) {
  const OperatorCase cases[] = {
      {"eq", "x", false}, {"ne", "x", true}, {"gt", 1, false},     {"gte", 1, false},
      {"lt", 1, false},   {"lte", 1, false}, {"in", {"x"}, false}, {"nin", {"x"}, true},
  };
  const json attributes = {{"other", "x"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    EXPECT_EQ(match(cmp(c.type, "absent", c.value), attributes), c.expected);
  }
}

TEST(FilterMissingKey, KeysAreCaseSensitive) {
  EXPECT_FALSE(match(cmp("eq", "Region", "emea"), {{"region", "emea"}}));
  EXPECT_TRUE(match(cmp("ne", "Region", "emea"), {{"region", "emea"}}));
}

TEST(FilterTypeMismatch, StringAttributeAgainstNumberValueHoldsOnlyForNeAndNin) {
  // "5" and 5 are never compared across types, even where the text looks numeric.
  const OperatorCase cases[] = {
      {"eq", 5, false}, {"ne", 5, true},   {"gt", 4, false},   {"gte", 5, false},
      {"lt", 6, false}, {"lte", 5, false}, {"in", {5}, false}, {"nin", {5}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    EXPECT_EQ(match(cmp(c.type, "n", c.value), {{"n", "5"}}), c.expected);
  }
}

TEST(FilterTypeMismatch, NumberAttributeAgainstStringValueHoldsOnlyForNeAndNin) {
  const OperatorCase cases[] = {
      {"eq", "5", false}, {"ne", "5", true},   {"gt", "4", false},   {"gte", "5", false},
      {"lt", "6", false}, {"lte", "5", false}, {"in", {"5"}, false}, {"nin", {"5"}, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type);
    EXPECT_EQ(match(cmp(c.type, "n", c.value), {{"n", 5}}), c.expected);
  }
}

TEST(FilterTypeMismatch, BooleanAttributeNeverSatisfiesOrderingOperators) {
  const json attributes = {{"flag", true}};
  EXPECT_FALSE(match(cmp("gt", "flag", 0), attributes));
  EXPECT_FALSE(match(cmp("gte", "flag", 0), attributes));
  EXPECT_FALSE(match(cmp("lt", "flag", "z"), attributes));
  EXPECT_FALSE(match(cmp("lte", "flag", "z"), attributes));
}

TEST(FilterTypeMismatch, NullArrayAndObjectAttributesCompareWithNothing) {
  for (const json& attribute : {json(nullptr), json::array({"emea"}), json{{"region", "emea"}}}) {
    SCOPED_TRACE(attribute.dump());
    const json attributes = {{"region", attribute}};
    EXPECT_FALSE(match(cmp("eq", "region", "emea"), attributes));
    EXPECT_TRUE(match(cmp("ne", "region", "emea"), attributes));
    EXPECT_FALSE(match(cmp("in", "region", {"emea"}), attributes));
    EXPECT_TRUE(match(cmp("nin", "region", {"emea"}), attributes));
  }
}

TEST(FilterAttributes, NonObjectAttributesBehaveAsAnEmptyObject) {
  for (const json& attributes : {json(nullptr), json::array({"region", "emea"}), json("emea"), json(7)}) {
    SCOPED_TRACE(attributes.dump());
    EXPECT_FALSE(match(cmp("eq", "region", "emea"), attributes));
    EXPECT_TRUE(match(cmp("ne", "region", "emea"), attributes));
    EXPECT_FALSE(match(cmp("in", "region", {"emea"}), attributes));
    EXPECT_TRUE(match(cmp("nin", "region", {"emea"}), attributes));
    EXPECT_FALSE(match(compound("and", {cmp("ne", "a", 1), cmp("eq", "b", 1)}), attributes));
    EXPECT_TRUE(match(compound("or", {cmp("eq", "a", 1), cmp("nin", "b", {1})}), attributes));
  }
}

// ---------------------------------------------------------------------------------------------
// Table-driven: the JSON a client would send, as a reader of the API docs would write it.

TEST(FilterTable, WireFormatCasesMatchAsDocumented) {
  const json table = json::parse(R"([
    {"filter": {"type": "eq", "key": "doc_type", "value": "faq"},
     "attributes": {"doc_type": "faq"}, "expected": true},
    {"filter": {"type": "lte", "key": "updated", "value": "2024-06-30"},
     "attributes": {"updated": "2024-07-01"}, "expected": false},
    {"filter": {"type": "gte", "key": "score", "value": 0.5},
     "attributes": {"score": 1}, "expected": true},
    {"filter": {"type": "in", "key": "lang", "value": ["en", "de"]},
     "attributes": {"lang": "fr"}, "expected": false},
    {"filter": {"type": "or", "filters": [
        {"type": "eq", "key": "public", "value": true},
        {"type": "and", "filters": [
            {"type": "eq", "key": "team", "value": "sales"},
            {"type": "nin", "key": "level", "value": [0, 1]}]}]},
     "attributes": {"public": false, "team": "sales", "level": 2}, "expected": true},
    {"filter": {"type": "or", "filters": [
        {"type": "eq", "key": "public", "value": true},
        {"type": "and", "filters": [
            {"type": "eq", "key": "team", "value": "sales"},
            {"type": "nin", "key": "level", "value": [0, 1]}]}]},
     "attributes": {"public": false, "team": "sales", "level": 1.0}, "expected": false}
  ])");
  ASSERT_EQ(table.size(), 6u);
  for (size_t i = 0; i < table.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    EXPECT_EQ(match(table[i]["filter"], table[i]["attributes"]), table[i]["expected"].get<bool>());
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing: the normalised form

TEST(FilterParse, KeepsTheFilterAsNormalisedJson) {
  const json filter = compound("or", {cmp("eq", "a", 1), cmp("in", "b", {"x", "y"})});
  auto parsed = Filter::parse(filter);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->json(), filter);
  auto reparsed = Filter::parse(parsed->json());
  ASSERT_TRUE(reparsed) << reparsed.error().message;
  EXPECT_EQ(reparsed->json(), filter);
}

TEST(FilterParse, DefaultConstructedFilterMatchesEverything) {
  const Filter unconstrained;
  EXPECT_TRUE(unconstrained.matches({{"a", 1}}));
  EXPECT_TRUE(unconstrained.matches(json::object()));
}

// ---------------------------------------------------------------------------------------------
// Parsing: every error names the JSON path of the fault

TEST(FilterParseErrors, FilterThatIsNotAnObjectIsRejectedAtTheRoot) {
  EXPECT_EQ(rejection(json::array()).param, "");
  EXPECT_EQ(rejection("eq").param, "");
  EXPECT_EQ(rejection(nullptr).param, "");
}

TEST(FilterParseErrors, MissingTypeIsRejected) {
  const Error error = rejection({{"key", "a"}, {"value", 1}});
  EXPECT_EQ(error.param, "type");
  EXPECT_NE(error.message.find("type"), std::string::npos) << error.message;
}

TEST(FilterParseErrors, TypeThatIsNotAStringIsRejected) {
  EXPECT_EQ(rejection({{"type", 1}, {"key", "a"}, {"value", 1}}).param, "type");
  EXPECT_EQ(rejection({{"type", nullptr}, {"key", "a"}, {"value", 1}}).param, "type");
}

TEST(FilterParseErrors, UnknownTypeIsRejected) {
  EXPECT_EQ(rejection(cmp("equals", "a", 1)).param, "type");
  EXPECT_EQ(rejection(cmp("EQ", "a", 1)).param, "type");
  EXPECT_EQ(rejection(compound("not", {cmp("eq", "a", 1)})).param, "type");
}

TEST(FilterParseErrors, UnknownFieldIsRejectedByName) {
  json filter = cmp("eq", "a", 1);
  filter["comment"] = "hi";
  const Error error = rejection(filter);
  EXPECT_EQ(error.param, "comment");
  EXPECT_NE(error.message.find("comment"), std::string::npos) << error.message;
}

TEST(FilterParseErrors, FieldOfTheOtherFilterKindIsRejectedByName) {
  json comparison = cmp("eq", "a", 1);
  comparison["filters"] = json::array({cmp("eq", "b", 1)});
  EXPECT_EQ(rejection(comparison).param, "filters");

  json with_key = compound("and", {cmp("eq", "a", 1)});
  with_key["key"] = "a";
  EXPECT_EQ(rejection(with_key).param, "key");

  json with_value = compound("or", {cmp("eq", "a", 1)});
  with_value["value"] = 1;
  EXPECT_EQ(rejection(with_value).param, "value");
}

TEST(FilterParseErrors, MissingKeyIsRejected) {
  EXPECT_EQ(rejection({{"type", "eq"}, {"value", 1}}).param, "key");
}

TEST(FilterParseErrors, KeyThatIsNotANonEmptyStringIsRejected) {
  EXPECT_EQ(rejection({{"type", "eq"}, {"key", 1}, {"value", 1}}).param, "key");
  EXPECT_EQ(rejection({{"type", "eq"}, {"key", json::array({"a"})}, {"value", 1}}).param, "key");
  EXPECT_EQ(rejection(cmp("eq", "", 1)).param, "key");
}

TEST(FilterParseErrors, MissingValueIsRejected) {
  EXPECT_EQ(rejection({{"type", "eq"}, {"key", "a"}}).param, "value");
  EXPECT_EQ(rejection({{"type", "in"}, {"key", "a"}}).param, "value");
}

TEST(FilterParseErrors, ValueThatIsNullOrAnObjectIsRejected) {
  EXPECT_EQ(rejection(cmp("eq", "a", nullptr)).param, "value");
  EXPECT_EQ(rejection(cmp("ne", "a", json::object())).param, "value");
  EXPECT_EQ(rejection(cmp("gt", "a", json{{"n", 1}})).param, "value");
}

TEST(FilterParseErrors, NonFiniteNumberValueIsRejected) {
  EXPECT_EQ(rejection(cmp("eq", "a", std::nan(""))).param, "value");
  EXPECT_EQ(rejection(cmp("lt", "a", std::numeric_limits<double>::infinity())).param, "value");
  EXPECT_EQ(rejection(cmp("in", "a", {1.0, std::nan("")})).param, "value[1]");
}

TEST(FilterParseErrors, EqAndNeWithAnArrayValueAreRejected) {
  EXPECT_EQ(rejection(cmp("eq", "a", {1, 2})).param, "value");
  EXPECT_EQ(rejection(cmp("ne", "a", {"x"})).param, "value");
}

TEST(FilterParseErrors, OrderingOperatorsRejectBooleanValues) {
  for (const char* type : {"gt", "gte", "lt", "lte"}) {
    SCOPED_TRACE(type);
    const Error error = rejection(cmp(type, "a", true));
    EXPECT_EQ(error.param, "value");
    EXPECT_NE(error.message.find("boolean"), std::string::npos) << error.message;
  }
}

TEST(FilterParseErrors, OrderingOperatorsRejectArrayValues) {
  for (const char* type : {"gt", "gte", "lt", "lte"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(rejection(cmp(type, "a", {1, 2})).param, "value");
  }
}

TEST(FilterParseErrors, InAndNinRejectAScalarValue) {
  EXPECT_EQ(rejection(cmp("in", "a", "x")).param, "value");
  EXPECT_EQ(rejection(cmp("nin", "a", 1)).param, "value");
  EXPECT_EQ(rejection(cmp("in", "a", true)).param, "value");
}

TEST(FilterParseErrors, InAndNinRejectAnEmptyArray) {
  EXPECT_EQ(rejection(cmp("in", "a", json::array())).param, "value");
  EXPECT_EQ(rejection(cmp("nin", "a", json::array())).param, "value");
}

TEST(FilterParseErrors, InAndNinRejectMixedTypesAtTheFirstOddElement) {
  EXPECT_EQ(rejection(cmp("in", "a", {"x", "y", 1})).param, "value[2]");
  EXPECT_EQ(rejection(cmp("nin", "a", {1, 2.5, true})).param, "value[2]");
  EXPECT_EQ(rejection(cmp("in", "a", {true, "true"})).param, "value[1]");
}

TEST(FilterParseErrors, InAndNinRejectElementsThatAreNotScalars) {
  EXPECT_EQ(rejection(cmp("in", "a", {nullptr})).param, "value[0]");
  EXPECT_EQ(rejection(cmp("in", "a", json::array({"x", json::array({"y"})}))).param, "value[1]");
  EXPECT_EQ(rejection(cmp("nin", "a", json::array({1, json::object()}))).param, "value[1]");
}

TEST(FilterParseErrors, CompoundWithoutFiltersIsRejected) {
  EXPECT_EQ(rejection({{"type", "and"}}).param, "filters");
}

TEST(FilterParseErrors, FiltersThatIsNotANonEmptyArrayIsRejected) {
  EXPECT_EQ(rejection(compound("and", cmp("eq", "a", 1))).param, "filters");
  EXPECT_EQ(rejection(compound("or", "eq")).param, "filters");
  EXPECT_EQ(rejection(compound("or", json::array())).param, "filters");
}

TEST(FilterParseErrors, FilterElementThatIsNotAnObjectIsRejectedByIndex) {
  EXPECT_EQ(rejection(compound("and", {cmp("eq", "a", 1), 7})).param, "filters[1]");
  EXPECT_EQ(rejection(compound("or", json::array({json::array()}))).param, "filters[0]");
}

TEST(FilterParseErrors, NestedFaultsAreReportedWithTheirFullPath) {
  EXPECT_EQ(rejection(compound("and", {cmp("eq", "a", 1), cmp("gt", "b", false)})).param, "filters[1].value");
  EXPECT_EQ(
      rejection(compound("or", {compound("and", {cmp("eq", "a", 1), cmp("eq", "b", 2), cmp("eq", "", 3)})}))
          .param,
      "filters[0].filters[2].key");
  EXPECT_EQ(
      rejection(compound("or", {cmp("eq", "a", 1), compound("and", {json{{"key", "a"}, {"value", 1}}})}))
          .param,
      "filters[1].filters[0].type");
  json extra = cmp("eq", "a", 1);
  extra["note"] = 1;
  EXPECT_EQ(rejection(compound("and", {compound("or", {cmp("eq", "a", 1), extra})})).param,
            "filters[0].filters[1].note");
  EXPECT_EQ(rejection(compound("and", {cmp("in", "a", {1, "x"})})).param, "filters[0].value[1]");
}

TEST(FilterParseErrors, TheFirstFaultInDocumentOrderIsReported) {
  EXPECT_EQ(rejection(compound("and", {cmp("eq", "", 1), cmp("gt", "b", true)})).param, "filters[0].key");
}

// A chain of `levels` filters: and → and → … → eq, the comparison being the last level.
json chain(int levels) {
  json filter = cmp("eq", "a", 1);
  for (int i = 1; i < levels; ++i) filter = compound("and", json::array({std::move(filter)}));
  return filter;
}

std::string chain_path(int levels) {
  std::string path;
  for (int i = 1; i < levels; ++i) path += (path.empty() ? "" : ".") + std::string("filters[0]");
  return path;
}

TEST(FilterLimits, SixteenLevelsOfNestingAreAccepted) {
  EXPECT_TRUE(match(chain(16), {{"a", 1}}));
  EXPECT_FALSE(match(chain(16), {{"a", 2}}));
}

TEST(FilterLimits, SeventeenLevelsOfNestingAreRejectedAtTheTooDeepFilter) {
  const Error error = rejection(chain(17));
  EXPECT_EQ(error.param, chain_path(17));
  EXPECT_NE(error.message.find("filter nested too deeply"), std::string::npos) << error.message;
}

TEST(FilterLimits, HostileNestingIsRejectedWithoutWalkingItAll) {
  // Far deeper than any stack budget would allow if validation recursed without a bound.
  const Error error = rejection(chain(5000));
  EXPECT_EQ(error.param, chain_path(17));
}

json many_comparisons(int count) {
  json filters = json::array();
  for (int i = 0; i < count; ++i) filters.push_back(cmp("eq", "k" + std::to_string(i), i));
  return compound("or", std::move(filters));
}

TEST(FilterLimits, TwoHundredFiftySixComparisonsAreAccepted) {
  EXPECT_TRUE(match(many_comparisons(256), {{"k255", 255}}));
  EXPECT_FALSE(match(many_comparisons(256), {{"k256", 256}}));
}

TEST(FilterLimits, TheTwoHundredFiftySeventhComparisonIsRejected) {
  const Error error = rejection(many_comparisons(257));
  EXPECT_EQ(error.param, "filters[256]");
  EXPECT_NE(error.message.find("256"), std::string::npos) << error.message;
}

TEST(FilterLimits, ComparisonsAreCountedAcrossNestedFilters) {
  // 200 + 57: the limit is on the whole filter, not on one compound.
  const json filter = compound("and", {many_comparisons(200), many_comparisons(57)});
  EXPECT_EQ(rejection(filter).param, "filters[1].filters[56]");
  EXPECT_TRUE(Filter::parse(compound("and", {many_comparisons(200), many_comparisons(56)})));
}

}  // namespace
}  // namespace brandcoach::index
