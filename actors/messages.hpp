// actors/messages.hpp: every atom, message type and typed actor interface of the runtime.
// Every binary calls `register_types(cfg)` so that all of them are announced under one name.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/error.hpp"
#include "actors/io_pool.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::actors {

// Atoms: at most 10 characters of [A-Za-z0-9_] (CAF-0.17.md, pitfall 2).
using status_atom = caf::atom_constant<caf::atom("status")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using sync_now_atom = caf::atom_constant<caf::atom("sync_now")>;
using disable_atom = caf::atom_constant<caf::atom("disable")>;
using enable_atom = caf::atom_constant<caf::atom("enable")>;
using step_atom = caf::atom_constant<caf::atom("step")>;
using schedule_atom = caf::atom_constant<caf::atom("schedule")>;
using completed_atom = caf::atom_constant<caf::atom("completed")>;
using failure_atom = caf::atom_constant<caf::atom("xfer_fail")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;
using priority_atom = caf::atom_constant<caf::atom("priority")>;
using done_atom = caf::atom_constant<caf::atom("xfer_done")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using unregister_atom = caf::atom_constant<caf::atom("unregister")>;
using find_atom = caf::atom_constant<caf::atom("find")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using tree_atom = caf::atom_constant<caf::atom("tree")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using recompute_atom = caf::atom_constant<caf::atom("recompute")>;
using api_atom = caf::atom_constant<caf::atom("api")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;
using auth_atom = caf::atom_constant<caf::atom("auth")>;

/// What every actor answers to a (high-priority) status request.
struct actor_status {
  std::string id;          ///< unique within the node: `datasource/photos`, `volume/backup`
  std::string kind;        ///< `supervisor`, `datasource`, `volume`, `transfer`, `directory`
  std::string state;       ///< the actor's state machine's state, seed spelling
  uint64_t mailbox = 0;    ///< messages waiting, not counting the status request itself
  std::map<std::string, int64_t> counters;
  std::string current;     ///< what it works on now (an item, a run)
  std::string last_error;
  std::vector<actor_status> children;
  /// The datasource it works for (a datasource's actor, a transfer), else empty: the node's
  /// views show it only to callers who may read that datasource.
  std::string datasource;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_status& x) {
  return f(caf::meta::type_name("actor_status"), x.id, x.kind, x.state, x.mailbox, x.counters,
           x.current, x.last_error, x.children, x.datasource);
}

/// How a transfer ended.
enum class transfer_outcome : uint8_t {
  done,     ///< the action is carried out and waits for the volume's durable sync
  failed,   ///< see `error`
  skipped,  ///< nothing to do any more (row gone, action cleared, parked)
  chunked,  ///< a file of a chunk or more met in a batch: untouched, it goes to a transfer of
            ///< its own (between a batch and its volume only; never reaches a datasource)
};

const char* to_string(transfer_outcome o) noexcept;

/// A transfer's result, from the transfer to its volume and from the volume to the datasource.
struct transfer_report {
  std::string datasource;
  std::string volume;
  std::string reference;
  storage::queue_ticket ticket;
  uint64_t generation = 0;   ///< the row generation the transfer acted on
  transfer_outcome outcome = transfer_outcome::done;
  caf::error error;
  uint64_t bytes = 0;        ///< bytes moved by this attempt
  uint64_t size = 0;         ///< the copied item as it was read
  int64_t mtime_ns = 0;
  bool has_hash = false;
  uint64_t hash = 0;         ///< XXH3-64 of the copied content, when computed
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, transfer_report& x) {
  return f(caf::meta::type_name("transfer_report"), x.datasource, x.volume, x.reference, x.ticket,
           x.generation, x.outcome, x.error, x.bytes, x.size, x.mtime_ns, x.has_hash, x.hash);
}

/// A datasource's answer to a failed transfer: retry after a delay, or drop (parked in error).
struct retry_decision {
  bool retry = false;
  int64_t delay_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retry_decision& x) {
  return f(caf::meta::type_name("retry_decision"), x.retry, x.delay_ms);
}

/// One entry of the directory.
struct directory_entry {
  std::string id;
  std::string kind;
  caf::actor handle;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory_entry& x) {
  return f(caf::meta::type_name("directory_entry"), x.id, x.kind, x.handle);
}

// --- typed interfaces ------------------------------------------------------------------------

/// Internal: an I/O job's continuation (see io_pool.hpp). Every actor that runs I/O has it.
using io_done_handler = caf::reacts_to<io_done_atom, io_continuation>;

