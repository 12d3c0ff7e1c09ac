// connectors::tree_watch on real directories: what a change reports, new directories watched
// with what they already hold, a directory moved within the tree or out of it, the root removed,
// and a tree bigger than its limit refused.
#define BOOST_TEST_MODULE connectors_tree_watch
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "connectors/error.hpp"
#include "connectors/tree_watch.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline;
using connectors::tree_watch;
using connectors::watch_changes;
using syncline::test::temp_dir;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text = "x") {
  fs::create_directories(p.parent_path());
  std::ofstream{p} << text;
}

bool has(const watch_changes& c, const std::string& path) {
  return std::find(c.paths.begin(), c.paths.end(), path) != c.paths.end();
}

// Reads until `done` holds for what was read, or 10 s passed (a bound, not a timing).
watch_changes read_until(tree_watch& w, const std::function<bool(const watch_changes&)>& done) {
  watch_changes out;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (!done(out) && std::chrono::steady_clock::now() < end) {
    pollfd p{w.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) w.read(out);
  }
  return out;
}

std::unique_ptr<tree_watch> open(const fs::path& root, size_t max = 1000) {
  auto w = tree_watch::open(root.string(), max);
  // (Boost.Test builds the message even when the check passes: no error() of a value.)
  BOOST_REQUIRE_MESSAGE(w, (w ? std::string{} : connectors::render(w.error())));
  return std::move(*w);
}

}  // namespace

BOOST_AUTO_TEST_CASE(changes_anywhere_in_the_tree_are_reported_once_each) {
  temp_dir t;
  write(t.path() / "a" / "b" / "old.txt");
  write(t.path() / "top.txt");
  auto w = open(t.path());
  BOOST_CHECK_EQUAL(w->watches(), 3u);  // the root, a, a/b
  write(t.path() / "a" / "b" / "new.txt");
  write(t.path() / "a" / "b" / "old.txt", "changed");
  fs::remove(t.path() / "top.txt");
  auto c = read_until(*w, [](const watch_changes& x) {
    return has(x, "a/b/new.txt") && has(x, "a/b/old.txt") && has(x, "top.txt");
  });
  BOOST_CHECK(has(c, "a/b/new.txt"));
  BOOST_CHECK(has(c, "a/b/old.txt"));
  BOOST_CHECK(has(c, "top.txt"));
  BOOST_CHECK_EQUAL(std::count(c.paths.begin(), c.paths.end(), "a/b/old.txt"), 1);
  BOOST_CHECK(!c.overflow);
  BOOST_CHECK(!c.root_gone);
}

BOOST_AUTO_TEST_CASE(a_new_directory_is_watched_with_what_it_already_holds) {
  temp_dir t;
  auto w = open(t.path());
  // Made faster than the watch of `n` can be set: its contents are reported from a listing.
  write(t.path() / "n" / "m" / "deep.txt");
  auto c = read_until(*w, [](const watch_changes& x) { return has(x, "n/m/deep.txt"); });
  BOOST_CHECK(has(c, "n"));
  BOOST_CHECK(has(c, "n/m/deep.txt"));
  BOOST_CHECK_EQUAL(w->watches(), 3u);
  // And what happens in it afterwards.
  write(t.path() / "n" / "m" / "later.txt");
  c = read_until(*w, [](const watch_changes& x) { return has(x, "n/m/later.txt"); });
  BOOST_CHECK(has(c, "n/m/later.txt"));
}

BOOST_AUTO_TEST_CASE(moved_directories_keep_their_watches_right) {
  temp_dir t;
  temp_dir outside;
  write(t.path() / "d" / "e" / "f.txt");
  write(t.path() / "gone" / "g.txt");
  auto w = open(t.path());
  BOOST_CHECK_EQUAL(w->watches(), 4u);
  fs::rename(t.path() / "d", t.path() / "moved");
  fs::rename(t.path() / "gone", outside.path() / "gone");
  auto c = read_until(*w, [](const watch_changes& x) { return has(x, "moved") && has(x, "gone"); });
  BOOST_CHECK(has(c, "d"));
  BOOST_CHECK(has(c, "moved"));
  BOOST_CHECK(c.overflow);  // the files beneath a moved directory are not named: walk
  BOOST_CHECK_EQUAL(w->watches(), 3u);  // the root, moved, moved/e
  // A change under the moved directory is reported under its new path; one in the directory
  // moved out of the tree is not reported.
  write(t.path() / "moved" / "e" / "h.txt");
  write(outside.path() / "gone" / "x.txt");
  c = read_until(*w, [](const watch_changes& x) { return has(x, "moved/e/h.txt"); });
  BOOST_CHECK(has(c, "moved/e/h.txt"));
  BOOST_CHECK(std::none_of(c.paths.begin(), c.paths.end(),
                           [](const std::string& p) { return p.find("x.txt") != std::string::npos; }));
}

BOOST_AUTO_TEST_CASE(the_root_removed_is_reported) {
  temp_dir t;
  auto root = t.path() / "root";
  write(root / "a.txt");
  auto w = open(root);
  fs::remove_all(root);
  auto c = read_until(*w, [](const watch_changes& x) { return x.root_gone; });
  BOOST_CHECK(c.root_gone);
}

