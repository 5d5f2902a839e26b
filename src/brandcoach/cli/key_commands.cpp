// `brandcoach keys`: API keys for the HTTP API, created, listed and revoked on the store.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/cli/app.hpp"
#include "brandcoach/http/http.hpp"

namespace brandcoach::cli {

int keys_create(Config config, const KeyArgs& args) {
  if (auto status = coach::validate_user_id(args.user); !status) {
    Error error = status.error();
    error.param = "--user";
    return fail(error);
  }
  if (args.name.size() > 200) return fail(Error::invalid("--name is longer than 200 characters", "--name"));
  auto store = open_store(config);
  if (!store) return fail(store.error());
  const std::string key = http::new_api_key();
  if (key.empty()) return fail(Error::internal("the system random generator failed"));
  auto created =
      (*store)->create_api_key(args.user, args.name, args.admin ? "admin" : "user", http::api_key_hash(key));
  if (!created) return fail(created.error());
  // The key alone on stdout, so `KEY=$(brandcoach keys create …)` works; it is shown this once.
  std::cout << key << std::endl;
  std::cerr << fmt::format("created API key {} for '{}'{} — store it now, it cannot be shown again\n",
                           created->id, args.user, args.admin ? " (admin)" : "");
  return 0;
}

int keys_list(Config config, const std::string& user) {
  auto store = open_store(config);
  if (!store) return fail(store.error());
  auto keys = (*store)->list_api_keys(user.empty() ? std::nullopt : std::optional<std::string_view>(user));
  if (!keys) return fail(keys.error());
  for (const auto& k : *keys) {
    std::cout << nlohmann::json{{"id", k.id},
                                {"user", k.user},
                                {"name", k.name},
                                {"role", k.role},
                                {"created_at", iso_time(k.created_at)},
                                {"revoked_at",
                                 k.revoked_at ? nlohmann::json(iso_time(k.revoked_at)) : nullptr}}
                     .dump()
              << "\n";
  }
  return 0;
}

int keys_revoke(Config config, int64_t id) {
  auto store = open_store(config);
  if (!store) return fail(store.error());
  if (auto status = (*store)->revoke_api_key(id); !status) return fail(status.error());
  std::cerr << fmt::format("revoked API key {}\n", id);
  return 0;
}

}  // namespace brandcoach::cli
