// tests/connectors/local_volume_batch_test.cpp: the local volume's batch view (`for_batch`):
// unnamed files linked in at commit, their fallback to temporary names, replacements, and the
// directory it keeps from one file to the next never leading outside the root.
#define BOOST_TEST_MODULE connectors_local_volume_batch
#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "connectors/error.hpp"
#include "connectors/local_volume.hpp"
#include "tests/connectors/connector_test_util.hpp"

namespace fs = std::filesystem;
using namespace syncline::connectors;
using namespace syncline::test;

namespace {

struct fixture : volume_fixture_base {
  std::shared_ptr<volume> view(bool unnamed = true) {
    local_volume_options o;
    o.root = root.string();
    o.unnamed_files = unnamed;
    auto v = local_volume::make(o);
    BOOST_REQUIRE_MESSAGE(v, reason(v));
    std::shared_ptr<volume> whole = std::move(*v);
    return whole->for_batch();
  }
};

mode_t mode_of(const fs::path& p) {
  struct stat st;
  BOOST_REQUIRE_EQUAL(::lstat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

int64_t mtime_of(const fs::path& p) {
  struct stat st;
  BOOST_REQUIRE_EQUAL(::lstat(p.c_str(), &st), 0);
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(local_volume_batch_suite, fixture)

BOOST_AUTO_TEST_CASE(both_ways_nothing_is_under_the_final_name_before_commit) {
  for (bool unnamed : {true, false}) {
    BOOST_TEST_CONTEXT("unnamed files " << unnamed) {
      auto v = view(unnamed);
      const std::string dir = unnamed ? "u" : "n";
      REQUIRE_OK(v->make_directory(item(dir + "/", 0755)));
      // 0666 and 04755: bits the umask (or safe_mode) takes away are set, or left off, at commit.
      for (uint32_t mode : {0644u, 0600u, 0666u, 0444u, 04755u}) {
        const auto info = item(dir + "/f" + std::to_string(mode), mode, 1'500'000'000'000'000'007);
        auto w = open_writer(*v, info);
        REQUIRE_OK(w->write("content", 7));
        BOOST_CHECK(!fs::exists(root / info.reference));
        BOOST_CHECK_EQUAL(fs::exists(root / temporary_name(info.reference)), !unnamed);
        REQUIRE_OK(w->commit(info));
        BOOST_CHECK_EQUAL(slurp(root / info.reference), "content");
        BOOST_CHECK_EQUAL(mode_of(root / info.reference), mode & 0777);
        BOOST_CHECK_EQUAL(mtime_of(root / info.reference), 1'500'000'000'000'000'007);
      }
      BOOST_CHECK(tree_of(root / dir).size() == 5u);  // no temporary file left
    }
  }
}

BOOST_AUTO_TEST_CASE(a_replacement_and_a_stale_temporary_file_are_replaced) {
  auto v = view();
  write_file(root / "f", "old");
  write_file(root / temporary_name("f"), "stale leftover");
  put(*v, item("f"), "new");
  BOOST_CHECK_EQUAL(slurp(root / "f"), "new");
  BOOST_CHECK(tree_of(root) == std::vector<std::string>{"f"});
  // A symlink under the final name is replaced, not written through.
  BOOST_REQUIRE_EQUAL(::symlink((outside / "keep").c_str(), (root / "l").c_str()), 0);
  put(*v, item("l"), "mine");
  BOOST_CHECK_EQUAL(slurp(root / "l"), "mine");
  BOOST_CHECK_EQUAL(slurp(outside / "keep"), "precious");
}

BOOST_AUTO_TEST_CASE(abort_and_a_dropped_writer_leave_nothing) {
  auto v = view();
  auto w = open_writer(*v, item("a/x"));
  REQUIRE_OK(w->write("data", 4));
  w->abort();
  { auto dropped = open_writer(*v, item("a/y")); REQUIRE_OK(dropped->write("data", 4)); }
  BOOST_CHECK(tree_of(root) == std::vector<std::string>{"a"});
  // A resume (an offset) takes the temporary name, and keeps it.
  write_file(root / temporary_name("a/z"), "12345");
  auto r = open_writer(*v, item("a/z"), 3);
  BOOST_CHECK_EQUAL(r->offset(), 3u);
  REQUIRE_OK(r->write("xy", 2));
  REQUIRE_OK(r->commit(item("a/z")));
  BOOST_CHECK_EQUAL(slurp(root / "a" / "z"), "123xy");
}

BOOST_AUTO_TEST_CASE(a_file_cannot_be_committed_over_a_directory_and_leaves_nothing) {
  auto v = view();
  REQUIRE_OK(v->make_directory(item("d/", 0755)));
  write_file(root / "d" / "child", "c");
  auto w = open_writer(*v, item("d"));
  REQUIRE_OK(w->write("x", 1));
  BOOST_CHECK(w->commit(item("d")));
  BOOST_CHECK_EQUAL(slurp(root / "d" / "child"), "c");
  BOOST_CHECK(tree_of(root) == (std::vector<std::string>{"d", "d/child"}));
}

BOOST_AUTO_TEST_CASE(a_kept_directory_replaced_by_a_symlink_mid_batch_leads_nowhere_outside) {
  for (bool unnamed : {true, false}) {
    BOOST_TEST_CONTEXT("unnamed files " << unnamed) {
      fs::remove_all(root);
      fs::create_directories(root);
      auto v = view(unnamed);
      put(*v, item("d/a"), "a");  // the view keeps `d`
      // Meanwhile, `d` is moved aside and a symlink to outside the root takes its place.
      fs::rename(root / "d", root / "moved");
      BOOST_REQUIRE_EQUAL(::symlink(outside.c_str(), (root / "d").c_str()), 0);
      put(*v, item("d/b"), "b");
      // The file went where `d` was resolved to, never through the symlink.
      BOOST_CHECK_EQUAL(slurp(root / "moved" / "b"), "b");
      BOOST_CHECK(tree_of(outside) == std::vector<std::string>{"keep"});
      // Another directory, then `d` again: resolved afresh, and the symlink is refused.
      put(*v, item("e/c"), "c");
      CHECK_ERRC(v->open_writer(item("d/c"), 0), connector_errc::invalid_path);
      // So does a new batch's view.
      CHECK_ERRC(view(unnamed)->open_writer(item("d/c"), 0), connector_errc::invalid_path);
      BOOST_CHECK(tree_of(outside) == std::vector<std::string>{"keep"});
      BOOST_CHECK_EQUAL(slurp(outside / "keep"), "precious");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_kept_directory_removed_mid_batch_is_made_again) {
  for (bool unnamed : {true, false}) {
    BOOST_TEST_CONTEXT("unnamed files " << unnamed) {
      fs::remove_all(root);
      fs::create_directories(root);
      auto v = view(unnamed);
      put(*v, item("d/a"), "a");
      fs::remove_all(root / "d");
      put(*v, item("d/b"), "b");
      BOOST_CHECK(tree_of(root) == (std::vector<std::string>{"d", "d/b"}));
      // A removal through the view forgets what it kept.
      REQUIRE_OK(v->remove("d/"));
      put(*v, item("d/c"), "c");
      BOOST_CHECK(tree_of(root) == (std::vector<std::string>{"d", "d/c"}));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
