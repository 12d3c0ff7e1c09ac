#include "actors/folder_watcher.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>
#include <vector>

namespace syncline::actors {

using clock_type = std::chrono::steady_clock;

struct folder_watcher::entry {
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
  // The group's lock is held while the tree is walked and its entry made, so the loop never
  // reads an event of a tree it does not know yet (events wait in the kernel's queue meanwhile).
  std::lock_guard<std::mutex> group_lock{group_mtx_};
  if (!group_) {
    auto g = connectors::watch_group::open();
    if (!g) return std::move(g.error());
    group_ = std::move(*g);
    wake();  // the loop polls the new instance from now on
  }
  auto tree = group_->add(root, max_watches);
  if (!tree) return std::move(tree.error());
  auto e = std::make_shared<entry>();
  e->deliver = std::move(deliver);
  {
    std::lock_guard<std::mutex> lock{mtx_};
    entries_[*tree] = std::move(e);
  }
  wake();
  return *tree;
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
  {
    std::lock_guard<std::mutex> group_lock{group_mtx_};
    if (group_) group_->remove(handle);
  }
  // A delivery in progress ends before this returns; none starts after (`ended`).
  std::lock_guard<std::mutex> wait{e->delivering};
  wake();
}

size_t folder_watcher::size() const {
  std::lock_guard<std::mutex> lock{mtx_};
  return entries_.size();
}

// Adds the events waiting to the trees' gathered changes (the loop's thread).
// Trees are looked up as they are now, not as the loop saw them: a tree added since has its
// entry (watch() makes both under the group's lock), and its changes wait there.
void folder_watcher::read_changes() {
  std::lock_guard<std::mutex> group_lock{group_mtx_};
  if (!group_) return;
  std::lock_guard<std::mutex> lock{mtx_};
  auto now = clock_type::now();
  std::vector<entry*> touched;
  group_->read([&](uint64_t tree) -> connectors::watch_changes* {
    auto it = entries_.find(tree);
    if (it == entries_.end()) return nullptr;  // unwatched meanwhile
    auto& e = *it->second;
    touched.push_back(&e);
    if (e.gathered.empty()) e.first = now;
    return &e.gathered;
  });
  for (auto* e : touched)
    if (!e->gathered.empty()) e->last = now;
}

void folder_watcher::loop() {
  for (;;) {
    std::map<uint64_t, std::shared_ptr<entry>> watched;
    int group_fd = -1;
    {
      std::lock_guard<std::mutex> group_lock{group_mtx_};
      if (group_) group_fd = group_->fd();
      std::lock_guard<std::mutex> lock{mtx_};
      if (stop_) return;
      watched = entries_;
    }
    // Sleep until a tree has news, the set changes, or a gathered change is due.
    auto now = clock_type::now();
    auto wait = std::chrono::milliseconds{60000};
    for (auto& [tree, e] : watched) {
      if (e->gathered.empty()) continue;
      auto due = std::min(e->last + quiet_, e->first + quiet_ * 10);
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(due - now, clock_type::duration::zero())));
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {group_fd, POLLIN, 0}};
    int n = ::poll(fds, group_fd >= 0 ? 2 : 1, static_cast<int>(wait.count()));
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      uint64_t count = 0;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    if (n > 0 && group_fd >= 0 && (fds[1].revents & POLLIN) != 0) read_changes();
    now = clock_type::now();
    for (auto& [tree, ep] : watched) {
      auto& e = *ep;
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
