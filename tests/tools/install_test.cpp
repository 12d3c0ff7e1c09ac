// End-to-end: `cmake --install` of this build into a temporary prefix, and what is there: the
// binary runs, the systemd unit names it and passes `systemd-analyze verify`, the installed
// configuration starts a node that answers /health and stops on SIGTERM, the docs are there.
#define BOOST_TEST_MODULE tools_install
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "runtime/error.hpp"
#include "runtime/node_config.hpp"
#include "runtime/version.hpp"
#include "tests/support/http_client.hpp"
#include "tests/temp_dir.hpp"
#include "tests/tools/node_process.hpp"

using namespace syncline::test;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs `program args...` to its end: exit status and merged output.
std::pair<exit_status, std::string> run(const std::string& program, std::vector<std::string> args) {
  child_process p{program, std::move(args)};
  auto st = p.wait_exit(std::chrono::minutes{2});
  BOOST_REQUIRE_MESSAGE(st, program << " did not exit; output:\n" << p.output());
  return {*st, p.output()};
}

// One install for every case, into a prefix that lives as long as the test program.
struct installed_tree {
  temp_dir dir{"install"};
  fs::path prefix = dir / "prefix";
  std::string log;

  installed_tree() {
    auto [st, out] = run(SYNCLINE_CMAKE_COMMAND, {"--install", std::getenv("SYNCLINE_BUILD_DIR"),
                                                  "--prefix", prefix.string()});
    log = out;
    BOOST_REQUIRE_MESSAGE(st.code == 0, "cmake --install failed: " << st.to_string() << "\n"
                                                                   << out);
  }
  fs::path bin() const { return prefix / "bin/syncline"; }
  fs::path unit() const { return prefix / "lib/systemd/system/syncline.service"; }
  fs::path config() const { return prefix / "etc/syncline/syncline.toml"; }
  fs::path docs() const { return prefix / "share/doc/syncline"; }
};

installed_tree& tree() {
  static installed_tree t;
  return t;
}

// The file's lines "key=value" of the unit, in order, with comments and sections left out.
std::vector<std::string> unit_settings(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#' && line[0] != '[') out.push_back(line);
  return out;
}

bool has_setting(const std::vector<std::string>& settings, const std::string& line) {
  for (auto& s : settings)
    if (s == line) return true;
  return false;
}

