// actors/site_actor.cpp: a site's three loops (docs/sites.md). Discovery scans the site volume
// and publishes what changed; the follower reads the tracker's change feed and queues the
// copies this site should hold; transfers pull them from their origin. Everything blocking
// (listing, HTTP, RocksDB) runs on the site's own I/O threads; the actor decides and counts.
#include "actors/site_actor.hpp"
#include "actors/site_jobs.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/io_pool.hpp"
#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "actors/site_keys.hpp"
#include "actors/site_logic.hpp"
#include "actors/sync_model.hpp"
#include "actors/text.hpp"
#include "connectors/error.hpp"
#include "connectors/http_fetch.hpp"
#include "connectors/local_volume.hpp"
#include "connectors/tracker_client.hpp"
#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::actors {

namespace {

using namespace site_detail;

using scan_atom = caf::atom_constant<caf::atom("site_scan")>;
using follow_atom = caf::atom_constant<caf::atom("site_feed")>;
using pump_atom = caf::atom_constant<caf::atom("site_pump")>;

// --- the actor -------------------------------------------------------------------------------

struct site_state {
  std::shared_ptr<site_env> env;
  std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<io_pool> pool;
  std::vector<std::shared_ptr<worker>> idle;  // transfer workers
  std::shared_ptr<worker> feed, scanner, bookkeeper, reporter;
  uint64_t cursor = 0;
  bool scanning = false, following = false;
  // Copies held whose `synced_<site>` is not recorded yet, with their queue items (acknowledged
  // once it is): recorded in batches, one at a time.
  struct held_copy {
    std::string id;
    int64_t time;
    storage::queue_ticket ticket;
  };
  std::vector<held_copy> unrecorded;
  bool recording = false, record_due = false;
  uint32_t record_attempts = 0;
  uint32_t workers = 0;  // transfer workers made so far (syncAmountReception may grow)
  // Transfers running (by reference) and items waiting for one of them to end.
  std::set<std::string> running;
  std::map<std::string, storage::queue_item> parked;
  std::map<std::string, uint32_t> attempts;
  uint32_t feed_attempts = 0;
  uint64_t scans = 0, scans_skipped = 0, published = 0, received = 0, failed = 0, bytes = 0, held = 0;
  uint64_t busy = 0;  // answers "busy" from origins (their syncAmountEmission)
  std::string last_error, link = "starting";
  // What the volume element says of the links (docs/sites.md, "Links down"): whether the
  // start's status is written (`announced`), whether the tracker answers and since when, and the
  // last reception failure (code 0: none since the last success), with what the element shows.
  bool announced = false, announcing = false, started = false, caught_up = false;
  bool link_up = false;
  int64_t link_changed_ms = 0, reported_ms = 0, reported_emission = 0;
  int reception_code = 0, shown_code = -1;
  std::string reception_text;
  bool reporting = false, report_again = false;

  static inline const char* name = "site";

