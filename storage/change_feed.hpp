// storage/change_feed.hpp: the elements' change feed. Every element written or deleted gets a
// change with a strictly increasing sequence, written in the same atomic write as the element,
// so a follower that read up to sequence S and asks for what came after misses nothing and
// sees nothing twice (CouchDB's `_changes` is the model). Kept in the `chg/` key range of the
// `meta` column family, one entry per write (its elements' sequences follow each other),
// forgotten by age.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class database;
class write_batch;

/// One change: the element `id` was created or changed, or `deleted`.
struct element_change {
  uint64_t seq = 0;
  std::string id;
  bool deleted = false;
  /// When it was written, epoch milliseconds (the writing node's clock).
  int64_t at_ms = 0;
};

/// What a follower reads after its cursor.
struct change_page {
  /// In sequence order, strictly increasing; an element changed twice appears twice.
  std::vector<element_change> changes;
  /// The cursor to ask from next: the last change's sequence, else the cursor asked with.
  uint64_t last_seq = 0;
  /// The cursor is older than the oldest change kept (or newer than the newest: another
  /// database's). The follower reads every element once, then follows from `last_seq`, which
  /// is then the newest sequence; `changes` is empty.
  bool reset = false;
};

/// The log behind element_store's feed; element_store is its only writer. Thread-safe.
class change_log {
 public:
  explicit change_log(database& db);

  /// Stages one change per `(id, deleted)` into `batch`, with the next sequences. The element
  /// store calls it with its write lock held, so sequences follow the order of the writes;
  /// then `committed` or `abandoned` once the write is done.
  [[nodiscard]] caf::error stage(write_batch& batch,
                                 const std::vector<std::pair<std::string_view, bool>>& changes,
                                 int64_t now_ms);
  /// The staged write is durable: its changes become readable. Returns the last sequence.
  uint64_t committed();
  /// The staged write failed: its sequences are never used (a gap, which followers never see).
  void abandoned();

  /// Up to `limit` changes after `since`.
  [[nodiscard]] caf::expected<change_page> read(uint64_t since, size_t limit) const;
  /// The sequence of the newest change readable (0: none yet).
  uint64_t last() const;
  /// Forgets the oldest changes written before `before_ms`, whole writes at a time, up to
  /// `max` of them (or the first write alone when it holds more), in one write; a follower
  /// whose cursor is older is then told to `reset`. Returns how many were forgotten.
  [[nodiscard]] caf::expected<size_t> forget_before(int64_t before_ms, size_t max);

 private:
  // Reads where the feed stands, once. With `mu_` held.
  caf::error load_locked() const;

  database& db_;
  mutable std::mutex mu_;
  mutable bool loaded_ = false;
  mutable bool floor_stored_ = false;
  // Changes with sequences up to `floor_` are not kept (1 for a database that held elements
  // before the feed existed: a follower starting from 0 must read them all).
  mutable uint64_t floor_ = 0;
  mutable uint64_t next_ = 1;
  uint64_t staged_last_ = 0;
  mutable std::atomic<uint64_t> last_{0};
};

}  // namespace syncline::storage
