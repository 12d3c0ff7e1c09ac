// actors/datasource_api_actor.cpp: the datasource API actor: runs the storage operations on the
// I/O pool and the ones that need a datasource's actor or the supervisor (create, change,
// delete, pause, resume, sendToSpyder, sendToCompute) itself.
#include "actors/datasource_api_actor.hpp"
#include "actors/datasource_api_ops.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "actors/datasource_schema.hpp"
#include "actors/error.hpp"
#include "actors/io_pool.hpp"
#include "actors/node_context.hpp"
#include "actors/records.hpp"
#include "actors/targets.hpp"
#include "actors/tracker_json.hpp"
#include "connectors/glob.hpp"
#include "storage/credential_store.hpp"
#include "storage/datasource_store.hpp"
#include "storage/element_query.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::actors {

using namespace detail;  // the datasource API's shared parts
using storage::user_class;

// --- the actor ------------------------------------------------------------------------------

struct datasource_api_state {
  static const char* name;
  std::shared_ptr<services> svc = std::make_shared<services>();
  supervisor_actor supervisor;
  directory_actor directory;
  std::unordered_set<std::string> busy;  // datasources being created, changed or deleted
  uint64_t requests = 0;
  uint64_t refused = 0;
};

const char* datasource_api_state::name = "datasource_api";

