// actors/volume_actor.hpp: one volume, its sub-queues and its transfers.
#pragma once

#include <memory>

#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "actors/messages.hpp"
#include "actors/records.hpp"

namespace syncline::connectors {
class volume;
}

namespace syncline::actors {

class node_context;

struct volume_init {
  node_context* ctx = nullptr;
  volume_record record;
  std::shared_ptr<connectors::volume> connector;
};

/// The volume actor:
/// - keeps, per sub-queue (one per datasource feeding it), a few leased items from the
///   persistent queue, and starts the best one (highest `sync_priority`, then oldest) whenever
///   fewer than `sync_amount_reception` transfers run;
/// - groups finished copies (up to `group_max`, or `group_delay_ms`), makes them durable with
///   one `sync()` of the volume, then reports each datasource's share in one message;
/// - forwards failed transfers to their datasource, which answers retry (after a backoff, the
///   item stays leased here) or drop (parked in error, acknowledged by the datasource);
/// - pauses and resumes as a whole (`enable_reception` false starts it paused) or per
///   datasource; paused transfers stop at their next chunk.
/// Its state is rebuilt from the queue at start: leases die with the process, so every
/// unacknowledged item is found again.
volume_actor::behavior_type volume(volume_actor::stateful_pointer<struct volume_state> self,
                                   volume_init init);

/// Spawns a volume actor (the state type stays private to volume_actor.cpp).
volume_actor spawn_volume(caf::local_actor* parent, volume_init init);
volume_actor spawn_volume(caf::actor_system& sys, volume_init init);

}  // namespace syncline::actors
