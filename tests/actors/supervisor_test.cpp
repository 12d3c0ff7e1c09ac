#define BOOST_TEST_MODULE actors_supervisor
#include <boost/test/unit_test.hpp>

#include "actors/supervisor_actor.hpp"
#include "actors/transfer_actor.hpp"
#include "connectors/error.hpp"
#include "connectors/volume.hpp"
#include "storage/datasource_store.hpp"
#include "storage/error.hpp"
#include "tests/actors/harness.hpp"

using namespace syncline;
using namespace syncline::test;

namespace {

// The access list the API gives a datasource it makes.
std::string api_access() {
  storage::datasource_access a;
  a.origin = "api";
  a.owner = "ed";
  return storage::datasource_store::encode(a);
}

struct fixture {
  temp_dir src{"sup-src"};
  temp_dir dst{"sup-dst"};
  harness node;
  actors::directory_actor directory;
  actors::supervisor_actor supervisor;

  void start(bool broken_volume = false) {
    write_file(src / "x.txt", "x", 1600000000);
    actors::supervisor_init init;
    init.ctx = node.ctx.get();
    directory = actors::spawn_directory(*node.sys, std::chrono::seconds{5});
    init.directory = directory;
    actors::volume_record v;
    v.config.id = "backup";
    v.config.path = dst.path().string();
    init.volumes.push_back(v);
    if (broken_volume) {
      actors::volume_record bad;
      bad.config.id = "gone";
      bad.config.path = (dst / "does-not-exist").string();
      init.volumes.push_back(bad);
    }
    actors::datasource_record d;
    d.config.id = "docs";
    d.config.path = src.path().string();
    d.config.volumes = {"backup"};
    d.config.schedule_min_s = d.config.schedule_max_s = 3600;
    init.datasources.push_back(d);
    supervisor = actors::spawn_supervisor(*node.sys, std::move(init));
  }

  ~fixture() {
    if (supervisor) caf::anon_send_exit(supervisor, caf::exit_reason::user_shutdown);
    if (directory) caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  }

  caf::actor find(const std::string& id) {
    caf::actor out;
    (*node.self)
        ->request(directory, caf::duration{std::chrono::seconds{5}}, actors::find_atom::value, id)
        .receive([&](caf::actor& a) { out = a; }, [&](caf::error&) {});
    return out;
  }

  actors::actor_status tree() {
    actors::actor_status out;
    (*node.self)
        ->request(directory, caf::duration{std::chrono::seconds{10}}, actors::tree_atom::value)
        .receive([&](actors::actor_status& s) { out = std::move(s); },
                 [&](caf::error& e) { BOOST_FAIL(actors::render(e)); });
    return out;
  }

