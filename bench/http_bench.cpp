// bench/http_bench.cpp: an http datasource (docs/http-datasources.md) copying a tree from a web
// server on loopback, beside `rclone copy` with its http backend from the same server, in one run
// of several rounds (alternating which goes first; medians compared).
//
// Workload: 10,000 small files of 1-8 KiB in ~100 folders and 4 x 16 MiB (bench/bench_tree.hpp;
// --tiny: 200 files + 2 x 1 MiB), served by nginx (Debian's) on 127.0.0.1: the files under
// /tree/ with `autoindex on` (the HTML folder listings rclone's http backend reads), and a JSON
// listing for syncline, pages of 1,000 items under /list/ (`{"items": [{"path", "size", "mtime"}],
// "next": "/list/2.json"}`), written before the clock starts like any service's API.
// syncline: the real `syncline node` binary with one volume and one http datasource (paging
// next_url, content_url a template); timed from the node's start to its first run's `success`
// (polled every 50 ms through the API), which includes the listing, every fetch, the
// bookkeeping in RocksDB and the durability (syncfs) of the copies.
// Anchor: `rclone copy :http: dst --http-url http://127.0.0.1:<port>/tree/` (defaults: 4
// transfers, 8 checkers, a HEAD per file), then `sync` (syncline's copies are durable when it
// reports success); and once more with `--http-no-head`, rclone's fastest listing.
// Goal: syncline's time <= 1.0 x rclone's (issue 14).
// Also printed: the CPU seconds (user + system) each used, steadier than wall time on a shared
// machine (from RUSAGE_CHILDREN around each tool; the node is a child until it stops).
// Every copy is compared with the source (names, sizes, bytes); a wrong copy fails the program.
// Timing is informational: it never fails the program.
//
// Usage: http_bench [--files N] [--big N] [--big-mib M] [--reception R] [--io-threads T]
//                   [--rounds K] [--tiny] [--dir DIR]
//                   [--syncline PATH] [--keep] [--verbose]
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
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

// The executable `tool`, or the program fails naming it.
std::string require_tool(const std::string& tool) {
  auto at = syncline::bench::tool_path(tool);
  if (at.empty()) fail(tool + " is not installed");
  return at;
}

// The JSON listing of `root`'s files, `per_page` items a page: /list/1.json, 2.json, ...
void write_listing(const fs::path& root, const fs::path& out, size_t per_page) {
  std::vector<fs::path> files;
  for (auto& e : fs::recursive_directory_iterator{root})
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root));
  fs::create_directories(out);
  size_t pages = (files.size() + per_page - 1) / per_page;
  for (size_t p = 0; p < std::max<size_t>(pages, 1); ++p) {
    std::string body = "{\"items\":[";
    for (size_t i = p * per_page; i < std::min(files.size(), (p + 1) * per_page); ++i) {
      struct stat st {};
      if (::stat((root / files[i]).c_str(), &st) != 0) fail("stat " + files[i].string());
      int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      if (i > p * per_page) body += ',';
      body += "{\"path\":\"" + files[i].string() + "\",\"size\":" + std::to_string(st.st_size) +
              ",\"mtime\":" + std::to_string(mtime) + "}";
    }
    body += "],\"next\":";
    body += p + 1 < pages ? "\"/list/" + std::to_string(p + 2) + ".json\"" : std::string{"null"};
    body += "}";
    std::ofstream{out / (std::to_string(p + 1) + ".json")} << body;
  }
}

