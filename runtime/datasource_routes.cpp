// runtime/datasource_routes.cpp: seed 000's datasource routes: method and path into a
// datasource_command, then the datasource API's answer as HTTP.
#include "runtime/datasource_routes.hpp"

#include <memory>
#include <string>
#include <utility>

#include <caf/send.hpp>

#include "actors/datasource_schema.hpp"
#include "actors/sync_model.hpp"
#include "actors/text.hpp"
#include "runtime/api_errors.hpp"
#include "runtime/api_routes.hpp"

namespace syncline::runtime {

namespace {

using actors::datasource_op;

http_response bad_request(std::string message) {
  return http_response::error(400, "bad_request", message);
}

http_response not_found(std::string message) {
  return http_response::error(404, "not_found", message);
}

std::string resource_problem(std::string_view r) {
  if (r.empty()) return "the resource is empty";
  if (r.size() > 4096) return "the resource is longer than 4096 bytes";
  if (r.front() == '/') return "the resource must be relative (no leading '/')";
  if (r.find('\0') != std::string_view::npos) return "the resource holds a NUL byte";
  if (actors::printable(r) != r) return "the resource is not valid UTF-8";
  if (actors::has_dot_segment(r)) return "the resource may not hold '.' or '..' segments";
  return {};
}

bool allows(std::string_view allowed, std::string_view method) {
  size_t pos = 0;
  while (pos < allowed.size()) {
    auto comma = allowed.find(", ", pos);
    if (allowed.substr(pos, comma == std::string_view::npos ? comma : comma - pos) == method)
      return true;
    if (comma == std::string_view::npos) break;
    pos = comma + 2;
  }
  return false;
}

}  // namespace

std::optional<http_response> read_datasource_route(std::string_view method,
                                                   std::string_view container,
                                                   std::string_view account,
                                                   std::string_view workspace,
                                                   std::string_view rest,
                                                   actors::datasource_command& cmd) {
  cmd.container = std::string{container};
  cmd.account = std::string{account};
  cmd.workspace = std::string{workspace};
  for (auto [name, value] : {std::pair<const char*, std::string_view>{"the container", container},
                             {"the account", account},
                             {"the workspace", workspace}})
    if (auto p = actors::part_problem(value); !p.empty())
      return bad_request(std::string{name} + " " + p);
  if (!rest.empty() && rest.back() == '/' && rest.find('/') == rest.size() - 1)
    rest.remove_suffix(1);  // `{datasource}/`
  // No part of the path may climb or hide bytes, whatever route it would name.
  if (actors::has_dot_segment(rest)) return bad_request("the path may not hold '.' or '..' segments");
  if (rest.find('\0') != std::string_view::npos) return bad_request("the path holds a NUL byte");
  auto method_error = [&](const char* allowed) {
    auto r = http_response::error(
        405, "method_not_allowed",
        std::string{method} + " is not allowed here (allowed: " + allowed + ")");
    r.headers.emplace_back("Allow", allowed);
    return r;
  };
  if (rest.empty()) {
    if (method == "GET") cmd.op = datasource_op::list;
    else if (method == "POST") cmd.op = datasource_op::create;
    else return method_error("GET, POST");
    return std::nullopt;
  }
  auto slash = rest.find('/');
  cmd.id = std::string{rest.substr(0, slash)};
  if (cmd.id.find('\0') != std::string::npos)
    return bad_request("the datasource id holds a NUL byte");
  if (auto p = actors::id_problem(cmd.id); !p.empty()) return bad_request("datasource id " + p);
  if (slash == std::string_view::npos) {
    if (method == "GET") cmd.op = datasource_op::read;
    else if (method == "PUT") cmd.op = datasource_op::put;
    else if (method == "PATCH") cmd.op = datasource_op::change;
    else if (method == "DELETE") cmd.op = datasource_op::remove;
    else return method_error("GET, PUT, PATCH, DELETE");
    return std::nullopt;
  }
  auto after = rest.substr(slash + 1);
  auto last_slash = after.rfind('/');
  auto verb = last_slash == std::string_view::npos ? after : after.substr(last_slash + 1);
  auto middle = last_slash == std::string_view::npos ? std::string_view{} : after.substr(0, last_slash);
  if (verb.empty() || verb.front() != '@')
    return not_found("no datasource route " + std::string{rest} +
                     " (a datasource's routes end with an @verb)");
  if (verb == "@sendToCompute") {
    if (method != "GET" && method != "POST") return method_error("GET, POST");
    if (auto p = resource_problem(middle); !p.empty()) return bad_request(p);
    cmd.op = datasource_op::compute;
    cmd.resource = std::string{middle};
    return std::nullopt;
  }
  if (!middle.empty())
    return not_found("no route " + std::string{verb} + " on a resource (only @sendToCompute)");
  struct verb_route {
    std::string_view name;
    datasource_op op;
    const char* methods;
  };
  static const verb_route verbs[] = {
      {"@sendToSpyder", datasource_op::spyder, "GET, POST"},
      {"@getAllChildren", datasource_op::children, "GET, POST"},
      {"@frontsearch", datasource_op::frontsearch, "GET, POST"},
      {"@refreshServiceCredentials", datasource_op::credentials, "POST"},
      {"@pause", datasource_op::pause, "POST"},
      {"@resume", datasource_op::resume, "POST"},
      {"@runs", datasource_op::runs, "GET"},
      {"@share", datasource_op::share, "POST"},
      {"@accept", datasource_op::accept, "POST"},
  };
  for (auto& v : verbs) {
    if (v.name != verb) continue;
    if (!allows(v.methods, method)) return method_error(v.methods);
    cmd.op = v.op;
    return std::nullopt;
  }
  return not_found("no datasource route " + std::string{verb});
}

namespace {

// Hands `cmd`, read from the request `in` of `who`, to the datasource API, and its answer to `r`.
void send_command(const actors::datasource_api_actor& datasources, http_request& in,
                  const caller& who, actors::datasource_command cmd, const http_reply& r) {
  auto query = parse_form(in.query);
  if (!query) {
    r.send(bad_request("malformed query string"));
    return;
  }
  cmd.query = std::move(*query);
  cmd.body = std::move(in.body);
  cmd.remote = std::move(in.remote);
  cmd.user = who.name;
  cmd.user_class = who.cls;
  auto place = "/api/" + cmd.container + "/" + cmd.account + "/workspaces/" + cmd.workspace + "/";
  cmd.respond = [r, place](actors::api_answer answer) {
    std::string id = answer.created_id;
    auto out = to_http(std::move(answer));
    if (!id.empty() && out.status == 201) out.headers.emplace_back("Location", place + id);
    r.send(std::move(out));
  };
  caf::anon_send(datasources, actors::api_atom::value, std::move(cmd));
}

}  // namespace

void add_datasource_routes(http_router& router, caf::actor_system& sys,
                           actors::tracker_actor tracker,
                           actors::datasource_api_actor datasources,
                           std::shared_ptr<const request_policy> policy) {
  auto handler = [&sys, tracker, datasources, policy](http_request req, http_reply reply) {
    if (!datasources) {
      reply.send(http_response::error(503, "unavailable", "no datasource API"));
      return;
    }
    // Authenticated first: a stranger learns nothing, not even which routes exist.
    auto shared = std::make_shared<http_request>(std::move(req));
    authenticate_then(
        sys, tracker, *shared, std::move(reply),
        [shared, datasources, policy](caf::event_based_actor*, http_reply r,
                                      const caller& who) {
          auto& in = *shared;
          auto part = [&](const char* name) -> std::string_view {
            auto* p = in.param(name);
            return p != nullptr ? std::string_view{p->value} : std::string_view{};
          };
          actors::datasource_command cmd;
          auto method = in.method == "HEAD" ? std::string{"GET"} : in.method;
          if (in.param("container") == nullptr) {
            cmd.op = datasource_op::list;  // `GET /api/datasources`: every workspace's
          } else if (auto refused = read_datasource_route(method, part("container"), part("account"),
                                                   part("workspace"), part("rest"), cmd)) {
            r.send(std::move(*refused));
            return;
          }
          if (changes_state(cmd.op)) {
            // Only @sendToSpyder and @sendToCompute act on GET, so a HEAD is one of them.
            if (auto refused = refuse_state_change(in, "GET, POST", *policy, &who.credentials)) {
              r.send(std::move(*refused));
              return;
            }
          }
          send_command(datasources, in, who, std::move(cmd), r);
        });
  };
  // Every tracker route starts with a literal second segment, so it is more specific than
  // `:container` and wins: a container cannot be named like one of them (`read`, `create`,
  // ...), and these routes never take a tracker path.
  for (auto* m : {"GET", "POST", "PUT", "PATCH", "DELETE"})
    router.add(m, "/api/:container/:account/workspaces/:workspace/*rest", handler);
  // Every datasource the caller may read, whatever its workspace (the node's page lists them).
  router.add("GET", "/api/datasources", [&sys, tracker, datasources](http_request req, http_reply reply) {
    if (!datasources) {
      reply.send(http_response::error(503, "unavailable", "no datasource API"));
      return;
    }
    auto shared = std::make_shared<http_request>(std::move(req));
    authenticate_then(sys, tracker, *shared, std::move(reply),
                      [shared, datasources](caf::event_based_actor*, http_reply r, const caller& who) {
                        actors::datasource_command cmd;
                        cmd.op = datasource_op::list;
                        send_command(datasources, *shared, who, std::move(cmd), r);
                      });
  });
}

}  // namespace syncline::runtime
