#include "connectors/tree_watch.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "connectors/error.hpp"

namespace syncline::connectors {

namespace {

constexpr uint32_t dir_mask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM |
                              IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                              IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;

std::string join(const std::string& a, const std::string& b) {
  return a.empty() ? b : a + "/" + b;
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

}  // namespace

struct tree_watch::impl {
  int fd = -1;
  std::string root;
  dev_t device = 0;
  size_t max_watches = 0;
  std::unordered_map<int, std::string> dirs;  // watch descriptor -> directory (relative)
  std::unordered_map<std::string, int> wd_of;
  int root_wd = -1;

  ~impl() {
    if (fd >= 0) ::close(fd);
  }

  // Watches the directory `rel` and everything beneath it; what it holds goes to `found` when
  // not null (a directory that appeared: its entries were made before its watch existed).
  caf::error add_tree(const std::string& rel, std::vector<std::string>* found) {
    auto full = rel.empty() ? root : root + "/" + rel;
    if (dirs.size() >= max_watches)
      return make_error(connector_errc::no_space,
                        "watching " + root + ": more than " + std::to_string(max_watches) +
                            " directories (the limit of watched directories)");
    int wd = inotify_add_watch(fd, full.c_str(), dir_mask);
    if (wd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR) return {};  // gone again meanwhile: its removal is an event
      if (e == ENOSPC)
        return make_error(connector_errc::no_space,
                          "watching " + root + ": the kernel's limit of watches is reached "
                          "(sysctl fs.inotify.max_user_watches)");
      return from_errno(e, "inotify_add_watch " + full);
    }
    if (auto old = dirs.find(wd); old != dirs.end()) wd_of.erase(old->second);
    dirs[wd] = rel;
    wd_of[rel] = wd;
    if (rel.empty()) root_wd = wd;
    int dfd = ::open(full.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) return {};
    DIR* d = ::fdopendir(dfd);
    if (d == nullptr) {
      ::close(dfd);
      return {};
    }
    std::vector<std::string> subdirs;
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      auto child = join(rel, name);
      if (found != nullptr) found->push_back(child);
      struct stat st {};
      if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode) && st.st_dev == device) subdirs.push_back(child);
    }
    ::closedir(d);
    for (auto& s : subdirs)
      if (auto err = add_tree(s, found)) return err;
    return {};
  }

  void forget_tree(const std::string& rel) {
    for (auto it = dirs.begin(); it != dirs.end();) {
      if (it->second == rel || under(it->second, rel)) {
        inotify_rm_watch(fd, it->first);
        wd_of.erase(it->second);
        it = dirs.erase(it);
      } else {
        ++it;
      }
    }
  }

  void rename_tree(const std::string& from, const std::string& to) {
    for (auto& [wd, path] : dirs) {
      if (path == from) path = to;
      else if (under(path, from)) path = to + path.substr(from.size());
      else continue;
    }
    wd_of.clear();
    for (auto& [wd, path] : dirs) wd_of[path] = wd;
  }
};

tree_watch::tree_watch(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
tree_watch::~tree_watch() = default;

caf::expected<std::unique_ptr<tree_watch>> tree_watch::open(const std::string& root,
                                                            size_t max_watches) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(connector_errc::bad_config, "watching " + root + ": not a directory");
  auto p = std::make_unique<impl>();
  p->root = root;
  while (p->root.size() > 1 && p->root.back() == '/') p->root.pop_back();
  p->device = st.st_dev;
  p->max_watches = max_watches;
  p->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (p->fd < 0) {
    int e = errno;
    if (e == EMFILE)
      return make_error(connector_errc::no_space,
                        "watching " + root + ": the kernel's limit of inotify instances is "
                        "reached (sysctl fs.inotify.max_user_instances)");
    return from_errno(e, "inotify_init1");
  }
  if (auto err = p->add_tree({}, nullptr)) return err;
  return std::unique_ptr<tree_watch>{new tree_watch{std::move(p)}};
}

int tree_watch::fd() const noexcept { return impl_->fd; }
size_t tree_watch::watches() const noexcept { return impl_->dirs.size(); }

void tree_watch::read(watch_changes& out) {
  auto& s = *impl_;
  std::unordered_set<std::string> seen(out.paths.begin(), out.paths.end());
  auto note = [&](std::string path) {
    if (seen.insert(path).second) out.paths.push_back(std::move(path));
  };
  // Directories moved out of a directory in this read, by cookie: moved within the tree when
  // the matching IN_MOVED_TO comes, else moved away.
  std::unordered_map<uint32_t, std::string> moved_dirs;
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    auto n = ::read(s.fd, buf, sizeof buf);
    if (n <= 0) break;
    for (char* at = buf; at < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + ev->len;
      if ((ev->mask & IN_Q_OVERFLOW) != 0) {
        out.overflow = true;
        continue;
      }
      auto dir = s.dirs.find(ev->wd);
      if (dir == s.dirs.end()) continue;
      if ((ev->mask & IN_IGNORED) != 0) {
        s.wd_of.erase(dir->second);
        s.dirs.erase(dir);
        continue;
      }
      if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        if (ev->wd == s.root_wd) out.root_gone = true;
        continue;  // its parent reports it by name
      }
      if (ev->len == 0) continue;
      auto path = join(dir->second, ev->name);
      note(path);
      if ((ev->mask & IN_ISDIR) == 0) continue;
      if ((ev->mask & IN_MOVED_FROM) != 0) {
        moved_dirs[ev->cookie] = path;
      } else if ((ev->mask & IN_MOVED_TO) != 0 && moved_dirs.count(ev->cookie) > 0) {
        auto from = moved_dirs[ev->cookie];
        moved_dirs.erase(ev->cookie);
        s.rename_tree(from, path);
        // Everything beneath it changed its path.
        std::vector<std::string> inside;
        for (auto& [wd, p] : s.dirs)
          if (under(p, path)) inside.push_back(p);
        for (auto& p : inside) note(p);
        out.overflow = true;  // the files beneath it moved too: only a walk names them all
      } else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
        std::vector<std::string> found;
        if (s.add_tree(path, &found)) out.overflow = true;
        for (auto& f : found) note(f);
      }
    }
  }
  for (auto& [cookie, path] : moved_dirs) s.forget_tree(path);  // moved out of the tree
}

}  // namespace syncline::connectors
