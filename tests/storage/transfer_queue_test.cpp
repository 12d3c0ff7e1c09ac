#define BOOST_TEST_MODULE storage_transfer_queue
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "storage/database.hpp"
#include "storage/error.hpp"
#include "storage/transfer_queue.hpp"
#include "tests/storage/storage_test_util.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::storage;
using syncline::test::why;

namespace {

struct fixture {
  syncline::test::temp_dir dir{"queue"};
  std::unique_ptr<database> db;
  std::unique_ptr<transfer_queue> q;

  fixture() { reopen(); }
  // Drops the queue and the database without acknowledging anything: what a crash leaves.
  void reopen() {
    q.reset();
    db.reset();
    db = syncline::test::open_db(dir.path());
    auto opened = transfer_queue::open(*db);
    BOOST_REQUIRE_MESSAGE(opened, why(opened));
    q = std::move(*opened);
  }

  queue_ticket push(std::string_view volume, int32_t priority, std::string_view payload) {
    auto t = q->push(volume, priority, payload);
    BOOST_REQUIRE_MESSAGE(t, why(t));
    BOOST_CHECK_EQUAL(t->volume, volume);
    BOOST_CHECK_EQUAL(t->priority, priority);
    return *t;
  }

  std::vector<queue_item> pop(std::string_view volume, size_t n = 1) {
    auto items = q->pop(volume, n);
    BOOST_REQUIRE_MESSAGE(items, why(items));
    BOOST_REQUIRE_LE(items->size(), n);
    return *items;
  }

  // The payload of the next item, leased; empty when none is free.
  std::string pop_one(std::string_view volume) {
    auto items = pop(volume, 1);
    return items.empty() ? std::string{} : items.front().payload;
  }

  std::vector<std::string> pop_all(std::string_view volume) {
    std::vector<std::string> out;
    for (auto& item : pop(volume, 100000)) out.push_back(item.payload);
    return out;
  }

  std::vector<queue_item> peek(std::string_view volume, size_t limit = 100000,
                               const queue_ticket* after = nullptr) {
    auto items = q->peek(volume, limit, after);
    BOOST_REQUIRE_MESSAGE(items, why(items));
    return *items;
  }

