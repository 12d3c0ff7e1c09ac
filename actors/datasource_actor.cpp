// actors/datasource_actor.cpp: the datasource actor's behaviour, start-up, pause and resume, and
// the state helpers the run and the item handlers share (one I/O job at a time, records,
// scheduling, progress).
#include "actors/datasource_actor.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/datasource_state.hpp"
#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/targets.hpp"
#include "actors/text.hpp"
#include "connectors/error.hpp"
#include "storage/database.hpp"

namespace syncline::actors {

const char* datasource_state::name = "datasource";

namespace detail {

const std::string& id_of(self_ptr self) { return self->state.rec.config.id; }

// --- one I/O job at a time ------------------------------------------------------------------

namespace {

void start_next_job(self_ptr self) {
  auto& st = self->state;
  if (st.io_busy || st.io_waiting.empty()) return;
  st.io_busy = true;
  auto job = std::move(st.io_waiting.front());
  st.io_waiting.pop_front();
  job();
}

}  // namespace

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
void publish(self_ptr self, const char* type, const std::string& fields) {
  self->state.ctx->events().publish(type, id_of(self),
                                    "{\"datasource\":" + json_string(id_of(self)) + fields + "}");
}

bool set_status(self_ptr self, datasource_status to) {
  auto from = self->state.rec.status;
  if (auto err = move_status(self->state.rec, to)) {
    spdlog::warn("datasource {}: {}", id_of(self), render(err));
    return false;
  }
  if (from != to)
    publish(self, "datasource",
            std::string{",\"status\":\""} + to_string(to) + "\",\"from\":\"" + to_string(from) +
                "\",\"last_error\":" + json_string(self->state.rec.last_error));
  return true;
}

bool set_health(self_ptr self, sync_health to) {
  auto from = self->state.rec.health;
  if (auto err = move_health(self->state.rec, to)) {
    spdlog::warn("datasource {}: {}", id_of(self), render(err));
    return false;
  }
  if (from != to)
    publish(self, "health",
            std::string{",\"health\":\""} + to_string(to) + "\",\"from\":\"" + to_string(from) + "\"");
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
  publish(self, "run",
          ",\"run\":" + std::to_string(run->number) + ",\"status\":\"" + storage::to_string(to) +
              "\",\"trigger\":" + json_string(run->trigger));
  return true;
}

bool run_active(self_ptr self) {
  auto& run = self->state.run;
  return run && !storage::is_final(run->status);
}

// --- scheduling -----------------------------------------------------------------------------

namespace {

void schedule_at(self_ptr self, int64_t when_ms) {
  auto& st = self->state;
  st.rec.next_run_ms = when_ms;
  auto delay = std::max<int64_t>(0, when_ms - st.ctx->now_ms());
  self->delayed_send(self, std::chrono::milliseconds{delay}, schedule_atom::value,
                     ++st.schedule_epoch);
}

}  // namespace

void schedule_next(self_ptr self) {
  auto& st = self->state;
  auto& c = st.rec.config;
  start_watching(self);  // when the root went (or was missing) before this run
  if (c.sync == sync_type::one || st.rec.health == sync_health::disabled ||
      st.rec.status == datasource_status::paused || st.rec.status == datasource_status::error) {
    st.rec.next_run_ms = 0;
    ++st.schedule_epoch;
    return;
  }
  int64_t delay_ms = 0;
  if (st.watch_dirty && st.rec.status != datasource_status::failed) {
    delay_ms = 0;  // a change the last run may not have seen: look again now
  } else if (st.rec.status == datasource_status::failed) {
    delay_ms = backoff(st.ctx->settings().retry, st.rec.run_failures, st.ctx->random()).count();
  } else {
    auto lo = std::max<int64_t>(1, c.schedule_min_s) * 1000;
    auto hi = std::max<int64_t>(lo, c.schedule_max_s * 1000);
    delay_ms = lo + static_cast<int64_t>(st.ctx->random() % static_cast<uint64_t>(hi - lo + 1));
  }
  schedule_at(self, st.ctx->now_ms() + delay_ms);
}

bool watches(self_ptr self) {
  auto& st = self->state;
  auto& c = st.rec.config;
  return st.ctx->settings().watch && c.type == "folder" && c.sync != sync_type::one &&
         !c.path.empty();
}

void start_watching(self_ptr self) {
  auto& st = self->state;
  if (!watches(self) || st.watch_refused || st.watch_starting || st.watch->watching()) return;
  st.watch_starting = true;
  enqueue_job(self, [self] {
    auto& s = self->state;
    auto* ctx = s.ctx;
    auto root = s.rec.config.path;
    auto max = ctx->settings().max_watches;
    auto slot = s.watch;
    auto weak = caf::actor_cast<caf::weak_actor_ptr>(caf::actor_cast<caf::actor>(self));
    using result = caf::expected<uint64_t>;
    run_io(self, ctx->pool(),
           [ctx, root, max, slot, weak]() -> result {
             auto h = ctx->watcher().watch(root, max, [weak, slot](connectors::watch_changes c) {
               // The paths wait in the slot for the run that takes them; the message wakes it.
               slot->add(c);
               if (auto a = caf::actor_cast<caf::actor>(weak))
                 caf::anon_send(a, watch_atom::value, static_cast<uint64_t>(c.paths.size()),
                                c.root_gone);
             });
             if (h && !slot->keep(*h)) ctx->watcher().unwatch(*h);  // the actor is gone
             return h;
           },
           [self](result r) {
             auto& cur = self->state;
             cur.watch_starting = false;
             if (r) {
               spdlog::info("datasource {} watches {}: a change starts a run", id_of(self),
                            cur.rec.config.path);
             } else {
               // Too big a tree stays too big: no new attempt until the node restarts. A
               // missing root is tried again after the next run.
               cur.watch_refused = connectors::is(r.error(), connectors::connector_errc::no_space);
               spdlog::warn("datasource {} cannot watch {}: {}; it is scanned on its schedule",
                            id_of(self), cur.rec.config.path, render(r.error()));
             }
             job_done(self);
           });
  });
}

// --- progress -------------------------------------------------------------------------------

void publish_progress(self_ptr self) {
  auto& st = self->state;
  if (!st.run) return;
  auto& c = st.run->counters;
  // Throttled: one event a second at most, none when nothing moved.
  auto moved = c.listed + c.done + c.failed + c.bytes_done + st.pending;
  if (moved == st.event_last_moved) return;
  st.event_last_moved = moved;
  publish(self, "progress",
          ",\"run\":" + std::to_string(st.run->number) + ",\"status\":\"" +
              storage::to_string(st.run->status) + "\",\"listed\":" + std::to_string(c.listed) +
              ",\"done\":" + std::to_string(c.done) + ",\"total\":" + std::to_string(c.done + st.pending) +
              ",\"failed\":" + std::to_string(c.failed) + ",\"bytes_done\":" + std::to_string(c.bytes_done) +
              ",\"bytes_total\":" + std::to_string(c.bytes_total));
}

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
  // A tick a second: a progress event when something moved, a log line every
  // progress_interval_ms.
  self->delayed_send(self, std::chrono::milliseconds{std::min<int64_t>(1000, st.ctx->settings().progress_interval_ms)},
                     progress_atom::value, ++st.progress_epoch);
}

}  // namespace detail

