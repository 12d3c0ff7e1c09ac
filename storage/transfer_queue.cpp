#include "storage/transfer_queue.hpp"

#include <algorithm>
#include <charconv>

#include <rocksdb/db.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

namespace {

constexpr const char* seq_limit_key = "queue.seq_limit";
// Sequence numbers are reserved in blocks so that a push costs no extra write.
constexpr uint64_t seq_block = 1u << 16;
constexpr size_t max_volume_bytes = 256;

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

std::string volume_prefix(std::string_view volume) {
  std::string key;
  codec::append_string(key, volume);
  return key;
}

// The key of an item of the volume whose key prefix is `prefix`.
std::string key_in(const std::string& prefix, int32_t priority, uint64_t seq) {
  std::string key;
  key.reserve(prefix.size() + 12);
  key.append(prefix);
  codec::append_i32_descending(key, priority);
  codec::append_u64(key, seq);
  return key;
}

std::string key_of(const queue_ticket& t) {
  return key_in(volume_prefix(t.volume), t.priority, t.seq);
}

bool ticket_of(std::string_view key, queue_ticket& t) {
  return codec::read_string(key, t.volume) && codec::read_i32_descending(key, t.priority) &&
         codec::read_u64(key, t.seq) && key.empty();
}

// Priority and seq of a key under `prefix` (the volume is known): no string to decode per item.
bool position_of(std::string_view key, std::string_view prefix, int32_t& priority,
                 uint64_t& seq) {
  if (key.size() != prefix.size() + 12 || key.substr(0, prefix.size()) != prefix) return false;
  key.remove_prefix(prefix.size());
  return codec::read_i32_descending(key, priority) && codec::read_u64(key, seq);
}

caf::error check_volume(std::string_view volume) {
  if (volume.empty() || volume.size() > max_volume_bytes)
    return make_error(storage_errc::invalid_argument,
                      "volume name must have 1 to " + std::to_string(max_volume_bytes) + " bytes");
  return caf::none;
}

}  // namespace

std::string queue_ticket::to_string() const {
  return std::to_string(priority) + ":" + std::to_string(seq) + ":" + volume;
}

caf::expected<queue_ticket> queue_ticket::from_string(std::string_view s) {
  auto bad = [&] {
    return make_error(storage_errc::invalid_argument,
                      "'" + std::string{s} + "' is not a queue ticket (priority:seq:volume)");
  };
  queue_ticket t;
  auto c1 = s.find(':');
  if (c1 == std::string_view::npos) return bad();
  auto c2 = s.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return bad();
  auto r1 = std::from_chars(s.data(), s.data() + c1, t.priority);
  auto r2 = std::from_chars(s.data() + c1 + 1, s.data() + c2, t.seq);
  if (r1.ec != std::errc{} || r1.ptr != s.data() + c1 || r2.ec != std::errc{} ||
      r2.ptr != s.data() + c2)
    return bad();
  t.volume = std::string{s.substr(c2 + 1)};
  if (t.volume.empty()) return bad();
  return t;
}

transfer_queue::transfer_queue(database& db) : db_(db) {}

caf::expected<std::unique_ptr<transfer_queue>> transfer_queue::open(database& db) {
  std::unique_ptr<transfer_queue> q{new transfer_queue(db)};
  if (auto err = q->init()) return err;
  return q;
}

caf::error transfer_queue::init() {
  auto limit = db_.get_meta(seq_limit_key);
  if (!limit) return std::move(limit.error());
  if (*limit) {
    uint64_t v = 0;
    auto& s = **limit;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size())
      return make_error(storage_errc::corruption, "queue sequence limit is not a number: " + s);
    // Every seq handed out before the restart is below the limit: continue above it.
    next_seq_ = v;
    seq_limit_ = v;
  }
  auto& r = db_.internals();
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2u << 20;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::queue))};
  queue_ticket t;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (!ticket_of({it->key().data(), it->key().size()}, t))
      return make_error(storage_errc::corruption, "queue key cannot be decoded");
    auto& v = vol(t.volume);
    ++v.count;
  }
  return to_error(it->status(), "count queue items");
}

