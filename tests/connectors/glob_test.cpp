// tests/connectors/glob_test.cpp: glob patterns and include/exclude filters.
#define BOOST_TEST_MODULE connectors_glob
#include "connectors/glob.hpp"

#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "connectors/error.hpp"
#include "tests/connectors/connector_test_util.hpp"

using namespace syncline::connectors;

namespace {

glob_set compile(std::vector<std::string> patterns) {
  auto g = glob_set::compile(patterns);
  BOOST_REQUIRE_MESSAGE(g, syncline::test::reason(g));
  return *g;
}

void check_matches(const std::string& pattern, std::vector<std::string> yes,
                   std::vector<std::string> no) {
  const auto g = compile({pattern});
  for (const auto& ref : yes) {
    BOOST_CHECK_MESSAGE(g.matches(ref), "'" << pattern << "' should match '" << ref << "'");
  }
  for (const auto& ref : no) {
    BOOST_CHECK_MESSAGE(!g.matches(ref), "'" << pattern << "' should not match '" << ref << "'");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(star_stays_within_a_segment_and_unanchored_patterns_match_names) {
  check_matches("*.jpg", {"a.jpg", "x/y/a.jpg", ".jpg", "dir.jpg/"},
                {"a.jpg.bak", "a/jpg", "x/a.jpgx", "a.JPG"});
  check_matches("a*", {"a", "abc", "x/abc"}, {"ba", "b/ca"});
  check_matches("?.txt", {"a.txt", "d/b.txt"}, {"ab.txt", ".txt"});
  check_matches("*", {"a", "a/b", "a/", "\xc3\xa9"}, {});
}

BOOST_AUTO_TEST_CASE(slashes_anchor_at_the_root) {
  check_matches("/tmp", {"tmp", "tmp/"}, {"a/tmp", "tmpx", "tmp/x"});
  check_matches("a/*.o", {"a/x.o", "a/.o"}, {"a/b/x.o", "b/a/x.o", "x.o"});
  check_matches("a/b", {"a/b", "a/b/"}, {"x/a/b", "a/b/c"});
}

BOOST_AUTO_TEST_CASE(double_star_crosses_slashes) {
  check_matches("**/cache", {"cache", "x/cache", "x/y/cache", "x/cache/"}, {"xcache", "cache/x"});
  check_matches("a/**", {"a/x", "a/x/y", "a/x/"}, {"a", "a/", "b/a/x"});
  check_matches("a/**/b", {"a/b", "a/x/b", "a/x/y/b"}, {"a/xb", "ab", "a/b/c"});
  check_matches("**", {"a", "a/b/c", "d/"}, {});
  check_matches("**/*.jpg", {"a.jpg", "x/y/a.jpg"}, {"a.png"});
  check_matches("a**b", {"ab", "axxb", "a/x/b"}, {"ba"});
}

BOOST_AUTO_TEST_CASE(classes_and_escapes) {
  check_matches("[abc].txt", {"a.txt", "c.txt"}, {"d.txt", "ab.txt"});
  check_matches("[!abc].txt", {"d.txt", "z.txt"}, {"a.txt", "/.txt"});
  check_matches("[^abc].txt", {"d.txt"}, {"b.txt"});
  check_matches("[a-c]x", {"ax", "bx", "cx"}, {"dx", "-x"});
  check_matches("[]]x", {"]x"}, {"x", "ax"});
  check_matches("[a-]x", {"ax", "-x"}, {"bx"});
  check_matches("\\*.txt", {"*.txt"}, {"a.txt"});
  check_matches("\\[x\\]", {"[x]"}, {"x"});
  check_matches("a\\\\b", {"a\\b"}, {"ab"});
  // Regular expression characters are literal.
  check_matches("a+b(c).{1}$^|", {"a+b(c).{1}$^|"}, {"aab(c).{1}$^|", "a+bc"});
  check_matches("a.b", {"a.b"}, {"axb"});
}

BOOST_AUTO_TEST_CASE(trailing_slash_means_directories_only) {
  check_matches("cache/", {"cache/", "a/cache/"}, {"cache", "a/cache", "cache/x"});
  check_matches("/build/", {"build/"}, {"build", "a/build/"});
}

BOOST_AUTO_TEST_CASE(bytes_not_characters) {
  check_matches("\xc3\xa9*", {"\xc3\xa9t\xc3\xa9", "d/\xc3\xa9"}, {"e"});
  check_matches("\xff*", {"\xff\x01", "\xff"}, {"\xfe"});
  check_matches("a?b",
                {"a\nb",
                 "a\xff"
                 "b"},
                {"a/b",
                 "a\xc3\xa9"
                 "b"});  // `?` is one byte
  check_matches("*", {"new\nline"}, {});
}

BOOST_AUTO_TEST_CASE(sets_match_any_pattern) {
  const auto g = compile({"*.jpg", "/docs/", "tmp"});
  BOOST_CHECK(g.matches("a/b.jpg"));
  BOOST_CHECK(g.matches("docs/"));
  BOOST_CHECK(!g.matches("docs"));
  BOOST_CHECK(g.matches("x/tmp"));
  BOOST_CHECK(g.matches("x/tmp/"));
  BOOST_CHECK(!g.matches("x/y"));
  BOOST_CHECK_EQUAL(g.patterns().size(), 3u);
  const glob_set empty;
  BOOST_CHECK(empty.empty());
  BOOST_CHECK(!empty.matches("a"));
  BOOST_CHECK(!compile({}).matches("a"));
  // Only directory patterns: files never match.
  BOOST_CHECK(!compile({"d/"}).matches("d"));
}

BOOST_AUTO_TEST_CASE(invalid_patterns_are_bad_config_naming_the_pattern) {
  for (const char* p : {"", "[abc", "abc\\", "[a/b]", "[z-a]", "/", "[!", "[\\"}) {
    BOOST_TEST_CONTEXT("'" << p << "'") {
      auto g = glob_set::compile({"fine", p});
      CHECK_ERRC(g, connector_errc::bad_config);
      if (!g) {
        BOOST_CHECK_MESSAGE(render(g.error()).find("'" + std::string{p} + "'") != std::string::npos,
                            render(g.error()));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(filters_keep_exclude_and_prune) {
  auto f = path_filter::make({"*.jpg"}, {"/tmp", "*.bak", "cache/"});
  BOOST_REQUIRE_MESSAGE(f, syncline::test::reason(f));
  BOOST_CHECK(f->keep("a.jpg"));
  BOOST_CHECK(f->keep("x/y/a.jpg"));
  BOOST_CHECK(!f->keep("a.png"));   // not included
  BOOST_CHECK(f->keep("photos/"));  // directories are kept unless excluded
  BOOST_CHECK(!f->keep("tmp/"));    // excluded
  BOOST_CHECK(!f->keep("old.jpg.bak"));
  BOOST_CHECK(!f->keep("x.bak/"));  // exclusions apply to directories too
  BOOST_CHECK(!f->keep("a/cache/"));
  BOOST_CHECK(f->keep("a/cache.jpg"));
  // keep() looks at the item alone; admits() at its ancestors too.
  BOOST_CHECK(f->keep("tmp/a.jpg"));
  BOOST_CHECK(!f->admits("tmp/a.jpg"));
  BOOST_CHECK(!f->admits("a/cache/b/c.jpg"));
  BOOST_CHECK(!f->admits("tmp/"));
  BOOST_CHECK(f->admits("a/tmp/b.jpg"));  // `/tmp` is anchored
  BOOST_CHECK(f->admits("a/b/"));
  BOOST_CHECK(!f->admits("a/b.png"));

  const path_filter all;
  BOOST_CHECK(all.keeps_all());
  BOOST_CHECK(all.admits("anything/at/all"));

  auto only_exclude = path_filter::make({}, {"*.o"});
  BOOST_REQUIRE(only_exclude);
  BOOST_CHECK(only_exclude->keep("a.c"));
  BOOST_CHECK(!only_exclude->keep("a.o"));

  CHECK_ERRC(path_filter::make({"[x"}, {}), connector_errc::bad_config);
  CHECK_ERRC(path_filter::make({}, {"y\\"}), connector_errc::bad_config);
}
