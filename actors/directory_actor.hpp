// actors/directory_actor.hpp: the node's registry of long-lived actors.
#pragma once

#include <chrono>

#include <caf/actor_system.hpp>

#include "actors/messages.hpp"

namespace syncline::actors {

/// Keeps (id, kind, handle) for every supervisor, volume and datasource, so the console and
/// the HTTP API can list and find them. `tree` asks each registered actor for its status with
/// high priority (answered between the steps of its work) and returns them as the children of
/// one node status; an actor that does not answer within `status_timeout` appears with state
/// `unreachable`. An entry is dropped when its actor exits.
directory_actor::behavior_type directory(
    directory_actor::stateful_pointer<struct directory_state> self,
    std::chrono::milliseconds status_timeout);

directory_actor spawn_directory(caf::actor_system& sys, std::chrono::milliseconds status_timeout);

}  // namespace syncline::actors
