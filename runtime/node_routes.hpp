// runtime/node_routes.hpp: the node's own routes: what its actors are doing (`/api/actors`),
// what waits to be transferred (`/api/queue`), its live events (`/api/events`) and the
// Prometheus metrics (`/metrics`).
#pragma once

#include <cstddef>
#include <chrono>
#include <memory>

#include <caf/actor_system.hpp>

#include "actors/messages.hpp"
#include "runtime/http_metrics.hpp"
#include "runtime/http_router.hpp"
#include "runtime/request_guard.hpp"

namespace syncline::storage {
class datasource_store;
class transfer_queue;
}

namespace syncline::actors {
class event_hub;
}

namespace syncline::runtime {

struct node_routes_init {
  /// Authenticates every request (`auth`) and reports its own counters (`status`).
  actors::tracker_actor tracker;
  /// The status tree of every actor.
  actors::directory_actor directory;
  /// Pauses and resumes the whole node (`/api/node/@pause`, `@resume`).
  actors::supervisor_actor supervisor;
  /// Refuses state changes a page could forge (`refuse_state_change`); null: none refused.
  std::shared_ptr<const request_policy> policy;
  /// For `/api/queue` and the queue gauges of `/metrics`; may be null.
  storage::transfer_queue* queue = nullptr;
  /// The access lists that decide which datasources a guest sees in `/api/queue` and
  /// `/api/actors`; null: a guest sees none.
  storage::datasource_store* datasources = nullptr;
  /// The HTTP server's own counters, appended to `/metrics`; may be null.
  std::shared_ptr<http_metrics> metrics;
  /// Most items `/api/queue` shows per sub-queue.
  size_t max_queue_peek = 100;
  /// The node's live events for `/api/events`; null: the route answers 404.
  actors::event_hub* events = nullptr;
  /// How long one event stream lasts before the client reconnects (with `Last-Event-ID`, so it
  /// misses nothing): bounds how long a revoked token keeps a stream open.
  std::chrono::seconds events_lifetime{300};
};

/// Adds `GET /api/actors`, `GET /api/queue?limit=N` and `GET /metrics` to `router`. Each needs
/// a token of any class (or anonymous access); the handler asks the tracker who it is, then
/// asks the directory (with high priority) or reads the queue, and renders the answer here:
/// the actors speak only their domain protocols. `/api/queue` and `/api/actors` show a caller
/// only the datasources it may read (`storage::may_read`): the sub-queues and the actors of
/// the others are left out, and an actor working for no datasource (a volume, the supervisor)
/// shows a guest no `current` or `last_error`, which may name items of any datasource.
/// `/metrics` is the same for every class and carries ids, never paths.
/// `GET /api/events` is a Server-Sent Events stream of the node's events (docs/api.md): each
/// `id: <seq>`, `event: <type>`, `data: <JSON>`; a client that reconnects with `Last-Event-ID`
/// (or `?after=N`) gets what it missed while it is still kept, else an `event: reset` and the
/// stream ends (it reads the state again); a guest sees the events of the datasources it may
/// read only.
/// `POST /api/node/@pause|@resume`, `/api/volumes/{id}/@pause|@resume` and
/// `/api/transfers/{volume}/{seq}/@pause|@resume` (class editor and above) pause and resume the
/// node (every datasource and volume), one volume (its transfers and what it would start), or
/// one running transfer (between chunks); 404 for an id that is not running.
void add_node_routes(http_router& router, caf::actor_system& sys, node_routes_init init);

}  // namespace syncline::runtime
