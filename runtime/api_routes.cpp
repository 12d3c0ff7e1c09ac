// runtime/api_routes.cpp: damas-core's routes read into tracker commands, seed 000's
// datasource routes authenticated and handed on, and the answers written as HTTP.
#include "runtime/api_routes.hpp"

#include <cctype>
#include <cstdint>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include <caf/send.hpp>

#include "actors/tracker_front.hpp"
#include "runtime/api_errors.hpp"
#include "runtime/datasource_routes.hpp"

namespace syncline::runtime {

namespace {

using actors::api_op;

constexpr auto ask_timeout = std::chrono::seconds{10};

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

// `a,b%2Cc` -> `a`, `b,c`: commas separate ids before decoding, so an id may hold `%2C`.
bool split_ids(std::string_view raw, std::vector<std::string>& out) {
  if (raw.empty()) return true;
  while (true) {
    auto comma = raw.find(',');
    auto decoded = percent_decode(raw.substr(0, comma));
    if (!decoded) return false;
    out.push_back(std::move(*decoded));
    if (comma == std::string_view::npos) return true;
    raw.remove_prefix(comma + 1);
  }
}

enum class extra : uint8_t { none, path_ids, arg_rest, graph, feed };

// The change feed's parameters.
constexpr uint32_t default_changes = 1000;
constexpr uint32_t max_changes = 10000;
constexpr uint32_t max_wait_s = 300;

// `name` from the query string as a whole number in [0, max] (`fallback` when absent), or
// the 400 that names what is wrong.
std::optional<http_response> query_number(const http_request& req, const char* name,
                                          uint64_t max, uint64_t fallback, uint64_t& out) {
  out = fallback;
  auto text = req.query_param(name);
  if (!text) return std::nullopt;
  uint64_t v = 0;
  bool ok = !text->empty() && text->size() <= 20;
  for (char c : *text) {
    auto d = static_cast<uint64_t>(c - '0');
    if (c < '0' || c > '9' || v > (UINT64_MAX - d) / 10) {
      ok = false;
      break;
    }
    v = v * 10 + d;
  }
  if (!ok || v > max)
    return http_response::error(400, "bad_request",
                                std::string{name} + " must be a whole number from 0 to " +
                                    std::to_string(max));
  out = v;
  return std::nullopt;
}

// since, limit and timeout_s of `GET /api/changes`.
std::optional<http_response> read_feed_query(const http_request& req,
                                             actors::tracker_command& call) {
  if (!req.query.empty() && !parse_form(req.query))
    return http_response::error(400, "bad_request", "malformed query string");
  uint64_t since = 0, limit = 0, wait = 0;
  if (auto bad = query_number(req, "since", UINT64_MAX, 0, since)) return bad;
  if (auto bad = query_number(req, "limit", max_changes, default_changes, limit)) return bad;
  if (auto bad = query_number(req, "timeout_s", max_wait_s, 0, wait)) return bad;
  if (limit == 0) limit = default_changes;
  call.since = since;
  call.limit = static_cast<uint32_t>(limit);
  call.wait_s = static_cast<uint32_t>(wait);
  return std::nullopt;
}

http_handler tracker_route(actors::tracker_actor tracker, api_op op, extra what,
                           std::string methods, std::shared_ptr<const request_policy> policy,
                           std::shared_ptr<actors::tracker_front> front) {
  // Point reads (a GET of one id) are answered here, on the network thread that read them,
  // through the tracker's front (the same authentication, token cache and read); the rest goes
  // to the tracker actor.
  if (op != api_op::read) front = nullptr;
  return [tracker, op, what, methods, policy, front](http_request req, http_reply reply) {
    auto who = read_credentials(req);
    if (changes_state(op)) {
      auto* acting = op != api_op::sign_in ? &who : nullptr;
      if (auto refused = refuse_state_change(req, methods, *policy, acting)) {
        reply.send(std::move(*refused));
        return;
      }
    }
    actors::tracker_command call;
    call.op = op;
    call.token = std::move(who.token);
    call.bad_credentials = who.bad;
    if (auto* ct = req.header("content-type"))
      call.form_body = starts_with_nocase(*ct, "application/x-www-form-urlencoded");
    switch (what) {
      case extra::none:
        break;
      case extra::path_ids:
      case extra::graph: {
        auto* ids = req.param("ids");
        if (ids != nullptr && !ids->raw.empty()) {
          if (!split_ids(ids->raw, call.path_ids)) {
            reply.send(http_response::error(400, "bad_request", "malformed percent-encoding"));
            return;
          }
          call.ids_in_path = true;
        }
        if (what == extra::graph)
          if (auto* depth = req.param("depth")) call.arg = depth->value;
        break;
      }
      case extra::arg_rest:
        if (!req.params.empty()) call.arg = req.params.back().value;
        break;
      case extra::feed:
        if (auto bad = read_feed_query(req, call)) {
          reply.send(std::move(*bad));
          return;
        }
        break;
    }
    call.body = std::move(req.body);
    if (front && req.method == "GET") {
      if (auto a = front->point_read(call)) {
        reply.send(to_http(std::move(*a), policy->tls));
        return;
      }
    }
    call.remote = std::move(req.remote);
    call.respond = [reply = std::move(reply), secure = policy->tls](actors::api_answer a) {
      reply.send(to_http(std::move(a), secure));
    };
    caf::anon_send(tracker, actors::api_atom::value, std::move(call));
  };
}

}  // namespace

std::optional<http_response> refuse_state_change(const http_request& req,
                                                 const std::string& methods,
                                                 const request_policy& policy,
                                                 const request_credentials* credentials) {
  // HEAD is answered as GET, without a body: it must never act.
  if (req.method == "HEAD") {
    auto r = http_response::error(405, "method_not_allowed",
                                  "HEAD changes nothing here (allowed: " + methods + ")");
    r.headers.emplace_back("Allow", methods);
    return r;
  }
  // Sign-in takes no credentials (none are ambient), but a foreign page may not sign in.
  // Without anonymous access, a request without a token is refused as such (401) later.
  bool ambient = credentials != nullptr && !credentials->from_header && !credentials->bad &&
                 (!credentials->token.empty() || policy.anonymous_access);
  return check_state_change(req, policy, ambient);
}

request_credentials read_credentials(const http_request& req) {
  request_credentials out;
  if (auto* auth = req.header("authorization")) {
    std::string_view v{*auth};
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (starts_with_nocase(v, "bearer") && (v.size() == 6 || v[6] == ' ')) {
      auto token = v.substr(std::min<size_t>(v.size(), 7));
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      if (!token.empty() && token != "null" && token != "undefined") out.token = std::string{token};
      if (!out.token.empty()) {
        out.from_header = true;
        return out;
      }
    } else if (!v.empty()) {
      out.bad = true;
      return out;
    }
  }
  if (auto c = req.cookie("token"); c && !c->empty()) out.token = std::move(*c);
  return out;
}

void authenticate_then(caf::actor_system& sys, actors::tracker_actor tracker,
                       const http_request& req, http_reply reply, authenticated then) {
  authenticate_then(sys, std::move(tracker), req, std::move(reply), std::move(then), nullptr);
}

void authenticate_then(caf::actor_system& sys, actors::tracker_actor tracker,
                       const http_request& req, http_reply reply, authenticated then,
                       std::function<void(http_reply)> unknown) {
  struct job {
    actors::tracker_actor tracker;
    request_credentials who;
    http_reply reply;
    authenticated then;
    std::function<void(http_reply)> unknown;
  };
  // The job travels as the actor's argument: CAF 0.17 dereferences a null tuple when a
  // function actor takes no argument besides `self` (UBSan reports it).
  auto made = std::make_shared<job>(job{std::move(tracker), read_credentials(req), std::move(reply),
                                        std::move(then), std::move(unknown)});
  sys.spawn(
      [](caf::event_based_actor* self, std::shared_ptr<job> j) {
        self->request(j->tracker, ask_timeout, actors::auth_atom::value, j->who.token, j->who.bad)
            .then(
                [self, j](std::string& name, uint8_t cls, bool anonymous) {
                  j->then(self, j->reply, caller{std::move(name), cls, anonymous, j->who});
                },
                [j](caf::error& err) {
                  if (j->unknown && actors::is(err, actors::actors_errc::unauthenticated))
                    return j->unknown(j->reply);
                  j->reply.send(error_response(err));
                });
      },
      std::move(made));
}

void add_api_routes(http_router& router, caf::actor_system& sys, actors::tracker_actor tracker,
                    actors::datasource_api_actor datasources,
                    std::shared_ptr<const request_policy> policy,
                    std::shared_ptr<actors::tracker_front> front) {
  auto add = [&](std::initializer_list<const char*> methods, const char* pattern, api_op op,
                 extra what = extra::none) {
    std::string allowed;
    for (auto* m : methods) allowed += (allowed.empty() ? "" : ", ") + std::string{m};
    for (auto* m : methods)
      router.add(m, pattern, tracker_route(tracker, op, what, allowed, policy, front));
  };
  // Methods as damas-core registers them, plus the ones its clients actually use: the async
  // Python client posts updates and deletes; lock and unlock accept POST too.
  add({"POST"}, "/api/create", api_op::create);
  add({"GET", "POST"}, "/api/read/*ids", api_op::read, extra::path_ids);
  add({"PUT", "POST"}, "/api/update", api_op::update);
  add({"POST", "PUT"}, "/api/upsert", api_op::upsert);
  add({"DELETE", "POST"}, "/api/delete", api_op::remove);
  add({"GET"}, "/api/search/*query", api_op::search, extra::arg_rest);
  add({"GET"}, "/api/search_one/*query", api_op::search_one, extra::arg_rest);
  add({"POST"}, "/api/search_mongo", api_op::search_mongo);
  add({"GET", "POST"}, "/api/graph/:depth/*ids", api_op::graph, extra::graph);
  // damas-core's clients (py/damas_client.py): the ids reached, either way along the edges.
  add({"GET", "POST"}, "/api/graph_backwards/:depth/*ids", api_op::graph_backwards, extra::graph);
  add({"GET", "POST"}, "/api/graph_forwards/:depth/*ids", api_op::graph_forwards, extra::graph);
  add({"POST"}, "/api/comment", api_op::comment);
  add({"POST"}, "/api/publish", api_op::publish);
  add({"POST"}, "/api/version/*id", api_op::version, extra::arg_rest);
  add({"PUT", "POST"}, "/api/lock", api_op::lock);
  add({"PUT", "POST"}, "/api/unlock", api_op::unlock);
  // Express matches paths without regard to case, so clients spell these either way.
  for (auto* p : {"/api/signIn", "/api/signin"}) add({"POST"}, p, api_op::sign_in);
  for (auto* p : {"/api/signOut", "/api/signout"}) add({"POST", "GET"}, p, api_op::sign_out);
  add({"GET"}, "/api/verify", api_op::verify);
  add({"POST"}, "/api/createToken", api_op::create_token);
  // Ours: the change feed that sites follow (docs/api.md, "Change feed").
  add({"GET"}, "/api/changes", api_op::changes, extra::feed);
  // Ours: where an element's copies are, written by sites (docs/api.md, "Sync state").
  add({"PUT", "POST"}, "/api/syncState", api_op::sync_state);
  add_datasource_routes(router, sys, std::move(tracker), std::move(datasources),
                        std::move(policy));
}

}  // namespace syncline::runtime