transfer_queue::volume_state& transfer_queue::vol(std::string_view volume) {
  auto i = volumes_.find(volume);
  if (i == volumes_.end()) {
    i = volumes_.emplace(std::string{volume}, volume_state{}).first;
    i->second.owner = this;
    i->second.prefix = volume_prefix(volume);
    i->second.cursor = i->second.prefix;
  }
  return i->second;
}

bool transfer_queue::volume_state::is_leased(const queue_ticket& t) const {
  auto* l = leases.find(t.seq);
  return l != nullptr && l->priority == t.priority;
}

size_t transfer_queue::lease_table::home(uint64_t seq) const noexcept {
  // Fibonacci hashing: seqs are consecutive, the top bits of the product spread them.
  return static_cast<size_t>((seq * 0x9e3779b97f4a7c15ull) >> 32) & (slots_.size() - 1);
}

const transfer_queue::lease* transfer_queue::lease_table::find(uint64_t seq) const noexcept {
  if (size_ == 0) return nullptr;
  for (auto i = home(seq);; i = (i + 1) & (slots_.size() - 1)) {
    if (!slots_[i].used) return nullptr;
    if (slots_[i].seq == seq) return &slots_[i].value;
  }
}

bool transfer_queue::lease_table::insert(uint64_t seq, lease l) {
  if (2 * (size_ + 1) > slots_.size()) {
    std::vector<slot> old(std::max<size_t>(64, 2 * slots_.size()));
    old.swap(slots_);
    size_ = 0;
    for (auto& s : old)
      if (s.used) insert(s.seq, s.value);
  }
  auto i = home(seq);
  for (; slots_[i].used; i = (i + 1) & (slots_.size() - 1))
    if (slots_[i].seq == seq) return false;
  slots_[i] = slot{seq, l, true};
  ++size_;
  return true;
}

bool transfer_queue::lease_table::erase(uint64_t seq) noexcept {
  if (size_ == 0) return false;
  auto mask = slots_.size() - 1;
  auto i = home(seq);
  for (; slots_[i].seq != seq || !slots_[i].used; i = (i + 1) & mask)
    if (!slots_[i].used) return false;
  // Backward-shift deletion: move up every later entry of the run that may sit in the hole, so
  // that lookups never need tombstones.
  for (auto j = (i + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
    auto h = home(slots_[j].seq);
    bool movable = i <= j ? (h <= i || h > j) : (h <= i && h > j);
    if (movable) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i].used = false;
  --size_;
  return true;
}

void transfer_queue::lease_table::clear() noexcept {
  for (auto& s : slots_) s.used = false;
  size_ = 0;
}

caf::expected<uint64_t> transfer_queue::next_seq() {
  if (next_seq_ >= seq_limit_) {
    // Written before any seq of the new block is used, and the log keeps write order, so a
    // restart never hands out a seq that an item already has.
    auto limit = next_seq_ + seq_block;
    if (auto err = db_.put_meta(seq_limit_key, std::to_string(limit))) return err;
    seq_limit_ = limit;
  }
  return next_seq_++;
}

caf::expected<queue_ticket> transfer_queue::push(write_batch& batch, std::string_view volume,
                                                 int32_t priority, std::string_view payload) {
  if (auto err = check_volume(volume)) return err;
  queue_ticket t;
  std::string key;
  volume_state* v = nullptr;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto seq = next_seq();
    if (!seq) return std::move(seq.error());
    t = queue_ticket{std::string{volume}, priority, *seq};
    v = &vol(volume);
    key = key_in(v->prefix, priority, *seq);
  }
  batch.put(column::queue, key, payload);
  batch.on_commit([this, v, key = std::move(key)] {
    std::lock_guard<std::mutex> guard{mtx_};
    ++v->count;
    if (key < v->cursor) v->cursor = key;
  });
  return t;
}

