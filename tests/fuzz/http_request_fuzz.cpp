// tests/fuzz/http_request_fuzz.cpp: the HTTP request reader and router on any bytes as what a
// client sends. The bytes are read as a connection reads them (runtime/http_server.hpp's
// `read_http_request`: Beast's parser with the node's limits), checked as the node admits
// requests (`Host`), and routed through the node's real API routes (runtime/api_routes.hpp):
// credentials, the browser rules, path captures, query strings and the datasource routes'
// reader. The tracker and the datasource API are stand-ins that answer at once (what they do
// with a command has fuzz targets of its own), so each input is answered within the run.
// Whatever the bytes, every request gets exactly one answer, with a status the API
// documents, and an error body that is valid JSON.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <rapidjson/document.h>

#include "actors/datasource_api_ops.hpp"
#include "actors/error.hpp"
#include "actors/messages.hpp"
#include "runtime/api_routes.hpp"
#include "runtime/http_server.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace syncline;
using fuzz::require;

actors::tracker_actor::behavior_type stand_in_tracker(int) {
  return {
      [](actors::api_atom, actors::tracker_command& cmd) {
        cmd.respond(actors::answer_json(actors::answer_kind::done, "{}"));
      },
      [](actors::auth_atom, const std::string& token,
         bool bad) -> caf::result<std::string, uint8_t, bool> {
        if (bad) return actors::make_error(actors::actors_errc::unauthenticated, "not a token");
        return {std::string{"fuzz"}, uint8_t{3}, token.empty()};
      },
      [](actors::purge_atom) {},
      [](actors::status_atom) { return actors::actor_status{}; },
      [](actors::io_done_atom, actors::io_continuation& k) { k.fn(); },
  };
}

actors::datasource_api_actor::behavior_type stand_in_datasources(int) {
  return {
      [](actors::api_atom, actors::datasource_command& cmd) {
        rapidjson::Document d;
        if (auto refused = actors::detail::parse_body(cmd, d))
          return cmd.respond(std::move(*refused));
        cmd.respond(actors::answer_json(actors::answer_kind::done, "{}"));
      },
      [](actors::status_atom) { return actors::actor_status{}; },
      [](actors::io_done_atom, actors::io_continuation& k) { k.fn(); },
  };
}

struct world {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  runtime::http_router router;
  runtime::http_server_options options;
  runtime::request_policy policy;

  world() {
    actors::register_types(cfg);
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    policy.allowed_hosts = {"node.example"};
    policy.allowed_origins = {"https://app.example"};
    auto shared_policy = std::make_shared<const runtime::request_policy>(policy);
    router.add("GET", "/health", [](runtime::http_request, runtime::http_reply reply) {
      reply.send(runtime::http_response::json(200, "{\"status\":\"ok\"}"));
    });
    runtime::add_api_routes(router, *sys, sys->spawn(stand_in_tracker, 0),
                            sys->spawn(stand_in_datasources, 0), shared_policy);
    options.max_header_bytes = 8 * 1024;
    options.max_body_bytes = 64 * 1024;
  }
};

// Where a request's answer lands; waited for with a bound.
struct answer_box : runtime::http_reply::sink {
  struct shared {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<runtime::http_response> response;
    int deliveries = 0;
  };
  std::shared_ptr<shared> s = std::make_shared<shared>();
  void deliver(runtime::http_response r) noexcept override {
    std::lock_guard<std::mutex> lock{s->mu};
    ++s->deliveries;
    s->response = std::move(r);
    s->cv.notify_all();
  }
};

void check_answer(const runtime::http_response& r) {
  require(r.status >= 200 && r.status <= 599, "an answer's status is out of range");
  if (r.status == 405) {
    bool allow = false;
    for (auto& [name, value] : r.headers) allow = allow || (name == "Allow" && !value.empty());
    require(allow, "a 405 without Allow");
  }
  if (r.content_type == "application/json" && !r.body.empty()) {
    rapidjson::Document d;
    d.Parse(r.body.data(), r.body.size());
    require(!d.HasParseError(), "an answer's JSON body is not valid JSON");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Never destroyed: the stand-in actors live as long as the process.
  static world* w = new world();
  auto read = runtime::read_http_request(fuzz::text(data, size), w->options);
  if (auto* refusal = std::get_if<runtime::http_response>(&read)) {
    require(refusal->status == 400 || refusal->status == 413 || refusal->status == 431,
            "a request that cannot be read gets another status than 400, 413 or 431");
    check_answer(*refusal);
    return 0;
  }
  auto* req = std::get_if<runtime::http_request>(&read);
  if (req == nullptr) return 0;
  req->remote = "127.0.0.1:40000";
  req->local = "127.0.0.1:8460";
  auto sink = std::make_unique<answer_box>();
  auto box = sink->s;
  {
    runtime::http_reply reply{std::move(sink)};
    std::optional<runtime::http_response> refused;
    if (req->path != "/health") refused = runtime::check_host(*req, w->policy);
    if (refused) {
      require(refused->status == 403, "a refused Host gets another status than 403");
      reply.send(std::move(*refused));
    } else {
      w->router.dispatch(std::move(*req), reply);
    }
  }
  std::unique_lock<std::mutex> lock{box->mu};
  require(box->cv.wait_for(lock, std::chrono::seconds{30}, [&] { return box->response.has_value(); }),
          "a request got no answer within 30 s");
  require(box->deliveries == 1, "a request got more than one answer");
  check_answer(*box->response);
  return 0;
}