bool setting_name(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

// "[section]", "[[table]]" or "key = value" when `line` is "# " and one of those, else empty.
std::string commented_setting(const std::string& line) {
  if (line.rfind("# ", 0) != 0) return {};
  std::string body = line.substr(2);
  if (body.size() > 2 && body.front() == '[' && body.back() == ']') {
    auto name = std::string_view{body}.substr(1, body.size() - 2);
    if (name.size() > 2 && name.front() == '[' && name.back() == ']')
      name = name.substr(1, name.size() - 2);
    return setting_name(name) ? body : std::string{};
  }
  auto eq = body.find(" = ");
  return eq != std::string::npos && setting_name(std::string_view{body}.substr(0, eq))
             ? body
             : std::string{};
}

std::string find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/bin:/bin:/usr/sbin:/sbin";
  std::istringstream dirs{path};
  for (std::string d; std::getline(dirs, d, ':');)
    if (!d.empty() && ::access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_binary_is_installed_and_runs) {
  auto& t = tree();
  struct stat st {};
  BOOST_REQUIRE_MESSAGE(::stat(t.bin().c_str(), &st) == 0, t.log);
  BOOST_CHECK((st.st_mode & S_IXUSR) != 0);
  auto [status, out] = run(t.bin().string(), {"--version"});
  BOOST_CHECK_EQUAL(status.code, 0);
  BOOST_CHECK_MESSAGE(contains(out, std::string{"syncline "} + syncline::runtime::version()), out);
}

BOOST_AUTO_TEST_CASE(the_unit_runs_the_installed_binary_sandboxed_and_notifies) {
  auto& t = tree();
  auto text = read_file(t.unit());
  BOOST_REQUIRE_MESSAGE(!text.empty(), "no unit at " << t.unit() << "\n" << t.log);
  BOOST_CHECK_MESSAGE(!contains(text, "@SYNCLINE_"), "a placeholder was left:\n" << text);
  auto s = unit_settings(text);
  BOOST_CHECK(has_setting(s, "ExecStart=" + t.bin().string() + " node --config " +
                                 t.config().string() + " --data-dir /var/lib/syncline"));
  for (const char* line :
       {"Type=notify", "Restart=on-failure", "RestartPreventExitStatus=2", "User=syncline",
        "StateDirectory=syncline", "ProtectSystem=strict", "ProtectHome=read-only",
        "PrivateTmp=yes", "NoNewPrivileges=yes", "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes", "ProtectControlGroups=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallArchitectures=native",
        "LockPersonality=yes", "MemoryDenyWriteExecute=yes", "WantedBy=multi-user.target"})
    BOOST_CHECK_MESSAGE(has_setting(s, line), "the unit lacks " << line);
  // The user the unit names is made by systemd-sysusers from this file.
  BOOST_CHECK_MESSAGE(contains(read_file(t.prefix / "lib/sysusers.d/syncline.conf"), "u syncline "),
                      "no sysusers.d/syncline.conf");

  auto analyze = find_program("systemd-analyze");
  if (analyze.empty()) {
    BOOST_TEST_MESSAGE(
        "systemd-analyze is not installed: the unit's keys were checked by name only");
    return;
  }
  // --man=no: the unit's Documentation= is a file; verify would otherwise look for man pages.
  auto [st, out] = run(analyze, {"verify", "--man=no", t.unit().string()});
  BOOST_CHECK_MESSAGE(st.code == 0 && !contains(out, "syncline.service:"),
                      "systemd-analyze verify: " << st.to_string() << "\n"
                                                 << out);
}

BOOST_AUTO_TEST_CASE(sysusers_makes_the_user_the_unit_runs_as) {
  auto sysusers = find_program("systemd-sysusers");
  if (sysusers.empty() || ::geteuid() != 0) {
    BOOST_TEST_MESSAGE("systemd-sysusers missing or not root: sysusers.d/syncline.conf not tried");
    return;
  }
  // Into an empty root of its own: the machine's users are not touched.
  temp_dir root{"install-sysusers"};
  fs::create_directories(root / "etc");
  auto [st, out] = run(sysusers, {"--root=" + root.path().string(),
                                  (tree().prefix / "lib/sysusers.d/syncline.conf").string()});
  BOOST_REQUIRE_MESSAGE(st.code == 0, out);
  auto passwd = read_file(root / "etc/passwd");
  BOOST_CHECK_MESSAGE(contains(passwd, "syncline:x:") && contains(passwd, ":/var/lib/syncline:"),
                      passwd);
  BOOST_CHECK_MESSAGE(contains(read_file(root / "etc/group"), "syncline:x:"), out);
}

BOOST_AUTO_TEST_CASE(the_installed_configuration_starts_a_node) {
  auto& t = tree();
  BOOST_REQUIRE_MESSAGE(fs::exists(t.config()), t.log);
  BOOST_CHECK_EQUAL(read_file(t.config()), read_file(t.docs() / "examples/syncline.toml"));
  temp_dir dir{"install-node"};
  // The unit's own overrides, but a temporary data directory and a free port.
  node_process n{t.bin().string(),
                 {"--config", t.config().string(), "--data-dir", (dir / "data").string(), "--http",
                  "127.0.0.1:0"}};
  n.wait_listening();
  auto r = fetch(n.port, "GET", "/health");
  BOOST_CHECK_EQUAL(r.status, 200);
  BOOST_CHECK_MESSAGE(contains(r.body, "\"status\":\"ok\""), r.body);
  n.proc->send_signal(SIGTERM);
  auto st = n.wait_exit();
  BOOST_CHECK_MESSAGE(st.signal == 0 && st.code == 0, st.to_string() << "\n" << n.proc->output());
}

BOOST_AUTO_TEST_CASE(every_commented_setting_of_the_example_is_a_valid_one) {
  // "# key = value" lines are the example's settings at their default or as examples: with the
  // "# " removed, the file must still be a configuration the node accepts (parsed only: the
  // paths it names need not exist here).
  auto text = read_file(tree().config());
  std::istringstream in{text};
  std::string all;
  int uncommented = 0;
  for (std::string line; std::getline(in, line);) {
    if (auto body = commented_setting(line); !body.empty()) {
      line = body;
      ++uncommented;
    }
    all += line + "\n";
  }
  BOOST_CHECK_GT(uncommented, 10);
  auto cfg = syncline::runtime::parse_config(all, "syncline.toml (uncommented)");
  BOOST_CHECK_MESSAGE(cfg, (cfg ? std::string{} : syncline::runtime::render(cfg.error())) << "\n"
                                                                                          << all);
}

BOOST_AUTO_TEST_CASE(the_docs_are_installed) {
  auto& t = tree();
  BOOST_CHECK(fs::exists(t.docs() / "README.md"));
  for (auto& doc : fs::directory_iterator{fs::path{SYNCLINE_SOURCE_DIR} / "docs"})
    if (doc.path().extension() == ".md")
      BOOST_CHECK_MESSAGE(fs::exists(t.docs() / doc.path().filename()),
                          "not installed: " << doc.path().filename());
}

BOOST_AUTO_TEST_CASE(a_reinstall_keeps_the_configuration_an_admin_edited) {
  auto& t = tree();
  {
    std::ofstream out{t.config(), std::ios::app};
    out << "# edited by an admin\n";
  }
  auto edited = read_file(t.config());
  auto [st, out] = run(SYNCLINE_CMAKE_COMMAND, {"--install", std::getenv("SYNCLINE_BUILD_DIR"),
                                                "--prefix", t.prefix.string()});
  BOOST_REQUIRE_MESSAGE(st.code == 0, out);
  BOOST_CHECK_EQUAL(read_file(t.config()), edited);
  BOOST_CHECK_MESSAGE(contains(out, "Keeping: " + t.config().string()), out);
}
