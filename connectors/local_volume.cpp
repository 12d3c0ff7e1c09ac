#include "connectors/local_volume.hpp"

#include <filesystem>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>


#include "connectors/error.hpp"
#include "connectors/local_fs.hpp"
#include "connectors/tree_listing.hpp"

namespace syncline::connectors {

namespace {

using detail::display_path;
using detail::unique_fd;

constexpr size_t copy_buffer_size = 256 * 1024;

struct timespec to_timespec(int64_t ns) {
  struct timespec ts;
  int64_t sec = ns / 1'000'000'000;
  int64_t rest = ns % 1'000'000'000;
  if (rest < 0) {  // before 1970: the remainder must not be negative
    rest += 1'000'000'000;
    sec -= 1;
  }
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(rest);
  return ts;
}

// utimensat/futimens arguments that set the modification time and leave the access time.
struct mtime_only {
  struct timespec times[2];
  explicit mtime_only(int64_t mtime_ns) {
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1] = to_timespec(mtime_ns);
  }
};

// A file's mode without set-user-ID and set-group-ID: a copy must not grant privileges.
mode_t safe_mode(uint32_t mode) {
  return static_cast<mode_t>(mode & 07777 & ~06000u);
}

// A reference's parent directory, resolved beneath the root, and its last name. The directory's
// descriptor may be shared with a batch view's cache and the writers it opened.
using shared_fd = std::shared_ptr<const unique_fd>;
struct resolved {
  detail::reference_parts parts;
  shared_fd dir;
  bool kept = false;  // a batch view's kept directory (it may have been removed since)
};

// The process's umask, read once from /proc (umask(2) cannot read without setting it); -1 when
// unknown. A file created with mode `m` has mode `m & ~umask`.
int process_umask() {
  static const int mask = [] {
    int out = -1;
    if (std::FILE* f = std::fopen("/proc/self/status", "re")) {
      char line[256];
      while (std::fgets(line, sizeof line, f) != nullptr) {
        unsigned value = 0;
        if (std::sscanf(line, "Umask: %o", &value) == 1) {
          out = static_cast<int>(value & 0777);
          break;
        }
      }
      std::fclose(f);
    }
    return out;
  }();
  return mask;
}

// Links the unnamed (O_TMPFILE) file `fd` in as `name` of `dir`. AT_EMPTY_PATH needs
// CAP_DAC_READ_SEARCH; without it, the file's /proc link serves. Which one works is learnt once.
int link_unnamed(int fd, int dir, const char* name) {
  static std::atomic<int> how{0};  // 0: not known yet, 1: AT_EMPTY_PATH, 2: through /proc
  if (how.load(std::memory_order_relaxed) != 2) {
    if (::linkat(fd, "", dir, name, AT_EMPTY_PATH) == 0) {
      how.store(1, std::memory_order_relaxed);
      return 0;
    }
    if (how.load(std::memory_order_relaxed) == 1 || (errno != ENOENT && errno != EPERM)) return -1;
  }
  char proc[64];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
  if (::linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW) != 0) return -1;
  how.store(2, std::memory_order_relaxed);
  return 0;
}

class local_writer final : public item_writer {
 public:
  local_writer(shared_fd dir, unique_fd file, std::string name, std::string temp, std::string path,
               uint64_t offset)
      : dir_(std::move(dir)),
        file_(std::move(file)),
        name_(std::move(name)),
        temp_(std::move(temp)),
        path_(std::move(path)),
        offset_(offset) {}

  // An unnamed file (O_TMPFILE) created with mode `created_mode` (-1: unknown), linked in by
  // commit.
  void set_unnamed(int created_mode) {
    unnamed_ = true;
    created_mode_ = created_mode;
  }

  uint64_t offset() const noexcept override { return offset_; }

  caf::error write(const char* data, size_t n) override {
    if (!file_) return closed();
    while (n > 0) {
      const ssize_t w = ::pwrite(file_.get(), data, n, static_cast<off_t>(offset_));
      if (w < 0) {
        if (errno == EINTR) continue;
        return from_errno(errno, "write " + path_);
      }
      data += w;
      n -= static_cast<size_t>(w);
      offset_ += static_cast<uint64_t>(w);
    }
    return {};
  }

