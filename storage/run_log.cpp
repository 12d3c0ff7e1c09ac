#include "storage/run_log.hpp"

#include <rocksdb/db.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

namespace {

constexpr uint8_t record_format = 1;
constexpr size_t max_history = 256;

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

std::string prefix_of(std::string_view datasource) {
  std::string key;
  codec::append_string(key, datasource);
  return key;
}

std::string key_of(std::string_view datasource, uint64_t number) {
  auto key = prefix_of(datasource);
  codec::append_u64(key, number);
  return key;
}

std::string encode(const run_record& r) {
  std::string out;
  codec::writer w{out};
  w.u8(record_format).u8(static_cast<uint8_t>(r.status));
  w.varint(r.history.size());
  for (auto& h : r.history) w.u8(static_cast<uint8_t>(h.status)).svarint(h.at_ms);
  auto& c = r.counters;
  w.varint(c.listed).varint(c.added).varint(c.replaced).varint(c.removed).varint(c.unchanged);
  w.varint(c.done).varint(c.failed).varint(c.bytes_total).varint(c.bytes_done);
  w.bytes(r.error).bytes(r.trigger).svarint(r.started_ms).svarint(r.ended_ms);
  return out;
}

bool valid_status(uint8_t s) { return s <= static_cast<uint8_t>(run_status::failed); }

bool decode(std::string_view in, run_record& r) {
  codec::reader rd{in};
  uint8_t format = 0;
  uint8_t status = 0;
  uint64_t n = 0;
  rd.u8(format).u8(status).varint(n);
  if (!rd.ok() || format != record_format || !valid_status(status) || n > max_history + 1)
    return false;
  r.status = static_cast<run_status>(status);
  r.history.resize(static_cast<size_t>(n));
  for (auto& h : r.history) {
    uint8_t s = 0;
    rd.u8(s).svarint(h.at_ms);
    if (!valid_status(s)) return false;
    h.status = static_cast<run_status>(s);
  }
  auto& c = r.counters;
  rd.varint(c.listed).varint(c.added).varint(c.replaced).varint(c.removed).varint(c.unchanged);
  rd.varint(c.done).varint(c.failed).varint(c.bytes_total).varint(c.bytes_done);
  rd.bytes(r.error).bytes(r.trigger).svarint(r.started_ms).svarint(r.ended_ms);
  return rd.ok();
}

caf::expected<run_record> decode_entry(std::string_view key, std::string_view value,
                                       size_t prefix_size, std::string_view datasource) {
  run_record r;
  r.datasource = std::string{datasource};
  auto rest = key.substr(prefix_size);
  if (!codec::read_u64(rest, r.number) || !rest.empty() || !decode(value, r))
    return make_error(storage_errc::corruption,
                      "run record of " + std::string{datasource} + " cannot be decoded");
  return r;
}

}  // namespace

const char* to_string(run_status s) noexcept {
  switch (s) {
    case run_status::started: return "started";
    case run_status::querying: return "querying";
    case run_status::queued: return "queued";
    case run_status::in_progress: return "in_progress";
    case run_status::success: return "success";
    case run_status::paused: return "paused";
    case run_status::failed: return "failed";
  }
  return "unknown";
}

std::optional<run_status> run_status_from_string(std::string_view s) noexcept {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(run_status::failed); ++i)
    if (s == to_string(static_cast<run_status>(i))) return static_cast<run_status>(i);
  return std::nullopt;
}

bool is_final(run_status s) noexcept { return s == run_status::success || s == run_status::failed; }

bool operator==(const run_counters& a, const run_counters& b) noexcept {
  return a.listed == b.listed && a.added == b.added && a.replaced == b.replaced &&
         a.removed == b.removed && a.unchanged == b.unchanged && a.done == b.done &&
         a.failed == b.failed && a.bytes_total == b.bytes_total && a.bytes_done == b.bytes_done;
}

