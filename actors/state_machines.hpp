// actors/state_machines.hpp: the three state machines of a datasource, as tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <caf/error.hpp>

#include "storage/run_log.hpp"

namespace syncline::actors {

/// A datasource's synchronization status (seed 000).
enum class datasource_status : uint8_t {
  created,   ///< just created, not configured yet
  pending,   ///< waiting for its next run
  syncing,   ///< a run is in progress
  synced,    ///< the last run finished
  error,     ///< failed and will not be retried until a person acts
  failed,    ///< failed and will be retried by itself
  paused,    ///< paused by a person
  resuming,  ///< picking up from where it was paused
  invited,   ///< shared with a user who has not accepted yet
};

/// A datasource's health, the summary of its recent runs (seed 001).
enum class sync_health : uint8_t {
  healthy,   ///< the most recent run succeeded
  disabled,  ///< turned off by a person; no run starts
  pending,   ///< no run has finished yet
  failed,    ///< the most recent run failed
};

using storage::run_status;

/// Wire spellings (the seeds'): `syncing`, `in_progress`, ...
const char* to_string(datasource_status s) noexcept;
const char* to_string(sync_health s) noexcept;
std::optional<datasource_status> datasource_status_from_string(std::string_view s) noexcept;
std::optional<sync_health> sync_health_from_string(std::string_view s) noexcept;

/// Whether the machine's table has the edge `from -> to`. Staying in a state is not an edge.
bool allowed(datasource_status from, datasource_status to) noexcept;
bool allowed(sync_health from, sync_health to) noexcept;
bool allowed(run_status from, run_status to) noexcept;

/// `none` when allowed, else `actors_errc::forbidden_transition` naming machine and states.
[[nodiscard]] caf::error check(datasource_status from, datasource_status to);
[[nodiscard]] caf::error check(sync_health from, sync_health to);
[[nodiscard]] caf::error check(run_status from, run_status to);

/// Every state of each machine, for tests that walk all edges.
inline constexpr datasource_status all_datasource_statuses[] = {
    datasource_status::created, datasource_status::pending, datasource_status::syncing,
    datasource_status::synced,  datasource_status::error,   datasource_status::failed,
    datasource_status::paused,  datasource_status::resuming, datasource_status::invited};
inline constexpr sync_health all_sync_healths[] = {sync_health::healthy, sync_health::disabled,
                                                   sync_health::pending, sync_health::failed};
inline constexpr run_status all_run_statuses[] = {
    run_status::started, run_status::querying, run_status::queued, run_status::in_progress,
    run_status::success, run_status::paused,   run_status::failed};

}  // namespace syncline::actors
