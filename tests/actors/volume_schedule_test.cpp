// tests/actors/volume_schedule_test.cpp: a volume's choice of the next item, without actors or
// I/O: priority then age across sub-queues, no overtaking of a refill that may bring higher
// items, paused datasources, items put back, and when a sub-queue is refilled.
#define BOOST_TEST_MODULE actors_volume_schedule
#include <boost/test/unit_test.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/volume_schedule.hpp"

using syncline::actors::volume_schedule;
using syncline::storage::queue_item;
using syncline::actors::in_the_way;
using syncline::actors::running_set;

namespace {

queue_item item(int32_t priority, uint64_t seq, std::string ref) {
  queue_item i;
  i.ticket.volume = "v";
  i.ticket.priority = priority;
  i.ticket.seq = seq;
  i.payload = std::move(ref);
  return i;
}

// Refills `queue` with `items`, as the volume's refill job would, and says whether it ran out.
void refill(volume_schedule& s, const std::string& queue, std::vector<queue_item> items,
            bool ran_out) {
  auto asked = s.wanted(4);
  BOOST_REQUIRE(asked.wanted.count(queue) == 1);
  std::map<std::string, std::vector<queue_item>> leased;
  leased[queue] = std::move(items);
  std::set<std::string> exhausted;
  if (ran_out) exhausted.insert(queue);
  BOOST_CHECK(s.refilled(asked, std::move(leased), exhausted, false).empty());
}

std::vector<std::string> drain(volume_schedule& s) {
  std::vector<std::string> out;
  while (auto p = s.next()) out.push_back(p->item.payload);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(items_start_by_priority_then_age_across_sub_queues) {
  volume_schedule s;
  s.add_queue("qa", "a");
  s.add_queue("qb", "b");
  auto asked = s.wanted(4);
  BOOST_CHECK_EQUAL(asked.wanted.size(), 2u);
  BOOST_CHECK_EQUAL(asked.wanted.at("qa"), 4u);
  std::map<std::string, std::vector<queue_item>> leased;
  leased["qa"] = {item(5, 1, "a1"), item(1, 4, "a2")};
  leased["qb"] = {item(5, 2, "b1"), item(9, 3, "b2")};  // the store gives them in its order
  BOOST_CHECK(s.refilled(asked, std::move(leased), {"qa", "qb"}, false).empty());
  BOOST_CHECK_EQUAL(s.buffered(), 4u);
  // Each buffer keeps its store order; across buffers the heads compete by priority, then age.
  auto order = drain(s);
  BOOST_CHECK(order == (std::vector<std::string>{"a1", "b1", "b2", "a2"}));
  // Both ran out and nobody woke them: nothing to refill.
  BOOST_CHECK(s.wanted(4).wanted.empty());
}

BOOST_AUTO_TEST_CASE(a_lower_item_does_not_overtake_a_refill_that_may_bring_higher_ones) {
  volume_schedule s;
  s.add_queue("qa", "a");
  s.add_queue("qb", "b");
  auto asked = s.wanted(4);
  std::map<std::string, std::vector<queue_item>> leased;
  leased["qa"] = {item(9, 1, "a1")};  // a full lease: qa may hold more
  leased["qa"].push_back(item(9, 2, "a2"));
  leased["qa"].push_back(item(9, 3, "a3"));
  leased["qa"].push_back(item(9, 4, "a4"));
  leased["qb"] = {item(1, 5, "b1")};
  s.refilled(asked, std::move(leased), {"qb"}, false);
  auto order = drain(s);
  // qa ran dry at priority 9 while it may hold more: b1 (priority 1) waits for its refill.
  BOOST_CHECK_EQUAL(order.size(), 4u);
  BOOST_CHECK_EQUAL(order.back(), "a4");
  BOOST_CHECK(!s.next());
  // The refill brings one more of priority 9, which goes first; then qa ran out and b1 may go.
  refill(s, "qa", {item(9, 6, "a5")}, true);
  order = drain(s);
  BOOST_CHECK(order == (std::vector<std::string>{"a5", "b1"}));
}

BOOST_AUTO_TEST_CASE(a_paused_datasource_gives_its_items_back_and_gets_none) {
  volume_schedule s;
  s.add_queue("qa", "a");
  s.add_queue("qb", "b");
  auto asked = s.wanted(4);
  std::map<std::string, std::vector<queue_item>> leased;
  leased["qa"] = {item(5, 1, "a1"), item(5, 2, "a2")};
  leased["qb"] = {item(1, 3, "b1")};
  s.refilled(asked, std::move(leased), {"qa", "qb"}, false);
  auto back = s.pause("a", "qa");
  BOOST_CHECK_EQUAL(back.size(), 2u);
  BOOST_CHECK(s.paused("a"));
  // Its sub-queue is not refilled while paused, and b's item goes.
  BOOST_CHECK_EQUAL(s.wanted(4).wanted.count("qa"), 0u);
  auto order = drain(s);
  BOOST_CHECK_EQUAL(order.size(), 1u);
  BOOST_CHECK_EQUAL(order.front(), "b1");
  // A refill that was under way when it paused: its items go back.
  s.resume("a", "qa");
  auto again = s.wanted(4);
  BOOST_REQUIRE_EQUAL(again.wanted.count("qa"), 1u);
  s.pause("a", "qa");
  std::map<std::string, std::vector<queue_item>> late;
  late["qa"] = {item(5, 1, "a1")};
  BOOST_CHECK_EQUAL(s.refilled(again, std::move(late), {}, false).size(), 1u);
  // Resumed, it is refilled and its items start.
  s.resume("a", "qa");
  refill(s, "qa", {item(5, 1, "a1"), item(5, 2, "a2")}, true);
  order = drain(s);
  BOOST_CHECK_EQUAL(order.size(), 2u);
  // A paused datasource the volume never heard of still gets its sub-queue.
  BOOST_CHECK(s.pause("c", "qc").empty());
  BOOST_CHECK(s.paused("c"));
}

BOOST_AUTO_TEST_CASE(an_item_put_back_goes_first_unless_its_datasource_is_paused) {
  volume_schedule s;
  s.add_queue("qa", "a");
  refill(s, "qa", {item(5, 1, "a1"), item(5, 2, "a2")}, true);
  auto first = s.next();
  BOOST_REQUIRE(first);
  BOOST_CHECK(s.put_back("qa", first->item));
  BOOST_CHECK_EQUAL(s.next()->item.payload, "a1");
  s.pause("a", "qa");
  BOOST_CHECK(!s.put_back("qa", item(5, 2, "a2")));
  BOOST_CHECK(!s.put_back("unknown", item(5, 7, "x")));
}

BOOST_AUTO_TEST_CASE(a_sub_queue_is_refilled_when_low_and_woken_during_a_refill) {
  volume_schedule s;
  s.add_queue("qa", "a");
  refill(s, "qa", {item(5, 1, "a1"), item(5, 2, "a2"), item(5, 3, "a3"), item(5, 4, "a4")},
         false);
  // Full (4 of 4), then more than half: no refill yet.
  BOOST_CHECK(s.wanted(4).wanted.empty());
  s.next();
  BOOST_CHECK(s.wanted(4).wanted.empty());
  s.next();
  // Half: lease 2 more.
  auto asked = s.wanted(4);
  BOOST_REQUIRE_EQUAL(asked.wanted.count("qa"), 1u);
  BOOST_CHECK_EQUAL(asked.wanted.at("qa"), 2u);
  // A kick comes while the refill runs; the refill finds nothing: it looks again.
  s.wake("qa");
  s.refilled(asked, {}, {"qa"}, false);
  BOOST_CHECK_EQUAL(s.wanted(4).wanted.count("qa"), 1u);
  // Without a kick, a refill that found nothing stops the refills until the next wake-up.
  auto quiet = s.wanted(4);
  s.refilled(quiet, {}, {"qa"}, false);
  BOOST_CHECK(s.wanted(4).wanted.empty());
  s.wake("qa");
  BOOST_CHECK_EQUAL(s.wanted(4).wanted.count("qa"), 1u);
  // Forgetting the datasource gives back what it held.
  BOOST_CHECK_EQUAL(s.forget("a", "qa").size(), 2u);
  BOOST_CHECK(s.queue_names().empty());
}

BOOST_AUTO_TEST_CASE(a_paused_volume_gives_back_everything) {
  volume_schedule s;
  s.add_queue("qa", "a");
  s.add_queue("qb", "b");
  auto asked = s.wanted(4);
  std::map<std::string, std::vector<queue_item>> leased;
  leased["qa"] = {item(5, 1, "a1")};
  leased["qb"] = {item(1, 2, "b1")};
  // A refill answered after the volume paused gives everything back.
  BOOST_CHECK_EQUAL(s.refilled(asked, leased, {}, true).size(), 2u);
  BOOST_CHECK_EQUAL(s.buffered(), 0u);
  s.refilled(s.wanted(4), std::move(leased), {}, false);
  BOOST_CHECK_EQUAL(s.release_all().size(), 2u);
  BOOST_CHECK(!s.next());
}

// A batch takes the next items of its own sub-queue, in their order, for as long as nothing of
// higher priority waits elsewhere; items of equal priority elsewhere may wait for it.
BOOST_AUTO_TEST_CASE(a_batch_takes_its_own_sub_queue_until_something_higher_waits) {
  volume_schedule s;
  s.add_queue("qa", "a");
  s.add_queue("qb", "b");
  auto asked = s.wanted(8);
  std::map<std::string, std::vector<queue_item>> leased;
  leased["qa"] = {item(5, 1, "a1"), item(5, 3, "a2"), item(5, 5, "a3"), item(1, 7, "a4")};
  leased["qb"] = {item(5, 2, "b1"), item(5, 4, "b2"), item(9, 6, "b3")};
  BOOST_CHECK(s.refilled(asked, std::move(leased), {"qa", "qb"}, false).empty());
  auto first = s.next();
  BOOST_REQUIRE(first);
  BOOST_CHECK_EQUAL(first->item.payload, "a1");
  std::vector<std::string> batch{first->item.payload};
  while (auto more = s.next_from(first->queue)) batch.push_back(more->item.payload);
  // a2 and a3 (priority 5, as b1 and b2) join; a4 (priority 1) does not overtake b1.
  BOOST_CHECK(batch == (std::vector<std::string>{"a1", "a2", "a3"}));
  // b's items go in their order; b3 (priority 9) comes only once b1 and b2 left the buffer.
  BOOST_CHECK(!s.next_from("qa"));
  auto b = s.next();
  BOOST_REQUIRE(b);
  BOOST_CHECK_EQUAL(b->item.payload, "b1");
  auto b2 = s.next_from("qb");
  BOOST_REQUIRE(b2);
  BOOST_CHECK_EQUAL(b2->item.payload, "b2");
  auto b3 = s.next_from("qb");
  BOOST_REQUIRE(b3);
  BOOST_CHECK_EQUAL(b3->item.payload, "b3");
  BOOST_CHECK(!s.next_from("qb"));
  BOOST_CHECK(drain(s) == (std::vector<std::string>{"a4"}));
  // A paused datasource's sub-queue gives nothing to a batch either.
  s.add_queue("qc", "c");
  auto again = s.wanted(8);
  std::map<std::string, std::vector<queue_item>> more;
  more["qc"] = {item(0, 8, "c1"), item(0, 9, "c2")};
  BOOST_CHECK(s.refilled(again, std::move(more), {"qc"}, false).empty());
  BOOST_CHECK_EQUAL(s.pause("c", "qc").size(), 2u);
  BOOST_CHECK(!s.next_from("qc"));
  BOOST_CHECK_EQUAL(s.queue_count(), 3u);
}

// Items may be shared among parallel slots only when none is in another's way: the same path
// twice, or a path and one beneath it (a file, a directory of that name, a file inside it).
BOOST_AUTO_TEST_CASE(buffered_items_are_independent_unless_their_paths_nest) {
  auto independent = [](std::vector<std::string> refs) {
    volume_schedule s;
    s.add_queue("qa", "a");
    std::vector<queue_item> items;
    uint64_t seq = 0;
    for (auto& r : refs) items.push_back(item(0, ++seq, r));
    refill(s, "qa", std::move(items), true);
    return s.buffered_independent();
  };
  BOOST_CHECK(independent({}));
  BOOST_CHECK(independent({"d1/f1", "d1/f2", "d2/f1", "d10/f1", "d1x/f1", "top"}));
  BOOST_CHECK(!independent({"d1/f1", "turns", "turns/", "turns/inside.txt"}));
  BOOST_CHECK(!independent({"turns", "turns/inside.txt"}));
  BOOST_CHECK(!independent({"new/", "new/deep/file"}));
  BOOST_CHECK(!independent({"a/b", "a/b/"}));
}

// Which running items keep an item from starting beside them (the volume's may_start).
BOOST_AUTO_TEST_CASE(items_in_the_way_of_another) {
  running_set running{{"ds", "x"}, {"ds", "d/"}, {"ds", "gone/sub/f"}, {"other", "y"}};
  auto in_way = [&](const std::string& ref) { return in_the_way(running, "ds", ref); };
  BOOST_CHECK(in_way("x"));          // itself
  BOOST_CHECK(in_way("x/"));         // a file turned into a directory
  BOOST_CHECK(in_way("x/inside"));   // beneath a file being copied or removed
  BOOST_CHECK(in_way("x/a/b/"));
  BOOST_CHECK(in_way("d"));          // a directory turned into a file
  BOOST_CHECK(in_way("gone"));       // a file where a directory's content still goes
  BOOST_CHECK(in_way("gone/sub"));
  BOOST_CHECK(!in_way("d/f"));       // a file in a directory being made: its parents are made
  BOOST_CHECK(!in_way("d/e/"));
  BOOST_CHECK(!in_way("gone/"));     // a directory above a running file
  BOOST_CHECK(!in_way("gone/sub/"));
  BOOST_CHECK(!in_way("xy"));        // a sibling that shares a prefix
  BOOST_CHECK(!in_way("x.txt"));
  BOOST_CHECK(!in_way("y"));         // another datasource's item
  BOOST_CHECK(!in_way("y/"));
  BOOST_CHECK(!in_the_way({}, "ds", "x"));
}
