#include "tests/support/http_client.hpp"

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace syncline::test {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("http_client: " + what + ": " + std::strerror(errno));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return std::string{s};
}

}  // namespace

std::string http_result::header(const std::string& lower_case_name) const {
  auto i = headers.find(lower_case_name);
  return i == headers.end() ? std::string{} : i->second;
}

http_connection::http_connection(const std::string& host, uint16_t port,
                                 std::chrono::milliseconds io_bound) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  auto port_text = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("http_client: bad address " + host + ": " + ::gai_strerror(rc));
  // Close-on-exec, so node processes started by the test never inherit the connection.
  fd_ = ::socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
  if (fd_ < 0) {
    ::freeaddrinfo(found);
    fail("socket");
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(io_bound.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((io_bound.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc = ::connect(fd_, found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  if (rc != 0) {
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    errno = err;
    fail("connect to " + host + ":" + port_text);
  }
  host_header_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port_text;
}

http_connection::~http_connection() {
  if (fd_ >= 0) ::close(fd_);
}

void http_connection::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("send");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

void http_connection::send_request(std::string_view method, std::string_view target,
                                   std::string_view body,
                                   const std::vector<std::pair<std::string, std::string>>& extra) {
  head_sent_ = method == "HEAD";
  std::string req;
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  if (!host_header_.empty()) req.append("Host: ").append(host_header_).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT")
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  for (auto& [k, v] : extra) req.append(k).append(": ").append(v).append("\r\n");
  req.append("\r\n");
  req.append(body);
  send_raw(req);
}

bool http_connection::fill() {
  char buf[8192];
  for (;;) {
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      throw std::runtime_error("http_client: no answer within the bound");
    if (n < 0) fail("recv");
    if (n == 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }
}

std::optional<std::string> http_connection::read_until(std::string_view marker) {
  size_t at;
  while ((at = buffer_.find(marker)) == std::string::npos)
    if (!fill()) return std::nullopt;
  std::string out = buffer_.substr(0, at + marker.size());
  buffer_.erase(0, at + marker.size());
  return out;
}

http_result http_connection::read_response() {
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
    if (!fill()) throw std::runtime_error("http_client: connection closed before a response");
  std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);

  http_result r;
  auto line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12)
    throw std::runtime_error("http_client: bad status line: " + status_line);
  r.status = std::stoi(status_line.substr(9, 3));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    auto next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    auto line = std::string_view{head}.substr(pos, next - pos);
    auto colon = line.find(':');
    if (colon != std::string_view::npos)
      r.headers[lower(std::string{line.substr(0, colon)})] = trim(line.substr(colon + 1));
    pos = next + 2;
  }
  // 1xx answers (100 Continue) carry no body; the caller reads again for the final one.
  if (r.status >= 100 && r.status < 200) return r;
  // The answer to HEAD has the headers of GET's and no body.
  if (head_sent_) return r;
  if (auto cl = r.headers.find("content-length"); cl != r.headers.end()) {
    size_t length = std::stoul(cl->second);
    while (buffer_.size() < length)
      if (!fill()) throw std::runtime_error("http_client: connection closed inside a body");
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
  } else {
    while (fill()) {
    }
    r.body = std::move(buffer_);
    buffer_.clear();
  }
  return r;
}

http_result http_connection::request(
    std::string_view method, std::string_view target, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& extra) {
  send_request(method, target, body, extra);
  return read_response();
}

bool http_connection::wait_closed() {
  buffer_.clear();
  char buf[8192];
  for (;;) {
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) continue;
    if (n == 0) return true;
    if (errno == EINTR) continue;
    // A reset also means closed; only the bound passing means not.
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
}

http_result fetch(uint16_t port, std::string_view method, std::string_view target,
                  std::string_view body,
                  const std::vector<std::pair<std::string, std::string>>& extra) {
  http_connection c{"127.0.0.1", port};
  return c.request(method, target, body, extra);
}

}  // namespace syncline::test
