// actors/datasource_state.hpp: a datasource actor's state and the steps its sources share
// (internal to actors/: actors/datasource_actor.cpp, actors/datasource_run.cpp and
// actors/datasource_items.cpp; actors/datasource_actor.hpp is the interface). Everything here
// runs on the actor, never in an I/O job.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/datasource_actor.hpp"
#include "actors/messages.hpp"
#include "actors/records.hpp"
#include "connectors/glob.hpp"
#include "connectors/tree_watch.hpp"
#include "storage/run_log.hpp"

namespace syncline::actors {

namespace detail {

/// The querying step's state (defined in actors/datasource_run.cpp).
struct scan_work;

// The priority of each item: the first matching rule, else the datasource's.
struct priority_rules {
  int32_t base = 0;
  std::vector<std::pair<connectors::glob_set, int32_t>> rules;
  int32_t operator()(std::string_view reference) const {
    for (auto& [glob, p] : rules)
      if (glob.matches(reference)) return p;
    return base;
  }
};

// The handle of a datasource's watch (0: none), and whether its actor ended (a watch set up
// after that is ended at once).
struct watch_slot {
  std::mutex mtx;
  uint64_t handle = 0;
  bool ended = false;
  /// Keeps `h`; false when the actor ended meanwhile (the caller ends the watch).
  bool keep(uint64_t h) {
    std::lock_guard<std::mutex> lock{mtx};
    if (ended) return false;
    handle = h;
    return true;
  }
  /// The handle, now forgotten (0: none); `end` also refuses every later `keep`.
  uint64_t take(bool end = false) {
    std::lock_guard<std::mutex> lock{mtx};
    ended = ended || end;
    auto h = handle;
    handle = 0;
    return h;
  }
  bool watching() {
    std::lock_guard<std::mutex> lock{mtx};
    return handle != 0;
  }

  // The changes delivered and not yet taken by a run (on the watcher's thread). Past
  // `max_paths` paths a run over them would cost more than a walk: they become an overflow.
  static constexpr size_t max_paths = 10000;
  std::vector<std::string> paths;
  std::unordered_set<std::string> seen;
  bool overflow = false;  // only a walk of the whole tree is sure
  void add(const connectors::watch_changes& c) {
    std::lock_guard<std::mutex> lock{mtx};
    overflow = overflow || c.overflow || c.root_gone;
    for (auto& p : c.paths) {
      if (overflow) break;
      if (seen.insert(p).second) paths.push_back(p);
      overflow = paths.size() > max_paths;
    }
    if (overflow) {
      paths.clear();
      seen.clear();
    }
  }
  /// The changes gathered so far, now forgotten.
  connectors::watch_changes take_changes() {
    std::lock_guard<std::mutex> lock{mtx};
    connectors::watch_changes out;
    out.paths.swap(paths);
    out.overflow = overflow;
    seen.clear();
    overflow = false;
    return out;
  }
};

}  // namespace detail

struct datasource_state {
  static const char* name;
  node_context* ctx = nullptr;
  datasource_record rec;
  std::map<std::string, volume_actor> volumes;
  std::shared_ptr<connectors::source> source;
  std::shared_ptr<const detail::priority_rules> priority;
  uint64_t writer = 0;  // this incarnation's epoch of the single-writer fence

  std::optional<storage::run_record> run;
  // A run is being numbered (start_run's first job): `run` is still the last one, and no other
  // run may start meanwhile (a sync-now waits for this one's number).
  bool starting_run = false;
  std::shared_ptr<detail::scan_work> scan;  // set while querying
  bool querying_done = false;
  bool finishing = false;            // the run's last steps are queued: finish once
  bool unpark = false;               // this run un-parks items in error
  std::string scan_position;         // how far the merge got (completions before it count)
  uint64_t pending = 0;              // actions of this run still to do
  uint64_t parked = 0;               // actions waiting in error (seen by this run's merge)
  std::vector<std::string> problems;
  std::string run_error;             // first item error of the run
  // The deletion guard, for this run's merge (auto only).
  uint64_t held = 0;                 // removals found and not queued
  uint64_t rows_before = 0;          // rows of every link the merge looked at
  std::string filesystem;            // the source root's filesystem identity now
  std::string held_reason;           // why the held removals stay held ("" when released)

  // Watching the tree (folder, auto or arch, runtime_settings::watch): the folder_watcher's
  // handle, shared with the job that sets it up and the exit handler that ends it.
  std::shared_ptr<detail::watch_slot> watch = std::make_shared<detail::watch_slot>();
  bool watch_starting = false;  // a job is setting the watch up
  bool watch_refused = false;   // too many directories: scanned on the schedule only
  bool watch_dirty = false;     // a change seen that no run has looked at yet

