#include "runtime/api_routes.hpp"

#include <cctype>
#include <string>
#include <string_view>
#include <utility>

#include <caf/send.hpp>

namespace syncline::runtime {

namespace {

using actors::api_op;

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

void read_token(const http_request& req, actors::api_request& out) {
  auto who = read_credentials(req);
  out.token = std::move(who.token);
  out.bad_authorization = who.bad;
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

http_response to_http(actors::api_response r) {
  http_response out;
  out.status = r.status;
  out.content_type = std::move(r.content_type);
  out.body = std::move(r.body);
  out.headers = std::move(r.headers);
  return out;
}

enum class extra : uint8_t { none, path_ids, arg_rest, graph, datasource };

http_handler make_handler(actors::tracker_actor tracker, api_op op, extra what) {
  return [tracker, op, what](http_request req, http_reply reply) {
    actors::api_request call;
    call.op = op;
    read_token(req, call);
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
      case extra::datasource: {
        for (auto* name : {"container", "account", "workspace", "rest"}) {
          auto* p = req.param(name);
          call.path_ids.push_back(p != nullptr ? p->value : std::string{});
        }
        auto query = parse_form(req.query);
        if (!query) {
          reply.send(http_response::error(400, "bad_request", "malformed query string"));
          return;
        }
        call.query = std::move(*query);
        call.method = req.method == "HEAD" ? "GET" : req.method;
        break;
      }
    }
    call.body = std::move(req.body);
    call.remote = std::move(req.remote);
    call.respond = [reply = std::move(reply)](actors::api_response r) {
      reply.send(to_http(std::move(r)));
    };
    caf::anon_send(tracker, actors::api_atom::value, std::move(call));
  };
}

}  // namespace

request_credentials read_credentials(const http_request& req) {
  request_credentials out;
  if (auto* auth = req.header("authorization")) {
    std::string_view v{*auth};
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (starts_with_nocase(v, "bearer") && (v.size() == 6 || v[6] == ' ')) {
      auto token = v.substr(std::min<size_t>(v.size(), 7));
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      if (!token.empty() && token != "null" && token != "undefined") out.token = std::string{token};
      if (!out.token.empty()) return out;
    } else if (!v.empty()) {
      out.bad = true;
      return out;
    }
  }
  if (auto c = req.cookie("token"); c && !c->empty()) out.token = std::move(*c);
  return out;
}

void add_api_routes(http_router& router, actors::tracker_actor tracker) {
  auto add = [&](std::initializer_list<const char*> methods, const char* pattern, api_op op,
                 extra what = extra::none) {
    for (auto* m : methods) router.add(m, pattern, make_handler(tracker, op, what));
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
  // Seed 000's datasources. Every tracker route above starts with a literal second segment, so
  // it is more specific than `:container` and wins: a container cannot be named like one of
  // them (`read`, `create`, ...), and these routes never take a tracker path.
  add({"GET", "POST", "PUT", "PATCH", "DELETE"},
      "/api/:container/:account/workspaces/:workspace/*rest", api_op::datasource,
      extra::datasource);
}

}  // namespace syncline::runtime
