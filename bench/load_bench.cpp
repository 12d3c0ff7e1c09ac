// bench/load_bench.cpp: many synthetic datasources through the real actors into RocksDB, beside
// raw RocksDB and raw CAF doing the building blocks of the same work, in one run.
//
// The node's runtime in-process, as `syncline node` builds it: one RocksDB database, the
// transfer queue, the node context with its default [runtime] settings, a CAF `sharing`
// scheduler with 2 threads, the directory and the supervisor. The supervisor starts one `null`
// volume (it keeps nothing, so the figures measure syncline and not a disk; --slots transfers at
// once, 64 by default, as one would set syncAmountReception for a fast target) and K synthetic
// datasources of N files each (1-8 KiB, N/100 directories, `auto`, next run in 20-30 min).
//
//   initial sync     from the supervisor's spawn until every datasource's run 1 succeeded:
//                    K x N files listed, merged with the datastore, queued, copied, marked done.
//                    items/s beside raw RocksDB writing K x N rows (60-byte keys, 40-byte
//                    values, batches of 1000) in the same run.        goal: >= 150,000 items/s
//   change run       `sync now` to every datasource at once; each file changed with probability
//                    --change-rate since run 1. Change-to-synced latency of each changed file:
//                    from the `sync now` (when the change becomes visible to syncline) until the
//                    volume committed its copy, read from the volume's commit count sampled
//                    every millisecond; p50, p99. (The row is marked done in the volume's next
//                    durable group, at most [runtime] group_delay_ms later.)
//   status           while both runs go on, a probe asks a random datasource, the volume or the
//                    supervisor for its status with high priority, one request at a time, and
//                    times the answer; the same probe runs on the idle node afterwards.
//                    goal: every request answered (5 s bound each)
//   idle memory      heap in use (mallinfo2) and RSS before and after the K idle datasource
//                    actors stop (their supervisor stopped), per actor, beside K trivial
//                    event-based CAF actors spawned and stopped in the same process.
//                                                                     goal: <= 8 KiB per actor
//
// Timing is informational; the program fails when a count is wrong: a file copied other than
// once per version, a run that did not succeed, a status request unanswered.
//
// Usage: load_bench [--datasources K] [--items N] [--change-rate R] [--tiny] [--dir DIR]
//   defaults: K = 1,000, N = 10,000, R = 0.01; --tiny: K = 20, N = 500 (CI)
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "actors/directory_actor.hpp"
#include "bench/bench_support.hpp"
#include "actors/error.hpp"
#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "actors/records.hpp"
#include "actors/supervisor_actor.hpp"
#include "connectors/null_volume.hpp"
#include "storage/database.hpp"
#include "storage/transfer_queue.hpp"

namespace {

namespace fs = std::filesystem;
using namespace syncline;
using namespace syncline::bench;  // bench_clock, seconds_since, thousands
using namespace std::chrono_literals;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "load_bench: FAILED: %s\n", what.c_str());
  std::exit(1);
}

