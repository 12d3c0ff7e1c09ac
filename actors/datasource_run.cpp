// actors/datasource_run.cpp: a datasource's run: start, querying (the source listed and merged
// into the datastore one step at a time), the deletion guard, directory times, the end (success
// or error) and failure.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/datasource_state.hpp"
#include "actors/text.hpp"
#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/scan_merge.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "storage/database.hpp"

namespace syncline::actors::detail {

namespace {

using storage::datastore_row;
using storage::pending_action;
using storage::run_record;

}  // namespace

// The querying step's state; lives in the I/O jobs, one at a time.
struct scan_work {
  std::unique_ptr<connectors::listing> listing;
  std::vector<std::unique_ptr<link_merger>> mergers;
  std::vector<std::string> volumes;  // parallel to mergers
  std::vector<connectors::item_info> items;
  std::string position;
  std::string filesystem;  // the source root's filesystem identity when the run began
};

namespace {

struct step_result {
  caf::error error;
  bool more = false;
  uint64_t listed = 0;
  merge_stats stats;
  std::vector<std::string> kicked;  // volumes that got new queue items
  std::string position;
};

}  // namespace

// --- the run ----------------------------------------------------------------------------------

void kick(self_ptr self, const std::vector<std::string>& volumes) {
  for (auto& v : volumes) {
    auto i = self->state.volumes.find(v);
    if (i != self->state.volumes.end()) self->send(i->second, kick_atom::value, id_of(self));
  }
}

namespace {

void finish_run(self_ptr self);

}  // namespace

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

namespace {

merge_options merge_options_of(const datasource_state& s) {
  merge_options opts;
  opts.type = s.rec.config.sync;
  opts.compare_hash = s.rec.config.compare_hash;
  opts.unpark = s.unpark;
  opts.hold_removals = s.rec.config.sync == sync_type::auto_;
  auto rules = s.priority;
  opts.priority = [rules](std::string_view ref) { return (*rules)(ref); };
  return opts;
}

void absorb_step(self_ptr self, uint64_t epoch, step_result r);
void add_link(step_result& r, const merge_stats& link, const std::string& volume);
void count_step(run_record& run, const step_result& r);

// A run over the watch's changed paths (docs/runtime.md "Watching"): one job checks the root
// as every run does (there, readable, on its filesystem, empty or not), looks each path up in
// the source and merges what it finds with the rows of those references only; no walk of the
// tree or of the datastore. Then the run goes on as one whose listing is done.
void merge_changes(self_ptr self, uint64_t epoch) {
  enqueue_job(self, [self, epoch] {
    auto& s = self->state;
    if (epoch != s.step_epoch || !s.run) {
      job_done(self);
      return;
    }
    auto* ctx = s.ctx;
    auto source = s.source;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    auto opts = merge_options_of(s);
    auto paths = s.changed;
    auto run = *s.run;
    auto writer = s.writer;
    struct result {
      step_result step;
      std::string filesystem;
      bool root_empty = false;
      std::vector<std::string> directories;
      std::map<std::string, std::vector<std::string>> held;  // by volume
      std::shared_ptr<std::unordered_set<std::string>> decided =
          std::make_shared<std::unordered_set<std::string>>();
    };
    run_io(self, ctx->pool(),
           [ctx, source, id, volumes, opts, paths, run, writer]() mutable {
             result out;
             auto& r = out.step;
             if ((r.error = source->check())) return out;
             out.filesystem = source->filesystem_identity();
             source->on_run(run.number);
             // Emptied? The first entry of a listing answers it (one directory read).
             auto listing = source->list();
             if (!listing) {
               r.error = std::move(listing.error());
               return out;
             }
             std::vector<connectors::item_info> first;
             if (auto more = (*listing)->next(first, 1); !more) {
               r.error = std::move(more.error());
               return out;
             }
             out.root_empty = first.empty();
             auto items = resolve_changes(*source, *paths);
             out.directories = std::move(items.directories);
             for (auto& i : items.present)
               if (i.kind != connectors::item_kind::unreadable) ++r.listed;
             storage::write_batch batch{ctx->db()};
             for (auto& v : volumes) {
               link_merger merger{ctx->rows(), ctx->queue(), id, v, opts};
               merge_stats link;
               if ((r.error = merger.merge_changed(items.present, items.gone, batch, link)))
                 return out;
               add_link(r, link, v);
               out.held[v] = merger.held_references();
               out.decided->insert(merger.decided_references().begin(),
                                   merger.decided_references().end());
             }
             count_step(run, r);
             ctx->runs().stage(batch, run);
             r.error = ctx->write_as(run.datasource, writer, batch);
             return out;
           },
           [self, epoch](result r) {
             auto& cur = self->state;
             if (epoch == cur.step_epoch && !r.step.error) {
               cur.filesystem = std::move(r.filesystem);
               cur.root_empty = r.root_empty;
               cur.changed_dirs = std::move(r.directories);
               cur.held_refs = std::move(r.held);
               cur.changed_refs = std::move(r.decided);
             }
             absorb_step(self, epoch, std::move(r.step));
             job_done(self);
           });
  });
}

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
  st.held_refs.clear();
  st.changed_refs.reset();
  st.changed_dirs.clear();
  st.root_empty = false;
  auto epoch = ++st.step_epoch;
  if (st.changed) {
    merge_changes(self, epoch);
    return;
  }
  enqueue_job(self, [self, epoch] {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto source = s.source;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    auto opts = merge_options_of(s);
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
// A run over changed paths weighs its removals with those such runs released within this
// window: many small runs may not remove more than one run may.
constexpr int64_t removal_window_ms = 3600 * 1000;

// Removals released by runs over changed paths within the window (older ones forgotten).
uint64_t removed_lately(datasource_state& st) {
  auto since = st.ctx->now_ms() - removal_window_ms;
  while (!st.recent_removals.empty() && st.recent_removals.front().first < since)
    st.recent_removals.pop_front();
  uint64_t n = 0;
  for (auto& r : st.recent_removals) n += r.second;
  return n;
}

std::string guard_reason(datasource_state& st) {
  auto& c = st.rec.config;
  std::vector<std::string> why;
  // A run over changed paths lists nothing but them: the root's emptiness is looked at
  // instead, and the limits weigh the removals of the last hour against the link's rows.
  bool partial = st.changed != nullptr;
  uint64_t rows = partial ? std::max(st.link_rows, st.rows_before) : st.rows_before;
  uint64_t earlier = partial ? removed_lately(st) : 0;
  uint64_t removals = st.held + earlier;
  std::string counted =
      earlier > 0 ? " (with " + std::to_string(earlier) + " removed by watched runs within the hour)"
                  : "";
  if (partial ? st.root_empty && rows > 0 : st.run && st.run->counters.listed == 0 && rows > 0)
    why.push_back("the source folder is empty");
  if (!st.rec.source_fs.empty() && !st.filesystem.empty() && st.rec.source_fs != st.filesystem)
    why.push_back("the source folder is on another filesystem (" + st.filesystem +
                  ") than at its first run (" + st.rec.source_fs + ")");
  if (c.max_delete > 0 && removals > c.max_delete)
    why.push_back("more than max_delete = " + std::to_string(c.max_delete) + counted);
  if (c.max_delete_percent < 100 && removals * 100 > uint64_t{c.max_delete_percent} * rows)
    why.push_back("more than max_delete_percent = " + std::to_string(c.max_delete_percent) +
                  "% of the " + std::to_string(rows) + " items" + counted);
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
  if (!reason.empty()) {
    spdlog::info("datasource {}: run {} releases {} removal(s) a person confirmed", id_of(self),
                 st.run->number, st.held);
    st.recent_removals.clear();  // a person saw them all
  } else if (st.changed) {
    st.recent_removals.emplace_back(st.ctx->now_ms(), st.held);
  }
  auto epoch = st.step_epoch;
  enqueue_job(self, [self, epoch] {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto id = id_of(self);
    auto volumes = s.rec.config.volumes;
    auto writer = s.writer;
    auto rules = s.priority;
    // A run over changed paths releases its own (point reads); any other scans the links.
    std::optional<std::map<std::string, std::vector<std::string>>> listed;
    if (s.changed) listed = s.held_refs;
    using result = std::pair<caf::error, uint64_t>;
    run_io(self, ctx->pool(),
           [ctx, id, volumes, writer, rules, listed]() -> result {
             storage::write_batch batch{ctx->db()};
             uint64_t released = 0;
             auto priority = [rules](std::string_view ref) { return (*rules)(ref); };
             for (auto& v : volumes) {
               caf::expected<uint64_t> n{uint64_t{0}};
               if (!listed)
                 n = release_removals(ctx->rows(), ctx->queue(), id, v, priority, batch);
               else if (auto refs = listed->find(v); refs != listed->end())
                 n = release_removals(ctx->rows(), ctx->queue(), id, v, refs->second, priority, batch);
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

// What a merge step found, taken into the run (on the actor). `epoch` is the step's.
void absorb_step(self_ptr self, uint64_t epoch, step_result r) {
  auto& cur = self->state;
  if (epoch != cur.step_epoch) {
    // A pause or a resume came while this step ran: its rows are written (the merge is
    // idempotent), but what it counted belongs to a listing that was abandoned. A resumed run
    // lists and counts everything again from the start; counting this step too would count
    // its items twice, and the run would wait forever for completions that never come.
    kick(self, r.kicked);
    return;
  }
  if (r.error) {
    fail_run(self, r.error);
    return;
  }
  if (cur.run) count_step(*cur.run, r);
  cur.pending += r.stats.pending;
  cur.parked += r.stats.parked;
  cur.held += r.stats.held;
  cur.rows_before += r.stats.rows;
  cur.scan_position = r.position;
  for (auto& p : r.stats.problems)
    if (cur.problems.size() < 20) cur.problems.push_back(p);
  if (r.stats.unreadable > 0)
    spdlog::warn("datasource {}: {} unreadable entries (first: {})", id_of(self),
                 r.stats.unreadable, r.stats.problems.empty() ? "" : r.stats.problems.front());
  kick(self, r.kicked);
  if (r.more) {
    self->send(self, step_atom::value, epoch);
  } else {
    cur.scan.reset();
    guard_removals(self);
  }
}

// Adds one link's merge to a step's sums.
void add_link(step_result& r, const merge_stats& link, const std::string& volume) {
  if (link.queued > 0) r.kicked.push_back(volume);
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

// Counts a step into a run (the job's copy it stages, and the actor's).
void count_step(run_record& run, const step_result& r) {
  auto& c = run.counters;
  c.listed += r.listed;
  c.added += r.stats.added;
  c.replaced += r.stats.replaced;
  c.removed += r.stats.removed;
  c.unchanged += r.stats.unchanged;
  c.bytes_total += r.stats.bytes_pending;
}

}  // namespace

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
               add_link(r, link, work->volumes[i]);
             }
             if (!work->mergers.empty()) work->position = work->mergers.front()->position();
             r.position = work->position;
             count_step(run, r);
             ctx->runs().stage(batch, run);
             r.error = ctx->write_as(run.datasource, writer, batch);
             return r;
           },
           [self, epoch](step_result r) {
             absorb_step(self, epoch, std::move(r));
             job_done(self);
           });
  });
}

void start_run(self_ptr self, std::string trigger, bool unpark) {
  auto& st = self->state;
  // Only after a run that left nothing to do: its items' completions are all this one's.
  bool after_success = st.rec.status == datasource_status::synced && st.link_rows_known;
  if (!set_status(self, datasource_status::syncing)) {
    // Whoever asked for this run hears why there is none (a dropped promise answers nothing).
    auto err = make_error(actors_errc::forbidden_transition,
                          "datasource " + id_of(self) + " cannot start a run from status " +
                              to_string(st.rec.status));
    for (auto& w : st.sync_waiters) w.deliver(err);
    st.sync_waiters.clear();
    return;
  }
  // A change of a watched tree merges the changed paths only, when they are known (no
  // overflow); any other run lists the whole tree, which covers the changes gathered so far.
  auto changes = st.watch->take_changes();
  st.changed.reset();
  if (trigger == "watch" && after_success && !unpark && !changes.overflow && !changes.paths.empty())
    st.changed = std::make_shared<const std::vector<std::string>>(std::move(changes.paths));
  st.starting_run = true;
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
             s.starting_run = false;
             if (!run) {
               fail_run(self, run.error());
               job_done(self);
               return;
             }
             s.run = std::move(*run);
             spdlog::info("datasource {}: run {} started ({})", id_of(self), s.run->number,
                          s.run->trigger);
             publish(self, "run",
                     ",\"run\":" + std::to_string(s.run->number) + ",\"status\":\"started\",\"trigger\":" +
                         json_string(s.run->trigger));
             for (auto& w : s.sync_waiters) w.deliver(s.run->number);
             s.sync_waiters.clear();
             // A pause that came while the run was being numbered found no run to pause: this
             // one waits now, as a run paused in its middle would.
             if (s.rec.status == datasource_status::paused) {
               if (s.run->status != storage::run_status::paused) move_run(self, storage::run_status::paused);
               save_run(self);
               job_done(self);
               return;
             }
             // Paused and resumed meanwhile: the resume saw no run and scheduled one; this is it.
             if (s.rec.status != datasource_status::syncing) {
               ++s.schedule_epoch;
               set_status(self, datasource_status::syncing);
             }
             move_run(self, storage::run_status::querying);
             s.progress_last_ms = 0;
             arm_progress(self);
             begin_querying(self);
             job_done(self);
           });
  });
}

