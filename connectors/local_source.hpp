// connectors/local_source.hpp: a folder of the local file system as a datasource.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/glob.hpp"
#include "connectors/source.hpp"

namespace syncline::connectors {

struct local_source_options {
  /// The folder to list; items' references are relative to it.
  std::string root;
  /// Globs (see `glob_set`) of the items to list; empty: every item. Directories are always
  /// listed unless excluded.
  std::vector<std::string> include;
  /// Globs of the items not to list; an excluded directory's subtree is not listed either.
  std::vector<std::string> exclude;
};

/// Lists, stats and reads the files, directories and symlinks below a local folder. Symlinks
/// are reported as such (`link_target`) and never followed, neither in a listing nor on the way
/// to an item: a reference through a symlink is `invalid_path`. Listings follow
/// `detail::list_tree` (reference byte order, unreadable entries reported in place; a file named
/// like a temporary file is an ordinary file here). `stat` and `open` agree with listings: an item the filter excludes, or whose
/// kind differs from its reference's (`x/` is a directory, `x` is not), is `not_found`. The root
/// is opened anew by every call, so a folder replaced or mounted later is seen. Thread-safe.
class local_source final : public source {
 public:
  /// `bad_config` naming an invalid glob. The root is not looked at before `check`.
  [[nodiscard]] static caf::expected<std::unique_ptr<local_source>> make(
      local_source_options options);

  std::string describe() const override;
  /// `bad_config` unless the root is a directory that can be read.
  [[nodiscard]] caf::error check() override;
  [[nodiscard]] caf::expected<std::unique_ptr<listing>> list() override;
  std::string filesystem_identity() override;
  [[nodiscard]] caf::expected<item_info> stat(std::string_view reference) override;
  /// Regular files only; the reader's `native_handle()` is the open file.
  [[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open(std::string_view reference,
                                                                 uint64_t offset) override;

 private:
  local_source(local_source_options options, path_filter filter);

  local_source_options options_;
  path_filter filter_;
};

/// The identity of the filesystem that holds `path` (see `source::filesystem_identity`):
/// `uuid:<UUID>` when /dev/disk/by-uuid names its device, else
/// `<type>:<source>@<mount point>` from /proc/self/mountinfo; "" when `path` cannot be stat'ed.
std::string filesystem_identity(const std::string& path);

}  // namespace syncline::connectors
