#include "actors/scan_merge.hpp"

#include <set>

#include "actors/error.hpp"
#include "connectors/error.hpp"
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
    if (record_held_) held_refs_.push_back(row.reference);
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

caf::error link_merger::merge_changed(const std::vector<item_info>& present,
                                      const std::vector<std::string>& gone,
                                      storage::write_batch& batch, merge_stats& stats) {
  error_ = caf::none;
  record_held_ = true;
  auto& decided = decided_;
  std::vector<std::string> unreadable_dirs;  // their rows below are kept, none is gone
  const std::string* last_unreadable = nullptr;
  for (auto& item : present) {
    if (!decided.insert(item.reference).second) continue;
    if (item.kind == item_kind::unreadable) {
      // resolve_changes names a path it cannot read twice, `x` then `x/` (either may hold a
      // row): one problem, counted once.
      bool twin = last_unreadable != nullptr &&
                  item.reference.size() == last_unreadable->size() + 1 &&
                  item.reference.back() == '/' &&
                  item.reference.compare(0, last_unreadable->size(), *last_unreadable) == 0;
      if (!twin) {
        ++stats.unreadable;
        if (stats.problems.size() < max_problems)
          stats.problems.push_back(item.reference + ": " + render(item.error));
      }
      last_unreadable = &item.reference;
    }
    auto row = rows_.get(scope_, item.reference);
    if (!row) return std::move(row.error());
    if (*row) {
      ++stats.rows;
      on_both(item, std::move(**row), batch, stats);
    } else {
      on_item_only(item, batch, stats);
    }
    if (item.kind == item_kind::unreadable && !item.reference.empty() &&
        item.reference.back() == '/')
      unreadable_dirs.push_back(item.reference);
    if (error_) return error_;
  }
  auto below_unreadable = [&](const std::string& reference) {
    for (auto& dir : unreadable_dirs)
      if (reference.size() > dir.size() && reference.compare(0, dir.size(), dir) == 0) return true;
    return false;
  };
  auto remove = [&](datastore_row row) -> bool {
    if (!decided.insert(row.reference).second || below_unreadable(row.reference)) return true;
    ++stats.rows;
    on_row_only(std::move(row), batch, stats);
    return !error_;
  };
  for (auto& reference : gone) {
    auto row = rows_.get(scope_, reference);
    if (!row) return std::move(row.error());
    if (*row && !remove(std::move(**row))) return error_;
    if (reference.empty() || reference.back() != '/') continue;
    auto cursor = rows_.scan(scope_, reference);
    for (; cursor.valid(); cursor.next()) {
      auto& r = cursor.row();
      if (r.reference.compare(0, reference.size(), reference) != 0) break;
      if (!remove(r)) return error_;
    }
    if (cursor.status()) return cursor.status();
  }
  return caf::none;
}

namespace {

bool absent(const caf::error& err) {
  return connectors::is(err, connectors::connector_errc::not_found) ||
         connectors::is(err, connectors::connector_errc::invalid_path);
}

item_info unreadable_item(std::string reference, caf::error error) {
  item_info info;
  info.reference = std::move(reference);
  info.kind = item_kind::unreadable;
  info.error = std::move(error);
  return info;
}

}  // namespace

changed_items resolve_changes(connectors::source& source, const std::vector<std::string>& paths) {
  std::set<std::string> all;
  for (auto& p : paths) {
    if (p.empty()) continue;
    all.insert(p);
    if (auto slash = p.rfind('/'); slash != std::string::npos) all.insert(p.substr(0, slash));
  }
  changed_items out;
  for (auto& path : all) {
    auto dir = path + "/";
    auto as_file = source.stat(path);
    if (as_file) {
      out.present.push_back(std::move(*as_file));
      out.gone.push_back(dir);
      continue;
    }
    auto as_dir = source.stat(dir);
    if (as_dir) {
      out.present.push_back(std::move(*as_dir));
      out.gone.push_back(path);
      out.directories.push_back(dir);
      continue;
    }
    if (absent(as_file.error()) && absent(as_dir.error())) {
      out.gone.push_back(path);
      out.gone.push_back(dir);
      continue;
    }
    auto err = absent(as_file.error()) ? as_dir.error() : as_file.error();
    out.present.push_back(unreadable_item(path, err));
    out.present.push_back(unreadable_item(dir, err));
  }
  return out;
}

namespace {

// Queues the row's removal when it waits unqueued; whether it did.
caf::expected<bool> release(storage::datastore& rows, storage::transfer_queue& queue,
                            const std::string& scope, const std::string& name, datastore_row row,
                            const std::function<int32_t(std::string_view)>& priority,
                            storage::write_batch& batch) {
  if (row.action != pending_action::remove || row.parked || row.queue_seq != 0) return false;
  auto ticket = queue.push(batch, name, priority ? priority(row.reference) : 0, row.reference);
  if (!ticket) return std::move(ticket.error());
  row.queue_seq = ticket->seq;
  row.queue_priority = ticket->priority;
  rows.put(batch, scope, row);
  return true;
}

}  // namespace

caf::expected<uint64_t> release_removals(storage::datastore& rows, storage::transfer_queue& queue,
                                         const std::string& datasource, const std::string& volume,
                                         const std::vector<std::string>& references,
                                         const std::function<int32_t(std::string_view)>& priority,
                                         storage::write_batch& batch) {
  auto scope = datastore_scope(datasource, volume);
  auto name = queue_name(volume, datasource);
  uint64_t released = 0;
  for (auto& reference : references) {
    auto found = rows.get(scope, reference);
    if (!found) return std::move(found.error());
    if (!*found) continue;
    auto queued = release(rows, queue, scope, name, std::move(**found), priority, batch);
    if (!queued) return std::move(queued.error());
    released += *queued ? 1 : 0;
  }
  return released;
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
    auto queued = release(rows, queue, scope, name, cursor.row(), priority, batch);
    if (!queued) return std::move(queued.error());
    released += *queued ? 1 : 0;
  }
  if (cursor.status()) return cursor.status();
  return released;
}

}  // namespace syncline::actors
