#define BOOST_TEST_MODULE actors_targets
#include <boost/test/unit_test.hpp>

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