  std::vector<std::string> peek_payloads(std::string_view volume) {
    std::vector<std::string> out;
    for (auto& item : peek(volume)) out.push_back(item.payload);
    return out;
  }
};

using strings = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_CASE(tickets_print_and_parse) {
  queue_ticket t{"vol:with:colons", -7, 123456789012345ull};
  BOOST_CHECK_EQUAL(t.to_string(), "-7:123456789012345:vol:with:colons");
  auto back = queue_ticket::from_string(t.to_string());
  BOOST_REQUIRE_MESSAGE(back, why(back));
  BOOST_CHECK(*back == t);
  for (auto bad : {"", "1", "1:2", "1:2:", "x:2:v", "1:y:v", "1 :2:v", "99999999999:1:v",
                   "1:-2:v", ":1:v"}) {
    auto r = queue_ticket::from_string(bad);
    BOOST_CHECK_MESSAGE(!r, "parsed " << bad);
    if (!r) BOOST_CHECK(is(r.error(), storage_errc::invalid_argument));
  }
}

BOOST_FIXTURE_TEST_CASE(pops_follow_descending_priority_then_push_order, fixture) {
  std::vector<std::pair<int32_t, std::string>> pushed{
      {0, "a0"}, {5, "b5"}, {-3, "c-3"}, {5, "d5"}, {0, "e0"}, {2, "f2"}, {-3, "g-3"},
      {INT32_MAX, "max"}, {INT32_MIN, "min"}, {5, "h5"}};
  uint64_t last_seq = 0;
  for (auto& [p, name] : pushed) {
    auto t = push("v", p, name);
    BOOST_CHECK_GT(t.seq, last_seq);
    last_seq = t.seq;
  }
  strings expected{"max", "b5", "d5", "h5", "f2", "a0", "e0", "c-3", "g-3", "min"};
  BOOST_CHECK((peek_payloads("v") == expected));
  auto first3 = pop("v", 3);
  BOOST_REQUIRE_EQUAL(first3.size(), 3u);
  strings got;
  for (auto& item : first3) {
    got.push_back(item.payload);
    BOOST_CHECK(!item.leased);
  }
  for (auto& p : pop_all("v")) got.push_back(p);
  BOOST_CHECK((got == expected));
  BOOST_CHECK(pop("v").empty());
  BOOST_CHECK(pop("v", 0).empty());
}

BOOST_FIXTURE_TEST_CASE(leases_hide_items_until_acked_or_released, fixture) {
  for (auto name : {"a", "b", "c", "d"}) push("v", 0, name);
  auto a = pop("v").at(0);
  auto b = pop("v").at(0);
  auto c = pop("v").at(0);
  BOOST_CHECK_EQUAL(q->size("v"), 4u);
  BOOST_CHECK_EQUAL(q->leased("v"), 3u);
  auto seen = peek("v");
  BOOST_REQUIRE_EQUAL(seen.size(), 4u);
  BOOST_CHECK(seen[0].leased && seen[1].leased && seen[2].leased && !seen[3].leased);

  // Released items come back in their place, ahead of later ones.
  q->release(b.ticket);
  BOOST_CHECK_EQUAL(q->leased("v"), 2u);
  BOOST_CHECK_EQUAL(pop_one("v"), "b");
  q->release(c.ticket);
  q->release(a.ticket);
  BOOST_CHECK((pop_all("v") == strings{"a", "c", "d"}));
  BOOST_CHECK(pop("v").empty());
  q->release(queue_ticket{"v", 0, 999999});  // not leased: nothing happens
  BOOST_CHECK_EQUAL(q->leased("v"), 4u);

  // ack removes; acking what is not leased is refused.
  BOOST_REQUIRE(!q->ack(a.ticket));
  BOOST_CHECK_EQUAL(q->size("v"), 3u);
  BOOST_CHECK_EQUAL(q->leased("v"), 3u);
  auto twice = q->ack(a.ticket);
  BOOST_CHECK(is(twice, storage_errc::invalid_argument));
  q->release_all("v");
  BOOST_CHECK_EQUAL(q->leased("v"), 0u);
  auto unleased = q->ack(b.ticket);
  BOOST_CHECK(is(unleased, storage_errc::invalid_argument));
  BOOST_CHECK((pop_all("v") == strings{"b", "c", "d"}));
  BOOST_CHECK_EQUAL(q->size("v"), 3u);
}

BOOST_FIXTURE_TEST_CASE(a_staged_ack_takes_effect_when_its_batch_commits, fixture) {
  push("v", 0, "a");
  push("v", 0, "b");
  auto a = pop("v").at(0);
  {
    write_batch batch{*db};
    BOOST_REQUIRE(!q->ack(batch, a.ticket));
    // Being acknowledged: neither popped again nor acked twice, still counted and stored.
    BOOST_CHECK(is(q->ack(a.ticket), storage_errc::invalid_argument));
    BOOST_CHECK_EQUAL(q->size("v"), 2u);
    BOOST_CHECK_EQUAL(q->leased("v"), 1u);
    BOOST_CHECK_EQUAL(peek("v").size(), 2u);
    BOOST_REQUIRE(!db->write(batch));
  }
  BOOST_CHECK_EQUAL(q->size("v"), 1u);
  BOOST_CHECK_EQUAL(q->leased("v"), 0u);
  BOOST_CHECK((peek_payloads("v") == strings{"b"}));

  // A batch that never commits leaves the item in place; releasing it makes it poppable again.
  auto b = pop("v").at(0);
  {
    write_batch dropped{*db};
    BOOST_REQUIRE(!q->ack(dropped, b.ticket));
  }
  BOOST_CHECK_EQUAL(q->size("v"), 1u);
  BOOST_CHECK(pop("v").empty());
  q->release(b.ticket);
  BOOST_CHECK_EQUAL(pop_one("v"), "b");
  reopen();
  BOOST_CHECK((peek_payloads("v") == strings{"b"}));
}

BOOST_FIXTURE_TEST_CASE(a_staged_push_is_invisible_until_its_batch_commits, fixture) {
  push("v", 0, "first");
  write_batch batch{*db};
  auto staged = q->push(batch, "v", 9, "staged");
  BOOST_REQUIRE_MESSAGE(staged, why(staged));
  BOOST_CHECK_EQUAL(q->size("v"), 1u);
  BOOST_CHECK((peek_payloads("v") == strings{"first"}));
  BOOST_CHECK_EQUAL(pop_one("v"), "first");
  BOOST_CHECK(pop("v").empty());
  BOOST_REQUIRE(!db->write(batch));
  BOOST_CHECK_EQUAL(q->size("v"), 2u);
  // Pushed ahead of the pop cursor: still found.
  BOOST_CHECK_EQUAL(pop_one("v"), "staged");

  write_batch never{*db};
  BOOST_REQUIRE(q->push(never, "v", 0, "never"));
  never.clear();
  BOOST_REQUIRE(!db->write(never));
  BOOST_CHECK_EQUAL(q->size("v"), 2u);
  reopen();
  BOOST_CHECK((peek_payloads("v") == strings{"staged", "first"}));
}

BOOST_FIXTURE_TEST_CASE(a_higher_priority_push_after_pops_is_popped_next, fixture) {
  for (auto name : {"a", "b", "c"}) push("v", 0, name);
  BOOST_CHECK_EQUAL(pop_one("v"), "a");
  BOOST_CHECK_EQUAL(pop_one("v"), "b");
  push("v", 1, "urgent");
  push("v", 0, "late");
  BOOST_CHECK_EQUAL(pop_one("v"), "urgent");
  BOOST_CHECK_EQUAL(pop_one("v"), "c");
  BOOST_CHECK_EQUAL(pop_one("v"), "late");
  BOOST_CHECK(pop("v").empty());
}

BOOST_FIXTURE_TEST_CASE(after_a_crash_every_unacked_item_comes_again_in_order, fixture) {
  std::vector<queue_ticket> tickets;
  for (int i = 0; i < 20; ++i) tickets.push_back(push("v", i % 3, "i" + std::to_string(i)));
  auto expected = peek_payloads("v");
  auto leased = pop("v", 12);
  // Ack every third leased item, release one, leave the others leased.
  std::set<std::string> acked;
  for (size_t i = 0; i < leased.size(); i += 3) {
    BOOST_REQUIRE(!q->ack(leased[i].ticket));
    acked.insert(leased[i].payload);
  }
  q->release(leased[1].ticket);
  write_batch staged{*db};
  BOOST_REQUIRE(!q->ack(staged, leased[2].ticket));  // never committed
  reopen();
  strings remaining;
  for (auto& p : expected)
    if (acked.count(p) == 0) remaining.push_back(p);
  BOOST_CHECK_EQUAL(q->size("v"), remaining.size());
  BOOST_CHECK_EQUAL(q->leased("v"), 0u);
  BOOST_CHECK((pop_all("v") == remaining));
}

BOOST_FIXTURE_TEST_CASE(push_order_survives_reopen, fixture) {
  std::vector<uint64_t> seqs;
  strings expected;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) {
      auto name = "r" + std::to_string(round) + "-" + std::to_string(i);
      seqs.push_back(push("v", i == 1 ? 1 : 0, name).seq);
    }
    reopen();
  }
  BOOST_CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  BOOST_CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());
  for (int round = 0; round < 5; ++round) expected.push_back("r" + std::to_string(round) + "-1");
  for (int round = 0; round < 5; ++round) {
    expected.push_back("r" + std::to_string(round) + "-0");
    expected.push_back("r" + std::to_string(round) + "-2");
  }
  BOOST_CHECK((pop_all("v") == expected));
}

