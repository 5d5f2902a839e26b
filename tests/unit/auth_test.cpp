// Authentication (JWTs, API keys, local mode), the per-route access check and rate limits.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fstream>
#include <memory>

#include "brandcoach/http/http.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::http {
namespace {

using testing::TempDir;

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "a-test-secret-that-is-32-bytes-long!";

struct Claims {
  std::string sub = "ana";
  int64_t exp = kNow + 600;
  int64_t nbf = 0;
  std::string iss;
  std::string aud;
  std::string role;
};

std::string sign(const Claims& claims, jwt_alg_t alg, const std::string& key) {
  jwt_t* raw = nullptr;
  jwt_new(&raw);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
  if (!claims.sub.empty()) jwt_add_grant(raw, "sub", claims.sub.c_str());
  if (claims.exp != 0) jwt_add_grant_int(raw, "exp", static_cast<long>(claims.exp));
  if (claims.nbf != 0) jwt_add_grant_int(raw, "nbf", static_cast<long>(claims.nbf));
  if (!claims.iss.empty()) jwt_add_grant(raw, "iss", claims.iss.c_str());
  if (!claims.aud.empty()) jwt_add_grant(raw, "aud", claims.aud.c_str());
  if (!claims.role.empty()) jwt_add_grant(raw, "role", claims.role.c_str());
  jwt_set_alg(raw, alg, alg == JWT_ALG_NONE ? nullptr : reinterpret_cast<const unsigned char*>(key.data()),
              static_cast<int>(key.size()));
  char* token = jwt_encode_str(raw);
  std::string out = token ? token : "";
  free(token);  // NOLINT: libjwt allocates with malloc
  return out;
}

// A fresh RSA key pair as PEM (private, public).
std::pair<std::string, std::string> rsa_pem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_RSA_gen(2048), &EVP_PKEY_free);
  const auto to_string = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    write(bio.get());
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(size));
  };
  return {to_string(
              [&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); }),
          to_string([&](BIO* b) { PEM_write_bio_PUBKEY(b, key.get()); })};
}

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::open_sqlite({(dir / "db.sqlite3").string(), 1, 5000});
    ASSERT_TRUE(opened);
    store = std::move(opened).value();
  }

  Result<Principal> check(const AuthOptions& options, const std::string& token,
                          const std::string& user = {}) {
    Authenticator auth(options, *store);
    return auth.authenticate(token.empty() ? "" : "Bearer " + token, user, kNow);
  }

  static AuthOptions hs256(std::string issuer = {}, std::string audience = {}) {
    AuthOptions options;
    options.jwt_secret = kSecret;
    options.issuer = std::move(issuer);
    options.audience = std::move(audience);
    return options;
  }

  void expect_401(const Result<Principal>& result, const std::string& why) {
    ASSERT_FALSE(result) << why;
    EXPECT_EQ(result.error().kind, ErrorKind::unauthenticated) << result.error().message;
    EXPECT_EQ(http_status(result.error().kind), 401);
    EXPECT_NE(result.error().message.find(why), std::string::npos) << why << " / " << result.error().message;
  }

  TempDir dir;
  std::unique_ptr<store::Store> store;
};

TEST_F(Auth, AValidHs256TokenNamesTheUserAndRole) {
  auto principal = check(
      hs256("https://id.example", "brandcoach"),
      sign({"ana", kNow + 60, kNow - 5, "https://id.example", "brandcoach", ""}, JWT_ALG_HS256, kSecret));
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->user, "ana");
  EXPECT_EQ(principal->role, "user");
  EXPECT_EQ(principal->method, "jwt");
  Claims admin;
  admin.role = "admin";
  EXPECT_EQ(check(hs256(), sign(admin, JWT_ALG_HS256, kSecret))->role, "admin");
}

TEST_F(Auth, ExpiredNotYetValidAndBadlySignedTokensAreRefused) {
  Claims expired;
  expired.exp = kNow - 120;
  expect_401(check(hs256(), sign(expired, JWT_ALG_HS256, kSecret)), "expired");
  Claims within_leeway;
  within_leeway.exp = kNow - 10;
  EXPECT_TRUE(check(hs256(), sign(within_leeway, JWT_ALG_HS256, kSecret)))
      << "30 s of clock skew are allowed";
  Claims early;
  early.nbf = kNow + 3600;
  expect_401(check(hs256(), sign(early, JWT_ALG_HS256, kSecret)), "not valid yet");
  expect_401(check(hs256(), sign({}, JWT_ALG_HS256, "another-secret-that-is-32-bytes-long")), "signature");
  Claims no_exp;
  no_exp.exp = 0;
  expect_401(check(hs256(), sign(no_exp, JWT_ALG_HS256, kSecret)), "no exp");
  Claims no_sub;
  no_sub.sub.clear();
  expect_401(check(hs256(), sign(no_sub, JWT_ALG_HS256, kSecret)), "no sub");
  Claims bad_sub;
  bad_sub.sub = "../../etc";
  expect_401(check(hs256(), sign(bad_sub, JWT_ALG_HS256, kSecret)), "not a valid user id");
  expect_401(check(hs256(), sign({}, JWT_ALG_NONE, "")), "not accepted");
  expect_401(check(hs256(), "not.a.jwt"), "malformed");
}

