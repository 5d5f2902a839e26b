// The price table that turns token usage into money.
#include <fmt/format.h>
#include <toml++/toml.h>

#include "brandcoach/llm/llm.hpp"

namespace brandcoach::llm {

const Price* PriceTable::find(std::string_view model) const {
  if (const auto it = prices_.find(std::string(model)); it != prices_.end()) return &it->second;
  // The longest listed name that the model's name starts with, followed by '-' (a dated snapshot).
  const Price* best = nullptr;
  size_t best_length = 0;
  for (const auto& [name, price] : prices_) {
    if (name.size() > best_length && model.size() > name.size() && model.substr(0, name.size()) == name &&
        model[name.size()] == '-') {
      best = &price;
      best_length = name.size();
    }
  }
  return best;
}

bool PriceTable::knows(std::string_view model) const {
  return find(model) != nullptr;
}

double PriceTable::cost(std::string_view model, const Usage& usage) const {
  const Price* price = find(model);
  if (price == nullptr) return 0;
  return (static_cast<double>(usage.input_tokens) * price->input_per_million +
          static_cast<double>(usage.output_tokens) * price->output_per_million) /
         1e6;
}

Result<PriceTable> load_prices(const std::filesystem::path& file) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    return Error::config(fmt::format("{}:{}:{}: {}", file.string(), e.source().begin.line,
                                     e.source().begin.column, e.description()),
                         "llm.price_file");
  }
  std::map<std::string, Price> prices;
  const auto* models = table["models"].as_table();
  if (models == nullptr) return Error::config(file.string() + ": no [models] table", "llm.price_file");
  for (const auto& [name, node] : *models) {
    const auto* entry = node.as_table();
    // A named copy: clang before 16 cannot capture a structured binding in a lambda.
    const std::string_view model = name.str();
    const auto bad = [&](std::string_view why) {
      return Error::config(fmt::format("{}: models.\"{}\" {}", file.string(), model, why), "llm.price_file");
    };
    if (entry == nullptr) return bad("must be a table");
    Price price;
    for (const auto& [key, value] : *entry) {
      const auto number = value.value<double>();
      if (!number || *number < 0) return bad(fmt::format("{} must be a number of at least 0", key.str()));
      if (key.str() == "input_per_million") {
        price.input_per_million = *number;
      } else if (key.str() == "output_per_million") {
        price.output_per_million = *number;
      } else {
        return bad(fmt::format("has an unknown key {}", key.str()));
      }
    }
    prices.emplace(std::string(name.str()), price);
  }
  return PriceTable(std::move(prices));
}

}  // namespace brandcoach::llm
