// storage/datastore.hpp: what syncline knows of each item of each datasource (seed 002).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class database;
class write_batch;

/// The action still owed for an item (seed 002's PendingAction).
enum class pending_action : uint8_t { none = 0, add, replace, remove };

/// `"none"`, `"add"`, `"replace"`, `"remove"`.
const char* to_string(pending_action a) noexcept;
std::optional<pending_action> pending_action_from_string(std::string_view s) noexcept;

/// One item of one datasource.
struct datastore_row {
  /// The item's reference in its source (a relative path for folders); unique per datasource.
  std::string reference;
  /// Last modification time seen at the source, nanoseconds since the epoch.
  int64_t mtime_ns = 0;
  uint64_t size = 0;
  /// Content hash (XXH3-64) when the source or a transfer computed one.
  std::optional<uint64_t> hash;
  pending_action action = pending_action::none;
  /// Failed attempts at the pending action since it was set.
  uint32_t attempts = 0;
  /// The last failure, for status output; empty when none.
  std::string last_error;
  /// When the last attempt failed, epoch milliseconds; 0 when never.
  int64_t last_attempt_ms = 0;
  /// Item properties (`flag_symlink`, ...), as the connector reported them.
  uint32_t flags = 0;

  static constexpr uint32_t flag_symlink = 1u << 0;
  static constexpr uint32_t flag_directory = 1u << 1;
  /// Unix permission bits live in the low 12 bits of `mode`.
  uint32_t mode = 0;
  /// Incremented whenever the row's source state or action changes, so a transfer that copied
  /// generation g can tell whether the row still describes what it copied.
  uint64_t generation = 0;
  /// The queue item carrying the pending action: its sequence (0 = not queued) and priority.
  uint64_t queue_seq = 0;
  int32_t queue_priority = 0;
  /// The action failed for good (`error`): it stays pending but is not retried until a person
  /// acts (a forced sync un-parks it).
  bool parked = false;

  friend bool operator==(const datastore_row& a, const datastore_row& b) noexcept;
  friend bool operator!=(const datastore_row& a, const datastore_row& b) noexcept {
    return !(a == b);
  }
};

/// Counts of rows per pending action, and their sizes.
struct datastore_counts {
  uint64_t rows = 0;
  uint64_t pending[4] = {0, 0, 0, 0};  ///< indexed by `pending_action`
  uint64_t bytes = 0;
};

/// The `datastore` column family: rows keyed by (datasource, reference), iterated in reference
/// byte order within a datasource. A run merges a sorted listing of its source with `scan()` as
/// two streams, so memory stays flat however many items there are. Thread-safe; changes are
/// staged into a `write_batch` so they commit atomically with queue and run changes.
class datastore {
 public:
  explicit datastore(database& db);

  [[nodiscard]] caf::expected<std::optional<datastore_row>> get(std::string_view datasource,
                                                                std::string_view reference) const;

  /// Stages the row (insert or replace).
  void put(write_batch& batch, std::string_view datasource, const datastore_row& row) const;
  /// Stages the removal of one row.
  void erase(write_batch& batch, std::string_view datasource, std::string_view reference) const;
  /// Writes one row at once (one batch).
  [[nodiscard]] caf::error put(std::string_view datasource, const datastore_row& row) const;

  /// Removes every row of a datasource (a range deletion: cheap however many rows).
  [[nodiscard]] caf::error drop(std::string_view datasource) const;

  /// A forward iterator over one datasource's rows in reference order, on a consistent
  /// snapshot taken when it was made. Not thread-safe; must not outlive the database.
  class cursor {
   public:
    cursor(cursor&&) noexcept;
    cursor& operator=(cursor&&) noexcept;
    ~cursor();
    bool valid() const noexcept { return valid_; }
    /// REQUIRES: valid().
    const datastore_row& row() const noexcept { return row_; }
    void next();
    /// Why iteration stopped early (I/O error, corruption); none at a normal end.
    const caf::error& status() const noexcept { return status_; }

   private:
    friend class datastore;
    struct impl;
    explicit cursor(std::unique_ptr<impl> p);
    void load();
    std::unique_ptr<impl> impl_;
    datastore_row row_;
    bool valid_ = false;
    caf::error status_;
  };

  /// Rows of `datasource` with a reference greater than `after` (all rows when empty).
  cursor scan(std::string_view datasource, std::string_view after = {}) const;

  /// Counts rows of a datasource by pending action (a full scan of its rows).
  [[nodiscard]] caf::expected<datastore_counts> count(std::string_view datasource) const;

  /// Stages the removal of every row of `datasource` (`drop` in a caller's batch).
  void stage_drop(write_batch& batch, std::string_view datasource) const;

  /// The key prefix of a datasource's rows (exposed for tests of the key order).
  static std::string key_prefix(std::string_view datasource);

 private:
  database& db_;
};

}  // namespace syncline::storage
