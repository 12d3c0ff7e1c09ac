#include "actors/volume_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/sync_model.hpp"
#include "actors/transfer_actor.hpp"
#include "actors/volume_schedule.hpp"
#include "connectors/volume.hpp"

namespace syncline::actors {

namespace {

using storage::queue_item;
using storage::queue_ticket;

// A transfer actor: one item, or a batch of one datasource's small files.
struct running_transfer {
  transfer_actor handle;
  std::vector<queue_item> items;
  std::string datasource;
};

// A file a batch found to take a chunk or more: it waits for a transfer of its own.
struct chunked_item {
  std::string queue;
  std::string datasource;
  queue_item item;
};

// At most this many small files go to one batch.
constexpr size_t batch_files = 64;

// Queue items by the datasource they belong to.
using owned_tickets = std::vector<std::pair<std::string /*datasource id*/, queue_ticket>>;

// Items whose completion or failure a datasource is recording. If its incarnation ends before it
// answers (a crash, a restart by the supervisor), no answer ever comes: its response promise dies
// with it. The volume then gives the items back itself, so the next incarnation gets them again.
struct awaiting_answer {
  caf::actor_addr datasource;
  owned_tickets items;
};

struct refill_result {
  caf::error error;
  std::map<std::string, std::vector<queue_item>> items;  // by queue name
  std::set<std::string> exhausted;
};

}  // namespace

struct volume_state {
  static const char* name;
  node_context* ctx = nullptr;
  volume_record rec;
  std::shared_ptr<connectors::volume> conn;
  std::map<std::string, datasource_actor> datasources;
  volume_schedule schedule;  // the leased items and which one starts next
  bool paused = false;
  bool refilling = false;
  std::map<caf::actor_addr, running_transfer> running;
  running_set running_items;  // (datasource, reference)
  std::map<uint64_t, std::pair<std::string, queue_item>> retry_wait;  // seq -> (queue, item)
  std::deque<chunked_item> chunked;  // leased, start before anything else
  std::vector<transfer_report> group;
  std::map<uint64_t, awaiting_answer> awaiting;  // by ask number
  uint64_t asks = 0;
  uint64_t flush_epoch = 0;
  bool flushing = false;
  // counters
  uint64_t done = 0;
  uint64_t failed = 0;
  uint64_t retried = 0;
  uint64_t bytes = 0;
  uint64_t groups = 0;
  uint64_t batches = 0;
  std::string last_error;
};

const char* volume_state::name = "volume";

namespace {

using self_ptr = volume_actor::stateful_pointer<volume_state>;

const std::string& id_of(self_ptr self) { return self->state.rec.config.id; }

size_t limit_of(self_ptr self) {
  return std::max<uint32_t>(1, self->state.rec.config.sync_amount_reception);
}

// How many items a sub-queue keeps leased ahead: enough to fill every slot at once, and twice
// that so that the next item is at hand while a refill runs (else a lower-priority sub-queue
// could start an item while a higher one waits for its refill). Slots take batches of small
// files: with few sub-queues, each keeps enough for full batches in every slot (bounded, so
// that many sub-queues do not lease the whole queue into memory).
size_t buffer_target(self_ptr self) {
  auto base = std::clamp<size_t>(2 * limit_of(self), 2, 64);
  auto queues = std::max<size_t>(1, self->state.schedule.queue_count());
  auto wide = std::min<size_t>(2 * limit_of(self) * batch_files, 2048) / queues;
  return std::max(base, std::min(wide, 4 * batch_files));
}

std::string queue_of(self_ptr self, const std::string& datasource) {
  return queue_name(id_of(self), datasource);
}

// Makes `datasource`'s sub-queue known and looks into it at the next refill.
void wake(self_ptr self, const std::string& datasource) {
  auto queue = queue_of(self, datasource);
  self->state.schedule.add_queue(queue, datasource);
  self->state.schedule.wake(queue);
}

void give_back_leased(self_ptr self, const std::vector<queue_item>& items) {
  for (auto& item : items) self->state.ctx->queue().release(item.ticket);
}

void refill(self_ptr self);
void dispatch(self_ptr self);

// Files waiting for a transfer of their own (of `datasource`, or all) go back to the queue.
void give_back_chunked(self_ptr self, const std::string* datasource) {
  auto& st = self->state;
  for (auto i = st.chunked.begin(); i != st.chunked.end();) {
    if (datasource != nullptr && i->datasource != *datasource) {
      ++i;
      continue;
    }
    st.ctx->queue().release(i->item.ticket);
    st.schedule.wake(i->queue);
    i = st.chunked.erase(i);
  }
}

// True, and the item counts as running, unless the same item is being transferred now (queued
// again meanwhile, perhaps in this very batch) or another running item stands in its way (a file
// turned into a directory: in_the_way): then it is tried again later.
bool may_start(self_ptr self, const std::string& queue, const std::string& datasource,
               queue_item& item) {
  auto& st = self->state;
  if (!in_the_way(st.running_items, datasource, item.payload) &&
      st.running_items.emplace(datasource, item.payload).second)
    return true;
  auto ticket = item.ticket;
  st.retry_wait.emplace(ticket.seq, std::make_pair(queue, std::move(item)));
  self->delayed_send(self, std::chrono::milliseconds{st.ctx->settings().group_delay_ms * 2},
                     retry_atom::value, ticket);
  return false;
}

// Starts one transfer actor for `items` (all `datasource`'s): a transfer for one item (a file
// of any size), a batch for several (small files, as far as it knows).
void start_transfer(self_ptr self, const std::string& datasource, std::vector<queue_item> items) {
  auto& st = self->state;
  if (items.empty()) return;
  // Linked: when the volume stops (node shutdown), its transfers stop with it; their
  // temporary files stay, resumable.
  transfer_actor handle;
  if (items.size() == 1) {
    transfer_init init;
    init.ctx = st.ctx;
    init.volume = self;
    init.volume_id = id_of(self);
    init.datasource = datasource;
    init.item = items.front();
    init.verify = st.rec.config.verify;
    handle = spawn_transfer(self, std::move(init));
  } else {
    transfer_batch_init init;
    init.ctx = st.ctx;
    init.volume = self;
    init.volume_id = id_of(self);
    init.datasource = datasource;
    init.items = items;
    init.verify = st.rec.config.verify;
    handle = spawn_transfer_batch(self, std::move(init));
    ++st.batches;
  }
  st.running.emplace(handle.address(), running_transfer{handle, std::move(items), datasource});
}

void dispatch(self_ptr self) {
  auto& st = self->state;
  if (st.paused) return;
  // A few leased items that cannot get in each other's way are shared among the free slots
  // (a watched change's few hundred files: one batch per slot, copied side by side); else
  // each batch takes as many as it can, in queue order.
  bool share = st.schedule.buffered() < (limit_of(self) - st.running.size()) * batch_files &&
               st.schedule.buffered_independent();
  while (st.running.size() < limit_of(self)) {
    // Files a batch gave back (a chunk or more) go first, each on a transfer of its own.
    if (!st.chunked.empty()) {
      auto c = std::move(st.chunked.front());
      st.chunked.pop_front();
      if (may_start(self, c.queue, c.datasource, c.item))
        start_transfer(self, c.datasource, {std::move(c.item)});
      continue;
    }
    auto free_slots = limit_of(self) - st.running.size();
    auto most = share ? std::clamp<size_t>((st.schedule.buffered() + free_slots - 1) / free_slots,
                                           1, batch_files)
                      : batch_files;
    auto next = st.schedule.next();
    if (!next) break;
    // The queue item does not say how big its file is: the next items of the same sub-queue
    // go with it, as a batch (its job hands back the files that are not small).
    std::vector<queue_item> items;
    if (may_start(self, next->queue, next->datasource, next->item))
      items.push_back(std::move(next->item));
    while (items.size() < most) {
      auto more = st.schedule.next_from(next->queue);
      if (!more) break;
      if (may_start(self, more->queue, more->datasource, more->item))
        items.push_back(std::move(more->item));
    }
    start_transfer(self, next->datasource, std::move(items));
  }
  refill(self);
}

// Leases more items for the sub-queues that run low, in one I/O job.
void refill(self_ptr self) {
  auto& st = self->state;
  if (st.refilling || st.paused) return;
  auto asked = st.schedule.wanted(buffer_target(self));
  if (asked.wanted.empty()) return;
  st.refilling = true;
  auto* ctx = st.ctx;
  run_io(self, ctx->pool(),
         [ctx, wanted = asked.wanted] {
           refill_result r;
           for (auto& [name, n] : wanted) {
             auto items = ctx->queue().pop(name, n);
             if (!items) {
               r.error = std::move(items.error());
               return r;
             }
             if (items->size() < n) r.exhausted.insert(name);
             if (!items->empty()) r.items.emplace(name, std::move(*items));
           }
           return r;
         },
         [self, asked](refill_result r) {
           auto& s = self->state;
           s.refilling = false;
           if (r.error) {
             s.schedule.refilled(asked, {}, {}, s.paused);
             s.last_error = render(r.error);
             spdlog::error("volume {}: cannot read its queue: {}", id_of(self), s.last_error);
             if (classify(r.error) == failure_class::fatal) self->quit(r.error);
             return;
           }
           give_back_leased(self, s.schedule.refilled(asked, std::move(r.items), r.exhausted,
                                                      s.paused));
           dispatch(self);
         });
}

// --- completions --------------------------------------------------------------------------

void flush(self_ptr self);

// Completions per durable group: `group_max`, or 8 times that while more than a batch of items
// waits (a big run: fewer syncfs calls, each of which waits for everything being written back
// then). `group_delay_ms` still bounds how long a completion waits for its group's sync.
size_t group_limit(self_ptr self) {
  auto& st = self->state;
  auto base = std::max<size_t>(1, st.ctx->settings().group_max);
  return st.schedule.buffered() >= batch_files ? 8 * base : base;
}

void arm_flush(self_ptr self) {
  auto& st = self->state;
  if (st.group.size() >= group_limit(self)) {
    flush(self);
  } else if (st.group.size() == 1) {
    self->delayed_send(self, std::chrono::milliseconds{st.ctx->settings().group_delay_ms},
                       flush_atom::value, st.flush_epoch);
  }
}

owned_tickets tickets_of(const std::vector<transfer_report>& reports) {
  owned_tickets out;
  out.reserve(reports.size());
  for (auto& r : reports) out.emplace_back(r.datasource, r.ticket);
  return out;
}

// Records that `items` wait for `datasource`'s answer; returns the number to settle it with.
uint64_t await_answer(self_ptr self, const datasource_actor& datasource, owned_tickets items) {
  auto n = ++self->state.asks;
  self->state.awaiting.emplace(n, awaiting_answer{datasource.address(), std::move(items)});
  return n;
}

// The answer numbered `n` came (or is known never to come): its items the first time only.
std::optional<owned_tickets> settle(self_ptr self, uint64_t n) {
  auto i = self->state.awaiting.find(n);
  if (i == self->state.awaiting.end()) return std::nullopt;
  auto items = std::move(i->second.items);
  self->state.awaiting.erase(i);
  return items;
}

void give_back(self_ptr self, const owned_tickets& items) {
  // Not recorded: the items go back to the queue and will be transferred again.
  auto& st = self->state;
  for (auto& [datasource, ticket] : items) {
    st.ctx->queue().release(ticket);
    wake(self, datasource);
  }
}

void flush(self_ptr self) {
  auto& st = self->state;
  if (st.flushing || st.group.empty()) return;
  st.flushing = true;
  ++st.flush_epoch;
  auto group = std::move(st.group);
  st.group.clear();
  auto conn = st.conn;
  // One sync makes every copy of the group durable; only then are they reported done.
  run_io(self, st.ctx->pool(), [conn] { return conn->sync(); },
         [self, group = std::move(group)](caf::error err) mutable {
           auto& s = self->state;
           s.flushing = false;
           if (err) {
             s.last_error = render(err);
             spdlog::error("volume {}: sync failed, {} items will be copied again: {}",
                           id_of(self), group.size(), s.last_error);
             give_back(self, tickets_of(group));
           } else {
             ++s.groups;
             std::map<std::string, std::vector<transfer_report>> by_datasource;
             for (auto& r : group) by_datasource[r.datasource].push_back(std::move(r));
             for (auto& [ds, reports] : by_datasource) {
               auto i = s.datasources.find(ds);
               if (i == s.datasources.end()) {
                 give_back(self, tickets_of(reports));
                 continue;
               }
               auto n = reports.size();
               auto ask = await_answer(self, i->second, tickets_of(reports));
               self->request(i->second, caf::infinite, completed_atom::value, reports)
                   .then(
                       [self, n, ask](bool) {
                         if (settle(self, ask)) self->state.done += n;
                       },
                       [self, ask](caf::error& e) {
                         auto items = settle(self, ask);
                         if (!items) return;
                         spdlog::warn("volume {}: completions not recorded ({}); they will be "
                                      "redone",
                                      id_of(self), render(e));
                         give_back(self, *items);
                         dispatch(self);
                       });
             }
           }
           if (!s.group.empty()) {
             if (s.group.size() >= group_limit(self) || s.running.empty())
               flush(self);
             else
               self->delayed_send(self,
                                  std::chrono::milliseconds{s.ctx->settings().group_delay_ms},
                                  flush_atom::value, s.flush_epoch);
           }
           dispatch(self);
         });
}

void on_failed(self_ptr self, const std::string& queue, queue_item item, transfer_report report) {
  auto& st = self->state;
  ++st.failed;
  st.last_error = report.reference + ": " + render(report.error);
  auto i = st.datasources.find(report.datasource);
  if (i == st.datasources.end()) {
    st.ctx->queue().release(item.ticket);
    return;
  }
  auto ask = await_answer(self, i->second, {{report.datasource, item.ticket}});
  self->request(i->second, caf::infinite, failure_atom::value, report)
      .then(
          [self, queue, item, ask](const retry_decision& d) mutable {
            auto& s = self->state;
            if (!settle(self, ask)) return;
            if (!d.retry) return;  // parked in error; the datasource acknowledged the item
            ++s.retried;
            auto ticket = item.ticket;
            s.retry_wait.emplace(ticket.seq, std::make_pair(queue, std::move(item)));
            self->delayed_send(self, std::chrono::milliseconds{d.delay_ms}, retry_atom::value,
                               ticket);
          },
          [self, item, ask](caf::error&) {
            if (!settle(self, ask)) return;
            self->state.ctx->queue().release(item.ticket);
            dispatch(self);
          });
}

// One item's report, its item as leased.
void on_report(self_ptr self, const std::string& queue, queue_item item, transfer_report report) {
  auto& st = self->state;
  if (report.outcome == transfer_outcome::failed) {
    on_failed(self, queue, std::move(item), std::move(report));
  } else if (report.outcome == transfer_outcome::chunked) {
    st.chunked.push_back(chunked_item{queue, report.datasource, std::move(item)});
  } else {
    st.bytes += report.bytes;
    st.group.push_back(std::move(report));
    arm_flush(self);
  }
}

// A transfer actor reported: one report per item, in the order of its items.
void on_done(self_ptr self, const caf::actor_addr& source, std::vector<transfer_report> reports) {
  auto& st = self->state;
  auto i = st.running.find(source);
  if (i == st.running.end()) return;
  auto run = std::move(i->second);
  st.running.erase(i);
  for (auto& item : run.items) st.running_items.erase(std::make_pair(run.datasource, item.payload));
  auto queue = queue_name(id_of(self), run.datasource);
  for (size_t k = 0; k < run.items.size(); ++k) {
    if (k < reports.size()) {
      on_report(self, queue, std::move(run.items[k]), std::move(reports[k]));
    } else {
      // Not reported (cannot happen with our transfers): the item goes back to the queue.
      st.ctx->queue().release(run.items[k].ticket);
      wake(self, run.datasource);
    }
  }
  dispatch(self);
  // Nothing left in flight: no later copy can join the group, so waiting `group_delay_ms` for
  // one would only delay its sync (a watched change's few files wait for nothing else).
  if (st.running.empty()) flush(self);
}

// --- pause / resume -----------------------------------------------------------------------

void tell_transfers(self_ptr self, bool pause, const std::string* datasource) {
  for (auto& [addr, t] : self->state.running) {
    if (datasource != nullptr && t.datasource != *datasource) continue;
    if (pause)
      self->send(t.handle, pause_atom::value);
    else
      self->send(t.handle, resume_atom::value);
  }
}

// Pauses or resumes the running transfer (or batch) that holds ticket `seq`; false when none
// runs.
bool tell_transfer(self_ptr self, uint64_t seq, bool pause) {
  for (auto& [addr, t] : self->state.running) {
    auto holds = std::any_of(t.items.begin(), t.items.end(),
                             [seq](const queue_item& i) { return i.ticket.seq == seq; });
    if (!holds) continue;
    if (pause)
      self->send(t.handle, pause_atom::value);
    else
      self->send(t.handle, resume_atom::value);
    return true;
  }
  return false;
}

void save_paused(self_ptr self) {
  auto* ctx = self->state.ctx;
  auto rec = self->state.rec;
  run_io(self, ctx->pool(), [ctx, rec] { return save(ctx->db(), rec); },
         [self](caf::error err) {
           if (err) spdlog::error("volume {}: cannot save its record: {}", id_of(self), render(err));
         });
}

}  // namespace

volume_actor::behavior_type volume(volume_actor::stateful_pointer<volume_state> self,
                                   volume_init init) {
  auto& st = self->state;
  st.ctx = init.ctx;
  st.rec = std::move(init.record);
  st.conn = std::move(init.connector);
  st.paused = st.rec.paused || !st.rec.config.enable_reception;
  st.ctx->set_volume(id_of(self), st.conn);
  // Sub-queues left from before a restart: their items are all unleased now.
  for (auto& [name, count] : st.ctx->queue().sizes()) {
    auto parts = split_queue_name(name);
    if (parts && parts->first == id_of(self)) st.schedule.add_queue(name, parts->second);
  }
  // A datasource incarnation that ends owes no answer any more: what waited for one is given
  // back to the queue (see awaiting_answer). Its answers, when it sent them, came before this.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    owned_tickets lost;
    for (auto i = s.awaiting.begin(); i != s.awaiting.end();) {
      if (i->second.datasource == dm.source) {
        for (auto& item : i->second.items) lost.push_back(std::move(item));
        i = s.awaiting.erase(i);
      } else {
        ++i;
      }
    }
    for (auto i = s.datasources.begin(); i != s.datasources.end(); ++i) {
      if (i->second.address() == dm.source) {
        s.datasources.erase(i);
        break;
      }
    }
    if (lost.empty()) return;
    spdlog::info("volume {}: {} items waited for a datasource that ended; they go again",
                 id_of(self), lost.size());
    give_back(self, lost);
    dispatch(self);
  });
  self->set_exit_handler([=](caf::exit_msg& em) {
    auto i = self->state.running.find(em.source);
    if (i == self->state.running.end()) {
      // Not one of our transfers (those that reported are gone from `running`): the node is
      // stopping us.
      if (em.reason) self->quit(em.reason);
      return;
    }
    // A transfer that ended without reporting crashed: a retryable failure of each item.
    std::vector<transfer_report> reports;
    for (auto& item : i->second.items) {
      transfer_report r;
      r.datasource = i->second.datasource;
      r.volume = id_of(self);
      r.reference = item.payload;
      r.ticket = item.ticket;
      r.outcome = transfer_outcome::failed;
      r.error = em.reason ? em.reason : make_error(actors_errc::cancelled, "transfer ended");
      reports.push_back(std::move(r));
    }
    on_done(self, em.source, std::move(reports));
  });
  return {
      [=](register_atom, const std::string& id, const caf::actor& handle) {
        self->state.datasources[id] = caf::actor_cast<datasource_actor>(handle);
        self->monitor(handle);
        // A new incarnation: what an older one queued may not have been announced by a kick.
        wake(self, id);
        refill(self);
      },
      [=](unregister_atom, const std::string& datasource) {
        auto& s = self->state;
        give_back_leased(self, s.schedule.forget(datasource, queue_of(self, datasource)));
        give_back_chunked(self, &datasource);
        s.datasources.erase(datasource);
      },
      [=](kick_atom, const std::string& datasource) {
        wake(self, datasource);
        refill(self);
      },
      [=](pause_atom) -> bool {
        auto& s = self->state;
        if (s.paused) return true;
        s.paused = true;
        s.rec.paused = true;
        // A paused volume holds no items it is not transferring: they stay in the queue, where a
        // priority change still applies to them.
        give_back_leased(self, s.schedule.release_all());
        give_back_chunked(self, nullptr);
        tell_transfers(self, true, nullptr);
        save_paused(self);
        spdlog::info("volume {} paused", id_of(self));
        return true;
      },
      [=](resume_atom) -> bool {
        auto& s = self->state;
        s.rec.paused = false;
        s.paused = !s.rec.config.enable_reception;
        tell_transfers(self, false, nullptr);
        save_paused(self);
        spdlog::info("volume {} resumed", id_of(self));
        dispatch(self);
        return true;
      },
      [=](pause_atom, const std::string& datasource) -> bool {
        auto& s = self->state;
        // A datasource may be paused before its registration reaches us (its start can
        // overtake the supervisor's message): the schedule still learns whose sub-queue it is.
        give_back_leased(self, s.schedule.pause(datasource, queue_of(self, datasource)));
        give_back_chunked(self, &datasource);
        tell_transfers(self, true, &datasource);
        return true;
      },
      [=](resume_atom, const std::string& datasource) -> bool {
        auto& s = self->state;
        s.schedule.resume(datasource, queue_of(self, datasource));
        tell_transfers(self, false, &datasource);
        dispatch(self);
        return true;
      },
      [=](pause_atom, uint64_t seq) -> bool { return tell_transfer(self, seq, true); },
      [=](resume_atom, uint64_t seq) -> bool { return tell_transfer(self, seq, false); },
      [=](done_atom, transfer_report& report) {
        on_done(self, self->current_sender() ? self->current_sender()->address() : caf::actor_addr{},
                {std::move(report)});
      },
      [=](done_atom, std::vector<transfer_report>& reports) {
        on_done(self, self->current_sender() ? self->current_sender()->address() : caf::actor_addr{},
                std::move(reports));
      },
      [=](retry_atom, const queue_ticket& ticket) {
        auto& s = self->state;
        auto i = s.retry_wait.find(ticket.seq);
        if (i == s.retry_wait.end()) return;
        auto [queue, item] = std::move(i->second);
        s.retry_wait.erase(i);
        auto leased = item.ticket;
        if (!s.schedule.put_back(queue, std::move(item))) {
          s.ctx->queue().release(leased);
          return;
        }
        dispatch(self);
      },
      [=](flush_atom, uint64_t epoch) {
        if (epoch == self->state.flush_epoch) flush(self);
      },
      [=](status_atom) -> actor_status {
        auto& s = self->state;
        actor_status out;
        out.id = "volume/" + id_of(self);
        out.kind = "volume";
        out.state = s.paused ? "paused" : (s.running.empty() ? "idle" : "transferring");
        out.mailbox = self->mailbox().size();
        out.last_error = s.last_error;
        uint64_t queued = 0;
        for (auto& name : s.schedule.queue_names()) queued += s.ctx->queue().size(name);
        uint64_t buffered = s.schedule.buffered() + s.chunked.size();
        out.counters["queued"] = static_cast<int64_t>(queued);
        out.counters["buffered"] = static_cast<int64_t>(buffered);
        out.counters["running"] = static_cast<int64_t>(s.running.size());
        out.counters["waiting_retry"] = static_cast<int64_t>(s.retry_wait.size());
        out.counters["awaiting_sync"] = static_cast<int64_t>(s.group.size());
        out.counters["done"] = static_cast<int64_t>(s.done);
        out.counters["failed"] = static_cast<int64_t>(s.failed);
        out.counters["retried"] = static_cast<int64_t>(s.retried);
        out.counters["bytes"] = static_cast<int64_t>(s.bytes);
        out.counters["sync_groups"] = static_cast<int64_t>(s.groups);
        out.counters["batches"] = static_cast<int64_t>(s.batches);
        out.counters["sync_amount_reception"] = s.rec.config.sync_amount_reception;
        for (auto& [addr, t] : s.running) {
          // A batch is named after its first item and shows how many files it holds.
          auto& first = t.items.front();
          actor_status c;
          c.id = "transfer/" + id_of(self) + "/" + std::to_string(first.ticket.seq);
          c.kind = "transfer";
          c.datasource = t.datasource;
          c.state = s.paused || s.schedule.paused(t.datasource) ? "paused" : "running";
          c.current = t.datasource + ":" + first.payload;
          if (t.items.size() > 1)
            c.current += " and " + std::to_string(t.items.size() - 1) + " more files";
          c.counters["files"] = static_cast<int64_t>(t.items.size());
          c.counters["priority"] = first.ticket.priority;
          out.children.push_back(std::move(c));
        }
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

volume_actor spawn_volume(caf::local_actor* parent, volume_init init) {
  return parent->spawn(volume, std::move(init));
}

volume_actor spawn_volume(caf::actor_system& sys, volume_init init) {
  return sys.spawn(volume, std::move(init));
}

}  // namespace syncline::actors
