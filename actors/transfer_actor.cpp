#include "actors/transfer_actor.hpp"

#include <charconv>
#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/sync_model.hpp"
#include "connectors/error.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"
#include "storage/database.hpp"

namespace syncline::actors {

namespace {

using connectors::connector_errc;
using connectors::item_info;
using connectors::item_kind;
using storage::datastore_row;
using storage::pending_action;

// Everything the copy's I/O jobs share; touched by one job at a time, never by the actor.
struct copy_work {
  std::shared_ptr<connectors::source> source;
  std::shared_ptr<connectors::volume> volume;
  std::unique_ptr<connectors::item_reader> reader;
  std::unique_ptr<connectors::item_writer> writer;
  item_info info;          // the item as opened at the source
  std::string checkpoint;  // meta key of the resume point
  bool has_checkpoint = false;
  uint64_t since_checkpoint = 0;
  bool hashing = false;
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hash{nullptr, &XXH3_freeState};
};

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

// What a job tells the actor.
struct job_result {
  caf::error error;
  bool finished = false;  // the report is complete: send it
  uint64_t bytes = 0;     // bytes moved by this job
  transfer_report report;
};

std::vector<char>& io_buffer() {
  thread_local std::vector<char> buf(1u << 20);
  return buf;
}

// Copies up to `limit` bytes; returns the bytes copied, 0 at the end of the source.
caf::expected<uint64_t> copy_some(copy_work& w, uint64_t limit) {
  uint64_t copied = 0;
  int fd = w.hashing ? -1 : w.reader->native_handle();
  while (copied < limit) {
    auto want = static_cast<size_t>(std::min<uint64_t>(limit - copied, 1u << 30));
    if (fd >= 0) {
      auto n = w.writer->copy_from(fd, want);
      if (!n) return std::move(n.error());
      if (*n == 0) break;
      w.reader->skip(*n);
      copied += *n;
      continue;
    }
    auto& buf = io_buffer();
    auto n = w.reader->read(buf.data(), std::min(want, buf.size()));
    if (!n) return std::move(n.error());
    if (*n == 0) break;
    if (w.hash) XXH3_64bits_update(w.hash.get(), buf.data(), *n);
    if (auto err = w.writer->write(buf.data(), *n)) return err;
    copied += *n;
  }
  return copied;
}

// With verification, a resumed copy must hash the bytes already written too: read them again
// from the source (they were verified durable, the source is the reference).
caf::error hash_prefix(copy_work& w, uint64_t prefix) {
  auto reader = w.source->open(w.info.reference, 0);
  if (!reader) return std::move(reader.error());
  auto& buf = io_buffer();
  while (prefix > 0) {
    auto n = (*reader)->read(buf.data(), static_cast<size_t>(std::min<uint64_t>(prefix, buf.size())));
    if (!n) return std::move(n.error());
    if (*n == 0) return connectors::make_error(connector_errc::changed_during_copy,
                                               w.info.reference + " became shorter");
    XXH3_64bits_update(w.hash.get(), buf.data(), *n);
    prefix -= *n;
  }
  return caf::none;
}

uint64_t read_checkpoint(node_context* ctx, const std::string& key) {
  auto v = ctx->db().get_meta(key);
  if (!v || !*v) return 0;
  uint64_t offset = 0;
  auto& s = **v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), offset);
  return r.ec == std::errc{} ? offset : 0;
}

void drop_checkpoint(node_context* ctx, copy_work& w) {
  if (!w.has_checkpoint) return;
  // A stale resume point only makes a later copy re-check a prefix: not worth failing for.
  if (auto err = ctx->db().erase_meta(w.checkpoint))
    spdlog::warn("cannot drop resume point {}: {}", w.checkpoint, render(err));
  w.has_checkpoint = false;
}

