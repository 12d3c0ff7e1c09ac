#define BOOST_TEST_MODULE runtime_http_server
#include "runtime/http_server.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <mutex>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>

#include "runtime/error.hpp"
#include "tests/support/http_client.hpp"

using namespace syncline::runtime;
using syncline::test::fetch;
using syncline::test::http_connection;
using syncline::test::http_result;
using namespace std::chrono_literals;

namespace {

// The error's text, or "ok". Boost.Test evaluates message arguments even when a check passes,
// so `x.error()` must never be called on a value that holds one.
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : render(x.error());
}

// Bounds only: they limit how long a broken test hangs and never decide an outcome.
constexpr auto bound = 30s;

struct fixture {
  std::mutex mu;
  std::condition_variable arrived;
  // Replies that /later handlers leave for the test to answer, from the test's own thread.
  std::deque<http_reply> held;
  std::unique_ptr<http_server> server;
  // What /file serves: 1 MiB and a bit, more than a few of the server's blocks.
  std::string file_path = "/tmp/syncline-http-file-" + std::to_string(::getpid());
  std::string file_bytes = [] {
    std::string b((1u << 20) + 4321, '\0');
    uint32_t x = 12345;
    for (auto& c : b) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 24);
    return b;
  }();
  fixture() {
    std::ofstream out{file_path, std::ios::binary};
    out << file_bytes;
  }

  http_router routes() {
    http_router router;
    router.add("GET", "/hello", [](http_request, http_reply reply) {
      reply.send(http_response::json(200, R"({"hello":"world"})"));
    });
    router.add("POST", "/echo", [](http_request req, http_reply reply) {
      http_response res;
      res.content_type = "text/plain";
      res.body = req.method + "|" + req.path + "|" + req.query + "|" +
                 (req.header("X-Test") ? *req.header("x-test") : std::string{"-"}) + "|" +
                 (req.remote.empty() ? "?" : "peer") + "|" + req.body;
      reply.send(std::move(res));
    });
    router.add("GET", "/later", [this](http_request, http_reply reply) {
      std::lock_guard<std::mutex> lock{mu};
      held.push_back(std::move(reply));
      arrived.notify_all();
    });
    router.add("GET", "/drop", [](http_request, http_reply) {});
    router.add("GET", "/health", [](http_request, http_reply reply) {
      reply.send(http_response::json(200, R"({"status":"ok"})"));
    });
    router.add("GET", "/throw",
               [](http_request, http_reply) -> void { throw std::runtime_error("boom"); });
    // A part of file_path (`?offset=&length=`, else all of it) as a file body; `?more=N`
    // announces N bytes more than the file holds.
    router.add("GET", "/file", [this](http_request req, http_reply reply) {
      int fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return reply.send(http_response::error(500, "io", "cannot open"));
      auto number = [&](const char* name, uint64_t fallback) {
        auto v = req.query_param(name);
        return v ? std::stoull(*v) : fallback;
      };
      auto offset = number("offset", 0);
      auto length = number("length", file_bytes.size() - offset) + number("more", 0);
      http_response res;
      res.content_type = "application/octet-stream";
      res.file = std::make_shared<http_file_part>(fd, offset, length);
      reply.send(std::move(res));
    });
    router.add("GET", "/twice", [](http_request, http_reply reply) {
      reply.send(http_response::json(200, "1"));
      reply.send(http_response::json(201, "2"));
    });
    return router;
  }

  void start(http_server_options opts = {}) {
    opts.listen.port = 0;
    auto s = http_server::start(std::move(opts), routes());
    BOOST_REQUIRE_MESSAGE(s, why(s));
    server = std::move(*s);
  }

  uint16_t port() const { return server->local_address().port; }

  http_reply take_held() {
    std::unique_lock<std::mutex> lock{mu};
    BOOST_REQUIRE_MESSAGE(arrived.wait_for(lock, bound, [this] { return !held.empty(); }),
                          "the handler never received the request");
    auto r = held.front();
    held.pop_front();
    return r;
  }

  ~fixture() {
    // The server goes first; replies still held afterwards must be harmless.
    server.reset();
    ::unlink(file_path.c_str());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(answers_and_keeps_the_connection_alive, fixture) {
  start();
  BOOST_CHECK_NE(port(), 0);
  http_connection c{"127.0.0.1", port()};
  for (int i = 0; i < 3; ++i) {
    auto r = c.request("GET", "/hello");
    BOOST_CHECK_EQUAL(r.status, 200);
    BOOST_CHECK_EQUAL(r.body, R"({"hello":"world"})");
    BOOST_CHECK_EQUAL(r.header("content-type"), "application/json");
    BOOST_CHECK_EQUAL(r.header("server"), "syncline");
    BOOST_CHECK(r.header("connection") != "close");
  }
}

BOOST_FIXTURE_TEST_CASE(a_file_body_is_streamed_whole_or_in_part_and_the_connection_goes_on,
                        fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  auto r = c.request("GET", "/file");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.header("content-type"), "application/octet-stream");
  BOOST_CHECK_EQUAL(r.body.size(), file_bytes.size());
  BOOST_CHECK(r.body == file_bytes);
  r = c.request("GET", "/file?offset=300000&length=500000");
  BOOST_CHECK_EQUAL(r.body.size(), 500000u);
  BOOST_CHECK(r.body == file_bytes.substr(300000, 500000));
  // HEAD: the length GET would send, no body; the connection stays usable.
  r = c.request("HEAD", "/file");
  BOOST_CHECK_EQUAL(r.header("content-length"), std::to_string(file_bytes.size()));
  BOOST_CHECK(r.body.empty());
  BOOST_CHECK_EQUAL(c.request("GET", "/hello").body, R"({"hello":"world"})");
}

