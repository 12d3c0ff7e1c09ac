// connectors/tree_watch.hpp: a folder tree watched with inotify (Linux), so that a datasource
// runs when its tree changes instead of walking it on a timer. A watch sees every change only
// while the kernel's queue does not overflow and every directory has its watch: an overflow, a
// directory moved out and back, or the root itself moved or removed is reported, and the caller
// then walks the whole tree (docs/runtime.md, "Watching").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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

/// Trees watched through ONE inotify instance (Linux allows 128 instances per user by
/// default; the node keeps one group for all its folder datasources, so that limit does not
/// cap how many it watches). Trees may overlap (one root inside another): each is told its
/// changes under its own relative paths. Not thread-safe: the caller serialises its calls.
class watch_group {
 public:
  /// Opens the inotify instance. Errors: `no_space` (the kernel's
  /// `fs.inotify.max_user_instances` reached: the message names the setting), `io_error`.
  static caf::expected<std::unique_ptr<watch_group>> open();
  ~watch_group();
  watch_group(const watch_group&) = delete;
  watch_group& operator=(const watch_group&) = delete;

  /// Watches `root` and every directory beneath it (symbolic links are not followed, other
  /// filesystems not entered), at most `max_watches` directories; answers the tree's number.
  /// Walks the tree. Errors: `bad_config` (no such directory), `no_space` (more directories
  /// than `max_watches`, or the kernel's `fs.inotify.max_user_watches` reached: the message
  /// names the setting), `permission_denied`, `io_error`; nothing stays watched then.
  caf::expected<uint64_t> add(const std::string& root, size_t max_watches);
  /// Ends the watch of tree `tree` (nothing when unknown); its events are dropped from now on.
  void remove(uint64_t tree);

  /// Readable (poll) when events wait.
  int fd() const noexcept;
  /// Where a tree's changes go: `out(tree)` answers the changes to add to (null: dropped).
  using sink = std::function<watch_changes*(uint64_t tree)>;
  /// Reads the events waiting, without blocking, adding each tree's to `out(tree)` (each path
  /// once, after those already there); a directory that appeared is watched from now on. An
  /// overflow of the instance's queue is every tree's overflow.
  void read(const sink& out);
  /// Directories watched for tree `tree` (0 when unknown).
  size_t watches(uint64_t tree) const noexcept;

 private:
  struct impl;
  explicit watch_group(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// One tree in an inotify instance of its own (tests, tools); the node uses a watch_group.
class tree_watch {
 public:
  /// As watch_group::open then add; errors as theirs.
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
  tree_watch(std::unique_ptr<watch_group> g, uint64_t tree);
  std::unique_ptr<watch_group> group_;
  uint64_t tree_ = 0;
};

}  // namespace syncline::connectors
