#include "storage/datastore.hpp"

#include <cstdint>

#include <rocksdb/db.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"
#include "storage/row_reads.hpp"

namespace syncline::storage {

namespace {

constexpr uint8_t row_format = 1;

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

std::string make_key(std::string_view datasource, std::string_view reference) {
  auto key = datastore::key_prefix(datasource);
  key.append(reference.data(), reference.size());
  return key;
}

std::string encode(const datastore_row& r) {
  std::string out;
  out.reserve(32 + r.last_error.size());
  codec::writer w{out};
  w.u8(row_format).svarint(r.mtime_ns).varint(r.size).u8(r.hash ? 1 : 0);
  if (r.hash) w.varint(*r.hash);
  w.u8(static_cast<uint8_t>(r.action))
      .varint(r.attempts)
      .bytes(r.last_error)
      .svarint(r.last_attempt_ms)
      .varint(r.flags)
      .varint(r.mode)
      .varint(r.generation)
      .varint(r.queue_seq)
      .svarint(r.queue_priority)
      .u8(r.parked ? 1 : 0);
  return out;
}

bool decode(std::string_view in, datastore_row& r) {
  codec::reader rd{in};
  uint8_t format = 0;
  uint8_t has_hash = 0;
  uint8_t action = 0;
  rd.u8(format).svarint(r.mtime_ns).varint(r.size).u8(has_hash);
  if (has_hash) {
    uint64_t h = 0;
    rd.varint(h);
    r.hash = h;
  } else {
    r.hash.reset();
  }
  rd.u8(action).varint32(r.attempts).bytes(r.last_error).svarint(r.last_attempt_ms);
  int64_t priority = 0;
  uint8_t parked = 0;
  rd.varint32(r.flags).varint32(r.mode).varint(r.generation).varint(r.queue_seq).svarint(priority);
  rd.u8(parked);
  if (priority < INT32_MIN || priority > INT32_MAX || parked > 1) return false;
  r.queue_priority = static_cast<int32_t>(priority);
  r.parked = parked == 1;
  if (!rd.ok() || format != row_format || action > static_cast<uint8_t>(pending_action::remove))
    return false;
  r.action = static_cast<pending_action>(action);
  return true;
}

}  // namespace

const char* to_string(pending_action a) noexcept {
  switch (a) {
    case pending_action::none: return "none";
    case pending_action::add: return "add";
    case pending_action::replace: return "replace";
    case pending_action::remove: return "remove";
  }
  return "unknown";
}

std::optional<pending_action> pending_action_from_string(std::string_view s) noexcept {
  for (auto a : {pending_action::none, pending_action::add, pending_action::replace,
                 pending_action::remove})
    if (s == to_string(a)) return a;
  return std::nullopt;
}

bool operator==(const datastore_row& a, const datastore_row& b) noexcept {
  return a.reference == b.reference && a.mtime_ns == b.mtime_ns && a.size == b.size &&
         a.hash == b.hash && a.action == b.action && a.attempts == b.attempts &&
         a.last_error == b.last_error && a.last_attempt_ms == b.last_attempt_ms &&
         a.flags == b.flags && a.mode == b.mode && a.generation == b.generation &&
         a.queue_seq == b.queue_seq && a.queue_priority == b.queue_priority &&
         a.parked == b.parked;
}

datastore::datastore(database& db) : db_(db) {}

std::string datastore::key_prefix(std::string_view datasource) {
  std::string key;
  codec::append_string(key, datasource);
  return key;
}

namespace {

// The answer of one row's read (Get or MultiGet): none, the read's error, or the decoded row.
caf::expected<std::optional<datastore_row>> row_of(const rocksdb::Status& st,
                                                   std::string_view value,
                                                   std::string_view reference) {
  if (st.IsNotFound()) return std::optional<datastore_row>{};
  if (!st.ok()) return to_error(st, "read datastore row");
  datastore_row row;
  if (!decode(value, row))
    return make_error(storage_errc::corruption,
                      "datastore row " + std::string{reference} + " cannot be decoded");
  row.reference = std::string{reference};
  return std::optional<datastore_row>{std::move(row)};
}

}  // namespace

caf::expected<std::optional<datastore_row>> datastore::get(std::string_view datasource,
                                                           std::string_view reference) const {
  auto& r = db_.internals();
  std::string value;
  auto st = r.db->Get(rocksdb::ReadOptions{}, r.cf(column::datastore),
                      make_key(datasource, reference), &value);
  return row_of(st, value, reference);
}

std::vector<caf::expected<std::optional<datastore_row>>> read_rows(
    const database& db, const std::vector<row_key>& keys) {
  std::vector<caf::expected<std::optional<datastore_row>>> out;
  out.reserve(keys.size());
  if (keys.empty()) return out;
  auto& r = db.internals();
  std::vector<std::string> names;
  names.reserve(keys.size());
  for (auto& k : keys) names.push_back(make_key(k.scope, k.reference));
  std::vector<rocksdb::Slice> slices;
  slices.reserve(names.size());
  bool sorted = true;
  for (auto& n : names) {
    if (!slices.empty() && slices.back().compare(slice(n)) > 0) sorted = false;
    slices.push_back(slice(n));
  }
  std::vector<rocksdb::PinnableSlice> values(slices.size());
  std::vector<rocksdb::Status> statuses(slices.size());
  r.db->MultiGet(rocksdb::ReadOptions{}, r.cf(column::datastore), slices.size(), slices.data(),
                 values.data(), statuses.data(), sorted);
  for (size_t i = 0; i < keys.size(); ++i)
    out.push_back(row_of(statuses[i], {values[i].data(), values[i].size()}, keys[i].reference));
  return out;
}

void datastore::put(write_batch& batch, std::string_view datasource,
                    const datastore_row& row) const {
  batch.put(column::datastore, make_key(datasource, row.reference), encode(row));
}

void datastore::erase(write_batch& batch, std::string_view datasource,
                      std::string_view reference) const {
  batch.erase(column::datastore, make_key(datasource, reference));
}

caf::error datastore::put(std::string_view datasource, const datastore_row& row) const {
  write_batch batch{db_};
  put(batch, datasource, row);
  return db_.write(batch);
}

void datastore::stage_drop(write_batch& batch, std::string_view datasource) const {
  auto begin = key_prefix(datasource);
  batch.erase_range(column::datastore, begin, *codec::prefix_successor(begin));
}

caf::error datastore::drop(std::string_view datasource) const {
  write_batch batch{db_};
  stage_drop(batch, datasource);
  return db_.write(batch);
}

struct datastore::cursor::impl {
  std::string prefix;
  std::string upper;
  rocksdb::Slice upper_slice;
  std::unique_ptr<rocksdb::Iterator> it;
};

datastore::cursor::cursor(std::unique_ptr<impl> p) : impl_(std::move(p)) { load(); }
datastore::cursor::cursor(cursor&&) noexcept = default;
datastore::cursor& datastore::cursor::operator=(cursor&&) noexcept = default;
datastore::cursor::~cursor() = default;

void datastore::cursor::load() {
  auto& it = *impl_->it;
  valid_ = it.Valid();
  if (!valid_) {
    status_ = to_error(it.status(), "scan datastore");
    return;
  }
  auto key = it.key();
  auto value = it.value();
  row_.reference.assign(key.data() + impl_->prefix.size(), key.size() - impl_->prefix.size());
  if (!decode({value.data(), value.size()}, row_)) {
    valid_ = false;
    status_ = make_error(storage_errc::corruption,
                         "datastore row " + row_.reference + " cannot be decoded");
  }
}

void datastore::cursor::next() {
  if (!valid_) return;
  impl_->it->Next();
  load();
}

datastore::cursor datastore::scan(std::string_view datasource, std::string_view after) const {
  auto& r = db_.internals();
  auto p = std::make_unique<cursor::impl>();
  p->prefix = key_prefix(datasource);
  p->upper = *codec::prefix_successor(p->prefix);
  p->upper_slice = slice(p->upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &p->upper_slice;
  ro.readahead_size = 2u << 20;
  p->it.reset(r.db->NewIterator(ro, r.cf(column::datastore)));
  if (after.empty()) {
    p->it->Seek(slice(p->prefix));
  } else {
    auto start = make_key(datasource, after);
    start.push_back('\0');
    p->it->Seek(slice(start));
  }
  return cursor{std::move(p)};
}

caf::expected<datastore_counts> datastore::count(std::string_view datasource) const {
  datastore_counts c;
  auto cur = scan(datasource);
  for (; cur.valid(); cur.next()) {
    ++c.rows;
    ++c.pending[static_cast<size_t>(cur.row().action)];
    c.bytes += cur.row().size;
  }
  if (cur.status()) return cur.status();
  return c;
}

}  // namespace syncline::storage