BOOST_FIXTURE_TEST_CASE(a_file_shorter_than_announced_closes_the_connection, fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  // 10 bytes announced past the end: the client never gets a complete (wrong) body.
  BOOST_CHECK_THROW(c.request("GET", "/file?more=10"), std::exception);
  // The server goes on serving other connections.
  BOOST_CHECK_EQUAL(fetch(port(), "GET", "/hello").status, 200);
}

BOOST_FIXTURE_TEST_CASE(pipelined_requests_are_answered_in_order, fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  c.send_raw(
      "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  take_held().send(http_response::json(200, "\"first\""));
  BOOST_CHECK_EQUAL(c.read_response().body, "\"first\"");
  BOOST_CHECK_EQUAL(c.read_response().body, R"({"hello":"world"})");
}

BOOST_FIXTURE_TEST_CASE(request_parts_reach_the_handler, fixture) {
  start();
  auto r = fetch(port(), "POST", "/echo?a=1&b=%20", "payload", {{"X-Test", "yes"}});
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.header("content-type"), "text/plain");
  BOOST_CHECK_EQUAL(r.body, "POST|/echo|a=1&b=%20|yes|peer|payload");
}

BOOST_FIXTURE_TEST_CASE(a_reply_can_come_later_from_another_thread, fixture) {
  start();
  auto client = std::async(std::launch::async, [p = port()] { return fetch(p, "GET", "/later"); });
  auto reply = take_held();
  std::thread other{[reply] { reply.send(http_response::json(202, R"({"done":true})")); }};
  other.join();
  auto r = client.get();
  BOOST_CHECK_EQUAL(r.status, 202);
  BOOST_CHECK_EQUAL(r.body, R"({"done":true})");
}

