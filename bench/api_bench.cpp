// bench/api_bench.cpp: the `syncline node` binary's HTTP API under wrk, beside nginx serving a
// static JSON file of the same size, in one run.
//
// Workload: a node (the real binary, fresh data directory, default settings but a block cache
// that holds the elements, --cache-mb 512, as nginx's file sits in the page cache; one admin) is
// loaded
// with --elements elements (default 1,000,000; --tiny: 2,000) through POST /api/create/ in
// batches of 1,000: `{"_id":"/bench/dDDD/fNNNNNNN","file_size":..,"file_mtime":..,
// "origin":"siteA","comment":"bench","sync_priority":0}`, ~1,000 directories. Then, each for
// --seconds (default 10; --tiny: 1) with `wrk -t2 -c64 --latency` (--tiny: -c8), keep-alive,
// every request carrying the admin's bearer token:
//   read      GET /api/read/<random existing id>                    goal: >= 0.8 x nginx req/s
//   search    GET /api/search/_id:<random existing id> (an _id search: ranged, not a scan)
//   create    POST /api/create/ one new element per request         goal: >= 10,000 /s
//   nginx     GET /elem.json, a static file as large as one read's answer, from nginx
//             (Debian's, 2 workers, access log off) started on a free loopback port with a
//             configuration of its own in a temporary directory, stopped at the end
// p99 latency of every syncline run                                 goal: < 20 ms
// Also timed: the bulk load (elements/s) and one search that scans every element
// (`search/origin:siteA%20file_size:-1`, no match), a few times.
//
// Timing is informational: the program fails only when a request fails (non-2xx answers, a
// count that does not add up) or a tool is missing (exit 77: skipped).
//
// Usage: api_bench [--elements N] [--seconds S] [--connections C] [--tiny] [--dir DIR]
//                  [--syncline PATH] [--keep]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_e2e.hpp"
#include "tests/support/http_client.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "api_bench: %s\n", why.c_str());
  std::exit(1);
}

// A child process with its output in a file.
struct child {
  pid_t pid = -1;

