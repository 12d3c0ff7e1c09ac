#include "storage/change_feed.hpp"

#include <algorithm>
#include <memory>

#include <rocksdb/db.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

namespace {

// One entry per write: `chg/s/<u64 first seq>` -> u64 time, u32 count, then per element a flags
// byte (bit 0: deleted; bit 1: the id shares a prefix with the previous one) and then either
// u32 length and the id's bytes, or (bit 1) u16 shared length, u16 length and the bytes after
// the shared prefix; its elements have the sequences first, first + 1, ... One put per write,
// not per element: a bulk create of a thousand elements costs one small extra value, not a
// thousand. Ids written together are mostly siblings (a folder's files, in order), so sharing
// prefixes makes the value a fifth of the ids' bytes. Entries without bit 1 (the first
// version's) read as before.
constexpr std::string_view entry_prefix = "chg/s/";
// `chg/floor` -> u64: changes up to it are not kept.
constexpr std::string_view floor_key = "chg/floor";
constexpr std::string_view entry_end = "chg/s0";  // the first key after every entry ('/' + 1)

std::string entry_key(uint64_t seq) {
  std::string k{entry_prefix};
  codec::append_u64(k, seq);
  return k;
}

struct entry {
  uint64_t first = 0;
  uint64_t count = 0;
  int64_t at_ms = 0;
  std::string_view elements;  // the encoded elements
};

bool read_entry(std::string_view key, std::string_view value, entry& out) {
  if (key.size() != entry_prefix.size() + 8 || value.size() < 12) return false;
  key.remove_prefix(entry_prefix.size());
  uint64_t at = 0;
  uint32_t count = 0;
  if (!codec::read_u64(key, out.first) || !codec::read_u64(value, at) ||
      !codec::read_u32(value, count) || count == 0)
    return false;
  out.at_ms = static_cast<int64_t>(at);
  out.count = count;
  out.elements = value;
  return true;
}

constexpr char deleted_flag = 1;
constexpr char shares_prefix_flag = 2;

// The longest prefix an entry shares: ids are at most 1024 bytes (max_id_bytes), far below.
constexpr size_t max_shared = 0xffff;

bool read_u16(std::string_view& in, uint32_t& x) {
  if (in.size() < 2) return false;
  x = (static_cast<uint32_t>(static_cast<unsigned char>(in[0])) << 8) |
      static_cast<unsigned char>(in[1]);
  in.remove_prefix(2);
  return true;
}

void append_u16(std::string& out, size_t x) {
  out.push_back(static_cast<char>((x >> 8) & 0xff));
  out.push_back(static_cast<char>(x & 0xff));
}

// The next element of an entry's encoded elements; `id` holds the previous element's id on entry
// (empty for the first) and this element's on return.
bool next_element(std::string_view& in, bool& deleted, std::string& id) {
  if (in.empty()) return false;
  char flags = in[0];
  deleted = (flags & deleted_flag) != 0;
  in.remove_prefix(1);
  uint32_t shared = 0, len = 0;
  if ((flags & shares_prefix_flag) != 0) {
    if (!read_u16(in, shared) || !read_u16(in, len) || shared > id.size()) return false;
  } else if (!codec::read_u32(in, len)) {
    return false;
  }
  if (in.size() < len) return false;
  id.resize(shared);
  id.append(in.data(), len);
  in.remove_prefix(len);
  return true;
}

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

caf::error malformed() {
  return make_error(storage_errc::corruption, "a change feed entry is malformed");
}

}  // namespace

change_log::change_log(database& db) : db_(db) {}

caf::error change_log::load_locked() const {
  if (loaded_) return caf::none;
  auto& r = db_.internals();
  auto stored = db_.get_meta(floor_key);
  if (!stored) return std::move(stored.error());
  if (*stored) {
    std::string_view v{**stored};
    if (!codec::read_u64(v, floor_))
      return make_error(storage_errc::corruption, "the change feed's floor is malformed");
    floor_stored_ = true;
  } else {
    // No feed yet: elements written before it cannot be replayed, so a follower from 0 resets.
    std::unique_ptr<rocksdb::Iterator> it{
        r.db->NewIterator(rocksdb::ReadOptions{}, r.cf(column::elements))};
    it->SeekToFirst();
    if (!it->status().ok()) return to_error(it->status(), "read elements");
    floor_ = it->Valid() ? 1 : 0;
  }
  uint64_t newest = floor_;
  {
    rocksdb::ReadOptions ro;
    auto end = slice(entry_end);
    ro.iterate_upper_bound = &end;
    std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::meta))};
    it->SeekToLast();
    if (!it->status().ok()) return to_error(it->status(), "read the change feed");
    if (it->Valid() && it->key().starts_with(slice(entry_prefix))) {
      entry e;
      if (!read_entry({it->key().data(), it->key().size()},
                      {it->value().data(), it->value().size()}, e))
        return malformed();
      newest = std::max(newest, e.first + e.count - 1);
    }
  }
  next_ = newest + 1;
  last_.store(newest);
  loaded_ = true;
  return caf::none;
}

