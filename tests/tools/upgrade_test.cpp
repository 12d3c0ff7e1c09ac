// End-to-end: the real `syncline` binary started on a data directory of schema version 1, made by
// an earlier syncline (tests/tools/data/v1_fixture, see the README there).
#define BOOST_TEST_MODULE tools_upgrade
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "actors/records.hpp"
#include "storage/database.hpp"
#include "storage/datasource_store.hpp"
#include "storage/error.hpp"
#include "tests/support/child_process.hpp"
#include "tests/temp_dir.hpp"

namespace fs = std::filesystem;
using syncline::test::child_process;
using syncline::test::temp_dir;
using namespace std::chrono_literals;

namespace {

std::string syncline_binary() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0',
                        "SYNCLINE_BUILD_DIR is not set (run the test through ctest)");
  return std::string{dir} + "/tools/syncline";
}

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out{p, std::ios::binary};
  out << text;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Points the fixture's node.toml, copied to `dir`, at `dir`.
void make_config(const fs::path& dir) {
  auto text = read_file(dir / "node.toml");
  std::string out;
  for (size_t pos = 0;;) {
    auto at = text.find("FIXTURE", pos);
    out += text.substr(pos, at == std::string::npos ? std::string::npos : at - pos);
    if (at == std::string::npos) break;
    out += dir.string();
    pos = at + 7;
  }
  write_file(dir / "node.toml", out);
}

uint32_t stored_schema(const fs::path& data) {
  auto db = syncline::storage::database::open({data});
  BOOST_REQUIRE_MESSAGE(db, (db ? std::string{} : syncline::storage::render(db.error())));
  return (*db)->stored_schema_version();
}

// Waits, bounded, until `p` holds `text`.
bool wait_for_file(const fs::path& p, const std::string& text) {
  auto until = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < until) {
    std::error_code ec;
    if (fs::exists(p, ec) && read_file(p) == text) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_v1_data_directory_is_upgraded_and_shared_volumes_need_targets) {
  temp_dir tmp{"upgrade"};
  auto dir = tmp.path() / "fixture";
  fs::copy(fs::path{SYNCLINE_TOOLS_TEST_DATA} / "v1_fixture", dir, fs::copy_options::recursive);
  BOOST_REQUIRE_EQUAL(stored_schema(dir / "data"), 1u);

  // As it was: `a` and `b` share the volume `shared` at its root. The node refuses to start,
  // says how to give each a target, and leaves the data directory as it was.
  make_config(dir);
  {
    child_process node{syncline_binary(), {"node", "--config", (dir / "node.toml").string()}};
    auto st = node.wait_exit(60s);
    BOOST_REQUIRE_MESSAGE(st, node.output());
    BOOST_CHECK_NE(st->code, 0);
    auto out = node.output();
    BOOST_CHECK_MESSAGE(contains(out, "'a'") && contains(out, "'b'"), out);
    BOOST_CHECK_MESSAGE(contains(out, "volume 'shared'"), out);
    BOOST_CHECK_MESSAGE(contains(out, "add target = \"DIR\""), out);
  }
  BOOST_CHECK_EQUAL(stored_schema(dir / "data"), 1u);

  // With a target each, the node upgrades the directory and starts. `alone` keeps writing at
  // the root of its volume; `a` and `b` fill their new targets; what they copied before stays.
  {
    auto text = read_file(dir / "node.toml");
    auto patch = [&](const std::string& id, const std::string& target) {
      auto line = "id = \"" + id + "\"\n";
      auto at = text.find(line);
      BOOST_REQUIRE(at != std::string::npos);
      text.insert(at + line.size(), "target = \"" + target + "\"\n");
    };
    patch("a", "from-a");
    patch("b", "from-b");
    write_file(dir / "node.toml", text);
  }
  write_file(dir / "src-alone/sub/new.txt", "new alone");
  {
    child_process node{syncline_binary(), {"node", "--config", (dir / "node.toml").string()}};
    BOOST_REQUIRE_MESSAGE(node.wait_for_line("node ready", 60s), node.output());
    BOOST_CHECK_MESSAGE(wait_for_file(dir / "vol-solo/sub/new.txt", "new alone"), node.output());
    BOOST_CHECK_MESSAGE(wait_for_file(dir / "vol-shared/from-a/photos/1.jpg",
                                      read_file(dir / "src-a/photos/1.jpg")),
                        node.output());
    BOOST_CHECK_MESSAGE(wait_for_file(dir / "vol-shared/from-b/photos/2.jpg",
                                      read_file(dir / "src-b/photos/2.jpg")),
                        node.output());
    BOOST_CHECK_MESSAGE(contains(node.output(), "upgraded from schema version 1 to 2"),
                        node.output());
    node.send_signal(SIGTERM);
    auto st = node.wait_exit(60s);
    BOOST_REQUIRE(st);
    BOOST_CHECK_EQUAL(st->code, 0);
  }
  BOOST_CHECK(!fs::exists(dir / "vol-solo/alone"));
  BOOST_CHECK(fs::exists(dir / "vol-solo/sub/alone.txt"));
  // The copies made at the root before the upgrade are not destroyed.
  BOOST_CHECK(fs::exists(dir / "vol-shared/photos/1.jpg"));
  BOOST_CHECK(fs::exists(dir / "vol-shared/photos/2.jpg"));
  BOOST_CHECK(fs::exists(dir / "vol-shared/top.txt"));
  BOOST_CHECK_EQUAL(stored_schema(dir / "data"), syncline::storage::schema_version);

  // The upgraded records keep the targets: `alone` at the root (its configuration names none),
  // `a` and `b` where the configuration put them.
  auto db = syncline::storage::database::open({dir / "data"});
  BOOST_REQUIRE(db);
  for (auto [id, want] : {std::pair<const char*, const char*>{"alone", ""}, {"a", "from-a"},
                          {"b", "from-b"}}) {
    auto bytes = (*db)->get_meta(syncline::storage::datasource_store::record_key(id));
    BOOST_REQUIRE(bytes && *bytes);
    auto rec = syncline::actors::decode_datasource(**bytes);
    BOOST_REQUIRE(rec);
    BOOST_CHECK(rec->config.target == std::optional<std::string>{want});
  }
}
