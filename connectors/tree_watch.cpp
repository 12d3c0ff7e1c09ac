#include "connectors/tree_watch.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
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

// One watched tree: its directories by watch descriptor and by relative path.
struct watched_tree {
  std::string root;
  dev_t device = 0;
  size_t max_watches = 0;
  std::unordered_map<int, std::string> dirs;  // watch descriptor -> directory (relative)
  std::unordered_map<std::string, int> wd_of;
  int root_wd = -1;
};

struct watch_group::impl {
  int fd = -1;
  uint64_t next = 0;
  std::map<uint64_t, watched_tree> trees;
  // The trees holding each watch descriptor: one directory inside two trees' roots has one
  // descriptor in the instance; it is removed when its last tree lets it go.
  std::unordered_map<int, std::vector<uint64_t>> users;

  ~impl() {
    if (fd >= 0) ::close(fd);
  }

  void drop_user(int wd, uint64_t id) {
    auto u = users.find(wd);
    if (u == users.end()) return;
    auto& v = u->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (!v.empty()) return;
    inotify_rm_watch(fd, wd);
    users.erase(u);
  }

  // Watches the directory `rel` of tree `id` and everything beneath it; what it holds goes to
  // `found` when not null (a directory that appeared: its entries were made before its watch
  // existed).
  caf::error add_tree(uint64_t id, watched_tree& t, const std::string& rel,
                      std::vector<std::string>* found) {
    auto full = rel.empty() ? t.root : t.root + "/" + rel;
    if (t.dirs.size() >= t.max_watches)
      return make_error(connector_errc::no_space,
                        "watching " + t.root + ": more than " + std::to_string(t.max_watches) +
                            " directories (the limit of watched directories)");
    int wd = inotify_add_watch(fd, full.c_str(), dir_mask);
    if (wd < 0) {
      int e = errno;
      if (e == ENOENT || e == ENOTDIR) return {};  // gone again meanwhile: its removal is an event
      if (e == ENOSPC)
        return make_error(connector_errc::no_space,
                          "watching " + t.root + ": the kernel's limit of watches is reached "
                          "(sysctl fs.inotify.max_user_watches)");
      return from_errno(e, "inotify_add_watch " + full);
    }
    if (auto old = t.dirs.find(wd); old != t.dirs.end()) t.wd_of.erase(old->second);
    t.dirs[wd] = rel;
    t.wd_of[rel] = wd;
    auto& u = users[wd];
    if (std::find(u.begin(), u.end(), id) == u.end()) u.push_back(id);
    if (rel.empty()) t.root_wd = wd;
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
      if (S_ISDIR(st.st_mode) && st.st_dev == t.device) subdirs.push_back(child);
    }
    ::closedir(d);
    for (auto& s : subdirs)
      if (auto err = add_tree(id, t, s, found)) return err;
    return {};
  }

  // Lets tree `id` stop watching `rel` and everything beneath it (everything when `all`).
  void forget_tree(uint64_t id, watched_tree& t, const std::string& rel, bool all = false) {
    for (auto it = t.dirs.begin(); it != t.dirs.end();) {
      if (all || it->second == rel || under(it->second, rel)) {
        drop_user(it->first, id);
        t.wd_of.erase(it->second);
        it = t.dirs.erase(it);
      } else {
        ++it;
      }
    }
  }

  static void rename_tree(watched_tree& t, const std::string& from, const std::string& to) {
    for (auto& [wd, path] : t.dirs) {
      if (path == from) path = to;
      else if (under(path, from)) path = to + path.substr(from.size());
      else continue;
    }
    t.wd_of.clear();
    for (auto& [wd, path] : t.dirs) t.wd_of[path] = wd;
  }
};

// What one read gathered for one tree.
struct tree_read {
  watch_changes* out = nullptr;
  std::unordered_set<std::string> seen;
  // Directories moved out of a directory in this read, by cookie: moved within the tree when
  // the matching IN_MOVED_TO comes, else moved away.
  std::unordered_map<uint32_t, std::string> moved_dirs;

  void note(std::string path) {
    if (seen.insert(path).second) out->paths.push_back(std::move(path));
  }
};

watch_group::watch_group(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
watch_group::~watch_group() = default;

caf::expected<std::unique_ptr<watch_group>> watch_group::open() {
  auto p = std::make_unique<impl>();
  p->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (p->fd < 0) {
    int e = errno;
    if (e == EMFILE)
      return make_error(connector_errc::no_space,
                        "watching: the kernel's limit of inotify instances is reached (sysctl "
                        "fs.inotify.max_user_instances)");
    return from_errno(e, "inotify_init1");
  }
  return std::unique_ptr<watch_group>{new watch_group{std::move(p)}};
}

caf::expected<uint64_t> watch_group::add(const std::string& root, size_t max_watches) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(connector_errc::bad_config, "watching " + root + ": not a directory");
  auto& s = *impl_;
  auto id = ++s.next;
  auto& t = s.trees[id];
  t.root = root;
  while (t.root.size() > 1 && t.root.back() == '/') t.root.pop_back();
  t.device = st.st_dev;
  t.max_watches = max_watches;
  if (auto err = s.add_tree(id, t, {}, nullptr)) {
    remove(id);
    return err;
  }
  return id;
}

