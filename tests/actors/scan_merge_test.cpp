#define BOOST_TEST_MODULE actors_scan_merge
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/scan_merge.hpp"
#include "connectors/error.hpp"
#include "storage/database.hpp"
#include "storage/datastore.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline;
using namespace syncline::actors;
using connectors::item_info;
using connectors::item_kind;
using storage::datastore_row;
using storage::pending_action;

namespace {

item_info file(std::string ref, uint64_t size, int64_t mtime) {
  item_info i;
  i.reference = std::move(ref);
  i.kind = item_kind::file;
  i.size = size;
  i.mtime_ns = mtime;
  i.mode = 0644;
  return i;
}

item_info dir(std::string ref) {
  item_info i;
  i.reference = std::move(ref);
  i.kind = item_kind::directory;
  i.mode = 0755;
  i.mtime_ns = 1;
  return i;
}

item_info unreadable(std::string ref) {
  item_info i;
  i.reference = std::move(ref);
  i.kind = item_kind::unreadable;
  i.error = connectors::from_errno(EACCES, "open " + i.reference);
  return i;
}

struct fixture {
  test::temp_dir tmp{"merge"};
  std::unique_ptr<storage::database> db;
  std::unique_ptr<storage::datastore> rows;
  std::unique_ptr<storage::transfer_queue> queue;
  const std::string ds = "photos";
  const std::string vol = "backup";

  fixture() {
    auto opened = storage::database::open({tmp.path()});
    if (!opened) BOOST_FAIL(storage::render(opened.error()));
    db = std::move(*opened);
    rows = std::make_unique<storage::datastore>(*db);
    auto q = storage::transfer_queue::open(*db);
    if (!q) BOOST_FAIL(storage::render(q.error()));
    queue = std::move(*q);
  }

  // One whole scan, in batches of `batch_size`; returns the write count and the stats.
  std::pair<size_t, merge_stats> scan(const std::vector<item_info>& items, sync_type type,
                                      size_t batch_size = 1000, bool unpark = false) {
    merge_options o;
    o.type = type;
    o.unpark = unpark;
    link_merger m{*rows, *queue, ds, vol, o};
    merge_stats stats;
    size_t writes = 0;
    size_t i = 0;
    do {
      std::vector<item_info> batch(items.begin() + static_cast<long>(i),
                                   items.begin() + static_cast<long>(std::min(items.size(), i + batch_size)));
      i += batch.size();
      storage::write_batch wb{*db};
      auto err = m.merge(batch, i >= items.size(), wb, stats);
      BOOST_REQUIRE_MESSAGE(!err, storage::render(err));
      writes += wb.count();
      BOOST_REQUIRE(!db->write(wb));
    } while (i < items.size());
    return {writes, stats};
  }

  std::map<std::string, datastore_row> all_rows() {
    std::map<std::string, datastore_row> out;
    auto cur = rows->scan(datastore_scope(ds, vol));
    for (; cur.valid(); cur.next()) out[cur.row().reference] = cur.row();
    BOOST_REQUIRE(!cur.status());
    return out;
  }

