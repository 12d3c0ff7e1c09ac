#define BOOST_TEST_MODULE storage_element_store
#include <boost/test/unit_test.hpp>

#include "storage/database.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"element-store"};
  std::unique_ptr<database> db;
  std::unique_ptr<element_store> store;
  write_context alice{"alice", 1000};

  fixture() { reopen(); }
  void reopen() {
    store.reset();
    db.reset();
    auto opened = database::open({dir.path()});
    if (!opened) BOOST_FAIL(render(opened.error()));
    db = std::move(*opened);
    store = std::make_unique<element_store>(*db);
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(create_then_read_keeps_custom_keys_and_sets_author_time, fixture) {
  auto out = store->create(R"({"_id":"/a/b","k":[1,{"x":null}],"n":1.5})", alice);
  BOOST_REQUIRE(out);
  BOOST_REQUIRE_EQUAL(out->size(), 1u);
  BOOST_CHECK(out->at(0).result == element_result::created);
  auto got = store->read({"/a/b", "/missing"});
  BOOST_REQUIRE(got);
  BOOST_REQUIRE(got->at(0));
  BOOST_CHECK_EQUAL(*got->at(0),
                    R"({"_id":"/a/b","k":[1,{"x":null}],"n":1.5,"author":"alice","time":1000})");
  BOOST_CHECK(!got->at(1));
}

BOOST_FIXTURE_TEST_CASE(malformed_input_writes_nothing, fixture) {
  for (auto bad : {R"({"_id":"/a")", R"([{"_id":"/a"},3])", R"({"_id":5})", R"({"_id":""})",
                   R"("str")"}) {
    auto out = store->create(bad, alice);
    BOOST_CHECK_MESSAGE(!out, bad);
  }
  auto page = store->list("", "", 10);
  BOOST_REQUIRE(page);
  BOOST_CHECK(page->items.empty());
}
