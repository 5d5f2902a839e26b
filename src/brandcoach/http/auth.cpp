// Who is calling: Bearer tokens (JWTs and API keys), local mode, per-route access and rate limits.
#include <jwt.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "brandcoach/http/http.hpp"

namespace brandcoach::http {

namespace {

constexpr std::string_view kKeyPrefix = "bck_";

Error unauthenticated(std::string message) {
  return {ErrorKind::unauthenticated, std::move(message), "Authorization"};
}

struct JwtDeleter {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using Jwt = std::unique_ptr<jwt_t, JwtDeleter>;

std::string base64url(const unsigned char* bytes, size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      out.push_back(kAlphabet[(buffer >> (bits - 6)) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

// Unpadded base64url as JWTs use it; invalid characters make the result empty.
std::string base64url_decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '-') value = 62;
    if (c == '_') value = 63;
    if (value < 0) return {};
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

bool is_hmac(jwt_alg_t alg) {
  return alg == JWT_ALG_HS256 || alg == JWT_ALG_HS384 || alg == JWT_ALG_HS512;
}

bool is_public_key(jwt_alg_t alg) {
  return alg == JWT_ALG_RS256 || alg == JWT_ALG_RS384 || alg == JWT_ALG_RS512 || alg == JWT_ALG_ES256 ||
         alg == JWT_ALG_ES384 || alg == JWT_ALG_ES512;
}

// A NumericDate claim; nullopt when absent or not a number (libjwt's own getter cannot tell).
std::optional<int64_t> numeric_claim(jwt_t* jwt, const char* name) {
  char* raw = jwt_get_grants_json(jwt, name);
  if (raw == nullptr) return std::nullopt;
  const auto value = nlohmann::json::parse(raw, nullptr, false);
  free(raw);  // NOLINT: libjwt allocates with malloc
  if (!value.is_number()) return std::nullopt;
  return static_cast<int64_t>(value.get<double>());
}

// `aud` may be one string or a list of them.
bool audience_matches(jwt_t* jwt, const std::string& expected) {
  char* raw = jwt_get_grants_json(jwt, "aud");
  if (raw == nullptr) return false;
  const auto aud = nlohmann::json::parse(raw, nullptr, false);
  free(raw);  // NOLINT: libjwt allocates with malloc
  if (aud.is_string()) return aud.get<std::string>() == expected;
  if (aud.is_array()) {
    return std::any_of(aud.begin(), aud.end(), [&](const nlohmann::json& a) {
      return a.is_string() && a.get<std::string>() == expected;
    });
  }
  return false;
}

}  // namespace

Status validate(const AuthOptions& options) {
  if (!options.jwt_secret.empty() && options.jwt_secret.size() < 32)
    return Error::config("auth.jwt_secret must be at least 32 bytes (HS256 needs a 256-bit key)",
                         "auth.jwt_secret");
  if (options.leeway_s < 0 || options.leeway_s > 3600)
    return Error::config("auth.jwt_leeway_s must be 0 to 3600", "auth.jwt_leeway_s");
  return ok();
}

std::string new_api_key() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  return std::string(kKeyPrefix) + base64url(bytes, sizeof bytes);
}

std::string api_key_hash(std::string_view key) {
  // Keys are 256 random bits, so a fast hash is enough: nothing can be guessed from it.
  return sha256_hex(key);
}

Authenticator::Authenticator(AuthOptions options, store::Store& store)
    : options_(std::move(options)), store_(store) {}

bool Authenticator::local_mode() const {
  return !options_.required && options_.jwt_secret.empty() && options_.jwt_public_key_pem.empty();
}

Result<Principal> Authenticator::authenticate(std::string_view authorization, std::string_view user_header,
                                              int64_t now_s) const {
  if (authorization.empty()) {
    if (!local_mode()) return unauthenticated("this server needs an Authorization: Bearer token");
    // Local mode: one machine's owner, on loopback. They run the server, so they administer it.
    const std::string user = user_header.empty() ? "local" : std::string(user_header);
    if (auto status = coach::validate_user_id(user); !status) {
      Error error = status.error();
      error.param = "X-Brandcoach-User";
      return error;
    }
    return Principal{user, "admin", "local"};
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
    return unauthenticated("the Authorization header must be 'Bearer <token>'");
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.starts_with(kKeyPrefix)) return api_key(token);
  if (std::count(token.begin(), token.end(), '.') == 2) return jwt(token, now_s);
  return unauthenticated("the bearer token is neither an API key nor a JWT");
}

Result<Principal> Authenticator::api_key(std::string_view token) const {
  auto found = store_.find_api_key(api_key_hash(token));
  if (!found) return found.error();
  if (!*found) return unauthenticated("unknown API key");
  if ((*found)->revoked_at != 0) return unauthenticated("this API key was revoked");
  return Principal{(*found)->user, (*found)->role, "api_key"};
}

Result<Principal> Authenticator::jwt(std::string_view token, int64_t now_s) const {
  if (options_.jwt_secret.empty() && options_.jwt_public_key_pem.empty())
    return unauthenticated("this server accepts no JWTs (no auth.jwt_secret or auth.jwt_public_key_file)");
  const std::string text(token);
  // Read the header first, unverified, to choose the key by algorithm: an HS256 token must never be
  // checked against the public key used as an HMAC secret (algorithm confusion). libjwt reports no
  // algorithm for a token decoded without a key, so the header is read here.
  const auto header =
      nlohmann::json::parse(base64url_decode(token.substr(0, token.find('.'))), nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string())
    return unauthenticated("malformed JWT");
  const jwt_alg_t alg = jwt_str_alg(header["alg"].get<std::string>().c_str());
  std::string_view key;
  if (is_hmac(alg) && !options_.jwt_secret.empty()) {
    key = options_.jwt_secret;
  } else if (is_public_key(alg) && !options_.jwt_public_key_pem.empty()) {
    key = options_.jwt_public_key_pem;
  } else {
    return unauthenticated(
        fmt::format("JWT algorithm {} is not accepted here", header["alg"].get<std::string>().substr(0, 16)));
  }
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                 static_cast<int>(key.size())) != 0 ||
      raw == nullptr)
    return unauthenticated("JWT signature is not valid");
  Jwt verified(raw);
  // libjwt 1.10 checks no claims: time, issuer and audience are ours to check.
  const auto exp = numeric_claim(verified.get(), "exp");
  if (!exp) return unauthenticated("JWT has no exp claim");
  if (now_s > *exp + options_.leeway_s) return unauthenticated("JWT has expired");
  const auto nbf = numeric_claim(verified.get(), "nbf");
  if (nbf && now_s + options_.leeway_s < *nbf) return unauthenticated("JWT is not valid yet (nbf)");
  if (!options_.issuer.empty()) {
    const char* iss = jwt_get_grant(verified.get(), "iss");
    if (iss == nullptr || options_.issuer != iss) return unauthenticated("JWT issuer is not accepted");
  }
  if (!options_.audience.empty() && !audience_matches(verified.get(), options_.audience))
    return unauthenticated("JWT audience does not include this server");
  const char* sub = jwt_get_grant(verified.get(), "sub");
  if (sub == nullptr || *sub == '\0') return unauthenticated("JWT has no sub claim");
  if (auto status = coach::validate_user_id(sub); !status)
    return unauthenticated("JWT sub is not a valid user id: " + status.error().message);
  const char* role = jwt_get_grant(verified.get(), "role");
  return Principal{sub, role != nullptr && std::string_view(role) == "admin" ? "admin" : "user", "jwt"};
}

Result<std::string> read_key_file(const std::string& path, std::string_view key) {
  std::ifstream in(path);
  if (!in) return Error::config(fmt::format("cannot read {} ({})", path, key), std::string(key));
  std::stringstream text;
  text << in.rdbuf();
  const std::string pem = text.str();
  if (pem.find("-----BEGIN PUBLIC KEY-----") == std::string::npos)
    return Error::config(fmt::format("{} is not a PEM public key (-----BEGIN PUBLIC KEY-----)", path),
                         std::string(key));
  return pem;
}

// ---- rate limits ----

RateLimiter::RateLimiter(double per_minute, double burst)
    : per_second_(per_minute / 60.0), burst_(std::max(1.0, burst)) {}

int64_t RateLimiter::take(const std::string& key, double now_s) {
  if (per_second_ <= 0) return 0;  // unlimited
  std::lock_guard lock(mutex_);
  if (buckets_.size() > kMaxBuckets) {
    // Forget buckets that have refilled: they hold no state worth keeping.
    std::erase_if(buckets_, [&](const auto& entry) {
      return entry.second.tokens + (now_s - entry.second.at) * per_second_ >= burst_;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now_s});
  Bucket& bucket = it->second;
  bucket.tokens = std::min(burst_, bucket.tokens + (now_s - bucket.at) * per_second_);
  bucket.at = now_s;
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return static_cast<int64_t>(std::ceil((1.0 - bucket.tokens) / per_second_));
}

}  // namespace brandcoach::http