  // Simulates a completed transfer of every pending action: what the datasource does.
  void complete_all() {
    auto qname = queue_name(vol, ds);
    auto items = queue->pop(qname, 100000);
    BOOST_REQUIRE(items);
    storage::write_batch wb{*db};
    for (auto& [ref, row] : all_rows()) {
      if (row.action == pending_action::none) continue;
      if (row.action == pending_action::remove) {
        rows->erase(wb, datastore_scope(ds, vol), ref);
      } else {
        auto r = row;
        r.action = pending_action::none;
        r.queue_seq = 0;
        rows->put(wb, datastore_scope(ds, vol), r);
      }
    }
    for (auto& it : *items) BOOST_REQUIRE(!queue->ack(wb, it.ticket));
    BOOST_REQUIRE(!db->write(wb));
  }
};

std::vector<item_info> tree() {
  return {dir("a/"), file("a/one", 10, 100), file("a/two", 20, 200), file("b", 30, 300)};
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(first_scan_adds_everything_and_queues_it, fixture) {
  auto [writes, stats] = scan(tree(), sync_type::auto_);
  BOOST_CHECK_EQUAL(stats.added, 4u);
  BOOST_CHECK_EQUAL(stats.pending, 4u);
  BOOST_CHECK_EQUAL(stats.queued, 4u);
  BOOST_CHECK_EQUAL(stats.bytes_pending, 60u);
  auto r = all_rows();
  BOOST_REQUIRE_EQUAL(r.size(), 4u);
  for (auto& [ref, row] : r) {
    BOOST_CHECK(row.action == pending_action::add);
    BOOST_CHECK_NE(row.queue_seq, 0u);
  }
  BOOST_CHECK(r["a/"].flags & datastore_row::flag_directory);
  BOOST_CHECK_EQUAL(queue->size(queue_name(vol, ds)), 4u);
  // The queue hands them out in listing order (same priority: FIFO).
  auto items = queue->pop(queue_name(vol, ds), 10);
  BOOST_REQUIRE(items);
  std::vector<std::string> refs;
  for (auto& i : *items) refs.push_back(i.payload);
  BOOST_CHECK((refs == std::vector<std::string>{"a/", "a/one", "a/two", "b"}));
}

BOOST_FIXTURE_TEST_CASE(unchanged_items_cost_no_write, fixture) {
  scan(tree(), sync_type::auto_);
  complete_all();
  auto [writes, stats] = scan(tree(), sync_type::auto_);
  BOOST_CHECK_EQUAL(writes, 0u);
  BOOST_CHECK_EQUAL(stats.unchanged, 4u);
  BOOST_CHECK_EQUAL(stats.pending, 0u);
}

BOOST_FIXTURE_TEST_CASE(rescanning_while_actions_are_queued_changes_nothing, fixture) {
  scan(tree(), sync_type::auto_);
  auto [writes, stats] = scan(tree(), sync_type::auto_);
  BOOST_CHECK_EQUAL(writes, 0u);
  BOOST_CHECK_EQUAL(stats.queued, 0u);
  BOOST_CHECK_EQUAL(stats.pending, 4u);
  BOOST_CHECK_EQUAL(queue->size(queue_name(vol, ds)), 4u);
}

BOOST_AUTO_TEST_CASE(changes_adds_and_deletes_per_sync_type) {
  for (auto type : {sync_type::auto_, sync_type::arch, sync_type::one}) {
    fixture f;
    f.scan(tree(), type);
    f.complete_all();
    // a/two changed (size), b deleted, c added.
    auto items = std::vector<item_info>{dir("a/"), file("a/one", 10, 100), file("a/two", 25, 250),
                                        file("c", 5, 500)};
    auto [writes, stats] = f.scan(items, type);
    auto r = f.all_rows();
    BOOST_TEST_CONTEXT(to_string(type)) {
      BOOST_CHECK_EQUAL(stats.added, 1u);
      BOOST_CHECK_EQUAL(stats.replaced, 1u);
      BOOST_CHECK(r.at("a/two").action == pending_action::replace);
      BOOST_CHECK_EQUAL(r.at("a/two").size, 25u);
      BOOST_CHECK(r.at("c").action == pending_action::add);
      if (type == sync_type::auto_) {
        BOOST_CHECK_EQUAL(stats.removed, 1u);
        BOOST_CHECK(r.at("b").action == pending_action::remove);
        BOOST_CHECK_EQUAL(stats.pending, 3u);
      } else {
        // arch and one never delete: the delivered row stays, with nothing to do.
        BOOST_CHECK_EQUAL(stats.removed, 0u);
        BOOST_CHECK(r.at("b").action == pending_action::none);
        BOOST_CHECK_EQUAL(stats.pending, 2u);
      }
    }
  }
}

BOOST_FIXTURE_TEST_CASE(an_undelivered_add_that_vanishes_is_dropped_by_arch, fixture) {
  scan({file("x", 1, 1), file("y", 2, 2)}, sync_type::arch);
  auto [writes, stats] = scan({file("y", 2, 2)}, sync_type::arch);
  auto r = all_rows();
  BOOST_CHECK_EQUAL(r.count("x"), 0u);
  BOOST_CHECK(r.at("y").action == pending_action::add);
  BOOST_CHECK_EQUAL(stats.pending, 1u);
}

BOOST_FIXTURE_TEST_CASE(an_unreadable_directory_keeps_its_subtree, fixture) {
  scan(tree(), sync_type::auto_);
  complete_all();
  // a/ cannot be read now: its rows must not become removals.
  auto [writes, stats] = scan({unreadable("a/"), file("b", 30, 300)}, sync_type::auto_);
  BOOST_CHECK_EQUAL(writes, 0u);
  BOOST_CHECK_EQUAL(stats.removed, 0u);
  BOOST_CHECK_EQUAL(stats.unreadable, 1u);
  BOOST_REQUIRE_EQUAL(stats.problems.size(), 1u);
  BOOST_CHECK_NE(stats.problems[0].find("a/"), std::string::npos);
  auto r = all_rows();
  BOOST_CHECK_EQUAL(r.size(), 4u);
  for (auto& [ref, row] : r) BOOST_CHECK(row.action == pending_action::none);
}

BOOST_FIXTURE_TEST_CASE(an_unreadable_file_keeps_its_row, fixture) {
  scan(tree(), sync_type::auto_);
  complete_all();
  auto items = tree();
  items[2] = unreadable("a/two");
  auto [writes, stats] = scan(items, sync_type::auto_);
  BOOST_CHECK_EQUAL(writes, 0u);
  BOOST_CHECK(all_rows().at("a/two").action == pending_action::none);
}

BOOST_FIXTURE_TEST_CASE(batch_boundaries_do_not_change_the_result, fixture) {
  std::vector<item_info> items;
  for (int i = 0; i < 50; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%03d", i);
    items.push_back(file(name, static_cast<uint64_t>(i), i));
  }
  scan(items, sync_type::auto_, 7);
  complete_all();
  // Change every 5th, delete every 7th (by leaving it out), across many small batches.
  std::vector<item_info> next;
  size_t expect_removed = 0, expect_replaced = 0;
  for (int i = 0; i < 50; ++i) {
    if (i % 7 == 3) {
      ++expect_removed;
      continue;
    }
    auto it = items[static_cast<size_t>(i)];
    if (i % 5 == 0) {
      it.mtime_ns += 1;
      ++expect_replaced;
    }
    next.push_back(it);
  }
  auto [w1, s1] = scan(next, sync_type::auto_, 3);
  BOOST_CHECK_EQUAL(s1.removed, expect_removed);
  BOOST_CHECK_EQUAL(s1.replaced, expect_replaced);
  // Merging the same listing again, in other batch sizes, finds nothing new to do.
  auto [w2, s2] = scan(next, sync_type::auto_, 11);
  BOOST_CHECK_EQUAL(w2, 0u);
  BOOST_CHECK_EQUAL(s2.removed + s2.replaced + s2.added, 0u);
  BOOST_CHECK_EQUAL(s2.pending, expect_removed + expect_replaced);
}

BOOST_FIXTURE_TEST_CASE(a_pending_row_without_queue_item_is_queued_again, fixture) {
  scan({file("x", 1, 1)}, sync_type::auto_);
  // A crash lost the queue item (or it was acknowledged by a stale completion).
  auto qname = queue_name(vol, ds);
  auto items = queue->pop(qname, 10);
  BOOST_REQUIRE(items && items->size() == 1);
  BOOST_REQUIRE(!queue->ack(items->front().ticket));
  auto row = *rows->get(datastore_scope(ds, vol), "x");
  row->queue_seq = 0;
  BOOST_REQUIRE(!rows->put(datastore_scope(ds, vol), *row));
  auto [writes, stats] = scan({file("x", 1, 1)}, sync_type::auto_);
  BOOST_CHECK_EQUAL(stats.queued, 1u);
  BOOST_CHECK_EQUAL(queue->size(qname), 1u);
}

BOOST_FIXTURE_TEST_CASE(parked_actions_wait_until_a_forced_sync, fixture) {
  scan({file("x", 1, 1)}, sync_type::auto_);
  auto qname = queue_name(vol, ds);
  auto items = queue->pop(qname, 10);
  BOOST_REQUIRE(items && items->size() == 1);
  BOOST_REQUIRE(!queue->ack(items->front().ticket));
  auto row = *rows->get(datastore_scope(ds, vol), "x");
  row->queue_seq = 0;
  row->parked = true;
  row->attempts = 8;
  BOOST_REQUIRE(!rows->put(datastore_scope(ds, vol), *row));
  auto [w1, s1] = scan({file("x", 1, 1)}, sync_type::auto_);
  BOOST_CHECK_EQUAL(s1.parked, 1u);
  BOOST_CHECK_EQUAL(s1.queued, 0u);
  auto [w2, s2] = scan({file("x", 1, 1)}, sync_type::auto_, 1000, true);
  BOOST_CHECK_EQUAL(s2.queued, 1u);
  BOOST_CHECK_EQUAL(s2.pending, 1u);
  auto after = *rows->get(datastore_scope(ds, vol), "x");
  BOOST_CHECK(!after->parked);
  BOOST_CHECK_EQUAL(after->attempts, 0u);
}

BOOST_FIXTURE_TEST_CASE(generation_moves_with_every_change, fixture) {
  scan({file("x", 1, 1)}, sync_type::auto_);
  auto g1 = (*rows->get(datastore_scope(ds, vol), "x"))->generation;
  scan({file("x", 2, 2)}, sync_type::auto_);
  auto g2 = (*rows->get(datastore_scope(ds, vol), "x"))->generation;
  BOOST_CHECK_GT(g2, g1);
  scan({file("x", 2, 2)}, sync_type::auto_);
  BOOST_CHECK_EQUAL((*rows->get(datastore_scope(ds, vol), "x"))->generation, g2);
}

// A run over a watched tree's changed paths decides those references (and the rows below a
// directory that is gone) as a whole scan would, each once, and leaves every other row alone.
BOOST_FIXTURE_TEST_CASE(merging_changed_paths_decides_only_those, fixture) {
  std::vector<item_info> before{dir("a/"),   file("a/one", 10, 100), file("a/two", 20, 200),
                                file("b", 30, 300), dir("c/"), file("c/x", 1, 1), dir("c/y/"),
                                file("c/y/z", 2, 2)};
  scan(before, sync_type::auto_);
  complete_all();
  auto a = dir("a/");
  a.mtime_ns = 2;
  std::vector<item_info> present{a, file("a/one", 11, 101), file("a/three", 3, 3)};
  // `c/x` is named on its own and within `c/`: decided once.
  std::vector<std::string> gone{"b", "b/", "c/x", "c", "c/"};
  merge_options o;
  o.type = sync_type::auto_;
  o.hold_removals = true;
  link_merger m{*rows, *queue, ds, vol, o};
  merge_stats stats;
  storage::write_batch wb{*db};
  BOOST_REQUIRE(!m.merge_changed(present, gone, wb, stats));
  BOOST_REQUIRE(!db->write(wb));
  BOOST_CHECK_EQUAL(stats.added, 1u);
  BOOST_CHECK_EQUAL(stats.replaced, 2u);
  BOOST_CHECK_EQUAL(stats.removed, 5u);
  BOOST_CHECK_EQUAL(stats.held, 5u);
  BOOST_CHECK_EQUAL(stats.rows, 7u);  // a/, a/one and the five gone: never a/two
  auto r = all_rows();
  BOOST_CHECK(r["a/two"].action == pending_action::none);
  BOOST_CHECK(r["a/one"].action == pending_action::replace);
  BOOST_CHECK(r["a/three"].action == pending_action::add);
  for (auto ref : {"b", "c/", "c/x", "c/y/", "c/y/z"}) {
    BOOST_CHECK_MESSAGE(r[ref].action == pending_action::remove, ref);
    BOOST_CHECK_EQUAL(r[ref].queue_seq, 0u);  // held
  }
  BOOST_CHECK_EQUAL(m.held_references().size(), 5u);
  BOOST_CHECK_EQUAL(m.decided_references().count("a/two"), 0u);
  BOOST_CHECK_EQUAL(m.decided_references().count("c/y/z"), 1u);
  BOOST_CHECK_EQUAL(queue->size(queue_name(vol, ds)), 3u);
  // Released by their list: point reads, each queued once.
  storage::write_batch rb{*db};
  auto released = release_removals(*rows, *queue, ds, vol, m.held_references(), {}, rb);
  BOOST_REQUIRE(released);
  BOOST_CHECK_EQUAL(*released, 5u);
  BOOST_REQUIRE(!db->write(rb));
  BOOST_CHECK_EQUAL(queue->size(queue_name(vol, ds)), 8u);
}

BOOST_FIXTURE_TEST_CASE(an_unreadable_changed_directory_keeps_the_rows_below_it, fixture) {
  std::vector<item_info> before{dir("c/"), file("c/x", 1, 1), dir("c/y/"), file("c/y/z", 2, 2)};
  scan(before, sync_type::auto_);
  complete_all();
  link_merger m{*rows, *queue, ds, vol, merge_options{}};
  merge_stats stats;
  storage::write_batch wb{*db};
  BOOST_REQUIRE(!m.merge_changed({unreadable("c/")}, {"c/y/"}, wb, stats));
  BOOST_REQUIRE(!db->write(wb));
  BOOST_CHECK_EQUAL(stats.removed, 0u);
  BOOST_CHECK_EQUAL(stats.unreadable, 1u);
  for (auto& [ref, row] : all_rows()) BOOST_CHECK_MESSAGE(row.action == pending_action::none, ref);
}

// A changed path that cannot be read comes as `x` and `x/` (resolve_changes cannot tell which it
// is): both keep their rows, and the run counts one unreadable item, not two.
BOOST_FIXTURE_TEST_CASE(an_unreadable_changed_path_counts_once, fixture) {
  std::vector<item_info> before{dir("c/"), file("c/x", 1, 1), file("d", 2, 2)};
  scan(before, sync_type::auto_);
  complete_all();
  link_merger m{*rows, *queue, ds, vol, merge_options{}};
  merge_stats stats;
  storage::write_batch wb{*db};
  BOOST_REQUIRE(!m.merge_changed({unreadable("c"), unreadable("c/"), unreadable("d"),
                                  unreadable("d/")},
                                 {}, wb, stats));
  BOOST_REQUIRE(!db->write(wb));
  BOOST_CHECK_EQUAL(stats.unreadable, 2u);
  BOOST_CHECK_EQUAL(stats.problems.size(), 2u);
  BOOST_CHECK_EQUAL(stats.removed, 0u);
  for (auto& [ref, row] : all_rows()) BOOST_CHECK_MESSAGE(row.action == pending_action::none, ref);
}
