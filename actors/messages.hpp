// actors/messages.hpp: every atom, message type and typed actor interface of the runtime.
// Every binary calls `register_types(cfg)` so that all of them are announced under one name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

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
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_status& x) {
  return f(caf::meta::type_name("actor_status"), x.id, x.kind, x.state, x.mailbox, x.counters,
           x.current, x.last_error, x.children);
}

/// How a transfer ended.
enum class transfer_outcome : uint8_t {
  done,     ///< the action is carried out and waits for the volume's durable sync
  failed,   ///< see `error`
  skipped,  ///< nothing to do any more (row gone, action cleared, parked)
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
///   status          actor_status (ask with high priority)
using datasource_actor = caf::typed_actor<
    caf::reacts_to<register_atom, std::string, caf::actor>,
    caf::replies_to<sync_now_atom>::with<uint64_t>,
    caf::replies_to<pause_atom>::with<bool>,
    caf::replies_to<resume_atom>::with<bool>,
    caf::replies_to<disable_atom>::with<bool>,
    caf::replies_to<enable_atom>::with<bool>,
    caf::replies_to<priority_atom, int32_t>::with<uint64_t>,
    caf::replies_to<completed_atom, std::vector<transfer_report>>::with<bool>,
    caf::replies_to<failure_atom, transfer_report>::with<retry_decision>,
    caf::replies_to<status_atom>::with<actor_status>,
    caf::reacts_to<step_atom, uint64_t>,
    caf::reacts_to<schedule_atom, uint64_t>,
    caf::reacts_to<progress_atom, uint64_t>,
    io_done_handler>;

/// One volume (a site's copy target). Takes items from its sub-queues in priority order and runs
/// at most `syncAmountReception` transfers at once; groups finished copies into one durable
/// sync before reporting them.
///   register ds a    the datasource actor `a` (a datasource_actor) of id `ds`, for reports
///   kick ds          datasource `ds` queued items for this volume
///   pause / resume   the whole volume
///   pause ds / resume ds   one datasource's items
///   xfer_done r      a transfer finished (from its transfer actor)
using volume_actor = caf::typed_actor<
    caf::reacts_to<register_atom, std::string, caf::actor>,
    caf::reacts_to<kick_atom, std::string>,
    caf::replies_to<pause_atom>::with<bool>,
    caf::replies_to<resume_atom>::with<bool>,
    caf::replies_to<pause_atom, std::string>::with<bool>,
    caf::replies_to<resume_atom, std::string>::with<bool>,
    caf::reacts_to<done_atom, transfer_report>,
    caf::reacts_to<retry_atom, storage::queue_ticket>,
    caf::reacts_to<flush_atom, uint64_t>,
    caf::replies_to<status_atom>::with<actor_status>,
    io_done_handler>;

/// One item copy in flight: chunked, pausable between chunks, resumable from its last verified
/// offset. Reports to its volume with `xfer_done` and exits.
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
using supervisor_actor = caf::typed_actor<
    caf::replies_to<pause_atom>::with<bool>,
    caf::replies_to<resume_atom>::with<bool>,
    caf::replies_to<status_atom>::with<actor_status>,
    caf::reacts_to<restart_atom, std::string, uint64_t>,
    io_done_handler>;

/// Announces every message type above (and the error categories' renderers) to `cfg`.
void register_types(caf::actor_system_config& cfg);

}  // namespace syncline::actors

namespace syncline::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_ticket& x) {
  return f(caf::meta::type_name("queue_ticket"), x.volume, x.priority, x.seq);
}

}  // namespace syncline::storage
