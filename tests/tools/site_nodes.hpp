// tests/tools/site_nodes.hpp: what the site suites share: `syncline node` processes on
// loopback, each with its own directory and configuration, and a project of a tracker and sites.
#pragma once

#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/api/api_client.hpp"
#include "tests/support/child_process.hpp"
#include "tests/temp_dir.hpp"

namespace syncline::test::sites {

using namespace std::chrono_literals;

inline constexpr auto bound = 90s;
inline const std::string admin_password = "root-secret-1";

inline std::string binary() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0', "SYNCLINE_BUILD_DIR is not set");
  return std::string{dir} + "/tools/syncline";
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream{p, std::ios::binary | std::ios::trunc} << bytes;
}

inline int64_t int_of(const std::string& body, const char* key) {
  auto d = parse_json(body);
  if (!d->ok || !d->doc.IsObject() || !d->doc.HasMember(key) || !d->doc[key].IsInt64()) return -1;
  return d->doc[key].GetInt64();
}

// One `syncline node` with its own directory and configuration.
struct node_process {
  std::filesystem::path dir;
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  // `extra_toml` goes under [node] (and may open tables of its own), `http_toml` under [http].
  node_process(std::filesystem::path d, const std::string& extra_toml,
               const std::string& http_toml = {})
      : dir(std::move(d)) {
    std::filesystem::create_directories(dir);
    {
      std::ofstream cfg{dir / "node.toml"};
      cfg << "[node]\ndata_dir = \"" << (dir / "data").string() << "\"\n" << extra_toml
          << "[http]\nlisten = \"127.0.0.1:0\"\n" << http_toml << "[auth]\nadmin_user = \"root\"\n";
    }
    ::setenv("SYNCLINE_ADMIN_PASSWORD", admin_password.c_str(), 1);
    proc = std::make_unique<child_process>(
        binary(), std::vector<std::string>{"node", "--config", (dir / "node.toml").string()});
    ::unsetenv("SYNCLINE_ADMIN_PASSWORD");
    auto line = proc->wait_for_line("listening on http", bound);
    BOOST_REQUIRE_MESSAGE(line, "the node never said where it listens:\n" << proc->output());
    port = static_cast<uint16_t>(std::stoul(line->substr(line->rfind(':') + 1)));
  }
  ~node_process() {
    if (!proc) return;
    proc->send_signal(SIGTERM);
    auto st = proc->wait_exit(bound);
    BOOST_CHECK_MESSAGE(st && st->code == 0, "a node did not stop cleanly:\n" << proc->output());
  }
};

// The site section of a node named `name`, following the tracker at `tracker_url`.
inline std::string site_toml(const std::string& name, const std::filesystem::path& volume,
                             const std::string& tracker_url,
                             const std::filesystem::path& token_file, const std::string& more) {
  std::filesystem::create_directories(volume);
  return "name = \"" + name + "\"\n[site]\npath = \"" + volume.string() +
         "\"\ntracker = \"" + tracker_url +
         "\"\ntoken_file = \"" + token_file.string() +
         "\"\nfeed_wait_s = 2\n" + (more.find("scan_interval_s") == std::string::npos ? "scan_interval_s = 1\n" : "") + more;
}

struct project {
  temp_dir root{"sites"};
  std::unique_ptr<node_process> tracker;
  std::unique_ptr<api_client> admin;
  std::filesystem::path token_file;

  project() {
    tracker = std::make_unique<node_process>(root / "T", "");
    admin = std::make_unique<api_client>(tracker->port);
    admin->set_token(admin->sign_in("root", admin_password));
    BOOST_REQUIRE(!admin->token().empty());
    // Seed 003: files found by a scan are published by `support`.
    auto made = admin->post("/api/create/",
                            R"({"_id":"@support","class":"editor","password":"pw-support"})");
    BOOST_REQUIRE_MESSAGE(made.status == 201, made.status << " " << made.body);
    auto token = api_client{tracker->port}.sign_in("support", "pw-support");
    BOOST_REQUIRE(!token.empty());
    token_file = root / "support.token";
    write_file(token_file, token + "\n");
    ::chmod(token_file.c_str(), 0600);
  }

  std::unique_ptr<node_process> site(const std::string& name, const std::string& more = {}) {
    return std::make_unique<node_process>(
        root / name, site_toml(name, root / name / "volume",
                                "http://127.0.0.1:" + std::to_string(tracker->port), token_file,
                                more));
  }

  std::string element(const std::string& id) {
    auto r = admin->get("/api/read/" + id);
    return r.status == 200 ? r.body : std::string{};
  }
};


}  // namespace syncline::test::sites
