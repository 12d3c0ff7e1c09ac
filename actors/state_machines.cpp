#include "actors/state_machines.hpp"

#include <string>

#include "actors/error.hpp"

namespace syncline::actors {

namespace {

template <class State>
struct edge {
  State from;
  State to;
};

// The tables are the specification: every move a datasource can make, and no other.
using ds = datasource_status;
constexpr edge<ds> datasource_edges[] = {
    {ds::created, ds::pending},   // configured
    {ds::created, ds::invited},   // shared before first use
    {ds::created, ds::paused},
    {ds::created, ds::error},     // configuration refused
    {ds::invited, ds::pending},   // accepted
    {ds::invited, ds::created},
    {ds::pending, ds::syncing},
    {ds::pending, ds::paused},
    {ds::pending, ds::error},
    {ds::syncing, ds::synced},
    {ds::syncing, ds::failed},
    {ds::syncing, ds::error},
    {ds::syncing, ds::paused},
    {ds::synced, ds::pending},    // next run scheduled
    {ds::synced, ds::syncing},    // sync now
    {ds::synced, ds::paused},
    {ds::synced, ds::error},      // configuration became invalid
    {ds::failed, ds::pending},    // retry after backoff
    {ds::failed, ds::syncing},
    {ds::failed, ds::paused},
    {ds::failed, ds::error},      // retries exhausted
    {ds::error, ds::pending},     // a person acted (sync now, new config, new credentials)
    {ds::error, ds::syncing},
    {ds::error, ds::paused},
    {ds::paused, ds::resuming},
    {ds::resuming, ds::syncing},
    {ds::resuming, ds::pending},
    {ds::resuming, ds::synced},
    {ds::resuming, ds::paused},
    {ds::resuming, ds::failed},
    {ds::resuming, ds::error},
};

using hl = sync_health;
constexpr edge<hl> health_edges[] = {
    {hl::pending, hl::healthy},  {hl::pending, hl::failed}, {hl::pending, hl::disabled},
    {hl::healthy, hl::failed},   {hl::healthy, hl::disabled},
    {hl::failed, hl::healthy},   {hl::failed, hl::disabled},
    {hl::disabled, hl::pending},  // re-enabled: no run has finished since
};

using rs = run_status;
constexpr edge<rs> run_edges[] = {
    {rs::started, rs::querying},     {rs::started, rs::paused},      {rs::started, rs::failed},
    {rs::querying, rs::queued},      {rs::querying, rs::paused},     {rs::querying, rs::failed},
    {rs::queued, rs::in_progress},   {rs::queued, rs::paused},       {rs::queued, rs::failed},
    {rs::in_progress, rs::success},  {rs::in_progress, rs::paused},  {rs::in_progress, rs::failed},
    // A paused run resumes where it stopped.
    {rs::paused, rs::querying},      {rs::paused, rs::queued},       {rs::paused, rs::in_progress},
    {rs::paused, rs::failed},
};

template <class State, size_t N>
bool in_table(const edge<State> (&table)[N], State from, State to) noexcept {
  for (auto& e : table)
    if (e.from == from && e.to == to) return true;
  return false;
}

template <class State>
caf::error refusal(const char* machine, State from, State to) {
  return make_error(actors_errc::forbidden_transition,
                    std::string{machine} + " cannot move from " + to_string(from) + " to " +
                        to_string(to));
}

}  // namespace

const char* to_string(datasource_status s) noexcept {
  switch (s) {
    case ds::created: return "created";
    case ds::pending: return "pending";
    case ds::syncing: return "syncing";
    case ds::synced: return "synced";
    case ds::error: return "error";
    case ds::failed: return "failed";
    case ds::paused: return "paused";
    case ds::resuming: return "resuming";
    case ds::invited: return "invited";
  }
  return "unknown";
}

const char* to_string(sync_health s) noexcept {
  switch (s) {
    case hl::healthy: return "healthy";
    case hl::disabled: return "disabled";
    case hl::pending: return "pending";
    case hl::failed: return "failed";
  }
  return "unknown";
}

std::optional<datasource_status> datasource_status_from_string(std::string_view s) noexcept {
  for (auto x : all_datasource_statuses)
    if (s == to_string(x)) return x;
  return std::nullopt;
}

std::optional<sync_health> sync_health_from_string(std::string_view s) noexcept {
  for (auto x : all_sync_healths)
    if (s == to_string(x)) return x;
  return std::nullopt;
}

bool allowed(datasource_status from, datasource_status to) noexcept {
  return in_table(datasource_edges, from, to);
}
bool allowed(sync_health from, sync_health to) noexcept { return in_table(health_edges, from, to); }
bool allowed(run_status from, run_status to) noexcept { return in_table(run_edges, from, to); }

caf::error check(datasource_status from, datasource_status to) {
  return allowed(from, to) ? caf::none : refusal("datasource status", from, to);
}
caf::error check(sync_health from, sync_health to) {
  return allowed(from, to) ? caf::none : refusal("sync health", from, to);
}
caf::error check(run_status from, run_status to) {
  return allowed(from, to) ? caf::none : refusal("run", from, to);
}

}  // namespace syncline::actors
