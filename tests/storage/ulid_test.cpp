#define BOOST_TEST_MODULE storage_ulid
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/ulid.hpp"

using namespace syncline::storage;

namespace {

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The 48-bit time of a ULID: its first ten base32 digits hold 50 bits, the top two zero.
int64_t time_of(const std::string& id) {
  uint64_t t = 0;
  for (size_t i = 0; i < 10; ++i) t = (t << 5) | crockford.find(id[i]);
  return static_cast<int64_t>(t);
}

void check_format(const std::string& id) {
  BOOST_REQUIRE_EQUAL(id.size(), 26u);
  for (char c : id) BOOST_REQUIRE_MESSAGE(crockford.find(c) != std::string_view::npos, id);
  // 128 bits in 26 digits: the first digit carries only the top three bits.
  BOOST_CHECK_MESSAGE(id[0] <= '7', id);
}

// Times used by this suite lie far beyond the clock so that each test controls the time part:
// ids are monotonic per process, so a time at or below an earlier one is replaced by it.
int64_t future_base() {
  static const int64_t base = epoch_ms() + 10LL * 365 * 24 * 3600 * 1000;
  return base;
}

}  // namespace

BOOST_AUTO_TEST_CASE(epoch_ms_reads_the_system_clock) {
  using namespace std::chrono;
  auto before = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  auto now = epoch_ms();
  auto after = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  BOOST_CHECK_LE(before, now);
  BOOST_CHECK_LE(now, after);
}

BOOST_AUTO_TEST_CASE(ids_carry_their_time_and_sort_by_it) {
  std::vector<std::string> ids;
  for (int64_t step : {0, 1, 2, 1000, 123456789}) {
    auto t = future_base() + step;
    auto id = make_ulid(t);
    check_format(id);
    BOOST_CHECK_EQUAL(time_of(id), t);
    ids.push_back(id);
  }
  for (size_t i = 1; i < ids.size(); ++i) BOOST_CHECK_LT(ids[i - 1], ids[i]);
  // Different milliseconds draw fresh random bits (80 of them: equal parts would be a bug).
  BOOST_CHECK_NE(ids[0].substr(10), ids[1].substr(10));
}

BOOST_AUTO_TEST_CASE(ids_of_one_millisecond_strictly_increase) {
  auto t = future_base() + 200000000;
  std::string prev = make_ulid(t);
  for (int i = 0; i < 20000; ++i) {
    auto id = make_ulid(t);
    check_format(id);
    BOOST_REQUIRE_LT(prev, id);
    BOOST_REQUIRE_EQUAL(time_of(id), t);
    prev = id;
  }
}

BOOST_AUTO_TEST_CASE(a_clock_going_backwards_keeps_ids_increasing) {
  auto t = future_base() + 300000000;
  auto late = make_ulid(t);
  auto early = make_ulid(t - 5000);
  BOOST_CHECK_LT(late, early);
  BOOST_CHECK_EQUAL(time_of(early), t);
}

BOOST_AUTO_TEST_CASE(concurrent_callers_get_unique_increasing_ids) {
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  std::vector<std::vector<std::string>> got(threads);
  std::vector<std::thread> pool;
  auto t = future_base() + 400000000;
  for (int k = 0; k < threads; ++k) {
    pool.emplace_back([&, k] {
      for (int i = 0; i < per_thread; ++i) got[k].push_back(make_ulid(t + i / 100));
    });
  }
  for (auto& th : pool) th.join();
  std::set<std::string> all;
  for (auto& list : got) {
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) BOOST_CHECK_LT(list[i - 1], list[i]);
      all.insert(list[i]);
    }
  }
  BOOST_CHECK_EQUAL(all.size(), static_cast<size_t>(threads * per_thread));
}
