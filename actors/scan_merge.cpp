#include "actors/scan_merge.hpp"

#include "actors/error.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::actors {

using connectors::item_info;
using connectors::item_kind;
using storage::datastore_row;
using storage::pending_action;

namespace {

constexpr size_t max_problems = 20;

uint32_t kind_flags(item_kind k) {
  switch (k) {
    case item_kind::directory: return datastore_row::flag_directory;
    case item_kind::symlink: return datastore_row::flag_symlink;
    default: return 0;
  }
}

bool has_action(const datastore_row& r) { return r.action != pending_action::none; }

}  // namespace

void apply_item(const item_info& item, datastore_row& row) {
  row.reference = item.reference;
  row.flags = (row.flags & ~(datastore_row::flag_directory | datastore_row::flag_symlink)) |
              kind_flags(item.kind);
  // A directory's size is the file system's business, not a change of ours.
  row.size = item.kind == item_kind::file ? item.size : 0;
  row.mtime_ns = item.mtime_ns;
  row.mode = item.mode;
  row.hash = item.hash;
}

bool differs(const item_info& item, const datastore_row& row, bool compare_hash) noexcept {
  if (kind_flags(item.kind) !=
      (row.flags & (datastore_row::flag_directory | datastore_row::flag_symlink)))
    return true;
  if (item.mtime_ns != row.mtime_ns || item.mode != row.mode) return true;
  if (item.kind == item_kind::file && item.size != row.size) return true;
  if (compare_hash && item.hash && row.hash && *item.hash != *row.hash) return true;
  return false;
}

link_merger::link_merger(storage::datastore& rows, storage::transfer_queue& queue,
                         std::string datasource, std::string volume, merge_options options)
    : rows_(rows),
      queue_(queue),
      scope_(datastore_scope(datasource, volume)),
      queue_name_(queue_name(volume, datasource)),
      options_(std::move(options)) {}

bool link_merger::in_skipped_subtree(std::string_view reference) const noexcept {
  return !skipped_prefix_.empty() && reference.size() > skipped_prefix_.size() &&
         reference.compare(0, skipped_prefix_.size(), skipped_prefix_) == 0;
}

namespace {

bool held(const datastore_row& row, const merge_options& o) {
  return o.hold_removals && row.action == pending_action::remove && !row.parked &&
         row.queue_seq == 0;
}

}  // namespace

caf::error link_merger::save(datastore_row& row, storage::write_batch& batch, merge_stats& stats) {
  if (has_action(row) && !row.parked && row.queue_seq == 0 && !held(row, options_)) {
    auto priority = options_.priority ? options_.priority(row.reference) : 0;
    auto ticket = queue_.push(batch, queue_name_, priority, row.reference);
    if (!ticket) return std::move(ticket.error());
    row.queue_seq = ticket->seq;
    row.queue_priority = ticket->priority;
    ++stats.queued;
  }
  rows_.put(batch, scope_, row);
  keep(row, batch, stats);
  return caf::none;
}

void link_merger::keep(const datastore_row& row, storage::write_batch&, merge_stats& stats) {
  if (!has_action(row)) return;
  if (row.parked) {
    ++stats.parked;
    return;
  }
  if (held(row, options_)) {
    ++stats.held;
    return;
  }
  ++stats.pending;
  if (row.action != pending_action::remove) stats.bytes_pending += row.size;
}

void link_merger::on_row_only(datastore_row row, storage::write_batch& batch, merge_stats& stats) {
  if (in_skipped_subtree(row.reference)) {
    keep(row, batch, stats);
    return;
  }
  if (options_.type == sync_type::auto_) {
    if (row.action == pending_action::remove) {
      ++stats.unchanged;
      if (options_.unpark && row.parked) {
        row.parked = false;
        row.attempts = 0;
        if (!error_) error_ = save(row, batch, stats);
        return;
      }
      if (row.queue_seq == 0 && !row.parked) {
        if (!error_) error_ = save(row, batch, stats);
        return;
      }
      keep(row, batch, stats);
      return;
    }
    row.action = pending_action::remove;
    row.attempts = 0;
    row.parked = false;
    row.last_error.clear();
    ++row.generation;
    ++stats.removed;
    if (!error_) error_ = save(row, batch, stats);
    return;
  }
  // `arch` and `one` never delete at the target.
  if (row.action == pending_action::add) {
    // Never delivered and gone: nothing to keep. A transfer in flight finds no row and stops.
    rows_.erase(batch, scope_, row.reference);
    ++stats.unchanged;
    return;
  }
  if (row.action == pending_action::replace) {
    row.action = pending_action::none;
    row.parked = false;
    row.attempts = 0;
    ++row.generation;
    rows_.put(batch, scope_, row);
  }
  ++stats.unchanged;
}