namespace {

void close_run(self_ptr self);

// Sets directory mtimes on every volume (adding children changed them), then closes the run:
// `success` is only reported once the target matches, directory times included.
//
// Durability (docs/runtime.md, "Transfers and durability"): a full run makes the times it set
// durable (one `syncfs`) before its success. A run over changed paths does not wait for that:
// its directories' times become durable with the volume's next `syncfs` (the next group of
// copies). A crash before then may lose them; the node's next incarnation begins with a full
// run (a run over changed paths comes only after a full run of the same incarnation ended), and
// until one has ended every run's end sets every directory's time, changed or not, and syncs.
void finish_run(self_ptr self) {
  auto& st = self->state;
  auto& c = st.run->counters;
  st.finishing = true;
  bool changed = c.added + c.replaced + c.removed + c.done > 0;
  if (!changed && st.link_rows_known) {
    close_run(self);
    return;
  }
  enqueue_job(self, [self] {
    auto* ctx = self->state.ctx;
    auto id = id_of(self);
    auto volumes = self->state.rec.config.volumes;
    // A run over changed paths touched only their directories (and their parents').
    std::optional<std::vector<std::string>> dirs;
    if (self->state.changed) dirs = self->state.changed_dirs;
    run_io(self, ctx->pool(),
           [ctx, id, volumes, dirs] {
             for (auto& v : volumes) {
               auto conn = ctx->target(id, v);
               if (!conn) {
                 spdlog::debug("datasource {}: directory times in {}: {}", id, v,
                               render(conn.error()));
                 continue;
               }
               auto set = [&](const datastore_row& row) {
                 if ((row.flags & datastore_row::flag_directory) == 0 ||
                     row.action != pending_action::none)
                   return;
                 if (auto err = (*conn)->set_mtime(row.reference, row.mtime_ns))
                   spdlog::debug("datasource {}: mtime of {}: {}", id, row.reference,
                                 render(err));
               };
               if (dirs) {
                 for (auto& d : *dirs) {
                   auto row = ctx->rows().get(datastore_scope(id, v), d);
                   if (!row) return row.error();
                   if (*row) set(**row);
                 }
               } else {
                 auto cur = ctx->rows().scan(datastore_scope(id, v));
                 for (; cur.valid(); cur.next()) set(cur.row());
                 if (cur.status()) return cur.status();
               }
               if (dirs) continue;  // durable with the next syncfs (above)
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
  // The guard's base for runs over changed paths: a listing's rows, or the last count moved
  // by what a run over changed paths added and removed.
  if (!st.changed) {
    st.link_rows = st.rows_before + c.added;
    st.link_rows_known = true;
  } else {
    st.link_rows = st.link_rows + c.added - std::min(st.link_rows, c.removed);
  }
  log_progress(self);
  spdlog::info("datasource {}: run {} {} ({} added, {} replaced, {} removed, {} done, {} failed)",
               id_of(self), st.run->number, storage::to_string(st.run->status), c.added,
               c.replaced, c.removed, c.done, c.failed + st.parked);
  ++st.progress_epoch;
  schedule_next(self);
  save_run(self);
}

}  // namespace

// A run found unfinished (crash or pause) continues: the merge runs again from the start
// (it is idempotent: queued rows stay queued, pending rows that lost their queue item are
// queued again), and queued items are transferred as before.
void resume_run(self_ptr self) {
  auto& st = self->state;
  if (!st.run) return;
  if (st.run->status != storage::run_status::paused) move_run(self, storage::run_status::paused);
  if (!set_status(self, datasource_status::syncing)) return;
  st.changed.reset();  // the changed paths may be lost (a crash): the whole tree is merged
  move_run(self, storage::run_status::querying);
  spdlog::info("datasource {}: run {} resumes", id_of(self), st.run->number);
  arm_progress(self);
  begin_querying(self);
}

}  // namespace syncline::actors::detail
