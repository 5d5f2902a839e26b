// `brandcoach keys`: API keys for the HTTP API, created, listed and revoked on the store, each
// change audited; `brandcoach audit export`: the whole audit log as JSON lines.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/cli/app.hpp"
#include "brandcoach/http/http.hpp"

namespace brandcoach::cli {

namespace {

// An admin action from the command line: about no user (user 0), by the account that ran it.
Status audit_cli_action(store::Store& store, std::string action, std::string object, nlohmann::json after) {
  const char* account = std::getenv("USER");
  store::AuditEntry entry;
  entry.actor = std::string("cli:") + (account != nullptr && *account != '\0' ? account : "unknown");
  entry.action = std::move(action);
  entry.object = std::move(object);
  entry.after_json = after.dump();
  entry.at = unix_millis();
  return store.append_audit(entry);
}

}  // namespace

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
  if (auto audited = audit_cli_action(**store, "key.create", fmt::format("key:{}", created->id),
                                      {{"user", args.user}, {"name", args.name}, {"role", created->role}});
      !audited)
    return fail(audited.error());
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
  if (auto audited =
          audit_cli_action(**store, "key.revoke", fmt::format("key:{}", id), nlohmann::json::object());
      !audited)
    return fail(audited.error());
  std::cerr << fmt::format("revoked API key {}\n", id);
  return 0;
}

int audit_export(Config config, int64_t after_id) {
  auto store = open_store(config);
  if (!store) return fail(store.error());
  constexpr int kPage = 1000;
  while (true) {
    auto page = (*store)->audit_entries(after_id, kPage);
    if (!page) return fail(page.error());
    for (const auto& entry : *page)
      std::cout << memory::audit_json(entry).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
    if (static_cast<int>(page->size()) < kPage) break;
    after_id = page->back().id;
  }
  std::cout << std::flush;
  return 0;
}

int store_backup(Config config, const std::string& destination) {
  if (store::is_postgres_url(config.storage.url)) {
    return fail(Error::config("store backup is for the SQLite store; back PostgreSQL up with its own tools",
                              "storage.url"));
  }
  const std::string path = config.database_path();
  if (auto status = store::backup_sqlite_file(path, config.storage.encryption_key, destination); !status)
    return fail(status.error());
  std::cerr << fmt::format("backed up {} to {}{}\n", path, destination,
                           config.storage.encryption_key.empty() ? "" : " (encrypted with the same key)");
  return 0;
}

int store_encryption(Config config, bool encrypt) {
  if (store::is_postgres_url(config.storage.url)) {
    return fail(Error::config(
        "store encrypt/decrypt is for the SQLite store; PostgreSQL encrypts its volumes", "storage.url"));
  }
  if (config.storage.encryption_key.empty()) {
    return fail(
        Error::config("set the key in BRANDCOACH_STORAGE_ENCRYPTION_KEY or storage.encryption_key_file",
                      "storage.encryption_key"));
  }
  const std::string path = config.database_path();
  auto status = encrypt ? store::encrypt_sqlite_file(path, config.storage.encryption_key)
                        : store::decrypt_sqlite_file(path, config.storage.encryption_key);
  if (!status) return fail(status.error());
  if (encrypt) {
    // The persisted search indexes hold the stems of every file's text; an encrypted store keeps
    // them in memory instead, so the plaintext copies go.
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(config.storage.data_dir) / "index", ec);
    std::cerr << fmt::format(
        "encrypted {}; every command and server now needs the same storage.encryption_key. Blocks of the "
        "former plain file may remain on the disk until overwritten.\n",
        path);
  } else {
    std::cerr << fmt::format("decrypted {}; run without storage.encryption_key from now on.\n", path);
  }
  return 0;
}

}  // namespace brandcoach::cli
