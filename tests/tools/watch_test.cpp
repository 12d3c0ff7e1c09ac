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
  std::string datasource_toml;  // more keys of the datasource

  explicit watched_node(std::string runtime = "[runtime]\nwatch = true\n",
                        std::string datasource = "", int files = 0)
      : runtime_toml(std::move(runtime)), datasource_toml(std::move(datasource)) {
    write_file(tmp.path() / "src" / "a" / "one.txt", "one");
    for (int i = 0; i < files; ++i)
      write_file(tmp.path() / "src" / "many" / ("f" + std::to_string(i)), std::to_string(i));
    fs::create_directories(tmp.path() / "vol");
    start();
  }

  void start() {
    node = std::make_unique<node_process>(
        tmp.path() / "node",
        "[[volume]]\nid = \"backup\"\npath = \"" + (tmp.path() / "vol").string() +
            "\"\n[[datasource]]\nid = \"photos\"\npath = \"" + (tmp.path() / "src").string() +
            "\"\nvolumes = [\"backup\"]\nschedule_min_s = 3600\nschedule_max_s = 3600\n" +
            datasource_toml + runtime_toml);
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

  // A counter of the newest run.
  uint64_t last_counter(const char* name) {
    auto d = parse_json(admin->get(ds_path + "/@runs?limit=1").body);
    if (!d->ok || !d->doc.HasMember("runs") || d->doc["runs"].Empty()) return 0;
    return d->doc["runs"][0]["counters"][name].GetUint64();
  }

  std::string status() {
    auto d = parse_json(admin->get(ds_path).body);
    return d->ok && d->doc.HasMember("status") ? d->doc["status"].GetString() : "";
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
    watched_node off{"[runtime]\nwatch = false\n"};
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

// A watched change is merged alone: the run looks at the changed paths (and their directories),
// not at the whole tree, and still leaves the copy exactly like the source: new, changed and
// removed files, a directory removed with its files, a file turned into a directory, the
// directories' times.
BOOST_AUTO_TEST_CASE(a_watched_run_looks_at_the_changed_paths_only) {
  watched_node n{"[runtime]\nwatch = true\n", "", 60};
  BOOST_REQUIRE(eventually([&] { return fs::exists(n.copy("many/f59")) && n.synced(); }));
  BOOST_REQUIRE_GE(n.last_counter("listed"), 60u);
  auto src = n.tmp.path() / "src";
  write_file(src / "many" / "new.txt", "new");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          return fs::exists(n.copy("many/new.txt")) && n.synced() &&
                                 std::get<2>(n.last_run()) == "watch";
                        }),
                        n.node->proc->output());
  // The file and its directory; never the 60 others.
  BOOST_CHECK_LE(n.last_counter("listed"), 2u);
  BOOST_CHECK_EQUAL(n.last_counter("added"), 1u);
  BOOST_CHECK_EQUAL(fs::last_write_time(n.copy("many")).time_since_epoch().count(),
                    fs::last_write_time(src / "many").time_since_epoch().count());

  write_file(src / "gone" / "x" / "1.txt", "1");
  write_file(src / "gone" / "2.txt", "2");
  write_file(src / "turns", "a file first");
  BOOST_REQUIRE(eventually([&] { return fs::exists(n.copy("gone/x/1.txt")) && fs::exists(n.copy("turns")); }));
  fs::remove_all(src / "gone");
  fs::remove(src / "turns");
  write_file(src / "turns" / "inside.txt", "now a directory");
  write_file(src / "many" / "f7", "seven, changed");
  BOOST_CHECK_MESSAGE(eventually([&] {
                        return !fs::exists(n.copy("gone")) &&
                               fs::is_directory(n.copy("turns")) &&
                               fs::exists(n.copy("turns/inside.txt")) &&
                               read_file(n.copy("many/f7")) == "seven, changed" && n.synced();
                      }),
                      n.node->proc->output());
  BOOST_CHECK_EQUAL(read_file(n.copy("many/f8")), "8");
  BOOST_CHECK_EQUAL(std::get<2>(n.last_run()), "watch");
  BOOST_CHECK_LT(n.last_counter("listed"), 60u);
}