TEST_F(Auth, IssuerAndAudienceAreChecked) {
  expect_401(check(hs256("https://id.example"),
                   sign({"ana", kNow + 60, 0, "https://evil.example", "", ""}, JWT_ALG_HS256, kSecret)),
             "issuer");
  expect_401(check(hs256({}, "brandcoach"),
                   sign({"ana", kNow + 60, 0, "", "other-app", ""}, JWT_ALG_HS256, kSecret)),
             "audience");
  expect_401(check(hs256({}, "brandcoach"), sign({}, JWT_ALG_HS256, kSecret)), "audience");
}

TEST_F(Auth, Rs256TokensAreCheckedWithThePublicKeyAndCannotBeForgedWithIt) {
  const auto [private_pem, public_pem] = rsa_pem();
  AuthOptions options;
  options.jwt_public_key_pem = public_pem;
  auto principal = check(options, sign({}, JWT_ALG_RS256, private_pem));
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->user, "ana");
  // Algorithm confusion: an HS256 token "signed" with the public key must not pass.
  expect_401(check(options, sign({}, JWT_ALG_HS256, public_pem)), "not accepted");
  const auto [other_private, other_public] = rsa_pem();
  expect_401(check(options, sign({}, JWT_ALG_RS256, other_private)), "signature");
}

TEST_F(Auth, ApiKeysAuthenticateUntilRevoked) {
  const std::string key = new_api_key();
  EXPECT_EQ(key.rfind("bck_", 0), 0u);
  EXPECT_EQ(key.size(), 4u + 43u);
  EXPECT_NE(key, new_api_key());
  auto created = store->create_api_key("ben", "laptop", "admin", api_key_hash(key));
  ASSERT_TRUE(created);
  AuthOptions required;
  required.required = true;
  auto principal = check(required, key, "someone-else");
  ASSERT_TRUE(principal) << principal.error().message;
  EXPECT_EQ(principal->user, "ben") << "the key decides the user, not X-Brandcoach-User";
  EXPECT_EQ(principal->role, "admin");
  EXPECT_EQ(principal->method, "api_key");
  expect_401(check(required, "bck_" + std::string(43, 'A')), "unknown API key");
  ASSERT_TRUE(store->revoke_api_key(created->id));
  expect_401(check(required, key), "revoked");
  EXPECT_EQ(store->revoke_api_key(9999).error().kind, ErrorKind::not_found);
  auto listed = store->list_api_keys(std::string_view("ben"));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_NE(listed->front().revoked_at, 0);
}

TEST_F(Auth, LocalModeTrustsTheHeaderButNeverABadToken) {
  AuthOptions local;
  Authenticator auth(local, *store);
  EXPECT_TRUE(auth.local_mode());
  EXPECT_EQ(auth.authenticate("", "", kNow)->user, "local");
  EXPECT_EQ(auth.authenticate("", "ana@example.com", kNow)->user, "ana@example.com");
  EXPECT_EQ(auth.authenticate("", "../etc/passwd", kNow).error().param, "X-Brandcoach-User");
  EXPECT_FALSE(auth.authenticate("", std::string(200, 'a'), kNow));
  expect_401(auth.authenticate("Bearer bck_unknown", "", kNow), "unknown API key");
  expect_401(auth.authenticate("Bearer " + sign({}, JWT_ALG_HS256, kSecret), "", kNow), "accepts no JWTs");
  expect_401(auth.authenticate("Basic dXNlcjpwYXNz", "", kNow), "Bearer");
}

TEST_F(Auth, WithAuthenticationConfiguredAMissingTokenIs401) {
  Authenticator auth(hs256(), *store);
  EXPECT_FALSE(auth.local_mode());
  expect_401(auth.authenticate("", "ana", kNow), "needs an Authorization");
}

TEST(AuthOptionsCheck, AShortHmacSecretIsRefused) {
  AuthOptions options;
  options.jwt_secret = "short";
  EXPECT_EQ(validate(options).error().param, "auth.jwt_secret");
}

