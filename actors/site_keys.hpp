// actors/site_keys.hpp: the names seed 003 gives to a site and to the per-site keys of an
// element (`synced_<site>`, ...). One place for the spelling, used by the tracker's sync state
// route and by sites.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace syncline::actors {

/// Why `name` cannot be a site's name, or nothing. A site name is 1 to 64 of `[A-Za-z0-9_-]`
/// (seed 003: "alphanumerical name without space"; it ends keys like `synced_<site>`).
std::optional<std::string> site_name_problem(std::string_view name);

/// The destination filter `sync_<site>` (seed 003: with `syncEverywhere: false`, the sites
/// whose `sync_<site>` is true receive the file). Not bookkeeping: people and publishers set it.
std::string destination_key(std::string_view site);

/// The per-site keys that record where an element's copies are. They are bookkeeping: written
/// through `/api/syncState`, which changes neither `time` nor `author` and passes a lock.
enum class site_key { syncing, synced, sync_error, sync_last_attempt };

/// `"syncing_"`, `"synced_"`, `"syncError_"`, `"syncLastAttempt_"`.
const char* prefix_of(site_key k) noexcept;

/// The key for `site`, e.g. `synced_B`.
std::string key_for(site_key k, std::string_view site);

/// The kind and site of a bookkeeping key (`synced_B` -> synced, "B"), or nothing when `key` is
/// not one (or its site is not a valid name).
std::optional<std::pair<site_key, std::string_view>> parse_site_key(std::string_view key) noexcept;

/// The global parameters element every site reads (seed 003).
constexpr const char* global_parameters_id = "rsyncGlobalParameters";

/// A site's volume element (seed 003): `site/<name>`.
std::string volume_element_id(std::string_view site);
/// Whether `id` is one (`site/` and a valid site name).
bool is_volume_element_id(std::string_view id);

/// The keys of a volume element that describe the site's state rather than steer it (seed 003:
/// `agentStatus`, `agentStartTime`, `agentVersion`, `last_scan`, `last_emission`,
/// `last_reception`, `lastConnection*`, `error`, `exit_*`, `scan_duration`, `stderr_*`, `url`,
/// `name`): the site writes them as bookkeeping (`/api/syncState`), like per-site keys.
bool is_volume_status_key(std::string_view key) noexcept;

}  // namespace syncline::actors