// Many small watched runs may not remove more than one run may: their removals within the hour
// count against max_delete together, and past it they are held for a person to confirm.
BOOST_AUTO_TEST_CASE(watched_removals_count_together_against_the_deletion_guard) {
  watched_node n{"[runtime]\nwatch = true\n", "max_delete = 3\n", 10};
  BOOST_REQUIRE(eventually([&] { return fs::exists(n.copy("many/f9")) && n.synced(); }));
  auto many = n.tmp.path() / "src" / "many";
  fs::remove(many / "f0");
  fs::remove(many / "f1");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          return !fs::exists(n.copy("many/f0")) && !fs::exists(n.copy("many/f1")) &&
                                 n.synced();
                        }),
                        n.node->proc->output());
  fs::remove(many / "f2");
  fs::remove(many / "f3");
  // Alone, each run would be within max_delete = 3; with the two before, not.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return n.status() == "error"; }), n.node->proc->output());
  auto runs = parse_json(n.admin->get(ds_path + "/@runs?limit=1").body);
  BOOST_REQUIRE(runs->ok);
  std::string error = runs->doc["runs"][0]["error"].GetString();
  BOOST_CHECK_MESSAGE(error.find("max_delete = 3") != std::string::npos &&
                          error.find("within the hour") != std::string::npos,
                      error);
  BOOST_CHECK(fs::exists(n.copy("many/f2")) || fs::exists(n.copy("many/f3")));
  // A person confirms what is held (both, or the second when the first came alone): both go.
  auto view = parse_json(n.admin->get(ds_path).body);
  BOOST_REQUIRE(view->ok);
  auto held = view->doc["held_removals"].GetUint64();
  BOOST_CHECK(held == 1 || held == 2);
  BOOST_REQUIRE_EQUAL(n.admin->post(ds_path + "/@sendToSpyder",
                                    "{\"confirm_deletes\":" + std::to_string(held) + "}")
                          .status,
                      202);
  BOOST_CHECK_MESSAGE(eventually([&] {
                        return !fs::exists(n.copy("many/f2")) && !fs::exists(n.copy("many/f3")) &&
                               n.synced();
                      }),
                      n.node->proc->output());
}

namespace {

// The inotify instances process `pid` holds.
int inotify_instances(pid_t pid) {
  int n = 0;
  for (auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    auto target = fs::read_symlink(fd.path(), ec);
    if (!ec && target.string() == "anon_inode:inotify") ++n;
  }
  return n;
}

}  // namespace

