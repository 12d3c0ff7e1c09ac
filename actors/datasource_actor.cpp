#include "actors/datasource_actor.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/scan_merge.hpp"
#include "actors/targets.hpp"
#include "connectors/error.hpp"
#include "connectors/glob.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "storage/database.hpp"
#include "storage/error.hpp"

namespace syncline::actors {

namespace {

using storage::datastore_row;
using storage::pending_action;
using storage::run_record;

// The querying step's state; lives in the I/O jobs, one at a time.
struct scan_work {
  std::unique_ptr<connectors::listing> listing;
  std::vector<std::unique_ptr<link_merger>> mergers;
  std::vector<std::string> volumes;  // parallel to mergers
  std::vector<connectors::item_info> items;
  std::string position;
  std::string filesystem;  // the source root's filesystem identity when the run began
};

struct step_result {
  caf::error error;
  bool more = false;
  uint64_t listed = 0;
  merge_stats stats;
  std::vector<std::string> kicked;  // volumes that got new queue items
  std::string position;
};

struct completion_result {
  caf::error error;
  uint64_t done = 0;        // actions completed (counted in this run)
  uint64_t bytes = 0;
  uint64_t requeued = 0;    // completions of an older generation, queued again
  std::vector<std::string> kicked;
};

struct failure_result {
  caf::error error;
  retry_decision decision;
  bool vanished = false;    // the source no longer has the item: handled as the merge would
  bool settled = false;     // ... and the run waits for nothing more of it
  bool removal_waits = false;  // ... and its copy's removal waits for the next run
  bool parked = false;
  bool counted = false;
  bool fatal = false;
  std::string kicked;
};

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

}  // namespace

struct datasource_state {
  static const char* name;
  node_context* ctx = nullptr;
  datasource_record rec;
  std::map<std::string, volume_actor> volumes;
  std::shared_ptr<connectors::source> source;
  std::shared_ptr<const priority_rules> priority;
  uint64_t writer = 0;  // this incarnation's epoch of the single-writer fence

  std::optional<run_record> run;
  std::shared_ptr<scan_work> scan;  // set while querying
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

  uint64_t schedule_epoch = 0;
  uint64_t step_epoch = 0;
  uint64_t progress_epoch = 0;
  int64_t progress_last_ms = 0;
  uint64_t progress_last_done = 0;

