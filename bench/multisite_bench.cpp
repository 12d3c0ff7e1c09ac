// bench/multisite_bench.cpp: two syncline nodes on loopback propagating a tree from one site to
// the other (seed 003; docs/sites.md), beside rsync pulling the same tree from an rsync daemon
// on loopback, in one run.
//
// Workload: ANCHORS.md's benchmark tree (bench/bench_tree.hpp: 50,000 files of 1-8 KiB and 20 x
// 16 MiB; --tiny: 300 files + 2 x 1 MiB) in site A's volume. A is the tracker and a site
// (`tracker = "self"`); B is a site following it. Timed from A's start (its first scan publishes
// the tree) to B reporting every file received (`received` of its site actor, polled every
// 50 ms), which includes discovery, publishing, the change feed, the pulls over HTTP and the
// bookkeeping. The phase "published at A" is reported beside it.
// Anchor: `rsync -a rsync://127.0.0.1:<port>/proj/ dst/` from `rsync --daemon` serving A's volume
// (the transport ANCHORS.md's rsync figures use), plus `sync` after it.
// Goal: syncline's time <= 1.0 x rsync's (at least rsync's throughput).
// Both copies are compared with the source (names, sizes, bytes); a wrong copy fails the program.
// Timing is informational: it never fails the program.
//
// Usage: multisite_bench [--files N] [--big N] [--big-mib M] [--reception R] [--tiny]
//                        [--dir DIR] [--syncline PATH] [--keep] [--verbose]
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_e2e.hpp"
#include "bench/bench_support.hpp"
#include "bench/bench_tree.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using syncline::bench::bench_clock;
using syncline::bench::compare_trees;
using syncline::bench::fail;
using syncline::bench::free_port;
using syncline::bench::json_value;
using syncline::bench::seconds_since;
using syncline::test::child_process;

const std::string password = "bench-root-pw";

std::string sign_in(uint16_t port, const std::string& user, const std::string& pw) {
  auto r = syncline::test::fetch(port, "POST", "/api/signIn",
                                 "username=" + user + "&password=" + pw,
                                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  if (r.status != 200) fail("sign-in of " + user + ": " + std::to_string(r.status) + " " + r.body);
  return json_value(r.body, "token");
}

struct node {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  node(const std::string& binary, const fs::path& config) {
    ::setenv("SYNCLINE_ADMIN_PASSWORD", password.c_str(), 1);
    proc = std::make_unique<child_process>(binary,
                                           std::vector<std::string>{"node", "--config", config.string()});
    ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
    auto line = proc->wait_for_line("listening on http://", 120s);
    if (!line) fail("a node did not start:\n" + proc->output());
    port = static_cast<uint16_t>(std::stoul(line->substr(line->rfind(':') + 1)));
  }
  void stop() {
    proc->send_signal(SIGTERM);
    if (!proc->wait_exit(120s)) fail("a node did not stop");
  }
  // A counter of the site actor in `/api/actors`.
  uint64_t site_counter(const std::string& token, const std::string& name) {
    auto r = syncline::test::fetch(port, "GET", "/api/actors", {},
                                   {{"Authorization", "Bearer " + token}});
    auto site = r.body.find("\"kind\":\"site\"");
    if (r.status != 200 || site == std::string::npos) return 0;
    auto v = json_value(r.body.substr(site), name);
    return v.empty() ? 0 : std::stoull(v);
  }
};

void write_config(const fs::path& p, const fs::path& dir, const std::string& more) {
  std::ofstream out{p};
  out << "[node]\ndata_dir = \"" << (dir / "data").string() << "\"\n"
      << more << "[http]\nlisten = \"127.0.0.1:0\"\n[auth]\nadmin_user = \"root\"\n";
}

}  // namespace

