// The bundled assistants, which the OpenAI model names of a chat body resolve against.
#pragma once

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "brandcoach/coach/coach.hpp"

namespace brandcoach::fuzz {

/// data/assistants.toml, loaded once (call it from LLVMFuzzerInitialize: a missing file aborts).
inline const coach::AssistantRegistry& assistants() {
  static const coach::AssistantRegistry registry = [] {
    auto loaded = coach::AssistantRegistry::load(coach::bundled_data_dir() / "assistants.toml");
    if (!loaded) {
      spdlog::critical("fuzz: cannot load the bundled assistants: {}", loaded.error().message);
      std::abort();
    }
    return std::move(loaded).value();
  }();
  return registry;
}

}  // namespace brandcoach::fuzz