// The node watches all its folder datasources through one inotify instance (Linux allows 128
// per user by default), trees that overlap included: each is told its own changes.
BOOST_AUTO_TEST_CASE(one_inotify_instance_serves_every_watched_datasource) {
  temp_dir elsewhere;
  write_file(elsewhere.path() / "top.txt", "top");
  write_file(elsewhere.path() / "in" / "deep.txt", "deep");
  auto more = "[[datasource]]\nid = \"outer\"\npath = \"" + elsewhere.path().string() +
              "\"\nvolumes = [\"backup\"]\nschedule_min_s = 3600\nschedule_max_s = 3600\n"
              "[[datasource]]\nid = \"inner\"\npath = \"" + (elsewhere.path() / "in").string() +
              "\"\nvolumes = [\"backup\"]\nschedule_min_s = 3600\nschedule_max_s = 3600\n";
  watched_node n{"[runtime]\nwatch = true\n", more};
  auto vol = n.tmp.path() / "vol";
  auto status_of = [&](const std::string& id) {
    auto d = parse_json(n.admin->get("/api/default/default/workspaces/default/" + id).body);
    return d->ok && d->doc.HasMember("status") ? std::string{d->doc["status"].GetString()} : "";
  };
  auto all_synced = [&] {
    return status_of("photos") == "synced" && status_of("outer") == "synced" &&
           status_of("inner") == "synced";
  };
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          return fs::exists(vol / "inner" / "deep.txt") &&
                                 fs::exists(vol / "outer" / "in" / "deep.txt") && all_synced();
                        }),
                        n.node->proc->output());
  // Watching has begun for all three (the log says so of each).
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          auto out = n.node->proc->output();
                          size_t count = 0;
                          const std::string said = ": a change starts a run";
                          for (auto at = out.find(said); at != std::string::npos;
                               at = out.find(said, at + 1))
                            ++count;
                          return count >= 3;
                        }),
                        n.node->proc->output());
  BOOST_CHECK_EQUAL(inotify_instances(n.node->proc->pid()), 1);

  // A change inside both overlapping trees reaches both copies, one in photos' tree reaches its.
  write_file(elsewhere.path() / "in" / "new.txt", "new");
  write_file(n.tmp.path() / "src" / "a" / "two.txt", "two");
  BOOST_CHECK_MESSAGE(eventually([&] {
                        return fs::exists(vol / "inner" / "new.txt") &&
                               fs::exists(vol / "outer" / "in" / "new.txt") &&
                               fs::exists(n.copy("a/two.txt"));
                      }),
                      n.node->proc->output());
  BOOST_CHECK(eventually(all_synced));
  auto trigger_of = [&](const std::string& id) {
    auto d = parse_json(n.admin->get("/api/default/default/workspaces/default/" + id +
                                     "/@runs?limit=1")
                            .body);
    return d->ok && d->doc.HasMember("runs") && !d->doc["runs"].Empty()
               ? std::string{d->doc["runs"][0]["trigger"].GetString()}
               : "";
  };
  BOOST_CHECK_EQUAL(trigger_of("inner"), "watch");
  BOOST_CHECK_EQUAL(trigger_of("outer"), "watch");
  BOOST_CHECK_EQUAL(trigger_of("photos"), "watch");
  BOOST_CHECK_EQUAL(inotify_instances(n.node->proc->pid()), 1);
}

// A watched run sets its directories' times without a `syncfs` of its own (they become durable
// with the volume's next one): a crash before then may lose them. The next incarnation's first
// run, a full walk, sets every directory's time again and syncs before its success, even when
// it finds nothing changed. Here the loss is made by hand while the node is down.
BOOST_AUTO_TEST_CASE(a_directory_time_lost_in_a_crash_is_set_again_by_the_next_start) {
  watched_node n{"[runtime]\nwatch = true\n", "", 5};
  BOOST_REQUIRE(eventually([&] { return fs::exists(n.copy("many/f4")) && n.synced(); }));
  auto src = n.tmp.path() / "src";
  write_file(src / "many" / "added.txt", "added while watched");
  auto copied_by_a_watched_run = [&] {
    return n.synced() && std::get<2>(n.last_run()) == "watch" && fs::exists(n.copy("many/added.txt"));
  };
  BOOST_REQUIRE_MESSAGE(eventually(copied_by_a_watched_run), n.node->proc->output());
  auto source_time = fs::last_write_time(src / "many");
  BOOST_CHECK(fs::last_write_time(n.copy("many")) == source_time);
  auto watched = std::get<0>(n.last_run());
  n.stop();
  // What a crash before the next syncfs could leave: the directory's time the rename gave it.
  fs::last_write_time(n.copy("many"), source_time + 1h);
  fs::last_write_time(n.copy("a"), source_time - 1h);
  n.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] {
                          return std::get<0>(n.last_run()) > watched && n.synced();
                        }),
                        n.node->proc->output());
  BOOST_CHECK_EQUAL(
      n.last_counter("added") + n.last_counter("replaced") + n.last_counter("removed"), 0u);
  BOOST_CHECK(fs::last_write_time(n.copy("many")) == source_time);
  BOOST_CHECK(fs::last_write_time(n.copy("a")) == fs::last_write_time(src / "a"));
}
