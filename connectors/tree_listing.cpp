#include "connectors/tree_listing.hpp"

#include <algorithm>
#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "connectors/error.hpp"
#include "connectors/local_fs.hpp"
#include "connectors/volume.hpp"

namespace syncline::connectors::detail {

namespace {

struct entry {
  /// The name, with a `/` appended for directories: the sort key.
  std::string key;
  bool directory = false;
};

struct frame {
  unique_fd fd;
  /// The directory's reference (`a/b/`; empty for the root): its children's prefix.
  std::string prefix;
  std::vector<entry> entries;
  size_t next = 0;
};

item_info unreadable(std::string reference, caf::error error) {
  item_info info;
  info.reference = std::move(reference);
  info.kind = item_kind::unreadable;
  info.error = std::move(error);
  return info;
}

class tree_listing final : public listing {
 public:
  tree_listing(std::string root, path_filter filter, bool skip_temporary)
      : root_(std::move(root)),
        filter_(std::move(filter)),
        skip_temporary_(skip_temporary),
        buffer_(64 * 1024) {}

  caf::error start(unique_fd root_fd) {
    frame top;
    top.fd = std::move(root_fd);
    if (auto err = read_entries(top.fd.get(), top.prefix, top.entries)) return err;
    stack_.push_back(std::move(top));
    return {};
  }

  caf::expected<bool> next(std::vector<item_info>& out, size_t max) override {
    size_t added = 0;
    while (added < max) {
      if (stack_.empty()) return false;
      frame& top = stack_.back();
      if (top.next == top.entries.size()) {
        stack_.pop_back();
        continue;
      }
      entry& e = top.entries[top.next++];
      std::string reference = top.prefix + e.key;
      if (!filter_.keep(reference)) continue;
      if (e.directory) {
        e.key.pop_back();  // the name alone; the entry is used up
        auto child = open_directory(top.fd.get(), e.key, reference);
        if (!child) {
          if (is(child.error(), connector_errc::not_found)) continue;  // vanished meanwhile
          out.push_back(unreadable(std::move(reference), std::move(child.error())));
          ++added;
          continue;
        }
        out.push_back(std::move(child->first));
        ++added;
        stack_.push_back(std::move(child->second));  // invalidates `top` and `e`
        continue;
      }
      struct stat st;
      if (::fstatat(top.fd.get(), e.key.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        out.push_back(unreadable(reference, from_errno(errno, "stat " + path(reference))));
        ++added;
        continue;
      }
      auto info = info_from_stat(std::move(reference), st);
      switch (info.kind) {
        case item_kind::file:
          break;
        case item_kind::symlink: {
          auto target = read_link(top.fd.get(), e.key.c_str(), path(info.reference));
          if (!target) {
            if (is(target.error(), connector_errc::not_found)) continue;
            info = unreadable(std::move(info.reference), std::move(target.error()));
          } else {
            info.link_target = std::move(*target);
          }
          break;
        }
        case item_kind::directory:
          // It was not a directory when the names were read; listing it now as `name/` would
          // break the order. Reported, so that nothing at this name is taken as deleted.
          info = unreadable(
              std::move(info.reference),
              make_error(connector_errc::io_error, "stat " + path(info.reference) +
                                                       ": became a directory while being listed"));
          break;
        case item_kind::unreadable:
          continue;  // FIFO, socket, device: nothing to copy
      }
      out.push_back(std::move(info));
      ++added;
    }
    return !stack_.empty();
  }

 private:
  std::string path(const std::string& reference) const { return display_path(root_, reference); }

  // Opens, stats and reads the directory `name` of `parent_fd`: its item and its frame.
  caf::expected<std::pair<item_info, frame>> open_directory(int parent_fd, const std::string& name,
                                                            const std::string& reference) {
    frame child;
    child.fd.reset(
        ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child.fd) return from_errno(errno, "open " + path(reference));
    struct stat st;
    if (::fstat(child.fd.get(), &st) != 0) return from_errno(errno, "stat " + path(reference));
    child.prefix = reference;
    if (auto err = read_entries(child.fd.get(), reference, child.entries)) return err;
    return std::make_pair(info_from_stat(reference, st), std::move(child));
  }

  // Reads every name of a directory and sorts them into listing order.
  caf::error read_entries(int fd, const std::string& prefix, std::vector<entry>& out) {
    const int err = for_each_entry(fd, buffer_, [&](const char* name, unsigned char type) {
      if (skip_temporary_ && is_temporary_name(prefix, name)) return;
      bool directory = type == DT_DIR;
      if (type == DT_UNKNOWN) {
        // Some file systems do not fill d_type. If this stat fails, the entry is taken for a
        // file, and the stat when it is listed reports why.
        struct stat st;
        directory = ::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      entry& added = out.emplace_back();
      added.key = name;
      added.directory = directory;
      if (directory) added.key += '/';
    });
    if (err != 0) return from_errno(err, "read directory " + path(prefix));
    std::sort(out.begin(), out.end(), [](const entry& a, const entry& b) { return a.key < b.key; });
    return {};
  }

  std::string root_;
  path_filter filter_;
  bool skip_temporary_;
  std::vector<frame> stack_;
  std::vector<char> buffer_;
};

}  // namespace

caf::expected<std::unique_ptr<listing>> list_tree(const std::string& root, path_filter filter,
                                                  bool skip_temporary) {
  auto root_fd = open_root(root, O_RDONLY);
  if (!root_fd) return std::move(root_fd.error());
  auto result = std::make_unique<tree_listing>(root, std::move(filter), skip_temporary);
  if (auto err = result->start(std::move(*root_fd))) return err;
  return std::unique_ptr<listing>{std::move(result)};
}

}  // namespace syncline::connectors::detail