struct nginx_server {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  // Serves `html` (holding tree/ and list/) on 127.0.0.1.
  explicit nginx_server(const fs::path& dir) {
    port = free_port();
    fs::create_directories(dir / "logs");
    {
      std::ofstream conf{dir / "nginx.conf"};
      conf << "worker_processes 2;\n"
              "pid " << (dir / "nginx.pid").string() << ";\n"
              "error_log " << (dir / "logs" / "error.log").string() << " warn;\n"
              "events { worker_connections 1024; }\n"
              "http {\n"
              "  access_log off;\n"
              "  sendfile on;\n"
              "  keepalive_requests 100000000;\n"
              "  keepalive_timeout 60s;\n"
              "  types { application/json json; }\n"
              "  default_type application/octet-stream;\n"
           << "  client_body_temp_path " << dir.string() << "/tmp-body;\n"
           << "  proxy_temp_path " << dir.string() << "/tmp-proxy;\n"
           << "  fastcgi_temp_path " << dir.string() << "/tmp-fcgi;\n"
           << "  uwsgi_temp_path " << dir.string() << "/tmp-uwsgi;\n"
           << "  scgi_temp_path " << dir.string() << "/tmp-scgi;\n"
           << "  server {\n"
              "    listen 127.0.0.1:" << port << ";\n"
              "    root " << (dir / "html").string() << ";\n"
              "    location /tree/ { autoindex on; }\n"
              "  }\n"
              "}\n";
    }
    proc = std::make_unique<child_process>(
        require_tool("nginx"), std::vector<std::string>{"-p", dir.string(), "-c", (dir / "nginx.conf").string(),
                                                     "-e", (dir / "logs" / "error.log").string(), "-g",
                                                     "daemon off;"});
    for (int i = 0; i < 200; ++i) {
      try {
        if (syncline::test::fetch(port, "GET", "/list/1.json").status == 200) return;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(50ms);
    }
    std::ifstream log{dir / "logs" / "error.log"};
    fail("nginx did not serve the listing:\n" + std::string{std::istreambuf_iterator<char>{log}, {}});
  }
  ~nginx_server() {
    proc->send_signal(SIGTERM);
    (void)proc->wait_exit(30s);
  }
};

// rclone copy from the server's /tree/ into `dst`, then sync; wall seconds without and with it.
std::pair<double, double> run_rclone(uint16_t port, const fs::path& dst, const fs::path& dir,
                                     bool no_head) {
  std::vector<std::string> args{"copy", ":http:", dst.string(), "--http-url",
                                "http://127.0.0.1:" + std::to_string(port) + "/tree/",
                                "--config", (dir / "rclone.conf").string()};
  if (no_head) args.push_back("--http-no-head");
  auto start = bench_clock::now();
  child_process rclone{require_tool("rclone"), args};
  auto st = rclone.wait_exit(60min);
  double t = seconds_since(start);
  if (!st || st->code != 0) fail("rclone failed:\n" + rclone.output());
  auto s = bench_clock::now();
  ::sync();
  return {t, t + seconds_since(s)};
}

// CPU seconds (user + system) of the children waited for so far.
double children_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// A node copying the listing of `base` into `at`/volume; seconds from its start to its first
// run's success.
double run_syncline(const std::string& binary, const fs::path& at, const std::string& base,
                    uint32_t reception, uint32_t io_threads, bool tiny, bool verbose) {
  fs::create_directories(at / "volume");
  {
    std::ofstream out{at / "node.toml"};
    out << "[node]\ndata_dir = \"" << (at / "data").string() << "\"\n"
        << "[http]\nlisten = \"127.0.0.1:0\"\n[auth]\nadmin_user = \"root\"\n"
        << (io_threads > 0 ? "[runtime]\nio_threads = " + std::to_string(io_threads) + "\n" : "")
        << "[[volume]]\nid = \"dst\"\npath = \"" << (at / "volume").string() << "\"\n"
        << (reception > 0 ? "syncAmountReception = " + std::to_string(reception) + "\n" : "")
        << "[[datasource]]\nid = \"web\"\ntype = \"http\"\nsync_type = \"one\"\nvolumes = [\"dst\"]\n"
        << "target = \"\"\n"
        << "http = { url = \"" << base << "/list/1.json\", paging = \"next_url\", items = \"/items\", "
        << "next = \"/next\", size = \"/size\", mtime = \"/mtime\", mtime_unit = \"ns\", "
        << "content_url = \"" << base << "/tree/{/path}\" }\n";
  }
  ::setenv("SYNCLINE_ADMIN_PASSWORD", password.c_str(), 1);
  auto start = bench_clock::now();
  child_process node{binary, {"node", "--config", (at / "node.toml").string()}};
  ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
  auto line = node.wait_for_line("listening on http://", 120s);
  if (!line) fail("the node did not start:\n" + node.output());
  auto port = static_cast<uint16_t>(std::stoul(line->substr(line->rfind(':') + 1)));
  auto signed_in = syncline::test::fetch(port, "POST", "/api/signIn", "username=root&password=" + password,
                                         {{"Content-Type", "application/x-www-form-urlencoded"}});
  if (signed_in.status != 200) fail("sign-in: " + signed_in.body);
  auto token = json_value(signed_in.body, "token");
  double took = 0;
  std::string status;
  auto deadline = bench_clock::now() + std::chrono::minutes{tiny ? 5 : 60};
  for (;;) {
    auto r = syncline::test::fetch(port, "GET", "/api/default/default/workspaces/default/web/@runs?limit=1", {},
                                   {{"Authorization", "Bearer " + token}});
    status = json_value(r.body, "status");
    if (r.status == 200 && (status == "success" || status == "failed")) {
      took = seconds_since(start);
      break;
    }
    if (bench_clock::now() > deadline) fail("the run did not end in time:\n" + node.output());
    std::this_thread::sleep_for(50ms);
  }
  if (verbose) std::printf("%s\n", node.output().c_str());
  node.send_signal(SIGTERM);
  if (!node.wait_exit(120s)) fail("the node did not stop");
  if (status != "success") fail("the run ended " + status + ":\n" + node.output());
  return took;
}

}  // namespace