  caf::expected<size_t> copy_from(int fd, size_t n) override {
    if (!file_) return closed();
    if (n == 0) return size_t{0};
    if (!fallback_) {
      for (;;) {
        auto out_offset = static_cast<loff_t>(offset_);
        const ssize_t r = ::copy_file_range(fd, nullptr, file_.get(), &out_offset, n, 0);
        if (r >= 0) {
          offset_ += static_cast<uint64_t>(r);
          return static_cast<size_t>(r);
        }
        if (errno == EINTR) continue;
        // Different file systems (before Linux 5.19, or of different types), pipes, or file
        // systems without the call: copy through user space from now on.
        if (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
          fallback_ = true;
          break;
        }
        return from_errno(errno, "copy into " + path_);
      }
    }
    if (!buffer_) buffer_ = std::make_unique<char[]>(copy_buffer_size);
    ssize_t r;
    do {
      r = ::read(fd, buffer_.get(), std::min(n, copy_buffer_size));
    } while (r < 0 && errno == EINTR);
    if (r < 0) return from_errno(errno, "read the source of " + path_);
    if (auto err = write(buffer_.get(), static_cast<size_t>(r))) return err;
    return static_cast<size_t>(r);
  }

  caf::error sync() override {
    if (!file_) return closed();
    if (::fdatasync(file_.get()) != 0) return from_errno(errno, "fdatasync " + path_);
    return {};
  }

  caf::expected<uint64_t> content_hash() override {
    if (!file_) return closed();
    if (!buffer_) buffer_ = std::make_unique<char[]>(copy_buffer_size);
    return xxh3_of(file_.get(), offset_, buffer_.get(), copy_buffer_size, "back " + path_);
  }

  caf::error commit(const item_info& info) override {
    if (!file_) return closed();
    if (unnamed_) return commit_unnamed(info);
    if (::fchmod(file_.get(), safe_mode(info.mode)) != 0) {
      return from_errno(errno, "chmod " + path_);
    }
    if (::futimens(file_.get(), mtime_only{info.mtime_ns}.times) != 0) {
      return from_errno(errno, "set mtime of " + path_);
    }
    if (::renameat(dir_->get(), temp_.c_str(), dir_->get(), name_.c_str()) != 0) {
      return from_errno(errno, "rename into " + path_);
    }
    file_.reset();
    dir_.reset();
    return {};
  }

  void abort() override {
    if (!file_) return;
    // Nothing to report: a temporary file left behind is harmless, and resumable. An unnamed
    // one goes with its descriptor.
    if (!unnamed_) (void)::unlinkat(dir_->get(), temp_.c_str(), 0);
    file_.reset();
    dir_.reset();
  }

 private:
  caf::error closed() const {
    return make_error(connector_errc::io_error, path_ + ": the writer was committed or aborted");
  }

  // Mode and mtime set on the descriptor, then the complete file gets its final name at once (a
  // link: nothing was under that name before). A name already there (a replacement) is
  // replaced atomically as usual: the file is linked under its temporary name, then renamed.
  caf::error commit_unnamed(const item_info& info) {
    const int mode = static_cast<int>(safe_mode(info.mode));
    if (mode != created_mode_ && ::fchmod(file_.get(), static_cast<mode_t>(mode)) != 0) {
      return from_errno(errno, "chmod " + path_);
    }
    if (::futimens(file_.get(), mtime_only{info.mtime_ns}.times) != 0) {
      return from_errno(errno, "set mtime of " + path_);
    }
    const int dir = dir_->get();
    if (link_unnamed(file_.get(), dir, name_.c_str()) != 0) {
      if (errno != EEXIST) return from_errno(errno, "link into " + path_);
      if (link_unnamed(file_.get(), dir, temp_.c_str()) != 0) {
        // A stale temporary file of this very reference (an earlier attempt's) is replaced.
        if (errno != EEXIST || ::unlinkat(dir, temp_.c_str(), 0) != 0 ||
            link_unnamed(file_.get(), dir, temp_.c_str()) != 0) {
          return from_errno(errno, "link into " + path_);
        }
      }
      if (::renameat(dir, temp_.c_str(), dir, name_.c_str()) != 0) {
        const int err = errno;
        (void)::unlinkat(dir, temp_.c_str(), 0);
        return from_errno(err, "rename into " + path_);
      }
    }
    file_.reset();
    dir_.reset();
    return {};
  }