void link_merger::on_both(const item_info& item, datastore_row row, storage::write_batch& batch,
                          merge_stats& stats) {
  if (item.kind == item_kind::unreadable) {
    keep(row, batch, stats);
    return;
  }
  if (differs(item, row, options_.compare_hash) || row.action == pending_action::remove) {
    bool delivered_before = row.action != pending_action::add;
    apply_item(item, row);
    row.action = delivered_before ? pending_action::replace : pending_action::add;
    row.attempts = 0;
    row.parked = false;
    row.last_error.clear();
    ++row.generation;
    if (row.action == pending_action::add)
      ++stats.added;
    else
      ++stats.replaced;
    if (!error_) error_ = save(row, batch, stats);
    return;
  }
  ++stats.unchanged;
  bool unpark = options_.unpark && row.parked;
  if (unpark) {
    row.parked = false;
    row.attempts = 0;
  }
  // Pending but not queued: a crash between commits, or just un-parked.
  if (unpark || (has_action(row) && !row.parked && row.queue_seq == 0)) {
    if (!error_) error_ = save(row, batch, stats);
    return;
  }
  keep(row, batch, stats);
}

void link_merger::on_item_only(const item_info& item, storage::write_batch& batch,
                               merge_stats& stats) {
  if (item.kind == item_kind::unreadable) return;
  datastore_row row;
  apply_item(item, row);
  row.action = pending_action::add;
  row.generation = 1;
  ++stats.added;
  if (!error_) error_ = save(row, batch, stats);
}

caf::error link_merger::merge(const std::vector<item_info>& items, bool last,
                              storage::write_batch& batch, merge_stats& stats) {
  error_ = caf::none;
  auto cursor = rows_.scan(scope_, position_);
  for (auto& item : items) {
    while (cursor.valid() && cursor.row().reference < item.reference) {
      ++stats.rows;
      on_row_only(cursor.row(), batch, stats);
      cursor.next();
    }
    if (item.kind == item_kind::unreadable) {
      ++stats.unreadable;
      if (stats.problems.size() < max_problems)
        stats.problems.push_back(item.reference + ": " + render(item.error));
    }
    if (cursor.valid() && cursor.row().reference == item.reference) {
      ++stats.rows;
      on_both(item, cursor.row(), batch, stats);
      cursor.next();
    } else {
      on_item_only(item, batch, stats);
    }
    // Set after the item: its own row is kept by on_both, rows below it by on_row_only.
    if (item.kind == item_kind::unreadable && !item.reference.empty() &&
        item.reference.back() == '/')
      skipped_prefix_ = item.reference;
    position_ = item.reference;
    if (error_) return error_;
  }
  if (last) {
    for (; cursor.valid(); cursor.next()) {
      ++stats.rows;
      on_row_only(cursor.row(), batch, stats);
      position_ = cursor.row().reference;
      if (error_) return error_;
    }
  }
  return cursor.status();
}

caf::expected<uint64_t> release_removals(storage::datastore& rows, storage::transfer_queue& queue,
                                         const std::string& datasource, const std::string& volume,
                                         const std::function<int32_t(std::string_view)>& priority,
                                         storage::write_batch& batch) {
  auto scope = datastore_scope(datasource, volume);
  auto name = queue_name(volume, datasource);
  uint64_t released = 0;
  auto cursor = rows.scan(scope);
  for (; cursor.valid(); cursor.next()) {
    auto row = cursor.row();
    if (row.action != pending_action::remove || row.parked || row.queue_seq != 0) continue;
    auto ticket = queue.push(batch, name, priority ? priority(row.reference) : 0, row.reference);
    if (!ticket) return std::move(ticket.error());
    row.queue_seq = ticket->seq;
    row.queue_priority = ticket->priority;
    rows.put(batch, scope, row);
    ++released;
  }
  if (cursor.status()) return cursor.status();
  return released;
}

}  // namespace syncline::actors
