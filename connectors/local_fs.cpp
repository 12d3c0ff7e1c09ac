#include "connectors/local_fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "connectors/error.hpp"
#include "connectors/volume.hpp"

namespace syncline::connectors::detail {

void unique_fd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

reference_parts split_reference(std::string_view reference) {
  reference_parts parts;
  if (!reference.empty() && reference.back() == '/') {
    parts.directory = true;
    reference.remove_suffix(1);
  }
  const size_t slash = reference.rfind('/');
  if (slash == std::string_view::npos) {
    parts.name = reference;
  } else {
    parts.parent = reference.substr(0, slash);
    parts.name = reference.substr(slash + 1);
  }
  return parts;
}

std::string display_path(const std::string& root, std::string_view reference) {
  std::string out = root;
  if (!reference.empty()) {
    if (out.empty() || out.back() != '/') out += '/';
    out.append(reference);
  }
  return out;
}

caf::expected<unique_fd> open_root(const std::string& root, int flags) {
  unique_fd fd{::open(root.c_str(), flags | O_DIRECTORY | O_CLOEXEC)};
  if (fd) return fd;
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) {
    char buf[256];
    return make_error(connector_errc::bad_config,
                      "root " + root + ": " + ::strerror_r(err, buf, sizeof buf));
  }
  return from_errno(err, "open root " + root);
}

namespace {

// glibc 2.36 has no openat2 wrapper. EAGAIN means the kernel saw a concurrent rename and could
// not prove that resolution stayed beneath the root: trying again is what the man page advises.
int openat2_directory(int dir_fd, const char* path) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = -1;
  for (int attempt = 0; attempt < 16; ++attempt) {
    fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) break;
  }
  return static_cast<int>(fd);
}

caf::error resolve_error(int err, const std::string& what) {
  // The kernel's words for these ("Too many levels of symbolic links", "Invalid cross-device
  // link") mislead a person reading a status page.
  if (err == ELOOP)
    return make_error(connector_errc::invalid_path, what + ": a symlink on the way");
  if (err == EXDEV) {
    return make_error(connector_errc::invalid_path, what + ": leads outside the root");
  }
  return from_errno(err, what);
}

}  // namespace

caf::expected<unique_fd> open_directory_beneath(int root_fd, const std::string& path, bool create,
                                                const std::string& root) {
  unique_fd fd{openat2_directory(root_fd, path.empty() ? "." : path.c_str())};
  if (fd) return fd;
  if (create && errno == ENOTDIR) {
    // A file where a directory is to go: a file turned into a directory whose removal (or the
    // directory's creation, which replaces it) has not come yet, perhaps in a batch beside this
    // one. Worth another try once it has; if it never comes, the retries end in error.
    return make_error(connector_errc::busy,
                      "open directory " + display_path(root, path) +
                          ": a file is where a directory goes (its replacement may still be "
                          "under way)");
  }
  if (!create || errno != ENOENT) {
    return resolve_error(errno, "open directory " + display_path(root, path));
  }
  // Make the missing directories one segment at a time, each resolved beneath the one before,
  // so that a symlink appearing meanwhile is still refused.
  unique_fd current;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t slash = path.find('/', begin);
    if (slash == std::string::npos) slash = path.size();
    const std::string segment = path.substr(begin, slash - begin);
    const std::string so_far = path.substr(0, slash);
    const int parent = current ? current.get() : root_fd;
    unique_fd next{openat2_directory(parent, segment.c_str())};
    if (!next && errno == ENOENT) {
      if (::mkdirat(parent, segment.c_str(), 0777) != 0 && errno != EEXIST) {
        return from_errno(errno, "mkdir " + display_path(root, so_far));
      }
      next.reset(openat2_directory(parent, segment.c_str()));
    }
    if (!next) return resolve_error(errno, "open directory " + display_path(root, so_far));
    current = std::move(next);
    begin = slash + 1;
  }
  return current;
}

item_info info_from_stat(std::string reference, const struct stat& st) {
  item_info info;
  info.reference = std::move(reference);
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      info.kind = item_kind::file;
      info.size = static_cast<uint64_t>(st.st_size);
      break;
    case S_IFDIR:
      info.kind = item_kind::directory;
      break;
    case S_IFLNK:
      info.kind = item_kind::symlink;
      break;
    default:
      info.kind = item_kind::unreadable;
      break;
  }
  info.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.mode = st.st_mode & 07777;
  return info;
}

