// actors/sync_model.hpp: the small vocabulary shared by datasources, volumes and transfers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncline::actors {

/// How a datasource follows its source (seed 000).
enum class sync_type : uint8_t {
  auto_,  ///< mirror: changes and deletions follow, on a schedule
  one,    ///< collect once
  arch,   ///< like auto, but deletions never follow
};

/// `"auto"`, `"one"`, `"arch"`.
const char* to_string(sync_type t) noexcept;
std::optional<sync_type> sync_type_from_string(std::string_view s) noexcept;

/// Ids of datasources and volumes: 1 to 64 characters of `[A-Za-z0-9._-]`, not starting with
/// `.`. Returns what is wrong, or an empty string.
std::string id_problem(std::string_view id);

/// A datasource feeding a volume is a *link*. Its datastore rows live under
/// `datastore_scope(ds, vol)`, its queue items in the sub-queue `queue_name(vol, ds)` (volume
/// first, so a volume finds its sub-queues by prefix). The separator 0x1f cannot occur in ids.
std::string datastore_scope(std::string_view datasource, std::string_view volume);
std::string queue_name(std::string_view volume, std::string_view datasource);
/// Splits a queue name into (volume, datasource); nothing when it is not a link's.
std::optional<std::pair<std::string, std::string>> split_queue_name(std::string_view name);

}  // namespace syncline::actors
