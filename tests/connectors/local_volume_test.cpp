// tests/connectors/local_volume_test.cpp: what is particular to the local directory volume:
// planted symlinks, replacing items of another kind, read-back hashes, configuration errors.
#define BOOST_TEST_MODULE connectors_local_volume
#include "connectors/local_volume.hpp"

#include <filesystem>
#include <string>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <xxhash.h>

#include "connectors/error.hpp"
#include "tests/connectors/connector_test_util.hpp"
#include "tests/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace syncline::connectors;
using namespace syncline::test;

namespace {

struct fixture {
  temp_dir base{"local-vol"};
  fs::path root = base.path() / "root";
  fs::path outside = base.path() / "outside";
  std::unique_ptr<local_volume> vol;

  fixture() {
    fs::create_directories(root);
    fs::create_directories(outside);
    write_file(outside / "keep", "precious");
    auto v = local_volume::make({root.string()});
    BOOST_REQUIRE_MESSAGE(v, reason(v));
    vol = std::move(*v);
  }

  std::unique_ptr<item_writer> writer(const item_info& info, uint64_t resume = 0) {
    auto w = vol->open_writer(info, resume);
    BOOST_REQUIRE_MESSAGE(w, reason(w));
    return std::move(*w);
  }
};

bool is_link(const fs::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(local_volume_suite, fixture)

BOOST_AUTO_TEST_CASE(a_symlink_planted_under_the_temporary_name_is_not_written_through) {
  BOOST_REQUIRE_EQUAL(::symlink((outside / "keep").c_str(), (root / temporary_name("f")).c_str()),
                      0);
  auto w = writer(item("f"), 100);
  BOOST_CHECK_EQUAL(w->offset(), 0u);
  REQUIRE_OK(w->write("mine", 4));
  REQUIRE_OK(w->commit(item("f")));
  BOOST_CHECK_EQUAL(slurp(outside / "keep"), "precious");
  BOOST_CHECK_EQUAL(slurp(root / "f"), "mine");
  BOOST_CHECK(!is_link(root / "f"));
}

BOOST_AUTO_TEST_CASE(a_file_committed_over_a_symlink_replaces_the_link) {
  BOOST_REQUIRE_EQUAL(::symlink((outside / "keep").c_str(), (root / "link").c_str()), 0);
  auto w = writer(item("link"));
  REQUIRE_OK(w->write("new", 3));
  REQUIRE_OK(w->commit(item("link", 0600)));
  BOOST_CHECK(!is_link(root / "link"));
  BOOST_CHECK_EQUAL(slurp(root / "link"), "new");
  BOOST_CHECK_EQUAL(slurp(outside / "keep"), "precious");
  // set_mtime on a symlink changes the link, not what it points to.
  struct stat before;
  BOOST_REQUIRE_EQUAL(::stat((outside / "keep").c_str(), &before), 0);
  BOOST_REQUIRE_EQUAL(::symlink((outside / "keep").c_str(), (root / "link2").c_str()), 0);
  REQUIRE_OK(vol->set_mtime("link2", 42'000'000'000));
  struct stat after;
  BOOST_REQUIRE_EQUAL(::stat((outside / "keep").c_str(), &after), 0);
  BOOST_CHECK_EQUAL(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
  BOOST_CHECK_EQUAL(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  BOOST_CHECK_EQUAL((*vol->stat("link2"))->mtime_ns, 42'000'000'000);
}

BOOST_AUTO_TEST_CASE(a_directory_replaces_a_file_or_symlink_of_its_name) {
  write_file(root / "x", "was a file");
  BOOST_REQUIRE_EQUAL(::symlink((outside).c_str(), (root / "y").c_str()), 0);
  REQUIRE_OK(vol->make_directory(item("x/", 0755)));
  REQUIRE_OK(vol->make_directory(item("y/", 0755)));
  BOOST_CHECK(fs::is_directory(fs::symlink_status(root / "x")));
  BOOST_CHECK(fs::is_directory(fs::symlink_status(root / "y")));
  BOOST_CHECK_EQUAL(slurp(outside / "keep"), "precious");
  // The queued removal of the old file `x` must not take the new directory with it.
  REQUIRE_OK(vol->remove("x"));
  BOOST_CHECK(fs::is_directory(fs::symlink_status(root / "x")));
}

BOOST_AUTO_TEST_CASE(a_file_cannot_be_committed_over_a_directory) {
  REQUIRE_OK(vol->make_directory(item("d/", 0755)));
  write_file(root / "d" / "child", "c");
  auto w = writer(item("d"));
  REQUIRE_OK(w->write("x", 1));
  BOOST_CHECK(w->commit(item("d")));
  BOOST_CHECK_EQUAL(slurp(root / "d" / "child"), "c");
  // Once the directory is removed, the same writer... is spent; a new one succeeds.
  REQUIRE_OK(vol->remove("d/"));
  auto again = writer(item("d"), 1);
  BOOST_CHECK_EQUAL(again->offset(), 1u);  // the temporary file survived the failed commit
  REQUIRE_OK(again->commit(item("d")));
  BOOST_CHECK_EQUAL(slurp(root / "d"), "x");
}

BOOST_AUTO_TEST_CASE(content_hash_reads_back_what_was_written) {
  std::string data;
  for (int k = 0; data.size() < 700000; ++k) data += std::to_string(k * 7919) + ';';
  auto w = writer(item("h"));
  REQUIRE_OK(w->write(data.data(), 300000));
  auto partial = w->content_hash();
  BOOST_REQUIRE_MESSAGE(partial, reason(partial));
  BOOST_CHECK_EQUAL(*partial, XXH3_64bits(data.data(), 300000));
  w.reset();
  auto resumed = writer(item("h"), 300000);
  REQUIRE_OK(resumed->write(data.data() + 300000, data.size() - 300000));
  auto full = resumed->content_hash();
  BOOST_REQUIRE(full);
  BOOST_CHECK_EQUAL(*full, XXH3_64bits(data.data(), data.size()));
  REQUIRE_OK(resumed->commit(item("h")));
  // A spent writer says so.
  CHECK_ERRC(resumed->write("x", 1), connector_errc::io_error);
  CHECK_ERRC(resumed->content_hash(), connector_errc::io_error);
  resumed->abort();  // harmless
  BOOST_CHECK_EQUAL(slurp(root / "h"), data);
}

BOOST_AUTO_TEST_CASE(missing_parents_are_created) {
  REQUIRE_OK(vol->make_symlink(item("a/b/c/l", 0777, 0, "t")));
  BOOST_CHECK(is_link(root / "a" / "b" / "c" / "l"));
  auto w = writer(item("e/f/g/h"));
  BOOST_CHECK(fs::is_directory(root / "e" / "f" / "g"));
  w->abort();
  // A file in the way of a parent is not replaced.
  write_file(root / "file", "f");
  BOOST_CHECK(vol->open_writer(item("file/x"), 0).error());
  BOOST_CHECK_EQUAL(slurp(root / "file"), "f");
}

BOOST_AUTO_TEST_CASE(deep_trees_are_removed) {
  fs::path p = root;
  std::string ref;
  for (int k = 0; k < 60; ++k) {
    p /= "level" + std::to_string(k);
    ref += "level" + std::to_string(k) + "/";
    fs::create_directories(p);
    write_file(p / "f", "f");
    BOOST_REQUIRE_EQUAL(::symlink((outside / "keep").c_str(), (p / "l").c_str()), 0);
  }
  REQUIRE_OK(vol->remove("level0/"));
  BOOST_CHECK(fs::is_empty(root));
  BOOST_CHECK_EQUAL(slurp(outside / "keep"), "precious");
}

// A volume removes a directory and one of its subdirectories in two transfers at once (a
// source emptied by a person, its removals confirmed): whichever comes second finds its
// directory gone, even while reading it (getdents on a removed directory fails with ENOENT),
// and that is success, not an error. Bounded: 100 rounds of two threads.
BOOST_AUTO_TEST_CASE(a_directory_removed_while_another_removal_reads_it_is_no_error) {
  for (int round = 0; round < 100; ++round) {
    for (int k = 0; k < 20; ++k) {
      fs::create_directories(root / "a/b" / std::to_string(k));
      write_file(root / "a/b" / std::to_string(k) / "f", "f");
    }
    caf::error outer, inner;
    std::thread other{[&] { inner = vol->remove("a/b/"); }};
    outer = vol->remove("a/");
    other.join();
    BOOST_REQUIRE_MESSAGE(!outer, reason(outer));
    BOOST_REQUIRE_MESSAGE(!inner, reason(inner));
    BOOST_REQUIRE(!fs::exists(root / "a"));
  }
}

BOOST_AUTO_TEST_CASE(configuration_errors) {
  CHECK_ERRC(local_volume::make({""}), connector_errc::bad_config);
  auto missing = local_volume::make({(base.path() / "missing").string()});
  BOOST_REQUIRE(missing);
  CHECK_ERRC((*missing)->check(), connector_errc::bad_config);
  CHECK_ERRC((*missing)->open_writer(item("x"), 0), connector_errc::bad_config);
  CHECK_ERRC((*missing)->list(), connector_errc::bad_config);
  CHECK_ERRC((*missing)->sync(), connector_errc::bad_config);
  BOOST_CHECK(!fs::exists(base.path() / "missing"));  // never created behind the user's back
  auto file = local_volume::make({(outside / "keep").string()});
  BOOST_REQUIRE(file);
  CHECK_ERRC((*file)->check(), connector_errc::bad_config);
  BOOST_CHECK_EQUAL(vol->describe(), "directory " + root.string());
}

BOOST_AUTO_TEST_SUITE_END()