caf::expected<std::string> read_link(int dir_fd, const char* name, const std::string& what) {
  std::string target(256, '\0');
  for (;;) {
    const ssize_t n = ::readlinkat(dir_fd, name, target.data(), target.size());
    if (n < 0) return from_errno(errno, "readlink " + what);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    // Possibly truncated: readlinkat does not say, so try again with more room.
    target.resize(target.size() * 2);
  }
}

caf::expected<std::optional<item_info>> stat_item(const std::string& root,
                                                  const std::string& reference) {
  if (auto err = validate_reference(reference)) return err;
  const auto parts = split_reference(reference);
  auto root_fd = open_root(root, O_PATH);
  if (!root_fd) return std::move(root_fd.error());
  auto dir = open_directory_beneath(root_fd->get(), parts.parent, false, root);
  if (!dir) {
    if (is(dir.error(), connector_errc::not_found)) return std::optional<item_info>{};
    return std::move(dir.error());
  }
  struct stat st;
  if (::fstatat(dir->get(), parts.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<item_info>{};
    return from_errno(errno, "stat " + display_path(root, reference));
  }
  auto info = info_from_stat(reference, st);
  const bool kind_matches = parts.directory
                                ? info.kind == item_kind::directory
                                : info.kind == item_kind::file || info.kind == item_kind::symlink;
  if (!kind_matches) return std::optional<item_info>{};
  if (info.kind == item_kind::symlink) {
    auto target = read_link(dir->get(), parts.name.c_str(), display_path(root, reference));
    if (!target) return std::move(target.error());
    info.link_target = std::move(*target);
  }
  return std::optional<item_info>{std::move(info)};
}

namespace {

// Reads through the descriptor's own file position, which is also what `native_handle()`
// hands out: kernel-side copies and plain reads advance the same offset, so `skip` has nothing
// to record.
class file_reader final : public item_reader {
 public:
  file_reader(unique_fd fd, item_info info, std::string path)
      : fd_(std::move(fd)), info_(std::move(info)), path_(std::move(path)) {}

  const item_info& info() const noexcept override { return info_; }

  caf::expected<size_t> read(char* buf, size_t n) override {
    for (;;) {
      const ssize_t r = ::read(fd_.get(), buf, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return from_errno(errno, "read " + path_);
    }
  }

  int native_handle() const noexcept override { return fd_.get(); }

  caf::expected<bool> changed() override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return from_errno(errno, "stat " + path_);
    const auto now = info_from_stat(info_.reference, st);
    return now.size != info_.size || now.mtime_ns != info_.mtime_ns;
  }

 private:
  unique_fd fd_;
  item_info info_;
  std::string path_;
};

}  // namespace

caf::expected<std::unique_ptr<item_reader>> open_file(const std::string& root,
                                                      const std::string& reference,
                                                      uint64_t offset) {
  if (auto err = validate_reference(reference)) return err;
  const auto parts = split_reference(reference);
  auto path = display_path(root, reference);
  if (parts.directory) {
    return make_error(connector_errc::invalid_path, "open " + path + ": a directory reference");
  }
  auto root_fd = open_root(root, O_PATH);
  if (!root_fd) return std::move(root_fd.error());
  auto dir = open_directory_beneath(root_fd->get(), parts.parent, false, root);
  if (!dir) return std::move(dir.error());
  // O_NONBLOCK so that a FIFO in the file's place cannot block us; it changes nothing for
  // regular files.
  unique_fd fd{
      ::openat(dir->get(), parts.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)};
  if (!fd) {
    if (errno == ELOOP) {
      return make_error(connector_errc::invalid_path, "open " + path + ": a symlink, not a file");
    }
    return from_errno(errno, "open " + path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return from_errno(errno, "stat " + path);
  if (S_ISDIR(st.st_mode)) {
    return make_error(connector_errc::not_found, "open " + path + ": a directory, not a file");
  }
  if (!S_ISREG(st.st_mode)) {  // FIFO, socket, device: never listed, so not an item
    return make_error(connector_errc::not_found, "open " + path + ": not a regular file");
  }
  if (offset > 0 && ::lseek(fd.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
    return from_errno(errno, "seek " + path);
  }
  return std::unique_ptr<item_reader>{
      new file_reader(std::move(fd), info_from_stat(reference, st), std::move(path))};
}

}  // namespace syncline::connectors::detail