BOOST_AUTO_TEST_CASE(a_tree_beyond_its_limit_or_missing_is_refused) {
  temp_dir t;
  for (int i = 0; i < 5; ++i) fs::create_directories(t.path() / ("d" + std::to_string(i)));
  auto w = tree_watch::open(t.path().string(), 3);
  BOOST_REQUIRE(!w);
  BOOST_CHECK(connectors::is(w.error(), connectors::connector_errc::no_space));
  BOOST_CHECK_MESSAGE(connectors::render(w.error()).find("more than 3 directories") != std::string::npos,
                      connectors::render(w.error()));
  auto none = tree_watch::open((t.path() / "nope").string(), 10);
  BOOST_REQUIRE(!none);
  BOOST_CHECK(connectors::is(none.error(), connectors::connector_errc::bad_config));
}

// One inotify instance for many trees (the node's way): trees that overlap are each told their
// changes under their own paths, and one tree let go or refused leaves the others' watches.
namespace {

using connectors::watch_group;

// Reads the group until `done` holds for what tree `a` and tree `b` gathered, or 10 s passed.
void read_group(watch_group& g, uint64_t a, watch_changes& ca, uint64_t b, watch_changes& cb,
                const std::function<bool()>& done) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (!done() && std::chrono::steady_clock::now() < end) {
    pollfd p{g.fd(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0)
      g.read([&](uint64_t t) { return t == a ? &ca : t == b ? &cb : nullptr; });
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_instance_serves_overlapping_trees_each_under_its_own_paths) {
  temp_dir t;
  write(t.path() / "in" / "d" / "old.txt");
  write(t.path() / "top.txt");
  auto g = watch_group::open();
  BOOST_REQUIRE(g);
  auto outer = (*g)->add(t.path().string(), 100);
  auto inner = (*g)->add((t.path() / "in").string(), 100);
  BOOST_REQUIRE(outer && inner);
  BOOST_CHECK_EQUAL((*g)->watches(*outer), 3u);  // the root, in, in/d
  BOOST_CHECK_EQUAL((*g)->watches(*inner), 2u);  // in, in/d
  watch_changes co, ci;
  write(t.path() / "in" / "d" / "new.txt");
  write(t.path() / "top2.txt");
  read_group(**g, *outer, co, *inner, ci,
             [&] { return has(co, "in/d/new.txt") && has(co, "top2.txt") && has(ci, "d/new.txt"); });
  BOOST_CHECK(has(co, "in/d/new.txt"));
  BOOST_CHECK(has(co, "top2.txt"));
  BOOST_CHECK(has(ci, "d/new.txt"));
  BOOST_CHECK(!has(ci, "top2.txt"));  // outside the inner tree
  BOOST_CHECK(!co.overflow && !ci.overflow);

  // The outer tree let go: the inner one keeps the directories both watched.
  (*g)->remove(*outer);
  BOOST_CHECK_EQUAL((*g)->watches(*outer), 0u);
  BOOST_CHECK_EQUAL((*g)->watches(*inner), 2u);
  co = {};
  ci = {};
  write(t.path() / "in" / "d" / "later.txt");
  read_group(**g, *outer, co, *inner, ci, [&] { return has(ci, "d/later.txt"); });
  BOOST_CHECK(has(ci, "d/later.txt"));
  BOOST_CHECK(co.paths.empty());

  // A directory created in the inner tree is watched with what it holds.
  fs::create_directories(t.path() / "in" / "fresh");
  write(t.path() / "in" / "fresh" / "f.txt");
  read_group(**g, *outer, co, *inner, ci, [&] { return has(ci, "fresh/f.txt"); });
  BOOST_CHECK(has(ci, "fresh/f.txt"));
  BOOST_CHECK_EQUAL((*g)->watches(*inner), 3u);
}

BOOST_AUTO_TEST_CASE(a_tree_refused_by_the_group_leaves_the_others_watched) {
  temp_dir t;
  // t holds only `small`, which holds five directories: a walk of t watches t, small and
  // small's first directory, then is refused (limit 3): two of those watches are small's too.
  write(t.path() / "small" / "a.txt");
  for (int i = 0; i < 5; ++i) fs::create_directories(t.path() / "small" / ("d" + std::to_string(i)));
  auto g = watch_group::open();
  BOOST_REQUIRE(g);
  auto small = (*g)->add((t.path() / "small").string(), 10);
  BOOST_REQUIRE(small);
  BOOST_CHECK_EQUAL((*g)->watches(*small), 6u);
  auto big = (*g)->add(t.path().string(), 3);
  BOOST_REQUIRE(!big);
  BOOST_CHECK(connectors::is(big.error(), connectors::connector_errc::no_space));
  BOOST_CHECK_EQUAL((*g)->watches(*small), 6u);
  // Every directory of small still reports, the shared ones included.
  watch_changes cs, none;
  write(t.path() / "small" / "b.txt");
  for (int i = 0; i < 5; ++i) write(t.path() / "small" / ("d" + std::to_string(i)) / "x.txt");
  auto all = [&] {
    if (!has(cs, "b.txt")) return false;
    for (int i = 0; i < 5; ++i)
      if (!has(cs, "d" + std::to_string(i) + "/x.txt")) return false;
    return true;
  };
  read_group(**g, *small, cs, 0, none, all);
  BOOST_CHECK(all());
  BOOST_CHECK(none.paths.empty());
}
