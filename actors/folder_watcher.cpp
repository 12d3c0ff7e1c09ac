#include "actors/folder_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>
#include <vector>

namespace syncline::actors {

using clock_type = std::chrono::steady_clock;

struct folder_watcher::entry {
  std::unique_ptr<connectors::tree_watch> tree;
  deliver_fn deliver;
  // Gathered and not yet delivered (the watcher's thread only).
  connectors::watch_changes gathered;
  clock_type::time_point first, last;
  bool ended = false;  // guarded by the watcher's mtx_
  // Held while `deliver` runs, so that unwatch returns only once no delivery is under way.
  std::mutex delivering;
};

folder_watcher::folder_watcher(std::chrono::milliseconds quiet) : quiet_(quiet) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  thread_ = std::thread([this] { loop(); });
}

folder_watcher::~folder_watcher() {
  {
    std::lock_guard<std::mutex> lock{mtx_};
    stop_ = true;
  }
  wake();
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void folder_watcher::wake() {
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

caf::expected<uint64_t> folder_watcher::watch(const std::string& root, size_t max_watches,
                                              deliver_fn deliver) {
  auto tree = connectors::tree_watch::open(root, max_watches);
  if (!tree) return std::move(tree.error());
  auto e = std::make_shared<entry>();
  e->tree = std::move(*tree);
  e->deliver = std::move(deliver);
  uint64_t handle = 0;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    handle = ++next_;
    entries_[handle] = std::move(e);
  }
  wake();
  return handle;
}

void folder_watcher::unwatch(uint64_t handle) {
  std::shared_ptr<entry> e;
  {
    std::lock_guard<std::mutex> lock{mtx_};
    auto it = entries_.find(handle);
    if (it == entries_.end()) return;
    e = std::move(it->second);
    entries_.erase(it);
    e->ended = true;
  }
  // A delivery in progress ends before this returns; none starts after (`ended`).
  std::lock_guard<std::mutex> wait{e->delivering};
  wake();
}

size_t folder_watcher::size() const {
  std::lock_guard<std::mutex> lock{mtx_};
  return entries_.size();
}

void folder_watcher::loop() {
  for (;;) {
    std::vector<std::shared_ptr<entry>> watched;
    {
      std::lock_guard<std::mutex> lock{mtx_};
      if (stop_) return;
      for (auto& [h, e] : entries_) watched.push_back(e);
    }
    // Sleep until a tree has news, the set changes, or a gathered change is due.
    auto now = clock_type::now();
    auto wait = std::chrono::milliseconds{60000};
    for (auto& e : watched) {
      if (e->gathered.empty()) continue;
      auto due = std::min(e->last + quiet_, e->first + quiet_ * 10);
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(due - now, clock_type::duration::zero())));
    }
    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    for (auto& e : watched) fds.push_back({e->tree->fd(), POLLIN, 0});
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    now = clock_type::now();
    for (size_t i = 0; i < watched.size(); ++i) {
      auto& e = *watched[i];
      if (n > 0 && (fds[i + 1].revents & POLLIN) != 0) {
        bool was_empty = e.gathered.empty();
        e.tree->read(e.gathered);
        if (!e.gathered.empty()) {
          if (was_empty) e.first = now;
          e.last = now;
        }
      }
      if (e.gathered.empty()) continue;
      if (now < e.last + quiet_ && now < e.first + quiet_ * 10 && !e.gathered.root_gone) continue;
      std::lock_guard<std::mutex> delivering{e.delivering};
      {
        std::lock_guard<std::mutex> lock{mtx_};
        if (e.ended) continue;
      }
      auto changes = std::move(e.gathered);
      e.gathered = {};
      e.deliver(std::move(changes));
    }
  }
}

}  // namespace syncline::actors