namespace {

using self_ptr = datasource_api_actor::stateful_pointer<datasource_api_state>;

void answer(self_ptr self, const call& c, api_answer r) {
  if (r.error) ++self->state.refused;
  if (c.req->respond) c.req->respond(std::move(r));
}

// Runs `fn(actor)` with the datasource's running actor, or answers why there is none.
template <class Fn>
void with_actor(self_ptr self, const call& c, Fn fn) {
  auto& st = self->state;
  self->request(st.directory, caf::duration{st.svc->settings.actor_timeout}, find_atom::value,
                "datasource/" + c.id)
      .then(
          [=](caf::actor& a) {
            if (!a)
              return answer(self, c, refuse(actors_errc::conflict, "datasource " + c.id + " is not running"));
            fn(caf::actor_cast<datasource_actor>(a));
          },
          [=](caf::error&) {
            answer(self, c,
                   refuse(actors_errc::conflict, "datasource " + c.id +
                                 " is not running (parked in error or being restarted); see its "
                                 "last_error"));
          });
}

// The answer to a status change: the datasource as it is now.
void answer_status(self_ptr self, const call& c, datasource_actor a) {
  self->request<caf::message_priority::high>(a, caf::duration{self->state.svc->settings.actor_timeout},
                                             status_atom::value)
      .then(
          [=](actor_status& st) {
            answer(self, c,
                   answer_json(answer_kind::done, "{\"id\":" + json_string(c.id) + ",\"status\":" +
                                          json_string(st.state) + "}"));
          },
          [=](caf::error& err) { answer(self, c, answer_error(err)); });
}

// A person asks for a status: `paused` (pause), `resuming` (resume) or `syncing` (sync now).
// The transition table decides first, from the status the actor reports now.
void change_status(self_ptr self, const call& c, datasource_status to) {
  with_actor(self, c, [=](datasource_actor a) {
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    self->request<caf::message_priority::high>(a, timeout, status_atom::value)
        .then(
            [=](actor_status& now) {
              auto from = datasource_status_from_string(now.state);
              if (!from) return answer(self, c, refuse(actors_errc::job_failed, "unknown status " + now.state));
              if (*from != to) {
                if (auto err = check(*from, to))
                  return answer(self, c, refuse(actors_errc::conflict, error_message(err)));
              } else if (to != datasource_status::syncing) {
                return answer_status(self, c, a);
              }
              auto done = [=](bool ok) {
                if (!ok)
                  return answer(self, c,
                                refuse(actors_errc::conflict, "datasource " + c.id + " refused to move from " +
                                              now.state + " to " + to_string(to)));
                answer_status(self, c, a);
              };
              auto failed = [=](caf::error& err) { answer(self, c, answer_error(err)); };
              if (to == datasource_status::paused)
                self->request(a, timeout, pause_atom::value).then(done, failed);
              else if (to == datasource_status::resuming)
                self->request(a, timeout, resume_atom::value).then(done, failed);
              else
                self->request(a, timeout, sync_now_atom::value)
                    .then([=](uint64_t) { answer_status(self, c, a); }, failed);
            },
            [=](caf::error& err) { answer(self, c, answer_error(err)); });
  });
}

void change_health(self_ptr self, const call& c, sync_health to) {
  with_actor(self, c, [=](datasource_actor a) {
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    auto done = [=](bool ok) {
      if (!ok)
        return answer(self, c,
                      refuse(actors_errc::conflict, "datasource " + c.id + " cannot move its health to " +
                                    to_string(to)));
      answer(self, c,
             answer_json(answer_kind::done, "{\"id\":" + json_string(c.id) + ",\"health\":" +
                                    json_string(to_string(to)) + "}"));
    };
    auto failed = [=](caf::error& err) { answer(self, c, answer_error(err)); };
    if (to == sync_health::disabled)
      self->request(a, timeout, disable_atom::value).then(done, failed);
    else
      self->request(a, timeout, enable_atom::value).then(done, failed);
  });
}

void op_create(self_ptr self, const call& c) {
  auto& st = self->state;
  auto& s = *st.svc;
  if (c.cls < user_class::editor)
    return answer(self, c, refuse(actors_errc::forbidden, "creating a datasource needs the class editor"));
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return answer(self, c, std::move(*bad));
  datasource_record rec;
  auto& cfg = rec.config;
  cfg.container = c.container;
  cfg.account = c.account;
  cfg.workspace = c.workspace;
  cfg.id = c.id;
  if (auto* id = body_param(d, "id")) {
    if (!id->IsString()) return answer(self, c, refuse(actors_errc::bad_request, "id must be a string"));
    if (!c.id.empty() && str(*id) != c.id)
      return answer(self, c, refuse(actors_errc::bad_request, "the body's id differs from the path's " + c.id));
    cfg.id = str(*id);
  }
  if (cfg.id.empty()) return answer(self, c, refuse(actors_errc::bad_request, "a datasource needs an id"));
  if (auto p = id_problem(cfg.id); !p.empty())
    return answer(self, c, refuse(actors_errc::bad_request, "datasource id " + p));
  for (auto [key, value] : {std::pair<const char*, const std::string*>{"container", &c.container},
                            {"account", &c.account},
                            {"workspace", &c.workspace}})
    if (auto* v = body_param(d, key); v != nullptr && (!v->IsString() || str(*v) != *value))
      return answer(self, c, refuse(actors_errc::bad_request, std::string{key} + " differs from the path's"));
  if (!d.HasMember("type"))
    return answer(self, c, refuse(actors_errc::bad_request, "a datasource needs a type (\"folder\", \"synthetic\" or \"http\")"));
  if (auto p = apply_config(d, cfg); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  if (auto p = datasource_problem(cfg); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  if (cfg.type == "folder")
    if (auto p = allowed_root_problem(cfg.path, s.settings.allowed_roots); !p.empty())
      return answer(self, c, refuse(actors_errc::forbidden, p));
  if (auto* status = body_param(d, "status")) {
    if (!status->IsString() || (str(*status) != "paused" && str(*status) != "created"))
      return answer(self, c, refuse(actors_errc::bad_request, "a datasource is created \"created\" or \"paused\""));
    if (str(*status) == "paused")
      if (auto err = move_status(rec, datasource_status::paused))
        return answer(self, c, answer_error(err));
  }
  if (st.busy.count(cfg.id) != 0)
    return answer(self, c, refuse(actors_errc::conflict, "datasource " + cfg.id + " is being changed; retry"));
  rec.created_ms = storage::epoch_ms();
  access_record access;
  access.origin = "api";
  access.owner = c.req->user;
  access.created_ms = rec.created_ms;
  // The supervisor stores the record and its access list in one batch, then starts it; an id
  // that exists is refused there (already_exists, 409) under the store's lock.
  st.busy.insert(cfg.id);
  self->request(st.supervisor, caf::duration{s.settings.actor_timeout}, caf::add_atom::value,
                encode(rec), storage::datasource_store::encode(access))
      .then(
          [=](bool) {
            self->state.busy.erase(rec.config.id);
            spdlog::info("datasource {} created in {}/{}/{} by {}", rec.config.id, c.container,
                         c.account, c.workspace, c.req->user);
            auto r = answer_json(answer_kind::created, view_json(rec, access, c.req->user, c.cls, {}));
            r.created_id = rec.config.id;
            answer(self, c, std::move(r));
          },
          [=](caf::error& err) {
            self->state.busy.erase(rec.config.id);
            answer(self, c, answer_error(err));
          });
}

void op_change(self_ptr self, const call& c) {
  auto& st = self->state;
  auto& s = *st.svc;
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  auto l = std::get<loaded>(std::move(got));
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return answer(self, c, std::move(*bad));
  if (d.ObjectEmpty()) return answer(self, c, refuse(actors_errc::bad_request, "nothing to change"));
  bool has_status = d.HasMember("status"), has_health = d.HasMember("health");
  size_t others = d.MemberCount() - (has_status ? 1 : 0) - (has_health ? 1 : 0);
  if ((has_status || has_health) && others > 0)
    return answer(self, c, refuse(actors_errc::bad_request, "change the status and the configuration in separate requests"));
  if (has_status && has_health)
    return answer(self, c, refuse(actors_errc::bad_request, "change the status and the health in separate requests"));
  if (has_status) {
    auto& v = d["status"];
    auto to = v.IsString() ? datasource_status_from_string(str(v)) : std::nullopt;
    if (!to) return answer(self, c, refuse(actors_errc::bad_request, "status must be a datasource status (seed 000)"));
    if (*to == datasource_status::paused || *to == datasource_status::resuming ||
        *to == datasource_status::syncing)
      return change_status(self, c, *to);
    // Only the node reaches the others; say so after the table, which may already refuse.
    auto from = l.rec.status;
    if (from != *to) {
      if (auto err = check(from, *to)) return answer(self, c, refuse(actors_errc::conflict, error_message(err)));
    }
    return answer(self, c,
                  refuse(actors_errc::conflict, std::string{"status "} + to_string(*to) +
                                " is reached by the node itself; a request may set paused, "
                                "resuming or syncing"));
  }
  if (has_health) {
    auto& v = d["health"];
    auto to = v.IsString() ? sync_health_from_string(str(v)) : std::nullopt;
    if (!to || (*to != sync_health::disabled && *to != sync_health::pending))
      return answer(self, c, refuse(actors_errc::bad_request, "health may be set to \"disabled\" or \"pending\" (enabled)"));
    return change_health(self, c, *to);
  }
  for (auto* key : {"id", "container", "account", "workspace"})
    if (d.HasMember(key))
      return answer(self, c, refuse(actors_errc::bad_request, std::string{key} + " cannot be changed"));
  if (!l.access || l.access->origin != "api")
    return answer(self, c,
                  refuse(actors_errc::conflict, "datasource " + c.id +
                                " is declared in the node's configuration file: change it there"));
  auto rec = l.rec;
  if (auto p = apply_config(d, rec.config); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  if (auto p = datasource_problem(rec.config); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  // A datasource made before the roots were set keeps its folder; a new folder must be allowed.
  if (rec.config.type == "folder" &&
      (rec.config.path != l.rec.config.path || l.rec.config.type != "folder"))
    if (auto p = allowed_root_problem(rec.config.path, st.svc->settings.allowed_roots); !p.empty())
      return answer(self, c, refuse(actors_errc::forbidden, p));
  if (st.busy.count(c.id) != 0)
    return answer(self, c, refuse(actors_errc::conflict, "datasource " + c.id + " is being changed; retry"));
  // A person acted: a datasource in error gets another chance with its new configuration.
  person_acted(rec);
  st.busy.insert(c.id);
  auto access = l.access;
  self->request(st.supervisor, caf::duration{s.settings.actor_timeout}, caf::update_atom::value,
                encode(rec))
      .then(
          [=](bool) {
            self->state.busy.erase(c.id);
            spdlog::info("datasource {}: configuration changed by {}", c.id, c.req->user);
            answer(self, c, answer_json(answer_kind::done, view_json(rec, access, c.req->user, c.cls, {})));
          },
          [=](caf::error& err) {
            self->state.busy.erase(c.id);
            answer(self, c, answer_error(err));
          });
}

void op_remove(self_ptr self, const call& c) {
  auto& st = self->state;
  auto& s = *st.svc;
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  auto& l = std::get<loaded>(got);
  if (!l.access || l.access->origin != "api")
    return answer(self, c,
                  refuse(actors_errc::conflict, "datasource " + c.id +
                                " is declared in the node's configuration file: remove it there"));
  if (st.busy.count(c.id) != 0)
    return answer(self, c, refuse(actors_errc::conflict, "datasource " + c.id + " is being changed; retry"));
  st.busy.insert(c.id);
  self->request(st.supervisor, caf::duration{s.settings.actor_timeout}, caf::delete_atom::value,
                c.id)
      .then(
          [=](bool) {
            // The supervisor erased its record, access list, credentials, runs, rows and
            // queue items in one batch.
            self->state.busy.erase(c.id);
            spdlog::info("datasource {} deleted by {}", c.id, c.req->user);
            answer(self, c, answer_json(answer_kind::done, "{\"deleted\":" + json_string(c.id) + "}"));
          },
          [=](caf::error& err) {
            self->state.busy.erase(c.id);
            answer(self, c, answer_error(err));
          });
}

void op_spyder(self_ptr self, const call& c) {
  auto got = load_for(*self->state.svc, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  // {"confirm_deletes": N}: the removals the deletion guard held back are meant.
  std::optional<uint64_t> confirm;
  if (!c.req->body.empty()) {
    rapidjson::Document d;
    if (auto refused = parse_body(*c.req, d)) return answer(self, c, std::move(*refused));
    for (auto& m : d.GetObject()) {
      if (str(m.name) != "confirm_deletes")
        return answer(self, c, refuse(actors_errc::bad_request, "unknown key " + str(m.name) + " (confirm_deletes)"));
      if (!m.value.IsUint64() || m.value.GetUint64() == 0)
        return answer(self, c, refuse(actors_errc::bad_request, "confirm_deletes must be a positive integer"));
      confirm = m.value.GetUint64();
    }
  }
  with_actor(self, c, [=](datasource_actor a) {
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    auto sent = confirm ? self->request(a, timeout, sync_now_atom::value, *confirm)
                        : self->request(a, timeout, sync_now_atom::value);
    sent.then(
            [=](uint64_t run) {
              answer(self, c,
                     answer_json(answer_kind::accepted, "{\"datasource\":" + json_string(c.id) +
                                            ",\"run\":" + std::to_string(run) + "}"));
            },
            [=](caf::error& err) { answer(self, c, answer_error(err)); });
  });
}

void op_compute(self_ptr self, const call& c) {
  auto got = load_for(*self->state.svc, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  with_actor(self, c, [=](datasource_actor a) {
    self->request(a, caf::duration{self->state.svc->settings.actor_timeout},
                  recompute_atom::value, c.resource)
        .then(
            [=](uint64_t volumes) {
              if (volumes == 0)
                return answer(self, c,
                              refuse(actors_errc::unknown_id, "no item " + c.resource + " in datasource " + c.id));
              answer(self, c,
                     answer_json(answer_kind::accepted, "{\"datasource\":" + json_string(c.id) +
                                            ",\"resource\":" + json_string(c.resource) +
                                            ",\"volumes\":" + std::to_string(volumes) + "}"));
            },
            [=](caf::error& err) { answer(self, c, answer_error(err)); });
  });
}

// @refreshServiceCredentials: stores them (on the pool), then gives the datasource another run
// with them: one in `error` over refused credentials waits for exactly this. A datasource that
// is paused, disabled or not running keeps them for its next run.
void store_credentials(self_ptr self, const call& c) {
  auto svc = self->state.svc;
  run_io(self, *svc->pool, [svc, c] { return run_storage_op(*svc, c); }, [self, c](api_answer stored) {
    if (stored.error) return answer(self, c, std::move(stored));
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    auto with_run = [stored](uint64_t run) {
      auto out = stored;
      out.json.pop_back();  // the object's closing brace
      out.json += ",\"run\":" + std::to_string(run) + "}";
      return out;
    };
    self->request(self->state.directory, timeout, find_atom::value, "datasource/" + c.id)
        .then(
            [=](caf::actor& a) {
              if (!a) return answer(self, c, stored);
              self->request(caf::actor_cast<datasource_actor>(a), timeout, sync_now_atom::value)
                  .then([=](uint64_t run) { answer(self, c, with_run(run)); },
                        [=](caf::error&) { answer(self, c, stored); });
            },
            [=](caf::error&) { answer(self, c, stored); });
  });
}

datasource_api_actor::behavior_type datasource_api(self_ptr self, datasource_api_init init) {
  auto& st = self->state;
  st.svc->ctx = init.ctx;
  st.svc->pool = init.pool;
  st.svc->users = init.users;
  st.svc->credentials = init.credentials;
  st.supervisor = init.supervisor;
  st.directory = init.directory;
  st.svc->settings = std::move(init);
  return {
      [=](api_atom, datasource_command& cmd) {
        auto& s = self->state;
        ++s.requests;
        call c;
        c.req = std::make_shared<datasource_command>(std::move(cmd));
        c.what = c.req->op;
        c.container = c.req->container;
        c.account = c.req->account;
        c.workspace = c.req->workspace;
        c.id = c.req->id;
        c.resource = c.req->resource;
        c.cls = static_cast<user_class>(c.req->user_class);
        if (storage_only(c.what)) {
          if (c.what == op::credentials && c.cls < user_class::editor)
            return answer(self, c, refuse(actors_errc::forbidden, "refreshing credentials needs the class editor"));
          if (c.what == op::credentials) return store_credentials(self, c);
          auto submit = [self](const call& job) {
            auto& s2 = self->state;
            auto* pool = s2.svc->pool;
            if (pool->queued() >= s2.svc->settings.max_queued_jobs)
              return answer(self, job, refuse(actors_errc::busy, "the node is busy; retry"));
            pool->submit([svc = s2.svc, job] {
              auto r = run_storage_op(*svc, job);
              if (job.req->respond) job.req->respond(std::move(r));
            });
          };
          if (c.what != op::read) return submit(c);
          // A read shows the status the actor has now: its record is saved a moment later.
          auto bound = caf::duration{std::chrono::seconds{2}};
          self->request(s.directory, bound, find_atom::value, "datasource/" + c.id)
              .then(
                  [=](caf::actor& a) {
                    if (!a) return submit(c);
                    self->request<caf::message_priority::high>(
                            caf::actor_cast<datasource_actor>(a), bound, status_atom::value)
                        .then(
                            [=](actor_status& now) {
                              auto with = c;
                              with.live_status = now.state;
                              submit(with);
                            },
                            [=](caf::error&) { submit(c); });
                  },
                  [=](caf::error&) { submit(c); });
          return;
        }
        switch (c.what) {
          case op::create:
          case op::put:
            return op_create(self, c);
          case op::change:
            return op_change(self, c);
          case op::remove:
            return op_remove(self, c);
          case op::spyder:
            return op_spyder(self, c);
          case op::compute:
            return op_compute(self, c);
          case op::pause:
          case op::resume: {
            auto got = load_for(*s.svc, c);
            if (auto* refused = std::get_if<api_answer>(&got))
              return answer(self, c, std::move(*refused));
            return change_status(self, c,
                                 c.what == op::pause ? datasource_status::paused
                                                     : datasource_status::resuming);
          }
          default:
            return answer(self, c, refuse(actors_errc::job_failed, "operation not handled"));
        }
      },
      [=](status_atom) {
        auto& s = self->state;
        actor_status out;
        out.id = "datasource_api";
        out.kind = "datasource_api";
        out.state = "running";
        out.mailbox = self->mailbox().size();
        out.counters["requests"] = static_cast<int64_t>(s.requests);
        out.counters["refused"] = static_cast<int64_t>(s.refused);
        out.counters["busy"] = static_cast<int64_t>(s.busy.size());
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

}  // namespace

datasource_api_actor spawn_datasource_api(caf::actor_system& sys, datasource_api_init init) {
  return sys.spawn<caf::detached>(datasource_api, std::move(init));
}

caf::expected<std::set<std::string>> api_datasource_ids(const storage::datasource_store& store) {
  auto all = store.all_access();
  if (!all) return std::move(all.error());
  std::set<std::string> out;
  for (auto& [id, access] : *all)
    if (access.origin == "api") out.insert(id);
  return out;
}

}  // namespace syncline::actors
