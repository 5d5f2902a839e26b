// HTTPS: the real binary with a certificate made here, checked with the tools an operator would use
// (curl and openssl s_client): TLS 1.3 preferred, 1.2 accepted, anything older refused, plain HTTP
// to the TLS port answered with nothing, and bad certificate settings refused at start.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "support/process.hpp"
#include "support/server.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace brandcoach::testing {
namespace {

// Runs a shell command; returns its exit status and what it printed (stdout and stderr).
std::pair<int, std::string> shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// A self-signed P-256 certificate for 127.0.0.1, and its key.
void make_certificate(const std::filesystem::path& dir) {
  const auto [status, output] = shell(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string());
  ASSERT_EQ(status, 0) << output;
}

std::vector<std::string> tls_flags(const std::filesystem::path& dir) {
  return {"--set", "server.tls_cert_file=" + (dir / "cert.pem").string(), "--set",
          "server.tls_key_file=" + (dir / "key.pem").string()};
}

TEST(Tls, HttpsIsServedWithModernProtocolsOnlyAndPlainHttpGetsNothing) {
  TempDir dir;
  make_certificate(dir.path());
  ServerProcess server(dir.path(), tls_flags(dir.path()));
  const std::string port = std::to_string(server.port());
  const std::string base = "https://127.0.0.1:" + port;
  const std::string ca = " --cacert " + (dir.path() / "cert.pem").string();

  // curl, verifying the certificate: a health check and a whole chat turn over HTTPS.
  auto [status, output] = shell("curl -sS --fail" + ca + " " + base + "/healthz");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\"ok\""), std::string::npos) << output;
  std::tie(status, output) = shell("curl -sS --fail" + ca +
                                   " -H 'Content-Type: application/json' -H 'X-Brandcoach-User: ana' "
                                   "-d '{\"message\":\"How do I price my candles?\",\"stream\":true}' " +
                                   base + "/api/chat");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("event: done"), std::string::npos)
      << "a streamed turn arrives whole over TLS: " << output;

  // openssl s_client: 1.3 is what a modern client gets; 1.2 still works; 1.1 and 1.0 are refused.
  const std::string connect = "echo | openssl s_client -connect 127.0.0.1:" + port + " -servername 127.0.0.1";
  std::tie(status, output) = shell(connect + " -brief");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("Protocol version: TLSv1.3"), std::string::npos) << output;
  std::tie(status, output) = shell(connect + " -brief -tls1_2");
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("Protocol version: TLSv1.2"), std::string::npos) << output;
  EXPECT_NE(output.find("ECDHE"), std::string::npos) << "forward-secret key exchange: " << output;
  EXPECT_NE(output.find("GCM"), std::string::npos) << "an AEAD cipher: " << output;
  // The client is let down to security level 0 (Debian's own default refuses old protocols by
  // itself), so what refuses them here is the server: a protocol_version alert.
  for (const char* old : {"-tls1_1", "-tls1"}) {
    std::tie(status, output) = shell(connect + " -brief " + old + " -cipher 'DEFAULT:@SECLEVEL=0'");
    EXPECT_EQ(output.find("Protocol version:"), std::string::npos) << old << " must not connect: " << output;
    EXPECT_NE(output.find("alert protocol version"), std::string::npos) << old << ": " << output;
  }
  // A weak TLS 1.2 suite offered alone (no forward secrecy, no AEAD) is refused: handshake_failure.
  std::tie(status, output) = shell(connect + " -brief -tls1_2 -cipher 'AES128-SHA:@SECLEVEL=0'");
  EXPECT_EQ(output.find("Protocol version:"), std::string::npos) << output;
  EXPECT_NE(output.find("alert handshake failure"), std::string::npos) << output;
  // Every answer says what the browser may do with it; over HTTPS, HSTS too.
  std::tie(status, output) = shell("curl -sS -D - -o /dev/null" + ca + " " + base + "/healthz");
  for (const char* header : {"Strict-Transport-Security: max-age=31536000", "X-Content-Type-Options: nosniff",
                             "X-Frame-Options: DENY", "Referrer-Policy: no-referrer"}) {
    EXPECT_NE(output.find(header), std::string::npos) << header << " in " << output;
  }

  // Plain HTTP to the HTTPS port gets no HTTP answer, and the server keeps serving.
  const auto plain = request(server.port(), "GET", "/healthz");
  EXPECT_NE(plain.status, 200);
  std::tie(status, output) = shell("curl -sS --fail" + ca + " " + base + "/readyz");
  EXPECT_EQ(status, 0) << output;
}

TEST(Tls, BadCertificateSettingsStopTheServerWithTheKeyNamed) {
  TempDir dir;
  make_certificate(dir.path());
  const std::string cert = (dir.path() / "cert.pem").string();
  const std::string key = (dir.path() / "key.pem").string();
  std::filesystem::path other = dir.path() / "other";
  std::filesystem::create_directories(other);
  make_certificate(other);
  const std::string not_pem = (dir.path() / "not.pem").string();
  FILE* f = std::fopen(not_pem.c_str(), "w");
  std::fputs("this is not a certificate\n", f);
  std::fclose(f);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--tls-cert", cert}, "server.tls_key_file"},                        // a certificate without its key
      {{"--tls-key", key}, "server.tls_cert_file"},                         // a key without a certificate
      {{"--tls-cert", not_pem, "--tls-key", key}, "server.tls_cert_file"},  // not PEM
      {{"--tls-cert", cert, "--tls-key", (other / "key.pem").string()},
       "server.tls_key_file"},  // not its key
      {{"--tls-cert", (dir.path() / "missing.pem").string(), "--tls-key", key}, "server.tls_cert_file"},
  };
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> args = {BRANDCOACH_BINARY, "--data-dir", dir.path().string(),
                                     "serve",           "--port",     "0"};
    args.insert(args.end(), flags.begin(), flags.end());
    Process process(args);
    EXPECT_EQ(process.wait(std::chrono::seconds(60)), 2) << named << ": " << process.err();
    EXPECT_NE(process.err().find(named), std::string::npos) << process.err();
    EXPECT_EQ(process.out().find("running at"), std::string::npos) << "nothing is served";
  }
}

}  // namespace
}  // namespace brandcoach::testing
