// The elements' change feed (storage/change_feed.hpp) through element_store, on a real
// database: what each write adds, cursors and pages, restarts, databases older than the feed,
// compaction by age, and followers reading while several threads write.
#define BOOST_TEST_MODULE storage_change_feed
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/element_store.hpp"
#include "storage/ulid.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"change-feed"};
  std::unique_ptr<database> db;
  std::unique_ptr<element_store> store;
  write_context alice{"alice", 1000};

  fixture() { reopen(); }
  void reopen() {
    store.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    store = std::make_unique<element_store>(*db);
  }
  change_page page(uint64_t since, size_t limit = 1000) {
    auto p = store->changes(since, limit);
    BOOST_REQUIRE_MESSAGE(p, why(p));
    return *p;
  }
  template <class T>
  void ok(const caf::expected<T>& x) {
    BOOST_REQUIRE_MESSAGE(x, why(x));
  }
};

std::string ids_of(const change_page& p) {
  std::string out;
  for (auto& c : p.changes) out += (out.empty() ? "" : " ") + c.id + (c.deleted ? "-" : "");
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(every_write_adds_one_change_per_element_in_order, fixture) {
  BOOST_CHECK_EQUAL(store->last_change(), 0u);
  auto empty = page(0);
  BOOST_CHECK(!empty.reset);
  BOOST_CHECK(empty.changes.empty());
  BOOST_CHECK_EQUAL(empty.last_seq, 0u);

  ok(store->create(R"([{"_id":"/a"},{"_id":"/b"}])", alice));
  ok(store->update(R"({"_id":"/a","k":1})", alice));
  ok(store->remove({"/b"}, alice));
  // Nothing changes, nothing is added: an existing id, a missing one.
  ok(store->create(R"({"_id":"/a"})", alice));
  ok(store->update(R"({"_id":"/none","k":1})", alice));
  ok(store->lock({"/a"}, alice));

  auto all = page(0);
  BOOST_CHECK(!all.reset);
  BOOST_CHECK_EQUAL(ids_of(all), "/a /b /a /b- /a");
  for (size_t i = 1; i < all.changes.size(); ++i)
    BOOST_CHECK_GT(all.changes[i].seq, all.changes[i - 1].seq);
  BOOST_CHECK_EQUAL(all.last_seq, all.changes.back().seq);
  BOOST_CHECK_EQUAL(store->last_change(), all.last_seq);
  auto now = epoch_ms();
  for (auto& c : all.changes) BOOST_CHECK(c.at_ms > now - 60000 && c.at_ms <= now);

  // From a cursor: only what came after it; pages of a limit; at the end, nothing.
  auto after = page(all.changes[1].seq);
  BOOST_CHECK_EQUAL(ids_of(after), "/a /b- /a");
  auto first = page(0, 2);
  BOOST_CHECK_EQUAL(ids_of(first), "/a /b");
  BOOST_CHECK_EQUAL(first.last_seq, all.changes[1].seq);
  // A page may end inside one write's changes, and the next goes on from there.
  auto one = page(0, 1);
  BOOST_CHECK_EQUAL(ids_of(one), "/a");
  BOOST_CHECK_EQUAL(ids_of(page(one.last_seq, 1)), "/b");
  auto end = page(all.last_seq);
  BOOST_CHECK(end.changes.empty() && !end.reset);
  BOOST_CHECK_EQUAL(end.last_seq, all.last_seq);
}

BOOST_FIXTURE_TEST_CASE(the_feed_survives_a_restart_and_goes_on, fixture) {
  ok(store->create(R"([{"_id":"/a"},{"_id":"/b"}])", alice));
  auto before = page(0);
  reopen();
  BOOST_CHECK_EQUAL(store->last_change(), before.last_seq);
  BOOST_CHECK_EQUAL(ids_of(page(0)), "/a /b");
  ok(store->create(R"({"_id":"/c"})", alice));
  auto next = page(before.last_seq);
  BOOST_REQUIRE_EQUAL(next.changes.size(), 1u);
  BOOST_CHECK_GT(next.changes[0].seq, before.last_seq);
  BOOST_CHECK_EQUAL(next.changes[0].id, "/c");
}

BOOST_FIXTURE_TEST_CASE(a_cursor_the_feed_cannot_serve_is_told_to_reset, fixture) {
  ok(store->create(R"({"_id":"/a"})", alice));
  // From the future (another database's cursor): reset, with this feed's newest sequence.
  auto future = page(store->last_change() + 10);
  BOOST_CHECK(future.reset);
  BOOST_CHECK(future.changes.empty());
  BOOST_CHECK_EQUAL(future.last_seq, store->last_change());
}

BOOST_FIXTURE_TEST_CASE(a_database_older_than_the_feed_makes_followers_from_zero_reset, fixture) {
  // An element written the way a build without the feed wrote it.
  write_batch batch{*db};
  batch.put(column::elements, "/old", R"({"_id":"/old"})");
  BOOST_REQUIRE(!db->write(batch));
  reopen();
  auto p = page(0);
  BOOST_CHECK(p.reset);
  BOOST_CHECK_EQUAL(p.last_seq, 1u);
  ok(store->create(R"({"_id":"/new"})", alice));
  auto q = page(p.last_seq);
  BOOST_CHECK(!q.reset);
  BOOST_CHECK_EQUAL(ids_of(q), "/new");
  reopen();  // the floor is kept: still a reset from 0
  BOOST_CHECK(page(0).reset);
}

BOOST_FIXTURE_TEST_CASE(forgotten_changes_reset_followers_behind_them, fixture) {
  for (int i = 0; i < 5; ++i) ok(store->create("{\"_id\":\"/e" + std::to_string(i) + "\"}", alice));
  auto all = page(0);
  BOOST_REQUIRE_EQUAL(all.changes.size(), 5u);
  // At most two of the changes written before now + 1 s: the two oldest.
  auto gone = store->forget_changes_before(epoch_ms() + 1000, 2);
  BOOST_REQUIRE_MESSAGE(gone, why(gone));
  BOOST_CHECK_EQUAL(*gone, 2u);
  BOOST_CHECK(page(0).reset);
  BOOST_CHECK(page(all.changes[0].seq).reset);
  auto kept = page(all.changes[1].seq);
  BOOST_CHECK(!kept.reset);
  BOOST_CHECK_EQUAL(ids_of(kept), "/e2 /e3 /e4");
  // Nothing older than an hour ago: nothing forgotten.
  gone = store->forget_changes_before(epoch_ms() - 3600 * 1000, 100);
  BOOST_REQUIRE_MESSAGE(gone, why(gone));
  BOOST_CHECK_EQUAL(*gone, 0u);
  reopen();
  BOOST_CHECK(page(all.changes[0].seq).reset);
  BOOST_CHECK_EQUAL(ids_of(page(all.changes[1].seq)), "/e2 /e3 /e4");
}

// Writers on several threads, a follower reading pages meanwhile: the follower sees every
// element exactly once, in strictly increasing sequences, and never a reset.
BOOST_FIXTURE_TEST_CASE(a_follower_misses_nothing_while_threads_write, fixture) {
  constexpr int writers = 4, per_writer = 300;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w)
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i) {
        auto r = store->create("{\"_id\":\"/w" + std::to_string(w) + "/" + std::to_string(i) + "\"}",
                               write_context{"w", 0});
        if (!r) BOOST_ERROR("write failed: " << why(r));
      }
      ++done;
    });
  std::set<std::string> seen;
  uint64_t cursor = 0;
  bool duplicate = false, out_of_order = false, reset = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{120};
  while (std::chrono::steady_clock::now() < deadline) {
    bool finished = done.load() == writers;
    auto p = page(cursor, 37);
    reset = reset || p.reset;
    for (auto& c : p.changes) {
      out_of_order = out_of_order || c.seq <= cursor;
      cursor = c.seq;
      duplicate = duplicate || !seen.insert(c.id).second;
    }
    cursor = p.last_seq;
    if (finished && p.changes.empty()) break;
  }
  for (auto& t : threads) t.join();
  BOOST_CHECK(!reset);
  BOOST_CHECK(!duplicate);
  BOOST_CHECK(!out_of_order);
  BOOST_CHECK_EQUAL(seen.size(), size_t{writers * per_writer});
}

