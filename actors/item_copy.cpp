// actors/item_copy.cpp: see item_copy.hpp.
#include "actors/item_copy.hpp"

#include <charconv>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/node_context.hpp"
#include "actors/sync_model.hpp"
#include "connectors/error.hpp"
#include "storage/database.hpp"
#include "storage/datasource_store.hpp"
#include "storage/row_reads.hpp"

namespace syncline::actors {

using connectors::connector_errc;
using connectors::item_info;
using connectors::item_kind;
using storage::datastore_row;
using storage::pending_action;

namespace {

std::vector<char>& io_buffer() {
  thread_local std::vector<char> buf(1u << 20);
  return buf;
}

// Copies up to `limit` bytes; returns the bytes copied, 0 at the end of the source.
caf::expected<uint64_t> copy_some(copy_work& w, uint64_t limit) {
  uint64_t copied = 0;
  int fd = w.hashing ? -1 : w.reader->native_handle();
  while (copied < limit) {
    auto want = static_cast<size_t>(std::min<uint64_t>(limit - copied, 1u << 30));
    if (fd >= 0) {
      auto n = w.writer->copy_from(fd, want);
      if (!n) return std::move(n.error());
      if (*n == 0) break;
      w.reader->skip(*n);
      copied += *n;
      // Short, and as long as the file was when opened: its end (no call to find 0 bytes
      // more). A file that grew meanwhile is found changed by the end's check all the same.
      if (*n < want && w.writer->offset() == w.info.size) break;
      continue;
    }
    auto& buf = io_buffer();
    auto n = w.reader->read(buf.data(), std::min(want, buf.size()));
    if (!n) return std::move(n.error());
    if (*n == 0) break;
    if (w.hash) XXH3_64bits_update(w.hash.get(), buf.data(), *n);
    if (auto err = w.writer->write(buf.data(), *n)) return err;
    copied += *n;
  }
  return copied;
}

// With verification, a resumed copy must hash the bytes already written too: read them again
// from the source (they were verified durable, the source is the reference).
caf::error hash_prefix(copy_work& w, uint64_t prefix) {
  auto reader = w.source->open(w.info.reference, 0);
  if (!reader) return std::move(reader.error());
  auto& buf = io_buffer();
  while (prefix > 0) {
    auto n = (*reader)->read(buf.data(), static_cast<size_t>(std::min<uint64_t>(prefix, buf.size())));
    if (!n) return std::move(n.error());
    if (*n == 0) return connectors::make_error(connector_errc::changed_during_copy,
                                               w.info.reference + " became shorter");
    XXH3_64bits_update(w.hash.get(), buf.data(), *n);
    prefix -= *n;
  }
  return caf::none;
}

// A resume point: the bytes of a partial copy made durable, and the version of the source they
// came from, stored as "<offset> <size> <mtime_ns>". A copy resumes only a point of the version
// it reads now: another version's bytes (the file was rewritten between attempts) would make a
// copy of neither. A point that names no version (written before versions were kept) is not
// resumed from either.
struct checkpoint {
  bool present = false;    // a point is stored (it is dropped at the commit)
  bool versioned = false;  // it names its version
  uint64_t offset = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;