BOOST_FIXTURE_TEST_CASE(sequence_numbers_stay_unique_across_blocks_and_reopens, fixture) {
  // Sequences are reserved in blocks of 65536; cross a block boundary within one batch, then
  // reopen, and check no number is handed out twice.
  std::vector<uint64_t> seqs;
  write_batch batch{*db};
  for (int i = 0; i < 70000; ++i) {
    auto t = q->push(batch, "v", 0, "");
    BOOST_REQUIRE(t);
    seqs.push_back(t->seq);
  }
  BOOST_REQUIRE(!db->write(batch));
  BOOST_CHECK_EQUAL(q->size("v"), 70000u);
  reopen();
  BOOST_CHECK_EQUAL(q->size("v"), 70000u);
  seqs.push_back(push("v", 0, "after").seq);
  BOOST_CHECK(std::is_sorted(seqs.begin(), seqs.end()));
  BOOST_CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());
  auto head = peek("v", 2, nullptr);
  BOOST_CHECK_EQUAL(head.front().ticket.seq, seqs.front());
}

BOOST_FIXTURE_TEST_CASE(reprioritize_moves_an_item_keeping_push_order, fixture) {
  auto a = push("v", 0, "a");
  auto b = push("v", 5, "b");
  auto c = push("v", 0, "c");
  auto d = push("v", 5, "d");
  auto moved = q->reprioritize(c, 5);
  BOOST_REQUIRE_MESSAGE(moved, why(moved));
  BOOST_CHECK_EQUAL(moved->priority, 5);
  BOOST_CHECK_EQUAL(moved->seq, c.seq);
  BOOST_CHECK_EQUAL(moved->volume, "v");
  BOOST_CHECK((peek_payloads("v") == strings{"b", "c", "d", "a"}));
  BOOST_CHECK_EQUAL(q->size("v"), 4u);

  auto same = q->reprioritize(a, 0);
  BOOST_REQUIRE(same);
  BOOST_CHECK(*same == a);
  auto gone = q->reprioritize(c, 7);  // the old ticket names nothing now
  BOOST_REQUIRE(!gone);
  BOOST_CHECK(is(gone.error(), storage_errc::not_found));

  // A leased item is not moved.
  auto head = pop("v").at(0);
  BOOST_CHECK_EQUAL(head.payload, "b");
  auto busy = q->reprioritize(head.ticket, -1);
  BOOST_REQUIRE(!busy);
  BOOST_CHECK(is(busy.error(), storage_errc::busy));
  BOOST_CHECK_EQUAL(peek("v").front().payload, "b");
  BOOST_REQUIRE(!q->ack(head.ticket));

  // Moving an item up past the pop cursor makes it the next one popped.
  BOOST_CHECK_EQUAL(pop_one("v"), "c");
  auto up = q->reprioritize(a, 9);
  BOOST_REQUIRE(up);
  BOOST_CHECK_EQUAL(pop_one("v"), "a");
  // And moving one down puts it behind the others.
  push("v", 5, "e");
  auto down = q->reprioritize(d, -5);
  BOOST_REQUIRE(down);
  BOOST_CHECK_EQUAL(pop_one("v"), "e");
  reopen();
  BOOST_CHECK((peek_payloads("v") == strings{"a", "c", "e", "d"}));
  BOOST_CHECK_EQUAL(peek("v").back().ticket.priority, -5);
}