// Heap bytes in use (small blocks and mmapped ones) after giving free memory back.
uint64_t heap_in_use() {
  ::malloc_trim(0);
  auto mi = ::mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

uint64_t rss_bytes() {
  std::ifstream in{"/proc/self/statm"};
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct options {
  uint64_t datasources = 1000;
  uint64_t items = 10000;
  double change_rate = 0.01;
  uint32_t slots = 64;
  fs::path base;
};

// --- anchors -------------------------------------------------------------------------------------

// Raw RocksDB: `rows` puts of 60-byte keys and 40-byte values in batches of 1000, WAL on, in a
// database of its own. Returns puts/s.
double raw_rocksdb_puts(const fs::path& dir, uint64_t rows) {
  rocksdb::Options o;
  o.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  auto st = rocksdb::DB::Open(o, dir.string(), &raw);
  if (!st.ok()) fail("raw RocksDB: " + st.ToString());
  std::unique_ptr<rocksdb::DB> db{raw};
  std::string value(40, 'v');
  char key[64];
  auto start = bench_clock::now();
  rocksdb::WriteBatch wb;
  for (uint64_t i = 0; i < rows; ++i) {
    std::snprintf(key, sizeof key, "ds%06" PRIu64 "\x1f/d%04" PRIu64 "/f%08" PRIu64 ".bin-padding-to-60-bytes",
                  i / 10000, (i % 10000) / 100, i % 10000);
    wb.Put(rocksdb::Slice{key, 60}, value);
    if (wb.Count() == 1000 || i + 1 == rows) {
      st = db->Write(rocksdb::WriteOptions{}, &wb);
      if (!st.ok()) fail("raw RocksDB: " + st.ToString());
      wb.Clear();
    }
  }
  return static_cast<double>(rows) / seconds_since(start);
}

// Raw CAF: heap per idle event-based actor that waits for a message, as K of them.
double raw_caf_actor_bytes(caf::actor_system& sys, uint64_t k) {
  std::vector<caf::actor> actors;
  actors.reserve(k);
  auto before = heap_in_use();
  for (uint64_t i = 0; i < k; ++i)
    actors.push_back(sys.spawn(
        [](caf::event_based_actor*, uint64_t) -> caf::behavior {
          return {[](uint64_t x) { return x; }};
        },
        i));
  auto after = heap_in_use();
  caf::scoped_actor self{sys};
  for (auto& a : actors) {
    self->monitor(a);
    self->send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (uint64_t i = 0; i < k; ++i)
    self->receive([](const caf::down_msg&) {}, caf::after(30s) >> [] { fail("raw actors did not stop"); });
  return static_cast<double>(after - before) / static_cast<double>(k);
}

// --- the node ------------------------------------------------------------------------------------

struct node_config : caf::actor_system_config {
  node_config() {
    set("scheduler.policy", caf::atom("sharing"));
    set("scheduler.max-threads", size_t{2});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
    actors::register_types(*this);
  }
};

// Samples the null volume's commit count every millisecond while armed.
class commit_sampler {
 public:
  explicit commit_sampler(const connectors::null_volume& v) : volume_(v) {
    thread_ = std::thread{[this] { loop(); }};
  }
  ~commit_sampler() {
    stop_ = true;
    thread_.join();
  }
  // Starts a new series at `from`; returns the count then.
  uint64_t arm(bench_clock::time_point from) {
    std::lock_guard<std::mutex> lock{mtx_};
    samples_.clear();
    from_ = from;
    base_ = volume_.committed();
    armed_ = true;
    return base_;
  }
  // Seconds from `arm` until `q` of `total` commits had happened, for each q.
  std::vector<double> quantiles(uint64_t total, const std::vector<double>& qs) {
    std::lock_guard<std::mutex> lock{mtx_};
    armed_ = false;
    std::vector<double> out;
    for (double q : qs) {
      auto need = static_cast<uint64_t>(q * static_cast<double>(total) + 0.999999);
      double at = -1;
      for (auto& [t, n] : samples_)
        if (n - base_ >= need) {
          at = t;
          break;
        }
      out.push_back(at);
    }
    return out;
  }

 private:
  void loop() {
    while (!stop_) {
      {
        std::lock_guard<std::mutex> lock{mtx_};
        if (armed_) {
          auto n = volume_.committed();
          if (samples_.empty() || samples_.back().second != n)
            samples_.emplace_back(std::chrono::duration<double>(bench_clock::now() - from_).count(), n);
        }
      }
      std::this_thread::sleep_for(1ms);
    }
  }

  const connectors::null_volume& volume_;
  std::mutex mtx_;
  std::vector<std::pair<double, uint64_t>> samples_;
  bench_clock::time_point from_;
  uint64_t base_ = 0;
  bool armed_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Asks random actors for their status with high priority, one at a time, until stopped.
class status_probe {
 public:
  status_probe(caf::actor_system& sys, std::vector<caf::actor> targets)
      : sys_(sys), targets_(std::move(targets)) {}
  void start() {
    stop_ = false;
    thread_ = std::thread{[this] { loop(); }};
  }
  void stop() {
    stop_ = true;
    thread_.join();
  }
  std::vector<double> latencies_ms;
  uint64_t unanswered = 0;

 private:
  void loop() {
    caf::scoped_actor self{sys_};
    std::mt19937_64 rng{7};
    while (!stop_) {
      auto& target = targets_[rng() % targets_.size()];
      auto start = bench_clock::now();
      bool ok = false;
      self->request<caf::message_priority::high>(target, caf::duration{5s}, actors::status_atom::value)
          .receive([&](actors::actor_status&) { ok = true; }, [&](caf::error&) {});
      if (ok)
        latencies_ms.push_back(seconds_since(start) * 1000);
      else
        ++unanswered;
      std::this_thread::sleep_for(10ms);
    }
  }

  caf::actor_system& sys_;
  std::vector<caf::actor> targets_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class node {
 public:
  explicit node(const options& opt) : opt_(opt) {
    auto db = storage::database::open({opt.base / "node"});
    if (!db) fail(actors::render(db.error()));
    db_ = std::move(*db);
    auto q = storage::transfer_queue::open(*db_);
    if (!q) fail(actors::render(q.error()));
    ctx_ = std::make_unique<actors::node_context>(*db_, std::move(*q), actors::runtime_settings{});
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    self_ = std::make_unique<caf::scoped_actor>(*sys_);
    directory_ = actors::spawn_directory(*sys_, 5s);
  }

  ~node() {
    self_.reset();
    if (supervisor_) caf::anon_send_exit(supervisor_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(directory_, caf::exit_reason::user_shutdown);
    sys_->await_all_actors_done();
    ctx_->pool().stop();
    sys_.reset();
    ctx_.reset();
    db_.reset();
  }

  caf::actor_system& system() { return *sys_; }

  void start() {
    actors::supervisor_init init;
    init.ctx = ctx_.get();
    init.directory = directory_;
    actors::volume_record v;
    v.config.id = "null";
    v.config.type = "null";
    v.config.sync_amount_reception = opt_.slots;
    init.volumes.push_back(v);
    for (uint64_t i = 0; i < opt_.datasources; ++i) {
      actors::datasource_record d;
      d.config.id = id(i);
      d.config.type = "synthetic";
      d.config.volumes = {"null"};
      d.config.seed = i + 1;
      d.config.count = opt_.items;
      d.config.directories = std::max<uint64_t>(1, opt_.items / 100);
      d.config.change_rate = opt_.change_rate;
      init.datasources.push_back(std::move(d));
    }
    supervisor_ = actors::spawn_supervisor(*sys_, std::move(init));
  }

  static std::string id(uint64_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "ds%05" PRIu64, i);
    return buf;
  }

  caf::actor find(const std::string& key, std::chrono::milliseconds bound = 60s) {
    auto until = bench_clock::now() + bound;
    while (bench_clock::now() < until) {
      caf::actor out;
      (*self_)
          ->request(directory_, caf::duration{5s}, actors::find_atom::value, key)
          .receive([&](caf::actor& a) { out = a; }, [&](caf::error&) {});
      if (out) return out;
      std::this_thread::sleep_for(10ms);
    }
    fail("no actor " + key + " in the directory");
  }

  std::vector<caf::actor> datasource_actors() {
    std::vector<caf::actor> out;
    for (uint64_t i = 0; i < opt_.datasources; ++i) out.push_back(find("datasource/" + id(i)));
    return out;
  }

  actors::actor_status status(const caf::actor& a) {
    actors::actor_status out;
    (*self_)
        ->request<caf::message_priority::high>(a, caf::duration{30s}, actors::status_atom::value)
        .receive([&](actors::actor_status& s) { out = std::move(s); },
                 [&](caf::error& e) { fail("status: " + actors::render(e)); });
    return out;
  }

  // Waits until every datasource's run `number` is final; fails when one did not succeed.
  // Asking 1,000 datasources for their status is work for the node's two threads: with `ready`
  // (a cheap check that the runs may be over, such as the volume's commit count), a round of
  // questions waits for it, or for a second, rather than 100 ms.
  void wait_runs(const std::vector<caf::actor>& ds, uint64_t number,
                 const std::function<bool()>& ready = {}) {
    std::vector<bool> done(ds.size(), false);
    size_t left = ds.size();
    auto until = bench_clock::now() + 2h;
    while (left > 0) {
      if (bench_clock::now() > until) fail("runs did not finish in 2 hours");
      for (size_t i = 0; i < ds.size(); ++i) {
        if (done[i]) continue;
        auto s = status(ds[i]);
        auto run = s.counters.count("run") ? static_cast<uint64_t>(s.counters.at("run")) : 0;
        if (run < number) continue;
        if (s.current.find(": success") != std::string::npos) {
          done[i] = true;
          --left;
        } else if (s.current.find(": failed") != std::string::npos) {
          fail(s.id + ": " + s.current + " (" + s.last_error + ")");
        }
      }
      if (left == 0) break;
      if (!ready) {
        std::this_thread::sleep_for(100ms);
        continue;
      }
      for (auto round = bench_clock::now(); !ready() && bench_clock::now() - round < 1s;)
        std::this_thread::sleep_for(2ms);
    }
  }

  uint64_t sync_now(const caf::actor& a) {
    uint64_t number = 0;
    (*self_)
        ->request(a, caf::duration{30s}, actors::sync_now_atom::value)
        .receive([&](uint64_t n) { number = n; },
                 [&](caf::error& e) { fail("sync now: " + actors::render(e)); });
    return number;
  }

  connectors::null_volume& volume() {
    auto v = std::dynamic_pointer_cast<connectors::null_volume>(ctx_->volume("null"));
    if (!v) fail("the null volume is not registered");
    return *v;
  }

  // Stops the supervisor and waits until every actor below it (`children`, whose handles it
  // drops) is gone and the directory forgot them.
  void stop_supervisor(std::vector<caf::actor> children) {
    for (auto& c : children) (*self_)->monitor(c);
    auto count = children.size();
    children.clear();
    (*self_)->send_exit(supervisor_, caf::exit_reason::user_shutdown);
    supervisor_ = nullptr;
    for (size_t i = 0; i < count; ++i)
      (*self_)->receive([](const caf::down_msg&) {},
                        caf::after(60s) >> [] { fail("datasource actors did not stop"); });
    auto until = bench_clock::now() + 60s;
    while (true) {
      size_t left = 0;
      (*self_)
          ->request(directory_, caf::duration{5s}, actors::list_atom::value)
          .receive(
              [&](std::vector<actors::directory_entry>& v) {
                left = static_cast<size_t>(std::count_if(v.begin(), v.end(), [](auto& e) {
                  return e.kind == "datasource" || e.kind == "volume";
                }));
              },
                   [&](caf::error& e) { fail("directory: " + actors::render(e)); });
      if (left == 0) break;
      if (bench_clock::now() > until) fail("the directory still lists stopped actors");
      std::this_thread::sleep_for(10ms);
    }
  }

 private:
  const options& opt_;
  node_config cfg_;
  std::unique_ptr<storage::database> db_;
  std::unique_ptr<actors::node_context> ctx_;
  std::unique_ptr<caf::actor_system> sys_;
  std::unique_ptr<caf::scoped_actor> self_;
  actors::directory_actor directory_;
  actors::supervisor_actor supervisor_;
};

void print_status(const char* when, const status_probe& p) {
  std::printf("  status while %-14s %6zu answered, p50 %7.2f ms, p99 %7.2f ms, max %7.2f ms, "
              "%" PRIu64 " unanswered\n",
              when, p.latencies_ms.size(), percentile(p.latencies_ms, 0.5),
              percentile(p.latencies_ms, 0.99), percentile(p.latencies_ms, 1.0), p.unanswered);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"load_bench: synthetic datasources through the real actors into RocksDB"};
  options opt;
  bool tiny = false;
  std::string base;
  app.add_option("--datasources", opt.datasources, "K synthetic datasources")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000}));
  app.add_option("--items", opt.items, "N files per datasource")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}));
  app.add_option("--change-rate", opt.change_rate, "probability that a file changed for run 2")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--slots", opt.slots, "the volume's syncAmountReception (transfers at once)")
      ->check(CLI::Range(1u, 1024u));
  app.add_flag("--tiny", tiny, "K = 20, N = 500, for CI");
  app.add_option("--dir", base, "where the databases go (default $TMPDIR or /tmp)");
  CLI11_PARSE(app, argc, argv);
  if (tiny) {
    opt.datasources = 20;
    opt.items = 500;
  }
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string templ = base + "/load_bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) fail("cannot make a directory in " + base);
  opt.base = templ;
  const uint64_t total = opt.datasources * opt.items;
  std::printf("load_bench: %s synthetic datasources x %s files (1-8 KiB) = %s files -> one null "
              "volume (syncAmountReception %u); CAF sharing, 2 threads; in %s\n",
              thousands(opt.datasources).c_str(), thousands(opt.items).c_str(),
              thousands(total).c_str(), opt.slots, opt.base.c_str());
  std::fflush(stdout);

  double raw_puts = raw_rocksdb_puts(opt.base / "raw", total);
  fs::remove_all(opt.base / "raw");

  double caf_bytes = 0, ds_heap = 0, ds_rss = 0;
  {
    node n{opt};
    caf_bytes = raw_caf_actor_bytes(n.system(), opt.datasources);

    // Initial sync.
    auto start = bench_clock::now();
    n.start();
    auto ds = n.datasource_actors();
    auto probe_targets = ds;
    probe_targets.push_back(n.find("volume/null"));
    probe_targets.push_back(n.find("supervisor"));
    auto loaded = std::make_unique<status_probe>(n.system(), probe_targets);
    loaded->start();
    auto& volume = n.volume();
    n.wait_runs(ds, 1, [&] { return volume.committed() >= total; });
    double t_initial = seconds_since(start);
    if (volume.committed() != total)
      fail("the volume got " + std::to_string(volume.committed()) + " files, not " +
           std::to_string(total));
    double rate = static_cast<double>(total) / t_initial;
    std::printf("initial sync         %10.0f items/s (%s files in %.2f s)   raw RocksDB puts "
                "%10.0f/s   ratio %.2f   goal >= 150,000 items/s: %s\n",
                rate, thousands(total).c_str(), t_initial, raw_puts, rate / raw_puts,
                rate >= 150000 ? "met" : "missed");

    // Change run, all datasources at once.
    commit_sampler sampler{volume};
    auto t0 = bench_clock::now();
    auto before = sampler.arm(t0);
    for (auto& d : ds)
      if (n.sync_now(d) != 2) fail("sync now did not start run 2");
    n.wait_runs(ds, 2);
    double t_change = seconds_since(t0);
    uint64_t changed = volume.committed() - before;
    auto q = sampler.quantiles(changed, {0.5, 0.99, 1.0});
    loaded->stop();
    // A file changes with probability change_rate: expect about that share, never none.
    if (opt.change_rate > 0 && total >= 1000 && changed == 0) fail("run 2 copied nothing");
    std::printf("change run           %s files changed (%.2f%%), all runs done in %.2f s; "
                "change-to-synced p50 %.3f s, p99 %.3f s, last %.3f s\n",
                thousands(changed).c_str(), 100.0 * static_cast<double>(changed) / static_cast<double>(total),
                t_change, q[0], q[1], q[2]);
    print_status("loaded:", *loaded);
    if (loaded->unanswered > 0 || loaded->latencies_ms.empty())
      fail("status requests went unanswered");
    loaded.reset();

    // Idle: the same probe, then the memory of the idle datasource actors.
    {
      status_probe idle{n.system(), probe_targets};
      idle.start();
      std::this_thread::sleep_for(opt.datasources >= 100 ? 2s : 200ms);
      idle.stop();
      print_status("idle:", idle);
      if (idle.unanswered > 0 || idle.latencies_ms.empty()) fail("status requests went unanswered");
    }
    // Handles keep an actor's memory alive after it stopped: only the directory's remain.
    probe_targets.clear();
    auto heap_idle = heap_in_use();
    auto rss_idle = rss_bytes();
    n.stop_supervisor(std::move(ds));
    auto heap_gone = heap_in_use();
    auto rss_gone = rss_bytes();
    auto k = static_cast<double>(opt.datasources);
    ds_heap = (static_cast<double>(heap_idle) - static_cast<double>(heap_gone)) / k;
    ds_rss = (static_cast<double>(rss_idle) - static_cast<double>(rss_gone)) / k;
  }
  std::printf("idle datasource      %10.0f B heap per actor (RSS %.0f B)   raw CAF idle actor "
              "%.0f B   ratio %.1f   goal <= 8 KiB: %s\n",
              ds_heap, ds_rss, caf_bytes, caf_bytes > 0 ? ds_heap / caf_bytes : 0.0,
              ds_heap <= 8192 ? "met" : "missed");
  std::error_code ec;
  fs::remove_all(opt.base, ec);
  return 0;
}
