#define BOOST_TEST_MODULE actors_targets
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>

#include "actors/targets.hpp"

using namespace syncline::actors;

namespace {

datasource_config ds(std::string id, std::vector<std::string> volumes) {
  datasource_config c;
  c.id = std::move(id);
  c.volumes = std::move(volumes);
  return c;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_target_per_volume_overrides_the_datasource_s) {
  auto c = ds("photos", {"a", "b"});
  // By default, a directory named after the datasource.
  BOOST_CHECK_EQUAL(target_of(c, "a"), "photos");
  c.target = "";
  BOOST_CHECK_EQUAL(target_of(c, "a"), "");
  c.target = "pics";
  c.targets["b"] = "elsewhere/pics";
  BOOST_CHECK_EQUAL(target_of(c, "a"), "pics");
  BOOST_CHECK_EQUAL(target_of(c, "b"), "elsewhere/pics");
  auto all = targets_of(c);
  BOOST_CHECK_EQUAL(all.size(), 2u);
  BOOST_CHECK_EQUAL(all["b"], "elsewhere/pics");
}

BOOST_AUTO_TEST_CASE(overlap_is_equal_or_nested_segment_by_segment) {
  BOOST_CHECK(targets_overlap("a", "a"));
  BOOST_CHECK(targets_overlap("a", "a/b"));
  BOOST_CHECK(targets_overlap("a/b/c", "a/b"));
  BOOST_CHECK(targets_overlap("", "anything"));
  BOOST_CHECK(targets_overlap("", ""));
  BOOST_CHECK(!targets_overlap("a", "ab"));
  BOOST_CHECK(!targets_overlap("a/b", "a/c"));
  BOOST_CHECK(!targets_overlap("ab/c", "a"));
}

BOOST_AUTO_TEST_CASE(bad_targets_are_named) {
  auto c = ds("photos", {"a"});
  c.target = "../up";
  BOOST_CHECK_NE(target_problem(c).find("target '../up'"), std::string::npos);
  c.target = "/abs";
  BOOST_CHECK_NE(target_problem(c).find("relative"), std::string::npos);
  c.target = "ok/deep";
  BOOST_CHECK_EQUAL(target_problem(c), "");
  c.targets["nope"] = "x";
  BOOST_CHECK_NE(target_problem(c).find("'nope' is not one of its volumes"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(conflicts_name_both_datasources_and_the_volume) {
  auto a = ds("a", {"v", "w"});
  auto b = ds("b", {"v"});
  auto c = ds("c", {"w"});
  a.target = "a";
  b.target = "b";
  c.target = "a/sub";
  // b and a share v without overlapping; c is inside a's target in w.
  BOOST_CHECK_EQUAL(target_conflict(std::vector<datasource_config>{a, b}), "");
  auto msg = target_conflict(std::vector<datasource_config>{a, b, c});
  BOOST_CHECK_NE(msg.find("'a' and 'c'"), std::string::npos);
  BOOST_CHECK_NE(msg.find("volume 'w'"), std::string::npos);
  // The root is for a datasource alone in its volume.
  b.target = "";
  BOOST_CHECK_NE(target_conflict(b, {a}).find("the volume's root"), std::string::npos);
  BOOST_CHECK_EQUAL(target_conflict(b, {c}), "");  // c does not feed v
  // A datasource's older self is not a conflict.
  BOOST_CHECK_EQUAL(target_conflict(b, {b}), "");
}

BOOST_AUTO_TEST_CASE(a_folder_may_neither_contain_nor_lie_inside_a_volume_or_the_data_directory) {
  namespace fs = std::filesystem;
  auto base = fs::temp_directory_path() / ("targets-test-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "home/photos/backup");
  fs::create_directories(base / "srv/backup");
  fs::create_directories(base / "data");
  fs::create_directories(base / "elsewhere");
  fs::create_directory_symlink(base / "home", base / "link");
  std::vector<volume_config> volumes(2);
  volumes[0].id = "inside";
  volumes[0].path = (base / "home/photos/backup").string();
  volumes[1].id = "nothing";
  volumes[1].type = "null";
  auto c = ds("photos", {"inside"});
  c.type = "folder";
  // The source contains a volume: named with both paths.
  c.path = (base / "home/photos").string();
  auto msg = source_overlap(c, volumes, (base / "data").string());
  BOOST_CHECK_NE(msg.find("contains volume 'inside'"), std::string::npos);
  BOOST_CHECK_NE(msg.find(c.path), std::string::npos);
  // Through a symlink it is the same folder.
  c.path = (base / "link/photos").string();
  BOOST_CHECK_NE(source_overlap(c, volumes, "").find("volume 'inside'"), std::string::npos);
  // Inside a volume, or the volume itself.
  c.path = (base / "home/photos/backup/sub").string();
  BOOST_CHECK_NE(source_overlap(c, volumes, "").find("is inside volume"), std::string::npos);
  c.path = (base / "home/photos/backup").string();
  BOOST_CHECK_NE(source_overlap(c, volumes, "").find(" is volume"), std::string::npos);
  // The data directory, inside or around.
  volumes[0].path = (base / "srv/backup").string();
  c.path = base.string();
  BOOST_CHECK_NE(source_overlap(c, volumes, (base / "data").string()).find("contains"),
                 std::string::npos);
  c.path = (base / "home").string();
  BOOST_CHECK_NE(source_overlap(c, volumes, (base / "home/.syncline").string()).find("data directory"),
                 std::string::npos);
  // Apart: fine, whatever the names (`home` and `home2` do not overlap).
  c.path = (base / "home").string();
  volumes[0].path = (base / "home2").string();
  BOOST_CHECK_EQUAL(source_overlap(c, volumes, (base / "data").string()), "");
  // Only folders have a path to compare.
  c.type = "synthetic";
  c.path = (base / "home2").string();
  BOOST_CHECK_EQUAL(source_overlap(c, volumes, ""), "");
  fs::remove_all(base);
}
