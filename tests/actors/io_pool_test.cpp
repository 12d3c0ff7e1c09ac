#define BOOST_TEST_MODULE actors_io_pool
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/error.hpp"
#include "actors/failure_policy.hpp"
#include "actors/io_pool.hpp"

using namespace syncline;
using namespace std::chrono_literals;

namespace {

// An actor that runs one job on `pool` when told, and reports its result to `reply_to`.
template <class Result>
caf::behavior runner(caf::event_based_actor* self, actors::io_pool* pool, caf::actor reply_to) {
  return {
      [=](caf::ok_atom) {
        actors::run_io(
            self, *pool, []() -> Result { throw std::runtime_error("disk on fire"); },
            [=](Result r) {
              if constexpr (std::is_same_v<Result, caf::error>)
                self->send(reply_to, r);
              else
                self->send(reply_to, caf::error{});
            });
      },
      [=](actors::io_done_atom, actors::io_continuation& k) { k.fn(); },
  };
}

}  // namespace

// A job that throws is an error of its actor, never the end of the node.
BOOST_AUTO_TEST_CASE(a_job_that_throws_becomes_a_classified_error) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  actors::io_pool pool{2};
  caf::scoped_actor self{sys};
  // A job whose result can carry an error: the actor gets it as the result.
  auto a = sys.spawn(runner<caf::error>, &pool, caf::actor{self});
  self->send(a, caf::ok_atom::value);
  caf::error got;
  self->receive([&](caf::error& e) { got = e; },
                caf::after(std::chrono::seconds{30}) >> [] { BOOST_FAIL("no answer"); });
  BOOST_CHECK(actors::is(got, actors::actors_errc::job_failed));
  BOOST_CHECK_NE(actors::render(got).find("disk on fire"), std::string::npos);
  BOOST_CHECK(actors::classify(got) == actors::failure_class::retry);
  // A job whose result cannot: the actor exits with it (a supervisor restarts it).
  auto b = sys.spawn(runner<int>, &pool, caf::actor{self});
  self->monitor(b);
  self->send(b, caf::ok_atom::value);
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds{30}) >> [] { BOOST_FAIL("the actor lived on"); });
  BOOST_CHECK(actors::is(reason, actors::actors_errc::job_failed));
  // A raw job that throws costs only itself: the pool runs the next one.
  pool.submit([] { throw std::logic_error("raw"); });
  std::promise<void> ran;
  pool.submit([&] { ran.set_value(); });
  BOOST_CHECK(ran.get_future().wait_for(30s) == std::future_status::ready);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  pool.stop();
}