BOOST_FIXTURE_TEST_CASE(remove_cancels_an_unleased_item, fixture) {
  auto a = push("v", 0, "a");
  auto b = push("v", 0, "b");
  BOOST_REQUIRE(!q->remove(b));
  BOOST_CHECK_EQUAL(q->size("v"), 1u);
  BOOST_CHECK(is(q->remove(b), storage_errc::not_found));
  auto leased = pop("v").at(0);
  BOOST_CHECK(leased.ticket == a);
  BOOST_CHECK(is(q->remove(a), storage_errc::busy));
  BOOST_CHECK_EQUAL(q->size("v"), 1u);
  reopen();
  BOOST_CHECK((peek_payloads("v") == strings{"a"}));
}

BOOST_FIXTURE_TEST_CASE(peek_pages_without_leasing, fixture) {
  for (int i = 0; i < 10; ++i) push("v", i % 2, "p" + std::to_string(i));
  auto all = peek("v");
  BOOST_REQUIRE_EQUAL(all.size(), 10u);
  strings paged;
  const queue_ticket* after = nullptr;
  std::vector<queue_item> page;
  for (int guard = 0; guard < 20; ++guard) {
    page = peek("v", 3, after);
    if (page.empty()) break;
    BOOST_REQUIRE_LE(page.size(), 3u);
    for (auto& item : page) paged.push_back(item.payload);
    after = &page.back().ticket;
  }
  strings whole;
  for (auto& item : all) whole.push_back(item.payload);
  BOOST_CHECK((paged == whole));
  BOOST_CHECK_EQUAL(q->leased("v"), 0u);
  BOOST_CHECK(peek("v", 0).empty());
  BOOST_CHECK(peek("nothing-here").empty());
}