  std::string child_state(const std::string& key) {
    auto s = node.status(supervisor);
    for (auto& c : s.children)
      if (c.id == key) return c.state;
    return "absent";
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_directory_lists_the_whole_tree, fixture) {
  start();
  BOOST_REQUIRE(eventually([&] {
    auto t = tree();
    return t.children.size() == 3;  // supervisor, volume, datasource
  }));
  BOOST_REQUIRE(eventually([&] { return !std::filesystem::exists(dst / "docs" / connectors::temporary_name("x.txt")) &&
                                        std::filesystem::exists(dst / "docs/x.txt"); }));
  auto t = tree();
  std::map<std::string, std::string> kinds;
  for (auto& c : t.children) kinds[c.id] = c.kind;
  BOOST_CHECK_EQUAL(kinds["supervisor"], "supervisor");
  BOOST_CHECK_EQUAL(kinds["volume/backup"], "volume");
  BOOST_CHECK_EQUAL(kinds["datasource/docs"], "datasource");
}

BOOST_FIXTURE_TEST_CASE(a_crashed_child_is_restarted_and_carries_on, fixture) {
  start();
  BOOST_REQUIRE(eventually([&] { return static_cast<bool>(find("datasource/docs")); }));
  auto before = find("datasource/docs");
  // An unexpected exception ends an actor with sec::runtime_error: retryable.
  (*node.self)->send_exit(before, caf::make_error(caf::sec::runtime_error));
  BOOST_REQUIRE(eventually([&] {
    auto now = find("datasource/docs");
    return now && now != before;
  }));
  BOOST_CHECK_EQUAL(child_state("datasource/docs"), "running");
  auto s = node.status(supervisor);
  BOOST_CHECK_EQUAL(s.counters.at("restarts"), 1);
  // The new incarnation took over from the database: it answers and is synced.
  auto ds = caf::actor_cast<actors::datasource_actor>(find("datasource/docs"));
  BOOST_REQUIRE(eventually([&] { return node.status(ds).state == "synced"; }));
}

BOOST_FIXTURE_TEST_CASE(a_volume_that_cannot_work_is_parked_with_its_reason, fixture) {
  start(true);
  BOOST_REQUIRE(eventually([&] { return child_state("volume/gone") == "error"; }));
  auto s = node.status(supervisor);
  for (auto& c : s.children)
    if (c.id == "volume/gone") BOOST_CHECK_NE(c.last_error.find("does-not-exist"), std::string::npos);
  BOOST_CHECK_EQUAL(s.counters.at("parked"), 1);
  // The rest of the node works.
  BOOST_REQUIRE(eventually([&] { return std::filesystem::exists(dst / "docs/x.txt"); }));
}

BOOST_FIXTURE_TEST_CASE(a_no_retry_exit_parks_the_child, fixture) {
  start();
  BOOST_REQUIRE(eventually([&] { return static_cast<bool>(find("volume/backup")); }));
  (*node.self)->send_exit(find("volume/backup"),
                          connectors::make_error(connectors::connector_errc::bad_config, "broken"));
  BOOST_REQUIRE(eventually([&] { return child_state("volume/backup") == "error"; }));
}

BOOST_FIXTURE_TEST_CASE(a_fatal_failure_stops_the_supervisor, fixture) {
  start();
  (*node.self)->monitor(supervisor);
  BOOST_REQUIRE(eventually([&] { return static_cast<bool>(find("datasource/docs")); }));
  (*node.self)->send_exit(find("datasource/docs"),
                          storage::make_error(storage::storage_errc::corruption, "bad block"));
  caf::error reason;
  (*node.self)->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                        caf::after(std::chrono::seconds{30}) >> [] {});
  BOOST_CHECK(storage::is(reason, storage::storage_errc::corruption));
  supervisor = nullptr;
}

BOOST_FIXTURE_TEST_CASE(datasources_are_added_changed_and_deleted_at_run_time, fixture) {
  start();
  BOOST_REQUIRE(eventually([&] { return std::filesystem::exists(dst / "docs/x.txt"); }));
  temp_dir more{"sup-more"};
  write_file(more / "m.txt", "m", 1600000100);
  actors::datasource_record rec;
  rec.config.id = "extra";
  rec.config.path = more.path().string();
  rec.config.volumes = {"backup"};
  rec.config.schedule_min_s = rec.config.schedule_max_s = 3600;
  BOOST_CHECK(node.ask(supervisor, caf::add_atom::value, actors::encode(rec), api_access()));
  BOOST_REQUIRE(eventually([&] { return std::filesystem::exists(dst / "extra/m.txt"); }));
  // The same id twice is refused.
  bool refused = false;
  (*node.self)
      ->request(supervisor, caf::duration{std::chrono::seconds{10}}, caf::add_atom::value,
                actors::encode(rec), api_access())
      .receive([&](bool) {}, [&](caf::error& e) { refused = is(e, actors::actors_errc::already_exists); });
  BOOST_CHECK(refused);
  // A new configuration: only *.log files now. The old incarnation is replaced.
  auto before = find("datasource/extra");
  write_file(more / "n.log", "n", 1600000101);
  rec.config.include = {"*.log"};
  BOOST_CHECK(node.ask(supervisor, caf::update_atom::value, actors::encode(rec)));
  BOOST_REQUIRE(eventually([&] {
    auto now = find("datasource/extra");
    return now && now != before;
  }));
  auto ds = caf::actor_cast<actors::datasource_actor>(find("datasource/extra"));
  node.datasources["extra"] = ds;
  node.sync_now("extra");
  BOOST_REQUIRE(eventually([&] { return std::filesystem::exists(dst / "extra/n.log"); }));
  // Deleted: its rows, queue and record are gone; its copies on the volume stay.
  // A resume point left by an interrupted transfer of it.
  auto checkpoint = syncline::storage::datasource_store::checkpoint_key(actors::queue_name("backup", "extra"), "big.bin");
  BOOST_REQUIRE(!node.ctx->db().put_meta(checkpoint, "1048576"));
  auto leftover = dst / "extra" / connectors::temporary_name("big.bin");
  write_file(leftover, std::string(1024, 'p'), 1600000200);
  BOOST_CHECK(node.ask(supervisor, caf::delete_atom::value, std::string{"extra"}));
  node.datasources.erase("extra");
  BOOST_CHECK(!find("datasource/extra"));
  auto rows = node.ctx->rows().count(actors::datastore_scope("extra", "backup"));
  BOOST_REQUIRE(rows);
  BOOST_CHECK_EQUAL(rows->rows, 0u);
  BOOST_CHECK_EQUAL(node.ctx->queue().size(actors::queue_name("backup", "extra")), 0u);
  auto stored = actors::load_datasource(node.ctx->datasources(), "extra");
  BOOST_REQUIRE(stored);
  BOOST_CHECK(!*stored);
  BOOST_CHECK(std::filesystem::exists(dst / "extra/n.log"));
  BOOST_CHECK(!std::filesystem::exists(leftover));  // its temporary files go
  auto left = node.ctx->db().get_meta(checkpoint);
  BOOST_REQUIRE(left);
  BOOST_CHECK(!*left);
  // The other datasource is untouched.
  BOOST_CHECK_EQUAL(child_state("datasource/docs"), "running");
}

BOOST_FIXTURE_TEST_CASE(a_source_around_a_volume_is_refused_naming_both_paths, fixture) {
  start();
  BOOST_REQUIRE(eventually([&] { return std::filesystem::exists(dst / "docs/x.txt"); }));
  actors::datasource_record rec;
  rec.config.id = "around";
  rec.config.path = dst.path().parent_path().string();  // holds the volume "backup"
  rec.config.volumes = {"backup"};
  std::string why;
  (*node.self)
      ->request(supervisor, caf::duration{std::chrono::seconds{10}}, caf::add_atom::value,
                actors::encode(rec), api_access())
      .receive([&](bool) {}, [&](caf::error& e) {
        BOOST_CHECK(is(e, actors::actors_errc::bad_request));
        why = actors::render(e);
      });
  BOOST_CHECK_NE(why.find("volume 'backup'"), std::string::npos);
  BOOST_CHECK_NE(why.find(rec.config.path), std::string::npos);
  BOOST_CHECK(!find("datasource/around"));
  auto stored = actors::load_datasource(node.ctx->datasources(), "around");
  BOOST_REQUIRE(stored);
  BOOST_CHECK(!*stored);
}
