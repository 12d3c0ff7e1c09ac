// actors/supervisor_actor.hpp: the node's root actor.
#pragma once

#include <vector>

#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "actors/messages.hpp"
#include "actors/records.hpp"

namespace syncline::actors {

class node_context;

struct supervisor_init {
  node_context* ctx = nullptr;
  directory_actor directory;
  std::vector<volume_record> volumes;
  std::vector<datasource_record> datasources;
};

/// Builds every volume's and datasource's connector and spawns their actors (volumes first),
/// registering them in the directory. A child that crashes with a retryable reason (an
/// exception, an I/O failure) is restarted after an exponential backoff, from its record in the
/// database; one that ends with a no-retry reason, or whose connector cannot be built, is parked
/// (`error`) and shown so in status; a fatal reason (storage corruption) stops the supervisor
/// with that reason, which stops the node. An exit message (the node shutting down) stops every
/// child, then the supervisor.
supervisor_actor::behavior_type supervisor(
    supervisor_actor::stateful_pointer<struct supervisor_state> self, supervisor_init init);

supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_init init);

}  // namespace syncline::actors
