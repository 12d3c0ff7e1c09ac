#include "runtime/service_notify.hpp"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime/error.hpp"

namespace syncline::runtime {

caf::error notify_service_manager(std::string_view state) {
  const char* address = std::getenv("NOTIFY_SOCKET");
  return notify_service_manager(address == nullptr ? std::string_view{} : address, state);
}

caf::error notify_service_manager(std::string_view address, std::string_view state) {
  if (address.empty()) return caf::none;
  auto fail = [&](std::string why) {
    return make_error(runtime_errc::notify_failed,
                      "NOTIFY_SOCKET=" + std::string{address} + ": " + std::move(why));
  };
  // systemd also speaks vsock: (virtual machines); a node runs on the host, so only AF_UNIX.
  if (address.front() != '/' && address.front() != '@')
    return fail("only AF_UNIX sockets (a path, or '@' and an abstract name) are supported");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (address.size() > sizeof(sa.sun_path) - (address.front() == '/' ? 1 : 0))
    return fail("longer than a socket address can be");
  std::memcpy(sa.sun_path, address.data(), address.size());
  // An abstract name starts with a NUL byte and has no terminator: its length is the address'.
  if (address.front() == '@') sa.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() +
                                    (address.front() == '/' ? 1 : 0));
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(std::string{"socket: "} + std::strerror(errno));
  // MSG_DONTWAIT: a manager that does not read its socket must not stall the node's shutdown.
  ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                          reinterpret_cast<const sockaddr*>(&sa), len);
  int err = errno;
  ::close(fd);
  if (sent < 0) return fail(std::string{"sendto: "} + std::strerror(err));
  if (static_cast<size_t>(sent) != state.size()) return fail("the datagram was cut");
  return caf::none;
}

}  // namespace syncline::runtime
