// End-to-end: the node as a unit of Type=notify sees it. The test holds the service manager's
// datagram socket, passes it in NOTIFY_SOCKET, and checks that READY=1 comes once /health
// answers and STOPPING=1 once SIGTERM arrived.
#define BOOST_TEST_MODULE tools_service
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>

#include <boost/test/unit_test.hpp>

#include "tests/support/http_client.hpp"
#include "tests/support/notify_socket.hpp"
#include "tests/temp_dir.hpp"
#include "tests/tools/node_process.hpp"

using namespace syncline::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// NOTIFY_SOCKET for the children started while it lives (they inherit the environment).
struct notify_env {
  explicit notify_env(const std::string& address) { ::setenv("NOTIFY_SOCKET", address.c_str(), 1); }
  ~notify_env() { ::unsetenv("NOTIFY_SOCKET"); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(ready_once_health_answers_and_stopping_on_sigterm) {
  temp_dir dir{"e2e-notify"};
  notify_socket manager{dir / "notify.sock"};
  notify_env env{manager.address()};
  node_process n{built_syncline(),
                 {"--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0"}};
  auto ready = manager.receive(node_start_bound);
  BOOST_REQUIRE_MESSAGE(ready, "no notification; output:\n" << n.proc->output());
  // The first datagram is READY=1, and it comes when the node already listens: /health answers
  // at once, with no retry.
  BOOST_CHECK_MESSAGE(contains(*ready, "READY=1"), *ready);
  n.wait_listening();
  BOOST_CHECK_MESSAGE(
      contains(*ready, "STATUS=listening on http://127.0.0.1:" + std::to_string(n.port)), *ready);
  BOOST_CHECK_EQUAL(fetch(n.port, "GET", "/health").status, 200);
  BOOST_CHECK_MESSAGE(!manager.receive(0ms), "more than one datagram before the stop");

  n.proc->send_signal(SIGTERM);
  auto stopping = manager.receive(node_exit_bound);
  BOOST_REQUIRE_MESSAGE(stopping, "no STOPPING=1; output:\n" << n.proc->output());
  BOOST_CHECK_MESSAGE(contains(*stopping, "STOPPING=1"), *stopping);
  auto st = n.wait_exit();
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code == 0, st.to_string() << "\n" << n.proc->output());
}

BOOST_AUTO_TEST_CASE(a_node_that_cannot_start_never_says_ready) {
  temp_dir dir{"e2e-notify-fail"};
  notify_socket manager{dir / "notify.sock"};
  notify_env env{manager.address()};
  auto config = dir / "bad.toml";
  {
    std::FILE* f = std::fopen(config.c_str(), "w");
    BOOST_REQUIRE(f != nullptr);
    std::fputs("[http]\nlisten = \"not an address\"\n", f);
    std::fclose(f);
  }
  node_process n{built_syncline(),
                 {"--config", config.string(), "--data-dir", (dir / "data").string()}};
  auto st = n.wait_exit();
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code == 2, st.to_string() << "\n" << n.proc->output());
  auto got = manager.receive(0ms);
  BOOST_CHECK_MESSAGE(!got, "a failed start sent: " << got.value_or(""));
}

BOOST_AUTO_TEST_CASE(an_unreachable_notify_socket_is_logged_and_the_node_runs_on) {
  temp_dir dir{"e2e-notify-gone"};
  notify_env env{(dir / "nobody.sock").string()};
  node_process n{built_syncline(),
                 {"--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0"}};
  n.wait_listening();
  auto line = n.proc->wait_for_line("cannot notify the service manager", node_start_bound);
  BOOST_CHECK_MESSAGE(line, n.proc->output());
  BOOST_CHECK_EQUAL(fetch(n.port, "GET", "/health").status, 200);
  n.proc->send_signal(SIGTERM);
  auto st = n.wait_exit();
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code == 0, st.to_string() << "\n" << n.proc->output());
}
