// A deliberately small HTTP/1.1 client over a raw socket, so tests can send malformed requests too.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <stdexcept>
#include <string>

namespace brandcoach::testing {

struct HttpReply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
};

/// Connects to 127.0.0.1:port; -1 when nobody listens.
inline int connect_local(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

inline bool send_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

inline std::string dechunk(const std::string& raw) {
  std::string out;
  size_t pos = 0;
  while (pos < raw.size()) {
    const auto line_end = raw.find("\r\n", pos);
    if (line_end == std::string::npos) break;
    const size_t size = std::stoul(raw.substr(pos, line_end - pos), nullptr, 16);
    if (size == 0) break;
    out += raw.substr(line_end + 2, size);
    pos = line_end + 2 + size + 2;
  }
  return out;
}

/// Parses a complete response (read until the server closed or Content-Length was satisfied).
inline HttpReply parse_reply(const std::string& raw) {
  HttpReply reply;
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || raw.size() < 12) return reply;
  reply.status = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const auto end = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, end - pos);
    const auto colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    reply.headers[name] = value;
    pos = end + 2;
  }
  const std::string body = raw.substr(head_end + 4);
  reply.body = reply.headers["transfer-encoding"] == "chunked" ? dechunk(body) : body;
  return reply;
}

/// Sends raw bytes and reads the response until the server closes the connection.
inline HttpReply raw_request(int port, const std::string& bytes) {
  const int fd = connect_local(port);
  if (fd < 0) throw std::runtime_error("cannot connect");
  send_all(fd, bytes);
  std::string raw;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    raw.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return parse_reply(raw);
}

/// One request on a fresh connection with `Connection: close`.
inline HttpReply request(int port, const std::string& method, const std::string& path,
                         const std::string& body = {},
                         const std::map<std::string, std::string>& headers = {}) {
  std::string bytes = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  for (const auto& [name, value] : headers) bytes += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST") bytes += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  bytes += "\r\n" + body;
  return raw_request(port, bytes);
}

}  // namespace brandcoach::testing
