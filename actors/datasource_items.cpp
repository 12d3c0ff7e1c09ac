// actors/datasource_items.cpp: a datasource's work on single items outside the merge: the
// completions and failures the volumes report, a new priority for queued items, and one item
// again (@sendToCompute).
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/datasource_state.hpp"
#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "connectors/error.hpp"
#include "connectors/glob.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "storage/database.hpp"
#include "storage/row_reads.hpp"

namespace syncline::actors::detail {

namespace {

using storage::datastore_row;
using storage::pending_action;

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
  // A run over changed paths waits for the items its merge decided, and no other's.
  if (st.changed) return st.changed_refs && st.changed_refs->count(reference) > 0;
  return st.querying_done || (!st.scan_position.empty() && reference <= st.scan_position);
}

}  // namespace

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
             // The reports' rows, read at once (one MultiGet).
             std::vector<std::string> scopes;
             scopes.reserve(reports.size());
             for (auto& r : reports) scopes.push_back(datastore_scope(id, r.volume));
             std::vector<storage::row_key> keys;
             keys.reserve(reports.size());
             for (size_t i = 0; i < reports.size(); ++i)
               keys.push_back({scopes[i], reports[i].reference});
             auto rows = storage::read_rows(ctx->db(), keys);
             for (size_t i = 0; i < reports.size(); ++i) {
               auto& r = reports[i];
               const auto& scope = scopes[i];
               auto qname = queue_name(r.volume, id);
               auto& row = rows[i];
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
                   // A partial copy's resume point goes with it, in the same write (the
                   // removal took the temporary file; a copy that never ran would not).
                   batch.erase(storage::column::meta,
                               storage::datasource_store::checkpoint_key(qname, w.reference));
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
                 // An add is "never delivered" only if the target has nothing under its
                 // name: an incarnation killed between a copy's rename and its commit leaves
                 // the file delivered and the row still saying add. Such a copy is removed
                 // like any other (auto), never forgotten.
                 bool maybe_delivered = w.action != pending_action::add;
                 if (!maybe_delivered && type == sync_type::auto_) {
                   auto target = ctx->target(id, report.volume);
                   if (!target || !*target) {
                     maybe_delivered = true;  // cannot look: assume the worst
                   } else {
                     auto there = (*target)->stat(w.reference);
                     maybe_delivered = !there || there->has_value();
                   }
                 }
                 if (!maybe_delivered) {
                   ctx->rows().erase(batch, scope, w.reference);  // never delivered: forgotten
                   batch.erase(storage::column::meta,
                               storage::datasource_store::checkpoint_key(qname, w.reference));
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

}  // namespace syncline::actors::detail
