// End-to-end: the real `syncline` binary as a child process, on a temporary data directory and a
// free loopback port, driven over real HTTP and real signals.
#define BOOST_TEST_MODULE tools_syncline
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "runtime/node_config.hpp"
#include "runtime/version.hpp"
#include "storage/database.hpp"
#include "storage/error.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/temp_dir.hpp"

using syncline::test::child_process;
using syncline::test::exit_status;
using syncline::test::fetch;
using syncline::test::temp_dir;
using namespace std::chrono_literals;

namespace {

// The error's text, or "ok". Boost.Test evaluates message arguments even when a check passes,
// so `x.error()` must never be called on a value that holds one.
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : syncline::storage::render(x.error());
}

// Bounds only: they limit how long a broken test hangs (a sanitized build starts slowly) and
// never decide an outcome.
constexpr std::chrono::milliseconds start_bound = 30s;
constexpr std::chrono::milliseconds exit_bound = 30s;

std::string syncline_binary() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0',
                        "SYNCLINE_BUILD_DIR is not set (run the test through ctest)");
  return std::string{dir} + "/tools/syncline";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out{p};
  out << text;
}

std::string quoted_toml_path(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

// A node started with `args` after `node`; its port is read from its log.
struct node_process {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  explicit node_process(std::vector<std::string> args, std::filesystem::path cwd = {}) {
    args.insert(args.begin(), "node");
    proc = std::make_unique<child_process>(syncline_binary(), std::move(args), std::move(cwd));
  }

  // Waits for the `listening on http://127.0.0.1:PORT` line.
  void wait_listening() {
    const std::string prefix = "listening on http://127.0.0.1:";
    auto line = proc->wait_for_line(prefix, start_bound);
    BOOST_REQUIRE_MESSAGE(line, "the node never said where it listens; output:\n"
                                    << proc->output());
    port = static_cast<uint16_t>(std::stoul(line->substr(line->find(prefix) + prefix.size())));
    BOOST_REQUIRE_NE(port, 0);
  }

  exit_status stop(int sig) {
    proc->send_signal(sig);
    return wait_exit();
  }

  exit_status wait_exit() {
    auto st = proc->wait_exit(exit_bound);
    BOOST_REQUIRE_MESSAGE(st, "the node did not exit; output:\n" << proc->output());
    return *st;
  }
};

// Runs `syncline args...` to its end.
std::pair<exit_status, std::string> run_tool(std::vector<std::string> args,
                                             std::filesystem::path cwd = {}) {
  child_process p{syncline_binary(), std::move(args), std::move(cwd)};
  auto st = p.wait_exit(exit_bound);
  BOOST_REQUIRE_MESSAGE(st, "syncline did not exit; output:\n" << p.output());
  return {*st, p.output()};
}

std::string json_string_field(const std::string& body, const std::string& name) {
  auto key = "\"" + name + "\":\"";
  auto at = body.find(key);
  if (at == std::string::npos) return {};
  at += key.size();
  return body.substr(at, body.find('"', at) - at);
}

// Holds a loopback port busy for as long as it lives.
struct busy_port {
  int fd = -1;
  uint16_t port = 0;
  busy_port() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(::listen(fd, 1) == 0);
    socklen_t len = sizeof a;
    BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~busy_port() { ::close(fd); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(health_over_loopback_then_sigterm_stops_cleanly_and_the_database_reopens) {
  temp_dir dir{"e2e-health"};
  auto data = dir / "data";
  node_process n{{"--data-dir", data.string(), "--http", "127.0.0.1:0"}};
  n.wait_listening();

  auto r = fetch(n.port, "GET", "/health");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(r.header("content-type"), "application/json");
  BOOST_CHECK_EQUAL(json_string_field(r.body, "status"), "ok");
  BOOST_CHECK_EQUAL(json_string_field(r.body, "version"), syncline::runtime::version());
  BOOST_CHECK_MESSAGE(contains(r.body, "\"uptime_s\":"), r.body);
  auto node_id = json_string_field(r.body, "node_id");
  BOOST_CHECK_EQUAL(node_id.size(), 26u);  // a ULID

  auto out = n.proc->output();
  BOOST_CHECK_MESSAGE(contains(out, "syncline " + std::string{syncline::runtime::version()}), out);
  BOOST_CHECK_MESSAGE(contains(out, "node id " + node_id), out);
  BOOST_CHECK_MESSAGE(contains(out, data.string()), out);

  auto st = n.stop(SIGTERM);
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code == 0, st.to_string() << "\n" << n.proc->output());
  out = n.proc->output();
  BOOST_CHECK_MESSAGE(contains(out, "received SIGTERM"), out);
  BOOST_CHECK_MESSAGE(contains(out, "database closed"), out);

  // The lock is released and the database is intact: it opens, with the same identity.
  auto db = syncline::storage::database::open({data});
  BOOST_REQUIRE_MESSAGE(db, why(db));
  BOOST_CHECK_EQUAL((*db)->node_id(), node_id);
}

BOOST_AUTO_TEST_CASE(sigint_stops_cleanly_and_a_new_node_reopens_the_directory) {
  temp_dir dir{"e2e-sigint"};
  auto data = dir / "data";
  std::string first_id;
  {
    node_process n{{"--data-dir", data.string(), "--http", "127.0.0.1:0"}};
    n.wait_listening();
    first_id = json_string_field(fetch(n.port, "GET", "/health").body, "node_id");
    auto st = n.stop(SIGINT);
    BOOST_CHECK_MESSAGE(st.signal == 0 && st.code == 0, st.to_string() << "\n" << n.proc->output());
    BOOST_CHECK_MESSAGE(contains(n.proc->output(), "received SIGINT"), n.proc->output());
  }
  node_process again{{"--data-dir", data.string(), "--http", "127.0.0.1:0"}};
  again.wait_listening();
  auto r = fetch(again.port, "GET", "/health");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_EQUAL(json_string_field(r.body, "node_id"), first_id);
  auto st = again.stop(SIGTERM);
  BOOST_CHECK_EQUAL(st.code, 0);
}

BOOST_AUTO_TEST_CASE(a_second_node_on_the_same_directory_is_refused) {
  temp_dir dir{"e2e-lock"};
  auto data = dir / "data";
  node_process first{{"--data-dir", data.string(), "--http", "127.0.0.1:0"}};
  first.wait_listening();

  node_process second{{"--data-dir", data.string(), "--http", "127.0.0.1:0"}};
  auto st = second.wait_exit();
  auto out = second.proc->output();
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code != 0, st.to_string());
  BOOST_CHECK_MESSAGE(contains(out, data.string()), out);
  BOOST_CHECK_MESSAGE(contains(out, "in use"), out);
  BOOST_CHECK_MESSAGE(!contains(out, "listening on"), out);

  // The first node is unharmed.
  BOOST_CHECK_EQUAL(fetch(first.port, "GET", "/health").status, 200);
  BOOST_CHECK_EQUAL(first.stop(SIGTERM).code, 0);
}

BOOST_AUTO_TEST_CASE(a_bad_config_file_is_refused_before_anything_is_created) {
  temp_dir dir{"e2e-badcfg"};
  auto data = dir / "data";
  auto cfg = dir / "node.toml";
  struct bad_case {
    std::string toml;
    std::vector<std::string> expected;
  };
  std::vector<bad_case> cases{
      {"[node]\ndata_dir = " + quoted_toml_path(data) + "\n\n[scheduler]\nthreads = 0\n",
       {"scheduler.threads", cfg.string() + ":5:11"}},
      {"[node]\ndata_dir = " + quoted_toml_path(data) + "\nnmae = \"x\"\n",
       {"node.nmae", cfg.string() + ":3:1"}},
      {"[node]\ndata_dir = " + quoted_toml_path(data) + "\n[http]\nlisten = 8460\n",
       {"http.listen", cfg.string() + ":4:10"}},
  };
  for (auto& c : cases) {
    write_file(cfg, c.toml);
    // Run in the temporary directory, so the default ./syncline-data would land there too.
    auto [st, out] = run_tool({"node", "--config", cfg.string()}, dir.path());
    BOOST_CHECK_MESSAGE(st.signal == 0 && st.code != 0, st.to_string());
    for (auto& e : c.expected)
      BOOST_CHECK_MESSAGE(contains(out, e), "no \"" << e << "\" in:\n" << out);
    BOOST_CHECK(!std::filesystem::exists(data));
    BOOST_CHECK(!std::filesystem::exists(dir / "syncline-data"));
  }
}

BOOST_AUTO_TEST_CASE(a_source_holding_a_volume_or_the_data_directory_is_refused) {
  temp_dir dir{"e2e-overlap"};
  auto cfg = dir / "node.toml";
  std::filesystem::create_directories(dir / "src/backup");
  auto volume = [&](const std::filesystem::path& p) {
    return "[[volume]]\nid = \"backup\"\npath = " + quoted_toml_path(p) + "\n";
  };
  auto source = "[[datasource]]\nid = \"docs\"\npath = " + quoted_toml_path(dir / "src") +
                "\nvolumes = [\"backup\"]\n";
  struct overlap_case {
    std::filesystem::path data;
    std::filesystem::path volume;
    std::string expected;
  };
  std::vector<overlap_case> cases{
      {dir / "data", dir / "src/backup", "contains volume 'backup'"},
      {dir / "src/.data", dir / "elsewhere", "contains the data directory"},
  };
  std::filesystem::create_directories(dir / "elsewhere");
  for (auto& c : cases) {
    write_file(cfg, "[node]\ndata_dir = " + quoted_toml_path(c.data) + "\n" + volume(c.volume) +
                        source);
    auto [st, out] = run_tool({"node", "--config", cfg.string()}, dir.path());
    BOOST_CHECK_MESSAGE(st.signal == 0 && st.code != 0, st.to_string());
    BOOST_CHECK_MESSAGE(contains(out, c.expected), out);
    BOOST_CHECK_MESSAGE(contains(out, (dir / "src").string()), out);
    BOOST_CHECK(!std::filesystem::exists(c.data));
  }
}

BOOST_AUTO_TEST_CASE(bad_overrides_are_refused_before_anything_is_created) {
  temp_dir dir{"e2e-badset"};
  auto data = dir / "data";
  for (std::vector<std::string> extra :
       {std::vector<std::string>{"--set", "scheduler.threads=zero"},
        {"--set", "scheduler.nope=1"},
        {"--set", "novalue"},
        {"--http", "localhost:1"}}) {
    std::vector<std::string> args{"node", "--data-dir", data.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto [st, out] = run_tool(args, dir.path());
    BOOST_CHECK_MESSAGE(st.signal == 0 && st.code != 0, st.to_string());
    BOOST_CHECK_MESSAGE(contains(out, extra[0]), out);
    BOOST_CHECK_MESSAGE(contains(out, extra[1]), out);
    BOOST_CHECK(!std::filesystem::exists(data));
  }
}

BOOST_AUTO_TEST_CASE(config_file_and_overrides_apply_in_order) {
  temp_dir dir{"e2e-cfg"};
  auto data = dir / "from-file";
  auto log = dir / "node.log";
  busy_port taken;
  auto cfg = dir / "node.toml";
  // The file's address is busy, so the node only starts if --http wins over it.
  write_file(cfg, "[node]\nname = \"site-a\"\ndata_dir = " + quoted_toml_path(data) +
                      "\n[http]\nlisten = \"127.0.0.1:" + std::to_string(taken.port) +
                      "\"\n[log]\nfile = " + quoted_toml_path(log) +
                      "\nlevel = \"warn\"\n[scheduler]\nthreads = 1\n");
  node_process n{{"--config", cfg.string(), "--set", "log.level=debug", "--http", "127.0.0.1:0"}};
  n.wait_listening();
  BOOST_CHECK(std::filesystem::is_directory(data));
  BOOST_CHECK_EQUAL(fetch(n.port, "GET", "/health").status, 200);
  auto out = n.proc->output();
  BOOST_CHECK_MESSAGE(contains(out, "(site-a)"), out);
  BOOST_CHECK_MESSAGE(contains(out, "1 thread(s)"), out);
  BOOST_CHECK_EQUAL(n.stop(SIGTERM).code, 0);

  // The log file got the same lines, debug ones included (the --set won over the file).
  std::ifstream in{log};
  std::ostringstream whole;
  whole << in.rdbuf();
  auto text = whole.str();
  BOOST_CHECK_MESSAGE(contains(text, "listening on http://127.0.0.1:" + std::to_string(n.port)),
                      text);
  BOOST_CHECK_MESSAGE(contains(text, "[debug] http "), text);
  BOOST_CHECK_MESSAGE(contains(text, "stopped"), text);
}

BOOST_AUTO_TEST_CASE(a_busy_address_is_a_clear_error_and_leaves_the_database_closed) {
  temp_dir dir{"e2e-busy"};
  auto data = dir / "data";
  busy_port taken;
  auto addr = "127.0.0.1:" + std::to_string(taken.port);
  node_process n{{"--data-dir", data.string(), "--http", addr}};
  auto st = n.wait_exit();
  auto out = n.proc->output();
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code != 0, st.to_string());
  BOOST_CHECK_MESSAGE(contains(out, "cannot listen on " + addr), out);
  auto db = syncline::storage::database::open({data});
  BOOST_CHECK_MESSAGE(db, why(db));
}

BOOST_AUTO_TEST_CASE(unknown_route_gets_404_json) {
  temp_dir dir{"e2e-404"};
  node_process n{{"--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0"}};
  n.wait_listening();
  auto r = fetch(n.port, "GET", "/no/such/route");
  BOOST_CHECK_EQUAL(r.status, 404);
  BOOST_CHECK_EQUAL(r.header("content-type"), "application/json");
  BOOST_CHECK_EQUAL(json_string_field(r.body, "error"), "not_found");
  BOOST_CHECK(contains(json_string_field(r.body, "message"), "/no/such/route"));
  BOOST_CHECK_EQUAL(n.stop(SIGTERM).code, 0);
}

BOOST_AUTO_TEST_CASE(oversize_body_gets_413) {
  temp_dir dir{"e2e-413"};
  node_process n{{"--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0"}};
  n.wait_listening();
  // The default limit is 1 MiB.
  auto r = fetch(n.port, "POST", "/health", std::string((size_t{1} << 20) + 1, 'x'));
  BOOST_CHECK_EQUAL(r.status, 413);
  BOOST_CHECK_EQUAL(json_string_field(r.body, "error"), "payload_too_large");
  BOOST_CHECK_EQUAL(fetch(n.port, "GET", "/health").status, 200);
  BOOST_CHECK_EQUAL(n.stop(SIGTERM).code, 0);

  node_process small{{"--data-dir", (dir / "data").string(), "--http", "127.0.0.1:0", "--set",
                      "http.max_body_bytes=1024"}};
  small.wait_listening();
  r = fetch(small.port, "POST", "/health", std::string(1025, 'x'));
  BOOST_CHECK_EQUAL(r.status, 413);
  BOOST_CHECK(contains(r.body, "1024 bytes"));
  BOOST_CHECK_EQUAL(small.stop(SIGTERM).code, 0);
}

BOOST_AUTO_TEST_CASE(help_explains_every_option_and_setting) {
  auto [st, top] = run_tool({"--help"});
  BOOST_CHECK_EQUAL(st.code, 0);
  for (auto part : {"node", "--version", "--help"})
    BOOST_CHECK_MESSAGE(contains(top, part), "no \"" << part << "\" in:\n" << top);

  auto [nst, help] = run_tool({"node", "--help"});
  BOOST_CHECK_EQUAL(nst.code, 0);
  for (auto part :
       {"--config", "--data-dir", "--http", "--set", "./syncline-data", "127.0.0.1:8460"})
    BOOST_CHECK_MESSAGE(contains(help, part), "no \"" << part << "\" in:\n" << help);
  for (auto& s : syncline::runtime::describe_settings()) {
    BOOST_CHECK_MESSAGE(contains(help, s.key), "no \"" << s.key << "\" in:\n" << help);
    BOOST_CHECK_MESSAGE(contains(help, s.default_value), "no default \"" << s.default_value
                                                                         << "\" in:\n"
                                                                         << help);
  }
}

BOOST_AUTO_TEST_CASE(version_and_usage_errors) {
  auto [st, out] = run_tool({"--version"});
  BOOST_CHECK_EQUAL(st.code, 0);
  BOOST_CHECK_MESSAGE(contains(out, std::string{"syncline "} + syncline::runtime::version()), out);

  auto [none, usage] = run_tool({});
  BOOST_CHECK_NE(none.code, 0);
  BOOST_CHECK_MESSAGE(contains(usage, "subcommand"), usage);

  auto [bad, msg] = run_tool({"node", "--no-such-flag"});
  BOOST_CHECK_NE(bad.code, 0);
  BOOST_CHECK_MESSAGE(contains(msg, "--no-such-flag"), msg);
}
