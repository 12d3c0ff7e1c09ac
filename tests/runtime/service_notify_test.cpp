// runtime/service_notify: the datagrams a service manager receives, on a path and on an
// abstract name, and the errors for addresses that cannot be reached.
#define BOOST_TEST_MODULE runtime_service_notify
#include "runtime/service_notify.hpp"

#include <chrono>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "runtime/error.hpp"
#include "tests/support/notify_socket.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::runtime;
using syncline::test::notify_socket;
using syncline::test::temp_dir;
using namespace std::chrono_literals;

namespace {

// A bound only: a datagram sent before `receive` is already queued.
constexpr std::chrono::milliseconds receive_bound = 5s;

std::string text(const caf::error& err) {
  return err ? render(err) : std::string{"none"};
}

}  // namespace

BOOST_AUTO_TEST_CASE(no_socket_means_nothing_to_do) {
  ::unsetenv("NOTIFY_SOCKET");
  BOOST_CHECK_MESSAGE(!notify_service_manager("READY=1"), "unset");
  ::setenv("NOTIFY_SOCKET", "", 1);
  BOOST_CHECK_MESSAGE(!notify_service_manager("READY=1"), "empty");
  ::unsetenv("NOTIFY_SOCKET");
}

BOOST_AUTO_TEST_CASE(a_path_gets_the_state_as_one_datagram) {
  temp_dir dir{"notify"};
  notify_socket manager{dir / "notify.sock"};
  ::setenv("NOTIFY_SOCKET", manager.address().c_str(), 1);
  auto err = notify_service_manager("READY=1\nSTATUS=listening on http://127.0.0.1:1");
  ::unsetenv("NOTIFY_SOCKET");
  BOOST_REQUIRE_MESSAGE(!err, text(err));
  auto got = manager.receive(receive_bound);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(*got, "READY=1\nSTATUS=listening on http://127.0.0.1:1");
  BOOST_REQUIRE(!notify_service_manager(manager.address(), "STOPPING=1"));
  got = manager.receive(receive_bound);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(*got, "STOPPING=1");
}

BOOST_AUTO_TEST_CASE(an_abstract_name_starts_with_at) {
  // Unique per process: abstract names live in the network namespace, not in a directory.
  std::string name = "/syncline-notify-test-" + std::to_string(::getpid());
  notify_socket manager{name, true};
  BOOST_CHECK_EQUAL(manager.address(), "@" + name.substr(1));
  auto err = notify_service_manager(manager.address(), "READY=1");
  BOOST_REQUIRE_MESSAGE(!err, text(err));
  auto got = manager.receive(receive_bound);
  BOOST_REQUIRE(got);
  BOOST_CHECK_EQUAL(*got, "READY=1");
}

BOOST_AUTO_TEST_CASE(unreachable_addresses_are_errors_that_name_them) {
  temp_dir dir{"notify"};
  auto missing = (dir / "nobody-listens.sock").string();
  auto err = notify_service_manager(missing, "READY=1");
  BOOST_CHECK(is(err, runtime_errc::notify_failed));
  BOOST_CHECK_MESSAGE(text(err).find(missing) != std::string::npos, text(err));
  err = notify_service_manager("vsock:2:1234", "READY=1");
  BOOST_CHECK(is(err, runtime_errc::notify_failed));
  BOOST_CHECK_MESSAGE(text(err).find("AF_UNIX") != std::string::npos, text(err));
  err = notify_service_manager("/" + std::string(200, 'x'), "READY=1");
  BOOST_CHECK(is(err, runtime_errc::notify_failed));
  BOOST_CHECK_MESSAGE(text(err).find("longer") != std::string::npos, text(err));
}
