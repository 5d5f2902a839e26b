// A Redis logical database for one test: the services' Redis URL pointed at database N (0-15) and
// emptied first, so a test never sees keys (shared cache entries, rate-limit buckets) that another
// test or an earlier run left there.
//
// Pub/sub is not per database in Redis: every process on the same server hears every channel, so a
// separate database keeps a test's keys apart but not its invalidation messages.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace brandcoach::testing {

/// The URL with its database number replaced: "redis://127.0.0.1:6379/0" -> "redis://127.0.0.1:6379/5".
inline std::string with_redis_database(const std::string& url, int database) {
  const size_t scheme = url.find("://");
  const size_t authority = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t path = url.find('/', authority);
  return url.substr(0, path) + "/" + std::to_string(database);
}

/// Empties the database a redis://HOST:PORT/DB URL names (SELECT + FLUSHDB over a raw socket, so
/// tests need no Redis client library). Returns what went wrong, empty on success. HOST must be a
/// numeric IPv4 address or "localhost" (the test services listen on 127.0.0.1).
inline std::string flush_redis_database(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || url.substr(0, scheme) != "redis") return "not a redis:// URL: " + url;
  const std::string rest = url.substr(scheme + 3);
  const size_t colon = rest.find(':');
  const size_t slash = rest.find('/');
  if (colon == std::string::npos) return "no port in " + url;
  std::string host = rest.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  const std::string port =
      rest.substr(colon + 1, slash == std::string::npos ? std::string::npos : slash - colon - 1);
  const std::string database = slash == std::string::npos ? "0" : rest.substr(slash + 1);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
  if (inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1) return "not an IPv4 address: " + host;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket() failed";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return "cannot connect to Redis at " + host + ":" + port;
  }
  const auto bulk = [](const std::string& text) {
    return "$" + std::to_string(text.size()) + "\r\n" + text + "\r\n";
  };
  const std::string commands = "*2\r\n" + bulk("SELECT") + bulk(database) + "*1\r\n" + bulk("FLUSHDB");
  if (::send(fd, commands.data(), commands.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(commands.size())) {
    close(fd);
    return "cannot send to Redis";
  }
  // Two one-line replies, "+OK\r\n" each; anything else (an "-ERR …" line) is the error.
  const auto lines_in = [](const std::string& text) {
    size_t count = 0;
    for (size_t at = text.find("\r\n"); at != std::string::npos; at = text.find("\r\n", at + 2)) ++count;
    return count;
  };
  std::string replies;
  char buffer[512];
  while (lines_in(replies) < 2) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    replies.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (replies != "+OK\r\n+OK\r\n") return "SELECT " + database + " + FLUSHDB answered: " + replies;
  return {};
}

}  // namespace brandcoach::testing
