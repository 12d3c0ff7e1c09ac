// connectors/error.hpp: the connectors folder's one error enum.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace syncline::connectors {

/// Everything a source or volume call can fail with. `errno` values and (later) CURLcodes are
/// converted into these in one place per kind (`from_errno`). Whether a failure is retried is
/// decided by actors/failure_policy, from these codes alone.
enum class connector_errc : uint8_t {
  /// A transient I/O failure (EIO, EINTR, EAGAIN, ETIMEDOUT...).
  io_error = 1,
  /// The network failed (refused, reset, unreachable, DNS, timeout).
  network,
  /// The other side is busy or rate-limits us (EBUSY, HTTP 429/503).
  busy,
  /// The item changed while it was being copied.
  changed_during_copy,
  /// Access was refused (EACCES, EPERM, HTTP 401/403).
  permission_denied,
  /// The item does not exist (ENOENT): the source vanished. rsync's code 23.
  not_found,
  /// The target is full (ENOSPC, EDQUOT).
  no_space,
  /// The connector's configuration is wrong (root missing, not a directory, bad URL).
  bad_config,
  /// A reference is malformed or would lead outside the root.
  invalid_path,
  /// The copied data does not match its expected hash.
  hash_mismatch,
  /// The operation was cancelled by its caller.
  cancelled,
  /// The connector cannot do this (e.g. symlinks on a volume that has none).
  unsupported,
};

const char* to_string(connector_errc x) noexcept;

constexpr caf::atom_value connector_category = caf::atom("connector");

caf::error make_error(connector_errc x, std::string context = {});

/// Converts an errno value: `what` names the operation and path ("open /x/y").
caf::error from_errno(int err, const std::string& what);

/// Whether `err` is a connector error with code `code`.
bool is(const caf::error& err, connector_errc code) noexcept;

/// `"permission_denied: open /x/y: Permission denied"`.
std::string render(const caf::error& err);

}  // namespace syncline::connectors
