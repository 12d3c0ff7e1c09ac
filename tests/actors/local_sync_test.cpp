#define BOOST_TEST_MODULE actors_local_sync
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <set>

#include "tests/actors/harness.hpp"
#include "tests/actors/tree_compare.hpp"

using namespace syncline;
using namespace syncline::test;
using actors::sync_type;

namespace {

struct fixture {
  temp_dir src{"sync-src"};
  temp_dir dst{"sync-dst"};
  harness node;

  actors::volume_config volume_cfg(uint32_t reception = 4) {
    actors::volume_config v;
    v.id = "backup";
    v.path = dst.path().string();
    v.sync_amount_reception = reception;
    return v;
  }

  actors::datasource_config folder_cfg(sync_type type) {
    actors::datasource_config d;
    d.id = "photos";
    d.type = "folder";
    d.path = src.path().string();
    d.sync = type;
    d.volumes = {"backup"};
    d.schedule_min_s = 3600;  // no scheduled run during the test
    d.schedule_max_s = 3600;
    return d;
  }

  void make_tree() {
    write_file(src / "a/one.txt", "one", 1600000000);
    write_file(src / "a/two.txt", std::string(5000, 'x'), 1600000001);
    write_file(src / "a/b/deep.bin", std::string("\0\1\2 binary", 10), 1600000002);
    write_file(src / "top.txt", "top", 1600000003);
    write_file(src / "gone/later.txt", "later", 1600000004);
    std::filesystem::create_directories(src / "empty");
    ::chmod((src / "a/one.txt").c_str(), 0600);
    BOOST_REQUIRE(::symlink("a/one.txt", (src / "link").c_str()) == 0);
  }

  // Adds, changes and deletes, as a user would between runs.
  void mutate() {
    write_file(src / "a/two.txt", std::string(7000, 'y'), 1600000100);  // changed
    write_file(src / "new/fresh.txt", "fresh", 1600000101);             // added
    std::filesystem::remove(src / "top.txt");                           // deleted
    std::filesystem::remove_all(src / "gone");                          // deleted directory
  }