  // A run over the changed paths only (trigger `watch`, docs/runtime.md "Watching"): the paths
  // the watch reported; null for a run that lists the whole tree (and after a pause or crash).
  std::shared_ptr<const std::vector<std::string>> changed;
  std::map<std::string, std::vector<std::string>> held_refs;  // by volume
  // Every reference such a run's merge decided, once it has (its items' completions count
  // in it, no other's).
  std::shared_ptr<const std::unordered_set<std::string>> changed_refs;
  std::vector<std::string> changed_dirs;  // directories whose times such a run sets again
  bool root_empty = false;                // the root held nothing when such a run began
  // The deletion guard of such runs: rows of every link after the last run (the base of
  // max_delete_percent), and the removals such runs released lately (time, count), which
  // count against the limits together with a run's own.
  uint64_t link_rows = 0;
  bool link_rows_known = false;  // a run that listed the whole tree ended in this incarnation
  std::deque<std::pair<int64_t, uint64_t>> recent_removals;

  uint64_t schedule_epoch = 0;
  uint64_t step_epoch = 0;
  uint64_t progress_epoch = 0;
  int64_t progress_last_ms = 0;
  uint64_t progress_last_done = 0;
  uint64_t event_last_moved = 0;  // what the last progress event showed (throttling)

  bool started = false;  // start-up has read the last run and settled the status
  std::vector<std::function<void()>> after_start;  // requests that came before
  bool io_busy = false;
  std::deque<std::function<void()>> io_waiting;
  std::vector<caf::typed_response_promise<uint64_t>> sync_waiters;
};

namespace detail {

using self_ptr = datasource_actor::stateful_pointer<datasource_state>;

/// The datasource's id.
const std::string& id_of(self_ptr self);

// One I/O job at a time: defined in actors/datasource_actor.cpp.

/// Queues a job. `start` runs on the actor when the job's turn comes (so it sees the state as
/// it is then) and must end by calling run_io with a continuation that calls job_done.
void enqueue_job(self_ptr self, std::function<void()> start);
/// Ends the running job and starts the next one waiting.
void job_done(self_ptr self);

// Records and transitions: defined in actors/datasource_actor.cpp.

/// Queues a job that writes the datasource's record.
void save_record(self_ptr self);
/// Queues a job that writes the current run and the record in one batch (none without a run).
void save_run(self_ptr self);
/// Publishes an event of the datasource (actors/event_hub.hpp): `fields` are the JSON members
/// after `"datasource"`, each preceded by a comma.
void publish(self_ptr self, const char* type, const std::string& fields);
/// Moves the datasource's status, refusing (and logging) what the table forbids.
bool set_status(self_ptr self, datasource_status to);
/// Moves the datasource's health, refusing (and logging) what the table forbids.
bool set_health(self_ptr self, sync_health to);
/// Moves the current run's status (false without a run or when the table forbids it).
bool move_run(self_ptr self, storage::run_status to);
/// Whether there is a run that has not ended.
bool run_active(self_ptr self);

// Scheduling and progress: defined in actors/datasource_actor.cpp.

/// Schedules the next run as the type, status and failures say (none for `one`, paused,
/// disabled or in error).
void schedule_next(self_ptr self);
/// Logs one progress line of the current run.
void log_progress(self_ptr self);
/// Sends the next progress tick.
void arm_progress(self_ptr self);
/// Whether the datasource watches its tree (a folder of type auto or arch, watching on).
bool watches(self_ptr self);
/// Sets the watch of the tree up when it watches and has none yet (an I/O job, queued before
/// whatever comes next, so a scan after it misses no change).
void start_watching(self_ptr self);

// The run: defined in actors/datasource_run.cpp.

/// Tells these volumes that new queue items wait.
void kick(self_ptr self, const std::vector<std::string>& volumes);
/// Finishes the run once it is merged and waits for nothing more.
void maybe_finish(self_ptr self);
/// Ends the run in failure; the datasource retries later, stays in error, or quits on a fatal
/// error.
void fail_run(self_ptr self, const caf::error& err);
/// Lists and merges the next batch of the source.
void step(self_ptr self);
/// Starts a run; answers the waiting sync requests with its number, or why there is none.
void start_run(self_ptr self, std::string trigger, bool unpark);
/// Continues a run found unfinished (crash or pause).
void resume_run(self_ptr self);

// Single items: defined in actors/datasource_items.cpp.

/// Volumes report transfers done (or skipped); answers `rp` once the rows are written.
void on_completed(self_ptr self, std::vector<transfer_report> reports,
                  caf::typed_response_promise<bool> rp);
/// A volume reports a failed transfer; answers `rp` with whether and when to retry.
void on_failure(self_ptr self, transfer_report report,
                caf::typed_response_promise<retry_decision> rp);
/// The priority rules of a configuration.
std::shared_ptr<const priority_rules> compile_priority(const datasource_config& c);
/// A new datasource priority; answers `rp` with the number of queue items moved.
void change_priority(self_ptr self, int32_t priority, caf::typed_response_promise<uint64_t> rp);
/// Does one item again (@sendToCompute); answers `rp` with how many of its rows (one per
/// volume) were queued again.
void recompute(self_ptr self, std::string reference, caf::typed_response_promise<uint64_t> rp);

}  // namespace detail

}  // namespace syncline::actors