  bool started = false;  // start-up has read the last run and settled the status
  std::vector<std::function<void()>> after_start;  // requests that came before
  bool io_busy = false;
  std::deque<std::function<void()>> io_waiting;
  std::vector<caf::typed_response_promise<uint64_t>> sync_waiters;
};

const char* datasource_state::name = "datasource";

namespace {

using self_ptr = datasource_actor::stateful_pointer<datasource_state>;

const std::string& id_of(self_ptr self) { return self->state.rec.config.id; }

// --- one I/O job at a time ------------------------------------------------------------------

void start_next_job(self_ptr self) {
  auto& st = self->state;
  if (st.io_busy || st.io_waiting.empty()) return;
  st.io_busy = true;
  auto job = std::move(st.io_waiting.front());
  st.io_waiting.pop_front();
  job();
}

// Queues a job. `start` runs on the actor when the job's turn comes (so it sees the state as
// it is then) and must end by calling run_io with a continuation that calls job_done.
void enqueue_job(self_ptr self, std::function<void()> start) {
  self->state.io_waiting.push_back(std::move(start));
  start_next_job(self);
}

void job_done(self_ptr self) {
  self->state.io_busy = false;
  start_next_job(self);
}

// --- records and transitions ----------------------------------------------------------------

void save_record(self_ptr self) {
  enqueue_job(self, [self] {
    auto rec = self->state.rec;
    auto* ctx = self->state.ctx;
    auto writer = self->state.writer;
    run_io(self, ctx->pool(),
           [ctx, rec, writer] {
             storage::write_batch batch{ctx->db()};
             stage(ctx->datasources(), batch, rec);
             return ctx->write_as(rec.config.id, writer, batch);
           },
           [self](caf::error err) {
             if (err) spdlog::error("datasource {}: cannot save its record: {}", id_of(self),
                                    render(err));
             job_done(self);
           });
  });
}

void save_run(self_ptr self) {
  if (!self->state.run) return;
  enqueue_job(self, [self] {
    auto run = *self->state.run;
    auto rec = self->state.rec;
    auto* ctx = self->state.ctx;
    auto writer = self->state.writer;
    run_io(self, ctx->pool(),
           [ctx, run, rec, writer] {
             storage::write_batch batch{ctx->db()};
             ctx->runs().stage(batch, run);
             stage(ctx->datasources(), batch, rec);
             return ctx->write_as(rec.config.id, writer, batch);
           },
           [self](caf::error err) {
             if (err) spdlog::error("datasource {}: cannot save its run: {}", id_of(self),
                                    render(err));
             job_done(self);
           });
  });
}

// Moves the datasource's status, refusing (and logging) what the table forbids.
bool set_status(self_ptr self, datasource_status to) {
  if (auto err = move_status(self->state.rec, to)) {
    spdlog::warn("datasource {}: {}", id_of(self), render(err));
    return false;
  }
  return true;
}

bool set_health(self_ptr self, sync_health to) {
  if (auto err = move_health(self->state.rec, to)) {
    spdlog::warn("datasource {}: {}", id_of(self), render(err));
    return false;
  }
  return true;
}

bool move_run(self_ptr self, storage::run_status to) {
  auto& run = self->state.run;
  if (!run || run->status == to) return run.has_value();
  if (auto err = check(run->status, to)) {
    spdlog::warn("datasource {} run {}: {}", id_of(self), run->number, render(err));
    return false;
  }
  run->move_to(to, self->state.ctx->now_ms());
  return true;
}

bool run_active(self_ptr self) {
  auto& run = self->state.run;
  return run && !storage::is_final(run->status);
}

// --- scheduling -----------------------------------------------------------------------------

void schedule_at(self_ptr self, int64_t when_ms) {
  auto& st = self->state;
  st.rec.next_run_ms = when_ms;
  auto delay = std::max<int64_t>(0, when_ms - st.ctx->now_ms());
  self->delayed_send(self, std::chrono::milliseconds{delay}, schedule_atom::value,
                     ++st.schedule_epoch);
}

void schedule_next(self_ptr self) {
  auto& st = self->state;
  auto& c = st.rec.config;
  if (c.sync == sync_type::one || st.rec.health == sync_health::disabled ||
      st.rec.status == datasource_status::paused || st.rec.status == datasource_status::error) {
    st.rec.next_run_ms = 0;
    ++st.schedule_epoch;
    return;
  }
  int64_t delay_ms = 0;
  if (st.rec.status == datasource_status::failed) {
    delay_ms = backoff(st.ctx->settings().retry, st.rec.run_failures, st.ctx->random()).count();
  } else {
    auto lo = std::max<int64_t>(1, c.schedule_min_s) * 1000;
    auto hi = std::max<int64_t>(lo, c.schedule_max_s * 1000);
    delay_ms = lo + static_cast<int64_t>(st.ctx->random() % static_cast<uint64_t>(hi - lo + 1));
  }
  schedule_at(self, st.ctx->now_ms() + delay_ms);
}

// --- progress -------------------------------------------------------------------------------

void log_progress(self_ptr self) {
  auto& st = self->state;
  if (!st.run) return;
  auto& c = st.run->counters;
  auto now = st.ctx->now_ms();
  // The rate since the last line, or over the whole run for the first one.
  double rate = 0;
  auto since = st.progress_last_ms > 0 ? st.progress_last_ms : st.run->started_ms;
  auto done_since = st.progress_last_ms > 0 ? c.done - st.progress_last_done : c.done;
  if (now > since) rate = static_cast<double>(done_since) * 1000.0 / static_cast<double>(now - since);
  st.progress_last_ms = now;
  st.progress_last_done = c.done;
  spdlog::info(
      "datasource {} run {}: {}, listed {}, done {}/{} items, {}/{} bytes, {:.0f} items/s, "
      "{} failed",
      id_of(self), st.run->number, storage::to_string(st.run->status), c.listed, c.done,
      c.done + st.pending, c.bytes_done, c.bytes_total, rate, c.failed);
}

void arm_progress(self_ptr self) {
  auto& st = self->state;
  self->delayed_send(self, std::chrono::milliseconds{st.ctx->settings().progress_interval_ms},
                     progress_atom::value, ++st.progress_epoch);
}

// --- the run ----------------------------------------------------------------------------------

void kick(self_ptr self, const std::vector<std::string>& volumes) {
  for (auto& v : volumes) {
    auto i = self->state.volumes.find(v);
    if (i != self->state.volumes.end()) self->send(i->second, kick_atom::value, id_of(self));
  }
}

void finish_run(self_ptr self);

void maybe_finish(self_ptr self) {
  auto& st = self->state;
  if (st.run && st.run->status == storage::run_status::in_progress && st.querying_done &&
      !st.finishing && st.pending == 0)
    finish_run(self);
}

void fail_run(self_ptr self, const caf::error& err) {
  auto& st = self->state;
  auto cls = classify(err);
  spdlog::error("datasource {} run {} failed ({}): {}", id_of(self),
                st.run ? st.run->number : 0, to_string(cls), render(err));
  st.scan.reset();
  ++st.step_epoch;
  if (st.run) {
    st.run->error = render(err);
    move_run(self, storage::run_status::failed);
  }
  st.rec.last_error = render(err);
  ++st.rec.run_failures;
  if (cls == failure_class::retry && st.rec.run_failures < st.ctx->settings().retry.max_attempts)
    set_status(self, datasource_status::failed);
  else
    set_status(self, datasource_status::error);
  set_health(self, sync_health::failed);
  schedule_next(self);
  save_run(self);
  for (auto& w : st.sync_waiters) w.deliver(err);
  st.sync_waiters.clear();
  if (cls == failure_class::fatal) self->quit(err);
}

void step(self_ptr self);

void begin_querying(self_ptr self) {
  auto& st = self->state;
  if (st.run) {
    // A resumed run merges everything again: what the merge counts starts afresh (items
    // already decided show up as pending, not as added again), and the bytes to move are what
    // is done plus what the merge finds pending.
    auto& c = st.run->counters;
    c.listed = 0;
    c.unchanged = 0;
    c.bytes_total = c.bytes_done;
  }
  st.querying_done = false;
  st.finishing = false;
  st.pending = 0;
  st.parked = 0;
  st.held = 0;
  st.rows_before = 0;
  st.held_reason.clear();
  st.scan_position.clear();
  st.problems.clear();
  auto epoch = ++st.step_epoch;
  enqueue_job(self, [self, epoch] {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto source = s.source;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    merge_options opts;
    opts.type = s.rec.config.sync;
    opts.compare_hash = s.rec.config.compare_hash;
    opts.unpark = s.unpark;
    opts.hold_removals = s.rec.config.sync == sync_type::auto_;
    auto rules = s.priority;
    opts.priority = [rules](std::string_view ref) { return (*rules)(ref); };
    using result = std::pair<caf::error, std::shared_ptr<scan_work>>;
    auto number = s.run ? s.run->number : 0;
    run_io(self, ctx->pool(),
           [ctx, source, id, volumes, opts, number]() -> result {
             auto work = std::make_shared<scan_work>();
             if (auto err = source->check()) return {err, nullptr};
             work->filesystem = source->filesystem_identity();
             source->on_run(number);
             auto listing = source->list();
             if (!listing) return {std::move(listing.error()), nullptr};
             work->listing = std::move(*listing);
             for (auto& v : volumes) {
               work->mergers.push_back(
                   std::make_unique<link_merger>(ctx->rows(), ctx->queue(), id, v, opts));
               work->volumes.push_back(v);
             }
             return {caf::none, std::move(work)};
           },
           [self, epoch](result r) {
             auto& cur = self->state;
             if (r.first) {
               fail_run(self, r.first);
             } else if (epoch == cur.step_epoch) {
               cur.filesystem = r.second->filesystem;
               cur.scan = std::move(r.second);
               self->send(self, step_atom::value, epoch);
             }
             job_done(self);
           });
  });
}

// The listing is merged: the run's transfers are all queued, but for held removals.
void end_querying(self_ptr self) {
  auto& st = self->state;
  st.querying_done = true;
  // Items this run waits for may have been queued before it, by an incarnation that ended
  // before it told the volumes (its kick died with it): tell them now.
  if (st.pending > 0) kick(self, st.rec.config.volumes);
  move_run(self, storage::run_status::queued);
  move_run(self, storage::run_status::in_progress);
  save_run(self);
  maybe_finish(self);
}

// Why this run's removals may not go ahead by themselves; "" when they may.
std::string guard_reason(const datasource_state& st) {
  auto& c = st.rec.config;
  std::vector<std::string> why;
  if (st.run && st.run->counters.listed == 0 && st.rows_before > 0)
    why.push_back("the source folder is empty");
  if (!st.rec.source_fs.empty() && !st.filesystem.empty() && st.rec.source_fs != st.filesystem)
    why.push_back("the source folder is on another filesystem (" + st.filesystem +
                  ") than at its first run (" + st.rec.source_fs + ")");
  if (c.max_delete > 0 && st.held > c.max_delete)
    why.push_back("more than max_delete = " + std::to_string(c.max_delete));
  if (c.max_delete_percent < 100 && st.held * 100 > uint64_t{c.max_delete_percent} * st.rows_before)
    why.push_back("more than max_delete_percent = " + std::to_string(c.max_delete_percent) +
                  "% of the " + std::to_string(st.rows_before) + " items");
  std::string out;
  for (auto& w : why) out += (out.empty() ? "" : "; ") + w;
  return out;
}

// The deletion guard, once the merge is done: the removals it found and held back are queued
// if they look meant (or a person confirmed at least that many); else they stay in the
// datastore, unqueued, and the run ends in error once its adds and changes are done.
void guard_removals(self_ptr self) {
  auto& st = self->state;
  if (st.rec.source_fs.empty() && !st.filesystem.empty()) st.rec.source_fs = st.filesystem;
  if (st.held == 0) {
    st.rec.held_removals = 0;
    st.rec.confirmed_removals = 0;
    end_querying(self);
    return;
  }
  auto reason = guard_reason(st);
  bool confirmed = st.rec.confirmed_removals > 0 && st.held <= st.rec.confirmed_removals;
  if (!reason.empty() && !confirmed) {
    if (st.rec.confirmed_removals > 0)
      reason += "; " + std::to_string(st.rec.confirmed_removals) + " were confirmed, fewer than " +
                std::to_string(st.held) + " now";
    st.held_reason = reason;
    st.rec.held_removals = st.held;
    st.rec.confirmed_removals = 0;
    spdlog::warn("datasource {}: run {} holds back {} removal(s): {}", id_of(self),
                 st.run->number, st.held, reason);
    end_querying(self);
    return;
  }
  if (!reason.empty())
    spdlog::info("datasource {}: run {} releases {} removal(s) a person confirmed", id_of(self),
                 st.run->number, st.held);
  auto epoch = st.step_epoch;
  enqueue_job(self, [self, epoch] {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    auto writer = s.writer;
    auto rules = s.priority;
    using result = std::pair<caf::error, uint64_t>;
    run_io(self, ctx->pool(),
           [ctx, id, volumes, writer, rules]() -> result {
             storage::write_batch batch{ctx->db()};
             uint64_t released = 0;
             auto priority = [rules](std::string_view ref) { return (*rules)(ref); };
             for (auto& v : volumes) {
               auto n = release_removals(ctx->rows(), ctx->queue(), id, v, priority, batch);
               if (!n) return {std::move(n.error()), 0};
               released += *n;
             }
             return {ctx->write_as(id, writer, batch), released};
           },
           [self, epoch](result r) {
             auto& cur = self->state;
             if (r.first) {
               fail_run(self, r.first);
             } else if (epoch == cur.step_epoch) {
               cur.pending += r.second;
               cur.held = 0;
               cur.rec.held_removals = 0;
               cur.rec.confirmed_removals = 0;
               end_querying(self);
             }
             job_done(self);
           });
  });
}

void step(self_ptr self) {
  auto epoch = self->state.step_epoch;
  enqueue_job(self, [self, epoch] {
    auto& s = self->state;
    if (epoch != s.step_epoch || !s.scan || !s.run) {
      job_done(self);
      return;
    }
    auto* ctx = s.ctx;
    auto work = s.scan;
    auto run = *s.run;
    auto batch_size = ctx->settings().scan_batch;
    auto writer = s.writer;
    run_io(self, ctx->pool(),
           [ctx, work, run, batch_size, writer]() mutable {
             step_result r;
             work->items.clear();
             auto more = work->listing->next(work->items, batch_size);
             if (!more) {
               r.error = std::move(more.error());
               return r;
             }
             r.more = *more;
             r.listed = work->items.size();
             storage::write_batch batch{ctx->db()};
             for (size_t i = 0; i < work->mergers.size(); ++i) {
               merge_stats link;
               if (auto err = work->mergers[i]->merge(work->items, !r.more, batch, link)) {
                 r.error = err;
                 return r;
               }
               if (link.queued > 0) r.kicked.push_back(work->volumes[i]);
               r.stats.added += link.added;
               r.stats.replaced += link.replaced;
               r.stats.removed += link.removed;
               r.stats.unchanged += link.unchanged;
               r.stats.unreadable += link.unreadable;
               r.stats.pending += link.pending;
               r.stats.parked += link.parked;
               r.stats.bytes_pending += link.bytes_pending;
               r.stats.queued += link.queued;
               r.stats.held += link.held;
               r.stats.rows += link.rows;
               for (auto& p : link.problems) r.stats.problems.push_back(p);
             }
             if (!work->mergers.empty()) work->position = work->mergers.front()->position();
             r.position = work->position;
             auto& c = run.counters;
             c.listed += r.listed;
             c.added += r.stats.added;
             c.replaced += r.stats.replaced;
             c.removed += r.stats.removed;
             c.unchanged += r.stats.unchanged;
             c.bytes_total += r.stats.bytes_pending;
             ctx->runs().stage(batch, run);
             r.error = ctx->write_as(run.datasource, writer, batch);
             return r;
           },
           [self, epoch](step_result r) {
             auto& cur = self->state;
             if (r.error) {
               fail_run(self, r.error);
               job_done(self);
               return;
             }
             if (cur.run) {
               auto& c = cur.run->counters;
               c.listed += r.listed;
               c.added += r.stats.added;
               c.replaced += r.stats.replaced;
               c.removed += r.stats.removed;
               c.unchanged += r.stats.unchanged;
               c.bytes_total += r.stats.bytes_pending;
             }
             cur.pending += r.stats.pending;
             cur.parked += r.stats.parked;
             cur.held += r.stats.held;
             cur.rows_before += r.stats.rows;
             cur.scan_position = r.position;
             for (auto& p : r.stats.problems)
               if (cur.problems.size() < 20) cur.problems.push_back(p);
             if (r.stats.unreadable > 0)
               spdlog::warn("datasource {}: {} unreadable entries (first: {})", id_of(self),
                            r.stats.unreadable,
                            r.stats.problems.empty() ? "" : r.stats.problems.front());
             kick(self, r.kicked);
             if (epoch == cur.step_epoch) {
               if (r.more) {
                 self->send(self, step_atom::value, epoch);
               } else {
                 cur.scan.reset();
                 guard_removals(self);
               }
             }
             job_done(self);
           });
  });
}

void start_run(self_ptr self, std::string trigger, bool unpark) {
  auto& st = self->state;
  if (!set_status(self, datasource_status::syncing)) {
    // Whoever asked for this run hears why there is none (a dropped promise answers nothing).
    auto err = make_error(actors_errc::forbidden_transition,
                          "datasource " + id_of(self) + " cannot start a run from status " +
                              to_string(st.rec.status));
    for (auto& w : st.sync_waiters) w.deliver(err);
    st.sync_waiters.clear();
    return;
  }
  st.unpark = unpark;
  st.run_error.clear();
  ++st.schedule_epoch;
  st.rec.next_run_ms = 0;
  enqueue_job(self, [self, trigger] {
    auto* ctx = self->state.ctx;
    auto id = id_of(self);
    auto rec = self->state.rec;
    auto writer = self->state.writer;
    run_io(self, ctx->pool(),
           [ctx, id, trigger, rec, writer]() -> caf::expected<run_record> {
             // Numbered here rather than by run_log::begin: this job is the datasource's only
             // writer, and the fence keeps a replaced incarnation from numbering a run too.
             auto last = ctx->runs().last(id);
             if (!last) return std::move(last.error());
             run_record run;
             run.datasource = id;
             run.number = *last ? (*last)->number + 1 : 1;
             run.trigger = trigger;
             run.started_ms = ctx->now_ms();
             run.move_to(storage::run_status::started, run.started_ms);
             storage::write_batch batch{ctx->db()};
             stage(ctx->datasources(), batch, rec);
             ctx->runs().stage(batch, run);
             if (auto err = ctx->write_as(id, writer, batch)) return err;
             return run;
           },
           [self](caf::expected<run_record> run) {
             auto& s = self->state;
             if (!run) {
               fail_run(self, run.error());
               job_done(self);
               return;
             }
             s.run = std::move(*run);
             spdlog::info("datasource {}: run {} started ({})", id_of(self), s.run->number,
                          s.run->trigger);
             for (auto& w : s.sync_waiters) w.deliver(s.run->number);
             s.sync_waiters.clear();
             move_run(self, storage::run_status::querying);
             s.progress_last_ms = 0;
             arm_progress(self);
             begin_querying(self);
             job_done(self);
           });
  });
}

void close_run(self_ptr self);

// Sets directory mtimes on every volume (adding children changed them), then closes the run:
// `success` is only reported once the target matches, directory times included.
void finish_run(self_ptr self) {
  auto& st = self->state;
  auto& c = st.run->counters;
  st.finishing = true;
  bool changed = c.added + c.replaced + c.removed + c.done > 0;
  if (!changed) {
    close_run(self);
    return;
  }
  enqueue_job(self, [self] {
    auto* ctx = self->state.ctx;
    auto id = id_of(self);
    auto volumes = self->state.rec.config.volumes;
    run_io(self, ctx->pool(),
           [ctx, id, volumes] {
             for (auto& v : volumes) {
               auto conn = ctx->target(id, v);
               if (!conn) {
                 spdlog::debug("datasource {}: directory times in {}: {}", id, v,
                               render(conn.error()));
                 continue;
               }
               auto cur = ctx->rows().scan(datastore_scope(id, v));
               for (; cur.valid(); cur.next()) {
                 auto& row = cur.row();
                 if ((row.flags & datastore_row::flag_directory) == 0 ||
                     row.action != pending_action::none)
                   continue;
                 if (auto err = (*conn)->set_mtime(row.reference, row.mtime_ns))
                   spdlog::debug("datasource {}: mtime of {}: {}", id, row.reference,
                                 render(err));
               }
               if (cur.status()) return cur.status();
               if (auto err = (*conn)->sync()) return err;
             }
             return caf::error{};
           },
           [self](caf::error err) {
             if (err) spdlog::warn("datasource {}: directory times: {}", id_of(self), render(err));
             close_run(self);
             job_done(self);
           });
  });
}

void close_run(self_ptr self) {
  auto& st = self->state;
  auto& c = st.run->counters;
  bool failed = c.failed > 0 || st.parked > 0 || !st.held_reason.empty();
  if (failed) {
    st.run->error = st.run_error.empty() && c.failed + st.parked > 0
                        ? std::to_string(c.failed + st.parked) +
                              " items failed and wait for a person"
                        : st.run_error;
    if (!st.held_reason.empty()) {
      auto n = std::to_string(st.rec.held_removals);
      st.run->error = n + " removal(s) held back, nothing removed: " + st.held_reason +
                      ". If they are meant, confirm with @sendToSpyder {\"confirm_deletes\": " +
                      n + "}; else fix the source and collect again" +
                      (st.run->error.empty() ? "" : ". Also: " + st.run->error);
    }
    move_run(self, storage::run_status::failed);
    st.rec.last_error = st.run->error;
    set_status(self, datasource_status::error);
    set_health(self, sync_health::failed);
  } else {
    move_run(self, storage::run_status::success);
    st.rec.last_error.clear();
    st.rec.run_failures = 0;
    set_status(self, datasource_status::synced);
    set_health(self, sync_health::healthy);
  }
  log_progress(self);
  spdlog::info("datasource {}: run {} {} ({} added, {} replaced, {} removed, {} done, {} failed)",
               id_of(self), st.run->number, storage::to_string(st.run->status), c.added,
               c.replaced, c.removed, c.done, c.failed + st.parked);
  ++st.progress_epoch;
  schedule_next(self);
  save_run(self);
}

// A run found unfinished (crash or pause) continues: the merge runs again from the start
// (it is idempotent: queued rows stay queued, pending rows that lost their queue item are
// queued again), and queued items are transferred as before.
void resume_run(self_ptr self) {
  auto& st = self->state;
  if (!st.run) return;
  if (st.run->status != storage::run_status::paused) move_run(self, storage::run_status::paused);
  if (!set_status(self, datasource_status::syncing)) return;
  move_run(self, storage::run_status::querying);
  spdlog::info("datasource {}: run {} resumes", id_of(self), st.run->number);
  arm_progress(self);
  begin_querying(self);
}

// --- completions and failures -----------------------------------------------------------------

storage::queue_ticket ticket_of(const std::string& queue, const datastore_row& row) {
  return storage::queue_ticket{queue, row.queue_priority, row.queue_seq};
}

// Called in the I/O job: re-queues a row whose action must be done again.
caf::error requeue(node_context* ctx, storage::write_batch& batch, const std::string& queue,
                   datastore_row& row, const priority_rules& prio) {
  auto t = ctx->queue().push(batch, queue, prio(row.reference), row.reference);
  if (!t) return std::move(t.error());
  row.queue_seq = t->seq;
  row.queue_priority = t->priority;
  return caf::none;
}

// Acks the queue item the row names (or, without a row, the report's), tolerating an item
// that is not leased (already acknowledged).
void ack(node_context* ctx, storage::write_batch& batch, const storage::queue_ticket& t) {
  if (t.seq == 0) return;
  if (auto err = ctx->queue().ack(batch, t))
    spdlog::debug("queue ack {}: {}", t.to_string(), render(err));
}

bool counts_in_run(const datasource_state& st, const std::string& reference) {
  return st.querying_done || (!st.scan_position.empty() && reference <= st.scan_position);
}

void on_completed(self_ptr self, std::vector<transfer_report> reports,
                  caf::typed_response_promise<bool> rp) {
  enqueue_job(self, [self, reports = std::move(reports), rp]() mutable {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto id = id_of(self);
    auto prio = s.priority;
    auto run = s.run;
    // Which references count for this run is decided now, on the actor, from the merge's
    // position; the job itself must not read actor state.
    std::vector<bool> counted;
    for (auto& r : reports) counted.push_back(counts_in_run(s, r.reference));
    auto writer = s.writer;
    run_io(self, ctx->pool(),
           [ctx, id, prio, run, reports, counted, writer]() mutable {
             completion_result res;
             storage::write_batch batch{ctx->db()};
             std::vector<std::string> kicked;
             for (size_t i = 0; i < reports.size(); ++i) {
               auto& r = reports[i];
               auto scope = datastore_scope(id, r.volume);
               auto qname = queue_name(r.volume, id);
               auto row = ctx->rows().get(scope, r.reference);
               if (!row) {
                 res.error = std::move(row.error());
                 return res;
               }
               if (!*row) {
                 ack(ctx, batch, r.ticket);
                 continue;
               }
               auto& w = **row;
               bool same = w.generation == r.generation;
               if (r.outcome == transfer_outcome::done && same) {
                 ack(ctx, batch, w.queue_seq ? ticket_of(qname, w) : r.ticket);
                 if (w.action == pending_action::remove) {
                   ctx->rows().erase(batch, scope, w.reference);
                 } else {
                   w.action = pending_action::none;
                   w.attempts = 0;
                   w.last_error.clear();
                   w.queue_seq = 0;
                   w.parked = false;
                   if ((w.flags & (datastore_row::flag_directory |
                                   datastore_row::flag_symlink)) == 0) {
                     // Record what was copied: the next scan compares with it.
                     w.size = r.size;
                     w.mtime_ns = r.mtime_ns;
                   }
                   if (r.has_hash) w.hash = r.hash;
                   ctx->rows().put(batch, scope, w);
                 }
                 if (counted[i]) {
                   ++res.done;
                   res.bytes += r.bytes;
                 }
               } else if (!same) {
                 // The row moved on while the transfer ran: do its action (again).
                 ack(ctx, batch, w.queue_seq ? ticket_of(qname, w) : r.ticket);
                 if (r.outcome == transfer_outcome::done && w.action == pending_action::none)
                   w.action = pending_action::replace;
                 w.queue_seq = 0;
                 if (w.action != pending_action::none && !w.parked) {
                   if (auto err = requeue(ctx, batch, qname, w, *prio)) {
                     res.error = err;
                     return res;
                   }
                   kicked.push_back(r.volume);
                   ++res.requeued;
                 }
                 ctx->rows().put(batch, scope, w);
               } else {
                 // Skipped: the row has no action to do, or waits in error.
                 ack(ctx, batch, w.queue_seq ? ticket_of(qname, w) : r.ticket);
                 if (w.queue_seq != 0) {
                   w.queue_seq = 0;
                   ctx->rows().put(batch, scope, w);
                 }
               }
             }
             if (run) {
               run->counters.done += res.done;
               run->counters.bytes_done += res.bytes;
               ctx->runs().stage(batch, *run);
             }
             res.kicked = std::move(kicked);
             res.error = ctx->write_as(id, writer, batch);
             return res;
           },
           [self, rp](completion_result res) mutable {
             auto& cur = self->state;
             if (res.error) {
               rp.deliver(res.error);
               if (classify(res.error) == failure_class::fatal) self->quit(res.error);
               job_done(self);
               return;
             }
             if (cur.run) {
               cur.run->counters.done += res.done;
               cur.run->counters.bytes_done += res.bytes;
             }
             cur.pending -= std::min(cur.pending, res.done);
             kick(self, res.kicked);
             rp.deliver(true);
             maybe_finish(self);
             job_done(self);
           });
  });
}

void on_failure(self_ptr self, transfer_report report,
                caf::typed_response_promise<retry_decision> rp) {
  enqueue_job(self, [self, report = std::move(report), rp]() mutable {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto id = id_of(self);
    auto prio = s.priority;
    bool counted = counts_in_run(s, report.reference);
    auto writer = s.writer;
    auto type = s.rec.config.sync;
    auto source = s.source;
    run_io(self, ctx->pool(),
           [ctx, id, prio, report, counted, writer, type, source] {
             failure_result res;
             auto scope = datastore_scope(id, report.volume);
             auto qname = queue_name(report.volume, id);
             auto row = ctx->rows().get(scope, report.reference);
             if (!row) {
               res.error = std::move(row.error());
               return res;
             }
             storage::write_batch batch{ctx->db()};
             if (!*row) {
               ack(ctx, batch, report.ticket);
               res.error = ctx->write_as(id, writer, batch);
               return res;
             }
             auto& w = **row;
             if (w.generation != report.generation) {
               ack(ctx, batch, w.queue_seq ? ticket_of(qname, w) : report.ticket);
               w.queue_seq = 0;
               if (w.action != pending_action::none && !w.parked) {
                 if (auto err = requeue(ctx, batch, qname, w, *prio)) {
                   res.error = err;
                   return res;
                 }
                 res.kicked = report.volume;
               }
               ctx->rows().put(batch, scope, w);
               res.error = ctx->write_as(id, writer, batch);
               return res;
             }
             // Deleted from the source between the listing and the copy: not a failure but a
             // change the next merge would find. Do now what it would do, so that the run does
             // not end in error over a file that is simply gone.
             if (connectors::is(report.error, connectors::connector_errc::not_found) &&
                 w.action != pending_action::remove && source) {
               auto now = source->stat(w.reference);
               if (!now && connectors::is(now.error(), connectors::connector_errc::not_found)) {
                 res.vanished = true;
                 ack(ctx, batch, w.queue_seq ? ticket_of(qname, w) : report.ticket);
                 w.queue_seq = 0;
                 w.attempts = 0;
                 w.parked = false;
                 w.last_error.clear();
                 if (w.action == pending_action::add) {
                   ctx->rows().erase(batch, scope, w.reference);  // never delivered: forgotten
                   res.settled = counted;
                 } else if (type == sync_type::auto_) {
                   // Its copy is removed as the next run's merge decides, under the
                   // deletion guard: a source that vanished as a whole removes nothing.
                   w.action = pending_action::remove;
                   ++w.generation;
                   ctx->rows().put(batch, scope, w);
                   res.settled = counted;
                   res.removal_waits = true;
                 } else {
                   w.action = pending_action::none;  // the copy made before stays (arch, one)
                   ++w.generation;
                   ctx->rows().put(batch, scope, w);
                   res.settled = counted;
                 }
                 res.error = ctx->write_as(id, writer, batch);
                 return res;
               }
             }
             auto cls = classify(report.error);
             ++w.attempts;
             w.last_error = render(report.error);
             w.last_attempt_ms = ctx->now_ms();
             auto& policy = ctx->settings().retry;
             if (should_retry(policy, cls, w.attempts)) {
               res.decision.retry = true;
               res.decision.delay_ms = backoff(policy, w.attempts, ctx->random()).count();
             } else {
               w.parked = true;
               ack(ctx, batch, w.queue_seq ? ticket_of(qname, w) : report.ticket);
               w.queue_seq = 0;
               res.parked = true;
               res.counted = counted;
               res.fatal = cls == failure_class::fatal;
             }
             ctx->rows().put(batch, scope, w);
             res.error = ctx->write_as(id, writer, batch);
             return res;
           },
           [self, rp, report](failure_result res) mutable {
             auto& cur = self->state;
             if (res.error) {
               rp.deliver(res.error);
               if (classify(res.error) == failure_class::fatal) self->quit(res.error);
               job_done(self);
               return;
             }
             auto what = report.reference + ": " + render(report.error);
             if (res.vanished) {
               spdlog::info("datasource {}: {} is gone from the source; {}", id_of(self),
                            report.reference,
                            res.removal_waits ? "the next run decides about its copy"
                                              : "nothing to copy");
               if (res.settled) cur.pending -= std::min<uint64_t>(cur.pending, 1);
             } else if (res.parked) {
               spdlog::error("datasource {}: {} (no retry; waits in error)", id_of(self), what);
               if (cur.run_error.empty()) cur.run_error = what;
               if (cur.run) ++cur.run->counters.failed;
               if (res.counted) {
                 cur.pending -= std::min<uint64_t>(cur.pending, 1);
               }
             } else if (res.decision.retry) {
               spdlog::warn("datasource {}: {} (retry in {} ms)", id_of(self), what,
                            res.decision.delay_ms);
             }
             if (!res.kicked.empty()) kick(self, {res.kicked});
             rp.deliver(res.decision);
             if (res.fatal) {
               self->quit(report.error);
             } else {
               maybe_finish(self);
             }
             job_done(self);
           });
  });
}

// --- priority ---------------------------------------------------------------------------------

std::shared_ptr<const priority_rules> compile_priority(const datasource_config& c) {
  auto p = std::make_shared<priority_rules>();
  p->base = c.sync_priority;
  for (auto& rule : c.priority_rules) {
    auto g = connectors::glob_set::compile({rule.glob});
    if (g) p->rules.emplace_back(std::move(*g), rule.priority);
  }
  return p;
}

void change_priority(self_ptr self, int32_t priority, caf::typed_response_promise<uint64_t> rp) {
  auto& st = self->state;
  st.rec.config.sync_priority = priority;
  st.priority = compile_priority(st.rec.config);
  save_record(self);
  enqueue_job(self, [self, rp]() mutable {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    auto prio = s.priority;
    using result = caf::expected<uint64_t>;
    auto writer = s.writer;
    run_io(self, ctx->pool(),
           [ctx, id, volumes, prio, writer]() -> result {
             uint64_t moved = 0;
             for (auto& v : volumes) {
               auto scope = datastore_scope(id, v);
               auto qname = queue_name(v, id);
               storage::write_batch batch{ctx->db()};
               auto cur = ctx->rows().scan(scope);
               for (; cur.valid(); cur.next()) {
                 auto row = cur.row();
                 if (row.queue_seq == 0) continue;
                 auto p = (*prio)(row.reference);
                 if (p == row.queue_priority) continue;
                 auto t = ctx->queue().reprioritize(ticket_of(qname, row), p);
                 if (!t) continue;  // leased: being transferred now
                 row.queue_priority = t->priority;
                 ctx->rows().put(batch, scope, row);
                 ++moved;
                 if (batch.count() >= 1000) {
                   if (auto err = ctx->write_as(id, writer, batch)) return err;
                 }
               }
               if (cur.status()) return cur.status();
               if (auto err = ctx->write_as(id, writer, batch)) return err;
             }
             return moved;
           },
           [self, rp](result r) mutable {
             if (r) {
               kick(self, self->state.rec.config.volumes);
               rp.deliver(*r);
             } else {
               rp.deliver(r.error());
             }
             job_done(self);
           });
  });
}

// --- one item again (@sendToCompute) ----------------------------------------------------------

void recompute(self_ptr self, std::string reference, caf::typed_response_promise<uint64_t> rp) {
  enqueue_job(self, [self, reference = std::move(reference), rp]() mutable {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    auto prio = s.priority;
    auto writer = s.writer;
    struct result {
      caf::error error;
      uint64_t queued = 0;
      uint64_t newly_pending = 0;  // rows that had nothing to do (or waited in error) before
      std::vector<std::string> kicked;
    };
    run_io(self, ctx->pool(),
           [ctx, id, volumes, prio, writer, reference] {
             result r;
             storage::write_batch batch{ctx->db()};
             for (auto& v : volumes) {
               auto scope = datastore_scope(id, v);
               auto row = ctx->rows().get(scope, reference);
               if (!row) {
                 r.error = std::move(row.error());
                 return r;
               }
               if (!*row) continue;
               auto& w = **row;
               if (w.action == pending_action::none || w.parked) ++r.newly_pending;
               // A person asked for it: do it again, even if it waits in error.
               if (w.action == pending_action::none) w.action = pending_action::replace;
               w.parked = false;
               w.attempts = 0;
               w.last_error.clear();
               ++w.generation;
               if (w.queue_seq == 0) {
                 if (auto err = requeue(ctx, batch, queue_name(v, id), w, *prio)) {
                   r.error = err;
                   return r;
                 }
                 r.kicked.push_back(v);
               }
               ctx->rows().put(batch, scope, w);
               ++r.queued;
             }
             r.error = ctx->write_as(id, writer, batch);
             return r;
           },
           [self, rp, reference](result r) mutable {
             if (r.error) {
               rp.deliver(r.error);
             } else {
               // A run in progress waits for it too, as its completion will count there.
               auto& cur = self->state;
               if (run_active(self) && counts_in_run(cur, reference)) cur.pending += r.newly_pending;
               kick(self, r.kicked);
               rp.deliver(r.queued);
             }
             job_done(self);
           });
  });
}

// --- pause / resume -------------------------------------------------------------------------

void tell_volumes(self_ptr self, bool pause) {
  for (auto& [id, v] : self->state.volumes) {
    if (pause)
      self->request(v, caf::infinite, pause_atom::value, id_of(self))
          .then([](bool) {}, [](caf::error&) {});
    else
      self->request(v, caf::infinite, resume_atom::value, id_of(self))
          .then([](bool) {}, [](caf::error&) {});
  }
}

bool pause_datasource(self_ptr self) {
  auto& st = self->state;
  if (st.rec.status == datasource_status::paused) return true;
  if (!set_status(self, datasource_status::paused)) return false;
  ++st.step_epoch;   // steps in flight finish; no new one starts
  ++st.schedule_epoch;
  st.scan.reset();
  if (run_active(self)) {
    move_run(self, storage::run_status::paused);
    spdlog::info("datasource {}: run {} paused", id_of(self), st.run->number);
  }
  tell_volumes(self, true);
  save_run(self);
  save_record(self);
  return true;
}

bool resume_datasource(self_ptr self) {
  auto& st = self->state;
  if (st.rec.status != datasource_status::paused) return true;  // nothing to resume
  if (!set_status(self, datasource_status::resuming)) return false;
  tell_volumes(self, false);
  if (st.rec.health == sync_health::disabled) {
    set_status(self, datasource_status::pending);
  } else if (run_active(self)) {
    resume_run(self);
  } else {
    set_status(self, st.run ? datasource_status::synced : datasource_status::pending);
    if (st.run)
      schedule_next(self);
    else
      schedule_at(self, st.ctx->now_ms());  // never ran: run now
  }
  save_record(self);
  return true;
}

// --- start-up -------------------------------------------------------------------------------

// Runs `fn` now, or once start-up has read the last run (a request that came earlier would
// see the stored status, not the one start-up settles on).
void after_start_up(self_ptr self, std::function<void()> fn) {
  auto& st = self->state;
  if (st.started)
    fn();
  else
    st.after_start.push_back(std::move(fn));
}

// Collect now (`confirm`: a person confirms that many held removals). Answers `rp` in every
// case: the run's number once it started, or why not.
void sync_now(self_ptr self, std::optional<uint64_t> confirm,
              caf::typed_response_promise<uint64_t> rp) {
  auto& s = self->state;
  auto refuse = [&](actors_errc code, const std::string& why) {
    rp.deliver(make_error(code, "datasource " + id_of(self) + " " + why));
  };
  if (confirm) {
    if (s.rec.held_removals == 0) return refuse(actors_errc::forbidden_transition,
                                                "holds back no removals");
    if (*confirm < s.rec.held_removals)
      return refuse(actors_errc::forbidden_transition,
                    "holds back " + std::to_string(s.rec.held_removals) +
                        " removals, more than the " + std::to_string(*confirm) +
                        " confirmed: nothing is released");
  }
  if (s.rec.health == sync_health::disabled) return refuse(actors_errc::paused, "is disabled");
  if (s.rec.status == datasource_status::paused) return refuse(actors_errc::paused, "is paused");
  if (run_active(self) && s.rec.status == datasource_status::syncing) {
    if (confirm)
      return refuse(actors_errc::forbidden_transition, "is running; confirm when it ends");
    rp.deliver(s.run->number);
    return;
  }
  if (confirm) s.rec.confirmed_removals = *confirm;
  s.sync_waiters.push_back(rp);
  start_run(self,
            confirm ? "manual, " + std::to_string(*confirm) + " removals confirmed" : "manual",
            true);
}

void start_up(self_ptr self) {
  enqueue_job(self, [self] {
    auto* ctx = self->state.ctx;
    auto id = id_of(self);
    using result = caf::expected<std::optional<run_record>>;
    run_io(self, ctx->pool(), [ctx, id]() -> result { return ctx->runs().last(id); },
           [self](result last) {
             auto& s = self->state;
             auto started = [self] {
               auto& cur = self->state;
               cur.started = true;
               auto waiting = std::move(cur.after_start);
               cur.after_start.clear();
               for (auto& fn : waiting) fn();
             };
             if (!last) {
               fail_run(self, last.error());
               started();
               job_done(self);
               return;
             }
             s.run = std::move(*last);
             auto& rec = s.rec;
             if (rec.status == datasource_status::created)
               set_status(self, datasource_status::pending);
             bool unfinished = run_active(self);
             if (rec.status == datasource_status::paused ||
                 rec.health == sync_health::disabled) {
               // Waits for resume / enable. The volumes start without knowing: tell them, or
               // they would transfer what is queued for us.
               tell_volumes(self, true);
             } else if (unfinished) {
               if (move_status(rec, datasource_status::syncing))
                 restore_status(rec, datasource_status::syncing);
               resume_run(self);
             } else {
               if (rec.status == datasource_status::syncing ||
                   rec.status == datasource_status::resuming)
                 restore_status(rec, s.run ? datasource_status::synced
                                           : datasource_status::pending);
               bool never_ran = !s.run;
               if (rec.status != datasource_status::error) {
                 if (never_ran)
                   schedule_at(self, s.ctx->now_ms());
                 else if (rec.config.sync != sync_type::one)
                   schedule_at(self, rec.next_run_ms > 0 ? rec.next_run_ms : s.ctx->now_ms());
               }
             }
             save_record(self);
             started();
             job_done(self);
           });
  });
}

}  // namespace

datasource_actor::behavior_type datasource(datasource_actor::stateful_pointer<datasource_state> self,
                                           datasource_init init) {
  auto& st = self->state;
  st.ctx = init.ctx;
  st.rec = std::move(init.record);
  st.volumes = std::move(init.volumes);
  st.source = std::move(init.source);
  st.priority = compile_priority(st.rec.config);
  // From here on a previous incarnation's jobs can no longer write this datasource's rows.
  st.writer = st.ctx->claim_writer(st.rec.config.id);
  start_up(self);
  return {
      [=](register_atom, const std::string& volume, const caf::actor& handle) {
        auto& s = self->state;
        s.volumes[volume] = caf::actor_cast<volume_actor>(handle);
        // The new volume incarnation lost its leases: everything queued is found again.
        self->send(s.volumes[volume], register_atom::value, id_of(self),
                   caf::actor_cast<caf::actor>(self));
        if (s.rec.status == datasource_status::paused || s.rec.health == sync_health::disabled)
          self->request(s.volumes[volume], caf::infinite, pause_atom::value, id_of(self))
              .then([](bool) {}, [](caf::error&) {});
      },
      [=](sync_now_atom) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        after_start_up(self, [=] { sync_now(self, std::nullopt, rp); });
        return rp;
      },
      [=](sync_now_atom, uint64_t confirm) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        after_start_up(self, [=] { sync_now(self, confirm, rp); });
        return rp;
      },
      [=](pause_atom) -> bool { return pause_datasource(self); },
      [=](resume_atom) -> bool { return resume_datasource(self); },
      [=](disable_atom) -> bool {
        if (!set_health(self, sync_health::disabled)) return false;
        ++self->state.schedule_epoch;
        self->state.rec.next_run_ms = 0;
        if (run_active(self)) pause_datasource(self);
        save_record(self);
        return true;
      },
      [=](enable_atom) -> bool {
        auto& s = self->state;
        if (s.rec.health != sync_health::disabled) return true;
        if (!set_health(self, sync_health::pending)) return false;
        if (s.rec.status == datasource_status::paused) {
          resume_datasource(self);
        } else {
          schedule_at(self, s.ctx->now_ms());
          save_record(self);
        }
        return true;
      },
      [=](priority_atom, int32_t priority) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        change_priority(self, priority, rp);
        return rp;
      },
      [=](completed_atom, std::vector<transfer_report>& reports) -> caf::result<bool> {
        auto rp = self->make_response_promise<bool>();
        on_completed(self, std::move(reports), rp);
        return rp;
      },
      [=](failure_atom, transfer_report& report) -> caf::result<retry_decision> {
        auto rp = self->make_response_promise<retry_decision>();
        on_failure(self, std::move(report), rp);
        return rp;
      },
      [=](recompute_atom, std::string& reference) -> caf::result<uint64_t> {
        auto rp = self->make_response_promise<uint64_t>();
        recompute(self, std::move(reference), rp);
        return rp;
      },
      [=](status_atom) -> actor_status {
        auto& s = self->state;
        actor_status out;
        out.id = "datasource/" + id_of(self);
        out.kind = "datasource";
        out.state = to_string(s.rec.status);
        out.mailbox = self->mailbox().size();
        out.last_error = s.rec.last_error;
        out.counters["health_" + std::string{to_string(s.rec.health)}] = 1;
        out.counters["sync_priority"] = s.rec.config.sync_priority;
        out.counters["next_run_ms"] = s.rec.next_run_ms;
        if (s.run) {
          auto& c = s.run->counters;
          out.current = "run " + std::to_string(s.run->number) + ": " +
                        storage::to_string(s.run->status);
          out.counters["run"] = static_cast<int64_t>(s.run->number);
          out.counters["listed"] = static_cast<int64_t>(c.listed);
          out.counters["added"] = static_cast<int64_t>(c.added);
          out.counters["replaced"] = static_cast<int64_t>(c.replaced);
          out.counters["removed"] = static_cast<int64_t>(c.removed);
          out.counters["done"] = static_cast<int64_t>(c.done);
          out.counters["failed"] = static_cast<int64_t>(c.failed);
          out.counters["pending"] = static_cast<int64_t>(s.pending);
          out.counters["parked"] = static_cast<int64_t>(s.parked);
          out.counters["bytes_done"] = static_cast<int64_t>(c.bytes_done);
          out.counters["bytes_total"] = static_cast<int64_t>(c.bytes_total);
        }
        return out;
      },
      [=](step_atom, uint64_t epoch) {
        if (epoch == self->state.step_epoch) step(self);
      },
      [=](schedule_atom, uint64_t epoch) {
        auto& s = self->state;
        if (epoch != s.schedule_epoch || run_active(self)) return;
        if (s.rec.health == sync_health::disabled || s.rec.status == datasource_status::paused)
          return;
        start_run(self, "schedule", false);
      },
      [=](progress_atom, uint64_t epoch) {
        if (epoch != self->state.progress_epoch || !run_active(self)) return;
        log_progress(self);
        arm_progress(self);
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

namespace {

// Its connector and targets are known before the actor exists: the actor's body runs later, on
// a scheduler thread, and its volumes may start transfers of what it queued before a restart as
// soon as they hear of it (a transfer finding no target failed without retry: the datasource
// ended its run in error, a start-up race the SIGKILL test found under load).
void announce_connectors(const datasource_init& init) {
  init.ctx->set_source(init.record.config.id, init.source);
  init.ctx->set_targets(init.record.config.id, targets_of(init.record.config));
}

}  // namespace

datasource_actor spawn_datasource(caf::local_actor* parent, datasource_init init) {
  announce_connectors(init);
  return parent->spawn(datasource, std::move(init));
}

datasource_actor spawn_datasource(caf::actor_system& sys, datasource_init init) {
  announce_connectors(init);
  return sys.spawn(datasource, std::move(init));
}

}  // namespace syncline::actors