  shared_fd dir_;
  unique_fd file_;
  std::string name_;
  std::string temp_;
  std::string path_;
  uint64_t offset_;
  bool fallback_ = false;
  bool unnamed_ = false;
  int created_mode_ = -1;
  std::unique_ptr<char[]> buffer_;
};

// Empties and removes the directory `name` of `parent`, never leaving it through a symlink:
// every step is relative to an open directory and symlinks are unlinked, not followed.
caf::error remove_tree(int parent, const std::string& name, const std::string& path,
                       std::vector<char>& buffer) {
  unique_fd fd{::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (!fd) {
    if (errno == ENOENT) return {};
    return from_errno(errno, "open " + path);
  }
  // Read every name before removing any: getdents over a changing directory may skip entries.
  std::vector<std::pair<std::string, bool>> children;
  const int err = detail::for_each_entry(
      fd.get(), buffer,
      [&](const char* child, unsigned char type) { children.emplace_back(child, type == DT_DIR); });
  // ENOENT: another removal took the directory away since it was opened (getdents on a
  // removed directory fails so); it is gone, which is what was asked.
  if (err == ENOENT) return {};
  if (err != 0) return from_errno(err, "read directory " + path);
  for (const auto& [child, directory] : children) {
    const std::string child_path = path + "/" + child;
    if (!directory) {
      if (::unlinkat(fd.get(), child.c_str(), 0) == 0 || errno == ENOENT) continue;
      if (errno != EISDIR) return from_errno(errno, "remove " + child_path);
      // d_type was DT_UNKNOWN and this is a directory after all.
    }
    if (auto e = remove_tree(fd.get(), child, child_path, buffer)) return e;
  }
  fd.reset();
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return from_errno(errno, "remove " + path);
  }
  return {};
}

}  // namespace

caf::expected<std::unique_ptr<local_volume>> local_volume::make(local_volume_options options) {
  if (options.root.empty()) return make_error(connector_errc::bad_config, "directory: empty root");
  return std::unique_ptr<local_volume>{new local_volume(std::move(options))};
}

local_volume::local_volume(local_volume_options options) : options_(std::move(options)) {}

std::string local_volume::describe() const {
  return "directory " + options_.root;
}

caf::expected<std::shared_ptr<volume>> local_volume::target(std::string_view relative) {
  if (relative.empty() || !target_problem(relative).empty()) return volume::target(relative);
  auto root_fd = detail::open_root(options_.root, O_PATH);
  if (!root_fd) return std::move(root_fd.error());
  const std::string rel{relative};
  auto dir = detail::open_directory_beneath(root_fd->get(), rel, true, options_.root);
  if (!dir) return std::move(dir.error());
  local_volume_options o = options_;
  o.root = options_.root + (options_.root.back() == '/' ? "" : "/") + rel;
  return std::shared_ptr<volume>{new local_volume(std::move(o))};
}

