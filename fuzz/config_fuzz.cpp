// The configuration loader. The input is a TOML file, optionally followed by a line "%%" and then lines
// of NAME=VALUE: a NAME with a dot is a --set override ("section.key"), any other an environment
// variable (BRANDCOACH_SECTION_KEY). load_config reads the file from disk, so the TOML goes to a
// temporary file first. A configuration that loads renders as TOML that loads again.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "brandcoach/core/core.hpp"
#include "fuzz_support.hpp"

using namespace brandcoach;

namespace {

std::string config_path;
std::string rendered_path;

bool write_file(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return static_cast<bool>(out);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quiet_logs();
  const auto dir = std::filesystem::temp_directory_path();
  const std::string id = std::to_string(getpid());
  config_path = (dir / ("brandcoach-fuzz-config-" + id + ".toml")).string();
  rendered_path = (dir / ("brandcoach-fuzz-config-" + id + "-rendered.toml")).string();
  std::atexit([] {
    std::remove(config_path.c_str());
    std::remove(rendered_path.c_str());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = fuzz::as_text(data, size);
  // Key files (auth.jwt_secret_file, llm.api_key_file, embed.api_key_file) are read whole up to their
  // first newline: an operator's own paths. Device files would only make the fuzzer block or hang.
  for (const std::string_view special : {"/dev", "/proc", "/sys"}) {
    if (input.find(special) != std::string_view::npos) return 0;
  }
  const size_t split = input.find("\n%%\n");
  const std::string_view toml = input.substr(0, split);

  ConfigSources sources;
  sources.file = config_path;
  if (split != std::string_view::npos) {
    std::string_view rest = input.substr(split + 4);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      const std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
      const size_t eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      std::string name(line.substr(0, eq));
      std::string value(line.substr(eq + 1));
      if (name.find('.') != std::string::npos) {
        sources.overrides.emplace_back(std::move(name), std::move(value));
      } else {
        sources.env[std::move(name)] = std::move(value);
      }
    }
  }
  if (!write_file(config_path, toml)) std::abort();
  auto config = load_config(sources);
  if (!config) return 0;

  // `config show` writes TOML that loads back to the same configuration. Secrets are masked (a masked
  // secret in a file is skipped), and bytes TOML cannot carry may come from the environment and flags,
  // so those configurations are not compared.
  if (!config->llm.api_key.empty() || !config->embed.api_key.empty() || !config->auth.jwt_secret.empty())
    return 0;
  const auto plain = [](std::string_view text) {
    for (const unsigned char c : text) {
      if (c < 0x20 || c >= 0x7f) return false;
    }
    return true;
  };
  for (const auto& [name, value] : sources.env) {
    if (!plain(value)) return 0;
  }
  for (const auto& [name, value] : sources.overrides) {
    if (!plain(value)) return 0;
  }
  const std::string rendered = render_config(*config);
  if (!write_file(rendered_path, rendered)) std::abort();
  ConfigSources again_sources;
  again_sources.file = rendered_path;
  auto again = load_config(again_sources);
  if (!again || render_config(*again) != rendered) __builtin_trap();
  return 0;
}
