#include "tests/support/notify_socket.hpp"

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace syncline::test {

notify_socket::notify_socket(const std::filesystem::path& path, bool abstract) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::string name = path.string();
  if (name.size() + 1 > sizeof(sa.sun_path))
    throw std::runtime_error("notify_socket: path too long: " + name);
  std::memcpy(sa.sun_path, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  if (abstract) {
    sa.sun_path[0] = '\0';  // the rest of the path is the abstract name
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    address_ = "@" + name.substr(1);
  } else {
    address_ = name;
    path_ = path;
  }
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    int err = errno;
    ::close(fd_);
    throw std::runtime_error("bind " + address_ + ": " + std::strerror(err));
  }
}

notify_socket::~notify_socket() {
  ::close(fd_);
  if (!path_.empty()) ::unlink(path_.c_str());
}

std::optional<std::string> notify_socket::receive(std::chrono::milliseconds bound) {
  pollfd p{fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(bound.count()));
  if (ready <= 0) return std::nullopt;
  char buf[4096];
  ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace syncline::test
