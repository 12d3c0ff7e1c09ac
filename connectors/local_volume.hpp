// connectors/local_volume.hpp: a directory of the local file system as a volume.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/volume.hpp"

namespace syncline::connectors {

struct local_volume_options {
  /// The directory that holds the copies; references are relative to it.
  std::string root;
  /// Batch views write new files unnamed (`O_TMPFILE`) where the file system can; false: with
  /// temporary names, as everywhere else (what a file system without `O_TMPFILE` gets).
  bool unnamed_files = true;
};

/// Copies into a local directory. Every path is resolved beneath the root with openat2
/// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a reference with `..`, an absolute one, or one with
/// a symlink on the way is `invalid_path` and touches nothing; the last name is never followed
/// either (a symlink there is replaced or removed, not written through). Missing parent
/// directories are created (mode 0777 less the umask) by `open_writer`, `make_directory` and
/// `make_symlink`.
///
/// Kinds follow references: `x/` names a directory, `x` a file or symlink. `stat` answers
/// nothing when what is there is of the other kind, and `remove` leaves it alone (so removing
/// the old file `x` cannot delete the new directory `x/`). `make_directory` replaces a file or
/// symlink in its place; a file committed over a directory fails (the directory's removal comes
/// first). Temporary files are `temporary_name(reference)`, never listed, and never valid
/// references. Set-user-ID and set-group-ID bits are never set. The root is opened anew by every
/// call. Thread-safe.
///
/// `for_batch` gives a view for one batch (one thread at a time): it opens the root once and
/// keeps the last directory it resolved, so that the files of one directory cost one check of
/// their path (beneath the root, no symlink on the way) and no reopening; and a new file that
/// will not be resumed (`resume_offset` 0) is written as an unnamed file (`O_TMPFILE`) linked
/// in under its final name by `commit`, its mode given at creation (no `fchmod` when the umask
/// keeps it). Where the file system has no `O_TMPFILE`, or the final name exists (a
/// replacement), it takes the temporary name as usual. A directory renamed or replaced by a
/// symlink while a batch holds it is written into as it was when resolved (never through the
/// symlink), as any single call could between resolving and writing.
class local_volume final : public volume {
 public:
  /// `bad_config` for an empty root. The root is not looked at before `check`.
  [[nodiscard]] static caf::expected<std::unique_ptr<local_volume>> make(
      local_volume_options options);

  std::string describe() const override;
  /// A local volume rooted at `root/relative`, made beneath the root when missing.
  [[nodiscard]] caf::expected<std::shared_ptr<volume>> target(std::string_view relative) override;
  /// `bad_config` unless the root is a directory we may write into.
  [[nodiscard]] caf::error check() override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_writer>> open_writer(
      const item_info& info, uint64_t resume_offset) override;
  [[nodiscard]] caf::error make_directory(const item_info& info) override;
  [[nodiscard]] caf::error make_symlink(const item_info& info) override;
  [[nodiscard]] caf::error set_mtime(std::string_view reference, int64_t mtime_ns) override;
  [[nodiscard]] caf::error remove(std::string_view reference) override;
  [[nodiscard]] caf::expected<std::optional<item_info>> stat(std::string_view reference) override;
  [[nodiscard]] caf::expected<std::unique_ptr<listing>> list() override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open_reader(std::string_view reference,
                                                                        uint64_t offset) override;
  [[nodiscard]] caf::error sync() override;
  /// Walks the tree without following symlinks.
  [[nodiscard]] caf::expected<uint64_t> remove_temporaries() override;
  [[nodiscard]] std::shared_ptr<volume> for_batch() override;

  /// What a batch view resolved and keeps (local_volume.cpp).
  struct batch_cache;

 private:
  explicit local_volume(local_volume_options options);

  local_volume_options options_;
  std::shared_ptr<batch_cache> batch_;  // set in a batch view only
};

}  // namespace syncline::connectors
