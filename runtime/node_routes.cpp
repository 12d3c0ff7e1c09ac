#include "runtime/node_routes.hpp"

#include <atomic>
#include <cerrno>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>

#include <caf/event_based_actor.hpp>

#include "actors/error.hpp"
#include "actors/event_hub.hpp"
#include "actors/text.hpp"
#include "runtime/api_errors.hpp"
#include "runtime/api_routes.hpp"
#include "runtime/prometheus.hpp"
#include "storage/datasource_store.hpp"
#include "storage/transfer_queue.hpp"
#include "storage/user_store.hpp"

namespace syncline::runtime {

namespace {

using actors::actor_status;
using actors::json_string;

constexpr auto ask_timeout = std::chrono::seconds{10};

// --- what a caller may see -----------------------------------------------------------------

// The datasources a caller may read: all of them from class user up, else those whose access
// list names it (the rule of the datasource routes, storage::may_read).
struct reader {
  bool all = true;
  std::string user;
  storage::user_class cls = storage::user_class::guest;
  std::map<std::string, storage::datasource_access> access;

  bool reads(const std::string& datasource) const {
    if (all) return true;
    auto i = access.find(datasource);
    return storage::may_read(i == access.end() ? std::nullopt : std::make_optional(i->second),
                             user, cls);
  }
};

caf::expected<reader> reader_for(const node_routes_init& init, const caller& who) {
  reader r;
  r.user = who.name;
  r.cls = static_cast<storage::user_class>(who.cls);
  if (r.cls >= storage::user_class::user) return r;
  r.all = false;
  if (init.datasources == nullptr) return r;
  auto access = init.datasources->all_access();
  if (!access) return std::move(access.error());
  r.access = std::move(*access);
  return r;
}

// Leaves out the actors working for datasources the caller may not read; the others keep
// their counters, but a guest does not see what they work on nor their last error.
void restrict_tree(actor_status& s, const reader& r) {
  if (r.all) return;
  auto& ch = s.children;
  ch.erase(std::remove_if(ch.begin(), ch.end(),
                          [&](const actor_status& c) {
                            return !c.datasource.empty() && !r.reads(c.datasource);
                          }),
           ch.end());
  for (auto& c : ch) restrict_tree(c, r);
  if (s.datasource.empty()) {
    s.current.clear();
    s.last_error.clear();
  }
}

// --- renderings -----------------------------------------------------------------------------

void status_into(std::string& out, const actor_status& s) {
  out += "{\"id\":" + json_string(s.id);
  out += ",\"kind\":" + json_string(s.kind);
  out += ",\"state\":" + json_string(s.state);
  out += ",\"mailbox\":" + std::to_string(s.mailbox);
  out += ",\"counters\":{";
  bool first = true;
  for (auto& [k, v] : s.counters) {
    if (!first) out += ',';
    first = false;
    out += json_string(k) + ":" + std::to_string(v);
  }
  out += "},\"current\":" + json_string(s.current);
  out += ",\"last_error\":" + json_string(s.last_error);
  out += ",\"children\":[";
  for (size_t i = 0; i < s.children.size(); ++i) {
    if (i > 0) out += ',';
    status_into(out, s.children[i]);
  }
  out += "]}";
}

void actor_metrics(prometheus_writer& p, const actor_status& s) {
  if (s.kind != "node") {
    p.type("syncline_actor_mailbox", "gauge", "Messages waiting in an actor's mailbox.");
    p.sample("syncline_actor_mailbox", {{"actor", s.id}, {"kind", s.kind}},
             static_cast<double>(s.mailbox));
    p.type("syncline_actor_state", "gauge", "1 for each actor, labelled with its state.");
    p.sample("syncline_actor_state", {{"actor", s.id}, {"kind", s.kind}, {"state", s.state}}, 1);
    p.type("syncline_actor_error", "gauge", "1 when the actor reports a last error.");
    p.sample("syncline_actor_error", {{"actor", s.id}, {"kind", s.kind}},
             s.last_error.empty() ? 0 : 1);
    for (auto& [k, v] : s.counters) {
      p.type("syncline_actor_counter", "gauge", "Every counter an actor reports in its status.");
      p.sample("syncline_actor_counter", {{"actor", s.id}, {"kind", s.kind}, {"counter", k}},
               static_cast<double>(v));
    }
    auto counter = [&](const char* key) -> double {
      auto i = s.counters.find(key);
      return i == s.counters.end() ? 0.0 : static_cast<double>(i->second);
    };
    if (s.kind == "datasource") {
      p.type("syncline_runs", "gauge", "Runs a datasource has started (its current run number).");
      p.sample("syncline_runs", {{"datasource", s.id}}, counter("run"));
      p.type("syncline_run_failed_items", "gauge", "Items of the current run that failed.");
      p.sample("syncline_run_failed_items", {{"datasource", s.id}}, counter("failed"));
    } else if (s.kind == "volume") {
      p.type("syncline_transfers_done_total", "counter", "Transfers a volume completed.");
      p.sample("syncline_transfers_done_total", {{"volume", s.id}}, counter("done"));
      p.type("syncline_transfers_failed_total", "counter", "Transfers a volume saw fail.");
      p.sample("syncline_transfers_failed_total", {{"volume", s.id}}, counter("failed"));
      p.type("syncline_transfer_bytes_total", "counter", "Bytes a volume's transfers wrote.");
      p.sample("syncline_transfer_bytes_total", {{"volume", s.id}}, counter("bytes"));
      p.type("syncline_transfers_running", "gauge", "Transfers running now.");
      p.sample("syncline_transfers_running", {{"volume", s.id}}, counter("running"));
    }
  }
  for (auto& c : s.children) actor_metrics(p, c);
}

// (volume, datasource) of a sub-queue name.
std::pair<std::string, std::string> queue_parts(const std::string& name) {
  auto sep = name.find('\x1f');
  return {name.substr(0, sep), sep == std::string::npos ? std::string{} : name.substr(sep + 1)};
}

std::string metrics_text(const actor_status& tree, const storage::transfer_queue* queue,
                         const actor_status& tracker) {
  prometheus_writer p;
  actor_metrics(p, tree);
  p.type("syncline_queue_depth", "gauge", "Pending transfers per sub-queue (volume, datasource).");
  p.type("syncline_queue_leased", "gauge", "Transfers of a sub-queue being worked on.");
  uint64_t total = 0;
  if (queue != nullptr) {
    for (auto& [name, count] : queue->sizes()) {
      auto [volume, datasource] = queue_parts(name);
      p.sample("syncline_queue_depth", {{"volume", volume}, {"datasource", datasource}},
               static_cast<double>(count));
      p.sample("syncline_queue_leased", {{"volume", volume}, {"datasource", datasource}},
               static_cast<double>(queue->leased(name)));
      total += count;
    }
  }
  p.type("syncline_queue_depth_total", "gauge", "Pending transfers in all.");
  p.sample("syncline_queue_depth_total", {}, static_cast<double>(total));
  for (auto* name : {"requests", "refused", "failed", "token_cache_hits", "pool_jobs"}) {
    auto metric = std::string{"syncline_tracker_"} + name;
    auto i = tracker.counters.find(name);
    p.type(metric, std::string_view{name} == "pool_jobs" ? "gauge" : "counter",
           "The tracker's own counter.");
    p.sample(metric, {}, i == tracker.counters.end() ? 0.0 : static_cast<double>(i->second));
  }
  return p.take();
}

// `/api/queue`: per sub-queue of a datasource the caller may read, its size, leases and first
// `limit` items.
http_response queue_answer(const storage::transfer_queue* queue, size_t limit, const reader& r) {
  std::string body = "{\"queues\":[";
  uint64_t total = 0;
  if (queue != nullptr) {
    bool first = true;
    for (auto& [name, count] : queue->sizes()) {
      auto [volume, datasource] = queue_parts(name);
      if (!r.reads(datasource)) continue;
      total += count;
      if (!first) body += ',';
      first = false;
      body += "{\"name\":" + json_string(name);
      body += ",\"volume\":" + json_string(volume);
      body += ",\"datasource\":" + json_string(datasource);
      body += ",\"size\":" + std::to_string(count);
      body += ",\"leased\":" + std::to_string(queue->leased(name));
      body += ",\"head\":[";
      if (limit > 0) {
        auto items = queue->peek(name, limit);
        if (!items) return error_response(items.error());
        for (size_t i = 0; i < items->size(); ++i) {
          auto& it = (*items)[i];
          if (i > 0) body += ',';
          body += "{\"ticket\":" + json_string(it.ticket.to_string());
          body += ",\"priority\":" + std::to_string(it.ticket.priority);
          body += ",\"seq\":" + std::to_string(it.ticket.seq);
          body += ",\"leased\":";
          body += it.leased ? "true" : "false";
          body += ",\"item\":" + json_string(it.payload);
          body += '}';
        }
      }
      body += "]}";
    }
  }
  body += "],\"total\":" + std::to_string(total) + "}";
  return http_response::json(200, std::move(body));
}

// --- the event stream -----------------------------------------------------------------------

// One client's `/api/events`: the events after its position that it may see, as Server-Sent
// Events, a keep-alive comment at each poke of the hub, and an end after its lifetime.
class event_stream final : public http_body_stream, public std::enable_shared_from_this<event_stream> {
 public:
  event_stream(actors::event_hub& hub, reader sees, uint64_t after, std::chrono::seconds lifetime)
      : hub_(hub), sees_(std::move(sees)), after_(after), until_(std::chrono::steady_clock::now() + lifetime) {}

