// actors/datasource_actor.hpp: one datasource, its runs and its datastore rows.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/local_actor.hpp>

#include "actors/messages.hpp"
#include "actors/records.hpp"

namespace syncline::connectors {
class source;
}

namespace syncline::actors {

class node_context;

/// What a datasource actor starts with.
struct datasource_init {
  node_context* ctx = nullptr;
  datasource_record record;
  /// The volumes it feeds, by id (every id of `record.config.volumes`).
  std::map<std::string, volume_actor> volumes;
  std::shared_ptr<connectors::source> source;
};

/// Spawns with `sys.spawn(datasource, std::move(init))` (or from another actor). The actor:
/// - on start, resumes an unfinished run (a run interrupted by a crash is treated as paused and
///   resumed), or schedules the next one (`auto`/`arch`: every schedule_min..max seconds;
///   `one`: once);
/// - runs the cycle of ARCHITECTURE.md, one I/O job at a time, each step a message so status,
///   pause and priority are answered between steps;
/// - is the only writer of its datastore rows and of its record;
/// - quits with the error on a fatal failure (storage corruption), so its supervisor stops the
///   node.
datasource_actor::behavior_type datasource(
    datasource_actor::stateful_pointer<struct datasource_state> self, datasource_init init);

/// Spawns a datasource actor (the state type stays private to actors/: datasource_state.hpp).
datasource_actor spawn_datasource(caf::local_actor* parent, datasource_init init);
datasource_actor spawn_datasource(caf::actor_system& sys, datasource_init init);

}  // namespace syncline::actors
