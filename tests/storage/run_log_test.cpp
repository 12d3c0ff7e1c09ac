#define BOOST_TEST_MODULE storage_run_log
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <mutex>
#include <set>
#include <thread>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/error.hpp"
#include "storage/run_log.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"run-log"};
  std::unique_ptr<database> db;
  std::unique_ptr<run_log> log;

  fixture() { reopen(); }
  void reopen() {
    log.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    log = std::make_unique<run_log>(*db);
  }

  run_record begin(std::string_view ds, int64_t now = 1000, std::string trigger = "manual") {
    auto r = log->begin(ds, now, std::move(trigger));
    BOOST_REQUIRE_MESSAGE(r, why(r));
    return *r;
  }

  std::vector<uint64_t> numbers(std::string_view ds, size_t limit = 1000, uint64_t before = 0) {
    auto runs = log->list(ds, limit, before);
    BOOST_REQUIRE_MESSAGE(runs, why(runs));
    std::vector<uint64_t> out;
    for (auto& r : *runs) {
      BOOST_CHECK_EQUAL(r.datasource, ds);
      out.push_back(r.number);
    }
    return out;
  }

  std::optional<run_record> get(std::string_view ds, uint64_t n) {
    auto r = log->get(ds, n);
    BOOST_REQUIRE_MESSAGE(r, why(r));
    return *r;
  }

  // Writes raw bytes where run `n` of `ds` lives.
  void put_raw(std::string_view ds, uint64_t n, std::string_view value) {
    std::string key;
    codec::append_string(key, ds);
    codec::append_u64(key, n);
    write_batch b{*db};
    b.put(column::runs, key, value);
    BOOST_REQUIRE(!db->write(b));
  }
};

using numbers_t = std::vector<uint64_t>;

bool same(const run_record& a, const run_record& b) {
  if (a.history.size() != b.history.size()) return false;
  for (size_t i = 0; i < a.history.size(); ++i)
    if (a.history[i].status != b.history[i].status || a.history[i].at_ms != b.history[i].at_ms)
      return false;
  return a.datasource == b.datasource && a.number == b.number && a.status == b.status &&
         a.counters == b.counters && a.error == b.error && a.trigger == b.trigger &&
         a.started_ms == b.started_ms && a.ended_ms == b.ended_ms;
}

}  // namespace

BOOST_AUTO_TEST_CASE(status_names_and_finality) {
  const std::vector<std::pair<run_status, std::string>> names{
      {run_status::started, "started"}, {run_status::querying, "querying"},
      {run_status::queued, "queued"},   {run_status::in_progress, "in_progress"},
      {run_status::success, "success"}, {run_status::paused, "paused"},
      {run_status::failed, "failed"}};
  for (auto& [s, name] : names) {
    BOOST_CHECK_EQUAL(to_string(s), name);
    BOOST_CHECK(run_status_from_string(name) == s);
    BOOST_CHECK_EQUAL(is_final(s), s == run_status::success || s == run_status::failed);
  }
  BOOST_CHECK(!run_status_from_string("in progress"));
  BOOST_CHECK(!run_status_from_string(""));
}

BOOST_AUTO_TEST_CASE(move_to_records_history_and_the_end) {
  run_record r;
  r.move_to(run_status::started, 10);
  r.move_to(run_status::querying, 20);
  r.move_to(run_status::paused, 30);
  BOOST_CHECK(r.status == run_status::paused);
  BOOST_CHECK_EQUAL(r.ended_ms, 0);  // a paused run is not over
  r.move_to(run_status::in_progress, 40);
  r.move_to(run_status::failed, 50);
  BOOST_CHECK(r.status == run_status::failed);
  BOOST_CHECK_EQUAL(r.ended_ms, 50);
  BOOST_REQUIRE_EQUAL(r.history.size(), 5u);
  BOOST_CHECK(r.history[2].status == run_status::paused);
  BOOST_CHECK_EQUAL(r.history[2].at_ms, 30);

  // A run paused and resumed very often keeps its first move and its latest ones.
  run_record busy;
  busy.move_to(run_status::started, 0);
  for (int i = 1; i < 1000; ++i)
    busy.move_to(i % 2 ? run_status::paused : run_status::in_progress, i);
  BOOST_CHECK_EQUAL(busy.history.size(), 256u);
  BOOST_CHECK(busy.history.front().status == run_status::started);
  BOOST_CHECK_EQUAL(busy.history.back().at_ms, 999);
  BOOST_CHECK_EQUAL(busy.history[1].at_ms, 999 - 254);
}

