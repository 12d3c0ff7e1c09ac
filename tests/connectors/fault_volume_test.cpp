// tests/connectors/fault_volume_test.cpp: injected failures: which operations, which errors,
// which references, how many times, from how many threads.
#define BOOST_TEST_MODULE connectors_fault_volume
#include "connectors/fault_volume.hpp"

#include <cerrno>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "connectors/error.hpp"
#include "connectors/local_volume.hpp"
#include "tests/connectors/connector_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::connectors;
using namespace syncline::test;

namespace {

struct fixture {
  temp_dir root{"fault-vol"};

  std::unique_ptr<fault_volume> make(fault_operation op, int err, std::string glob,
                                     std::optional<uint64_t> times) {
    auto inner = local_volume::make({root.path().string()});
    BOOST_REQUIRE(inner);
    fault_volume_options o;
    o.operation = op;
    o.error = err;
    o.references = std::move(glob);
    o.times = times;
    auto v = fault_volume::make(std::move(*inner), o);
    BOOST_REQUIRE_MESSAGE(v, reason(v));
    return std::move(*v);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fault_volume_suite, fixture)

BOOST_AUTO_TEST_CASE(n_failures_then_success_only_for_matching_references) {
  auto v = make(fault_operation::write, EIO, "*.bin", 2);
  auto w = v->open_writer(item("d/a.bin"), 0);  // open_writer is not the chosen operation
  BOOST_REQUIRE(w);
  CHECK_ERRC((*w)->write("x", 1), connector_errc::io_error);
  CHECK_ERRC((*w)->copy_from(0, 1), connector_errc::io_error);
  CHECK_OK((*w)->write("x", 1));
  CHECK_OK((*w)->write("y", 1));
  BOOST_CHECK_EQUAL(v->injected(), 2u);
  BOOST_CHECK_EQUAL(v->eligible(), 4u);
  auto t = v->open_writer(item("d/a.txt"), 0);
  BOOST_REQUIRE(t);
  v->rearm(5);
  CHECK_OK((*t)->write("z", 1));  // not a .bin
  BOOST_CHECK_EQUAL(v->injected(), 2u);
  REQUIRE_OK((*w)->commit(item("d/a.bin")));
  BOOST_CHECK_EQUAL(slurp(root / "d/a.bin"), "xy");
}

BOOST_AUTO_TEST_CASE(always_failing_open_writer_with_eacces) {
  auto v = make(fault_operation::open_writer, EACCES, "", std::nullopt);
  for (int k = 0; k < 5; ++k) {
    auto w = v->open_writer(item("f" + std::to_string(k)), 0);
    CHECK_ERRC(w, connector_errc::permission_denied);
    if (!w) BOOST_CHECK(render(w.error()).find("injected") != std::string::npos);
  }
  BOOST_CHECK_EQUAL(v->injected(), 5u);
  BOOST_CHECK(std::filesystem::is_empty(root.path()));  // a failed call does nothing
  CHECK_OK(v->make_directory(item("d/")));              // other operations are untouched
  v->rearm(0);
  CHECK_OK(v->open_writer(item("f"), 0));
}

BOOST_AUTO_TEST_CASE(a_failed_commit_keeps_the_temporary_file_for_resuming) {
  auto v = make(fault_operation::commit, ENOSPC, "**", 1);
  {
    auto w = v->open_writer(item("big"), 0);
    BOOST_REQUIRE(w);
    REQUIRE_OK((*w)->write("0123456789", 10));
    CHECK_ERRC((*w)->commit(item("big")), connector_errc::no_space);
  }
  auto st = v->stat("big");
  BOOST_REQUIRE(st);
  BOOST_CHECK(!*st);
  auto w = v->open_writer(item("big"), 10);
  BOOST_REQUIRE(w);
  BOOST_CHECK_EQUAL((*w)->offset(), 10u);
  REQUIRE_OK((*w)->commit(item("big")));
  BOOST_CHECK_EQUAL(slurp(root / "big"), "0123456789");
}

BOOST_AUTO_TEST_CASE(any_covers_every_change_but_not_reads) {
  auto v = make(fault_operation::any, EBUSY, "", std::nullopt);
  CHECK_ERRC(v->open_writer(item("f"), 0), connector_errc::busy);
  CHECK_ERRC(v->make_directory(item("d/")), connector_errc::busy);
  CHECK_ERRC(v->make_symlink(item("l", 0777, 0, "t")), connector_errc::busy);
  CHECK_ERRC(v->set_mtime("f", 0), connector_errc::busy);
  CHECK_ERRC(v->remove("f"), connector_errc::busy);
  BOOST_CHECK_EQUAL(v->injected(), 5u);
  CHECK_OK(v->stat("f"));
  CHECK_OK(v->list());
  CHECK_OK(v->check());
  CHECK_OK(v->sync());
  CHECK_ERRC(v->open_reader("f", 0), connector_errc::not_found);  // the real answer
  v->rearm(1);
  auto w = v->open_writer(item("f"), 0);  // spends the last failure? no: budget 1, this fails
  CHECK_ERRC(w, connector_errc::busy);
  w = v->open_writer(item("f"), 0);
  BOOST_REQUIRE(w);
  REQUIRE_OK((*w)->write("a", 1));
  REQUIRE_OK((*w)->sync());
  REQUIRE_OK((*w)->commit(item("f")));
  BOOST_CHECK_EQUAL(v->describe(), "faulty directory " + root.path().string());
}

BOOST_AUTO_TEST_CASE(the_budget_is_shared_between_threads) {
  auto v = make(fault_operation::open_writer, EIO, "", 50);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 40; ++k) {
        auto w = v->open_writer(item("t" + std::to_string(t) + "/f" + std::to_string(k)), 0);
        if (!w) {
          ++failures;
        } else {
          (*w)->abort();
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  BOOST_CHECK_EQUAL(failures.load(), 50);
  BOOST_CHECK_EQUAL(v->injected(), 50u);
  BOOST_CHECK_EQUAL(v->eligible(), 160u);
}

BOOST_AUTO_TEST_CASE(writers_outlive_their_volume) {
  auto v = make(fault_operation::write, EIO, "", 1);
  auto w = v->open_writer(item("f"), 0);
  BOOST_REQUIRE(w);
  v.reset();
  CHECK_ERRC((*w)->write("a", 1), connector_errc::io_error);
  CHECK_OK((*w)->write("a", 1));
  REQUIRE_OK((*w)->commit(item("f")));
}

BOOST_AUTO_TEST_CASE(configuration) {
  CHECK_ERRC(fault_volume::make(nullptr, {}), connector_errc::bad_config);
  auto inner = local_volume::make({root.path().string()});
  BOOST_REQUIRE(inner);
  fault_volume_options o;
  o.references = "[bad";
  CHECK_ERRC(fault_volume::make(std::move(*inner), o), connector_errc::bad_config);
  for (auto op : {fault_operation::open_writer, fault_operation::write, fault_operation::commit,
                  fault_operation::any}) {
    BOOST_CHECK(fault_operation_from_string(to_string(op)) == op);
  }
  BOOST_CHECK(!fault_operation_from_string("read"));
}

BOOST_AUTO_TEST_SUITE_END()