namespace {

using namespace detail;
using storage::run_record;

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
  if (s.starting_run) {
    // The run being numbered is the one asked for: its number is the answer.
    if (confirm)
      return refuse(actors_errc::forbidden_transition, "is running; confirm when it ends");
    s.sync_waiters.push_back(rp);
    return;
  }
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
  // The watch is in place before the first scan, so no change falls between them.
  start_watching(self);
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
                   // A watched tree may have changed while the node was down: scan it now.
                   schedule_at(self, rec.next_run_ms > 0 && !watches(self) ? rec.next_run_ms
                                                                          : s.ctx->now_ms());
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
  self->attach_functor([ctx = st.ctx, slot = st.watch] {
    if (auto h = slot->take(true); h != 0) ctx->watcher().unwatch(h);
  });
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
        out.datasource = id_of(self);
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
        if (epoch != s.schedule_epoch || run_active(self) || s.starting_run) return;
        if (s.rec.health == sync_health::disabled || s.rec.status == datasource_status::paused)
          return;
        bool watched = s.watch_dirty;
        s.watch_dirty = false;
        start_run(self, watched ? "watch" : "schedule", false);
      },
      [=](watch_atom, uint64_t, bool root_gone) {
        auto& s = self->state;
        if (root_gone) {
          // A run finds out what is there; the watch is set up again after it.
          if (auto h = s.watch->take(); h != 0) s.ctx->watcher().unwatch(h);
        }
        s.watch_dirty = true;
        // A run going on, a pause, an error: the run's end, a resume or a person looks again.
        if (!s.started || run_active(self) || s.starting_run ||
            s.rec.health == sync_health::disabled ||
            s.rec.status == datasource_status::paused || s.rec.status == datasource_status::error)
          return;
        schedule_at(self, s.ctx->now_ms());
      },
      [=](progress_atom, uint64_t epoch) {
        auto& s = self->state;
        if (epoch != s.progress_epoch || !run_active(self)) return;
        publish_progress(self);
        if (s.ctx->now_ms() - (s.progress_last_ms > 0 ? s.progress_last_ms : s.run->started_ms) >=
            s.ctx->settings().progress_interval_ms)
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
