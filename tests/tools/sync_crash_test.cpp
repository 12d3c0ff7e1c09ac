// The node is SIGKILLed at random moments while it syncs thousands of files, many times; after
// the last restart the target must equal the source (content, mtime, mode), no temporary file
// may be left, and the database must owe nothing: every row done, the queue empty.
#define BOOST_TEST_MODULE tools_sync_crash
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "actors/sync_model.hpp"
#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/actors/tree_compare.hpp"
#include "tests/support/child_process.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline;
using namespace std::chrono_literals;

namespace {

std::string binary() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr, "SYNCLINE_BUILD_DIR is not set");
  return std::string{dir} + "/tools/syncline";
}

void write_random(const std::filesystem::path& p, size_t size, std::mt19937_64& rng,
                  int64_t mtime_s) {
  std::filesystem::create_directories(p.parent_path());
  std::string bytes(size, '\0');
  for (auto& c : bytes) c = static_cast<char>(rng());
  std::ofstream{p, std::ios::binary | std::ios::trunc} << bytes;
  struct timespec t[2] = {{mtime_s, 0}, {mtime_s, 0}};
  ::utimensat(AT_FDCWD, p.c_str(), t, 0);
}

// Changes the source between two runs of the node: a few files rewritten, added, deleted.
void mutate(const std::filesystem::path& src, std::mt19937_64& rng, int round) {
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::recursive_directory_iterator{src})
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (int i = 0; i < 20 && !files.empty(); ++i) {
    auto& f = files[rng() % files.size()];
    if (!std::filesystem::exists(f)) continue;
    if (i % 3 == 0)
      std::filesystem::remove(f);
    else
      write_random(f, 1 + rng() % 8192, rng, 1700000000 + round * 100 + i);
  }
  for (int i = 0; i < 10; ++i)
    write_random(src / ("new" + std::to_string(round)) / ("n" + std::to_string(i)), 1 + rng() % 8192,
                 rng, 1700000000 + round);
}

// The random source of a test's tree and kill moments; SYNCLINE_TEST_SEED replays one.
std::mt19937_64 seeded_rng() {
  auto seed = std::getenv("SYNCLINE_TEST_SEED") ? std::strtoull(std::getenv("SYNCLINE_TEST_SEED"), nullptr, 10)
                                                : std::random_device{}();
  BOOST_TEST_MESSAGE("seed " << seed << " (set SYNCLINE_TEST_SEED to replay)");
  return std::mt19937_64{seed};
}

// Writes the configuration of a node copying `src` (datasource `tree`) into `dst` (volume
// `backup`) with these [runtime] settings; returns the node's command line.
std::vector<std::string> node_args(const std::filesystem::path& root,
                                   const std::filesystem::path& src,
                                   const std::filesystem::path& dst, const std::string& runtime) {
  std::ofstream cfg{root / "node.toml"};
  cfg << "[node]\ndata_dir = \"" << (root / "data").string() << "\"\n"
      << "[http]\nlisten = \"127.0.0.1:0\"\n"
      << "[runtime]\n" << runtime
      << "[[volume]]\nid = \"backup\"\npath = \"" << dst.string() << "\"\n"
      << "[[datasource]]\nid = \"tree\"\npath = \"" << src.string() << "\"\n"
      << "volumes = [\"backup\"]\nsync_type = \"auto\"\nschedule_min_s = 1\nschedule_max_s = 2\n";
  return {"node", "--config", (root / "node.toml").string()};
}

// The last start runs to the end: a run's success, then a clean stop.
void run_to_success(const std::vector<std::string>& args) {
  test::child_process node{binary(), args};
  BOOST_REQUIRE_MESSAGE(node.wait_for_line("node ready", 60s), node.output());
  auto done = node.wait_for_line(" success (", 5min);
  BOOST_REQUIRE_MESSAGE(done, node.output());
  node.send_signal(SIGTERM);
  auto st = node.wait_exit(60s);
  BOOST_REQUIRE(st);
  BOOST_CHECK_EQUAL(st->code, 0);
}

// The copy at `dst` equals `src` and holds no temporary file; returns the source's snapshot.
std::map<std::string, test::tree_entry> check_copy(const std::filesystem::path& src, const std::filesystem::path& dst) {
  size_t temporaries = 0;
  auto got = test::snapshot(dst / "tree", &temporaries);
  auto want = test::snapshot(src);
  auto diff = test::difference(want, got);
  BOOST_CHECK_MESSAGE(diff.empty(), diff);
  std::string left;
  for (auto& e : std::filesystem::recursive_directory_iterator{dst})
    if (e.path().filename().string().find(".syncline-part") != std::string::npos)
      left += " " + e.path().string();
  BOOST_CHECK_MESSAGE(temporaries == 0u, temporaries << " temporary file(s) left:" << left);
  return want;
}