namespace {

// Function actors always get at least one spawn argument: with none, CAF 0.17.6 dereferences a
// null tuple pointer (init_fun_factory.hpp), which UBSan reports.
caf::behavior adder(caf::event_based_actor*, int32_t offset) {
  return {[offset](int32_t a, int32_t b) { return offset + a + b; }};
}

// Answers one HTTP request with the adder's answer, then quits.
void sum_bridge(caf::event_based_actor* self, caf::actor calculator, http_reply reply) {
  self->request(calculator, std::chrono::seconds{30}, int32_t{2}, int32_t{40})
      .then(
          [=](int32_t sum) {
            reply.send(http_response::json(200, "{\"sum\":" + std::to_string(sum) + "}"));
            self->quit();
          },
          [=](caf::error& err) {
            reply.send(http_response::error(502, "actor_failed", caf::to_string(err)));
            self->quit();
          });
}

}  // namespace

// The shape every API route will have: the handler starts an actor conversation and returns at
// once; the actor answers the HTTP request when its own answer arrives.
BOOST_FIXTURE_TEST_CASE(a_reply_can_come_from_a_caf_actor, fixture) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto calculator = sys.spawn(adder, int32_t{0});
  http_router router;
  router.add("GET", "/sum", [&sys, calculator](http_request, http_reply reply) {
    sys.spawn(sum_bridge, calculator, std::move(reply));
  });
  http_server_options opts;
  opts.listen = {"127.0.0.1", 0};
  auto s = http_server::start(opts, std::move(router));
  BOOST_REQUIRE_MESSAGE(s, why(s));
  auto r = fetch((*s)->local_address().port, "GET", "/sum");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, R"({"sum":42})");
  (*s)->stop();
  caf::anon_send_exit(calculator, caf::exit_reason::user_shutdown);
}

BOOST_FIXTURE_TEST_CASE(an_unanswered_request_gets_500, fixture) {
  start();
  auto r = fetch(port(), "GET", "/drop");
  BOOST_CHECK_EQUAL(r.status, 500);
  BOOST_CHECK(r.body.find("\"error\":\"no_reply\"") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_throwing_handler_gets_500_and_the_server_lives_on, fixture) {
  start();
  auto r = fetch(port(), "GET", "/throw");
  BOOST_CHECK_EQUAL(r.status, 500);
  BOOST_CHECK(r.body.find("\"error\":\"internal_error\"") != std::string::npos);
  BOOST_CHECK_EQUAL(fetch(port(), "GET", "/hello").status, 200);
}

BOOST_FIXTURE_TEST_CASE(only_the_first_answer_is_written, fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  auto r = c.request("GET", "/twice");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, "1");
  BOOST_CHECK_EQUAL(c.request("GET", "/hello").status, 200);
}

BOOST_FIXTURE_TEST_CASE(unknown_route_is_404_and_wrong_method_405, fixture) {
  start();
  auto r = fetch(port(), "GET", "/missing?x=1");
  BOOST_CHECK_EQUAL(r.status, 404);
  BOOST_CHECK_EQUAL(r.header("content-type"), "application/json");
  BOOST_CHECK_EQUAL(r.body, R"({"error":"not_found","message":"no route for GET /missing"})");
  r = fetch(port(), "DELETE", "/hello");
  BOOST_CHECK_EQUAL(r.status, 405);
  BOOST_CHECK_EQUAL(r.header("allow"), "GET, HEAD");
}

BOOST_FIXTURE_TEST_CASE(oversize_body_by_content_length_is_413, fixture) {
  http_server_options opts;
  opts.max_body_bytes = 1024;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  auto r = c.request("POST", "/echo", std::string(4096, 'x'));
  BOOST_CHECK_EQUAL(r.status, 413);
  BOOST_CHECK(r.body.find("\"error\":\"payload_too_large\"") != std::string::npos);
  BOOST_CHECK_EQUAL(r.header("connection"), "close");
  BOOST_CHECK(c.wait_closed());
  // At the limit exactly is fine.
  BOOST_CHECK_EQUAL(fetch(port(), "POST", "/echo", std::string(1024, 'x')).status, 200);
}

