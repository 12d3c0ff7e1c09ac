#define BOOST_TEST_MODULE storage_datasource_store
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include "storage/credential_store.hpp"
#include "storage/database.hpp"
#include "storage/datasource_store.hpp"
#include "storage/datastore.hpp"
#include "storage/error.hpp"
#include "storage/run_log.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"ds-store"};
  std::unique_ptr<database> db;
  std::unique_ptr<datastore> rows;
  std::unique_ptr<run_log> runs;
  std::unique_ptr<transfer_queue> queue;
  std::unique_ptr<datasource_store> store;

  fixture() { reopen(); }
  void reopen() {
    store.reset();
    queue.reset();
    runs.reset();
    rows.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    rows = std::make_unique<datastore>(*db);
    runs = std::make_unique<run_log>(*db);
    auto q = transfer_queue::open(*db);
    BOOST_REQUIRE_MESSAGE(q, why(q));
    queue = std::move(*q);
    store = std::make_unique<datasource_store>(*db, *rows, *queue, *runs);
  }

  datasource_access owner(std::string who) {
    datasource_access a;
    a.origin = "api";
    a.owner = std::move(who);
    a.created_ms = 42;
    return a;
  }

  // Gives datasource `id` state under every prefix: rows, queue items and a resume point in
  // link `link`, runs, credentials.
  void fill(const std::string& id, const datasource_link& link) {
    datastore_row row;
    row.reference = "a.txt";
    row.size = 3;
    BOOST_REQUIRE(!rows->put(link.rows, row));
    BOOST_REQUIRE(queue->push(link.queue, 0, "a.txt"));
    BOOST_REQUIRE(queue->push(link.queue, 0, "b.txt"));
    BOOST_REQUIRE(!db->put_meta(datasource_store::checkpoint_key(link.queue, "a.txt"), "3"));
    BOOST_REQUIRE(runs->begin(id, 1000, "manual"));
    BOOST_REQUIRE(!db->put_meta(credential_store::key_of(id), "sealed"));
  }

  bool has_rows(const std::string& scope) { return rows->scan(scope).valid(); }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(create_writes_record_and_access_together_once, fixture) {
  BOOST_REQUIRE(!store->create("docs", "record-bytes", owner("ed")));
  auto rec = store->record("docs");
  BOOST_REQUIRE(rec && *rec);
  BOOST_CHECK_EQUAL(**rec, "record-bytes");
  auto access = store->access("docs");
  BOOST_REQUIRE(access && *access);
  BOOST_CHECK((**access) == owner("ed"));
  // A second create of the id changes nothing.
  auto again = store->create("docs", "other", owner("mallory"));
  BOOST_CHECK(is(again, storage_errc::already_exists));
  BOOST_CHECK_EQUAL(**store->record("docs"), "record-bytes");
  BOOST_CHECK_EQUAL((*store->access("docs"))->owner, "ed");
  reopen();
  BOOST_CHECK_EQUAL((*store->access("docs"))->owner, "ed");
}

BOOST_FIXTURE_TEST_CASE(access_lists_round_trip_and_update_under_one_lock, fixture) {
  auto a = owner("ed \"the\" editor");
  a.members = {{"gina", "invited"}, {"h\xC3\xA9l\xC3\xA8ne", "accepted"}};
  auto back = datasource_store::decode(datasource_store::encode(a));
  BOOST_REQUIRE(back);
  BOOST_CHECK(*back == a);
  BOOST_CHECK(!datasource_store::decode("{not json"));
  BOOST_REQUIRE(!store->create("d", "r", a));
  // A refused change writes nothing.
  auto err = store->update_access("d", [](std::optional<datasource_access>& x, caf::error& refuse) {
    x->members["zed"] = "invited";
    refuse = make_error(storage_errc::invalid_argument, "no");
    return true;
  });
  BOOST_CHECK(is(err, storage_errc::invalid_argument));
  BOOST_CHECK_EQUAL((*store->access("d"))->members.count("zed"), 0u);
  BOOST_REQUIRE(!store->update_access("d", [](std::optional<datasource_access>& x, caf::error&) {
    x->members["gina"] = "accepted";
    return true;
  }));
  BOOST_CHECK_EQUAL((*store->access("d"))->members.at("gina"), "accepted");
  auto all = store->all_access();
  BOOST_REQUIRE(all);
  BOOST_CHECK_EQUAL(all->size(), 1u);
  BOOST_CHECK_EQUAL(all->at("d").members.at("gina"), "accepted");
}

BOOST_FIXTURE_TEST_CASE(erase_removes_every_prefix_and_only_its_own, fixture) {
  datasource_link a{"docs\x1fv1", "v1\x1f" "docs"};
  datasource_link b{"docs\x1fv2", "v2\x1f" "docs"};
  datasource_link other{"docsx\x1fv1", "v1\x1f" "docsx"};
  BOOST_REQUIRE(!store->create("docs", "r", owner("ed")));
  BOOST_REQUIRE(!store->create("docsx", "r2", owner("ed")));
  fill("docs", a);
  fill("docs", b);
  fill("docsx", other);
  BOOST_REQUIRE_EQUAL(queue->size(a.queue), 2u);
  BOOST_REQUIRE(!store->erase("docs", {a, b}));
  for (auto& link : {a, b}) {
    BOOST_CHECK(!has_rows(link.rows));
    BOOST_CHECK_EQUAL(queue->size(link.queue), 0u);
    BOOST_CHECK(!*db->get_meta(datasource_store::checkpoint_key(link.queue, "a.txt")));
  }
  BOOST_CHECK(!*store->record("docs"));
  BOOST_CHECK(!*store->access("docs"));
  BOOST_CHECK(!*db->get_meta(credential_store::key_of("docs")));
  BOOST_CHECK(!*runs->last("docs"));
  // Its neighbour in key order keeps everything.
  BOOST_CHECK(has_rows(other.rows));
  BOOST_CHECK_EQUAL(queue->size(other.queue), 2u);
  BOOST_CHECK(*db->get_meta(datasource_store::checkpoint_key(other.queue, "a.txt")));
  BOOST_CHECK(*store->record("docsx"));
  BOOST_CHECK(*store->access("docsx"));
  BOOST_CHECK(*db->get_meta(credential_store::key_of("docsx")));
  BOOST_CHECK(*runs->last("docsx"));
  // What the queue counts in memory agrees with what a fresh open counts on disk.
  reopen();
  BOOST_CHECK_EQUAL(queue->size(a.queue), 0u);
  BOOST_CHECK_EQUAL(queue->size(other.queue), 2u);
}

BOOST_FIXTURE_TEST_CASE(forget_link_keeps_the_datasource, fixture) {
  datasource_link a{"docs\x1fv1", "v1\x1f" "docs"};
  BOOST_REQUIRE(!store->create("docs", "r", owner("ed")));
  fill("docs", a);
  BOOST_REQUIRE(!store->forget_link(a));
  BOOST_CHECK(!has_rows(a.rows));
  BOOST_CHECK_EQUAL(queue->size(a.queue), 0u);
  BOOST_CHECK(!*db->get_meta(datasource_store::checkpoint_key(a.queue, "a.txt")));
  BOOST_CHECK(*store->record("docs"));
  BOOST_CHECK(*runs->last("docs"));
  // The link fills again afterwards.
  BOOST_REQUIRE(queue->push(a.queue, 0, "c.txt"));
  BOOST_CHECK_EQUAL(queue->size(a.queue), 1u);
}
