// actors/scan_merge.hpp: a run's `querying` step: a sorted listing merged with the datastore.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <caf/error.hpp>

#include "actors/sync_model.hpp"
#include "connectors/item.hpp"
#include "connectors/source.hpp"
#include "storage/datastore.hpp"

namespace syncline::storage {
class transfer_queue;
class write_batch;
}  // namespace syncline::storage

namespace syncline::actors {

struct merge_options {
  sync_type type = sync_type::auto_;
  /// Treat a different content hash as a change, when both sides know one.
  bool compare_hash = false;
  /// A forced sync: actions parked in `error` become pending (and queued) again.
  bool unpark = false;
  /// The deletion guard: rows whose action is `remove` are saved but not queued (counted as
  /// `held`); the caller releases them with `release_removals` once it knows their number.
  bool hold_removals = false;
  /// The `sync_priority` of an item; 0 for all when empty.
  std::function<int32_t(std::string_view reference)> priority;
};

/// What a merge saw, summed over its calls.
struct merge_stats {
  uint64_t added = 0;      ///< new items (action add)
  uint64_t replaced = 0;   ///< changed items (action replace)
  uint64_t removed = 0;    ///< items gone from the source (action remove, `auto` only)
  uint64_t unchanged = 0;  ///< items needing no new action
  uint64_t unreadable = 0; ///< entries the source could not read
  uint64_t pending = 0;    ///< rows left with an action to do (queued), after the merge
  uint64_t parked = 0;     ///< rows whose action waits in `error`
  uint64_t bytes_pending = 0;  ///< bytes of the pending adds and replaces
  uint64_t queued = 0;     ///< queue items pushed by the merge
  uint64_t held = 0;       ///< removals to do that are not queued (`hold_removals`)
  uint64_t rows = 0;       ///< rows the merge looked at (the link's items before the run)
  /// The first few unreadable entries, `reference: error`.
  std::vector<std::string> problems;
};

/// Merges one datasource's listing with one link's datastore rows, batch by batch, staging row
/// changes and queue pushes into the caller's write batch (the caller writes it). Each call
/// opens a fresh cursor after the last reference merged, so rows changed between calls (by
/// completions) are seen as they are now. Decisions:
///
/// | listing \ row | no row | row |
/// |---|---|---|
/// | item | add | same size, mtime, kind (and hash when compared): nothing; else replace |
/// | none | — | `auto`: remove; `arch`/`one`: a never-delivered add is dropped, a pending replace is cancelled, a delivered row is kept |
/// | unreadable | — | kept as is, and for a directory every row below it too |
///
/// A row whose action changes gets a new generation. A row with an action to do that has no
/// queue item (and is not parked) is queued. Not thread-safe: one merge at a time per link.
class link_merger {
 public:
  link_merger(storage::datastore& rows, storage::transfer_queue& queue, std::string datasource,
              std::string volume, merge_options options);

  /// Merges `items` (sorted, all after every item of earlier calls). When `last`, rows after
  /// the final item are merged too (as gone from the source).
  [[nodiscard]] caf::error merge(const std::vector<connectors::item_info>& items, bool last,
                                 storage::write_batch& batch, merge_stats& stats);

  /// Merges the items of a run over changed paths only (a watched tree's changes): each
  /// entry is looked up by reference rather than walked to. `present` items are merged as a
  /// listing's would be; each of `gone` is a reference no longer in the source, and one ending
  /// in `/` takes every row below it along. A reference is decided once, present before gone
  /// (a row also below a gone directory but present again is kept). Removals held back by
  /// `hold_removals` are remembered in `held_references()` for `release_removals` of a list.
  [[nodiscard]] caf::error merge_changed(const std::vector<connectors::item_info>& present,
                                         const std::vector<std::string>& gone,
                                         storage::write_batch& batch, merge_stats& stats);

  /// The removals `merge_changed` held back (the references of their rows).
  const std::vector<std::string>& held_references() const noexcept { return held_refs_; }
  /// Every reference `merge_changed` decided (whose completions belong to its run).
  const std::unordered_set<std::string>& decided_references() const noexcept { return decided_; }

  /// The last reference merged.
  const std::string& position() const noexcept { return position_; }

 private:
  void on_row_only(storage::datastore_row row, storage::write_batch& batch, merge_stats& stats);
  void on_both(const connectors::item_info& item, storage::datastore_row row,
               storage::write_batch& batch, merge_stats& stats);
  void on_item_only(const connectors::item_info& item, storage::write_batch& batch,
                    merge_stats& stats);
  void keep(const storage::datastore_row& row, storage::write_batch& batch, merge_stats& stats);
  [[nodiscard]] caf::error save(storage::datastore_row& row, storage::write_batch& batch,
                                merge_stats& stats);
  bool in_skipped_subtree(std::string_view reference) const noexcept;

  storage::datastore& rows_;
  storage::transfer_queue& queue_;
  std::string scope_;
  std::string queue_name_;
  merge_options options_;
  std::string position_;
  std::string skipped_prefix_;  // an unreadable directory: rows below it are kept
  caf::error error_;            // first failure of a queue push, reported by merge()
  bool record_held_ = false;    // merge_changed: remember held removals in held_refs_
  std::vector<std::string> held_refs_;
  std::unordered_set<std::string> decided_;
};

/// Queues every removal of the link (`datasource`, `volume`) that waits unqueued (held back by
/// `merge_options::hold_removals`), into `batch`; returns how many. Blocks (scans the link).
[[nodiscard]] caf::expected<uint64_t> release_removals(storage::datastore& rows,
                                                       storage::transfer_queue& queue,
                                                       const std::string& datasource,
                                                       const std::string& volume,
                                                       const std::function<int32_t(std::string_view)>& priority,
                                                       storage::write_batch& batch);

/// Queues the removals among `references` of the link (`datasource`, `volume`) that wait
/// unqueued (held back by `merge_options::hold_removals`), into `batch`; returns how many. Point
/// reads: a run over changed paths releases its own removals without scanning the link.
[[nodiscard]] caf::expected<uint64_t> release_removals(storage::datastore& rows,
                                                       storage::transfer_queue& queue,
                                                       const std::string& datasource,
                                                       const std::string& volume,
                                                       const std::vector<std::string>& references,
                                                       const std::function<int32_t(std::string_view)>& priority,
                                                       storage::write_batch& batch);

/// A watched tree's changed paths looked up in its source, for `link_merger::merge_changed`.
struct changed_items {
  std::vector<connectors::item_info> present;  ///< in the source now (unreadable ones too)
  std::vector<std::string> gone;               ///< no longer there (`x/`: with its subtree)
  std::vector<std::string> directories;        ///< directories whose time a run sets again
};

/// Looks up each of `paths` (relative, `/`-separated, as `connectors::tree_watch` reports
/// them) and each one's parent directory in `source`: a path is a file or symlink (`x`), a
/// directory (`x/`), or gone (both). An entry that cannot be looked at is reported unreadable
/// under both names, which keeps its rows. Blocks (one or two stats per path).
[[nodiscard]] changed_items resolve_changes(connectors::source& source,
                                            const std::vector<std::string>& paths);

/// Copies what a listing says of an item into a row (kind flags, size, mtime, mode, hash).
void apply_item(const connectors::item_info& item, storage::datastore_row& row);

/// Whether the item differs from what the row recorded.
bool differs(const connectors::item_info& item, const storage::datastore_row& row,
             bool compare_hash) noexcept;

}  // namespace syncline::actors