BOOST_FIXTURE_TEST_CASE(begin_numbers_runs_per_datasource, fixture) {
  auto first = begin("a", 100, "schedule");
  BOOST_CHECK_EQUAL(first.number, 1u);
  BOOST_CHECK_EQUAL(first.datasource, "a");
  BOOST_CHECK(first.status == run_status::started);
  BOOST_CHECK_EQUAL(first.trigger, "schedule");
  BOOST_CHECK_EQUAL(first.started_ms, 100);
  BOOST_CHECK_EQUAL(first.ended_ms, 0);
  BOOST_REQUIRE_EQUAL(first.history.size(), 1u);
  BOOST_CHECK_EQUAL(first.history[0].at_ms, 100);
  BOOST_CHECK_EQUAL(begin("a").number, 2u);
  // Names that are prefixes of each other, or hold NUL, have their own numbering.
  BOOST_CHECK_EQUAL(begin("ab").number, 1u);
  BOOST_CHECK_EQUAL(begin(std::string{"a\0", 2}).number, 1u);
  BOOST_CHECK_EQUAL(begin("").number, 1u);
  BOOST_CHECK_EQUAL(begin("a").number, 3u);
  reopen();
  BOOST_CHECK_EQUAL(begin("a").number, 4u);
  BOOST_CHECK((numbers("a") == numbers_t{4, 3, 2, 1}));
  BOOST_CHECK((numbers("ab") == numbers_t{1}));
  BOOST_CHECK((numbers(std::string{"a\0", 2}) == numbers_t{1}));
}

BOOST_FIXTURE_TEST_CASE(records_round_trip_through_save_and_reopen, fixture) {
  auto r = begin("ds", 1000, "startup");
  r.move_to(run_status::querying, 1001);
  r.counters = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  r.counters.bytes_total = UINT64_MAX;
  r.error = std::string{"disk\0full", 9};
  r.move_to(run_status::failed, 1002);
  BOOST_REQUIRE(!log->save(r));
  auto got = get("ds", r.number);
  BOOST_REQUIRE(got);
  BOOST_CHECK(same(*got, r));
  reopen();
  got = get("ds", r.number);
  BOOST_REQUIRE(got);
  BOOST_CHECK(same(*got, r));
  BOOST_CHECK(!get("ds", 99));
  BOOST_CHECK(!get("other", 1));
}

BOOST_FIXTURE_TEST_CASE(a_staged_record_appears_when_its_batch_commits, fixture) {
  auto r = begin("ds");
  r.move_to(run_status::queued, 2000);
  write_batch batch{*db};
  log->stage(batch, r);
  BOOST_CHECK(get("ds", r.number)->status == run_status::started);
  BOOST_REQUIRE(!db->write(batch));
  BOOST_CHECK(get("ds", r.number)->status == run_status::queued);
}

BOOST_FIXTURE_TEST_CASE(list_goes_newest_first_below_a_bound, fixture) {
  for (int i = 0; i < 12; ++i) begin("ds", i);
  begin("ds-other");
  begin("dr");
  BOOST_CHECK((numbers("ds", 3) == numbers_t{12, 11, 10}));
  BOOST_CHECK((numbers("ds", 3, 10) == numbers_t{9, 8, 7}));
  BOOST_CHECK((numbers("ds", 100, 3) == numbers_t{2, 1}));
  BOOST_CHECK(numbers("ds", 100, 1).empty());
  BOOST_CHECK((numbers("ds", 2, 1000) == numbers_t{12, 11}));
  BOOST_CHECK(numbers("ds", 0).empty());
  BOOST_CHECK(numbers("none").empty());
  // Paging with the last number seen walks every run once.
  numbers_t all;
  uint64_t before = 0;
  for (;;) {
    auto page = numbers("ds", 5, before);
    if (page.empty()) break;
    all.insert(all.end(), page.begin(), page.end());
    before = page.back();
  }
  BOOST_CHECK_EQUAL(all.size(), 12u);
  BOOST_CHECK(std::is_sorted(all.rbegin(), all.rend()));
  auto last = log->last("ds");
  BOOST_REQUIRE(last && *last);
  BOOST_CHECK_EQUAL((*last)->number, 12u);
  auto none = log->last("none");
  BOOST_REQUIRE(none);
  BOOST_CHECK(!*none);
}

