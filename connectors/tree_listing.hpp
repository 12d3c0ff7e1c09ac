// connectors/tree_listing.hpp: the recursive listing of a local directory tree, shared by the
// local folder source and the local directory volume. Internal to connectors/.
#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "connectors/glob.hpp"
#include "connectors/source.hpp"

namespace syncline::connectors::detail {

/// Lists everything below the directory `root` in reference byte order (docs/runtime.md,
/// "Items and references"): each directory's entries are read at once and sorted with
/// directory names compared as `name/`, and a directory is listed before its children. Memory
/// is one open directory and its sorted names per level of depth.
///
/// Symlinks are listed as symlinks (never followed); files other than regular files,
/// directories and symlinks (FIFOs, sockets, devices) are skipped, and so are temporary files
/// of ours (`is_temporary_name`) when `skip_temporary` (a volume's listing; a source lists
/// every file, whatever its name). An entry that cannot be stat'ed or a directory that cannot be opened
/// or read is listed in its place as `item_kind::unreadable` with the error, and the listing
/// goes on; an entry that vanished while being listed is skipped. Items that `filter` does not
/// keep are skipped, and so is the subtree of a directory it does not keep.
///
/// Fails when `root` itself cannot be opened or read (`bad_config` when it is missing or not a
/// directory): an empty listing would mean "everything was deleted".
[[nodiscard]] caf::expected<std::unique_ptr<listing>> list_tree(const std::string& root,
                                                                path_filter filter,
                                                                bool skip_temporary);

}  // namespace syncline::connectors::detail
