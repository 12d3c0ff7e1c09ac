// connectors/source.hpp: where items come from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/item.hpp"

namespace syncline::connectors {

/// A stream of items in reference byte order. Not thread-safe; used by one job at a time, but it
/// may move between threads between calls. Memory stays bounded whatever the number of items.
class listing {
 public:
  virtual ~listing() = default;
  /// Appends up to `max` next items to `out`. Returns false once the listing is exhausted (the
  /// call may still have appended items). An error here ends the listing; entries that merely
  /// cannot be read are reported in the stream as `item_kind::unreadable` instead.
  [[nodiscard]] virtual caf::expected<bool> next(std::vector<item_info>& out, size_t max) = 0;
};

/// Reads one item's content, blocking. Not thread-safe.
class item_reader {
 public:
  virtual ~item_reader() = default;
  /// The item as it was when opened.
  virtual const item_info& info() const noexcept = 0;
  /// Reads up to `n` bytes; returns 0 at the end.
  [[nodiscard]] virtual caf::expected<size_t> read(char* buf, size_t n) = 0;
  /// A file descriptor positioned at the read offset for kernel-side copies
  /// (`copy_file_range`), or -1 when the reader has none. After using it, call `skip`.
  virtual int native_handle() const noexcept { return -1; }
  /// Tells the reader that `n` bytes were consumed through `native_handle()`.
  virtual void skip(uint64_t n) { (void)n; }
  /// Whether the item changed (size, mtime) since it was opened; call after the last read.
  [[nodiscard]] virtual caf::expected<bool> changed() = 0;
};

/// A datasource's connector. Implementations are thread-safe: listings, stats and readers may
/// be used from several threads at once. Every call blocks; actors call them from the I/O pool.
class source {
 public:
  virtual ~source() = default;
  /// What this is, for logs and status: `folder /srv/photos`.
  virtual std::string describe() const = 0;
  /// Checks the configuration (root exists and is readable...). `bad_config` names the problem.
  [[nodiscard]] virtual caf::error check() = 0;
  /// Starts a listing of every item, in reference byte order.
  [[nodiscard]] virtual caf::expected<std::unique_ptr<listing>> list() = 0;
  /// Tells the source that run `number` (1, 2, ...) of its datasource begins, before it lists.
  /// Real sources ignore it; a synthetic source moves to generation `number - 1`, so each run
  /// sees its share of changes.
  virtual void on_run(uint64_t number) { (void)number; }
  /// Which filesystem holds the source's root, robustly across reboots (its UUID when the
  /// system knows one, else its type, device and mount point); "" when the source has none or
  /// the root cannot be looked at. The deletion guard compares it between runs. Blocks.
  virtual std::string filesystem_identity() { return {}; }
  /// The item's current state; `not_found` when it is gone.
  [[nodiscard]] virtual caf::expected<item_info> stat(std::string_view reference) = 0;
  /// Opens a file item for reading from `offset`.
  [[nodiscard]] virtual caf::expected<std::unique_ptr<item_reader>> open(
      std::string_view reference, uint64_t offset) = 0;
};

}  // namespace syncline::connectors
