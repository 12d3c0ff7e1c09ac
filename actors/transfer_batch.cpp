// actors/transfer_batch.cpp: a batch of small files as one transfer actor (see transfer_actor.hpp):
// one I/O job carries out many items (actors/item_copy.hpp's copy_batch), one message reports
// them all.
#include <atomic>
#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/error.hpp"
#include "actors/item_copy.hpp"
#include "actors/node_context.hpp"
#include "actors/transfer_actor.hpp"

namespace syncline::actors {

struct transfer_batch_state {
  static const char* name;
  transfer_batch_init init;
  // Set to stop the running job after its current file (pause, cancel). Shared with the job.
  std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
  std::vector<transfer_report> reports;  // one per item done, in order
  size_t next = 0;                       // the first item not carried out
  bool paused = false;
  bool cancelled = false;
  bool job_running = false;
  bool finished = false;
  uint64_t bytes = 0;
};

const char* transfer_batch_state::name = "transfer_batch";

namespace {

using self_ptr = transfer_actor::stateful_pointer<transfer_batch_state>;

void finish(self_ptr self) {
  auto& st = self->state;
  st.finished = true;
  // Items never reached (a cancel): failed, so that the volume gives them back or retries them.
  for (; st.next < st.init.items.size(); ++st.next) {
    auto& item = st.init.items[st.next];
    transfer_report r;
    r.datasource = st.init.datasource;
    r.volume = st.init.volume_id;
    r.reference = item.payload;
    r.ticket = item.ticket;
    r.outcome = transfer_outcome::failed;
    r.error = make_error(actors_errc::cancelled, "transfer cancelled");
    st.reports.push_back(std::move(r));
  }
  self->send(st.init.volume, done_atom::value, std::move(st.reports));
  self->quit();
}

void run_job(self_ptr self) {
  auto& st = self->state;
  if (st.job_running || st.paused || st.finished) return;
  if (st.cancelled || st.next >= st.init.items.size()) {
    finish(self);
    return;
  }
  st.job_running = true;
  st.stop->store(false);
  auto* ctx = st.init.ctx;
  // The items travel with the job by shared pointer: the actor does not touch them meanwhile.
  auto items = std::make_shared<const std::vector<storage::queue_item>>(st.init.items);
  run_io(self, ctx->pool(),
         [ctx, ds = st.init.datasource, vol = st.init.volume_id, items, from = st.next,
          verify = st.init.verify, stop = st.stop] {
           return copy_batch(*ctx, ds, vol, *items, from, verify, *stop);
         },
         [self](batch_step r) {
           auto& s = self->state;
           s.job_running = false;
           s.next = r.next;
           s.bytes += r.bytes;
           for (auto& rep : r.reports) s.reports.push_back(std::move(rep));
           run_job(self);
         });
}

}  // namespace

transfer_actor::behavior_type transfer_batch(
    transfer_actor::stateful_pointer<transfer_batch_state> self, transfer_batch_init init) {
  self->state.init = std::move(init);
  run_job(self);
  return {
      [=](pause_atom) {
        self->state.paused = true;
        self->state.stop->store(true);
      },
      [=](resume_atom) {
        auto& s = self->state;
        if (!s.paused) return;
        s.paused = false;
        run_job(self);
      },
      [=](cancel_atom) {
        auto& s = self->state;
        s.cancelled = true;
        s.stop->store(true);
        if (!s.job_running) finish(self);
      },
      [=](step_atom, uint64_t) { run_job(self); },
      [=](status_atom) -> actor_status {
        auto& s = self->state;
        auto& items = s.init.items;
        actor_status out;
        out.id = "transfer/" + s.init.volume_id + "/" +
                 std::to_string(items.empty() ? 0 : items.front().ticket.seq);
        out.kind = "transfer";
        out.datasource = s.init.datasource;
        out.state = s.paused ? "paused" : (s.finished ? "finished" : "copying");
        out.mailbox = self->mailbox().size();
        if (s.next < items.size()) out.current = items[s.next].payload;
        out.counters["files"] = static_cast<int64_t>(items.size());
        out.counters["files_done"] = static_cast<int64_t>(s.next);
        out.counters["bytes"] = static_cast<int64_t>(s.bytes);
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

transfer_actor spawn_transfer_batch(caf::local_actor* parent, transfer_batch_init init) {
  return parent->spawn<caf::linked>(transfer_batch, std::move(init));
}

}  // namespace syncline::actors
