#include "connectors/local_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "connectors/error.hpp"
#include "connectors/local_fs.hpp"
#include "connectors/tree_listing.hpp"

namespace syncline::connectors {

caf::expected<std::unique_ptr<local_source>> local_source::make(local_source_options options) {
  if (options.root.empty()) return make_error(connector_errc::bad_config, "folder: empty root");
  auto filter = path_filter::make(options.include, options.exclude);
  if (!filter) return std::move(filter.error());
  return std::unique_ptr<local_source>{new local_source(std::move(options), std::move(*filter))};
}

local_source::local_source(local_source_options options, path_filter filter)
    : options_(std::move(options)), filter_(std::move(filter)) {}

std::string local_source::describe() const {
  return "folder " + options_.root;
}

caf::error local_source::check() {
  auto fd = detail::open_root(options_.root, O_RDONLY);
  if (!fd) {
    if (is(fd.error(), connector_errc::bad_config)) return std::move(fd.error());
    return make_error(connector_errc::bad_config, "folder root unusable: " + render(fd.error()));
  }
  return {};
}

caf::expected<std::unique_ptr<listing>> local_source::list() {
  return detail::list_tree(options_.root, filter_, false);
}

std::string local_source::filesystem_identity() {
  return connectors::filesystem_identity(options_.root);
}

std::string filesystem_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  std::error_code ec;
  // A UUID survives reboots and device renumbering.
  for (auto& e : std::filesystem::directory_iterator{"/dev/disk/by-uuid", ec}) {
    struct stat dev {};
    if (::stat(e.path().c_str(), &dev) == 0 && S_ISBLK(dev.st_mode) && dev.st_rdev == st.st_dev)
      return "uuid:" + e.path().filename().string();
  }
  // Else the mount that holds the path: the longest mount point above its real path among
  // the mounts of its device. A folder whose disk is not mounted lies on another mount.
  auto real = std::filesystem::weakly_canonical(path, ec).string();
  std::ifstream in{"/proc/self/mountinfo"};
  std::string line;
  std::string best_point;
  std::string best;
  auto device = std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev));
  while (std::getline(in, line)) {
    // id parent major:minor root mount-point options [optional...] - type source options
    std::istringstream f{line};
    std::string id, parent, majmin, root, point, field;
    f >> id >> parent >> majmin >> root >> point;
    while (f >> field && field != "-") {
    }
    std::string type, source;
    f >> type >> source;
    if (majmin != device) continue;
    bool above = real == point || point == "/" ||
                 (real.size() > point.size() && real.compare(0, point.size(), point) == 0 &&
                  real[point.size()] == '/');
    if (above && point.size() >= best_point.size()) {
      best_point = point;
      best = type + ":" + source + "@" + point;
    }
  }
  if (best.empty()) return "dev:" + device;
  return best;
}

caf::expected<item_info> local_source::stat(std::string_view reference) {
  std::string ref{reference};
  auto info = detail::stat_item(options_.root, ref);
  if (!info) return std::move(info.error());
  if (!*info || !filter_.admits(ref)) {
    return make_error(connector_errc::not_found,
                      "stat " + detail::display_path(options_.root, ref));
  }
  return std::move(**info);
}

caf::expected<std::unique_ptr<item_reader>> local_source::open(std::string_view reference,
                                                               uint64_t offset) {
  std::string ref{reference};
  if (!validate_reference(ref) && !filter_.admits(ref)) {
    return make_error(connector_errc::not_found,
                      "open " + detail::display_path(options_.root, ref) + ": excluded");
  }
  return detail::open_file(options_.root, ref, offset);
}

}  // namespace syncline::connectors