caf::error local_volume::check() {
  auto fd = detail::open_root(options_.root, O_RDONLY);
  if (!fd) {
    if (is(fd.error(), connector_errc::bad_config)) return std::move(fd.error());
    return make_error(connector_errc::bad_config, "directory root unusable: " + render(fd.error()));
  }
  if (::faccessat(fd->get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
    return make_error(connector_errc::bad_config,
                      "directory root not writable: " + render(from_errno(errno, options_.root)));
  }
  return {};
}

struct local_volume::batch_cache {
  unique_fd root;       // O_PATH, opened at the first call
  std::string parent;   // the directory resolved last ("" for the root)
  shared_fd dir;        // its descriptor, when there is one
  bool unnamed = true;  // O_TMPFILE not found unsupported yet

  void forget() {
    dir.reset();
    parent.clear();
  }
};

std::shared_ptr<volume> local_volume::for_batch() {
  std::shared_ptr<local_volume> view{new local_volume(options_)};
  view->batch_ = std::make_shared<batch_cache>();
  view->batch_->unnamed = options_.unnamed_files;
  return view;
}

namespace {

// The last name of `reference`'s temporary file.
std::string temporary_file_name(const std::string& reference) {
  auto t = temporary_name(reference);
  auto slash = t.rfind('/');
  return slash == std::string::npos ? t : t.substr(slash + 1);
}

// Validates `reference` and opens its parent directory beneath `root`. Temporary names are
// ours: a reference to a sibling's is refused rather than allowed to clobber a transfer in
// progress.
// A batch view's `cache` keeps the root and the last directory (see local_volume.hpp).
caf::expected<resolved> resolve(const std::string& root, const std::string& reference,
                                bool create, local_volume::batch_cache* cache = nullptr) {
  if (auto err = validate_reference(reference)) return err;
  resolved r;
  r.parts = detail::split_reference(reference);
  if (!r.parts.directory &&
      is_temporary_name(reference.substr(0, reference.size() - r.parts.name.size()),
                        r.parts.name)) {
    return make_error(connector_errc::invalid_path,
                      "reference '" + reference + "': the temporary file's name of another");
  }
  if (cache != nullptr && cache->dir && cache->parent == r.parts.parent) {
    r.dir = cache->dir;
    r.kept = true;
    return r;
  }
  unique_fd own_root;
  if (cache == nullptr || !cache->root) {
    auto root_fd = detail::open_root(root, O_PATH);
    if (!root_fd) return std::move(root_fd.error());
    own_root = std::move(*root_fd);
  }
  if (cache != nullptr && !cache->root) cache->root = std::move(own_root);
  const int root_dir = cache != nullptr ? cache->root.get() : own_root.get();
  auto dir = detail::open_directory_beneath(root_dir, r.parts.parent, create, root);
  if (!dir) return std::move(dir.error());
  r.dir = std::make_shared<const unique_fd>(std::move(*dir));
  if (cache != nullptr) {
    cache->parent = r.parts.parent;
    cache->dir = r.dir;
  }
  return r;
}

}  // namespace

caf::expected<std::unique_ptr<item_writer>> local_volume::open_writer(const item_info& info,
                                                                      uint64_t resume_offset) {
  const auto& root = options_.root;
  const auto& reference = info.reference;
  auto* cache = batch_.get();
  auto r = resolve(root, reference, true, cache);
  if (!r) return std::move(r.error());
  auto path = display_path(root, reference);
  if (r->parts.directory) {
    return make_error(connector_errc::invalid_path, "write " + path + ": a directory reference");
  }
  const std::string temp = temporary_file_name(reference);
  if (cache != nullptr && cache->unnamed && resume_offset == 0) {
    // A batch's new file: unnamed until commit links it in (nothing to resume, nothing left
    // behind by a crash). Its mode is given now; commit sets it only if the umask changed it.
    const auto mode = safe_mode(info.mode);
    const int flags = O_TMPFILE | O_RDWR | O_CLOEXEC;
    unique_fd file{::openat(r->dir->get(), ".", flags, mode)};
    if (!file && r->kept) {
      // Perhaps the kept directory was removed meanwhile (ENOENT, or EPERM for O_TMPFILE):
      // resolved again (made anew) and tried once more.
      cache->forget();
      return open_writer(info, resume_offset);
    }
    if (file) {
      const int mask = process_umask();
      auto writer = std::make_unique<local_writer>(r->dir, std::move(file),
                                                   std::move(r->parts.name), temp,
                                                   std::move(path), 0);
      writer->set_unnamed(mask < 0 ? -1 : static_cast<int>(mode & ~static_cast<mode_t>(mask)));
      return std::unique_ptr<item_writer>{std::move(writer)};
    }
    // No O_TMPFILE on this file system: temporary names from now on.
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
      return from_errno(errno, "create a file for " + path);
    }
    cache->unnamed = false;
  }
  const int dir = r->dir->get();
  const auto temp_path = display_path(root, temporary_name(reference));
  // O_NOFOLLOW: a symlink planted under the temporary name is removed, never written through.
  // O_NONBLOCK: a FIFO there must not block us.
  // O_RDWR rather than O_WRONLY: content_hash reads the file back.
  const int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
  unique_fd file;
  if (resume_offset > 0) {
    // A resume reopens the file it wrote before.
    file.reset(::openat(dir, temp.c_str(), flags));
    if (!file && errno != ENOENT && errno != ELOOP) return from_errno(errno, "open " + temp_path);
  }
  if (!file) {
    // A new file, created here and now (O_EXCL): what is under the name is the leftover of an
    // earlier attempt at this very reference (the name is its own), removed first.
    file.reset(::openat(dir, temp.c_str(), flags | O_CREAT | O_EXCL, 0600));
    if (!file && errno == EEXIST) {
      if (::unlinkat(dir, temp.c_str(), 0) != 0 && errno != ENOENT)
        return from_errno(errno, "remove the stale " + temp_path);
      file.reset(::openat(dir, temp.c_str(), flags | O_CREAT | O_EXCL, 0600));
    }
  }
  if (!file && r->kept) {
    cache->forget();  // as above: the kept directory may have been removed
    return open_writer(info, resume_offset);
  }
  if (!file) return from_errno(errno, "create " + temp_path);
  struct stat st;
  if (::fstat(file.get(), &st) != 0) return from_errno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) {
    return make_error(
        connector_errc::invalid_path,
        "create " + temp_path + ": not a regular file");
  }
  const auto existing = static_cast<uint64_t>(st.st_size);
  uint64_t offset = std::min(existing, resume_offset);
  if (existing > offset && ::ftruncate(file.get(), static_cast<off_t>(offset)) != 0) {
    return from_errno(errno, "truncate " + temp_path);
  }
  return std::unique_ptr<item_writer>{new local_writer(
      r->dir, std::move(file), std::move(r->parts.name), temp, std::move(path), offset)};
}

