// Who is calling: Bearer tokens (JWTs and API keys), local mode, per-route access and rate limits.
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
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
  const auto value = parse_json(raw);
  free(raw);  // NOLINT: libjwt allocates with malloc
  if (!value.is_number()) return std::nullopt;
  return static_cast<int64_t>(value.get<double>());
}

// `aud` may be one string or a list of them.
bool audience_matches(jwt_t* jwt, const std::string& expected) {
  char* raw = jwt_get_grants_json(jwt, "aud");
  if (raw == nullptr) return false;
  const auto aud = parse_json(raw);
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
  return !options_.required && options_.jwt_secret.empty() && options_.jwt_public_key_pem.empty() &&
         options_.jwks.empty();
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
  if (options_.jwt_secret.empty() && options_.jwt_public_key_pem.empty() && options_.jwks.empty())
    return unauthenticated("this server accepts no JWTs (no auth.jwt_secret or auth.jwt_public_key_file)");
  const std::string text(token);
  // Read the header first, unverified, to choose the key by algorithm: an HS256 token must never be
  // checked against the public key used as an HMAC secret (algorithm confusion). libjwt reports no
  // algorithm for a token decoded without a key, so the header is read here.
  const auto header = parse_json(base64url_decode(token.substr(0, token.find('.'))));
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string())
    return unauthenticated("malformed JWT");
  const jwt_alg_t alg = jwt_str_alg(header["alg"].get<std::string>().c_str());
  std::string_view key;
  if (is_hmac(alg) && !options_.jwt_secret.empty()) {
    key = options_.jwt_secret;
  } else if (is_public_key(alg) && !options_.jwks.empty()) {
    // By the token's kid; a JWKS of one key needs none.
    // json::value() would throw for a kid of another type (a token's header is the caller's to write).
    if (header.contains("kid") && !header["kid"].is_string()) return unauthenticated("malformed JWT");
    const std::string kid = header.value("kid", "");
    const auto found = options_.jwks.find(kid);
    if (found != options_.jwks.end()) {
      key = found->second;
    } else if (kid.empty() && options_.jwks.size() == 1) {
      key = options_.jwks.begin()->second;
    } else {
      return unauthenticated("JWT key id '" + kid.substr(0, 64) + "' is not in the configured JWKS");
    }
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

namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct BnDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct BuildDeleter {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamsDeleter {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct CtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

// A public key from OpenSSL parameters, as PEM; empty when OpenSSL refuses them.
std::string pem_from(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamsDeleter> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxDeleter> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return {};
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(raw);
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) return {};
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

// One JWK (RFC 7517/7518: kty RSA with n and e, or EC with crv, x and y) as a PEM public key.
Result<std::string> jwk_to_pem(const nlohmann::json& jwk) {
  const auto field = [&](const char* name) -> std::string {
    return jwk.contains(name) && jwk[name].is_string() ? base64url_decode(jwk[name].get<std::string>()) : "";
  };
  std::unique_ptr<OSSL_PARAM_BLD, BuildDeleter> bld(OSSL_PARAM_BLD_new());
  const std::string kty = jwk.value("kty", "");
  if (kty == "RSA") {
    const std::string n = field("n"), e = field("e");
    if (n.empty() || e.empty()) return Error::invalid("an RSA key needs n and e");
    std::unique_ptr<BIGNUM, BnDeleter> bn_n(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), static_cast<int>(n.size()), nullptr));
    std::unique_ptr<BIGNUM, BnDeleter> bn_e(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), static_cast<int>(e.size()), nullptr));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    const std::string pem = pem_from("RSA", bld.get());
    if (pem.empty()) return Error::invalid("OpenSSL refused the RSA key");
    return pem;
  }
  if (kty == "EC") {
    const std::string crv = jwk.value("crv", "");
    const char* group = crv == "P-256"   ? "prime256v1"
                        : crv == "P-384" ? "secp384r1"
                        : crv == "P-521" ? "secp521r1"
                                         : nullptr;
    if (group == nullptr) return Error::invalid("EC curve '" + crv + "' is not P-256, P-384 or P-521");
    const std::string x = field("x"), y = field("y");
    if (x.empty() || x.size() != y.size()) return Error::invalid("an EC key needs x and y of one size");
    const std::string point = std::string(1, '\x04') + x + y;  // uncompressed point
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    const std::string pem = pem_from("EC", bld.get());
    if (pem.empty()) return Error::invalid("OpenSSL refused the EC key");
    return pem;
  }
  return Error::invalid("key type '" + kty + "' is not RSA or EC");
}

}  // namespace

Result<std::map<std::string, std::string>> read_jwks_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::config("cannot read " + path, "auth.jwt_jwks_file");
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = parse_json(text.str());
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    return Error::config(path + " is not a JWKS document ({\"keys\": [...]})", "auth.jwt_jwks_file");
  std::map<std::string, std::string> keys;
  for (size_t i = 0; i < doc["keys"].size(); ++i) {
    const auto& jwk = doc["keys"][i];
    if (!jwk.is_object())
      return Error::config(fmt::format("{}: keys[{}] is not an object", path, i), "auth.jwt_jwks_file");
    if (jwk.value("use", "sig") != "sig") continue;  // encryption keys sign nothing
    auto pem = jwk_to_pem(jwk);
    if (!pem)
      return Error::config(fmt::format("{}: keys[{}]: {}", path, i, pem.error().message),
                           "auth.jwt_jwks_file");
    keys[jwk.value("kid", "")] = std::move(pem).value();
  }
  if (keys.empty()) return Error::config(path + " holds no signing key", "auth.jwt_jwks_file");
  return keys;
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

RateLimiter::RateLimiter(double per_minute, double burst, cache::Redis* shared)
    : per_second_(per_minute / 60.0), burst_(std::max(1.0, burst)), shared_(shared) {}

int64_t RateLimiter::take(const std::string& key, double now_s) {
  if (per_second_ <= 0) return 0;  // unlimited
  if (shared_) {
    auto wait = shared_->take_token("rl:" + key, per_second_ * 60.0, burst_);
    if (wait) return *wait;
    // Once per burst of failures, not once per request: an outage must not flood the log.
    const int64_t now_ms = unix_millis();
    if (now_ms - last_shared_warning_ms_.exchange(now_ms) > 10000)
      spdlog::warn("rate limits: Redis unavailable, limiting on this node only: {}", wait.error().message);
  }
  return take_local(key, now_s);
}

int64_t RateLimiter::take_local(const std::string& key, double now_s) {
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
