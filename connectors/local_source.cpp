#include "connectors/local_source.hpp"

#include <fcntl.h>

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