caf::expected<queue_ticket> transfer_queue::push(std::string_view volume, int32_t priority,
                                                 std::string_view payload) {
  write_batch batch{db_};
  auto t = push(batch, volume, priority, payload);
  if (!t) return t;
  if (auto err = db_.write(batch)) return err;
  return t;
}

caf::expected<std::vector<queue_item>> transfer_queue::pop(std::string_view volume,
                                                           size_t max_items) {
  std::vector<queue_item> out;
  if (max_items == 0) return out;
  std::lock_guard<std::mutex> guard{mtx_};
  auto& v = vol(volume);
  if (v.count <= v.leases.size()) return out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(max_items, v.count - v.leases.size())));
  auto& r = db_.internals();
  auto upper = *codec::prefix_successor(v.prefix);
  auto upper_slice = slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::queue))};
  std::string last;
  for (it->Seek(slice(v.cursor)); it->Valid() && out.size() < max_items; it->Next()) {
    std::string_view key{it->key().data(), it->key().size()};
    int32_t priority = 0;
    uint64_t seq = 0;
    if (!position_of(key, v.prefix, priority, seq))
      return make_error(storage_errc::corruption, "queue key cannot be decoded");
    if (!v.leases.insert(seq, lease{priority, lease_state::leased})) continue;
    auto& item = out.emplace_back();
    item.ticket = queue_ticket{std::string{volume}, priority, seq};
    item.payload.assign(it->value().data(), it->value().size());
    last.assign(key.data(), key.size());
  }
  if (!it->status().ok()) return to_error(it->status(), "pop queue items");
  // Everything between the old cursor and the last item taken is leased now.
  if (!last.empty()) v.cursor = last + '\0';
  return out;
}

caf::error transfer_queue::ack(write_batch& batch, const queue_ticket& ticket) {
  std::string key;
  volume_state* v = nullptr;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    v = &vol(ticket.volume);
    auto* l = v->leases.find(ticket.seq);
    if (l == nullptr || l->priority != ticket.priority || l->state != lease_state::leased)
      return make_error(storage_errc::invalid_argument,
                        "queue item " + ticket.to_string() + " is not leased");
    l->state = lease_state::acking;
    key = key_in(v->prefix, ticket.priority, ticket.seq);
  }
  batch.erase(column::queue, key);
  // Two words, which std::function keeps without allocating: one hook per item acknowledged.
  batch.on_commit([v, seq = ticket.seq] {
    std::lock_guard<std::mutex> guard{v->owner->mtx_};
    v->leases.erase(seq);
    if (v->count > 0) --v->count;
  });
  return caf::none;
}

caf::error transfer_queue::ack(const queue_ticket& ticket) {
  write_batch batch{db_};
  if (auto err = ack(batch, ticket)) return err;
  if (auto err = db_.write(batch)) {
    release(ticket);
    return err;
  }
  return caf::none;
}

void transfer_queue::release(const queue_ticket& ticket) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& v = vol(ticket.volume);
  if (!v.is_leased(ticket)) return;
  v.leases.erase(ticket.seq);
  auto key = key_in(v.prefix, ticket.priority, ticket.seq);
  if (key < v.cursor) v.cursor = std::move(key);
}

void transfer_queue::release_all(std::string_view volume) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& v = vol(volume);
  v.leases.clear();
  v.cursor = v.prefix;
}

caf::expected<uint64_t> transfer_queue::drop(std::string_view volume) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& v = vol(volume);
  auto& r = db_.internals();
  auto end = *codec::prefix_successor(v.prefix);
  rocksdb::WriteBatch b;
  auto st = b.DeleteRange(r.cf(column::queue), slice(v.prefix), slice(end));
  if (st.ok()) st = r.db->Write(r.write_options, &b);
  if (!st.ok()) return to_error(st, "drop queue " + std::string{volume});
  auto removed = v.count;
  v.count = 0;
  v.leases.clear();
  v.cursor = v.prefix;
  return removed;
}