BOOST_FIXTURE_TEST_CASE(prune_keeps_the_newest_runs_of_one_datasource, fixture) {
  for (int i = 0; i < 10; ++i) begin("ds");
  for (int i = 0; i < 3; ++i) begin("ds2");
  for (int i = 0; i < 3; ++i) begin(std::string{"ds\0", 3});
  BOOST_REQUIRE(!log->prune("ds", 4));
  BOOST_CHECK((numbers("ds") == numbers_t{10, 9, 8, 7}));
  BOOST_CHECK(!get("ds", 6));
  BOOST_REQUIRE(!log->prune("ds", 4));  // nothing more to do
  BOOST_REQUIRE(!log->prune("ds", 100));
  BOOST_CHECK_EQUAL(numbers("ds").size(), 4u);
  BOOST_CHECK_EQUAL(begin("ds").number, 11u);
  BOOST_REQUIRE(!log->prune("ds", 0));
  BOOST_CHECK(numbers("ds").empty());
  BOOST_CHECK((numbers("ds2") == numbers_t{3, 2, 1}));
  BOOST_CHECK((numbers(std::string{"ds\0", 3}) == numbers_t{3, 2, 1}));
  BOOST_REQUIRE(!log->prune("never", 1));
}

BOOST_FIXTURE_TEST_CASE(damaged_records_are_reported_as_corruption, fixture) {
  begin("ds");
  begin("ds");
  auto good = get("ds", 2);
  BOOST_REQUIRE(good);
  put_raw("ds", 2, "\x01\x02garbage");
  for (auto bad : {std::string{}, std::string{"\x02"}, std::string{"\x01\x09"},
                   std::string{"\x01\x00\xff\x03", 4}}) {
    put_raw("ds", 3, bad);
    auto r = log->get("ds", 3);
    BOOST_REQUIRE(!r);
    BOOST_CHECK(is(r.error(), storage_errc::corruption));
  }
  auto r = log->get("ds", 2);
  BOOST_REQUIRE(!r);
  BOOST_CHECK(is(r.error(), storage_errc::corruption));
  BOOST_CHECK(render(r.error()).find("ds") != std::string::npos);
  auto listed = log->list("ds", 10);
  BOOST_REQUIRE(!listed);
  BOOST_CHECK(is(listed.error(), storage_errc::corruption));
  auto last = log->last("ds");
  BOOST_REQUIRE(!last);
  BOOST_CHECK(is(last.error(), storage_errc::corruption));
  auto next = log->begin("ds", 0, "x");
  BOOST_REQUIRE(!next);
  BOOST_CHECK(is(next.error(), storage_errc::corruption));
  // The run below the damage still reads.
  BOOST_CHECK_EQUAL(get("ds", 1)->number, 1u);

  // A key of the wrong shape in the datasource's range is damage too.
  std::string key;
  codec::append_string(key, "ks");
  key += "\x01\x02";
  write_batch b{*db};
  b.put(column::runs, key, "x");
  BOOST_REQUIRE(!db->write(b));
  auto shape = log->list("ks", 10);
  BOOST_REQUIRE(!shape);
  BOOST_CHECK(is(shape.error(), storage_errc::corruption));
}

BOOST_FIXTURE_TEST_CASE(concurrent_begins_get_distinct_consecutive_numbers, fixture) {
  std::mutex mtx;
  std::vector<uint64_t> got;
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = log->begin("ds", i, "t");
        std::lock_guard<std::mutex> guard{mtx};
        got.push_back(r ? r->number : 0);
      }
    });
  }
  for (auto& th : pool) th.join();
  std::sort(got.begin(), got.end());
  numbers_t expected(200);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  BOOST_CHECK((got == expected));
}
