// actors/connector_factory.hpp: connectors from configurations.
#pragma once

#include <memory>

#include <caf/expected.hpp>

#include "actors/sync_config.hpp"

namespace syncline::connectors {
class source;
class volume;
}  // namespace syncline::connectors

namespace syncline::actors {

/// Builds a datasource's connector: `folder` (a local folder with include/exclude globs) or
/// `synthetic`. `bad_config` names an unknown type or a bad setting.
[[nodiscard]] caf::expected<std::shared_ptr<connectors::source>> make_source(
    const datasource_config& config);

/// Builds a volume's connector: `directory`, `fault` (a directory whose operations fail as
/// configured), or `null` (accepts everything and keeps nothing: load tests).
[[nodiscard]] caf::expected<std::shared_ptr<connectors::volume>> make_volume(
    const volume_config& config);

}  // namespace syncline::actors
