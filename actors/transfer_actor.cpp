// actors/transfer_actor.cpp: the transfer actor: runs an item's copy (actors/item_copy.hpp) one
// chunk per I/O job, so pause, cancel and status are answered between chunks.
#include "actors/transfer_actor.hpp"

#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/item_copy.hpp"
#include "actors/node_context.hpp"
#include "connectors/volume.hpp"

namespace syncline::actors {

namespace {

enum class phase : uint8_t { starting, copying, committing, finished };

const char* to_string(phase p) {
  switch (p) {
    case phase::starting: return "starting";
    case phase::copying: return "copying";
    case phase::committing: return "committing";
    case phase::finished: return "finished";
  }
  return "unknown";
}

}  // namespace

struct transfer_state {
  static const char* name;
  transfer_init init;
  std::shared_ptr<copy_work> work = std::make_shared<copy_work>();
  transfer_report report;
  phase at = phase::starting;
  bool paused = false;
  bool cancelled = false;
  bool job_running = false;
  uint64_t bytes = 0;
  uint64_t epoch = 0;
};

const char* transfer_state::name = "transfer";

namespace {

using self_ptr = transfer_actor::stateful_pointer<transfer_state>;

void finish(self_ptr self, caf::error err) {
  auto& st = self->state;
  st.at = phase::finished;
  st.report.bytes = st.bytes;
  if (err) {
    st.report.outcome = transfer_outcome::failed;
    st.report.error = std::move(err);
  }
  self->send(st.init.volume, done_atom::value, st.report);
  self->quit();
}

void run_step(self_ptr self);

void on_job(self_ptr self, copy_step r) {
  auto& st = self->state;
  st.job_running = false;
  st.bytes += r.bytes;
  st.report = std::move(r.report);
  if (r.error || r.finished) {
    finish(self, std::move(r.error));
    return;
  }
  if (st.cancelled) {
    if (st.work->writer) st.work->writer->abort();
    finish(self, make_error(actors_errc::cancelled, "transfer cancelled"));
    return;
  }
  st.at = phase::copying;
  if (!st.paused) self->send(self, step_atom::value, st.epoch);
}

void run_step(self_ptr self) {
  auto& st = self->state;
  if (st.job_running || st.paused || st.at == phase::finished) return;
  st.job_running = true;
  auto* ctx = st.init.ctx;
  auto work = st.work;
  if (st.at == phase::starting) {
    run_io(self, ctx->pool(),
           [ctx, ds = st.init.datasource, vol = st.init.volume_id, item = st.init.item,
            verify = st.init.verify, work] {
             auto r = start_copy(*ctx, ds, vol, item, verify, *work);
             if (r.error || r.finished) return r;
             // Most files fit in one chunk: copy at once rather than in a second job.
             return copy_chunk(*ctx, *work, std::move(r.report));
           },
           [self](copy_step r) { on_job(self, std::move(r)); });
    return;
  }
  run_io(self, ctx->pool(),
         [ctx, work, report = st.report] { return copy_chunk(*ctx, *work, report); },
         [self](copy_step r) { on_job(self, std::move(r)); });
}

}  // namespace

transfer_actor::behavior_type transfer(transfer_actor::stateful_pointer<transfer_state> self,
                                       transfer_init init) {
  auto& st = self->state;
  st.init = std::move(init);
  st.paused = st.init.start_paused;
  st.report.datasource = st.init.datasource;
  st.report.volume = st.init.volume_id;
  st.report.reference = st.init.item.payload;
  st.report.ticket = st.init.item.ticket;
  run_step(self);
  return {
      [=](pause_atom) { self->state.paused = true; },
      [=](resume_atom) {
        auto& s = self->state;
        if (!s.paused) return;
        s.paused = false;
        run_step(self);
      },
      [=](cancel_atom) {
        auto& s = self->state;
        s.cancelled = true;
        if (!s.job_running) {
          if (s.work->writer) s.work->writer->abort();
          finish(self, make_error(actors_errc::cancelled, "transfer cancelled"));
        }
      },
      [=](step_atom, uint64_t epoch) {
        if (epoch == self->state.epoch) run_step(self);
      },
      [=](status_atom) -> actor_status {
        auto& s = self->state;
        actor_status out;
        out.id = "transfer/" + s.init.volume_id + "/" + std::to_string(s.init.item.ticket.seq);
        out.kind = "transfer";
        out.datasource = s.init.datasource;
        out.state = s.paused ? "paused" : to_string(s.at);
        out.mailbox = self->mailbox().size();
        out.current = s.init.item.payload;
        out.counters["bytes"] = static_cast<int64_t>(s.bytes);
        out.counters["size"] = static_cast<int64_t>(s.work->info.size);
        out.counters["priority"] = s.init.item.ticket.priority;
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

transfer_actor spawn_transfer(caf::local_actor* parent, transfer_init init) {
  return parent->spawn<caf::linked>(transfer, std::move(init));
}

}  // namespace syncline::actors