void watch_group::remove(uint64_t tree) {
  auto& s = *impl_;
  auto t = s.trees.find(tree);
  if (t == s.trees.end()) return;
  s.forget_tree(tree, t->second, {}, true);
  s.trees.erase(t);
}

int watch_group::fd() const noexcept { return impl_->fd; }

size_t watch_group::watches(uint64_t tree) const noexcept {
  auto t = impl_->trees.find(tree);
  return t == impl_->trees.end() ? 0 : t->second.dirs.size();
}

void watch_group::read(const sink& out) {
  auto& s = *impl_;
  std::map<uint64_t, tree_read> reads;
  // The read of tree `id` (its `out` null when the caller drops it).
  auto read_of = [&](uint64_t id) -> tree_read& {
    auto [r, fresh] = reads.try_emplace(id);
    if (fresh) {
      r->second.out = out(id);
      if (r->second.out != nullptr)
        r->second.seen.insert(r->second.out->paths.begin(), r->second.out->paths.end());
    }
    return r->second;
  };
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    auto n = ::read(s.fd, buf, sizeof buf);
    if (n <= 0) break;
    for (char* at = buf; at < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(at);
      at += sizeof(inotify_event) + ev->len;
      if ((ev->mask & IN_Q_OVERFLOW) != 0) {
        for (auto& [id, t] : s.trees)
          if (auto& r = read_of(id); r.out != nullptr) r.out->overflow = true;
        continue;
      }
      auto users = s.users.find(ev->wd);
      if (users == s.users.end()) continue;
      if ((ev->mask & IN_IGNORED) != 0) {
        for (auto id : users->second) {
          auto t = s.trees.find(id);
          if (t == s.trees.end()) continue;
          if (auto d = t->second.dirs.find(ev->wd); d != t->second.dirs.end()) {
            t->second.wd_of.erase(d->second);
            t->second.dirs.erase(d);
          }
        }
        s.users.erase(users);
        continue;
      }
      auto ids = users->second;  // a copy: adding a new directory below may change `users`
      for (auto id : ids) {
        auto t = s.trees.find(id);
        if (t == s.trees.end()) continue;
        auto& tree = t->second;
        auto dir = tree.dirs.find(ev->wd);
        if (dir == tree.dirs.end()) continue;
        auto& r = read_of(id);
        if (r.out == nullptr) continue;
        if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
          if (ev->wd == tree.root_wd) r.out->root_gone = true;
          continue;  // its parent reports it by name
        }
        if (ev->len == 0) continue;
        auto path = join(dir->second, ev->name);
        r.note(path);
        if ((ev->mask & IN_ISDIR) == 0) continue;
        if ((ev->mask & IN_MOVED_FROM) != 0) {
          r.moved_dirs[ev->cookie] = path;
        } else if ((ev->mask & IN_MOVED_TO) != 0 && r.moved_dirs.count(ev->cookie) > 0) {
          auto from = r.moved_dirs[ev->cookie];
          r.moved_dirs.erase(ev->cookie);
          impl::rename_tree(tree, from, path);
          // Everything beneath it changed its path.
          std::vector<std::string> inside;
          for (auto& [wd, p] : tree.dirs)
            if (under(p, path)) inside.push_back(p);
          for (auto& p : inside) r.note(p);
          r.out->overflow = true;  // the files beneath it moved too: only a walk names them all
        } else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
          std::vector<std::string> found;
          if (s.add_tree(id, tree, path, &found)) r.out->overflow = true;
          for (auto& f : found) r.note(f);
        }
      }
    }
  }
  for (auto& [id, r] : reads) {
    auto t = s.trees.find(id);
    if (t == s.trees.end()) continue;
    for (auto& [cookie, path] : r.moved_dirs) s.forget_tree(id, t->second, path);  // moved out
  }
}

tree_watch::tree_watch(std::unique_ptr<watch_group> g, uint64_t tree)
    : group_(std::move(g)), tree_(tree) {}
tree_watch::~tree_watch() = default;

caf::expected<std::unique_ptr<tree_watch>> tree_watch::open(const std::string& root,
                                                            size_t max_watches) {
  auto g = watch_group::open();
  if (!g) return std::move(g.error());
  auto id = (*g)->add(root, max_watches);
  if (!id) return std::move(id.error());
  return std::unique_ptr<tree_watch>{new tree_watch{std::move(*g), *id}};
}

int tree_watch::fd() const noexcept { return group_->fd(); }
size_t tree_watch::watches() const noexcept { return group_->watches(tree_); }

void tree_watch::read(watch_changes& out) {
  auto id = tree_;
  group_->read([&out, id](uint64_t tree) { return tree == id ? &out : nullptr; });
}

}  // namespace syncline::connectors