BOOST_FIXTURE_TEST_CASE(the_listener_hears_each_write_with_the_newest_sequence, fixture) {
  std::vector<uint64_t> heard;
  store->on_change([&](uint64_t last) { heard.push_back(last); });
  ok(store->create(R"([{"_id":"/a"},{"_id":"/b"}])", alice));
  ok(store->create(R"({"_id":"/a"})", alice));  // nothing written: nothing heard
  ok(store->remove({"/a"}, alice));
  BOOST_REQUIRE_EQUAL(heard.size(), 2u);
  BOOST_CHECK_EQUAL(heard.back(), store->last_change());
  BOOST_CHECK_LT(heard.front(), heard.back());
}

// One write's entry stores each id as the bytes after the prefix it shares with the previous
// one: whatever the ids share (everything, nothing, one is the other's prefix), the feed gives
// them back whole, in order, from any cursor inside the write and after a restart.
BOOST_FIXTURE_TEST_CASE(ids_sharing_prefixes_come_back_whole, fixture) {
  std::string long_id = "/long/" + std::string(1000, 'x');
  std::vector<std::string> ids{"/shots/seq001/file0001.exr", "/shots/seq001/file0002.exr",
                               "/shots/seq001/", "/shots/seq001/file0002.exr.bak", "/other",
                               long_id, long_id + "y", "/shots/seq002/file0001.exr"};
  std::string json = "[";
  for (auto& id : ids) json += (json.size() > 1 ? R"(,{"_id":")" : R"({"_id":")") + id + "\"}";
  json += "]";
  ok(store->create(json, alice));
  // A delete among the changes of one write, in the middle.
  ok(store->remove({"/shots/seq001/file0002.exr", "/shots/seq001/file0002.exr.bak", "/x"}, alice));
  auto want = ids;
  want.push_back("/shots/seq001/file0002.exr-");
  want.push_back("/shots/seq001/file0002.exr.bak-");
  auto joined = [&](size_t from) {
    std::string out;
    for (size_t k = from; k < want.size(); ++k) out += (out.empty() ? "" : " ") + want[k];
    return out;
  };
  auto all = page(0);
  BOOST_REQUIRE_EQUAL(all.changes.size(), want.size());
  BOOST_CHECK_EQUAL(ids_of(all), joined(0));
  for (size_t skip = 1; skip < want.size(); ++skip) {
    auto rest = page(all.changes[skip - 1].seq);
    BOOST_CHECK_EQUAL(ids_of(rest), joined(skip));
  }
  reopen();
  BOOST_CHECK_EQUAL(ids_of(page(0)), joined(0));
}

// An entry as the feed's first version wrote it (every id whole) reads as it always did.
BOOST_FIXTURE_TEST_CASE(entries_of_the_first_version_still_read, fixture) {
  std::string key = "chg/s/";
  codec::append_u64(key, 1);
  std::string value;
  codec::append_u64(value, 1000);
  codec::append_u32(value, 2);
  for (auto [id, deleted] : {std::pair<std::string, char>{"/dir/a", 0}, {"/dir/b", 1}}) {
    value.push_back(deleted);
    codec::append_u32(value, static_cast<uint32_t>(id.size()));
    value += id;
  }
  BOOST_REQUIRE(!db->put_meta(key, value));
  reopen();
  BOOST_CHECK_EQUAL(ids_of(page(0)), "/dir/a /dir/b-");
  ok(store->create(R"({"_id":"/dir/c"})", alice));
  BOOST_CHECK_EQUAL(ids_of(page(0)), "/dir/a /dir/b- /dir/c");
  BOOST_CHECK_EQUAL(ids_of(page(1)), "/dir/b- /dir/c");
}
