// storage/transfer_queue.hpp: the persistent priority queue of pending transfers.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class database;
class write_batch;

/// Where an item sits in the queue. Tickets are values: keep one to ack, release or
/// reprioritize the item later, across restarts too.
struct queue_ticket {
  std::string volume;
  int32_t priority = 0;
  uint64_t seq = 0;

  /// A printable form, `<priority>:<seq>:<volume>`, and its inverse.
  std::string to_string() const;
  [[nodiscard]] static caf::expected<queue_ticket> from_string(std::string_view s);
  friend bool operator==(const queue_ticket& a, const queue_ticket& b) noexcept {
    return a.volume == b.volume && a.priority == b.priority && a.seq == b.seq;
  }
};

struct queue_item {
  queue_ticket ticket;
  std::string payload;
  bool leased = false;  ///< set by `peek` only
};

/// The `queue` column family: items per volume, popped in descending `sync_priority` and, within
/// a priority, in push order (FIFO, across restarts too).
///
/// `pop` leases items: a leased item stays in the database, invisible to further pops, until
/// `ack` removes it or `release` returns it. Leases live in memory only, so after a crash every
/// item that was not acknowledged is delivered again. Pushes and acks can be staged into a
/// caller's `write_batch` to commit atomically with datastore and run changes; their effect on
/// pops and counts takes place when that batch commits. Thread-safe; the database must outlive
/// the queue, and one queue object serves a database.
class transfer_queue {
 public:
  /// Reads the sequence high-water mark and counts the items per volume.
  [[nodiscard]] static caf::expected<std::unique_ptr<transfer_queue>> open(database& db);

  /// Stages one item; it becomes visible to `pop` when `batch` commits.
  [[nodiscard]] caf::expected<queue_ticket> push(write_batch& batch, std::string_view volume,
                                                 int32_t priority, std::string_view payload);
  /// Pushes one item at once.
  [[nodiscard]] caf::expected<queue_ticket> push(std::string_view volume, int32_t priority,
                                                 std::string_view payload);

  /// Leases up to `max_items` of `volume`'s items in queue order. Empty when none is free.
  [[nodiscard]] caf::expected<std::vector<queue_item>> pop(std::string_view volume,
                                                           size_t max_items = 1);

  /// Stages the removal of a leased item; the lease ends when `batch` commits.
  /// Fails with `invalid_argument` if `ticket` is not leased (or already being acknowledged).
  [[nodiscard]] caf::error ack(write_batch& batch, const queue_ticket& ticket);
  [[nodiscard]] caf::error ack(const queue_ticket& ticket);

  /// Ends a lease without removing the item: it will be popped again, in its place.
  void release(const queue_ticket& ticket);
  /// Ends every lease of a volume (its consumer stopped).
  void release_all(std::string_view volume);

  /// Removes every item of `volume` (a queue whose owner is deleted), leased or not: holders of
  /// leases find their acks refused. Returns how many were removed. One range deletion.
  [[nodiscard]] caf::expected<uint64_t> drop(std::string_view volume);
  /// `drop` staged into a caller's batch: the items go when the batch commits, and the
  /// in-memory view (count, leases, cursor) is reset then. Nothing may push to `volume`
  /// between staging and commit (its owner is stopped).
  void stage_drop(write_batch& batch, std::string_view volume);

  /// Removes an item that is not leased (a cancelled transfer). `not_found` if absent.
  [[nodiscard]] caf::error remove(const queue_ticket& ticket);

  /// Moves an item to another priority, keeping its place in push order within the new one.
  /// Returns the new ticket. A leased item is not moved (`busy`): it is being processed now, and
  /// moving it would leave its holder with a ticket that no longer names it.
  [[nodiscard]] caf::expected<queue_ticket> reprioritize(const queue_ticket& ticket,
                                                         int32_t priority);

  /// Up to `limit` items of `volume` in queue order after `after` (from the head when empty),
  /// without leasing them. For status pages.
  [[nodiscard]] caf::expected<std::vector<queue_item>> peek(std::string_view volume,
                                                            size_t limit,
                                                            const queue_ticket* after = nullptr) const;

  /// Items of a volume (leased ones included), and how many of them are leased.
  uint64_t size(std::string_view volume) const;
  uint64_t leased(std::string_view volume) const;
  /// Every volume that has items, with its count.
  std::map<std::string, uint64_t> sizes() const;

 private:
  explicit transfer_queue(database& db);
  caf::error init();
  caf::expected<uint64_t> next_seq();

  enum class lease_state : uint8_t { leased, acking };
  struct lease {
    int32_t priority;
    lease_state state;
  };
  // Leases by seq, which no two items share: open addressing in one array, because every pop,
  // ack and commit hook looks one up.
  class lease_table {
   public:
    const lease* find(uint64_t seq) const noexcept;
    lease* find(uint64_t seq) noexcept {
      return const_cast<lease*>(static_cast<const lease_table&>(*this).find(seq));
    }
    /// Adds a lease; false (and nothing changed) if `seq` has one.
    bool insert(uint64_t seq, lease l);
    bool erase(uint64_t seq) noexcept;
    void clear() noexcept;
    size_t size() const noexcept { return size_; }

   private:
    struct slot {
      uint64_t seq = 0;
      lease value{};
      bool used = false;
    };
    size_t home(uint64_t seq) const noexcept;
    std::vector<slot> slots_;  // a power of two in size, at most half full
    size_t size_ = 0;
  };
  // Lives as long as the queue (volumes are never dropped): commit hooks keep pointers to it.
  struct volume_state {
    transfer_queue* owner = nullptr;
    std::string prefix;  // the key prefix of the volume's items
    std::string cursor;  // every key below it is leased or gone
    lease_table leases;
    uint64_t count = 0;

    bool is_leased(const queue_ticket& t) const;
  };
  volume_state& vol(std::string_view volume);

  database& db_;
  mutable std::mutex mtx_;
  std::map<std::string, volume_state, std::less<>> volumes_;
  uint64_t next_seq_ = 1;
  uint64_t seq_limit_ = 0;  // persisted: no seq at or above it has been handed out
};

}  // namespace syncline::storage
