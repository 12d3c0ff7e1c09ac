#define BOOST_TEST_MODULE storage_crash
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "storage/run_log.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/storage/child_process.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

// Kills crash_writer (see its header for what one batch writes) with SIGKILL at random moments,
// many times over the same data directory, and after each kill reopens the database and checks:
// every batch the writer acknowledged is there; no write is half there (the elements of a batch
// are all present or all absent, and so are its datastore row, queue item and run record); the
// queue, the datastore and the elements agree with each other.

using namespace syncline::storage;
using syncline::test::why;

namespace {

constexpr uint64_t elements_per_batch = 8;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// "b<k>" or "b<k>-<i>": the numbers, or false when `s` has another shape.
bool parse_ref(std::string_view s, uint64_t& k) {
  if (s.size() < 2 || s[0] != 'b') return false;
  k = 0;
  for (char c : s.substr(1)) {
    if (c < '0' || c > '9') return false;
    k = k * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

bool parse_element_id(std::string_view id, uint64_t& k, uint64_t& i) {
  auto dash = id.find('-');
  if (dash == std::string_view::npos) return false;
  return parse_ref(id.substr(0, dash), k) && parse_ref("b" + std::string{id.substr(dash + 1)}, i);
}

// What the database holds: element batches 0..elements-1, row batches (datastore row, queue
// item, run record) 0..rows-1.
struct crash_state {
  uint64_t elements = 0;
  uint64_t rows = 0;
};

// Reopens the database in `dir` and checks every invariant; `acked` is the number of batches
// acknowledged so far (all of them must be present).
crash_state verify(const std::filesystem::path& dir, uint64_t acked) {
  auto db = syncline::test::open_db(dir);
  crash_state st;

  // Elements: whole batches, numbered without gaps, with the content the writer gave them.
  std::map<uint64_t, std::set<uint64_t>> batches;
  element_store elements{*db};
  auto err = elements.scan("b", [&](std::string_view id, std::string_view json) {
    uint64_t k = 0;
    uint64_t i = 0;
    BOOST_REQUIRE_MESSAGE(parse_element_id(id, k, i), "unexpected element " << id);
    auto body = R"("batch":)" + std::to_string(k) + R"(,"i":)" + std::to_string(i) + ",";
    BOOST_CHECK_MESSAGE(json.find(body) != std::string_view::npos, id << ": " << json);
    batches[k].insert(i);
    return true;
  });
  BOOST_REQUIRE_MESSAGE(!err, why(err));
  for (auto& [k, ids] : batches) {
    BOOST_CHECK_MESSAGE(ids.size() == elements_per_batch,
                        "batch " << k << " has " << ids.size() << " of its elements");
    BOOST_CHECK_MESSAGE(k == st.elements, "element batch " << k << " follows a gap");
    st.elements = k + 1;
  }

  // Run records 1..rows, each the one batch rows-1 wrote.
  run_log runs{*db};
  auto records = runs.list("crash", 1u << 30);
  BOOST_REQUIRE_MESSAGE(records, why(records));
  st.rows = records->size();
  for (size_t j = 0; j < records->size(); ++j) {
    auto& r = records->at(j);
    uint64_t k = st.rows - 1 - j;
    BOOST_CHECK_EQUAL(r.number, k + 1);
    BOOST_CHECK_EQUAL(r.trigger, "b" + std::to_string(k));
    BOOST_CHECK_EQUAL(r.counters.listed, k);
    BOOST_CHECK(r.status == run_status::success);
    BOOST_CHECK_EQUAL(r.history.size(), 2u);
  }

  // Datastore rows b0..b<rows-1>, each pending exactly when its queue item is still there.
  datastore rows{*db};
  std::map<uint64_t, pending_action> actions;
  auto cur = rows.scan("crash");
  for (; cur.valid(); cur.next()) {
    uint64_t k = 0;
    BOOST_REQUIRE_MESSAGE(parse_ref(cur.row().reference, k), "row " << cur.row().reference);
    BOOST_CHECK_EQUAL(cur.row().size, k);
    BOOST_CHECK_EQUAL(cur.row().mtime_ns, static_cast<int64_t>(k));
    BOOST_CHECK(cur.row().action == pending_action::add ||
                cur.row().action == pending_action::none);
    actions[k] = cur.row().action;
  }
  BOOST_REQUIRE_MESSAGE(!cur.status(), why(cur.status()));
  BOOST_CHECK_EQUAL(actions.size(), st.rows);
  if (!actions.empty()) BOOST_CHECK_EQUAL(actions.rbegin()->first + 1, st.rows);

  auto queue = transfer_queue::open(*db);
  BOOST_REQUIRE_MESSAGE(queue, why(queue));
  auto items = (*queue)->peek("v", 1u << 30);
  BOOST_REQUIRE_MESSAGE(items, why(items));
  BOOST_CHECK_EQUAL((*queue)->size("v"), items->size());
  BOOST_CHECK_EQUAL((*queue)->leased("v"), 0u);
  std::set<uint64_t> queued;
  std::map<int32_t, std::pair<uint64_t, uint64_t>> last_in_priority;  // priority -> (seq, k)
  int32_t previous_priority = INT32_MAX;
  for (auto& item : *items) {
    uint64_t k = 0;
    BOOST_REQUIRE_MESSAGE(parse_ref(item.payload, k), "queue item " << item.payload);
    BOOST_CHECK_MESSAGE(queued.insert(k).second, "b" << k << " is queued twice");
    BOOST_CHECK_EQUAL(item.ticket.priority, static_cast<int32_t>(k % 3));
    // Descending priority, and within one priority push order: sequence and batch rise together,
    // across every restart of the writer.
    BOOST_CHECK_LE(item.ticket.priority, previous_priority);
    previous_priority = item.ticket.priority;
    auto last = last_in_priority.find(item.ticket.priority);
    if (last != last_in_priority.end()) {
      BOOST_CHECK_GT(item.ticket.seq, last->second.first);
      BOOST_CHECK_GT(k, last->second.second);
    }
    last_in_priority[item.ticket.priority] = {item.ticket.seq, k};
    auto a = actions.find(k);
    BOOST_CHECK_MESSAGE(a != actions.end() && a->second == pending_action::add,
                        "queued b" << k << " has no pending row");
  }
  for (auto& [k, action] : actions)
    if (action == pending_action::add)
      BOOST_CHECK_MESSAGE(queued.count(k) == 1, "pending b" << k << " is not queued");

  // The two writes of a batch happen in order: elements first, then the rest.
  BOOST_CHECK_MESSAGE(st.elements == st.rows || st.elements == st.rows + 1,
                      "element batches " << st.elements << ", row batches " << st.rows);
  BOOST_CHECK_MESSAGE(st.rows >= acked, "acknowledged " << acked << " batches, found " << st.rows);
  return st;
}

}  // namespace

BOOST_AUTO_TEST_CASE(acknowledged_batches_survive_sigkill_and_none_is_half_written) {
  auto writer = syncline::test::helper_path("tests/storage/crash_writer");
  auto iterations = env_or("SYNCLINE_CRASH_ITERATIONS", 40);
  auto budget = std::chrono::seconds{env_or("SYNCLINE_CRASH_SECONDS", 120)};
  auto seed = env_or("SYNCLINE_CRASH_SEED", std::random_device{}());
  BOOST_TEST_MESSAGE("crash test seed " << seed << " (set SYNCLINE_CRASH_SEED to replay)");
  std::mt19937_64 rng{seed};
  syncline::test::temp_dir dir{"crash"};
  auto start = std::chrono::steady_clock::now();

  crash_state st;
  uint64_t acked = 0;
  uint64_t partial = 0;
  uint64_t before_open = 0;
  uint64_t done = 0;
  for (; done < iterations; ++done) {
    // Bounded in time as well as in count, but never fewer than a few kills.
    if (done >= 5 && std::chrono::steady_clock::now() - start > budget) break;
    uint64_t first = st.rows;
    syncline::test::child_process child{
        {writer, dir.path().string(), std::to_string(first), "1000000",
         std::to_string(elements_per_batch)}};
    auto wanted_acks = rng() % 10;
    uint64_t next = first;
    bool opened = false;
    auto take = [&](const std::string& line) {
      if (line == "open") {
        BOOST_REQUIRE(!opened);
        opened = true;
        return;
      }
      BOOST_REQUIRE_MESSAGE(line == "ack " + std::to_string(next), "unexpected line: " << line);
      ++next;
    };
    while (next - first < wanted_acks) {
      auto line = child.read_line();
      // (Boost.Test builds a message even when the check passes: wait() only on failure.)
      if (!line)
        BOOST_FAIL("crash_writer ended by itself: "
                   << syncline::test::describe_status(child.wait()));
      take(*line);
    }
    // The kill lands a random moment later: inside a write, between the two writes of a batch,
    // inside open, ... (this pause places the kill; nothing waits for anything to settle).
    std::this_thread::sleep_for(std::chrono::microseconds{rng() % 3000});
    auto status = child.kill();
    // What the writer printed before it died was acknowledged too.
    while (auto line = child.read_line()) take(*line);
    BOOST_REQUIRE_MESSAGE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                          "crash_writer ended by itself: "
                              << syncline::test::describe_status(status));
    acked = std::max(acked, next);
    if (!opened) ++before_open;

    auto now = verify(dir.path(), acked);
    BOOST_REQUIRE_MESSAGE(now.rows >= st.rows && now.elements >= st.elements,
                          "batches disappeared: rows " << st.rows << " -> " << now.rows);
    if (now.elements == now.rows + 1) ++partial;
    st = now;
  }
  BOOST_TEST_MESSAGE("crash test: " << done << " kills, " << acked << " batches acknowledged, "
                                    << st.rows << " written, " << partial
                                    << " kills between the two writes of a batch, "
                                    << before_open << " before the database was open");
  // The test proved something only if the writer got some work done between kills.
  BOOST_CHECK_GT(acked, 0u);
  BOOST_CHECK_GE(done, 5u);
}
