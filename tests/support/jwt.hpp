// JWTs for tests, signed with libjwt as an identity provider would sign them.
#pragma once

#include <jwt.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

namespace brandcoach::testing {

/// An HS256 token for `sub` that expires `exp_offset` seconds from now, with an `aud` claim when given.
inline std::string hs256_jwt(const std::string& secret, const std::string& sub, int64_t exp_offset,
                             const std::string& aud = "") {
  jwt_t* raw = nullptr;
  jwt_new(&raw);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
  jwt_add_grant(raw, "sub", sub.c_str());
  if (!aud.empty()) jwt_add_grant(raw, "aud", aud.c_str());
  jwt_add_grant_int(raw, "exp", static_cast<long>(std::time(nullptr) + exp_offset));
  jwt_set_alg(raw, JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
              static_cast<int>(secret.size()));
  char* token = jwt_encode_str(raw);
  std::string out = token;
  free(token);  // NOLINT: libjwt allocates with malloc
  return out;
}

}  // namespace brandcoach::testing