/// One datasource. Runs its synchronize cycle, owns its datastore rows, answers status between
/// steps.
///   register v a    volume `v` is now the actor `a` (a volume_actor restarted)
///   sync_now        start a run now (un-parks items in error); replies the run number
///   pause / resume  pause or resume the datasource, its run and its transfers
///   disable/enable  health `disabled`: no run starts; enabling returns to `pending`
///   priority p      set the datasource's sync_priority; re-keys its queued items
///   completed rs    durable completions from a volume; replies when recorded
///   xfer_fail r     a failed transfer; replies whether and when to retry
///   recompute ref   push one item through again (seed 000's @sendToCompute): its action
///                   becomes replace (or stays what it is), un-parked, queued; replies how many
///                   volumes got it (0: no such item)
///   status          actor_status (ask with high priority)
///   watch n whole   its watched tree changed (n paths; `whole`: events were lost or the root
///                   went): a run now, or after the one going on
using datasource_actor = caf::typed_actor<
    caf::reacts_to<register_atom, std::string, caf::actor>,
    caf::replies_to<sync_now_atom>::with<uint64_t>,
    caf::replies_to<sync_now_atom, uint64_t>::with<uint64_t>,
    caf::replies_to<pause_atom>::with<bool>,
    caf::replies_to<resume_atom>::with<bool>,
    caf::replies_to<disable_atom>::with<bool>,
    caf::replies_to<enable_atom>::with<bool>,
    caf::replies_to<priority_atom, int32_t>::with<uint64_t>,
    caf::replies_to<completed_atom, std::vector<transfer_report>>::with<bool>,
    caf::replies_to<failure_atom, transfer_report>::with<retry_decision>,
    caf::replies_to<recompute_atom, std::string>::with<uint64_t>,
    caf::replies_to<status_atom>::with<actor_status>,
    caf::reacts_to<step_atom, uint64_t>,
    caf::reacts_to<schedule_atom, uint64_t>,
    caf::reacts_to<progress_atom, uint64_t>,
    caf::reacts_to<watch_atom, uint64_t, bool>,
    io_done_handler>;

/// One volume (a site's copy target). Takes items from its sub-queues in priority order and runs
/// at most `syncAmountReception` transfers at once; groups finished copies into one durable
/// sync before reporting them.
///   register ds a    the datasource actor `a` (a datasource_actor) of id `ds`, for reports
///   unregister ds    datasource `ds` is gone: forget its sub-queue
///   kick ds          datasource `ds` queued items for this volume
///   pause / resume   the whole volume
///   pause ds / resume ds   one datasource's items
///   pause n / resume n     its running transfer of ticket `seq` n; false when none runs
///   xfer_done r      a transfer finished (from its transfer actor)
///   xfer_done rs     a batch of small files finished (from its transfer actor), one report each
using volume_actor = caf::typed_actor<
    caf::reacts_to<register_atom, std::string, caf::actor>,
    caf::reacts_to<unregister_atom, std::string>,
    caf::reacts_to<kick_atom, std::string>,
    caf::replies_to<pause_atom>::with<bool>,
    caf::replies_to<resume_atom>::with<bool>,
    caf::replies_to<pause_atom, std::string>::with<bool>,
    caf::replies_to<resume_atom, std::string>::with<bool>,
    caf::replies_to<pause_atom, uint64_t>::with<bool>,
    caf::replies_to<resume_atom, uint64_t>::with<bool>,
    caf::reacts_to<done_atom, transfer_report>,
    caf::reacts_to<done_atom, std::vector<transfer_report>>,
    caf::reacts_to<retry_atom, storage::queue_ticket>,
    caf::reacts_to<flush_atom, uint64_t>,
    caf::replies_to<status_atom>::with<actor_status>,
    io_done_handler>;

/// One item copy in flight: chunked, pausable between chunks, resumable from its last verified
/// offset; or a batch of small files (below one chunk), pausable between files. Reports to its
/// volume with `xfer_done` (one report, or a batch's reports in one message) and exits.
using transfer_actor = caf::typed_actor<
    caf::reacts_to<pause_atom>,
    caf::reacts_to<resume_atom>,
    caf::reacts_to<cancel_atom>,
    caf::reacts_to<step_atom, uint64_t>,
    caf::replies_to<status_atom>::with<actor_status>,
    io_done_handler>;

