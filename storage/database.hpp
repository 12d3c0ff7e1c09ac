// storage/database.hpp: the node's one RocksDB database and its atomic write batches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

/// The on-disk layout version this build writes. A database of an older version from
/// `oldest_upgradable_schema` on opens (`database::stored_schema_version()` tells its version)
/// so its owner can upgrade it and then call `database::finish_upgrade()`; any other version is
/// refused at open, before anything is changed.
///  1: the first layout.
///  2: datasource records of format 2 (their target directories); format 1 records still read.
inline constexpr uint32_t schema_version = 2;
inline constexpr uint32_t oldest_upgradable_schema = 1;

/// The column families. Each storage class owns one (or, for `meta`, a key range).
enum class column : uint8_t { elements, datastore, runs, queue, users, tokens, meta };
inline constexpr size_t column_count = 7;

/// The column family's name on disk, e.g. `"elements"`.
const char* to_string(column c) noexcept;

struct database_options {
  /// The node's data directory; the RocksDB files live in `<data_dir>/db`.
  std::filesystem::path data_dir;
  /// Create the directory and an empty database when none exists.
  bool create_if_missing = true;
  /// fsync the write-ahead log on every write. Off, a write survives a crash of the process
  /// (it is in the kernel's page cache) but not a crash of the machine; callers that need
  /// machine-crash durability for a group of writes call `database::sync_wal()` once.
  bool sync_writes = false;
  /// Size of the block cache shared by every column family.
  size_t block_cache_bytes = size_t{64} << 20;
};

class database;

/// A group of changes applied atomically by `database::write`: after a crash at any instant,
/// either every change of the batch is present or none is. Hooks registered with `on_commit`
/// run, in order, after the batch is durable in the log, and never when the write fails;
/// storage classes use them to update their in-memory views (queue cursors, counters).
/// A batch belongs to the database it was made for and is used from one thread at a time.
class write_batch {
 public:
  explicit write_batch(database& db);
  ~write_batch();
  write_batch(write_batch&&) noexcept;
  write_batch& operator=(write_batch&&) noexcept;

  void put(column c, std::string_view key, std::string_view value);
  void erase(column c, std::string_view key);
  /// Erases every key in [begin, end) of column `c` (one range deletion).
  void erase_range(column c, std::string_view begin, std::string_view end);
  void on_commit(std::function<void()> hook);
  /// Makes `database::write` fsync the log before it returns, whatever
  /// `database_options::sync_writes` says: for writes a power cut must not roll back (users,
  /// passwords, tokens and their revocation). Cleared with the batch.
  void sync_on_write() noexcept;
  bool syncs_on_write() const noexcept;

  /// Number of puts and erases staged.
  size_t count() const noexcept;
  bool empty() const noexcept { return count() == 0; }
  /// Bytes the batch will write to the log.
  size_t byte_size() const noexcept;
  /// Drops every staged change and hook.
  void clear() noexcept;

  database& owner() const noexcept { return *db_; }

  struct impl;
  impl& internals() noexcept { return *impl_; }

 private:
  database* db_;
  std::unique_ptr<impl> impl_;
};

/// Restricts the data directory to its owner: the directory and every directory under `db/`
/// become 0700, the regular files directly in it and under `db/` 0600 (symbolic links are not
/// followed; other entries a person put there are left alone). `database::open` calls it at
/// every open, so a directory made or loosened by hand (a restore, a copy) is tightened too.
/// Files RocksDB creates later take the process's umask, inside a directory only the owner can
/// enter. `io_error` naming the path that could not be changed.
[[nodiscard]] caf::error restrict_data_dir(const std::filesystem::path& data_dir);

/// The node's database. Opening takes an exclusive lock on the data directory (a second
/// process gets `storage_errc::locked` naming the holder's pid), checks the schema version
/// (`storage_errc::schema_mismatch` names both versions) and creates the column families.
/// All methods are thread-safe. Closing happens in the destructor, which flushes nothing
/// that is not already in the write-ahead log; it never loses an acknowledged write.
class database {
 public:
  [[nodiscard]] static caf::expected<std::unique_ptr<database>> open(const database_options& opts);
  ~database();
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// A random identity (a ULID) created with the database and kept for its life.
  const std::string& node_id() const noexcept;
  const std::filesystem::path& data_dir() const noexcept;

  /// The schema version the database held when it was opened: `schema_version`, or an older
  /// one its owner must upgrade before writing anything of the new layout.
  uint32_t stored_schema_version() const noexcept;
  /// Records that the upgrade to `schema_version` is complete (a durable write). Until then a
  /// crash leaves the older version recorded and the next open upgrades again, so an upgrade
  /// must be safe to repeat.
  [[nodiscard]] caf::error finish_upgrade();

  /// Applies `batch` atomically, then runs its commit hooks and clears it. On error nothing of
  /// the batch is applied, no hook runs and the batch keeps its changes.
  [[nodiscard]] caf::error write(write_batch& batch);

  /// Makes every write so far survive a machine crash (one fsync of the log).
  [[nodiscard]] caf::error sync_wal();

  /// Reads one value of the `meta` column family.
  [[nodiscard]] caf::expected<std::optional<std::string>> get_meta(std::string_view key) const;
  /// Writes one value of the `meta` column family.
  [[nodiscard]] caf::error put_meta(std::string_view key, std::string_view value);
  /// Removes one value of the `meta` column family (absent is fine).
  [[nodiscard]] caf::error erase_meta(std::string_view key);
  /// Calls `visit(key, value)` for each `meta` entry whose key starts with `prefix`, in key
  /// order, until it returns false.
  [[nodiscard]] caf::error scan_meta(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  /// Rough counts for status output: estimated keys and live data bytes of a column family.
  uint64_t estimate_keys(column c) const;
  uint64_t estimate_bytes(column c) const;

  struct impl;
  /// For the storage folder's own classes: the RocksDB handles.
  impl& internals() const noexcept { return *impl_; }

 private:
  explicit database(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace syncline::storage
