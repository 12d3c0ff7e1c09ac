// actors/volume_schedule.hpp: a volume's choice of the next item to transfer. Plain code (no
// actor, no I/O): the volume actor leases items from the queue and gives them back; this keeps
// what it leased and says what starts next. Tested alone (tests/actors/volume_schedule_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "storage/transfer_queue.hpp"

namespace syncline::actors {

/// Each datasource has a sub-queue in the volume (`queue_name(volume, datasource)`); the volume
/// leases a few of its items at a time into a buffer. Items start by priority, then by age,
/// across all buffers, with one rule more: when a buffer ran dry while its sub-queue may hold
/// more, a lower-priority item does not overtake what its refill may bring (that sub-queue is
/// "starving" until the refill answers). A paused datasource's buffer is empty and gets none.
class volume_schedule {
 public:
  using queue_item = storage::queue_item;

  /// The next item to start and whose it is.
  struct pick {
    std::string queue;
    std::string datasource;
    queue_item item;
  };

  /// A refill to run: how many items to lease per sub-queue, and each one's wake count when
  /// asked (a wake-up during the refill means: look again, even if it ran out).
  struct refill_request {
    std::map<std::string, size_t> wanted;
    std::map<std::string, uint64_t> wakeups;
  };

  /// Makes the sub-queue `queue` of `datasource`, if new. It may hold items: it is refilled.
  void add_queue(const std::string& queue, const std::string& datasource);

  /// `queue`'s store may hold items it has not leased (a kick, items given back).
  void wake(const std::string& queue);

  /// Forgets `datasource` and its sub-queue `queue`; returns its buffered items, to give back.
  std::vector<queue_item> forget(const std::string& datasource, const std::string& queue);

  /// Pauses `datasource` (its sub-queue `queue`): returns its buffered items, to give back;
  /// none of its items starts until `resume`.
  std::vector<queue_item> pause(const std::string& datasource, const std::string& queue);
  void resume(const std::string& datasource, const std::string& queue);
  bool paused(const std::string& datasource) const;

  /// Empties every buffer (the whole volume pauses); returns the items, to give back.
  std::vector<queue_item> release_all();

  /// The next item to start: the buffered one of highest priority, the oldest among equals;
  /// nothing when no item is buffered, or when a starving sub-queue of higher priority than
  /// the best buffered item is being refilled.
  std::optional<pick> next();

  /// The next item of the sub-queue `queue` (to fill a batch with one datasource's items):
  /// nothing when its buffer is empty or paused, or when an item of higher priority waits
  /// elsewhere (or may come with a refill). Age order between sub-queues of equal priority is
  /// not kept here: a batch takes its own sub-queue's items in order.
  std::optional<pick> next_from(const std::string& queue);

  /// Puts a leased item back at the front of `queue` (its transfer waits for another of the
  /// same item). False when its datasource is paused: the caller gives it back to the store.
  bool put_back(const std::string& queue, queue_item item);

  /// The refill to run: the sub-queues of running datasources that may hold more and whose
  /// buffers are at most half of `target`, each leasing up to `target`.
  refill_request wanted(size_t target) const;

  /// A refill's answer for `asked`: the items leased by sub-queue, and the sub-queues that
  /// gave fewer than asked. Returns the items of sub-queues paused meanwhile (all of them when
  /// `volume_paused`), to give back.
  std::vector<queue_item> refilled(const refill_request& asked,
                                   std::map<std::string, std::vector<queue_item>> items,
                                   const std::set<std::string>& exhausted, bool volume_paused);

  /// The names of the sub-queues, how many there are; how many items are buffered in all.
  std::vector<std::string> queue_names() const;
  size_t queue_count() const noexcept { return queues_.size(); }
  size_t buffered() const;
  /// True when no two buffered items name related paths (the same one, or one beneath the
  /// other: `a`, `a/`, `a/b`): copied side by side in any order, they cannot get in each
  /// other's way (a file removed before a directory of its name is made, say).
  bool buffered_independent() const;

 private:
  // Sub-queues by the priority of the last item they gave, highest first.
  using starving_map = std::multimap<int32_t, std::string, std::greater<>>;
  // The order in which buffered heads start: priority (negated), then age.
  using head_key = std::tuple<int32_t, uint64_t, std::string>;

  struct sub_queue {
    std::string datasource;
    std::deque<queue_item> buffer;  // leased, in queue order
    bool want_refill = true;        // may hold more items than buffered
    uint64_t wakeups = 0;
    std::optional<starving_map::iterator> starving;
  };

  static head_key key_of(const std::string& queue, const queue_item& item);
  void drop_head(const std::string& queue, const sub_queue& q);
  void add_head(const std::string& queue, const sub_queue& q);
  void stop_starving(sub_queue& q);
  std::vector<queue_item> empty_buffer(const std::string& queue, sub_queue& q);
  bool higher_refill_due(int32_t priority) const;
  pick take_head(const std::string& queue, sub_queue& q);

  std::map<std::string, sub_queue> queues_;  // by queue name
  std::set<head_key> heads_;                 // the front item of each buffer of a running datasource
  starving_map starving_;
  std::set<std::string> paused_;             // datasources
};

/// The items being copied now, as (datasource, reference).
using running_set = std::set<std::pair<std::string, std::string>>;

/// Whether an item being copied now (`running`) stands in the way of copying `reference` of
/// `datasource` beside it: the same path as a file or a directory (`x` and `x/`: a file turned
/// into a directory, or back), a file where one of its directories goes (`x` running, `x/y` to
/// start), or, for a file `x`, anything beneath `x/`. Such a pair copied side by side fails
/// (ENOTDIR, EISDIR) where one after the other succeeds; the volume starts the second once the
/// first is done. A directory above it (`d/` running, `d/f` to start) is not in the way: a
/// file's missing directories are made as it is written.
bool in_the_way(const running_set& running, const std::string& datasource,
                const std::string& reference);

}  // namespace syncline::actors