/// The node's registry of long-lived actors, read by the console and the HTTP API.
using directory_actor = caf::typed_actor<
    caf::reacts_to<register_atom, directory_entry>,
    caf::reacts_to<unregister_atom, std::string>,
    caf::replies_to<find_atom, std::string>::with<caf::actor>,
    caf::replies_to<list_atom>::with<std::vector<directory_entry>>,
    caf::replies_to<tree_atom>::with<actor_status>,
    caf::replies_to<status_atom>::with<actor_status>>;

/// The node's root: starts volumes and datasources, restarts crashed ones with backoff, parks
/// the ones in `error`, pauses and resumes everything.
///   add rec acc   make and start a new datasource (`rec`: actors::encode(datasource_record),
///                 `acc`: storage::datasource_store::encode(its access list)), both stored in
///                 one batch; `already_exists` when the id exists, `bad_request` when a volume
///                 is unknown or targets overlap
///   update rec    replace a datasource's configuration: its actor stops, then its successor
///                 starts from the new record (the writer fence keeps them apart)
///   delete id     stop a datasource and delete its record, rows, runs and queue items (the
///                 copies on the volumes stay)
using supervisor_actor = caf::typed_actor<
    caf::replies_to<caf::add_atom, std::string, std::string>::with<bool>,
    caf::replies_to<caf::update_atom, std::string>::with<bool>,
    caf::replies_to<caf::delete_atom, std::string>::with<bool>,
    caf::replies_to<pause_atom>::with<bool>,
    caf::replies_to<resume_atom>::with<bool>,
    caf::replies_to<status_atom>::with<actor_status>,
    caf::reacts_to<restart_atom, std::string, uint64_t>,
    io_done_handler>;

/// The tracker's operations: damas-core's routes and authentication.
enum class api_op : uint8_t {
  create, read, update, upsert, remove, search, search_one, search_mongo, graph, comment,
  publish, version, lock, unlock, sign_in, sign_out, verify, create_token, graph_backwards,
  graph_forwards,
  changes,  ///< the change feed (`GET /api/changes`), ours: seed 003's sites follow it
  /// ours: a site records where an element's copies are (`synced_<site>`, `syncing_<site>`,
  /// `syncError_<site>`, `syncLastAttempt_<site>`) without changing `time` or `author`, even
  /// on a locked element (`/api/syncState`)
  sync_state,
};

/// `"create"` ... as damas-core names the route (`remove` is `"delete"`, `sign_in` `"signIn"`).
const char* to_string(api_op op) noexcept;
/// Whether `op` may change state (reads, searches, verify and the feed do not): such requests
/// pass the browser rules first (runtime/request_guard.hpp).
bool changes_state(api_op op) noexcept;

/// How a request that succeeded ended (damas-core answers 200, 201 and 207 for them).
enum class answer_kind : uint8_t {
  done,     ///< read, changed or deleted as asked
  created,  ///< new elements or records exist
  partial,  ///< some of the ids named exist, the others are `null` in the answer
  accepted, ///< the work asked for is under way (a run, a recompute)
};

/// The answer of an API actor (the tracker, the datasource API), in the API's own terms: the
/// JSON document of damas-core's or seed 000's answer, or the error that refused the request.
/// runtime/ turns it into HTTP (runtime/api_errors.hpp maps the error's code to a status).
struct api_answer {
  caf::error error;  ///< set: the request failed or was refused; `json` is unused
  answer_kind kind = answer_kind::done;
  std::string json;
  /// signOut: the token the request presented is revoked (the HTTP layer forgets its cookie).
  bool token_revoked = false;
  /// signIn: the token issued and how long it lives, in seconds (the HTTP layer also keeps it
  /// for a browser, as its cookie).
  std::string issued_token;
  int64_t issued_token_ttl_s = 0;
  /// A datasource was created: its id (the HTTP layer names its place, `Location`).
  std::string created_id;
  /// A refusal the caller may retry after this many seconds (0: no advice).
  uint32_t retry_after_s = 0;
};

/// A success of kind `kind` with the JSON document `json`.
api_answer answer_json(answer_kind kind, std::string json);
/// A refusal or a failure: `err`, whose code decides the status.
api_answer answer_error(caf::error err);
/// A refusal: `code` with `message`, the text the caller reads.
api_answer refuse(actors_errc code, std::string message);

/// Delivers the answer; callable once, from any thread, never blocks.
using api_answer_sink = std::function<void(api_answer)>;