void run_record::move_to(run_status s, int64_t at_ms) {
  status = s;
  // A run paused and resumed many times keeps its first and latest moves.
  if (history.size() >= max_history) history.erase(history.begin() + 1);
  history.push_back(run_transition{s, at_ms});
  if (is_final(s)) ended_ms = at_ms;
}

run_log::run_log(database& db) : db_(db) {}

caf::expected<run_record> run_log::begin(std::string_view datasource, int64_t now_ms,
                                         std::string trigger) {
  std::lock_guard<std::mutex> guard{begin_mtx_};
  auto prev = last(datasource);
  if (!prev) return std::move(prev.error());
  run_record r;
  r.datasource = std::string{datasource};
  r.number = *prev ? (*prev)->number + 1 : 1;
  r.trigger = std::move(trigger);
  r.started_ms = now_ms;
  r.move_to(run_status::started, now_ms);
  if (auto err = save(r)) return err;
  return r;
}

void run_log::stage(write_batch& batch, const run_record& record) const {
  batch.put(column::runs, key_of(record.datasource, record.number), encode(record));
}

caf::error run_log::save(const run_record& record) const {
  write_batch batch{db_};
  stage(batch, record);
  return db_.write(batch);
}

caf::expected<std::optional<run_record>> run_log::get(std::string_view datasource,
                                                      uint64_t number) const {
  auto& r = db_.internals();
  auto key = key_of(datasource, number);
  std::string value;
  auto st = r.db->Get(rocksdb::ReadOptions{}, r.cf(column::runs), slice(key), &value);
  if (st.IsNotFound()) return std::optional<run_record>{};
  if (!st.ok()) return to_error(st, "read run record");
  auto rec = decode_entry(key, value, prefix_of(datasource).size(), datasource);
  if (!rec) return std::move(rec.error());
  return std::optional<run_record>{std::move(*rec)};
}

caf::expected<std::optional<run_record>> run_log::last(std::string_view datasource) const {
  auto runs = list(datasource, 1);
  if (!runs) return std::move(runs.error());
  if (runs->empty()) return std::optional<run_record>{};
  return std::optional<run_record>{std::move(runs->front())};
}

caf::expected<std::vector<run_record>> run_log::list(std::string_view datasource, size_t limit,
                                                     uint64_t before) const {
  auto& r = db_.internals();
  auto prefix = prefix_of(datasource);
  auto lower = prefix;
  auto lower_slice = slice(lower);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::runs))};
  // Newest first: seek to the last key below the bound and walk backwards.
  auto bound = before == 0 ? *codec::prefix_successor(prefix) : key_of(datasource, before);
  it->SeekForPrev(slice(bound));
  if (it->Valid() && it->key() == slice(bound)) it->Prev();
  std::vector<run_record> out;
  for (; it->Valid() && out.size() < limit; it->Prev()) {
    std::string_view key{it->key().data(), it->key().size()};
    if (key.substr(0, prefix.size()) != prefix) break;
    auto rec = decode_entry(key, {it->value().data(), it->value().size()}, prefix.size(),
                            datasource);
    if (!rec) return std::move(rec.error());
    out.push_back(std::move(*rec));
  }
  if (!it->status().ok()) return to_error(it->status(), "list run records");
  return out;
}

caf::error run_log::prune(std::string_view datasource, size_t keep) const {
  auto runs = list(datasource, keep + 1);
  if (!runs) return std::move(runs.error());
  if (runs->size() <= keep) return caf::none;
  auto& r = db_.internals();
  auto from = key_of(datasource, 0);
  auto to = key_of(datasource, runs->back().number + 1);
  rocksdb::WriteBatch b;
  auto st = b.DeleteRange(r.cf(column::runs), slice(from), slice(to));
  if (st.ok()) st = r.db->Write(r.write_options, &b);
  return to_error(st, "prune run records");
}

void run_log::stage_erase(write_batch& batch, std::string_view datasource) const {
  auto begin = prefix_of(datasource);
  batch.erase_range(column::runs, begin, *codec::prefix_successor(begin));
}

}  // namespace syncline::storage