  bool of(const item_info& info) const noexcept {
    return versioned && info.size == size && info.mtime_ns == mtime_ns;
  }
};

checkpoint read_checkpoint(node_context& ctx, const std::string& key) {
  checkpoint c;
  auto v = ctx.db().get_meta(key);
  if (!v || !*v) return c;
  c.present = true;
  auto& s = **v;
  const char* at = s.data();
  const char* end = s.data() + s.size();
  auto r = std::from_chars(at, end, c.offset);
  if (r.ec != std::errc{}) return checkpoint{true};
  if (r.ptr == end || *r.ptr != ' ') return c;  // an offset alone: no version
  auto sz = std::from_chars(r.ptr + 1, end, c.size);
  if (sz.ec != std::errc{} || sz.ptr == end || *sz.ptr != ' ') return c;
  auto mt = std::from_chars(sz.ptr + 1, end, c.mtime_ns);
  c.versioned = mt.ec == std::errc{} && mt.ptr == end;
  return c;
}

std::string checkpoint_value(uint64_t offset, const item_info& version) {
  return std::to_string(offset) + " " + std::to_string(version.size) + " " +
         std::to_string(version.mtime_ns);
}

void drop_checkpoint(node_context& ctx, copy_work& w) {
  if (!w.has_checkpoint) return;
  // A stale resume point only makes a later copy re-check a prefix: not worth failing for.
  if (auto err = ctx.db().erase_meta(w.checkpoint))
    spdlog::warn("cannot drop resume point {}: {}", w.checkpoint, render(err));
  w.has_checkpoint = false;
}

}  // namespace

namespace {

// start_copy once the row is read (`row`: what datastore::get returned for the item). `resumable`:
// whether to look for a resume point; a batch's files (below one chunk) never wrote one.
copy_step start_with_row(node_context& ctx, const std::string& datasource,
                         const std::string& volume_id, const storage::queue_item& item,
                         caf::expected<std::optional<datastore_row>> row, bool verify,
                         copy_work& w, uint64_t max_size, bool resumable) {
  copy_step res;
  auto& rep = res.report;
  rep.datasource = datasource;
  rep.volume = volume_id;
  rep.reference = item.payload;
  rep.ticket = item.ticket;
  if (!row) {
    res.error = std::move(row.error());
    return res;
  }
  if (!*row || (*row)->action == pending_action::none || (*row)->parked) {
    rep.outcome = transfer_outcome::skipped;
    res.finished = true;
    return res;
  }
  auto& r = **row;
  rep.generation = r.generation;
  rep.ticket = storage::queue_ticket{item.ticket.volume, r.queue_priority, r.queue_seq};
  if (rep.ticket.seq == 0) rep.ticket = item.ticket;
  auto pair_target = ctx.target(datasource, volume_id);
  if (!pair_target) {
    res.error = std::move(pair_target.error());
    return res;
  }
  w.volume = w.batch_volume ? w.batch_volume : std::move(*pair_target);
  w.source = ctx.source(datasource);
  if (!w.volume || !w.source) {
    res.error = make_error(actors_errc::unknown_id, "no connector for " + datasource + " -> " +
                                                        volume_id);
    return res;
  }
  res.finished = true;
  if (r.action == pending_action::remove) {
    res.error = w.volume->remove(r.reference);
    return res;
  }
  if (r.flags & datastore_row::flag_directory) {
    item_info d;
    d.reference = r.reference;
    d.kind = item_kind::directory;
    d.mode = r.mode;
    d.mtime_ns = r.mtime_ns;
    res.error = w.volume->make_directory(d);
    return res;
  }
  if (r.flags & datastore_row::flag_symlink) {
    auto st = w.source->stat(r.reference);
    if (!st) {
      res.error = std::move(st.error());
    } else if (st->kind != item_kind::symlink) {
      res.error = connectors::make_error(connector_errc::changed_during_copy,
                                         r.reference + " is no longer a symlink");
    } else {
      res.error = w.volume->make_symlink(*st);
      rep.size = st->size;
      rep.mtime_ns = st->mtime_ns;
    }
    return res;
  }
  if (r.size > max_size) {
    rep.outcome = transfer_outcome::chunked;
    return res;
  }
  // A file: continue from a resume point if there is one.
  w.checkpoint =
      storage::datasource_store::checkpoint_key(queue_name(volume_id, datasource), r.reference);
  auto point = resumable ? read_checkpoint(ctx, w.checkpoint) : checkpoint{};
  w.has_checkpoint = point.present;
  uint64_t resume = point.versioned ? point.offset : 0;
  item_info target;
  target.reference = r.reference;
  target.kind = item_kind::file;
  target.size = r.size;
  target.mode = r.mode;
  target.mtime_ns = r.mtime_ns;
  // The file, opened at the offset the target's partial copy has; a partial copy of another
  // version of the source (rewritten since) is dropped and the file opened once more, afresh.
  for (;;) {
    auto writer = w.volume->open_writer(target, resume);
    if (!writer) {
      res.error = std::move(writer.error());
      return res;
    }
    w.writer = std::move(*writer);
    auto reader = w.source->open(r.reference, w.writer->offset());
    if (!reader) {
      // Gone from the source: a partial copy of it (from an earlier attempt, perhaps of a
      // killed node) would never be finished or removed by anyone. If the file comes back, its
      // copy starts afresh.
      if (connectors::is(reader.error(), connector_errc::not_found)) {
        w.writer->abort();
        drop_checkpoint(ctx, w);
      }
      res.error = std::move(reader.error());
      return res;
    }
    w.reader = std::move(*reader);
    w.info = w.reader->info();
    if (w.writer->offset() == 0 || point.of(w.info)) break;
    spdlog::info("transfer {} -> {}: {} changed since its partial copy: copied afresh", datasource,
                 volume_id, r.reference);
    w.reader.reset();
    w.writer->abort();
    resume = 0;
  }
  const auto offset = w.writer->offset();
  if (verify) {
    w.hashing = true;
    w.hash.reset(XXH3_createState());
    XXH3_64bits_reset(w.hash.get());
    if (offset > 0) {
      if (auto err = hash_prefix(w, offset)) {
        res.error = err;
        return res;
      }
    }
  }
  if (offset > 0)
    spdlog::info("transfer {} -> {}: {} resumes at byte {}", datasource, volume_id, r.reference,
                 offset);
  res.finished = false;
  return res;
}

}  // namespace

copy_step start_copy(node_context& ctx, const std::string& datasource, const std::string& volume_id,
                     const storage::queue_item& item, bool verify, copy_work& w,
                     uint64_t max_size) {
  return start_with_row(ctx, datasource, volume_id, item,
                        ctx.rows().get(datastore_scope(datasource, volume_id), item.payload), verify,
                        w, max_size, true);
}

// A chunk of a file copy; at the end of the source, commits.
copy_step copy_chunk(node_context& ctx, copy_work& w, transfer_report report) {
  copy_step res;
  res.report = std::move(report);
  auto& settings = ctx.settings();
  auto n = copy_some(w, settings.chunk_bytes);
  if (!n) {
    res.error = std::move(n.error());
    return res;
  }
  res.bytes = *n;
  w.since_checkpoint += *n;
  // copy_some stops early only at the end of the source.
  if (*n == settings.chunk_bytes) {
    // More to come. Every checkpoint_bytes: make the bytes durable and remember the offset.
    if (w.since_checkpoint >= settings.checkpoint_bytes) {
      if (auto err = w.writer->sync()) {
        res.error = err;
        return res;
      }
      if (auto err = ctx.db().put_meta(w.checkpoint, checkpoint_value(w.writer->offset(), w.info))) {
        res.error = err;
        return res;
      }
      w.has_checkpoint = true;
      w.since_checkpoint = 0;
    }
    return res;
  }
  // The end of the source: was it the same file all along?
  auto changed = w.reader->changed();
  if (!changed) {
    res.error = std::move(changed.error());
    return res;
  }
  if (*changed || w.writer->offset() != w.info.size) {
    w.writer->abort();
    drop_checkpoint(ctx, w);
    res.error = connectors::make_error(connector_errc::changed_during_copy,
                                       w.info.reference + " changed while it was copied");
    return res;
  }
  if (w.hashing) {
    auto expected = XXH3_64bits_digest(w.hash.get());
    auto written = w.writer->content_hash();
    if (!written) {
      res.error = std::move(written.error());
      return res;
    }
    if (*written != expected) {
      w.writer->abort();
      drop_checkpoint(ctx, w);
      res.error = connectors::make_error(connector_errc::hash_mismatch,
                                         w.info.reference + ": written bytes differ from read ones");
      return res;
    }
    res.report.has_hash = true;
    res.report.hash = expected;
  }
  if (auto err = w.writer->commit(w.info)) {
    res.error = err;
    return res;
  }
  drop_checkpoint(ctx, w);
  res.report.size = w.info.size;
  res.report.mtime_ns = w.info.mtime_ns;
  res.finished = true;
  return res;
}

batch_step copy_batch(node_context& ctx, const std::string& datasource,
                      const std::string& volume_id, const std::vector<storage::queue_item>& items,
                      size_t from, bool verify, const std::atomic<bool>& stop) {
  batch_step out;
  out.next = from;
  // Small: below one chunk, so that one copy_chunk copies and commits it.
  const uint64_t small = ctx.settings().chunk_bytes > 0 ? ctx.settings().chunk_bytes - 1 : 0;
  // The rows of the items, read at once. Each is a snapshot taken before its copy, as a single
  // read would be: a row that moves on meanwhile is caught by the completion (its generation).
  const auto scope = datastore_scope(datasource, volume_id);
  std::vector<storage::row_key> keys;
  keys.reserve(items.size() - std::min(from, items.size()));
  for (size_t i = from; i < items.size(); ++i) keys.push_back({scope, items[i].payload});
  auto rows = storage::read_rows(ctx.db(), keys);
  out.reports.reserve(keys.size());
  // One view of the volume for the job: it keeps the root and the last directory it resolved.
  std::shared_ptr<connectors::volume> view;
  if (auto target = ctx.target(datasource, volume_id); target && *target)
    view = (*target)->for_batch();
  while (out.next < items.size()) {
    if (out.next > from && stop.load(std::memory_order_relaxed)) break;
    copy_work w;
    w.batch_volume = view;
    auto row = std::move(rows[out.next - from]);
    // A batch's files are below one chunk: none of them wrote a resume point, so none is read
    // (a file that grew past it since the scan is copied from its start, its resume points
    // written and dropped as in a transfer).
    auto step = start_with_row(ctx, datasource, volume_id, items[out.next], std::move(row),
                               verify, w, small, false);
    // A file that grew past its row's size since the scan takes more chunks: it is finished
    // here all the same (rare; its resume points are written as in a transfer).
    while (!step.error && !step.finished) {
      auto bytes = step.bytes;
      step = copy_chunk(ctx, w, std::move(step.report));
      step.bytes += bytes;
    }
    out.bytes += step.bytes;
    auto& rep = step.report;
    rep.bytes = step.bytes;
    if (step.error) {
      rep.outcome = transfer_outcome::failed;
      rep.error = std::move(step.error);
    }
    out.reports.push_back(std::move(rep));
    ++out.next;
  }
  return out;
}

}  // namespace syncline::actors