  void next(std::function<void(std::string)> ready) override {
    if (ended_ || std::chrono::steady_clock::now() >= until_) return ready({});
    auto text = collect();
    if (!text.empty()) return ready(std::move(text));
    std::weak_ptr<event_stream> w = shared_from_this();
    waiter_ = hub_.when_after(after_, [w, ready](bool poked) {
      auto self = w.lock();
      if (!self) return;
      if (poked) return ready(": keep-alive\n\n");
      self->next(ready);
    });
  }

  void cancel() noexcept override { hub_.cancel(waiter_.load()); }

 private:
  // The events after `after_` this client may see, formatted; after a gap, a reset (and then
  // the stream ends).
  std::string collect() {
    std::string out;
    for (;;) {
      auto page = hub_.since(after_, 256);
      if (page.gap) {
        after_ = hub_.last();
        ended_ = true;
        return "id: " + std::to_string(after_) +
               "\nevent: reset\ndata: {\"reason\":\"events were missed: read the state again, then "
               "follow from this id\"}\n\n";
      }
      if (page.events.empty()) return out;
      for (auto& e : page.events) {
        after_ = e.seq;
        bool visible = e.datasource.empty() ? sees_.all : sees_.reads(e.datasource);
        if (!visible) continue;
        out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: {\"seq\":" +
               std::to_string(e.seq) + ",\"at_ms\":" + std::to_string(e.at_ms) +
               (e.data.size() > 2 ? "," + e.data.substr(1) : std::string{"}"}) + "\n\n";
      }
      if (!out.empty()) return out;
    }
  }

  actors::event_hub& hub_;
  const reader sees_;
  uint64_t after_;  // touched by one `next` at a time
  const std::chrono::steady_clock::time_point until_;
  bool ended_ = false;
  std::atomic<uint64_t> waiter_{0};
};

// The position a client resumes from: `Last-Event-ID` (what browsers send), else `?after=N`,
// else now.
std::optional<std::optional<uint64_t>> resume_position(const http_request& req) {
  const std::string* id = req.header("last-event-id");
  std::optional<std::string> q;
  if (id == nullptr) q = req.query_param("after");
  auto text = id != nullptr ? *id : q.value_or("");
  if (id == nullptr && !q) return std::optional<uint64_t>{};
  char* end = nullptr;
  errno = 0;
  auto n = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || end == nullptr || *end != '\0' || errno != 0 || text.front() == '-') return std::nullopt;
  return std::optional<uint64_t>{n};
}

// --- the routes -----------------------------------------------------------------------------

// --- pause and resume ---------------------------------------------------------------------

// A POST that changes the state of the node, a volume or a transfer: authenticated, refused when
// a page could have forged it, for editors and above; `act` answers.
template <class Act>
void control_route(http_router& router, caf::actor_system* system,
                   const std::shared_ptr<node_routes_init>& shared, const std::string& pattern, Act act) {
  router.add("POST", pattern, [shared, system, act](http_request req, http_reply reply) {
    auto in = std::make_shared<http_request>(std::move(req));
    authenticate_then(*system, shared->tracker, *in, std::move(reply),
                      [shared, in, act](caf::event_based_actor* self, http_reply r, const caller& who) {
                        if (shared->policy)
                          if (auto refused = refuse_state_change(*in, "POST", *shared->policy, &who.credentials)) {
                            r.send(std::move(*refused));
                            return;
                          }
                        if (who.cls < static_cast<uint8_t>(storage::user_class::editor)) {
                          r.send(http_response::error(403, "forbidden", "pausing and resuming need the class editor"));
                          return;
                        }
                        act(self, *in, r);
                      });
  });
}

std::string param_of(const http_request& req, const char* name) {
  auto* p = req.param(name);
  return p != nullptr ? p->value : std::string{};
}

void add_control_routes(http_router& router, caf::actor_system* system,
                        const std::shared_ptr<node_routes_init>& shared) {
  for (bool pause : {true, false}) {
    const std::string verb = pause ? "@pause" : "@resume";
    const std::string state = pause ? "paused" : "resumed";
    control_route(router, system, shared, "/api/node/" + verb,
                  [shared, pause, state](caf::event_based_actor* self, const http_request&, http_reply r) {
                    auto sent = pause ? self->request(shared->supervisor, ask_timeout, actors::pause_atom::value)
                                      : self->request(shared->supervisor, ask_timeout, actors::resume_atom::value);
                    sent.then([r, state](bool) { r.send(http_response::json(200, "{\"node\":\"" + state + "\"}")); },
                              [r](caf::error& err) { r.send(error_response(err)); });
                  });
    // The volume's actor, found in the directory; 404 when it is not running.
    auto with_volume = [shared](caf::event_based_actor* self, const std::string& volume, http_reply r,
                                std::function<void(actors::volume_actor)> fn) {
      self->request(shared->directory, ask_timeout, actors::find_atom::value, "volume/" + volume)
          .then(
              [r, volume, fn](caf::actor& a) {
                if (!a) {
                  r.send(http_response::error(404, "unknown_id", "no volume " + volume + " is running"));
                  return;
                }
                fn(caf::actor_cast<actors::volume_actor>(a));
              },
              [r](caf::error& err) { r.send(error_response(err)); });
    };
    control_route(router, system, shared, "/api/volumes/:volume/" + verb,
                  [pause, state, with_volume](caf::event_based_actor* self, const http_request& req, http_reply r) {
                    auto volume = param_of(req, "volume");
                    with_volume(self, volume, r, [self, r, pause, state, volume](actors::volume_actor v) {
                      auto sent = pause ? self->request(v, ask_timeout, actors::pause_atom::value)
                                        : self->request(v, ask_timeout, actors::resume_atom::value);
                      sent.then(
                          [r, state, volume](bool) {
                            r.send(http_response::json(200, "{\"volume\":" + json_string(volume) +
                                                                ",\"status\":\"" + state + "\"}"));
                          },
                          [r](caf::error& err) { r.send(error_response(err)); });
                    });
                  });
    control_route(
        router, system, shared, "/api/transfers/:volume/:seq/" + verb,
        [pause, state, with_volume](caf::event_based_actor* self, const http_request& req, http_reply r) {
          auto volume = param_of(req, "volume");
          auto seq_text = param_of(req, "seq");
          char* end = nullptr;
          uint64_t seq = std::strtoull(seq_text.c_str(), &end, 10);
          if (seq_text.empty() || end == nullptr || *end != '\0') {
            r.send(http_response::error(400, "bad_request", "a transfer is named transfer/<volume>/<number>"));
            return;
          }
          with_volume(self, volume, r, [self, r, pause, state, volume, seq](actors::volume_actor v) {
            auto sent = pause ? self->request(v, ask_timeout, actors::pause_atom::value, seq)
                              : self->request(v, ask_timeout, actors::resume_atom::value, seq);
            sent.then(
                [r, state, volume, seq](bool found) {
                  auto id = "transfer/" + volume + "/" + std::to_string(seq);
                  if (!found) {
                    r.send(http_response::error(404, "unknown_id", "no " + id + " is running"));
                    return;
                  }
                  r.send(http_response::json(200, "{\"transfer\":" + json_string(id) + ",\"status\":\"" +
                                                      state + "\"}"));
                },
                [r](caf::error& err) { r.send(error_response(err)); });
          });
        });
  }
}

}  // namespace

void add_node_routes(http_router& router, caf::actor_system& sys, node_routes_init init) {
  auto shared = std::make_shared<node_routes_init>(std::move(init));
  auto* system = &sys;
  router.add("GET", "/api/actors", [shared, system](http_request req, http_reply reply) {
    authenticate_then(*system, shared->tracker, req, std::move(reply),
                      [shared](caf::event_based_actor* self, http_reply r, const caller& who) {
                        auto sees = reader_for(*shared, who);
                        if (!sees) {
                          r.send(error_response(sees.error()));
                          return;
                        }
                        self->request<caf::message_priority::high>(shared->directory, ask_timeout,
                                                                   actors::tree_atom::value)
                            .then(
                                [r, sees = std::move(*sees)](actor_status& tree) {
                                  restrict_tree(tree, sees);
                                  std::string body;
                                  status_into(body, tree);
                                  r.send(http_response::json(200, std::move(body)));
                                },
                                [r](caf::error& err) { r.send(error_response(err)); });
                      });
  });
  router.add("GET", "/api/queue", [shared, system](http_request req, http_reply reply) {
    size_t limit = 10;
    if (auto text = req.query_param("limit"); text && !text->empty()) {
      char* end = nullptr;
      auto n = std::strtoll(text->c_str(), &end, 10);
      if (end == nullptr || *end != '\0' || n < 0) {
        reply.send(http_response::error(400, "bad_request", "limit must be a non-negative number"));
        return;
      }
      limit = std::min<size_t>(static_cast<size_t>(n), shared->max_queue_peek);
    }
    authenticate_then(*system, shared->tracker, req, std::move(reply),
                      [shared, limit](caf::event_based_actor*, http_reply r, const caller& who) {
                        auto sees = reader_for(*shared, who);
                        if (!sees) {
                          r.send(error_response(sees.error()));
                          return;
                        }
                        r.send(queue_answer(shared->queue, limit, *sees));
                      });
  });
  router.add("GET", "/api/events", [shared, system](http_request req, http_reply reply) {
    if (shared->events == nullptr) {
      reply.send(http_response::error(404, "not_found", "this node publishes no events"));
      return;
    }
    auto from = resume_position(req);
    if (!from) {
      reply.send(http_response::error(400, "bad_request", "Last-Event-ID (or after) must be an event number"));
      return;
    }
    authenticate_then(*system, shared->tracker, req, std::move(reply),
                      [shared, from = *from](caf::event_based_actor*, http_reply r, const caller& who) {
                        auto sees = reader_for(*shared, who);
                        if (!sees) {
                          r.send(error_response(sees.error()));
                          return;
                        }
                        http_response res;
                        res.content_type = "text/event-stream";
                        res.stream = std::make_shared<event_stream>(
                            *shared->events, std::move(*sees), from.value_or(shared->events->last()),
                            shared->events_lifetime);
                        r.send(std::move(res));
                      });
  });
  add_control_routes(router, system, shared);
  router.add("GET", "/metrics", [shared, system](http_request req, http_reply reply) {
    authenticate_then(
        *system, shared->tracker, req, std::move(reply),
        [shared](caf::event_based_actor* self, http_reply r, const caller&) {
          self->request<caf::message_priority::high>(shared->directory, ask_timeout,
                                                     actors::tree_atom::value)
              .then(
                  [self, shared, r](actor_status& tree) {
                    self->request<caf::message_priority::high>(shared->tracker, ask_timeout,
                                                               actors::status_atom::value)
                        .then(
                            [shared, r, tree](actor_status& tracker) {
                              http_response out;
                              out.content_type = "text/plain; version=0.0.4";
                              out.body = metrics_text(tree, shared->queue, tracker);
                              if (shared->metrics) out.body += shared->metrics->prometheus();
                              r.send(std::move(out));
                            },
                            [r](caf::error& err) { r.send(error_response(err)); });
                  },
                  [r](caf::error& err) { r.send(error_response(err)); });
        });
  });
}

}  // namespace syncline::runtime
