// Watching instead of walking (docs/runtime.md, "Watching"): a node whose folder datasource is
// scheduled an hour out copies a change within moments, in a run triggered by the watch; a
// change made while the node was down is found by the scan at start; without watching (off, or a
// tree beyond max_watches) the log says so and the schedule and sync-now still work.
#define BOOST_TEST_MODULE tools_watch
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "tests/api/api_client.hpp"
#include "tests/tools/site_nodes.hpp"

using namespace syncline::test;
using namespace syncline::test::sites;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string ds_path = "/api/default/default/workspaces/default/photos";

struct watched_node {
  temp_dir tmp;
  std::unique_ptr<node_process> node;
  std::unique_ptr<api_client> admin;
  std::string runtime_toml;

  explicit watched_node(std::string runtime = "[runtime]\nwatch = true\n")
      : runtime_toml(std::move(runtime)) {
    write_file(tmp.path() / "src" / "a" / "one.txt", "one");
    fs::create_directories(tmp.path() / "vol");
    start();
  }

  void start() {
    node = std::make_unique<node_process>(
        tmp.path() / "node",
        "[[volume]]\nid = \"backup\"\npath = \"" + (tmp.path() / "vol").string() +
            "\"\n[[datasource]]\nid = \"photos\"\npath = \"" + (tmp.path() / "src").string() +
            "\"\nvolumes = [\"backup\"]\nschedule_min_s = 3600\nschedule_max_s = 3600\n" +
            runtime_toml);
    admin = std::make_unique<api_client>(node->port);
    admin->set_token(admin->sign_in("root", admin_password));
    BOOST_REQUIRE(!admin->token().empty());
  }

  void stop() {
    admin.reset();
    node.reset();  // SIGTERM, and checks a clean stop
  }

  fs::path copy(const std::string& ref) const { return tmp.path() / "vol" / "photos" / ref; }

  // The newest run: {number, status, trigger}.
  std::tuple<int64_t, std::string, std::string> last_run() {
    auto d = parse_json(admin->get(ds_path + "/@runs?limit=1").body);
    if (!d->ok || !d->doc.HasMember("runs") || d->doc["runs"].Empty()) return {0, "", ""};
    auto& r = d->doc["runs"][0];
    return {r["number"].GetInt64(), r["status"].GetString(), r["trigger"].GetString()};
  }

  bool synced() {
    auto d = parse_json(admin->get(ds_path).body);
    return d->ok && d->doc.HasMember("status") && std::string{d->doc["status"].GetString()} == "synced";
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_change_starts_a_run_without_waiting_for_the_schedule) {
  watched_node n;
  BOOST_REQUIRE(eventually([&] { return fs::exists(n.copy("a/one.txt")) && n.synced(); }));
  BOOST_CHECK_MESSAGE(n.node->proc->output().find("watches") != std::string::npos,
                      n.node->proc->output());
  write_file(n.tmp.path() / "src" / "a" / "two.txt", "two");
  BOOST_REQUIRE_MESSAGE(eventually([&] { return fs::exists(n.copy("a/two.txt")); }),
                        n.node->proc->output());
  BOOST_CHECK(eventually([&] { return n.synced(); }));
  auto [number, status, trigger] = n.last_run();
  BOOST_CHECK_GE(number, 2);
  BOOST_CHECK_EQUAL(trigger, "watch");
  // A new directory with files, a change, a removal.
  write_file(n.tmp.path() / "src" / "b" / "c" / "deep.txt", "deep");
  write_file(n.tmp.path() / "src" / "a" / "one.txt", "one, changed");
  fs::remove(n.tmp.path() / "src" / "a" / "two.txt");
  BOOST_CHECK_MESSAGE(eventually([&] {
                        return fs::exists(n.copy("b/c/deep.txt")) && !fs::exists(n.copy("a/two.txt")) &&
                               read_file(n.copy("a/one.txt")) == "one, changed";
                      }),
                      n.node->proc->output());
}

BOOST_AUTO_TEST_CASE(a_change_made_while_the_node_was_down_is_found_at_start) {
  watched_node n;
  BOOST_REQUIRE(eventually([&] { return fs::exists(n.copy("a/one.txt")) && n.synced(); }));
  n.stop();
  write_file(n.tmp.path() / "src" / "offline.txt", "made while down");
  n.start();
  BOOST_CHECK_MESSAGE(eventually([&] { return fs::exists(n.copy("offline.txt")); }),
                      n.node->proc->output());
}

BOOST_AUTO_TEST_CASE(without_a_watch_the_log_says_so_and_sync_now_still_works) {
  {
    watched_node off{""};  // watching is off unless asked for
    BOOST_REQUIRE(eventually([&] { return fs::exists(off.copy("a/one.txt")) && off.synced(); }));
    BOOST_CHECK(off.node->proc->output().find("watches") == std::string::npos);
  }
  watched_node big{"[runtime]\nwatch = true\nmax_watches = 1\n"};  // the root and `a`: two directories
  BOOST_REQUIRE(eventually([&] { return fs::exists(big.copy("a/one.txt")) && big.synced(); }));
  BOOST_CHECK_MESSAGE(big.node->proc->output().find("cannot watch") != std::string::npos,
                      big.node->proc->output());
  write_file(big.tmp.path() / "src" / "manual.txt", "m");
  BOOST_REQUIRE_EQUAL(big.admin->post(ds_path + "/@sendToSpyder", "").status, 202);
  BOOST_CHECK(eventually([&] { return fs::exists(big.copy("manual.txt")); }));
  BOOST_CHECK_EQUAL(std::get<2>(big.last_run()), "manual");
}