  ~site_state() {
    stop->store(true);
    if (pool) pool->stop();
  }
};

using site_ptr = caf::stateful_actor<site_state>*;

void note_error(site_ptr self, const char* what, const caf::error& err) {
  auto& s = self->state;
  auto text = render(err);
  if (text != s.last_error) spdlog::warn("site {}: {}: {}", s.env->cfg.name, what, text);
  s.last_error = std::move(text);
}

std::chrono::seconds backoff(uint32_t attempts) {
  return std::chrono::seconds{std::min<uint32_t>(60, 1u << std::min<uint32_t>(attempts, 6))};
}

void pump(site_ptr self);
void scan(site_ptr self);
void follow(site_ptr self);
void steer(site_ptr self, const std::optional<connectors::flat_element>& own,
           const std::optional<connectors::flat_element>& global);

// Writes the link and reception status into the volume element: lastConnection* (a write that
// arrives is a connection that succeeded), `error` and `exit_reception` (rsync's code of the
// last reception failure, 0 when none since the last success) and `stderr_reception`. One write
// at a time; asked again meanwhile, it writes once more after.
void report(site_ptr self) {
  auto& s = self->state;
  if (s.reporting) {
    s.report_again = true;
    return;
  }
  s.reporting = true;
  auto now = s.env->ctx->now_ms();
  int code = s.reception_code;
  std::vector<status_field> fields{
      status_number("lastConnectionAttempt", now), status_number("lastConnectionSuccess", now),
      status_number("lastConnectionStatusChange", s.link_changed_ms), status_number("error", code),
      status_number("exit_reception", code), status_text("stderr_reception", s.reception_text)};
  // When another site last pulled a file from this one (its content route).
  auto emitted = s.env->ctx->last_emission(s.env->cfg.volume_id);
  if (emitted > 0) fields.push_back(status_number("last_emission", emitted));
  s.reported_emission = emitted;
  auto body = volume_status_body(s.env->cfg.name, fields);
  run_io(
      self, *s.pool,
      [w = s.reporter, body]() -> caf::error {
        auto r = w->tracker->sync_state(body);
        if (!r) return std::move(r.error());
        if (r->status != 200) return answer_error(*r, "recording the site's status");
        return caf::none;
      },
      [self, now, code](caf::error err) {
        auto& st = self->state;
        st.reporting = false;
        if (err) {
          note_error(self, "recording the site's status", err);
        } else {
          st.reported_ms = now;
          st.shown_code = code;
        }
        if (st.report_again) {
          st.report_again = false;
          report(self);
        }
      });
}

// A reception failed (`code`: rsync's), or succeeded (0): the element shows it when the code
// changes; a new text with the same code waits for the next heartbeat.
void reception_result(site_ptr self, int code, std::string text) {
  auto& s = self->state;
  s.reception_code = code;
  s.reception_text = std::move(text);
  if (code != s.shown_code && s.announced) report(self);
}

// The tracker answered (`up`) or not: the moment it changes is `lastConnectionStatusChange`;
// while up, the status is written again at least every minute (a heartbeat: a site whose
// `lastConnectionSuccess` is old is down or cut off).
void link_result(site_ptr self, bool up);

// Publishes the volume element's start status (run_start) and takes what the elements say;
// until it succeeds the site does not scan (its url is unknown to others), and it is tried
// again when the tracker answers again.
void announce(site_ptr self) {
  auto& s = self->state;
  if (s.announcing || s.announced) return;
  s.announcing = true;
  run_io(
      self, *s.pool, [env = s.env, w = s.scanner] { return run_start(*env, *w); },
      [self](start_outcome out) {
        auto& st = self->state;
        st.announcing = false;
        if (out.err) {
          note_error(self, "publishing the volume element", out.err);
        } else {
          st.announced = true;
          link_result(self, true);  // and the first report
          steer(self, out.own, out.global);
        }
        if (!st.started) {
          st.started = true;
          follow(self);  // the first scan follows the first pages of the feed
          pump(self);
        } else if (st.announced && st.caught_up) {
          scan(self);
        }
      });
}

void link_result(site_ptr self, bool up) {
  auto& s = self->state;
  auto now = s.env->ctx->now_ms();
  if (up != s.link_up) {
    s.link_up = up;
    s.link_changed_ms = now;
    if (up && s.started) {
      spdlog::info("site {}: the tracker answers again", s.env->cfg.name);
      s.last_error.clear();
    }
    if (up && s.announced) report(self);
  } else if (up && s.announced &&
             (now - s.reported_ms >= 60000 ||
              (now - s.reported_ms >= 5000 &&
               s.env->ctx->last_emission(s.env->cfg.volume_id) != s.reported_emission))) {
    // A heartbeat every minute; a new emission shows within seconds.
    report(self);
  }
  if (up && !s.announced) announce(self);
}

// Makes the copies held so far durable (syncfs), records their `synced_<site>` in one request,
// then acknowledges their queue items in one write: a crash in between leaves the items, which
// find their copies held and record them again.
void record_synced(site_ptr self) {
  auto& s = self->state;
  if (s.recording || s.unrecorded.empty()) return;
  s.recording = true;
  auto batch = std::make_shared<std::vector<site_state::held_copy>>(std::move(s.unrecorded));
  s.unrecorded.clear();
  run_io(
      self, *s.pool,
      [env = s.env, w = s.bookkeeper, batch]() -> caf::error {
        // Durable before the tracker is told (one syncfs per batch, as a datasource's group).
        if (auto err = env->volume->sync()) return err;
        std::vector<std::pair<std::string, int64_t>> copies;
        copies.reserve(batch->size());
        for (auto& c : *batch) copies.emplace_back(c.id, c.time);
        // With the volume element's last_reception, in the same request.
        auto body = synced_body(copies, env->cfg.name);
        body.back() = ',';
        body += volume_status_body(env->cfg.name,
                                   {status_number("last_reception", env->ctx->now_ms())}) + "]";
        auto r = w->tracker->sync_state(body);
        if (!r) return std::move(r.error());
        if (r->status != 200 && r->status != 207 && r->status != 404)
          return answer_error(*r, "recording copies");
        storage::write_batch acks{env->ctx->db()};
        for (auto& c : *batch)
          if (auto err = env->ctx->queue().ack(acks, c.ticket)) return err;
        return env->ctx->db().write(acks);
      },
      [self, batch](caf::error err) {
        auto& st = self->state;
        st.recording = false;
        if (err) {
          note_error(self, "recording copies at the tracker", err);
          // Keep them, in front of what came since, and try again after a while.
          batch->insert(batch->end(), std::make_move_iterator(st.unrecorded.begin()),
                        std::make_move_iterator(st.unrecorded.end()));
          st.unrecorded = std::move(*batch);
          auto n = ++st.record_attempts;
          self->delayed_send(self, backoff(n), io_done_atom::value,
                             io_continuation{[self] { record_synced(self); }});
          return;
        }
        st.record_attempts = 0;
        if (st.reception_code != 0) reception_result(self, 0, {});
        if (st.unrecorded.size() >= 256 || st.running.empty()) record_synced(self);
        pump(self);
      });
}

// A copy is held: recorded at once when a batch is full or nothing else runs, else soon.
void held(site_ptr self, std::string id, int64_t time, storage::queue_ticket ticket) {
  auto& s = self->state;
  s.unrecorded.push_back({std::move(id), time, std::move(ticket)});
  if (s.unrecorded.size() >= 256 || s.running.empty()) return record_synced(self);
  if (s.record_due) return;
  s.record_due = true;
  self->delayed_send(self, std::chrono::milliseconds{100}, io_done_atom::value,
                     io_continuation{[self] {
                       self->state.record_due = false;
                       record_synced(self);
                     }});
}

// What one transfer (alone or in a batch) came to: the copy recorded, the item acknowledged, or
// released for another attempt after a backoff; an item parked behind it goes back to the queue.
void finish(site_ptr self, const storage::queue_item& item, const wanted_copy& want,
            fetch_outcome& out) {
  auto& st = self->state;
  st.running.erase(want.reference);
  bool busy = out.err && connectors::is(out.err, connectors::connector_errc::busy);
  if (busy) {
    // The origin sends as many files at once as its syncAmountEmission allows: asked again in
    // a second, without counting an attempt or a failure.
    ++st.busy;
  } else if (out.err) {
    note_error(self, ("transfer of " + want.reference).c_str(), out.err);
    if (!is(out.err, actors_errc::paused) &&
        !connectors::is(out.err, connectors::connector_errc::cancelled)) {
      ++st.failed;
      int code = rsync_code(out.err);
      auto text = "receiving " + want.reference + " from " + want.origin + ": " + render(out.err);
      if (code == 5)
        text += " (the origin does not know this site's token, [site] token_file: do both "
                "sites follow the same tracker?)";
      reception_result(self, code, std::move(text));
    }
  }
  if (out.synced > 0) {
    ++st.received;
    st.bytes += out.received;
    st.attempts.erase(want.reference);
    held(self, element_id(want.reference), out.synced, item.ticket);
  } else if (out.done) {
    st.attempts.erase(want.reference);
    if (auto err = st.env->ctx->queue().ack(item.ticket))
      note_error(self, "acknowledging a transfer", err);
  } else {
    auto wait = busy ? std::chrono::seconds{1} : backoff(++st.attempts[want.reference]);
    self->delayed_send(self, wait, io_done_atom::value, io_continuation{[self, item] {
                         self->state.env->ctx->queue().release(item.ticket);
                         pump(self);
                       }});
  }
  auto p = st.parked.find(want.reference);
  if (p != st.parked.end()) {
    auto next = std::move(p->second);
    st.parked.erase(p);
    st.env->ctx->queue().release(next.ticket);
  }
}

void start_transfer(site_ptr self, storage::queue_item item, wanted_copy want) {
  auto& s = self->state;
  auto w = s.idle.back();
  s.idle.pop_back();
  s.running.insert(want.reference);
  run_io(
      self, *s.pool, [env = s.env, w, want] { return run_fetch(*env, *w, want); },
      [self, w, item, want](fetch_outcome out) {
        self->state.idle.push_back(w);
        finish(self, item, want, out);
        pump(self);
      });
}

// Several small files from one origin in one request (run_fetch_batch), on one worker.
void start_batch(site_ptr self, std::vector<storage::queue_item> items, std::vector<wanted_copy> wants) {
  auto& s = self->state;
  auto w = s.idle.back();
  s.idle.pop_back();
  for (auto& want : wants) s.running.insert(want.reference);
  run_io(
      self, *s.pool, [env = s.env, w, wants] { return run_fetch_batch(*env, *w, wants); },
      [self, w, items, wants](std::vector<fetch_outcome> outs) {
        self->state.idle.push_back(w);
        for (size_t i = 0; i < wants.size() && i < outs.size(); ++i) finish(self, items[i], wants[i], outs[i]);
        pump(self);
      });
}

// Whether `want` may travel in a batch: a small file (not a package).
bool batchable(const wanted_copy& want) {
  return want.size <= batch_file_bytes && !is_package(want.reference);
}

void pump(site_ptr self) {
  auto& s = self->state;
  auto& q = s.env->ctx->queue();
  auto live = s.env->live_now();
  if (!live.reception) return;  // enableReception: the queue waits
  for (;;) {
    if (s.running.size() >= live.amount) return;
    if (s.idle.empty()) {
      if (s.workers >= max_reception) return;
      s.idle.push_back(make_worker(*s.env, s.stop));
      ++s.workers;
    }
    auto items = q.pop(s.env->queue, 1);
    if (!items) {
      note_error(self, "reading the queue", items.error());
      return;
    }
    if (items->empty()) return;
    auto item = std::move(items->front());
    auto want = wanted_copy::decode(item.payload);
    if (!want) {
      spdlog::warn("site: dropping an unreadable queue item");
      (void)q.ack(item.ticket);
      continue;
    }
    if (s.running.count(want->reference)) {
      // One transfer per file at a time: this one waits for the running one (still leased).
      // Of two waiting, the newer version stays and the other is dropped: it asks for nothing
      // the newer does not give. (Releasing it instead would have it popped again at once,
      // and two waiting items would take turns for ever.)
      auto p = s.parked.find(want->reference);
      if (p == s.parked.end()) {
        s.parked.emplace(want->reference, std::move(item));
        continue;
      }
      auto waiting = wanted_copy::decode(p->second.payload);
      bool newer = !waiting || want->time > waiting->time;
      if (auto err = q.ack(newer ? p->second.ticket : item.ticket)) {
        note_error(self, "dropping a superseded transfer", err);
        q.release(item.ticket);
        return;  // tried again with the next pump
      }
      if (newer) p->second = std::move(item);
      continue;
    }
    if (!batchable(*want)) {
      start_transfer(self, std::move(item), std::move(*want));
      continue;
    }
    // A small file: others of the same origin that wait behind it go in the same request.
    std::vector<storage::queue_item> batch_items{std::move(item)};
    std::vector<wanted_copy> batch_wants{std::move(*want)};
    auto more = q.pop(s.env->queue, batch_files - 1);
    if (more) {
      for (auto& next : *more) {
        auto next_want = wanted_copy::decode(next.payload);
        if (next_want && batchable(*next_want) && next_want->origin == batch_wants.front().origin &&
            !s.running.count(next_want->reference) && batch_items.size() < batch_files) {
          bool twice = false;
          for (auto& b : batch_wants) twice = twice || b.reference == next_want->reference;
          if (!twice) {
            batch_items.push_back(std::move(next));
            batch_wants.push_back(std::move(*next_want));
            continue;
          }
        }
        q.release(next.ticket);  // popped again later, in its place
      }
    }
    if (batch_items.size() == 1)
      start_transfer(self, std::move(batch_items.front()), std::move(batch_wants.front()));
    else
      start_batch(self, std::move(batch_items), std::move(batch_wants));
  }
}

void follow(site_ptr self) {
  auto& s = self->state;
  if (s.following) return;
  s.following = true;
  run_io(
      self, *s.pool,
      [env = s.env, w = s.feed, since = s.cursor, wait = s.caught_up] {
        return run_follow(*env, *w, since, wait);
      },
      [self](follow_outcome out) {
        auto& st = self->state;
        st.following = false;
        if (out.err) {
          if (connectors::is(out.err, connectors::connector_errc::cancelled)) return;
          bool refused = connectors::is(out.err, connectors::connector_errc::permission_denied);
          st.link = refused ? "token refused" : "tracker unreachable";
          note_error(self,
                     refused ? "following the tracker's changes (the tracker refused the token of "
                               "[site] token_file: sign in again and write the new token there)"
                             : "following the tracker's changes",
                     out.err);
          link_result(self, false);
          auto n = ++st.feed_attempts;
          self->delayed_send(self, backoff(n), follow_atom::value);
          return;
        }
        st.feed_attempts = 0;
        st.link = "connected";
        link_result(self, true);
        if (out.reset)
          spdlog::info("site {}: the tracker no longer keeps changes after {}; read every "
                       "element once", st.env->cfg.name, st.cursor);
        st.cursor = out.cursor;
        if (out.own || out.global) steer(self, out.own, out.global);
        if (!st.caught_up && !out.more) {
          // Scans begin once the site has read what the tracker already knows (which files
          // are packages, which are arriving): it publishes only what is really new.
          st.caught_up = true;
          if (st.announced) scan(self);
        }
        if (out.queued > 0) pump(self);
        follow(self);
      });
}

void scan(site_ptr self) {
  auto& s = self->state;
  if (s.scanning) return;
  s.scanning = true;
  run_io(
      self, *s.pool, [env = s.env, w = s.scanner] { return run_scan(*env, *w); },
      [self](scan_outcome out) {
        auto& st = self->state;
        st.scanning = false;
        ++st.scans;
        st.published += out.added + out.modified + out.removed;
        st.held = out.held;
        if (out.err && !connectors::is(out.err, connectors::connector_errc::cancelled))
          note_error(self, "scanning the site volume", out.err);
        if (out.added + out.modified + out.removed > 0)
          spdlog::info("site {}: published {} new, {} modified, {} removed file(s)",
                       st.env->cfg.name, out.added, out.modified, out.removed);
        if (out.skipped) {
          --st.scans;
          ++st.scans_skipped;
        }
        self->delayed_send(self, std::chrono::seconds{st.env->live_now().scan_interval_s},
                           scan_atom::value);
      });
}

// Takes what the volume element and the global parameters say (either may be missing).
void steer(site_ptr self, const std::optional<connectors::flat_element>& own,
           const std::optional<connectors::flat_element>& global) {
  auto& s = self->state;
  live_settings before, after;
  {
    std::lock_guard<std::mutex> g{s.env->live_mtx};
    before = s.env->live;
    if (global) apply_global(*global, s.env->live);
    if (own) apply_volume(*own, s.env->live);
    after = s.env->live;
  }
  if (after.reception != before.reception || after.amount != before.amount)
    spdlog::info("site {}: reception {}, {} at once", s.env->cfg.name,
                 after.reception ? "on" : "off", after.amount);
  if (after.emission != before.emission) {
    s.env->ctx->set_emission_limit(s.env->cfg.volume_id, after.emission);
    spdlog::info("site {}: sending {} at once", s.env->cfg.name, after.emission);
  }
  if (after.rules != before.rules) {
    if (after.rules_problem.empty())
      spdlog::info("site {}: scan rules {}", s.env->cfg.name,
                   after.filter ? "changed" : "cleared: every file is scanned");
    else
      spdlog::warn("site {}: {}", s.env->cfg.name, after.rules_problem);
  }
  if (after.scans != before.scans || after.discovery != before.discovery)
    spdlog::info("site {}: scans {}", s.env->cfg.name, after.scans && after.discovery ? "on" : "off");
  pump(self);
  // A scan that was off, or a shorter interval, starts now rather than after the old wait.
  if ((after.scans && after.discovery && !(before.scans && before.discovery)) ||
      after.scan_interval_s < before.scan_interval_s)
    scan(self);
}

caf::behavior site(site_ptr self, std::shared_ptr<site_env> env) {
  auto& s = self->state;
  s.env = env;
  env->stop = s.stop;
  // Transfers (up to max_reception, as syncAmountReception says), the feed, scans, bookkeeping,
  // status reports.
  s.pool = std::make_unique<io_pool>(max_reception + 4);
  s.feed = make_worker(*env, s.stop);
  s.scanner = make_worker(*env, s.stop);
  s.bookkeeper = make_worker(*env, s.stop);
  s.reporter = make_worker(*env, s.stop);
  {
    // The settings seed what steers the site until its elements say otherwise.
    std::lock_guard<std::mutex> g{env->live_mtx};
    env->live.scan_interval_s = env->cfg.scan_interval.count();
    env->live.sync_everywhere = env->cfg.sync_everywhere;
    env->live.discover_deletions = env->cfg.discover_deletions;
    env->live.amount = std::clamp<uint32_t>(env->cfg.reception, 1, max_reception);
    env->live.emission = std::clamp<uint32_t>(env->cfg.emission, 1, max_emission);
    env->ctx->set_emission_limit(env->cfg.volume_id, env->live.emission);
  }
  if (auto stored = env->ctx->db().get_meta(env->cursor_key); stored && *stored)
    s.cursor = std::strtoull((*stored)->c_str(), nullptr, 10);
  spdlog::info("site {}: volume {}, tracker {}, changes after {}", env->cfg.name, env->cfg.path,
               env->cfg.tracker, s.cursor);
  // The volume element first (other sites find this one's content through it, and it steers
  // this one), then the loops.
  announce(self);
  return {
      [=](scan_atom) { scan(self); },
      [=](follow_atom) { follow(self); },
      [=](pump_atom) { pump(self); },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
      [=](status_atom) {
        auto& st = self->state;
        actor_status out;
        out.id = "site";
        out.kind = "site";
        out.state = st.link;
        if (!st.last_error.empty()) out.last_error = st.last_error;
        out.mailbox = self->mailbox().size();
        out.counters["scans"] = static_cast<int64_t>(st.scans);
        out.counters["published"] = static_cast<int64_t>(st.published);
        out.counters["received"] = static_cast<int64_t>(st.received);
        out.counters["received_bytes"] = static_cast<int64_t>(st.bytes);
        out.counters["failed"] = static_cast<int64_t>(st.failed);
        out.counters["origin_busy"] = static_cast<int64_t>(st.busy);
        out.counters["held_removals"] = static_cast<int64_t>(st.held);
        out.counters["transfers"] = static_cast<int64_t>(st.running.size());
        out.counters["unrecorded"] = static_cast<int64_t>(st.unrecorded.size());
        out.counters["queued"] = static_cast<int64_t>(st.env->ctx->queue().size(st.env->queue));
        out.counters["feed_cursor"] = static_cast<int64_t>(st.cursor);
        auto live = st.env->live_now();
        out.counters["scans_skipped"] = static_cast<int64_t>(st.scans_skipped);
        out.counters["scans_on"] = live.scans && live.discovery ? 1 : 0;
        out.counters["packages_on"] = live.discover_packages ? 1 : 0;
        out.counters["reception_on"] = live.reception ? 1 : 0;
        out.counters["reception_amount"] = live.amount;
        out.counters["emission_amount"] = live.emission;
        out.counters["emission_peak"] = st.env->ctx->emission_peak(st.env->cfg.volume_id);
        out.counters["reception_error"] = st.reception_code;
        return out;
      },
  };
}

}  // namespace

caf::actor spawn_site(caf::actor_system& sys, node_context* ctx, site_settings settings) {
  auto env = std::make_shared<site_env>();
  env->ctx = ctx;
  env->cfg = std::move(settings);
  env->scope = datastore_scope(site_scope_name, env->cfg.volume_id);
  env->queue = queue_name(env->cfg.volume_id, site_scope_name);
  env->cursor_key = "site/" + env->cfg.volume_id + "/cursor";
  env->part_prefix = "site/" + env->cfg.volume_id + "/part/";
  connectors::local_volume_options o;
  o.root = env->cfg.path;
  auto vol = connectors::local_volume::make(o);
  if (vol) env->volume = std::shared_ptr<connectors::volume>(std::move(*vol));
  ctx->set_volume(env->cfg.volume_id, env->volume);
  return sys.spawn(site, env);
}

}  // namespace syncline::actors