caf::error change_log::stage(write_batch& batch,
                             const std::vector<std::pair<std::string_view, bool>>& changes,
                             int64_t now_ms) {
  std::lock_guard<std::mutex> lock{mu_};
  if (auto err = load_locked()) return err;
  if (changes.empty()) return caf::none;
  if (!floor_stored_) {
    std::string v;
    codec::append_u64(v, floor_);
    batch.put(column::meta, floor_key, v);
  }
  std::string value;
  size_t bytes = 12;
  for (auto& c : changes) bytes += 5 + c.first.size();
  value.reserve(bytes);
  codec::append_u64(value, static_cast<uint64_t>(now_ms));
  codec::append_u32(value, static_cast<uint32_t>(changes.size()));
  std::string_view previous;
  for (auto& [id, deleted] : changes) {
    char flags = deleted ? deleted_flag : 0;
    auto limit = std::min({id.size(), previous.size(), max_shared});
    size_t shared = 0;
    while (shared < limit && id[shared] == previous[shared]) ++shared;
    auto rest = id.substr(shared);
    if (shared > 0 && rest.size() <= max_shared) {
      value.push_back(static_cast<char>(flags | shares_prefix_flag));
      append_u16(value, shared);
      append_u16(value, rest.size());
    } else {
      value.push_back(flags);
      codec::append_u32(value, static_cast<uint32_t>(id.size()));
      rest = id;
    }
    value.append(rest.data(), rest.size());
    previous = id;
  }
  batch.put(column::meta, entry_key(next_), value);
  next_ += changes.size();
  staged_last_ = next_ - 1;
  return caf::none;
}

uint64_t change_log::committed() {
  std::lock_guard<std::mutex> lock{mu_};
  floor_stored_ = true;
  if (staged_last_ > last_.load()) last_.store(staged_last_);
  return last_.load();
}

void change_log::abandoned() {
  std::lock_guard<std::mutex> lock{mu_};
  staged_last_ = 0;
}

uint64_t change_log::last() const {
  std::lock_guard<std::mutex> lock{mu_};
  if (load_locked()) return 0;
  return last_.load();
}

caf::expected<change_page> change_log::read(uint64_t since, size_t limit) const {
  uint64_t floor = 0, newest = 0;
  {
    std::lock_guard<std::mutex> lock{mu_};
    if (auto err = load_locked()) return err;
    floor = floor_;
    newest = last_.load();
  }
  change_page page;
  if (since < floor || since > newest) {
    page.reset = true;
    page.last_seq = newest;
    return page;
  }
  page.last_seq = since;
  if (since == newest || limit == 0) return page;
  auto& r = db_.internals();
  // Only what was readable when the read began: a write committing meanwhile is read next time.
  auto upper = entry_key(newest + 1);
  auto upper_slice = slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  auto lower_slice = slice(entry_prefix);
  ro.iterate_lower_bound = &lower_slice;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::meta))};
  // The entry holding since + 1 begins at or before it.
  it->SeekForPrev(slice(entry_key(since + 1)));
  if (!it->Valid()) it->Seek(slice(entry_prefix));
  for (; it->Valid() && page.changes.size() < limit; it->Next()) {
    entry e;
    if (!read_entry({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()},
                    e))
      return malformed();
    auto rest = e.elements;
    std::string id;
    for (uint64_t i = 0; i < e.count && page.changes.size() < limit; ++i) {
      bool deleted = false;
      if (!next_element(rest, deleted, id)) return malformed();
      if (e.first + i <= since) continue;
      page.changes.push_back({e.first + i, id, deleted, e.at_ms});
    }
  }
  if (!it->status().ok()) return to_error(it->status(), "read the change feed");
  {
    // Forgotten while we read: what we read may have holes.
    std::lock_guard<std::mutex> lock{mu_};
    if (floor_ > since) {
      page.changes.clear();
      page.reset = true;
      page.last_seq = last_.load();
      return page;
    }
  }
  if (!page.changes.empty()) page.last_seq = page.changes.back().seq;
  return page;
}

caf::expected<size_t> change_log::forget_before(int64_t before_ms, size_t max) {
  std::lock_guard<std::mutex> lock{mu_};
  if (auto err = load_locked()) return err;
  auto& r = db_.internals();
  rocksdb::ReadOptions ro;
  auto end = slice(entry_end);
  ro.iterate_upper_bound = &end;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::meta))};
  size_t n = 0;
  uint64_t upto = 0;
  for (it->Seek(slice(entry_prefix)); it->Valid() && n < max; it->Next()) {
    entry e;
    if (!read_entry({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()},
                    e))
      return malformed();
    if (e.at_ms >= before_ms) break;
    if (n > 0 && n + e.count > max) break;  // whole writes only; at least one
    upto = e.first + e.count - 1;
    n += e.count;
  }
  if (!it->status().ok()) return to_error(it->status(), "read the change feed");
  if (n == 0) return size_t{0};
  write_batch batch{db_};
  batch.erase_range(column::meta, entry_prefix, entry_key(upto + 1));
  std::string v;
  codec::append_u64(v, std::max(floor_, upto));
  batch.put(column::meta, floor_key, v);
  if (auto err = db_.write(batch)) return err;
  floor_ = std::max(floor_, upto);
  floor_stored_ = true;
  return n;
}

}  // namespace syncline::storage
