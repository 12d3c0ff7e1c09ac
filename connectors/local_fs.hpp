// connectors/local_fs.hpp: what the local folder source and the local directory volume share:
// owning file descriptors, resolving references beneath a root, stat and open of one item.
// Internal to connectors/.
#pragma once

#include <cerrno>
#include <cstdint>
#include <dirent.h>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/item.hpp"
#include "connectors/source.hpp"

namespace syncline::connectors::detail {

/// Owns a file descriptor (-1 when empty) and closes it.
class unique_fd {
 public:
  unique_fd() noexcept = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  int release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

/// A reference cut at its last slash: `a/b/c.txt` is {`a/b`, `c.txt`, false}, `a/b/` is
/// {`a`, `b`, true}, `x` is {``, `x`, false}. REQUIRES: `validate_reference` accepted it.
struct reference_parts {
  std::string parent;
  std::string name;
  bool directory = false;
};
reference_parts split_reference(std::string_view reference);

/// Opens the root directory itself (following symlinks in the configured path: that one is the
/// administrator's choice). `flags` are added to `O_DIRECTORY | O_CLOEXEC`. A missing root or
/// one that is not a directory is `bad_config` (never `not_found`, which would mean "every item
/// vanished").
[[nodiscard]] caf::expected<unique_fd> open_root(const std::string& root, int flags);

/// Opens the directory `path` (relative, no trailing slash; empty for the root itself) beneath
/// `root_fd` as an `O_PATH` descriptor, refusing `..`, absolute paths and every symlink on the
/// way (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): those are `invalid_path`. With
/// `create`, missing directories are made (mode 0777 less the umask). A missing directory
/// without `create` is `not_found`. `root` is for messages only.
[[nodiscard]] caf::expected<unique_fd> open_directory_beneath(int root_fd, const std::string& path,
                                                              bool create, const std::string& root);

/// Calls `f(const char* name, unsigned char d_type)` for every entry of the directory open as
/// `fd` but `.` and `..`, in the file system's order. `buffer` is scratch space (not empty);
/// one buffer serves any number of calls. Returns 0 or the errno of a failed read.
template <class F>
int for_each_entry(int fd, std::vector<char>& buffer, F&& f) {
  // getdents64 straight into the caller's buffer: no DIR stream (and its 32 KiB) per directory.
  for (;;) {
    const ssize_t n = ::getdents64(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return 0;
    for (ssize_t at = 0; at < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buffer.data() + at);
      at += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      f(name, d->d_type);
    }
  }
}

/// Fills an item from `lstat` data; `link_target` is left empty. Kinds other than file,
/// directory and symlink come out as `unreadable` (callers skip them).
item_info info_from_stat(std::string reference, const struct stat& st);

/// The text of the symlink `name` in `dir_fd`. `what` names it in errors.
[[nodiscard]] caf::expected<std::string> read_link(int dir_fd, const char* name,
                                                   const std::string& what);

/// `root/reference` for messages.
std::string display_path(const std::string& root, std::string_view reference);

/// The item `reference` below `root`, or nothing when no item of the reference's kind is there
/// (a directory for `x/`; a file or symlink for `x`). Temporary files are never items.
/// `invalid_path` for a malformed reference or a symlink on the way.
[[nodiscard]] caf::expected<std::optional<item_info>> stat_item(const std::string& root,
                                                                const std::string& reference);

/// Opens the file `reference` below `root` for reading at `offset`, never following a symlink.
/// `not_found` when no regular file is there; `invalid_path` for a directory reference or a
/// symlink (an item, but not one that can be read).
[[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open_file(const std::string& root,
                                                                    const std::string& reference,
                                                                    uint64_t offset);

}  // namespace syncline::connectors::detail
