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

 private:
  explicit local_volume(local_volume_options options);

  local_volume_options options_;
};

}  // namespace syncline::connectors