// The first job: read the row, do small actions at once, open the copy of a file.
job_result start_job(node_context* ctx, const std::string& datasource, const std::string& volume_id,
                     const storage::queue_item& item, bool verify, copy_work& w) {
  job_result res;
  auto& rep = res.report;
  rep.datasource = datasource;
  rep.volume = volume_id;
  rep.reference = item.payload;
  rep.ticket = item.ticket;
  auto row = ctx->rows().get(datastore_scope(datasource, volume_id), item.payload);
  if (!row) {
    res.error = std::move(row.error());
    return res;
  }
  if (!*row || (*row)->action == pending_action::none || (*row)->parked) {
    rep.outcome = transfer_outcome::skipped;
    res.finished = true;
    return res;
  }
  auto& r = **row;
  rep.generation = r.generation;
  rep.ticket = storage::queue_ticket{item.ticket.volume, r.queue_priority, r.queue_seq};
  if (rep.ticket.seq == 0) rep.ticket = item.ticket;
  auto pair_target = ctx->target(datasource, volume_id);
  if (!pair_target) {
    res.error = std::move(pair_target.error());
    return res;
  }
  w.volume = std::move(*pair_target);
  w.source = ctx->source(datasource);
  if (!w.volume || !w.source) {
    res.error = make_error(actors_errc::unknown_id, "no connector for " + datasource + " -> " +
                                                        volume_id);
    return res;
  }
  res.finished = true;
  if (r.action == pending_action::remove) {
    res.error = w.volume->remove(r.reference);
    return res;
  }
  if (r.flags & datastore_row::flag_directory) {
    item_info d;
    d.reference = r.reference;
    d.kind = item_kind::directory;
    d.mode = r.mode;
    d.mtime_ns = r.mtime_ns;
    res.error = w.volume->make_directory(d);
    return res;
  }
  if (r.flags & datastore_row::flag_symlink) {
    auto st = w.source->stat(r.reference);
    if (!st) {
      res.error = std::move(st.error());
    } else if (st->kind != item_kind::symlink) {
      res.error = connectors::make_error(connector_errc::changed_during_copy,
                                         r.reference + " is no longer a symlink");
    } else {
      res.error = w.volume->make_symlink(*st);
      rep.size = st->size;
      rep.mtime_ns = st->mtime_ns;
    }
    return res;
  }
  // A file: continue from a resume point if there is one.
  w.checkpoint =
      storage::datasource_store::checkpoint_key(queue_name(volume_id, datasource), r.reference);
  uint64_t resume = read_checkpoint(ctx, w.checkpoint);
  w.has_checkpoint = resume > 0;
  item_info target;
  target.reference = r.reference;
  target.kind = item_kind::file;
  target.size = r.size;
  target.mode = r.mode;
  target.mtime_ns = r.mtime_ns;
  auto writer = w.volume->open_writer(target, resume);
  if (!writer) {
    res.error = std::move(writer.error());
    return res;
  }
  w.writer = std::move(*writer);
  auto offset = w.writer->offset();
  auto reader = w.source->open(r.reference, offset);
  if (!reader) {
    // Gone from the source: a partial copy of it (from an earlier attempt, perhaps of a killed
    // node) would never be finished or removed by anyone. If the file comes back, its copy
    // starts afresh.
    if (connectors::is(reader.error(), connector_errc::not_found)) {
      w.writer->abort();
      drop_checkpoint(ctx, w);
    }
    res.error = std::move(reader.error());
    return res;
  }
  w.reader = std::move(*reader);
  w.info = w.reader->info();
  if (verify) {
    w.hashing = true;
    w.hash.reset(XXH3_createState());
    XXH3_64bits_reset(w.hash.get());
    if (offset > 0) {
      if (auto err = hash_prefix(w, offset)) {
        res.error = err;
        return res;
      }
    }
  }
  if (offset > 0)
    spdlog::info("transfer {} -> {}: {} resumes at byte {}", datasource, volume_id, r.reference,
                 offset);
  res.finished = false;
  return res;
}

// A chunk of a file copy; at the end of the source, commits.
job_result copy_job(node_context* ctx, copy_work& w, transfer_report report) {
  job_result res;
  res.report = std::move(report);
  auto& settings = ctx->settings();
  auto n = copy_some(w, settings.chunk_bytes);
  if (!n) {
    res.error = std::move(n.error());
    return res;
  }
  res.bytes = *n;
  w.since_checkpoint += *n;
  // copy_some stops early only at the end of the source.
  if (*n == settings.chunk_bytes) {
    // More to come. Every checkpoint_bytes: make the bytes durable and remember the offset.
    if (w.since_checkpoint >= settings.checkpoint_bytes) {
      if (auto err = w.writer->sync()) {
        res.error = err;
        return res;
      }
      if (auto err = ctx->db().put_meta(w.checkpoint, std::to_string(w.writer->offset()))) {
        res.error = err;
        return res;
      }
      w.has_checkpoint = true;
      w.since_checkpoint = 0;
    }
    return res;
  }
  // The end of the source: was it the same file all along?
  auto changed = w.reader->changed();
  if (!changed) {
    res.error = std::move(changed.error());
    return res;
  }
  if (*changed || w.writer->offset() != w.info.size) {
    w.writer->abort();
    drop_checkpoint(ctx, w);
    res.error = connectors::make_error(connector_errc::changed_during_copy,
                                       w.info.reference + " changed while it was copied");
    return res;
  }
  if (w.hashing) {
    auto expected = XXH3_64bits_digest(w.hash.get());
    auto written = w.writer->content_hash();
    if (!written) {
      res.error = std::move(written.error());
      return res;
    }
    if (*written != expected) {
      w.writer->abort();
      drop_checkpoint(ctx, w);
      res.error = connectors::make_error(connector_errc::hash_mismatch,
                                         w.info.reference + ": written bytes differ from read ones");
      return res;
    }
    res.report.has_hash = true;
    res.report.hash = expected;
  }
  if (auto err = w.writer->commit(w.info)) {
    res.error = err;
    return res;
  }
  drop_checkpoint(ctx, w);
  res.report.size = w.info.size;
  res.report.mtime_ns = w.info.mtime_ns;
  res.finished = true;
  return res;
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

void on_job(self_ptr self, job_result r) {
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
             auto r = start_job(ctx, ds, vol, item, verify, *work);
             if (r.error || r.finished) return r;
             // Most files fit in one chunk: copy at once rather than in a second job.
             return copy_job(ctx, *work, std::move(r.report));
           },
           [self](job_result r) { on_job(self, std::move(r)); });
    return;
  }
  run_io(self, ctx->pool(),
         [ctx, work, report = st.report] { return copy_job(ctx, *work, report); },
         [self](job_result r) { on_job(self, std::move(r)); });
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
