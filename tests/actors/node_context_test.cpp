#define BOOST_TEST_MODULE actors_node_context
#include <boost/test/unit_test.hpp>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "storage/database.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline;

BOOST_AUTO_TEST_CASE(a_replaced_incarnation_cannot_write) {
  test::temp_dir dir{"fence"};
  auto db = storage::database::open({dir.path()});
  if (!db) BOOST_FAIL(storage::render(db.error()));
  auto q = storage::transfer_queue::open(**db);
  BOOST_REQUIRE(q);
  actors::node_context ctx{**db, std::move(*q), actors::runtime_settings{}};
  auto old_epoch = ctx.claim_writer("docs");
  storage::write_batch a{**db};
  a.put(storage::column::meta, "probe", "old");
  BOOST_CHECK(!ctx.write_as("docs", old_epoch, a));
  auto new_epoch = ctx.claim_writer("docs");
  BOOST_CHECK_NE(old_epoch, new_epoch);
  storage::write_batch b{**db};
  b.put(storage::column::meta, "probe", "stale");
  auto err = ctx.write_as("docs", old_epoch, b);
  BOOST_CHECK(actors::is(err, actors::actors_errc::shutting_down));
  BOOST_CHECK_EQUAL(**(*db)->get_meta("probe"), "old");  // nothing of the stale batch landed
  storage::write_batch c{**db};
  c.put(storage::column::meta, "probe", "new");
  BOOST_CHECK(!ctx.write_as("docs", new_epoch, c));
  BOOST_CHECK_EQUAL(**(*db)->get_meta("probe"), "new");
  // Another datasource has its own fence.
  storage::write_batch d{**db};
  BOOST_CHECK(actors::is(ctx.write_as("other", 1, d), actors::actors_errc::shutting_down));
}
