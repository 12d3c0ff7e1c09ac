// connectors/volume.hpp: where copies go.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/error.hpp"
#include "connectors/item.hpp"
#include "connectors/source.hpp"

namespace syncline::connectors {

/// Writes one file into a volume: into a temporary name beside the final one, renamed into
/// place by `commit`. Until `commit` returns, nothing exists under the final name that was not
/// there before. Not thread-safe. Destroying a writer without `commit` keeps the temporary file
/// (so a later writer can resume it); `abort` removes it.
class item_writer {
 public:
  virtual ~item_writer() = default;
  /// Bytes already in the temporary file: where writing continues.
  virtual uint64_t offset() const noexcept = 0;
  [[nodiscard]] virtual caf::error write(const char* data, size_t n) = 0;
  /// Copies up to `n` bytes from file descriptor `fd` inside the kernel (`copy_file_range`,
  /// falling back to read/write). Returns the bytes copied, 0 at the source's end.
  [[nodiscard]] virtual caf::expected<size_t> copy_from(int fd, size_t n) = 0;
  /// Makes the bytes written so far durable (fdatasync): a resume point.
  [[nodiscard]] virtual caf::error sync() = 0;
  /// Sets mode and mtime from `info`, then renames the file into place. Not durable until the
  /// volume's `sync()`.
  [[nodiscard]] virtual caf::error commit(const item_info& info) = 0;
  /// Removes the temporary file.
  virtual void abort() = 0;
  /// XXH3-64 of everything written so far, read back from the temporary file (verification
  /// before `commit`). `unsupported` when the volume cannot read back.
  [[nodiscard]] virtual caf::expected<uint64_t> content_hash();
};

/// A target of transfers. No reference can lead outside the volume's root (`invalid_path`).
/// Thread-safe; every call blocks. Owned by `std::shared_ptr` (see `target`).
class volume : public std::enable_shared_from_this<volume> {
 public:
  virtual ~volume() = default;
  virtual std::string describe() const = 0;
  /// The part of this volume below the directory `relative` (`""`: all of it; else a relative
  /// path of names without `.`, `..` or empty segments, no leading or trailing `/`), as a volume
  /// of its own whose references are relative to it: one datasource's target. The directory is
  /// made when missing, resolved beneath the root like any reference (no symlink on the way).
  /// Nothing done through the returned volume reaches outside that directory.
  [[nodiscard]] virtual caf::expected<std::shared_ptr<volume>> target(std::string_view relative);
  /// Checks the configuration (root exists, is a writable directory).
  [[nodiscard]] virtual caf::error check() = 0;
  /// Opens a writer for the file `info.reference`, creating missing parent directories. An
  /// existing temporary file is kept up to `resume_offset` bytes (truncated to it; if shorter,
  /// writing continues from its length); `resume_offset` 0 starts afresh.
  [[nodiscard]] virtual caf::expected<std::unique_ptr<item_writer>> open_writer(
      const item_info& info, uint64_t resume_offset) = 0;
  /// Creates (or updates the mode of) a directory item, with missing parents.
  [[nodiscard]] virtual caf::error make_directory(const item_info& info) = 0;
  /// Creates or replaces a symlink item (its text is copied, never followed).
  [[nodiscard]] virtual caf::error make_symlink(const item_info& info) = 0;
  /// Sets an existing item's mtime (directories, after their children changed).
  [[nodiscard]] virtual caf::error set_mtime(std::string_view reference, int64_t mtime_ns) = 0;
  /// Removes an item, with everything below it for a directory, and any temporary file of it.
  /// An absent item is success.
  [[nodiscard]] virtual caf::error remove(std::string_view reference) = 0;
  /// The item's state, or nothing when absent.
  [[nodiscard]] virtual caf::expected<std::optional<item_info>> stat(std::string_view reference) = 0;
  /// Lists the volume's items in reference byte order (temporary files excluded).
  [[nodiscard]] virtual caf::expected<std::unique_ptr<listing>> list() = 0;
  /// Opens a file for reading (verification, or serving it to other sites).
  [[nodiscard]] virtual caf::expected<std::unique_ptr<item_reader>> open_reader(
      std::string_view reference, uint64_t offset) = 0;
  /// Removes every temporary file of ours below the root (`is_temporary_name`), left by
  /// transfers that will never resume (their datasource was deleted); returns how many.
  [[nodiscard]] virtual caf::expected<uint64_t> remove_temporaries() { return uint64_t{0}; }
  /// Makes every change so far durable (one `syncfs` of the volume's filesystem).
  [[nodiscard]] virtual caf::error sync() = 0;
  /// A view of this volume for one batch of small files, used by one thread at a time and
  /// dropped when the batch ends: it may keep what it resolved (the root, the last directory)
  /// from one item to the next, and write files that will not be resumed without a temporary
  /// name. By default, the volume itself.
  [[nodiscard]] virtual std::shared_ptr<volume> for_batch() { return shared_from_this(); }
};

/// The files beneath the directory `folder` of `v` (a reference ending in `/`), their
/// references relative to it, in listing order (temporary files left out); at most `limit` + 1
/// of them, so that a caller with a limit sees it was passed without listing everything.
/// Nothing when `folder` is no directory.
[[nodiscard]] caf::expected<std::optional<std::vector<item_info>>> files_beneath(
    volume& v, const std::string& folder, size_t limit = SIZE_MAX - 1);

/// Why `relative` cannot be a target (see `volume::target`), or an empty string.
std::string target_problem(std::string_view relative);

inline caf::expected<uint64_t> item_writer::content_hash() {
  return make_error(connector_errc::unsupported, "this volume cannot read back what it wrote");
}

/// The temporary name (a reference) of the file being written for `reference`, in the same
/// directory: `.<name>.<h>.syncline-part`, `h` the first 8 hex digits of the XXH3-64 of
/// `reference`, or `.<16 hex digits>.syncline-part` when that would exceed NAME_MAX. The same
/// reference always gets the same name (a resume finds its file); a source file that merely
/// looks like one (`.x.syncline-part`) is an ordinary file.
std::string temporary_name(std::string_view reference);
/// Whether `name`, an entry of the directory whose reference is `parent` (empty for the root,
/// else ending in `/`), is the temporary name of a sibling: the short form is checked against
/// the sibling's hash, the long form by its shape alone.
bool is_temporary_name(std::string_view parent, std::string_view name) noexcept;

}  // namespace syncline::connectors
