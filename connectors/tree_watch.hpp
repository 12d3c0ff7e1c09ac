// connectors/tree_watch.hpp: a folder tree watched with inotify (Linux), so that a datasource
// runs when its tree changes instead of walking it on a timer. A watch sees every change only
// while the kernel's queue does not overflow and every directory has its watch: an overflow, a
// directory moved out and back, or the root itself moved or removed is reported, and the caller
// then walks the whole tree (docs/runtime.md, "Watching").
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::connectors {

/// What a tree_watch read.
struct watch_changes {
  /// The paths that changed (created, written, removed, moved, attributes), relative to the
  /// root, `/`-separated, each once, in the order first seen; a directory that appeared is
  /// there with everything in it.
  std::vector<std::string> paths;
  /// Events were lost (the kernel's queue overflowed, or a new directory could not be
  /// watched): only a walk of the whole tree is sure.
  bool overflow = false;
  /// The root was removed or moved away: the watch ends.
  bool root_gone = false;

  bool empty() const noexcept { return paths.empty() && !overflow && !root_gone; }
};

class tree_watch {
 public:
  /// Watches `root` and every directory beneath it (symbolic links are not followed, other
  /// filesystems not entered), at most `max_watches` directories. Errors: `bad_config` (no
  /// such directory), `no_space` (more directories than `max_watches`, or the kernel's
  /// `fs.inotify.max_user_watches` / `max_user_instances` reached: the message names the
  /// setting), `permission_denied`, `io_error`.
  static caf::expected<std::unique_ptr<tree_watch>> open(const std::string& root,
                                                         size_t max_watches);
  ~tree_watch();
  tree_watch(const tree_watch&) = delete;
  tree_watch& operator=(const tree_watch&) = delete;

  /// Readable (poll) when events wait.
  int fd() const noexcept;
  /// Reads the events waiting, without blocking, into `out`; a directory that appeared is
  /// watched from now on.
  void read(watch_changes& out);
  /// Directories watched.
  size_t watches() const noexcept;

 private:
  struct impl;
  explicit tree_watch(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace syncline::connectors
