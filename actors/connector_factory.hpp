// actors/connector_factory.hpp: connectors from configurations.
#pragma once

#include <memory>

#include <caf/expected.hpp>

#include "actors/sync_config.hpp"

namespace syncline::connectors {
class source;
class volume;
}  // namespace syncline::connectors

namespace syncline::storage {
class credential_store;
}  // namespace syncline::storage

namespace syncline::actors {

/// Builds a datasource's connector: `folder` (a local folder with include/exclude globs),
/// `synthetic` or `http` (whose credentials are read from, and refreshed tokens written to,
/// `wallet` under the datasource's id; null: none can be read, fine for checking settings).
/// `bad_config` names an unknown type or a bad setting.
[[nodiscard]] caf::expected<std::shared_ptr<connectors::source>> make_source(
    const datasource_config& config, storage::credential_store* wallet = nullptr);

/// Builds a volume's connector: `directory`, `fault` (a directory whose operations fail as
/// configured), or `null` (accepts everything and keeps nothing: load tests).
[[nodiscard]] caf::expected<std::shared_ptr<connectors::volume>> make_volume(
    const volume_config& config);

}  // namespace syncline::actors