caf::error local_volume::make_directory(const item_info& info) {
  const auto& root = options_.root;
  auto r = resolve(root, info.reference, true, batch_.get());
  if (!r) return std::move(r.error());
  auto path = display_path(root, info.reference);
  if (!r->parts.directory) {
    return make_error(connector_errc::invalid_path,
                      "mkdir " + path + ": not a directory reference");
  }
  const int dir = r->dir->get();
  const char* name = r->parts.name.c_str();
  if (::mkdirat(dir, name, 0700) != 0) {
    if (errno != EEXIST) return from_errno(errno, "mkdir " + path);
    struct stat st;
    if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return from_errno(errno, "stat " + path);
    }
    if (!S_ISDIR(st.st_mode)) {
      // The source says this is a directory now: the file or symlink it replaced goes.
      if (::unlinkat(dir, name, 0) != 0) return from_errno(errno, "remove " + path);
      if (::mkdirat(dir, name, 0700) != 0) return from_errno(errno, "mkdir " + path);
    }
  }
  // The mode is set through a descriptor of the directory itself, never through its name
  // (fchmodat follows symlinks: one swapped in meanwhile would lead outside the root). Opening
  // needs read permission, which only a non-root user lacks on a directory of a mode like 0300:
  // then this fails with permission_denied rather than take that risk.
  unique_fd fd{::openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
  if (!fd || ::fchmod(fd.get(), safe_mode(info.mode)) != 0) {
    return from_errno(errno, "chmod " + path);
  }
  return {};
}

