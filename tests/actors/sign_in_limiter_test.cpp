// The sign-in limiter on a clock of the test's own: attempts per (user, address) and per
// address, refilled over the window, given back on success, and a stranger's flood never
// taking the attempts of the admin's own address.
#define BOOST_TEST_MODULE actors_sign_in_limiter
#include <boost/test/unit_test.hpp>

#include "actors/sign_in_limiter.hpp"

using namespace syncline::actors;
using namespace std::chrono_literals;

namespace {

sign_in_limiter::clock::time_point t0{std::chrono::hours{1000}};

sign_in_limits limits() {
  sign_in_limits l;
  l.per_user_address = 3;
  l.per_address = 10;
  l.window = 60s;
  return l;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_pair_runs_out_and_refills_over_the_window) {
  sign_in_limiter lim{limits()};
  for (int i = 0; i < 3; ++i) BOOST_CHECK(!lim.admit("root", "10.0.0.9:5000", t0));
  auto wait = lim.admit("root", "10.0.0.9:5001", t0);
  BOOST_REQUIRE(wait);
  BOOST_CHECK_EQUAL(*wait, 20u);  // one attempt of three comes back every 20 s
  // Refused attempts take nothing: still 20 s from the start.
  BOOST_CHECK_EQUAL(*lim.admit("root", "10.0.0.9:1", t0 + 10s), 10u);
  BOOST_CHECK(!lim.admit("root", "10.0.0.9:1", t0 + 20s));
  BOOST_CHECK(lim.admit("root", "10.0.0.9:1", t0 + 21s));
  // Another user from that address is another pair.
  BOOST_CHECK(!lim.admit("ursula", "10.0.0.9:1", t0 + 21s));
}

BOOST_AUTO_TEST_CASE(a_stranger_does_not_lock_the_admin_out) {
  sign_in_limiter lim{limits()};
  for (int i = 0; i < 50; ++i) lim.admit("root", "203.0.113.7:4000", t0);
  BOOST_CHECK(lim.admit("root", "203.0.113.7:4000", t0));
  BOOST_CHECK(!lim.admit("root", "192.0.2.1:4000", t0));
  BOOST_CHECK(!lim.admit("root", "[::1]:4000", t0));
}

BOOST_AUTO_TEST_CASE(one_address_cannot_try_many_users) {
  sign_in_limiter lim{limits()};
  for (int i = 0; i < 10; ++i) BOOST_CHECK(!lim.admit("user" + std::to_string(i), "[2001:db8::1]:9", t0));
  auto wait = lim.admit("fresh", "[2001:db8::1]:10", t0);
  BOOST_REQUIRE(wait);
  BOOST_CHECK_EQUAL(*wait, 6u);
}

BOOST_AUTO_TEST_CASE(success_gives_the_attempt_back) {
  sign_in_limiter lim{limits()};
  for (int i = 0; i < 100; ++i) {
    BOOST_REQUIRE(!lim.admit("script", "127.0.0.1:1", t0));
    lim.succeeded("script", "127.0.0.1:1", t0);
  }
}

BOOST_AUTO_TEST_CASE(memory_is_bounded) {
  auto l = limits();
  l.max_entries = 100;
  sign_in_limiter lim{l};
  for (int i = 0; i < 10000; ++i)
    lim.admit("u", "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":1",
              t0 + std::chrono::milliseconds{i});
  BOOST_CHECK_LE(lim.size(), 102u);
}

BOOST_AUTO_TEST_CASE(host_of_strips_the_port) {
  BOOST_CHECK_EQUAL(sign_in_limiter::host_of("127.0.0.1:50312"), "127.0.0.1");
  BOOST_CHECK_EQUAL(sign_in_limiter::host_of("[::1]:50312"), "::1");
  BOOST_CHECK_EQUAL(sign_in_limiter::host_of("?"), "?");
}