void transfer_queue::stage_drop(write_batch& batch, std::string_view volume) {
  volume_state* v = nullptr;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    v = &vol(volume);
  }
  batch.erase_range(column::queue, v->prefix, *codec::prefix_successor(v->prefix));
  batch.on_commit([this, v] {
    std::lock_guard<std::mutex> guard{mtx_};
    v->count = 0;
    v->leases.clear();
    v->cursor = v->prefix;
  });
}

caf::error transfer_queue::remove(const queue_ticket& ticket) {
  auto key = key_of(ticket);
  std::lock_guard<std::mutex> guard{mtx_};
  auto& v = vol(ticket.volume);
  if (v.is_leased(ticket))
    return make_error(storage_errc::busy,
                      "queue item " + ticket.to_string() + " is leased; cancel its transfer");
  auto& r = db_.internals();
  std::string value;
  auto st = r.db->Get(rocksdb::ReadOptions{}, r.cf(column::queue), slice(key), &value);
  if (st.IsNotFound())
    return make_error(storage_errc::not_found, "no queue item " + ticket.to_string());
  if (!st.ok()) return to_error(st, "read queue item");
  write_batch batch{db_};
  batch.erase(column::queue, key);
  if (auto err = db_.write(batch)) return err;
  if (v.count > 0) --v.count;
  return caf::none;
}

caf::expected<queue_ticket> transfer_queue::reprioritize(const queue_ticket& ticket,
                                                         int32_t priority) {
  auto old_key = key_of(ticket);
  std::lock_guard<std::mutex> guard{mtx_};
  auto& r = db_.internals();
  std::string value;
  auto st = r.db->Get(rocksdb::ReadOptions{}, r.cf(column::queue), slice(old_key), &value);
  if (st.IsNotFound())
    return make_error(storage_errc::not_found, "no queue item " + ticket.to_string());
  if (!st.ok()) return to_error(st, "read queue item");
  if (ticket.priority == priority) return ticket;
  auto& v = vol(ticket.volume);
  if (v.is_leased(ticket))
    return make_error(storage_errc::busy,
                      "queue item " + ticket.to_string() + " is leased; it is being processed");
  queue_ticket moved{ticket.volume, priority, ticket.seq};
  auto new_key = key_of(moved);
  write_batch batch{db_};
  batch.erase(column::queue, old_key);
  batch.put(column::queue, new_key, value);
  if (auto err = db_.write(batch)) return err;
  if (new_key < v.cursor) v.cursor = new_key;
  return moved;
}

caf::expected<std::vector<queue_item>> transfer_queue::peek(std::string_view volume, size_t limit,
                                                            const queue_ticket* after) const {
  std::vector<queue_item> out;
  auto& r = db_.internals();
  auto prefix = volume_prefix(volume);
  auto upper = *codec::prefix_successor(prefix);
  auto upper_slice = slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::queue))};
  auto start = after ? key_of(*after) + '\0' : prefix;
  std::lock_guard<std::mutex> guard{mtx_};
  auto vi = volumes_.find(volume);
  for (it->Seek(slice(start)); it->Valid() && out.size() < limit; it->Next()) {
    std::string_view key{it->key().data(), it->key().size()};
    queue_item item;
    if (!ticket_of(key, item.ticket))
      return make_error(storage_errc::corruption, "queue key cannot be decoded");
    item.payload.assign(it->value().data(), it->value().size());
    item.leased = vi != volumes_.end() && vi->second.is_leased(item.ticket);
    out.push_back(std::move(item));
  }
  if (!it->status().ok()) return to_error(it->status(), "peek queue items");
  return out;
}

uint64_t transfer_queue::size(std::string_view volume) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = volumes_.find(volume);
  return i == volumes_.end() ? 0 : i->second.count;
}

uint64_t transfer_queue::leased(std::string_view volume) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = volumes_.find(volume);
  return i == volumes_.end() ? 0 : i->second.leases.size();
}

std::map<std::string, uint64_t> transfer_queue::sizes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::map<std::string, uint64_t> out;
  for (auto& [name, v] : volumes_)
    if (v.count > 0) out.emplace(name, v.count);
  return out;
}

}  // namespace syncline::storage