caf::error local_volume::make_symlink(const item_info& info) {
  const auto& root = options_.root;
  auto r = resolve(root, info.reference, true, batch_.get());
  if (!r) return std::move(r.error());
  auto path = display_path(root, info.reference);
  if (r->parts.directory) {
    return make_error(connector_errc::invalid_path, "symlink " + path + ": a directory reference");
  }
  if (info.link_target.empty()) {
    return make_error(connector_errc::invalid_path, "symlink " + path + ": empty link text");
  }
  const int dir = r->dir->get();
  // Made under the temporary name and renamed over the final one: replacing is atomic.
  const std::string temp = temporary_file_name(info.reference);
  if (::symlinkat(info.link_target.c_str(), dir, temp.c_str()) != 0) {
    if (errno != EEXIST) return from_errno(errno, "symlink " + path);
    if (::unlinkat(dir, temp.c_str(), 0) != 0) return from_errno(errno, "remove stale " + path);
    if (::symlinkat(info.link_target.c_str(), dir, temp.c_str()) != 0) {
      return from_errno(errno, "symlink " + path);
    }
  }
  if (::utimensat(dir, temp.c_str(), mtime_only{info.mtime_ns}.times, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::renameat(dir, temp.c_str(), dir, r->parts.name.c_str()) != 0) {
    const int err = errno;
    (void)::unlinkat(dir, temp.c_str(), 0);
    return from_errno(err, "symlink " + path);
  }
  return {};
}

caf::error local_volume::set_mtime(std::string_view reference, int64_t mtime_ns) {
  const std::string ref{reference};
  auto r = resolve(options_.root, ref, false);
  if (!r) return std::move(r.error());
  if (::utimensat(r->dir->get(), r->parts.name.c_str(), mtime_only{mtime_ns}.times,
                  AT_SYMLINK_NOFOLLOW) != 0) {
    return from_errno(errno, "set mtime of " + display_path(options_.root, ref));
  }
  return {};
}

caf::error local_volume::remove(std::string_view reference) {
  const std::string ref{reference};
  // What a batch kept may be what goes now: resolved afresh from here on.
  if (batch_) batch_->forget();
  auto r = resolve(options_.root, ref, false);
  if (!r) {
    if (is(r.error(), connector_errc::not_found)) return {};  // its directory is gone already
    return std::move(r.error());
  }
  const auto path = display_path(options_.root, ref);
  const int dir = r->dir->get();
  const char* name = r->parts.name.c_str();
  if (!r->parts.directory) {
    const auto temp = temporary_file_name(ref);
    if (::unlinkat(dir, temp.c_str(), 0) != 0 && errno != ENOENT) {
      return from_errno(errno, "remove " + display_path(options_.root, temporary_name(ref)));
    }
  }
  struct stat st;
  if (::fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return from_errno(errno, "stat " + path);
  }
  if (S_ISDIR(st.st_mode) != r->parts.directory) return {};  // another item of the same name
  if (!r->parts.directory) {
    if (::unlinkat(dir, name, 0) != 0 && errno != ENOENT)
      return from_errno(errno, "remove " + path);
    return {};
  }
  std::vector<char> buffer(64 * 1024);
  return remove_tree(dir, r->parts.name, path.substr(0, path.size() - 1), buffer);
}

caf::expected<std::optional<item_info>> local_volume::stat(std::string_view reference) {
  const std::string ref{reference};
  if (auto err = validate_reference(ref)) return err;
  const auto parts = detail::split_reference(ref);
  if (!parts.directory && is_temporary_name(ref.substr(0, ref.size() - parts.name.size()), parts.name))
    return std::optional<item_info>{};  // a transfer's file, not an item
  return detail::stat_item(options_.root, ref);
}

caf::expected<uint64_t> local_volume::remove_temporaries() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root{options_.root};
  uint64_t removed = 0;
  fs::recursive_directory_iterator it{root, fs::directory_options::skip_permission_denied, ec};
  if (ec) return make_error(connector_errc::io_error, "walk " + options_.root + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator{}; it.increment(ec)) {
    if (ec) return make_error(connector_errc::io_error, "walk " + options_.root + ": " + ec.message());
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    auto parent = it->path().parent_path().lexically_relative(root).string();
    parent = parent == "." ? std::string{} : parent + "/";
    if (!is_temporary_name(parent, it->path().filename().string())) continue;
    if (fs::remove(it->path(), ec)) ++removed;
    if (ec) return make_error(connector_errc::io_error, "remove " + it->path().string() + ": " + ec.message());
  }
  return removed;
}

caf::expected<std::unique_ptr<listing>> local_volume::list() {
  return detail::list_tree(options_.root, path_filter{}, true);
}

caf::expected<std::unique_ptr<item_reader>> local_volume::open_reader(std::string_view reference,
                                                                      uint64_t offset) {
  return detail::open_file(options_.root, std::string{reference}, offset);
}

caf::error local_volume::sync() {
  auto fd = detail::open_root(options_.root, O_RDONLY);
  if (!fd) return std::move(fd.error());
  if (::syncfs(fd->get()) != 0) return from_errno(errno, "syncfs " + options_.root);
  return {};
}

}  // namespace syncline::connectors