  void check_equal(const std::map<std::string, tree_entry>& want) {
    size_t temporaries = 0;
    auto got = snapshot(dst / "photos", &temporaries);
    // A datasource's copies go to its target, by default a directory named after it: nothing
    // else at the volume's root.
    std::set<std::string> top;
    for (auto& e : std::filesystem::directory_iterator{dst.path()})
      top.insert(e.path().filename().string());
    BOOST_CHECK(top == std::set<std::string>{"photos"});
    auto diff = difference(want, got);
    BOOST_CHECK_MESSAGE(diff.empty(), diff);
    BOOST_CHECK_EQUAL(temporaries, 0u);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(auto_mirrors_adds_changes_and_deletes, fixture) {
  make_tree();
  node.add_volume(volume_cfg());
  node.add_datasource(folder_cfg(sync_type::auto_));
  BOOST_CHECK_EQUAL(node.wait_run("photos", 1), "synced");
  check_equal(snapshot(src.path()));

  mutate();
  auto n = node.sync_now("photos");
  BOOST_CHECK_EQUAL(n, 2u);
  BOOST_CHECK_EQUAL(node.wait_run("photos", 2), "synced");
  check_equal(snapshot(src.path()));
  auto st = node.status(node.datasources.at("photos"));
  BOOST_CHECK_EQUAL(st.counters.at("added"), 2);    // new/ and new/fresh.txt
  BOOST_CHECK_EQUAL(st.counters.at("replaced"), 1); // a/two.txt (rewritten in place)
  BOOST_CHECK_EQUAL(st.counters.at("removed"), 3);  // top.txt, gone/, gone/later.txt
}

BOOST_FIXTURE_TEST_CASE(arch_never_deletes, fixture) {
  make_tree();
  node.add_volume(volume_cfg());
  node.add_datasource(folder_cfg(sync_type::arch));
  node.wait_run("photos", 1);
  auto first = snapshot(src.path());
  mutate();
  node.sync_now("photos");
  BOOST_CHECK_EQUAL(node.wait_run("photos", 2), "synced");
  auto got = snapshot(dst / "photos");
  BOOST_CHECK(got.count("top.txt") == 1);
  BOOST_CHECK(got.count("gone/later.txt") == 1);
  BOOST_CHECK_EQUAL(got.at("a/two.txt").content, std::string(7000, 'y'));
  BOOST_CHECK_EQUAL(got.at("new/fresh.txt").content, "fresh");
  BOOST_CHECK_EQUAL(got.at("top.txt").content, first.at("top.txt").content);
}

BOOST_FIXTURE_TEST_CASE(one_collects_once_and_never_deletes, fixture) {
  make_tree();
  node.add_volume(volume_cfg());
  node.add_datasource(folder_cfg(sync_type::one));
  BOOST_CHECK_EQUAL(node.wait_run("photos", 1), "synced");
  check_equal(snapshot(src.path()));
  auto st = node.status(node.datasources.at("photos"));
  BOOST_CHECK_EQUAL(st.counters.at("next_run_ms"), 0);  // nothing scheduled
  mutate();
  // A person may still ask for a collection; it adds and changes, never deletes.
  node.sync_now("photos");
  node.wait_run("photos", 2);
  auto got = snapshot(dst / "photos");
  BOOST_CHECK(got.count("top.txt") == 1);
  BOOST_CHECK_EQUAL(got.at("new/fresh.txt").content, "fresh");
}

BOOST_FIXTURE_TEST_CASE(restart_resumes_without_redoing_work, fixture) {
  make_tree();
  node.add_volume(volume_cfg());
  node.add_datasource(folder_cfg(sync_type::auto_));
  node.wait_run("photos", 1);
  node.restart();
  node.add_volume(volume_cfg());
  node.add_datasource(folder_cfg(sync_type::auto_));
  // Synced before the restart, and scheduled far ahead: no new run, nothing pending.
  auto st = node.status(node.datasources.at("photos"));
  BOOST_CHECK_EQUAL(st.state, "synced");
  BOOST_CHECK_EQUAL(node.ctx->queue().size(actors::queue_name("backup", "photos")), 0u);
  check_equal(snapshot(src.path()));
}

BOOST_FIXTURE_TEST_CASE(pause_stops_a_run_and_resume_finishes_it, fixture) {
  for (int i = 0; i < 300; ++i)
    write_file(src / ("f" + std::to_string(i)), std::string(100, 'a'), 1600000000 + i);
  node.add_volume(volume_cfg(1));
  auto ds = node.add_datasource(folder_cfg(sync_type::auto_));
  BOOST_CHECK(node.ask(ds, actors::pause_atom::value));
  auto paused = node.status(ds);
  BOOST_CHECK_EQUAL(paused.state, "paused");
  // A forbidden move is refused: syncing now is not possible while paused.
  bool refused = false;
  (*node.self)
      ->request(ds, caf::duration{std::chrono::seconds{10}}, actors::sync_now_atom::value)
      .receive([&](uint64_t) {}, [&](caf::error& e) { refused = is(e, actors::actors_errc::paused); });
  BOOST_CHECK(refused);
  BOOST_CHECK(node.ask(ds, actors::resume_atom::value));
  BOOST_CHECK_EQUAL(node.wait_run("photos", 1), "synced");
  check_equal(snapshot(src.path()));
}

// A volume told to pause a datasource before it knows the datasource (the datasource's start
// can overtake the supervisor's registration) still serves it once registered and resumed.
BOOST_FIXTURE_TEST_CASE(pause_of_a_datasource_before_its_registration, fixture) {
  make_tree();
  auto v = node.add_volume(volume_cfg());
  BOOST_CHECK(node.ask(v, actors::pause_atom::value, std::string{"photos"}));
  node.add_datasource(folder_cfg(sync_type::auto_));
  BOOST_CHECK(node.ask(v, actors::resume_atom::value, std::string{"photos"}));
  BOOST_CHECK_EQUAL(node.wait_run("photos", 1), "synced");
  check_equal(snapshot(src.path()));
}

// Two datasources in one volume, each in its own target: one mirroring the deletion of its
// photos/ folder leaves the other's photos/ alone.
BOOST_FIXTURE_TEST_CASE(two_datasources_in_one_volume_keep_to_their_targets, fixture) {
  temp_dir other{"sync-other"};
  write_file(src / "photos/1.jpg", "mine", 1600000000);
  write_file(other / "photos/1.jpg", "theirs", 1600000001);
  write_file(other / "photos/2.jpg", "theirs too", 1600000002);
  node.add_volume(volume_cfg());
  auto a = folder_cfg(sync_type::auto_);
  a.target = "a";
  auto b = folder_cfg(sync_type::auto_);
  b.id = "other";
  b.path = other.path().string();
  b.target = "b";
  node.add_datasource(a);
  node.add_datasource(b);
  BOOST_CHECK_EQUAL(node.wait_run("photos", 1), "synced");
  BOOST_CHECK_EQUAL(node.wait_run("other", 1), "synced");
  BOOST_CHECK_EQUAL(read_file(dst / "a/photos/1.jpg"), "mine");
  BOOST_CHECK_EQUAL(read_file(dst / "b/photos/1.jpg"), "theirs");
  std::filesystem::remove_all(other / "photos");
  node.sync_now("other");
  BOOST_CHECK_EQUAL(node.wait_run("other", 2), "synced");
  BOOST_CHECK(!std::filesystem::exists(dst / "b/photos"));
  BOOST_CHECK_EQUAL(read_file(dst / "a/photos/1.jpg"), "mine");
  // Nothing was written at the volume's root but the two targets.
  std::set<std::string> top;
  for (auto& e : std::filesystem::directory_iterator{dst.path()})
    top.insert(e.path().filename().string());
  BOOST_CHECK(top == (std::set<std::string>{"a", "b"}));
}

// A 250-byte name gets a short temporary name (NAME_MAX is 255), and a source file named like
// a temporary file is copied like any other.
BOOST_FIXTURE_TEST_CASE(long_names_and_temporary_looking_names_are_copied, fixture) {
  const std::string long_name(250, 'L');
  write_file(src / long_name, "long", 1600000000);
  write_file(src / ".x.syncline-part", "looks temporary", 1600000001);
  write_file(src / "x", "x", 1600000002);
  write_file(src / (".x.00000000.syncline-part"), "looks more temporary", 1600000003);
  node.add_volume(volume_cfg());
  node.add_datasource(folder_cfg(sync_type::auto_));
  BOOST_CHECK_EQUAL(node.wait_run("photos", 1), "synced");
  BOOST_CHECK_EQUAL(read_file(dst / "photos" / long_name), "long");
  BOOST_CHECK_EQUAL(read_file(dst / "photos" / ".x.syncline-part"), "looks temporary");
  BOOST_CHECK_EQUAL(read_file(dst / "photos" / ".x.00000000.syncline-part"), "looks more temporary");
  BOOST_CHECK_EQUAL(read_file(dst / "photos" / "x"), "x");
}

// A file deleted from the source after the listing queued it and before its copy is a change,
// not an error: the run ends synced (auto removes nothing that exists; arch forgets the row).
BOOST_FIXTURE_TEST_CASE(a_file_deleted_between_listing_and_copy_is_not_an_error, fixture) {
  for (auto type : {sync_type::auto_, sync_type::arch}) {
    temp_dir s{"sync-vanish-src"};
    temp_dir d{"sync-vanish-dst"};
    harness n;
    write_file(s / "keep.txt", "k", 1600000000);
    write_file(s / "gone.txt", "g", 1600000001);
    auto vc = volume_cfg();
    vc.path = d.path().string();
    auto v = n.add_volume(vc);
    BOOST_CHECK(n.ask(v, actors::pause_atom::value));
    auto dc = folder_cfg(type);
    dc.path = s.path().string();
    n.add_datasource(dc);
    BOOST_REQUIRE(eventually([&] {
      return n.ctx->queue().size(actors::queue_name("backup", "photos")) == 2;
    }));
    std::filesystem::remove(s / "gone.txt");
    BOOST_CHECK(n.ask(v, actors::resume_atom::value));
    BOOST_CHECK_EQUAL(n.wait_run("photos", 1), "synced");
    auto st = n.status(n.datasources.at("photos"));
    BOOST_CHECK_EQUAL(st.counters.at("failed"), 0);
    BOOST_CHECK_EQUAL(read_file(d / "photos/keep.txt"), "k");
    BOOST_CHECK(!std::filesystem::exists(d / "photos/gone.txt"));
    BOOST_CHECK_EQUAL(n.ctx->queue().size(actors::queue_name("backup", "photos")), 0u);
  }
}