/// One tracker request, as the route module read it from the route, the body and the
/// credentials. Local only (it carries a continuation).
struct tracker_command {
  api_op op = api_op::read;
  /// The request body as sent.
  std::string body;
  /// The body is `application/x-www-form-urlencoded` (else JSON).
  bool form_body = false;
  /// read and graph: ids given in the path (`read/a,b`), percent-decoded; see `ids_in_path`.
  std::vector<std::string> path_ids;
  bool ids_in_path = false;
  /// search, search_one: the query; version: the element id; graph: the depth as written.
  std::string arg;
  /// changes: the cursor, the most changes to answer, and how long to wait for one when
  /// there are none after the cursor (0: answer at once).
  uint64_t since = 0;
  uint32_t limit = 0;
  uint32_t wait_s = 0;
  /// The token presented; empty: none given.
  std::string token;
  /// Credentials were presented in a form that is not a token (refused as unauthenticated).
  bool bad_credentials = false;
  /// The peer, for logs.
  std::string remote;
  api_answer_sink respond;
};

/// Seed 000's datasource operations, as the route module names them from the path and the
/// method (docs/api.md lists the routes).
enum class datasource_op : uint8_t {
  list,         ///< the workspace's datasources
  create,       ///< a new datasource (POST on the workspace)
  read,         ///< one datasource
  put,          ///< a new datasource under the id of the path
  change,       ///< a change of configuration, status or health (PATCH)
  remove,       ///< delete the datasource (its copies stay)
  spyder,       ///< @sendToSpyder: a run now (optionally confirming held deletions)
  compute,      ///< @sendToCompute: push one item through again
  children,     ///< @getAllChildren: a page of the items
  frontsearch,  ///< @frontsearch: a page of the items matching a query
  credentials,  ///< @refreshServiceCredentials
  pause,        ///< @pause
  resume,       ///< @resume
  runs,         ///< @runs: the run history
  share,        ///< @share: invite users
  accept,       ///< @accept: take an invitation
};

/// `"list"`, `"create"`, ... for logs.
const char* to_string(datasource_op op) noexcept;
/// Whether `op` may change state (list, read, children, frontsearch and runs do not).
bool changes_state(datasource_op op) noexcept;

/// One datasource request (seed 000's routes under
/// `/api/{container}/{account}/workspaces/{workspace}/`), as the route module read it and the
/// tracker authenticated it. Local only (it carries a continuation).
struct datasource_command {
  datasource_op op = datasource_op::read;
  /// The workspace the path names (checked: datasource_schema.hpp's part_problem); all three
  /// empty for `list`: every workspace (`GET /api/datasources`).
  std::string container, account, workspace;
  /// The datasource (checked: id_problem); empty for list and create.
  std::string id;
  /// compute: the item's reference, relative, without `.` or `..` segments.
  std::string resource;
  /// The decoded query parameters in order, and the body as sent (JSON; may be empty).
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  /// Who asks: the user's name (`anonymous` for anonymous access) and class (a
  /// storage::user_class value).
  std::string user;
  uint8_t user_class = 0;
  /// The peer, for logs.
  std::string remote;
  api_answer_sink respond;
};

/// The tracker (actors/tracker_actor.hpp).
///   api c     answer the command `c` through `c.respond`
///   purge     delete expired tokens (the tracker sends it to itself every few minutes)
///   status    actor_status (ask with high priority); its counters are the tracker's
///             (requests, refused, failed, token_cache_hits, pool_jobs, ...)
///   auth token bad   who presents `token` (empty: none; `bad`: credentials that are not a
///             token): (user name, storage::user_class value, anonymous); `unauthenticated`
///             when nobody may be
using tracker_actor = caf::typed_actor<
    caf::reacts_to<api_atom, tracker_command>,
    caf::replies_to<auth_atom, std::string, bool>::with<std::string, uint8_t, bool>,
    caf::reacts_to<purge_atom>,
    caf::replies_to<status_atom>::with<actor_status>,
    io_done_handler>;

/// The datasource routes of seed 000 (actors/datasource_api_actor.hpp). The route module
/// (runtime/api_routes.cpp) hands it the requests the tracker has authenticated.
///   api c     answer the command `c` through `c.respond`
///   status    actor_status (ask with high priority)
using datasource_api_actor = caf::typed_actor<
    caf::reacts_to<api_atom, datasource_command>,
    caf::replies_to<status_atom>::with<actor_status>,
    io_done_handler>;

/// Announces every message type above (and the error categories' renderers) to `cfg`.
void register_types(caf::actor_system_config& cfg);

}  // namespace syncline::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(syncline::actors::datasource_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(syncline::actors::tracker_command)

namespace syncline::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_ticket& x) {
  return f(caf::meta::type_name("queue_ticket"), x.volume, x.priority, x.seq);
}

}  // namespace syncline::storage