BOOST_FIXTURE_TEST_CASE(oversize_chunked_body_is_413, fixture) {
  http_server_options opts;
  opts.max_body_bytes = 1024;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  std::string chunk(800, 'y');
  c.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "320\r\n" +
      chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  auto r = c.read_response();
  BOOST_CHECK_EQUAL(r.status, 413);
}

BOOST_FIXTURE_TEST_CASE(expect_100_continue_is_honoured, fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  c.send_raw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_response();
  BOOST_CHECK_EQUAL(interim.status, 100);
  c.send_raw("hello");
  auto r = c.read_response();
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK(r.body.find("|hello") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(expect_100_continue_with_oversize_body_is_413_at_once, fixture) {
  http_server_options opts;
  opts.max_body_bytes = 1024;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  c.send_raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n");
  BOOST_CHECK_EQUAL(c.read_response().status, 413);
}

BOOST_FIXTURE_TEST_CASE(oversize_headers_are_431, fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  auto r = c.request("GET", "/hello", {}, {{"X-Big", std::string(9000, 'h')}});
  BOOST_CHECK_EQUAL(r.status, 431);
  BOOST_CHECK(r.body.find("\"error\":\"header_too_large\"") != std::string::npos);
  // Just under the limit is fine.
  BOOST_CHECK_EQUAL(fetch(port(), "GET", "/hello", {}, {{"X-Big", std::string(7000, 'h')}}).status,
                    200);
}

BOOST_FIXTURE_TEST_CASE(malformed_requests_are_400, fixture) {
  start();
  http_connection c{"127.0.0.1", port()};
  c.send_raw("NOT HTTP AT ALL\r\n\r\n");
  auto r = c.read_response();
  BOOST_CHECK_EQUAL(r.status, 400);
  BOOST_CHECK(r.body.find("\"error\":\"bad_request\"") != std::string::npos);
  BOOST_CHECK(c.wait_closed());
}

BOOST_FIXTURE_TEST_CASE(a_stalled_request_is_closed_after_the_read_timeout, fixture) {
  http_server_options opts;
  opts.read_timeout = 1s;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  c.send_raw("GET /hello HTTP/1.1\r\nHost: x\r\n");
  BOOST_CHECK(c.wait_closed());
}

BOOST_FIXTURE_TEST_CASE(an_idle_keep_alive_connection_is_closed_after_the_read_timeout, fixture) {
  http_server_options opts;
  opts.read_timeout = 1s;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  BOOST_CHECK_EQUAL(c.request("GET", "/hello").status, 200);
  BOOST_CHECK(c.wait_closed());
}

BOOST_FIXTURE_TEST_CASE(stop_lets_a_request_in_flight_be_answered, fixture) {
  start();
  auto client = std::async(std::launch::async, [p = port()] { return fetch(p, "GET", "/later"); });
  auto reply = take_held();
  auto stopper = std::async(std::launch::async, [this] { server->stop(); });
  reply.send(http_response::json(200, "\"late\""));
  auto r = client.get();
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.body, "\"late\"");
  stopper.get();
}

BOOST_FIXTURE_TEST_CASE(stop_closes_idle_connections_and_refuses_new_ones, fixture) {
  start();
  auto p = port();
  http_connection idle{"127.0.0.1", p};
  BOOST_CHECK_EQUAL(idle.request("GET", "/hello").status, 200);
  server->stop();
  BOOST_CHECK(idle.wait_closed());
  BOOST_CHECK_THROW(http_connection("127.0.0.1", p), std::runtime_error);
  server->stop();
}

BOOST_FIXTURE_TEST_CASE(stop_gives_up_on_a_handler_that_never_answers, fixture) {
  http_server_options opts;
  opts.stop_grace = 100ms;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  c.send_request("GET", "/later");
  auto reply = take_held();
  server->stop();
  BOOST_CHECK(c.wait_closed());
  // Answering after the stop, and after the server is gone, does nothing (and nothing bad).
  reply.send(http_response::json(200, "\"too late\""));
  server.reset();
  http_reply again = reply;
  again.send(http_response::json(200, "\"still too late\""));
}

BOOST_FIXTURE_TEST_CASE(a_reply_held_past_the_server_is_harmless, fixture) {
  http_server_options opts;
  opts.stop_grace = 100ms;
  start(opts);
  http_connection c{"127.0.0.1", port()};
  c.send_request("GET", "/later");
  auto reply = take_held();
  server.reset();
  // `reply` is destroyed unanswered after the server: its 500 goes nowhere.
}

BOOST_FIXTURE_TEST_CASE(a_busy_port_is_a_clear_error, fixture) {
  start();
  http_server_options opts;
  opts.listen = {"127.0.0.1", port()};
  auto second = http_server::start(opts, http_router{});
  BOOST_REQUIRE(!second);
  BOOST_CHECK(is(second.error(), runtime_errc::listen_failed));
  auto msg = render(second.error());
  BOOST_CHECK_MESSAGE(msg.find("127.0.0.1:" + std::to_string(port())) != std::string::npos, msg);
}

BOOST_FIXTURE_TEST_CASE(a_non_local_address_is_a_clear_error, fixture) {
  http_server_options opts;
  opts.listen = {"192.0.2.1", 0};  // TEST-NET-1: never assigned to this machine
  auto s = http_server::start(opts, http_router{});
  BOOST_REQUIRE(!s);
  BOOST_CHECK(render(s.error()).find("192.0.2.1:0") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(ipv6_loopback_works_where_available, fixture) {
  int probe = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  bool available =
      probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (probe >= 0) ::close(probe);
  if (!available) {
    BOOST_TEST_MESSAGE("no IPv6 loopback here; skipped");
    return;
  }
  http_server_options opts;
  opts.listen = {"::1", 0};
  start(opts);
  BOOST_CHECK_EQUAL(server->local_address().host, "::1");
  http_connection c{"::1", port()};
  BOOST_CHECK_EQUAL(c.request("GET", "/hello").status, 200);
}

// Past [http] max_connections: a new connection gets a clear 503 with Retry-After and is
// closed, /health is still answered, and the connections already open are still served; once
// one closes, new connections are served again.
BOOST_FIXTURE_TEST_CASE(past_max_connections_new_ones_get_503_but_health_and_open_ones_are_served,
                        fixture) {
  http_server_options o;
  o.max_connections = 2;
  start(o);
  auto a = std::make_unique<http_connection>("127.0.0.1", port());
  http_connection b{"127.0.0.1", port()};
  BOOST_CHECK_EQUAL(a->request("GET", "/hello").status, 200);
  BOOST_CHECK_EQUAL(b.request("GET", "/hello").status, 200);
  for (int i = 0; i < 3; ++i) {
    http_connection c{"127.0.0.1", port()};
    auto r = c.request("GET", "/hello");
    BOOST_CHECK_EQUAL(r.status, 503);
    BOOST_CHECK_EQUAL(r.header("retry-after"), "1");
    BOOST_CHECK_MESSAGE(r.body.find("max_connections") != std::string::npos, r.body);
    BOOST_CHECK(c.wait_closed());
  }
  {
    http_connection d{"127.0.0.1", port()};
    BOOST_CHECK_EQUAL(d.request("GET", "/health").status, 200);
  }
  BOOST_CHECK_EQUAL(a->request("GET", "/hello").status, 200);
  BOOST_CHECK_EQUAL(b.request("GET", "/hello").status, 200);
  // One closes: the server notices in its own time; a new connection is served then.
  a.reset();
  auto deadline = std::chrono::steady_clock::now() + bound;
  int status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    http_connection e{"127.0.0.1", port()};
    status = e.request("GET", "/hello").status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  BOOST_CHECK_EQUAL(status, 200);
}
