// tests/support/notify_socket.hpp: the receiving end of sd_notify(3), as a service manager
// holds it, for tests of the node's ready notification.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace syncline::test {

/// An AF_UNIX datagram socket bound to a path (or, when `abstract` is set, to an abstract name
/// derived from it), closed and unlinked when destroyed. Throws std::runtime_error when it
/// cannot be made.
class notify_socket {
 public:
  explicit notify_socket(const std::filesystem::path& path, bool abstract = false);
  ~notify_socket();
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  /// The value NOTIFY_SOCKET takes for this socket: the path, or '@' and the abstract name.
  const std::string& address() const noexcept { return address_; }

  /// The next datagram, or nullopt when none came within `bound`.
  std::optional<std::string> receive(std::chrono::milliseconds bound);

 private:
  int fd_ = -1;
  std::string address_;
  std::filesystem::path path_;  // empty for an abstract name
};

}  // namespace syncline::test