int main(int argc, char** argv) {
  syncline::bench::program_name() = "http_bench";
  CLI::App app{"an http datasource beside rclone copy (http backend) from nginx on loopback"};
  syncline::bench::tree_shape shape;
  shape.files = 10000;
  shape.big = 4;
  size_t big_mib = 16;
  uint32_t reception = 0, io_threads = 0;
  bool tiny = false, keep = false, verbose = false;
  int rounds = 3;
  std::string dir_arg, binary = SYNCLINE_NODE_BINARY;
  app.add_option("--files", shape.files, "small files");
  app.add_option("--big", shape.big, "big files");
  app.add_option("--big-mib", big_mib, "size of the big files in MiB");
  app.add_option("--reception", reception, "the volume's syncAmountReception (0: its default)");
  app.add_option("--io-threads", io_threads, "the node's [runtime] io_threads (0: its default)");
  app.add_option("--rounds", rounds, "rounds, in alternating order (medians compared)")->check(CLI::Range(1, 99));
  app.add_flag("--tiny", tiny, "200 files + 2 x 1 MiB, one round (CI)");
  app.add_option("--dir", dir_arg, "where to work (default: a new directory in $TMPDIR or /tmp)");
  app.add_option("--syncline", binary, "the syncline binary");
  app.add_flag("--keep", keep, "keep the directory");
  app.add_flag("--verbose", verbose, "print the node's output at the end");
  CLI11_PARSE(app, argc, argv);
  if (tiny) {
    shape.files = 200;
    shape.big = 2;
    big_mib = 1;
    rounds = 1;
  }
  shape.big_bytes = big_mib << 20;
  for (auto* tool : {"nginx", "rclone"})
    if (syncline::bench::tool_path(tool).empty()) {
      std::printf("http_bench: %s is not installed (Debian package %s): skipped\n", tool, tool);
      return 77;
    }

  fs::path dir;
  if (dir_arg.empty()) {
    const char* t = std::getenv("TMPDIR");
    std::string templ = std::string{t && *t ? t : "/tmp"} + "/http-bench-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) fail("mkdtemp");
    dir = templ;
  } else {
    dir = dir_arg;
    fs::create_directories(dir);
  }
  // nginx started as root serves as the user nobody: let it through to the files.
  ::chmod(dir.c_str(), 0711);
  auto html = dir / "web" / "html";
  fs::create_directories(html / "tree");
  syncline::bench::make_tree(html / "tree", shape, 7);
  write_listing(html / "tree", html / "list", 1000);
  for (auto& e : fs::recursive_directory_iterator{dir / "web"})
    ::chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644);
  ::chmod((dir / "web").c_str(), 0755);
  const size_t files = shape.files + shape.big;
  const double mb = static_cast<double>(shape.files * (shape.min_size + shape.max_size) / 2 +
                                        shape.big * shape.big_bytes) / 1e6;
  nginx_server web{dir / "web"};
  auto base = "http://127.0.0.1:" + std::to_string(web.port);
  ::sync();

  std::ofstream{dir / "rclone.conf"} << "";
  // Rounds in alternating order (ext4 here slows file creation right after other writers), each
  // tool into fresh directories; medians compared.
  std::vector<double> t_syncline, t_rclone, t_rclone_sync, t_nohead_sync, cpu_syncline, cpu_rclone;
  for (int round = 0; round < rounds; ++round) {
    auto at = dir / ("round" + std::to_string(round));
    auto syncline_round = [&] {
      auto cpu = children_cpu_s();
      t_syncline.push_back(run_syncline(binary, at / "node", base, reception, io_threads, tiny, verbose));
      cpu_syncline.push_back(children_cpu_s() - cpu);
      compare_trees(html / "tree", at / "node" / "volume");
    };
    auto rclone_round = [&] {
      auto cpu = children_cpu_s();
      auto [t, with_sync] = run_rclone(web.port, at / "rclone", dir, false);
      t_rclone.push_back(t);
      t_rclone_sync.push_back(with_sync);
      cpu_rclone.push_back(children_cpu_s() - cpu);
      compare_trees(html / "tree", at / "rclone");
      t_nohead_sync.push_back(run_rclone(web.port, at / "rclone-nohead", dir, true).second);
      compare_trees(html / "tree", at / "rclone-nohead");
    };
    if (round % 2 == 0) {
      syncline_round();
      rclone_round();
    } else {
      rclone_round();
      syncline_round();
    }
    std::printf("  round %d: syncline %.3f s (%.2f s CPU), rclone %.3f s (%.3f s with sync; %.2f s CPU), "
                "rclone --http-no-head %.3f s with sync\n",
                round + 1, t_syncline.back(), cpu_syncline.back(), t_rclone.back(), t_rclone_sync.back(),
                cpu_rclone.back(), t_nohead_sync.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  double syncline_s = median(t_syncline), rclone_s = median(t_rclone), rclone_sync_s = median(t_rclone_sync),
         nohead_sync_s = median(t_nohead_sync);

  std::printf("http_bench: %zu files (%zu small, %zu x %zu MiB), %.1f MB from nginx on loopback\n",
              files, shape.files, shape.big, big_mib, mb);
  std::printf("  medians of %d round(s):\n", rounds);
  std::printf("  syncline http datasource: %.3f s (durable): %.0f files/s, %.1f MB/s\n", syncline_s,
              static_cast<double>(files) / syncline_s, mb / syncline_s);
  std::printf("  rclone copy (http backend): %.3f s, %.3f s with sync\n", rclone_s, rclone_sync_s);
  std::printf("  rclone copy --http-no-head: %.3f s with sync\n", nohead_sync_s);
  std::printf("  CPU seconds (user + system): syncline %.2f, rclone %.2f (ratio %.2f)\n", median(cpu_syncline),
              median(cpu_rclone), median(cpu_syncline) / median(cpu_rclone));
  double ratio = syncline_s / rclone_sync_s;
  std::printf("  ratio syncline / (rclone + sync): %.2f (goal <= 1.0: %s); / rclone: %.2f; "
              "/ (rclone --http-no-head + sync): %.2f\n",
              ratio, ratio <= 1.0 ? "met" : "missed", syncline_s / rclone_s, syncline_s / nohead_sync_s);
  if (!keep) fs::remove_all(dir);
  return 0;
}
