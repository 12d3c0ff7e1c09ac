#include "actors/supervisor_actor.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/connector_factory.hpp"
#include "actors/datasource_actor.hpp"
#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/targets.hpp"
#include "actors/text.hpp"
#include "actors/transfer_actor.hpp"
#include "actors/volume_actor.hpp"
#include "connectors/source.hpp"
#include "connectors/volume.hpp"

namespace syncline::actors {

namespace {

enum class child_state : uint8_t { running, restarting, parked };

const char* to_string(child_state s) {
  switch (s) {
    case child_state::running: return "running";
    case child_state::restarting: return "restarting";
    case child_state::parked: return "error";
  }
  return "unknown";
}

struct child {
  std::string id;    // the datasource's or volume's id
  std::string kind;  // "datasource" or "volume"
  caf::actor handle;
  child_state state = child_state::running;
  // A configuration change: start this record once the running actor is down.
  std::optional<datasource_record> successor;
  // The record a datasource was last started from: what a restart starts from when the
  // database holds none yet (an incarnation that ended before it first saved its record).
  std::optional<datasource_record> started_from;
  std::vector<caf::typed_response_promise<bool>> waiting;  // answered when replaced or deleted
  bool deleting = false;
  uint32_t restarts = 0;
  uint64_t epoch = 0;
  int64_t started_ms = 0;
  std::string last_error;
};

std::string key_of(const std::string& kind, const std::string& id) { return kind + "/" + id; }

}  // namespace

struct supervisor_state {
  static const char* name;
  node_context* ctx = nullptr;
  directory_actor directory;
  std::map<std::string, volume_record> volume_records;
  std::map<std::string, std::vector<std::string>> feeds;  // volume id -> datasource ids
  std::map<std::string, child> children;                  // by key "kind/id"
  std::map<caf::actor_addr, std::string> by_address;
  bool stopping = false;
  uint64_t restarts = 0;
};

const char* supervisor_state::name = "supervisor";

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

// An `actor` event: a child started, crashed (restarting) or parked in error.
void announce(self_ptr self, const child& c) {
  self->state.ctx->events().publish(
      "actor", c.kind == "datasource" ? c.id : std::string{},
      "{\"kind\":" + json_string(c.kind) + ",\"id\":" + json_string(c.id) + ",\"state\":\"" +
          to_string(c.state) + "\",\"restarts\":" + std::to_string(c.restarts) +
          ",\"last_error\":" + json_string(c.last_error) + "}");
}

void park(self_ptr self, child& c, std::string why) {
  c.state = child_state::parked;
  c.handle = caf::actor{};
  c.last_error = std::move(why);
  spdlog::error("{} {} is in error and will not be restarted until a person acts: {}", c.kind,
                c.id, c.last_error);
  announce(self, c);
}

void adopt(self_ptr self, child& c, caf::actor handle) {
  auto& st = self->state;
  self->monitor(handle);
  c.handle = handle;
  c.state = child_state::running;
  c.started_ms = st.ctx->now_ms();
  st.by_address[handle.address()] = key_of(c.kind, c.id);
  self->send(st.directory, register_atom::value,
             directory_entry{key_of(c.kind, c.id), c.kind, handle});
  announce(self, c);
}

void start_volume(self_ptr self, const volume_record& rec) {
  auto& st = self->state;
  auto& c = st.children[key_of("volume", rec.config.id)];
  c.id = rec.config.id;
  c.kind = "volume";
  auto conn = make_volume(rec.config);
  if (!conn) {
    park(self, c, render(conn.error()));
    return;
  }
  if (auto err = (*conn)->check()) {
    park(self, c, render(err));
    return;
  }
  volume_init init;
  init.ctx = st.ctx;
  init.record = rec;
  init.connector = std::move(*conn);
  adopt(self, c, caf::actor_cast<caf::actor>(spawn_volume(self, std::move(init))));
}

// Why `c`'s folder may not be a source here (see source_overlap), or "".
std::string overlap_of(self_ptr self, const datasource_config& c) {
  std::vector<volume_config> volumes;
  for (auto& [id, r] : self->state.volume_records) volumes.push_back(r.config);
  return source_overlap(c, volumes, self->state.ctx->db().data_dir().string());
}

// Why `c`'s targets cannot be: a bad path, or a target overlapping another datasource's in a
// volume they share (naming it); "" when they are fine.
std::string targets_problem_of(self_ptr self, const datasource_config& c) {
  if (auto p = target_problem(c); !p.empty()) return "datasource " + c.id + ": " + p;
  std::vector<datasource_config> others;
  for (auto& [key, ch] : self->state.children)
    if (ch.kind == "datasource" && !ch.deleting && ch.id != c.id && ch.started_from)
      others.push_back(ch.started_from->config);
  return target_conflict(c, others);
}

void start_datasource(self_ptr self, const datasource_record& rec);

// Starts `rec`, the new configuration of a datasource whose actor is down, after forgetting
// the links whose target moved (`moved`); then answers `waiting`.
void start_successor(self_ptr self, const std::string& key, datasource_record rec,
                     std::vector<std::string> moved,
                     std::vector<caf::typed_response_promise<bool>> waiting) {
  if (moved.empty()) {
    start_datasource(self, rec);
    for (auto& w : waiting) w.deliver(true);
    return;
  }
  auto& st = self->state;
  auto* ctx = st.ctx;
  auto id = rec.config.id;
  for (auto& v : moved) {
    spdlog::warn("datasource {}: its target in volume {} moved to '{}'; what it copied to the "
                 "old target stays there, and the new target is filled afresh",
                 id, v, target_of(rec.config, v));
    auto i = st.children.find(key_of("volume", v));
    if (i != st.children.end() && i->second.handle)
      self->send(caf::actor_cast<volume_actor>(i->second.handle), unregister_atom::value, id);
  }
  run_io(self, ctx->pool(),
         [ctx, id, moved]() -> caf::error {
           ctx->claim_writer(id);
           for (auto& v : moved)
             if (auto err = ctx->forget_link(id, v)) return err;
           return caf::none;
         },
         [self, key, rec, waiting](caf::error err) mutable {
           auto& s = self->state;
           auto j = s.children.find(key);
           if (j == s.children.end() || s.stopping) return;
           if (err) {
             park(self, j->second, render(err));
             for (auto& w : waiting) w.deliver(err);
             return;
           }
           start_datasource(self, rec);
           for (auto& w : waiting) w.deliver(true);
         });
}

void start_datasource(self_ptr self, const datasource_record& rec) {
  auto& st = self->state;
  auto& c = st.children[key_of("datasource", rec.config.id)];
  c.id = rec.config.id;
  c.kind = "datasource";
  c.started_from = rec;
  auto conn = make_source(rec.config, st.ctx->credentials());
  if (!conn) {
    park(self, c, render(conn.error()));
    return;
  }
  // A source overlapping a volume or the data directory would copy copies (or the database)
  // on every run: it waits for a person.
  if (auto overlap = overlap_of(self, rec.config); !overlap.empty()) {
    park(self, c, overlap);
    return;
  }
  datasource_init init;
  init.ctx = st.ctx;
  init.record = rec;
  init.source = std::move(*conn);
  for (auto& v : rec.config.volumes) {
    auto i = st.children.find(key_of("volume", v));
    if (i != st.children.end() && i->second.handle)
      init.volumes.emplace(v, caf::actor_cast<volume_actor>(i->second.handle));
  }
  auto handle = spawn_datasource(self, std::move(init));
  adopt(self, c, caf::actor_cast<caf::actor>(handle));
  for (auto& v : rec.config.volumes) {
    auto i = st.children.find(key_of("volume", v));
    if (i != st.children.end() && i->second.handle)
      self->send(caf::actor_cast<volume_actor>(i->second.handle), register_atom::value,
                 rec.config.id, caf::actor_cast<caf::actor>(handle));
  }
}

// Restarts a child from its record as stored now.
void restart(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto i = st.children.find(key);
  if (i == st.children.end() || st.stopping) return;
  auto& c = i->second;
  ++st.restarts;
  spdlog::info("restarting {} {} (restart {})", c.kind, c.id, c.restarts);
  if (c.kind == "volume") {
    auto r = st.volume_records.find(c.id);
    if (r == st.volume_records.end()) return;
    start_volume(self, r->second);
    // Its datasources must talk to the new incarnation.
    if (c.handle) {
      for (auto& ds : st.feeds[c.id]) {
        auto d = st.children.find(key_of("datasource", ds));
        if (d != st.children.end() && d->second.handle)
          self->send(caf::actor_cast<datasource_actor>(d->second.handle), register_atom::value,
                     c.id, c.handle);
      }
    }
    return;
  }
  auto* ctx = st.ctx;
  run_io(self, ctx->pool(), [ctx, id = c.id] { return load_datasource(ctx->datasources(), id); },
         [self, key](caf::expected<std::optional<datasource_record>> rec) {
           auto& s = self->state;
           auto j = s.children.find(key);
           if (j == s.children.end() || s.stopping) return;
           if (!rec) {
             park(self, j->second, render(rec.error()));
             return;
           }
           // A deleted datasource is no child any more: an absent record is one its first
           // incarnation did not save before it ended.
           if (!*rec && !j->second.started_from) {
             park(self, j->second, "its record is gone from the database");
             return;
           }
           start_datasource(self, *rec ? **rec : *j->second.started_from);
         });
}

// Deletes what a datasource owned (its copies on the volumes stay) and forgets it.
void finish_delete(self_ptr self, const std::string& key) {
  auto& st = self->state;
  auto& c = st.children[key];
  auto id = c.id;
  auto* ctx = st.ctx;
  std::vector<std::string> volumes;
  for (auto& [vid, feeders] : st.feeds)
    for (auto& f : feeders)
      if (f == id) volumes.push_back(vid);
  for (auto& v : volumes) {
    auto i = st.children.find(key_of("volume", v));
    if (i != st.children.end() && i->second.handle)
      self->send(caf::actor_cast<volume_actor>(i->second.handle), unregister_atom::value, id);
    auto& f = st.feeds[v];
    f.erase(std::remove(f.begin(), f.end(), id), f.end());
  }
  self->send(st.directory, unregister_atom::value, key);
  run_io(self, ctx->pool(),
         [ctx, id, volumes]() -> caf::error {
           // A stale writer may not touch these rows again.
           ctx->claim_writer(id);
           for (auto& v : volumes) {
             // Temporary files its transfers left in its targets would never be resumed.
             if (auto target = ctx->target(id, v)) {
               auto removed = (*target)->remove_temporaries();
               if (!removed)
                 spdlog::warn("deleting datasource {}: temporary files in volume {}: {}", id, v,
                              render(removed.error()));
               else if (*removed > 0)
                 spdlog::info("deleting datasource {}: {} temporary file(s) removed from volume {}",
                              id, *removed, v);
             }
           }
           // Its record, access list, credentials, runs, rows, queue items and resume
           // points: one batch, so a crash leaves it whole or gone.
           std::vector<storage::datasource_link> links;
           for (auto& v : volumes) links.push_back(node_context::link_of(id, v));
           return ctx->datasources().erase(id, links);
         },
         [self, key](caf::error err) {
           auto& s = self->state;
           auto i = s.children.find(key);
           if (i == s.children.end()) return;
           for (auto& w : i->second.waiting) {
             if (err)
               w.deliver(err);
             else
               w.deliver(true);
           }
           if (err) spdlog::error("deleting {}: {}", key, render(err));
           else spdlog::info("{} deleted", key);
           s.children.erase(i);
         });
}

void on_down(self_ptr self, caf::down_msg& dm) {
  auto& st = self->state;
  auto a = st.by_address.find(dm.source);
  if (a == st.by_address.end()) return;
  auto key = a->second;
  st.by_address.erase(a);
  auto i = st.children.find(key);
  if (i == st.children.end() || st.stopping) return;
  auto& c = i->second;
  if (c.handle && c.handle.address() != dm.source) return;  // an older incarnation
  c.handle = caf::actor{};
  if (c.deleting) {
    finish_delete(self, key);
    return;
  }
  if (c.successor) {
    auto next = std::move(*c.successor);
    c.successor.reset();
    c.restarts = 0;
    auto moved = c.started_from ? moved_targets(c.started_from->config, next.config)
                                : std::vector<std::string>{};
    auto waiting = std::move(c.waiting);
    c.waiting.clear();
    start_successor(self, key, std::move(next), std::move(moved), std::move(waiting));
    return;
  }
  if (!dm.reason) {
    c.state = child_state::parked;
    c.last_error = "exited";
    announce(self, c);
    return;
  }
  auto why = render(dm.reason);
  switch (classify(dm.reason)) {
    case failure_class::fatal:
      spdlog::critical("{} {} failed fatally, stopping the node: {}", c.kind, c.id, why);
      st.stopping = true;
      for (auto& [k, other] : st.children)
        if (other.handle) self->send_exit(other.handle, dm.reason);
      self->quit(dm.reason);
      return;
    case failure_class::no_retry:
      park(self, c, why);
      return;
    case failure_class::retry:
      break;
  }
  // A child that ran long enough before crashing starts its backoff afresh.
  if (st.ctx->now_ms() - c.started_ms > 60000) c.restarts = 0;
  ++c.restarts;
  c.state = child_state::restarting;
  c.last_error = why;
  announce(self, c);
  retry_policy p;
  p.base = std::chrono::milliseconds{st.ctx->settings().restart_base_ms};
  p.cap = std::chrono::milliseconds{60000};
  auto delay = backoff(p, c.restarts, st.ctx->random());
  spdlog::warn("{} {} crashed ({}); restart in {} ms", c.kind, c.id, why, delay.count());
  self->delayed_send(self, delay, restart_atom::value, key, ++c.epoch);
}

template <class Atom>
void broadcast(self_ptr self, Atom atom) {
  for (auto& [key, c] : self->state.children) {
    if (!c.handle) continue;
    if (c.kind == "volume")
      self->request(caf::actor_cast<volume_actor>(c.handle), caf::infinite, atom)
          .then([](bool) {}, [](caf::error&) {});
    else
      self->request(caf::actor_cast<datasource_actor>(c.handle), caf::infinite, atom)
          .then([](bool) {}, [](caf::error&) {});
  }
}

}  // namespace

