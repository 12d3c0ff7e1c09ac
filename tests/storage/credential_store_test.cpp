#define BOOST_TEST_MODULE storage_credential_store
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/stat.h>

#include "storage/credential_store.hpp"
#include "storage/database.hpp"
#include "storage/error.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"credentials"};
  std::unique_ptr<database> db;
  std::unique_ptr<credential_store> store;

  fixture() { reopen(); }
  void reopen() {
    store.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    auto s = credential_store::open(*db);
    BOOST_REQUIRE_MESSAGE(s, why(s));
    store = std::move(*s);
  }
  std::filesystem::path key_file() const { return dir.path() / "credentials.key"; }
};

bool file_contains(const std::filesystem::path& p, const std::string& needle) {
  std::ifstream in{p, std::ios::binary};
  std::string all{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  return all.find(needle) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(round_trip_survives_reopen_and_key_is_private, fixture) {
  BOOST_CHECK(!*store->has("ds1"));
  BOOST_CHECK(!*store->get("ds1"));
  BOOST_REQUIRE(!store->put("ds1", "{\"token\":\"hunter2-secret\"}"));
  BOOST_CHECK(*store->has("ds1"));
  reopen();
  auto got = store->get("ds1");
  BOOST_REQUIRE_MESSAGE(got, why(got));
  BOOST_REQUIRE(*got);
  BOOST_CHECK_EQUAL(**got, "{\"token\":\"hunter2-secret\"}");
  struct stat st {};
  BOOST_REQUIRE_EQUAL(::stat(key_file().c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 0777, 0600u);
  BOOST_CHECK_EQUAL(st.st_size, 32);
  BOOST_REQUIRE(!store->erase("ds1"));
  BOOST_CHECK(!*store->get("ds1"));
}

BOOST_FIXTURE_TEST_CASE(nothing_in_plaintext_and_values_bound_to_their_id, fixture) {
  BOOST_REQUIRE(!store->put("ds1", "plaintext-marker-4711"));
  BOOST_REQUIRE(!store->put("ds1", "plaintext-marker-4711"));  // a fresh nonce each time
  for (auto& e : std::filesystem::recursive_directory_iterator{dir.path()})
    if (e.is_regular_file())
      BOOST_CHECK_MESSAGE(!file_contains(e.path(), "plaintext-marker-4711"), e.path());
  // A value copied under another id does not decrypt.
  auto raw = db->get_meta(credential_store::key_of("ds1"));
  BOOST_REQUIRE(raw && *raw);
  BOOST_REQUIRE(!db->put_meta(credential_store::key_of("ds2"), **raw));
  auto stolen = store->get("ds2");
  BOOST_CHECK(!stolen);
  // Another key (a lost key file) cannot read them either.
  store.reset();
  db.reset();
  std::filesystem::remove(key_file());
  reopen();
  auto lost = store->get("ds1");
  BOOST_REQUIRE(!lost);
  BOOST_CHECK(is(lost.error(), storage_errc::corruption));
}

BOOST_FIXTURE_TEST_CASE(a_damaged_key_file_is_refused, fixture) {
  store.reset();
  db.reset();
  {
    std::ofstream out{key_file(), std::ios::binary | std::ios::trunc};
    out << "short";
  }
  db = syncline::test::open_db(dir.path());
  auto s = credential_store::open(*db);
  BOOST_REQUIRE(!s);
  BOOST_CHECK(is(s.error(), storage_errc::corruption));
}

// A refreshed token replaces what it was refreshed from, never credentials stored meanwhile.
BOOST_FIXTURE_TEST_CASE(replace_writes_only_over_what_it_read, fixture) {
  auto r = store->replace("ds1", "{}", "{\"a\":1}");
  BOOST_REQUIRE_MESSAGE(r, why(r));
  BOOST_CHECK(!*r);  // nothing stored: nothing replaced
  BOOST_CHECK(!*store->has("ds1"));
  BOOST_REQUIRE(!store->put("ds1", "{\"refresh_token\":\"one\"}"));
  r = store->replace("ds1", "{\"refresh_token\":\"one\"}", "{\"refresh_token\":\"two\"}");
  BOOST_REQUIRE(r && *r);
  BOOST_CHECK_EQUAL(**store->get("ds1"), "{\"refresh_token\":\"two\"}");
  // A person stored new credentials after the refresh began: theirs stay.
  BOOST_REQUIRE(!store->put("ds1", "{\"refresh_token\":\"person\"}"));
  r = store->replace("ds1", "{\"refresh_token\":\"two\"}", "{\"refresh_token\":\"three\"}");
  BOOST_REQUIRE(r);
  BOOST_CHECK(!*r);
  BOOST_CHECK_EQUAL(**store->get("ds1"), "{\"refresh_token\":\"person\"}");
}