  child(const std::vector<std::string>& argv, const fs::path& log,
        const std::vector<std::string>& env_extra = {}) {
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
    for (auto& e : env_extra) env_store.push_back(e);
    std::vector<char*> env;
    for (auto& e : env_store) env.push_back(e.data());
    env.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  // Waits at most `bound` for the child to exit; kills it after that.
  int stop(int sig, std::chrono::seconds bound = 30s) {
    if (pid <= 0) return 0;
    ::kill(pid, sig);
    auto until = clock_type::now() + bound;
    int status = 0;
    while (clock_type::now() < until) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return status;
      }
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    pid = -1;
    return status;
  }
  ~child() { stop(SIGKILL, 5s); }
};

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a command to its end (bounded by its own arguments) and returns its output.
std::string run(const std::vector<std::string>& argv, const fs::path& out) {
  std::error_code ec;
  fs::remove(out, ec);
  child c{argv, out};
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  c.pid = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die(argv[0] + " failed:\n" + read_file(out));
  return read_file(out);
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct wrk_result {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint64_t requests = 0;
  uint64_t bad = 0;  // non-2xx/3xx answers, socket errors
};

double to_ms(const std::string& value, const std::string& unit) {
  double v = std::stod(value);
  if (unit == "us") return v / 1000.0;
  if (unit == "s") return v * 1000.0;
  return v;
}

// The number that follows `marker` in wrk's report (leading blanks skipped), and the unit
// written right after it; empty when wrk did not print the line.
std::optional<std::pair<std::string, std::string>> after(const std::string& out,
                                                         std::string_view marker) {
  auto at = out.find(marker);
  if (at == std::string::npos) return std::nullopt;
  at += marker.size();
  while (at < out.size() && (out[at] == ' ' || out[at] == '\t')) ++at;
  auto end = at;
  while (end < out.size() && (std::isdigit(static_cast<unsigned char>(out[end])) || out[end] == '.'))
    ++end;
  if (end == at) return std::nullopt;
  auto unit_end = end;
  while (unit_end < out.size() && std::isalpha(static_cast<unsigned char>(out[unit_end]))) ++unit_end;
  return std::pair{out.substr(at, end - at), out.substr(end, unit_end - end)};
}

wrk_result parse_wrk(const std::string& out) {
  wrk_result r;
  if (auto v = after(out, "Requests/sec:")) r.rps = std::stod(v->first);
  if (auto v = after(out, " 50%")) r.p50_ms = to_ms(v->first, v->second);
  if (auto v = after(out, " 99%")) r.p99_ms = to_ms(v->first, v->second);
  // "N requests in 10.00s": the count starts the line.
  if (auto at = out.find(" requests in "); at != std::string::npos) {
    auto begin = out.rfind('\n', at);
    r.requests = std::stoull(out.substr(begin == std::string::npos ? 0 : begin + 1));
  }
  if (auto v = after(out, "Non-2xx or 3xx responses:")) r.bad += std::stoull(v->first);
  // "Socket errors: connect 0, read 0, write 0, timeout 0"
  if (auto at = out.find("Socket errors:"); at != std::string::npos) {
    auto line = out.substr(at, out.find('\n', at) - at);
    for (auto* field : {"connect", "read", "write", "timeout"})
      if (auto v = after(line, field)) r.bad += std::stoull(v->first);
  }
  return r;
}

std::string id_of(uint64_t i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/bench/d%03llu/f%07llu", static_cast<unsigned long long>(i % 1000),
                static_cast<unsigned long long>(i));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t elements = 1000000;
  int seconds = 10;
  int connections = 64;
  int cache_mb = 512;
  bool tiny = false;
  bool keep = false;
  std::string dir_opt;
  std::string syncline = SYNCLINE_NODE_BINARY;
  CLI::App app{"syncline's HTTP API under wrk, beside nginx"};
  app.add_option("--elements", elements, "elements loaded before the runs");
  app.add_option("--seconds", seconds, "length of each wrk run");
  app.add_option("--connections", connections, "wrk connections (keep-alive)");
  app.add_option("--cache-mb", cache_mb, "the node's block cache ([storage] block_cache_mb)");
  app.add_flag("--tiny", tiny, "2,000 elements, 1 s runs, 8 connections: a smoke test");
  app.add_option("--dir", dir_opt, "where the temporary directory goes (default $TMPDIR or /tmp)");
  app.add_option("--syncline", syncline, "the syncline binary");
  app.add_flag("--keep", keep, "keep the temporary directory");
  CLI11_PARSE(app, argc, argv);
  if (tiny) {
    elements = 2000;
    seconds = 1;
    connections = 8;
  }
  for (auto* tool : {"wrk", "nginx"}) {
    if (syncline::bench::tool_path(tool).empty()) {
      std::printf("api_bench: %s is not installed (Debian package %s): skipped\n", tool, tool);
      return 77;
    }
  }
  std::string base = dir_opt.empty() ? (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") : dir_opt;
  std::string templ = base + "/api-bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) die("mkdtemp");
  fs::path dir = templ;

  // --- the node ---------------------------------------------------------------------------
  const std::string password = "bench-admin-password";
  {
    std::ofstream pw{dir / "admin.pw"};
    pw << password << "\n";
  }
  ::chmod((dir / "admin.pw").c_str(), 0600);
  auto node_log = dir / "node.log";
  child node{{syncline, "node", "--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0",
              "--set", "auth.admin_user=bench", "--set",
              "auth.admin_password_file=" + (dir / "admin.pw").string(), "--set",
              "storage.block_cache_mb=" + std::to_string(cache_mb)},
             node_log};
  uint16_t port = 0;
  {
    // Port 0 picks a free port; the node names it in its log.
    auto until = clock_type::now() + 60s;
    const std::string listening = "listening on http://127.0.0.1:";
    while (port == 0 && clock_type::now() < until) {
      auto text = read_file(node_log);
      if (auto at = text.find(listening); at != std::string::npos)
        port = static_cast<uint16_t>(std::stoul(text.substr(at + listening.size())));
      else std::this_thread::sleep_for(50ms);
    }
    if (port == 0) die("the node did not start:\n" + read_file(node_log));
  }
  std::string token;
  {
    syncline::test::http_connection c{"127.0.0.1", port};
    auto r = c.request("POST", "/api/signIn", "username=bench&password=" + password,
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
    if (r.status != 200) die("signIn failed: " + r.body);
    auto at = r.body.find("\"token\":\"");
    token = r.body.substr(at + 9, 43);
  }
  const std::vector<std::pair<std::string, std::string>> auth{
      {"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}};

  // --- load -------------------------------------------------------------------------------
  auto load_start = clock_type::now();
  {
    syncline::test::http_connection c{"127.0.0.1", port, 120s};
    std::mt19937_64 rng{42};
    for (uint64_t i = 0; i < elements;) {
      std::string body = "[";
      for (int k = 0; k < 1000 && i < elements; ++k, ++i) {
        if (k > 0) body += ',';
        body += "{\"_id\":\"" + id_of(i) + "\",\"file_size\":" + std::to_string(rng() % 100000000) +
                ",\"file_mtime\":" + std::to_string(1567529676000 + rng() % 100000000) +
                ",\"origin\":\"siteA\",\"comment\":\"bench\",\"sync_priority\":0}";
      }
      body += "]";
      auto r = c.request("POST", "/api/create/", body, auth);
      if (r.status != 201) die("load: create answered " + std::to_string(r.status) + " " + r.body.substr(0, 200));
    }
  }
  double load_s = std::chrono::duration<double>(clock_type::now() - load_start).count();
  std::printf("load: %llu elements in %.2f s: %.0f elements/s (batches of 1,000)\n",
              static_cast<unsigned long long>(elements), load_s, static_cast<double>(elements) / load_s);
  std::string sample;
  {
    syncline::test::http_connection c{"127.0.0.1", port};
    auto r = c.request("GET", "/api/read/" + id_of(elements / 2), {}, auth);
    if (r.status != 200) die("read of a loaded element answered " + std::to_string(r.status));
    sample = r.body;
  }

  // --- nginx ------------------------------------------------------------------------------
  uint16_t nginx_port = free_port();
  fs::create_directories(dir / "nginx" / "html");
  fs::create_directories(dir / "nginx" / "logs");
  {
    std::ofstream f{dir / "nginx" / "html" / "elem.json"};
    f << sample;
  }
  // nginx started as root serves files as the user nobody: let it through the private
  // temporary directory (traverse only) to the file.
  ::chmod(dir.c_str(), 0711);
  ::chmod((dir / "nginx").c_str(), 0755);
  ::chmod((dir / "nginx" / "html").c_str(), 0755);
  ::chmod((dir / "nginx" / "html" / "elem.json").c_str(), 0644);
  {
    std::ofstream conf{dir / "nginx" / "nginx.conf"};
    conf << "worker_processes 2;\n"
            "pid " << (dir / "nginx" / "nginx.pid").string() << ";\n"
            "error_log " << (dir / "nginx" / "logs" / "error.log").string() << " warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "  access_log off;\n"
            "  default_type application/json;\n"
            "  keepalive_requests 100000000;\n"
            "  keepalive_timeout 60s;\n"
            "  client_body_temp_path " << (dir / "nginx").string() << "/tmp-body;\n"
            "  proxy_temp_path " << (dir / "nginx").string() << "/tmp-proxy;\n"
            "  fastcgi_temp_path " << (dir / "nginx").string() << "/tmp-fcgi;\n"
            "  uwsgi_temp_path " << (dir / "nginx").string() << "/tmp-uwsgi;\n"
            "  scgi_temp_path " << (dir / "nginx").string() << "/tmp-scgi;\n"
            "  server {\n"
            "    listen 127.0.0.1:" << nginx_port << ";\n"
            "    root " << (dir / "nginx" / "html").string() << ";\n"
            "  }\n"
            "}\n";
  }
  child nginx{{syncline::bench::tool_path("nginx"), "-p", (dir / "nginx").string(), "-c",
               (dir / "nginx" / "nginx.conf").string(), "-e",
               (dir / "nginx" / "logs" / "error.log").string(), "-g", "daemon off;"},
              dir / "nginx" / "logs" / "stdout.log"};
  {
    auto until = clock_type::now() + 20s;
    bool up = false;
    while (!up && clock_type::now() < until) {
      try {
        up = syncline::test::fetch(nginx_port, "GET", "/elem.json").status == 200;
      } catch (const std::exception&) {
      }
      if (!up) std::this_thread::sleep_for(100ms);
    }
    if (!up) {
      auto log = read_file(dir / "nginx" / "logs" / "error.log");
      die("nginx did not serve the file:\n" + log.substr(log.size() > 2000 ? log.size() - 2000 : 0));
    }
  }

  // --- wrk runs ---------------------------------------------------------------------------
  auto lua = [&](const std::string& name, const std::string& text) {
    auto p = dir / (name + ".lua");
    std::ofstream f{p};
    f << text;
    return p.string();
  };
  std::string header = "wrk.headers[\"Authorization\"] = \"Bearer " + token + "\"\n";
  auto read_lua = lua("read", header +
      "local n = " + std::to_string(elements) + "\n"
      "math.randomseed(os.time())\n"
      "request = function()\n"
      "  local i = math.random(0, n - 1)\n"
      "  return wrk.format(\"GET\", string.format(\"/api/read//bench/d%03d/f%07d\", i % 1000, i))\n"
      "end\n");
  auto search_lua = lua("search", header +
      "local n = " + std::to_string(elements) + "\n"
      "request = function()\n"
      "  local i = math.random(0, n - 1)\n"
      "  return wrk.format(\"GET\", string.format(\"/api/search/_id:%%2Fbench%%2Fd%03d%%2Ff%07d\", i % 1000, i))\n"
      "end\n");
  auto create_lua = lua("create", header +
      "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
      "local counter = 0\n"
      "local prefix = tostring(math.random(0, 1e9))\n"
      "setup = function(thread) thread:set(\"tid\", tostring(math.random(0, 1e9))) end\n"
      "init = function(args) prefix = tid or prefix end\n"
      "request = function()\n"
      "  counter = counter + 1\n"
      "  return wrk.format(\"POST\", \"/api/create/\", nil, string.format("
      "'{\"_id\":\"/new/%s/%d\",\"file_size\":%d,\"origin\":\"siteB\",\"comment\":\"bench\"}', prefix, counter, counter))\n"
      "end\n");
  auto wrk = [&](const std::string& name, const std::string& url, const std::string& script) {
    std::vector<std::string> args{"wrk", "-t2", "-c" + std::to_string(connections),
                                  "-d" + std::to_string(seconds) + "s", "--latency", "--timeout", "10s"};
    if (!script.empty()) {
      args.push_back("-s");
      args.push_back(script);
    }
    args.push_back(url);
    auto out = run(args, dir / (name + ".wrk.txt"));
    auto r = parse_wrk(out);
    if (r.requests == 0) die(name + ": wrk made no request:\n" + out);
    return r;
  };
  std::string base_url = "http://127.0.0.1:" + std::to_string(port);
  auto nginx_r = wrk("nginx", "http://127.0.0.1:" + std::to_string(nginx_port) + "/elem.json", "");
  auto read_r = wrk("read", base_url + "/", read_lua);
  auto search_r = wrk("search", base_url + "/", search_lua);
  auto create_r = wrk("create", base_url + "/", create_lua);

  // One search that must look at every element (no _id prefix, nothing matches).
  double scan_ms = 0;
  {
    syncline::test::http_connection c{"127.0.0.1", port, 120s};
    int runs = tiny ? 1 : 3;
    for (int k = 0; k < runs; ++k) {
      auto t0 = clock_type::now();
      auto r = c.request("GET", "/api/search/origin:siteA%20file_size:-1", {}, auth);
      auto ms = std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
      if (r.status != 200 || r.body != "[]") die("full-scan search answered " + r.body.substr(0, 200));
      scan_ms = k == 0 ? ms : std::min(scan_ms, ms);
    }
  }

  std::printf("answer size: %zu bytes (nginx serves a file of the same size)\n", sample.size());
  auto line = [&](const char* name, const wrk_result& r, const char* goal) {
    std::printf("%-7s syncline %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (%llu requests, %llu failed)%s\n",
                name, r.rps, r.p50_ms, r.p99_ms, static_cast<unsigned long long>(r.requests),
                static_cast<unsigned long long>(r.bad), goal);
  };
  std::printf("nginx   static   %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms\n", nginx_r.rps,
              nginx_r.p50_ms, nginx_r.p99_ms);
  line("read", read_r, "");
  std::printf("read    ratio to nginx: %.2f (goal >= 0.8)\n", read_r.rps / nginx_r.rps);
  line("search", search_r, "");
  line("create", create_r, "  (goal >= 10,000/s)");
  std::printf("p99     read %.2f ms, search %.2f ms, create %.2f ms (goal < 20 ms each)\n",
              read_r.p99_ms, search_r.p99_ms, create_r.p99_ms);
  std::printf("scan    one search over all %llu elements: %.0f ms\n",
              static_cast<unsigned long long>(elements), scan_ms);

  nginx.stop(SIGQUIT);
  int status = node.stop(SIGTERM);
  bool failed = read_r.bad + search_r.bad + create_r.bad + nginx_r.bad > 0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "api_bench: the node did not stop cleanly:\n%s\n", read_file(node_log).c_str());
    failed = true;
  }
  if (!keep) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  } else {
    std::printf("kept %s\n", dir.c_str());
  }
  if (failed) {
    std::fprintf(stderr, "api_bench: some requests failed\n");
    return 1;
  }
  return 0;
}