TEST(RateLimits, ABurstThenOneRequestPerRefill) {
  RateLimiter limiter(60, 3);  // one per second, three at once
  EXPECT_EQ(limiter.take("ana", 100.0), 0);
  EXPECT_EQ(limiter.take("ana", 100.0), 0);
  EXPECT_EQ(limiter.take("ana", 100.0), 0);
  EXPECT_EQ(limiter.take("ana", 100.0), 1) << "the fourth waits a second";
  EXPECT_EQ(limiter.take("ben", 100.0), 0) << "buckets are per key";
  EXPECT_EQ(limiter.take("ana", 101.0), 0) << "refilled";
  RateLimiter unlimited(0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(unlimited.take("x", 0), 0);
}

}  // namespace
}  // namespace brandcoach::http

namespace brandcoach::http {
namespace {

std::string b64url(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (const unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      out.push_back(kAlphabet[(buffer >> (bits - 6)) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3F]);
  return out;
}

std::string bn_param(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, name, &bn);
  std::string out(static_cast<size_t>(std::max(pad, BN_num_bytes(bn))), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  BN_free(bn);
  return out;
}

std::string private_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

std::string sign_with_kid(jwt_alg_t alg, const std::string& key, const std::string& kid) {
  jwt_t* raw = nullptr;
  jwt_new(&raw);
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(raw, &jwt_free);
  jwt_add_grant(raw, "sub", "ana");
  jwt_add_grant_int(raw, "exp", static_cast<long>(kNow + 600));
  if (!kid.empty()) jwt_add_header(raw, "kid", kid.c_str());
  jwt_set_alg(raw, alg, reinterpret_cast<const unsigned char*>(key.data()), static_cast<int>(key.size()));
  char* token = jwt_encode_str(raw);
  std::string out = token ? token : "";
  free(token);  // NOLINT: libjwt allocates with malloc
  return out;
}

TEST_F(Auth, JwksKeysAreChosenByKid) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> rsa(EVP_RSA_gen(2048), &EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  const nlohmann::json jwks = {
      {"keys",
       {{{"kty", "RSA"},
         {"kid", "rsa-1"},
         {"use", "sig"},
         {"alg", "RS256"},
         {"n", b64url(bn_param(rsa.get(), OSSL_PKEY_PARAM_RSA_N))},
         {"e", b64url(bn_param(rsa.get(), OSSL_PKEY_PARAM_RSA_E))}},
        {{"kty", "EC"},
         {"kid", "ec-1"},
         {"crv", "P-256"},
         {"x", b64url(bn_param(ec.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
         {"y", b64url(bn_param(ec.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}},
        {{"kty", "RSA"}, {"kid", "enc-1"}, {"use", "enc"}, {"n", "AQAB"}, {"e", "AQAB"}}}}};
  const auto path = dir / "jwks.json";
  std::ofstream(path) << jwks.dump();
  auto keys = read_jwks_file(path.string());
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(keys->size(), 2u) << "the encryption key is skipped";
  AuthOptions options;
  options.jwks = *keys;
  auto by_rsa = check(options, sign_with_kid(JWT_ALG_RS256, private_pem(rsa.get()), "rsa-1"));
  ASSERT_TRUE(by_rsa) << by_rsa.error().message;
  EXPECT_EQ(by_rsa->user, "ana");
  auto by_ec = check(options, sign_with_kid(JWT_ALG_ES256, private_pem(ec.get()), "ec-1"));
  ASSERT_TRUE(by_ec) << by_ec.error().message;
  expect_401(check(options, sign_with_kid(JWT_ALG_RS256, private_pem(rsa.get()), "other")),
             "not in the configured JWKS");
  expect_401(check(options, sign_with_kid(JWT_ALG_RS256, private_pem(rsa.get()), "ec-1")), "signature");
}

TEST_F(Auth, BadJwksFilesAreConfigurationErrors) {
  for (const std::string text :
       {"not json", R"({"keys": 1})", R"({"keys": []})", R"({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})",
        R"({"keys": [{"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}]})",
        R"({"keys": [{"kty": "RSA", "n": "AQAB"}]})"}) {
    const auto path = dir / "bad.json";
    std::ofstream(path) << text;
    auto keys = read_jwks_file(path.string());
    ASSERT_FALSE(keys) << text;
    EXPECT_EQ(keys.error().param, "auth.jwt_jwks_file") << text;
  }
  EXPECT_FALSE(read_jwks_file((dir / "missing.json").string()));
}

}  // namespace
}  // namespace brandcoach::http
