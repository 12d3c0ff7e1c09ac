// runtime/node_entities.hpp: the `[[volume]]` and `[[datasource]]` tables of the node's
// configuration and their `--set volume.<id>.<key>` / `datasource.<id>.<key>` overrides
// (internal to runtime/; runtime/node_config.hpp is the interface). Datasource keys are those of
// actors/datasource_schema.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <toml++/toml.h>

#include "runtime/node_config.hpp"

namespace syncline::runtime::detail {

/// Reads `[[volume]]` / `[[datasource]]` tables into `out`; `where` receives each table's
/// position (`file:line:col`) for the checks across tables.
[[nodiscard]] caf::error load_volumes(const toml::node& node,
                                      std::vector<actors::volume_config>& out,
                                      std::vector<std::string>& where, std::string_view source_name);
[[nodiscard]] caf::error load_datasources(const toml::node& node,
                                          std::vector<actors::datasource_config>& out,
                                          std::vector<std::string>& where,
                                          std::string_view source_name);

/// What no single value shows: unique ids, volumes that exist, the rules across a datasource's
/// fields, overlapping targets. `vwhere`/`dwhere` give positions when known.
[[nodiscard]] caf::error check_entities(const node_config& cfg,
                                        const std::vector<std::string>& vwhere,
                                        const std::vector<std::string>& dwhere);

/// `--set volume.<id>.<key>=value` and `--set datasource.<id>.<key>=value` (`rest` is what
/// follows `volume.` / `datasource.`), applied to `cfg`.
[[nodiscard]] caf::error apply_volume_override(node_config& cfg, std::string_view rest,
                                               const toml::node& value, const config_override& o);
[[nodiscard]] caf::error apply_datasource_override(node_config& cfg, std::string_view rest,
                                                   const toml::node& value,
                                                   const config_override& o);

/// The help lines of every volume and datasource key.
void describe_entities(std::vector<setting_description>& out);

}  // namespace syncline::runtime::detail