// The database owes nothing: no queue item, every row done; `each` sees every row.
void check_nothing_owed(const std::filesystem::path& data,
                        const std::function<void(const storage::datastore_row&)>& each) {
  auto db = storage::database::open({data});
  if (!db) BOOST_FAIL(storage::render(db.error()));
  auto queue = storage::transfer_queue::open(**db);
  BOOST_REQUIRE(queue);
  BOOST_CHECK_EQUAL((*queue)->size(actors::queue_name("backup", "tree")), 0u);
  storage::datastore rows{**db};
  auto cur = rows.scan(actors::datastore_scope("tree", "backup"));
  for (; cur.valid(); cur.next()) {
    auto& r = cur.row();
    BOOST_CHECK_MESSAGE(r.action == storage::pending_action::none, r.reference);
    BOOST_CHECK_MESSAGE(r.queue_seq == 0, r.reference);
    each(r);
  }
  BOOST_CHECK(!cur.status());
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigkill_at_random_moments_loses_nothing) {
  auto rng = seeded_rng();
  test::temp_dir root{"crash-sync"};
  auto src = root / "src";
  auto dst = root / "dst";
  std::filesystem::create_directories(dst);
  // 3,000 small files in 30 directories, and a few that take many chunks.
  for (int d = 0; d < 30; ++d)
    for (int f = 0; f < 100; ++f)
      write_random(src / ("d" + std::to_string(d)) / ("f" + std::to_string(f)), 1 + rng() % 8192,
                   rng, 1600000000 + d * 100 + f);
  for (int b = 0; b < 4; ++b)
    write_random(src / "big" / ("b" + std::to_string(b)), (3u << 20) + rng() % 100000, rng,
                 1600000000 + b);
  auto args = node_args(root.path(), src, dst,
                        "chunk_kb = 256\ncheckpoint_mb = 1\ngroup_delay_ms = 20\nprogress_interval_s = 1\n");
  const int kills = std::getenv("SYNCLINE_CRASH_KILLS") ? std::atoi(std::getenv("SYNCLINE_CRASH_KILLS")) : 12;
  // Long enough for every kill asked for: a start, a random wait and an exit take a few
  // seconds under the sanitizers.
  auto deadline = std::chrono::steady_clock::now() + std::max<std::chrono::seconds>(8min, kills * 30s);
  for (int round = 0; round < kills && std::chrono::steady_clock::now() < deadline; ++round) {
    test::child_process node{binary(), args};
    BOOST_REQUIRE_MESSAGE(node.wait_for_line("node ready", 60s), node.output());
    // A random moment: anywhere from the very start to well into the copy.
    std::this_thread::sleep_for(std::chrono::milliseconds{rng() % 1500});
    node.send_signal(SIGKILL);
    auto st = node.wait_exit(30s);
    BOOST_REQUIRE(st);
    BOOST_CHECK_EQUAL(st->signal, SIGKILL);
    if (round % 3 == 2) mutate(src, rng, round);
  }
  run_to_success(args);
  auto want = check_copy(src, dst);
  // Every row describes the source.
  size_t files = 0;
  check_nothing_owed(root / "data", [&](const storage::datastore_row& r) {
    if (r.flags != 0) return;
    ++files;
    auto it = want.find(r.reference);
    BOOST_REQUIRE_MESSAGE(it != want.end(), "row for a file not in the source: " << r.reference);
    BOOST_CHECK_EQUAL(r.size, it->second.content.size());
    BOOST_CHECK_EQUAL(r.mtime_ns, it->second.mtime_ns);
  });
  size_t source_files = 0;
  for (auto& [path, e] : want) source_files += e.kind == 'f' ? 1 : 0;
  BOOST_CHECK_EQUAL(files, source_files);
}

namespace {

// Files under their final names beneath `dir` (temporary files not counted).
size_t committed_files(const std::filesystem::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator{dir, ec};
       !ec && it != std::filesystem::recursive_directory_iterator{}; it.increment(ec)) {
    if (it->is_regular_file(ec) &&
        it->path().filename().string().find(".syncline-part") == std::string::npos)
      ++n;
  }
  return n;
}

}  // namespace

// Small files travel in batches (one transfer actor and one I/O job for up to 64 files, one
// report for all): the node is SIGKILLed each time while a batch's files are being committed
// (some files of the tree have arrived, others not). Nothing may be lost or half-written: after
// the last start the target equals the source, no temporary file is left, and the database owes
// nothing.
BOOST_AUTO_TEST_CASE(sigkill_in_the_middle_of_batched_small_files_loses_nothing) {
  auto rng = seeded_rng();
  test::temp_dir root{"crash-batch"};
  auto src = root / "src";
  auto dst = root / "dst";
  std::filesystem::create_directories(dst);
  // 4,000 small files (all below one chunk: every one goes in a batch) in 40 directories.
  const size_t total = 4000;
  for (size_t d = 0; d < 40; ++d)
    for (size_t f = 0; f < total / 40; ++f)
      write_random(src / ("d" + std::to_string(d)) / ("f" + std::to_string(f)), 1 + rng() % 8192,
                   rng, static_cast<int64_t>(1600000000 + d * 100 + f));
  auto args = node_args(root.path(), src, dst, "chunk_kb = 256\ngroup_delay_ms = 20\nprogress_interval_s = 1\n");
  size_t in_middle = 0;
  for (int round = 0; round < 6; ++round) {
    auto before = committed_files(dst);
    if (before >= total) break;
    test::child_process node{binary(), args};
    BOOST_REQUIRE_MESSAGE(node.wait_for_line("node ready", 60s), node.output());
    // Killed once more files have arrived than before this start: a batch is at work.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    auto wanted = before + 1 + rng() % 50;
    size_t now = before;
    while (std::chrono::steady_clock::now() < deadline) {
      now = committed_files(dst);
      if (now >= wanted) break;
      std::this_thread::sleep_for(2ms);  // a poll, bounded by the deadline
    }
    node.send_signal(SIGKILL);
    auto st = node.wait_exit(30s);
    BOOST_REQUIRE(st);
    BOOST_CHECK_EQUAL(st->signal, SIGKILL);
    if (now > before && now < total) ++in_middle;
  }
  BOOST_TEST_MESSAGE(in_middle << " kills in the middle of the copy");
  BOOST_CHECK_GT(in_middle, 0u);
  run_to_success(args);
  check_copy(src, dst);
  BOOST_CHECK_EQUAL(committed_files(dst), total);
  size_t files = 0;
  check_nothing_owed(root / "data", [&](const storage::datastore_row& r) { files += r.flags == 0 ? 1 : 0; });
  BOOST_CHECK_EQUAL(files, total);
}