supervisor_actor::behavior_type supervisor(supervisor_actor::stateful_pointer<supervisor_state> self,
                                           supervisor_init init) {
  auto& st = self->state;
  st.ctx = init.ctx;
  st.directory = init.directory;
  self->send(st.directory, register_atom::value,
             directory_entry{"supervisor", "supervisor", caf::actor_cast<caf::actor>(self)});
  for (auto& v : init.volumes) st.volume_records[v.config.id] = v;
  for (auto& d : init.datasources)
    for (auto& v : d.config.volumes) st.feeds[v].push_back(d.config.id);
  for (auto& v : init.volumes) start_volume(self, v);
  for (auto& d : init.datasources) start_datasource(self, d);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  self->set_exit_handler([=](caf::exit_msg& em) {
    // The node is stopping: stop every child, then ourselves.
    auto& s = self->state;
    s.stopping = true;
    for (auto& [key, c] : s.children)
      if (c.handle) self->send_exit(c.handle, em.reason);
    self->quit(em.reason);
  });
  return {
      [=](caf::add_atom, const std::string& encoded,
          const std::string& encoded_access) -> caf::result<bool> {
        auto rec = decode_datasource(encoded);
        if (!rec) return std::move(rec.error());
        auto access = storage::datasource_store::decode(encoded_access);
        if (!access) return make_error(actors_errc::bad_request, "unreadable access list");
        auto& s = self->state;
        auto& id = rec->config.id;
        if (auto problem = id_problem(id); !problem.empty())
          return make_error(actors_errc::bad_request, "datasource id " + problem);
        if (s.children.count(key_of("datasource", id)) != 0)
          return make_error(actors_errc::already_exists, "datasource " + id + " exists already");
        if (rec->config.volumes.empty())
          return make_error(actors_errc::bad_request, "datasource " + id + " feeds no volume");
        for (auto& v : rec->config.volumes)
          if (s.volume_records.count(v) == 0)
            return make_error(actors_errc::bad_request, "no volume " + v);
        if (auto overlap = overlap_of(self, rec->config); !overlap.empty())
          return make_error(actors_errc::bad_request, overlap);
        if (auto problem = targets_problem_of(self, rec->config); !problem.empty())
          return make_error(actors_errc::bad_request, problem);
        auto rp = self->make_response_promise<bool>();
        auto* ctx = s.ctx;
        auto record = *rec;
        run_io(self, ctx->pool(),
               [ctx, record, access = *access] {
                 return ctx->datasources().create(record.config.id, encode(record), access);
               },
               [self, record, rp](caf::error err) mutable {
                 if (err) {
                   rp.deliver(err);
                   return;
                 }
                 auto& s2 = self->state;
                 for (auto& v : record.config.volumes) s2.feeds[v].push_back(record.config.id);
                 start_datasource(self, record);
                 spdlog::info("datasource {} added", record.config.id);
                 rp.deliver(true);
               });
        return rp;
      },
      [=](caf::update_atom, const std::string& encoded) -> caf::result<bool> {
        auto rec = decode_datasource(encoded);
        if (!rec) return std::move(rec.error());
        auto& s = self->state;
        auto i = s.children.find(key_of("datasource", rec->config.id));
        if (i == s.children.end() || i->second.deleting)
          return make_error(actors_errc::unknown_id, "no datasource " + rec->config.id);
        for (auto& v : rec->config.volumes)
          if (s.volume_records.count(v) == 0)
            return make_error(actors_errc::bad_request, "no volume " + v);
        if (auto overlap = overlap_of(self, rec->config); !overlap.empty())
          return make_error(actors_errc::bad_request, overlap);
        if (auto problem = targets_problem_of(self, rec->config); !problem.empty())
          return make_error(actors_errc::bad_request, problem);
        auto rp = self->make_response_promise<bool>();
        auto* ctx = s.ctx;
        auto record = *rec;
        auto key = i->first;
        run_io(self, ctx->pool(), [ctx, record] { return save(ctx->datasources(), record); },
               [self, record, key, rp](caf::error err) mutable {
                 if (err) {
                   rp.deliver(err);
                   return;
                 }
                 auto& s2 = self->state;
                 auto j = s2.children.find(key);
                 if (j == s2.children.end()) {
                   rp.deliver(make_error(actors_errc::unknown_id, "datasource was deleted"));
                   return;
                 }
                 for (auto& [v, feeders] : s2.feeds)
                   feeders.erase(std::remove(feeders.begin(), feeders.end(), record.config.id),
                                 feeders.end());
                 for (auto& v : record.config.volumes) s2.feeds[v].push_back(record.config.id);
                 auto& c = j->second;
                 if (c.handle) {
                   // The successor starts when the running actor is down.
                   c.successor = record;
                   c.waiting.push_back(rp);
                   self->send_exit(c.handle, caf::exit_reason::user_shutdown);
                 } else {
                   auto moved = c.started_from ? moved_targets(c.started_from->config, record.config)
                                               : std::vector<std::string>{};
                   start_successor(self, key, record, std::move(moved), {rp});
                 }
                 spdlog::info("datasource {}: configuration changed", record.config.id);
               });
        return rp;
      },
      [=](caf::delete_atom, const std::string& id) -> caf::result<bool> {
        auto& s = self->state;
        auto key = key_of("datasource", id);
        auto i = s.children.find(key);
        if (i == s.children.end()) return make_error(actors_errc::unknown_id, "no datasource " + id);
        auto rp = self->make_response_promise<bool>();
        auto& c = i->second;
        c.deleting = true;
        c.waiting.push_back(rp);
        if (c.handle)
          self->send_exit(c.handle, caf::exit_reason::user_shutdown);
        else
          finish_delete(self, key);
        return rp;
      },
      [=](pause_atom) -> bool {
        broadcast(self, pause_atom::value);
        spdlog::info("node paused");
        return true;
      },
      [=](resume_atom) -> bool {
        broadcast(self, resume_atom::value);
        spdlog::info("node resumed");
        return true;
      },
      [=](status_atom) -> actor_status {
        auto& s = self->state;
        actor_status out;
        out.id = "supervisor";
        out.kind = "supervisor";
        out.state = s.stopping ? "stopping" : "running";
        out.mailbox = self->mailbox().size();
        out.counters["restarts"] = static_cast<int64_t>(s.restarts);
        for (auto& [key, c] : s.children) {
          actor_status child_status;
          child_status.id = key;
          child_status.kind = c.kind;
          if (c.kind == "datasource") child_status.datasource = c.id;
          child_status.state = to_string(c.state);
          child_status.last_error = c.last_error;
          child_status.counters["restarts"] = c.restarts;
          out.children.push_back(std::move(child_status));
          if (c.state == child_state::parked) ++out.counters["parked"];
        }
        return out;
      },
      [=](restart_atom, const std::string& key, uint64_t epoch) {
        auto i = self->state.children.find(key);
        if (i != self->state.children.end() && i->second.epoch == epoch &&
            i->second.state == child_state::restarting)
          restart(self, key);
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

supervisor_actor spawn_supervisor(caf::actor_system& sys, supervisor_init init) {
  return sys.spawn(supervisor, std::move(init));
}

}  // namespace syncline::actors