BOOST_FIXTURE_TEST_CASE(volumes_are_separate_queues, fixture) {
  // Names that are prefixes of each other, or hold NUL.
  std::vector<std::string> volumes{"v", "v2", "vv", std::string{"v\0", 2}, "w"};
  for (size_t i = 0; i < volumes.size(); ++i)
    for (size_t j = 0; j <= i; ++j) push(volumes[i], 0, volumes[i] + "#" + std::to_string(j));
  auto sizes = q->sizes();
  BOOST_CHECK_EQUAL(sizes.size(), volumes.size());
  for (size_t i = 0; i < volumes.size(); ++i) {
    BOOST_CHECK_EQUAL(q->size(volumes[i]), i + 1);
    BOOST_CHECK_EQUAL(sizes[volumes[i]], i + 1);
    for (auto& item : peek(volumes[i])) BOOST_CHECK_EQUAL(item.ticket.volume, volumes[i]);
  }
  BOOST_CHECK_EQUAL(pop_all("v").size(), 1u);
  BOOST_CHECK_EQUAL(q->leased("v2"), 0u);
  BOOST_CHECK_EQUAL(q->size("unknown"), 0u);
  reopen();
  for (size_t i = 0; i < volumes.size(); ++i) BOOST_CHECK_EQUAL(q->size(volumes[i]), i + 1);

  for (auto bad : {std::string{}, std::string(257, 'x')}) {
    auto t = q->push(bad, 0, "x");
    BOOST_REQUIRE(!t);
    BOOST_CHECK(is(t.error(), storage_errc::invalid_argument));
  }
  BOOST_REQUIRE(q->push(std::string(256, 'x'), 0, "x"));
}

BOOST_FIXTURE_TEST_CASE(payloads_are_kept_byte_for_byte, fixture) {
  std::string binary{"\0\x01\xff payload", 11};
  push("v", 0, binary);
  push("v", 0, "");
  push("v", 0, std::string(1 << 20, 'p'));
  reopen();
  auto items = pop("v", 3);
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  BOOST_CHECK(items[0].payload == binary);
  BOOST_CHECK(items[1].payload.empty());
  BOOST_CHECK_EQUAL(items[2].payload.size(), 1u << 20);
}

BOOST_FIXTURE_TEST_CASE(concurrent_consumers_get_each_item_once, fixture) {
  constexpr int items = 2000;
  write_batch batch{*db};
  for (int i = 0; i < items; ++i)
    BOOST_REQUIRE(q->push(batch, "v", i % 4, std::to_string(i)));
  BOOST_REQUIRE(!db->write(batch));
  std::vector<std::vector<std::string>> got(4);
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      std::mt19937 rng{static_cast<unsigned>(t)};
      for (;;) {
        auto popped = q->pop("v", 1 + rng() % 3);
        if (!popped) {
          ++failures;
          return;
        }
        if (popped->empty()) return;
        for (auto& item : *popped) {
          // Some items are handed back once before being done.
          if (rng() % 5 == 0) {
            q->release(item.ticket);
            continue;
          }
          if (q->ack(item.ticket)) ++failures;
          got[t].push_back(item.payload);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  // Released items not popped again before a consumer saw an empty queue are still there.
  for (auto& p : pop_all("v")) got[0].push_back(p);
  BOOST_CHECK_EQUAL(failures.load(), 0);
  std::multiset<std::string> all;
  for (auto& list : got) all.insert(list.begin(), list.end());
  BOOST_CHECK_EQUAL(all.size(), static_cast<size_t>(items));
  for (int i = 0; i < items; ++i) BOOST_CHECK_EQUAL(all.count(std::to_string(i)), 1u);
}
