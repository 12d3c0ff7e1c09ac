// connectors/item.hpp: what sources list and volumes hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::connectors {

enum class item_kind : uint8_t {
  file,
  directory,
  symlink,
  /// An entry that could not be read (see `item_info::error`); a directory's subtree was not
  /// listed. Only listings produce it.
  unreadable,
};

const char* to_string(item_kind k) noexcept;

/// One item. `reference` is the path relative to the root, `/`-separated, no leading `/`, no
/// `.` or `..` segment, no empty segment; a directory's reference ends with `/`.
struct item_info {
  std::string reference;
  item_kind kind = item_kind::file;
  uint64_t size = 0;       ///< bytes, files only
  int64_t mtime_ns = 0;    ///< modification time, nanoseconds since the epoch
  uint32_t mode = 0;       ///< permission bits (`& 07777`)
  std::string link_target; ///< symlinks: the link's text, never followed
  std::optional<uint64_t> hash;  ///< XXH3-64 of the content, when the source knows it
  caf::error error;        ///< `unreadable` only: why
};

/// Checks a reference against the rules above. Returns `connector_errc::invalid_path` naming
/// the problem.
[[nodiscard]] caf::error validate_reference(const std::string& reference);

/// The XXH3-64 of the first `length` bytes of the open file `fd`, read with pread into
/// `buffer` (`size` > 0 bytes). Errors name `what`: `io_error` when a read fails or the file is
/// shorter than `length`.
[[nodiscard]] caf::expected<uint64_t> xxh3_of(int fd, uint64_t length, char* buffer, size_t size,
                                              const std::string& what);

/// Compares references in listing order (plain byte order).
inline bool reference_less(const std::string& a, const std::string& b) noexcept { return a < b; }

}  // namespace syncline::connectors
