// runtime/service_notify.hpp: the service manager's readiness protocol (sd_notify), without
// libsystemd.
#pragma once

#include <string>
#include <string_view>

#include <caf/error.hpp>

namespace syncline::runtime {

/// Sends `state` (newline-separated assignments such as `"READY=1\nSTATUS=listening"`, see
/// sd_notify(3)) as one datagram to the AF_UNIX socket named by the environment variable
/// NOTIFY_SOCKET: a path, or an abstract name when it starts with '@'. This is how a unit of
/// `Type=notify` learns that the node is ready (`READY=1`) or stopping (`STOPPING=1`).
///
/// Does nothing and returns `caf::none` when NOTIFY_SOCKET is unset or empty (the node was not
/// started by a service manager that asked for notifications). Returns
/// `runtime_errc::notify_failed` when the variable names an address of another kind (such as
/// `vsock:`), a path too long for a socket address, or a socket that cannot be reached; the
/// caller decides whether that matters (the node logs it and runs on).
/// Thread-safe; blocks at most for one non-blocking send.
[[nodiscard]] caf::error notify_service_manager(std::string_view state);

/// The same, to the socket `address` (NOTIFY_SOCKET's syntax) instead of the environment's.
/// An empty `address` does nothing.
[[nodiscard]] caf::error notify_service_manager(std::string_view address, std::string_view state);

}  // namespace syncline::runtime
