// actors/folder_watcher.hpp: the node's watches of folder datasources' trees, in one inotify
// instance (connectors::watch_group) read on one thread of their own: each tree's changes are gathered until the tree has been quiet for a moment, then
// handed to the datasource (a message to its actor), which starts a run. Owned by
// node_context; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/tree_watch.hpp"

namespace syncline::actors {

class folder_watcher {
 public:
  /// Changes of a tree, delivered on the watcher's thread (keep it short: send a message).
  using deliver_fn = std::function<void(connectors::watch_changes)>;

  /// A change is delivered once its tree has been quiet for `quiet`, or `quiet` x 10 after
  /// the first change when it never is.
  explicit folder_watcher(std::chrono::milliseconds quiet);
  ~folder_watcher();
  folder_watcher(const folder_watcher&) = delete;
  folder_watcher& operator=(const folder_watcher&) = delete;

  /// Watches the tree at `root` (at most `max_watches` directories) and hands its changes to
  /// `deliver` until `unwatch` of the number answered. Walks the tree: blocks, call it from an
  /// I/O job (other trees' events wait in the kernel's queue meanwhile). Errors as
  /// `connectors::watch_group::open` and `add`.
  caf::expected<uint64_t> watch(const std::string& root, size_t max_watches, deliver_fn deliver);
  /// Ends watch `handle` (nothing when it ended already); its `deliver` is not called after.
  void unwatch(uint64_t handle);
  /// Trees watched.
  size_t size() const;

 private:
  struct entry;
  void loop();
  void wake();
  void read_changes();

  std::chrono::milliseconds quiet_;
  // The inotify instance, opened by the first watch (a node without folder datasources holds
  // none). Lock order: group_mtx_, then mtx_.
  std::mutex group_mtx_;
  std::unique_ptr<connectors::watch_group> group_;  // guarded by group_mtx_
  mutable std::mutex mtx_;
  std::map<uint64_t, std::shared_ptr<entry>> entries_;  // by tree number; guarded by mtx_
  bool stop_ = false;                                   // guarded by mtx_
  int wake_fd_ = -1;                                    // an eventfd
  std::thread thread_;
};

}  // namespace syncline::actors