int main(int argc, char** argv) {
  syncline::bench::program_name() = "multisite_bench";
  CLI::App app{"syncline sites (two nodes on loopback) beside rsync from an rsync daemon"};
  syncline::bench::tree_shape shape;
  uint32_t reception = 4;
  bool tiny = false, keep = false, verbose = false;
  std::string dir_arg, binary = SYNCLINE_NODE_BINARY;
  app.add_option("--files", shape.files, "small files");
  app.add_option("--big", shape.big, "16 MiB files");
  size_t big_mib = 16;
  app.add_option("--big-mib", big_mib, "size of the big files in MiB");
  app.add_option("--reception", reception, "the receiving site's [site] reception");
  app.add_flag("--tiny", tiny, "300 files + 2 x 1 MiB (CI)");
  app.add_option("--dir", dir_arg, "where to work (default: a new directory in $TMPDIR or /tmp)");
  app.add_option("--syncline", binary, "the syncline binary");
  app.add_flag("--keep", keep, "keep the directory");
  app.add_flag("--verbose", verbose, "print the nodes' output at the end");
  CLI11_PARSE(app, argc, argv);
  if (tiny) {
    shape.files = 300;
    shape.big = 2;
    big_mib = 1;
  }
  shape.big_bytes = big_mib << 20;

  fs::path dir;
  if (dir_arg.empty()) {
    const char* t = std::getenv("TMPDIR");
    std::string templ = std::string{t && *t ? t : "/tmp"} + "/multisite-bench-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) fail("mkdtemp");
    dir = templ;
  } else {
    dir = dir_arg;
    fs::create_directories(dir);
  }
  auto a_dir = dir / "A", b_dir = dir / "B";
  fs::create_directories(a_dir / "volume");
  fs::create_directories(b_dir / "volume");
  syncline::bench::make_tree(a_dir / "volume", shape, 42);
  const size_t files = shape.files + shape.big;
  const double mb = static_cast<double>(shape.files * (shape.min_size + shape.max_size) / 2 +
                                        shape.big * shape.big_bytes) / 1e6;
  ::sync();

  // A as the tracker alone first: a user for the sites and its token.
  write_config(a_dir / "tracker.toml", a_dir, "");
  auto token_file = dir / "support.token";
  {
    node a{binary, a_dir / "tracker.toml"};
    auto root = sign_in(a.port, "root", password);
    auto made = syncline::test::fetch(a.port, "POST", "/api/create/",
                                      R"({"_id":"@support","class":"editor","password":"support-pw"})",
                                      {{"Authorization", "Bearer " + root},
                                       {"Content-Type", "application/json"}});
    if (made.status != 201) fail("creating the support user: " + made.body);
    std::ofstream{token_file} << sign_in(a.port, "support", "support-pw") << "\n";
    ::chmod(token_file.c_str(), 0600);
    a.stop();
  }
  // Then A as tracker and site, and B following it; timed from A's start.
  std::string site_common = "[site]\ntoken_file = \"" + token_file.string() +
                            "\"\nscan_interval_s = 3600\nfeed_wait_s = 5\n";
  write_config(a_dir / "site.toml", a_dir,
               "name = \"A\"\n" + site_common + "path = \"" + (a_dir / "volume").string() +
                   "\"\ntracker = \"self\"\n");
  auto start = bench_clock::now();
  node a{binary, a_dir / "site.toml"};
  write_config(b_dir / "site.toml", b_dir,
               "name = \"B\"\n" + site_common + "path = \"" + (b_dir / "volume").string() +
                   "\"\ntracker = \"http://127.0.0.1:" + std::to_string(a.port) +
                   "\"\nreception = " + std::to_string(reception) + "\n");
  node b{binary, b_dir / "site.toml"};
  auto a_root = sign_in(a.port, "root", password);
  auto b_root = sign_in(b.port, "root", password);
  double t_published = 0, t_total = 0;
  auto deadline = bench_clock::now() + std::chrono::minutes{tiny ? 5 : 60};
  for (;;) {
    if (t_published == 0 && a.site_counter(a_root, "published") >= files)
      t_published = seconds_since(start);
    if (b.site_counter(b_root, "received") >= files) {
      t_total = seconds_since(start);
      break;
    }
    if (bench_clock::now() > deadline)
      fail("B did not receive every file in time; A:\n" + a.proc->output() + "\nB:\n" +
           b.proc->output());
    std::this_thread::sleep_for(50ms);
  }
  auto failed = b.site_counter(b_root, "failed");
  if (verbose) std::printf("A:\n%s\nB:\n%s\n", a.proc->output().c_str(), b.proc->output().c_str());
  b.stop();
  a.stop();
  compare_trees(a_dir / "volume", b_dir / "volume");

  // rsync from a daemon serving A's volume.
  auto port = free_port();
  {
    std::ofstream conf{dir / "rsyncd.conf"};
    conf << "use chroot = no\npid file = " << (dir / "rsyncd.pid").string() << "\n[proj]\npath = "
         << (a_dir / "volume").string() << "\nread only = yes\n";
  }
  child_process daemon{"/usr/bin/rsync",
                       {"--daemon", "--no-detach", "--config=" + (dir / "rsyncd.conf").string(),
                        "--port=" + std::to_string(port), "--address=127.0.0.1"}};
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    try {
      syncline::test::http_connection probe{"127.0.0.1", port, 1s};
      up = true;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(50ms);
    }
  }
  if (!up) fail("the rsync daemon did not start:\n" + daemon.output());
  ::sync();
  auto r_start = bench_clock::now();
  child_process rsync{"/usr/bin/rsync",
                      {"-a", "rsync://127.0.0.1:" + std::to_string(port) + "/proj/",
                       (dir / "rsync").string() + "/"}};
  auto st = rsync.wait_exit(30min);
  double t_rsync = seconds_since(r_start);
  if (!st || st->code != 0) fail("rsync failed:\n" + rsync.output());
  auto s_start = bench_clock::now();
  ::sync();
  double t_rsync_sync = t_rsync + seconds_since(s_start);
  daemon.send_signal(SIGTERM);
  (void)daemon.wait_exit(30s);
  compare_trees(a_dir / "volume", dir / "rsync");

  std::printf("multisite_bench: %zu files (%zu small, %zu x %zu MiB), %.1f MB; B's reception %u\n",
              files, shape.files, shape.big, big_mib, mb, reception);
  std::printf("  syncline A -> B: %.3f s (published at A after %.3f s): %.0f files/s, %.1f MB/s; "
              "%llu failed attempt(s)\n",
              t_total, t_published, static_cast<double>(files) / t_total, mb / t_total,
              static_cast<unsigned long long>(failed));
  std::printf("  rsync -a from rsyncd: %.3f s (%.3f s with sync): %.0f files/s, %.1f MB/s\n", t_rsync,
              t_rsync_sync, static_cast<double>(files) / t_rsync, mb / t_rsync);
  double ratio = t_total / t_rsync;
  std::printf("  ratio syncline / rsync: %.2f (goal <= 1.0: %s); / rsync + sync: %.2f\n", ratio,
              ratio <= 1.0 ? "met" : "missed", t_total / t_rsync_sync);
  if (!keep) fs::remove_all(dir);
  return 0;
}
