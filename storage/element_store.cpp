#include "storage/element_store.hpp"

#include <algorithm>
#include <functional>
#include <memory>
#include <utility>

#include <rocksdb/db.h>

#include "storage/codec.hpp"
#include "storage/database.hpp"
#include "storage/detail/rocks.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"

namespace syncline::storage {

const char* to_string(element_result r) noexcept {
  switch (r) {
    case element_result::created: return "created";
    case element_result::updated: return "updated";
    case element_result::deleted: return "deleted";
    case element_result::unchanged: return "unchanged";
    case element_result::exists: return "exists";
    case element_result::not_found: return "not_found";
    case element_result::locked: return "locked";
  }
  return "unknown";
}

namespace {

rocksdb::Slice slice(std::string_view s) { return {s.data(), s.size()}; }

// MultiGet sorts its keys unless told they are sorted. Ids often come in key order (a listing,
// a scan), and finding out costs one comparison per key; the elements use the bytewise order.
bool in_key_order(const std::vector<rocksdb::Slice>& keys) {
  auto less = [](const rocksdb::Slice& a, const rocksdb::Slice& b) { return a.compare(b) < 0; };
  return std::is_sorted(keys.begin(), keys.end(), less);
}

// The smallest and the largest of `keys` (not empty).
std::pair<rocksdb::Slice, rocksdb::Slice> key_range(const std::vector<rocksdb::Slice>& keys) {
  auto [lo, hi] = std::minmax_element(
      keys.begin(), keys.end(),
      [](const rocksdb::Slice& a, const rocksdb::Slice& b) { return a.compare(b) < 0; });
  return {*lo, *hi};
}

// From this many ids on, a call first asks whether any element lies between the smallest and the
// largest of them: new ids usually arrive in a range that holds nothing yet (a new folder, a
// first import, ids generated in time order), and one seek then answers for all of them, where
// looking them up one by one probes every overlapping file's filter (and, while a database has
// only a few level-0 files, RocksDB probes all of them) for each id.
constexpr size_t min_ids_for_range_check = 16;

// Whether no element has an id in [lo, hi]; false also when finding out would mean stepping over
// more than `max_skipped` deleted or overwritten entries (a folder just deleted and not yet
// compacted), where looking the ids up one by one is the cheaper way.
caf::expected<bool> no_element_between(const database::impl& r, rocksdb::Slice lo,
                                       rocksdb::Slice hi, uint64_t max_skipped) {
  std::string bound{hi.data(), hi.size()};
  bound.push_back('\0');  // the smallest key after `hi`
  rocksdb::Slice bound_slice{bound};
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &bound_slice;
  ro.max_skippable_internal_keys = max_skipped;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::elements))};
  it->Seek(lo);
  if (it->status().IsIncomplete()) return false;
  if (!it->status().ok()) return to_error(it->status(), "read elements");
  return !it->Valid();
}

int64_t resolve_time(const write_context& ctx) { return ctx.now_ms != 0 ? ctx.now_ms : epoch_ms(); }

void set_field(std::vector<element_field>& fields, std::string_view key, std::string value) {
  for (auto& f : fields) {
    if (f.key == key) {
      f.value = std::move(value);
      return;
    }
  }
  fields.push_back(element_field{std::string{key}, std::move(value)});
}

void erase_field(std::vector<element_field>& fields, std::string_view key) {
  for (auto i = fields.begin(); i != fields.end(); ++i) {
    if (i->key == key) {
      fields.erase(i);
      return;
    }
  }
}

const element_field* find_field(const std::vector<element_field>& fields, std::string_view key) {
  for (auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

// The user named by a stored `lock` value (a JSON string), or the raw JSON when it is not one.
// A name with a quote, backslash or control character is stored escaped, so only an unescaped
// value compares equal to the `author` that set it.
std::string lock_owner_of(const element_field& f) {
  if (f.value.size() >= 2 && f.value.front() == '"' && f.value.back() == '"' &&
      f.value.find('\\') == std::string::npos)
    return f.value.substr(1, f.value.size() - 2);
  if (auto name = json_unquote(f.value)) return *name;
  return f.value;
}

// The fields create stores for element `e`: its own, with `author` and `time` set as `ctx`
// says, by the same rules (and the same set_field/erase_field semantics) as every other write.
void created_fields(std::vector<std::pair<std::string_view, std::string_view>>& out,
                    const element_batch& in, const element_batch::element& e,
                    const write_context& ctx, const std::string& author_text,
                    const std::string& time_text) {
  out.clear();
  for (auto k = e.fields_begin; k < e.fields_end; ++k)
    out.emplace_back(in[in.fields[k].key], in[in.fields[k].value]);
  auto find = [&](std::string_view key) {
    auto f = out.begin();
    while (f != out.end() && f->first != key) ++f;
    return f;
  };
  auto set = [&](std::string_view key, std::string_view value) {
    auto f = find(key);
    if (f != out.end())
      f->second = value;
    else
      out.emplace_back(key, value);
  };
  bool keep_given = ctx.keep_given_author_time;
  if (!keep_given || find("author") == out.end()) {
    if (!ctx.author.empty()) {
      set("author", author_text);
    } else if (!keep_given) {
      auto f = find("author");
      if (f != out.end()) out.erase(f);
    }
  }
  if (!keep_given || find("time") == out.end()) set("time", time_text);
}

// Inputs given as structures did not pass through parse_elements: their ids get the same
// checks, so no call stores an id that the JSON path refuses (empty, NUL, not UTF-8, too long).
caf::error check_input_ids(const std::vector<element_input>& in) {
  for (size_t i = 0; i < in.size(); ++i)
    for (auto& id : in[i].ids)
      if (auto err = validate_id(id))
        return make_error(storage_errc::invalid_element,
                          "element " + std::to_string(i) + ": " + render(err));
  return caf::none;
}

}  // namespace

// The ids a call touches with their state as the call proceeds, so that an id named twice in
// one call sees the effect of its first mention. A call first mentions every id it names, in
// order, then walks them again with `next()` in the same order, making one outcome per mention.
struct element_store::working_set {
  struct slot {
    std::string_view id;  // into the call's arguments, which outlive the working set
    bool exists = false;
    bool dirty = false;
    bool serialized = false;  // json holds what to store; otherwise commit makes it from fields
    std::vector<element_field> fields;  // the stored keys (loaded with parse_existing)
    std::string json;
  };
  bool parse_existing = true;
  std::vector<slot> slots;      // one per distinct id, in first-mention order
  std::vector<size_t> mentions;  // the slot of every id named, in order
  size_t cursor = 0;
  // Open addressing from id to slot + 1 (0: free), at most half full: one allocation per call
  // where a node-based map makes one per id.
  std::vector<size_t> table;

  void reserve(size_t ids) {
    slots.reserve(ids);
    mentions.reserve(ids);
    rehash(ids);
  }
  void mention(std::string_view id) {
    if (2 * (slots.size() + 1) > table.size()) rehash(2 * (slots.size() + 1));
    auto mask = table.size() - 1;
    for (auto h = std::hash<std::string_view>{}(id) & mask;; h = (h + 1) & mask) {
      if (table[h] == 0) {
        slots.emplace_back().id = id;
        table[h] = slots.size();
        mentions.push_back(slots.size() - 1);
        return;
      }
      if (slots[table[h] - 1].id == id) {
        mentions.push_back(table[h] - 1);
        return;
      }
    }
  }
  /// The slot of the next mention.
  slot& next() { return slots[mentions[cursor++]]; }

 private:
  void rehash(size_t ids) {
    size_t size = 16;
    while (size < 2 * ids) size *= 2;
    if (size <= table.size()) return;
    table.assign(size, 0);
    auto mask = size - 1;
    for (size_t k = 0; k < slots.size(); ++k) {
      auto h = std::hash<std::string_view>{}(slots[k].id) & mask;
      while (table[h] != 0) h = (h + 1) & mask;
      table[h] = k + 1;
    }
  }
};

element_store::element_store(database& db) : db_(db), changes_(db) {}

caf::error element_store::load(working_set& ws) const {
  auto& r = db_.internals();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(ws.slots.size());
  for (auto& s : ws.slots) keys.push_back(slice(s.id));
  bool sorted = in_key_order(keys);
  if (keys.size() >= min_ids_for_range_check) {
    auto [lo, hi] = sorted ? std::make_pair(keys.front(), keys.back()) : key_range(keys);
    auto empty = no_element_between(r, lo, hi, keys.size());
    if (!empty) return std::move(empty.error());
    if (*empty) return caf::none;  // none of the ids exists
  }
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  r.db->MultiGet(rocksdb::ReadOptions{}, r.cf(column::elements), keys.size(), keys.data(),
                 values.data(), statuses.data(), sorted);
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& s = ws.slots[i];
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return to_error(statuses[i], "read element");
    s.exists = true;
    if (ws.parse_existing) {
      auto fields = parse_stored({values[i].data(), values[i].size()});
      if (!fields)
        return make_error(storage_errc::corruption, "element " + std::string{s.id} + ": " +
                                                        render(fields.error()));
      s.fields = std::move(*fields);
    }
  }
  return caf::none;
}

caf::expected<std::vector<element_outcome>> element_store::commit(
    working_set& ws, std::vector<element_outcome> outcomes, const create_stage* stage) {
  size_t bytes = 0;
  for (auto& s : ws.slots) {
    if (!s.dirty) continue;
    if (s.exists && !s.serialized) {
      s.json = serialize_element(s.id, s.fields);
      s.serialized = true;
    }
    if (s.exists && s.json.size() > max_element_bytes)
      return make_error(storage_errc::invalid_element,
                        "element " + std::string{s.id} + " would be " +
                            std::to_string(s.json.size()) + " bytes, more than the limit of " +
                            std::to_string(max_element_bytes));
    bytes += s.id.size() + (s.exists ? s.json.size() : 0) + 16;  // with tags and lengths
  }
  write_batch batch{db_};
  // Room for every change at once: growing by doubling copied a batch of a thousand elements a
  // dozen times, the larger copies into freshly mapped memory.
  batch.internals().batch = rocksdb::WriteBatch{bytes};
  std::vector<std::pair<std::string_view, bool>> changed;
  changed.reserve(ws.slots.size());
  for (auto& s : ws.slots) {
    if (!s.dirty) continue;
    if (s.exists)
      batch.put(column::elements, s.id, s.json);
    else
      batch.erase(column::elements, s.id);
    changed.emplace_back(s.id, !s.exists);
  }
  if (stage != nullptr && *stage) {
    if (auto err = (*stage)(outcomes, batch)) return err;
  }
  if (auto err = changes_.stage(batch, changed, epoch_ms())) return err;
  if (auto err = db_.write(batch)) {
    changes_.abandoned();
    return err;
  }
  auto last = changes_.committed();
  if (!changed.empty() && on_change_) on_change_(last);
  // Outcomes carry the element as stored at the end of the call; outcome i belongs to mention i.
  // The last outcome of an element takes its JSON, earlier ones (an id named twice) copy it.
  auto carries_json = [&](size_t i) {
    auto r = outcomes[i].result;
    auto& s = ws.slots[ws.mentions[i]];
    return (r == element_result::created || r == element_result::updated) && s.exists &&
           s.serialized;
  };
  std::vector<uint32_t> holders(ws.slots.size(), 0);
  for (size_t i = 0; i < outcomes.size(); ++i)
    if (carries_json(i)) ++holders[ws.mentions[i]];
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!carries_json(i)) continue;
    auto k = ws.mentions[i];
    if (--holders[k] == 0)
      outcomes[i].json = std::move(ws.slots[k].json);
    else
      outcomes[i].json = ws.slots[k].json;
  }
  return outcomes;
}

caf::expected<std::vector<element_outcome>> element_store::create(
    const std::vector<element_input>& in, const write_context& ctx) {
  if (in.size() > max_batch_elements)
    return make_error(storage_errc::invalid_element,
                      "more than " + std::to_string(max_batch_elements) + " elements in one call");
  if (auto err = check_input_ids(in)) return err;
  return create_batch(make_element_batch(in), ctx);
}

caf::expected<std::vector<element_outcome>> element_store::create_staged(
    const std::vector<element_input>& in, const write_context& ctx, const create_stage& stage) {
  if (in.size() > max_batch_elements)
    return make_error(storage_errc::invalid_element,
                      "more than " + std::to_string(max_batch_elements) + " elements in one call");
  if (auto err = check_input_ids(in)) return err;
  return create_batch(make_element_batch(in), ctx, &stage);
}

caf::expected<std::vector<element_outcome>> element_store::create(std::string_view json,
                                                                  const write_context& ctx) {
  auto in = parse_element_batch(json, id_policy::optional);
  if (!in) return std::move(in.error());
  return create_batch(*in, ctx);
}

// Creates work on a batch of views rather than element_inputs: a created element is serialized
// straight from the request's text, with no string per field to make, copy and free; this is
// the bulk path of every scan that discovers new items.
caf::expected<std::vector<element_outcome>> element_store::create_batch(const element_batch& in,
                                                                        const write_context& ctx,
                                                                        const create_stage* stage) {
  if (in.elements.size() > max_batch_elements)
    return make_error(storage_errc::invalid_element,
                      "more than " + std::to_string(max_batch_elements) + " elements in one call");
  auto now = resolve_time(ctx);
  auto time_text = std::to_string(now);
  auto author_text = json_quote(ctx.author);
  // Generated ids are fixed before taking the lock, so the order of outcomes is the input's.
  std::vector<std::string> generated(in.elements.size());
  size_t id_count = 0;
  for (size_t i = 0; i < in.elements.size(); ++i) {
    auto& e = in.elements[i];
    if (e.ids_begin == e.ids_end) generated[i] = make_ulid(now);
    id_count += std::max<size_t>(1, e.ids_end - e.ids_begin);
  }
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  ws.parse_existing = false;
  ws.reserve(id_count);
  for (size_t i = 0; i < in.elements.size(); ++i) {
    auto& e = in.elements[i];
    if (e.ids_begin == e.ids_end) ws.mention(generated[i]);
    for (auto k = e.ids_begin; k < e.ids_end; ++k) ws.mention(in[in.ids[k]]);
  }
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes(id_count);
  std::vector<std::pair<std::string_view, std::string_view>> fields;
  // What create appends to an element that names neither `author` nor `time`, by the rules of
  // created_fields; such an element is its parsed body plus this.
  std::string tail;
  if (!ctx.author.empty()) tail.append(R"(,"author":)").append(author_text);
  tail.append(R"(,"time":)").append(time_text);
  auto names_author_or_time = [&](const element_batch::element& e) {
    for (auto k = e.fields_begin; k < e.fields_end; ++k) {
      auto key = in[in.fields[k].key];
      if (key == "author" || key == "time") return true;
    }
    return false;
  };
  auto o = outcomes.begin();
  for (size_t i = 0; i < in.elements.size(); ++i) {
    auto& e = in.elements[i];
    bool have_fields = false;
    bool plain = e.has_body && !names_author_or_time(e);
    for (size_t k = 0; k < std::max<size_t>(1, e.ids_end - e.ids_begin); ++k, ++o) {
      auto& s = ws.next();
      o->id = s.id;
      if (s.exists) {
        o->result = element_result::exists;
        continue;
      }
      // A created element is not changed again in the call (a second mention of its id gets
      // `exists`), so it is serialized now and commit only stores it.
      if (plain) {
        serialize_element(s.json, s.id, {in[e.body], tail});
      } else {
        if (!have_fields) created_fields(fields, in, e, ctx, author_text, time_text);
        have_fields = true;
        serialize_element(s.json, s.id, fields);
      }
      s.exists = s.dirty = s.serialized = true;
      o->result = element_result::created;
    }
  }
  return commit(ws, std::move(outcomes), stage);
}

namespace {

// Why `ctx` may not change an element with these fields, as the lock's owner; empty if it may.
std::optional<std::string> foreign_lock(const std::vector<element_field>& fields,
                                        const write_context& ctx) {
  if (!ctx.honor_locks) return std::nullopt;
  auto* lock = find_field(fields, "lock");
  if (lock == nullptr || lock->is_null()) return std::nullopt;
  auto owner = lock_owner_of(*lock);
  if (owner == ctx.author) return std::nullopt;
  return owner;
}

void merge_into(std::vector<element_field>& fields, const element_input& patch,
                const write_context& ctx, const std::string& time_text) {
  for (auto& f : patch.fields) {
    if ((ctx.keep_time || !ctx.keep_given_author_time) && (f.key == "author" || f.key == "time"))
      continue;
    if (f.is_null())
      erase_field(fields, f.key);
    else
      set_field(fields, f.key, f.value);
  }
  if (ctx.keep_time) return;
  if (!ctx.keep_given_author_time || !patch.find("time")) set_field(fields, "time", time_text);
}

}  // namespace

caf::expected<std::vector<element_outcome>> element_store::update(
    const std::vector<element_input>& in, const write_context& ctx) {
  if (auto err = check_input_ids(in)) return err;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].ids.empty())
      return make_error(storage_errc::invalid_element,
                        "element " + std::to_string(i) + ": _id is missing");
    if (in[i].fields.empty())
      return make_error(storage_errc::invalid_element,
                        "element " + std::to_string(i) + ": no key to change besides _id");
  }
  auto time_text = std::to_string(resolve_time(ctx));
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  for (auto& e : in)
    for (auto& id : e.ids) ws.mention(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& e : in) {
    for (auto& id : e.ids) {
      auto& s = ws.next();
      element_outcome o;
      o.id = id;
      if (!s.exists) {
        o.result = element_result::not_found;
      } else if (auto owner = foreign_lock(s.fields, ctx)) {
        o.result = element_result::locked;
        o.lock_owner = *owner;
      } else {
        merge_into(s.fields, e, ctx, time_text);
        s.dirty = true;
        o.result = element_result::updated;
      }
      outcomes.push_back(std::move(o));
    }
  }
  return commit(ws, std::move(outcomes));
}

caf::expected<std::vector<element_outcome>> element_store::update(std::string_view json,
                                                                  const write_context& ctx) {
  auto in = parse_elements(json, id_policy::required);
  if (!in) return std::move(in.error());
  return update(*in, ctx);
}

caf::expected<std::vector<element_outcome>> element_store::upsert(
    const std::vector<element_input>& in, const write_context& ctx) {
  if (auto err = check_input_ids(in)) return err;
  auto now = resolve_time(ctx);
  auto time_text = std::to_string(now);
  auto author_text = json_quote(ctx.author);
  std::vector<std::vector<std::string>> ids(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    ids[i] = in[i].ids.empty() ? std::vector<std::string>{make_ulid(now)} : in[i].ids;
    // damas-core's upsert takes the id "null" for "make one" (its clients send it so).
    for (auto& id : ids[i])
      if (id == "null") id = make_ulid(now);
  }
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  for (auto& list : ids)
    for (auto& id : list) ws.mention(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (size_t i = 0; i < in.size(); ++i) {
    for (auto& id : ids[i]) {
      auto& s = ws.next();
      element_outcome o;
      o.id = id;
      if (!s.exists) {
        s.fields.clear();
        for (auto& f : in[i].fields)
          if (!f.is_null()) s.fields.push_back(f);
        if (!ctx.keep_given_author_time || !find_field(s.fields, "author")) {
          if (!ctx.author.empty())
            set_field(s.fields, "author", author_text);
          else if (!ctx.keep_given_author_time)
            erase_field(s.fields, "author");
        }
        if (!ctx.keep_given_author_time || !find_field(s.fields, "time"))
          set_field(s.fields, "time", time_text);
        s.exists = s.dirty = true;
        o.result = element_result::created;
      } else if (auto owner = foreign_lock(s.fields, ctx)) {
        o.result = element_result::locked;
        o.lock_owner = *owner;
      } else {
        merge_into(s.fields, in[i], ctx, time_text);
        s.dirty = true;
        o.result = element_result::updated;
      }
      outcomes.push_back(std::move(o));
    }
  }
  return commit(ws, std::move(outcomes));
}

caf::expected<std::vector<element_outcome>> element_store::upsert(std::string_view json,
                                                                  const write_context& ctx) {
  auto in = parse_elements(json, id_policy::optional);
  if (!in) return std::move(in.error());
  return upsert(*in, ctx);
}

namespace {

caf::error check_ids(const std::vector<std::string>& ids) {
  if (ids.size() > max_batch_elements)
    return make_error(storage_errc::invalid_element,
                      "more than " + std::to_string(max_batch_elements) + " ids in one call");
  for (size_t i = 0; i < ids.size(); ++i)
    if (auto err = validate_id(ids[i]))
      return make_error(storage_errc::invalid_element,
                        "id " + std::to_string(i) + ": " + render(err));
  return caf::none;
}

}  // namespace

caf::expected<std::vector<element_outcome>> element_store::remove(
    const std::vector<std::string>& ids, const write_context& ctx) {
  return remove_staged(ids, ctx, create_stage{});
}

caf::expected<std::vector<element_outcome>> element_store::remove_staged(
    const std::vector<std::string>& ids, const write_context& ctx, const create_stage& stage) {
  if (auto err = check_ids(ids)) return err;
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  ws.parse_existing = ctx.honor_locks;
  for (auto& id : ids) ws.mention(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& id : ids) {
    auto& s = ws.next();
    element_outcome o;
    o.id = id;
    if (!s.exists) {
      o.result = element_result::not_found;
    } else if (auto owner = foreign_lock(s.fields, ctx)) {
      o.result = element_result::locked;
      o.lock_owner = *owner;
    } else {
      s.exists = false;
      s.dirty = true;
      o.result = element_result::deleted;
    }
    outcomes.push_back(std::move(o));
  }
  return commit(ws, std::move(outcomes), &stage);
}

caf::expected<std::vector<element_outcome>> element_store::lock(const std::vector<std::string>& ids,
                                                                const write_context& ctx) {
  if (auto err = check_ids(ids)) return err;
  auto owner_text = json_quote(ctx.author);
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  for (auto& id : ids) ws.mention(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& id : ids) {
    auto& s = ws.next();
    element_outcome o;
    o.id = id;
    auto* held = s.exists ? find_field(s.fields, "lock") : nullptr;
    if (!s.exists) {
      o.result = element_result::not_found;
    } else if (held != nullptr && !held->is_null() && lock_owner_of(*held) != ctx.author) {
      o.result = element_result::locked;
      o.lock_owner = lock_owner_of(*held);
    } else if (held != nullptr && !held->is_null()) {
      o.result = element_result::unchanged;
    } else {
      set_field(s.fields, "lock", owner_text);
      s.dirty = true;
      o.result = element_result::updated;
    }
    outcomes.push_back(std::move(o));
  }
  return commit(ws, std::move(outcomes));
}

caf::expected<std::vector<element_outcome>> element_store::unlock(
    const std::vector<std::string>& ids, const write_context& ctx) {
  if (auto err = check_ids(ids)) return err;
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  for (auto& id : ids) ws.mention(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& id : ids) {
    auto& s = ws.next();
    element_outcome o;
    o.id = id;
    auto* held = s.exists ? find_field(s.fields, "lock") : nullptr;
    if (!s.exists) {
      o.result = element_result::not_found;
    } else if (held == nullptr || held->is_null()) {
      o.result = element_result::unchanged;
    } else if (ctx.honor_locks && lock_owner_of(*held) != ctx.author) {
      o.result = element_result::locked;
      o.lock_owner = lock_owner_of(*held);
    } else {
      if (lock_owner_of(*held) != ctx.author) o.lock_owner = lock_owner_of(*held);  // broken
      erase_field(s.fields, "lock");
      s.dirty = true;
      o.result = element_result::updated;
    }
    outcomes.push_back(std::move(o));
  }
  return commit(ws, std::move(outcomes));
}

caf::expected<std::vector<std::optional<std::string>>> element_store::read(
    const std::vector<std::string>& ids) const {
  if (auto err = check_ids(ids)) return err;
  auto& r = db_.internals();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(ids.size());
  for (auto& id : ids) keys.push_back(slice(id));
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  r.db->MultiGet(rocksdb::ReadOptions{}, r.cf(column::elements), keys.size(), keys.data(),
                 values.data(), statuses.data(), in_key_order(keys));
  std::vector<std::optional<std::string>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return to_error(statuses[i], "read element");
    out[i].emplace(values[i].data(), values[i].size());
  }
  return out;
}

caf::expected<std::optional<std::string>> element_store::get(std::string_view id) const {
  auto& r = db_.internals();
  std::string value;
  auto st = r.db->Get(rocksdb::ReadOptions{}, r.cf(column::elements), slice(id), &value);
  if (st.IsNotFound()) return std::optional<std::string>{};
  if (!st.ok()) return to_error(st, "read element");
  return std::optional<std::string>{std::move(value)};
}

caf::expected<element_page> element_store::list(std::string_view prefix, std::string_view after,
                                                size_t limit, bool shallow) const {
  if (limit == 0) return make_error(storage_errc::invalid_argument, "page size must be positive");
  if (!after.empty() && after.substr(0, prefix.size()) != prefix)
    return make_error(storage_errc::invalid_argument, "cursor does not belong to this listing");
  auto& r = db_.internals();
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  auto upper = codec::prefix_successor(prefix);
  rocksdb::Slice upper_slice;
  if (upper) {
    upper_slice = slice(*upper);
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::elements))};
  // The cursor is the last id returned; the next page starts strictly after it, so an element
  // that exists for the whole listing is seen exactly once whatever changes around it.
  std::string start = after.empty() ? std::string{prefix} : std::string{after} + '\0';
  if (shallow && !after.empty()) {
    // After a child folder `<prefix>x/`, skip everything below it.
    auto rest = after.substr(prefix.size());
    if (!rest.empty() && rest.back() == '/') {
      if (auto s = codec::prefix_successor(after)) start = *s;
    }
  }
  element_page page;
  page.items.reserve(std::min<size_t>(limit, 1024));
  it->Seek(slice(start));
  while (it->Valid()) {
    std::string_view key{it->key().data(), it->key().size()};
    if (shallow) {
      auto rest = key.substr(prefix.size());
      if (rest.empty()) {
        // The prefix itself (the folder `/a/b/`) is not one of its own children.
        it->Next();
        continue;
      }
      auto slash = rest.find('/');
      if (slash != std::string_view::npos && slash + 1 < rest.size()) {
        // A deeper descendant: jump past the whole `<prefix>name/` subtree.
        auto sub = std::string{key.substr(0, prefix.size() + slash + 1)};
        auto next = codec::prefix_successor(sub);
        if (!next) break;
        it->Seek(slice(*next));
        continue;
      }
    }
    if (page.items.size() == limit) {
      page.next_cursor = page.items.back().first;
      break;
    }
    page.items.emplace_back(std::string{key},
                            std::string{it->value().data(), it->value().size()});
    it->Next();
  }
  if (!it->status().ok()) return to_error(it->status(), "list elements");
  return page;
}

caf::error element_store::scan(
    std::string_view prefix,
    const std::function<bool(std::string_view id, std::string_view json)>& visit) const {
  auto& r = db_.internals();
  rocksdb::ReadOptions ro;
  auto upper = codec::prefix_successor(prefix);
  rocksdb::Slice upper_slice;
  if (upper) {
    upper_slice = slice(*upper);
    ro.iterate_upper_bound = &upper_slice;
  }
  ro.readahead_size = 2u << 20;
  // A scan reads everything once: keep it from evicting the blocks that point reads need.
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::elements))};
  for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
    if (!visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()}))
      break;
  }
  return to_error(it->status(), "scan elements");
}

caf::expected<change_page> element_store::changes(uint64_t since, size_t limit) const {
  return changes_.read(since, limit);
}

uint64_t element_store::last_change() const { return changes_.last(); }

caf::expected<size_t> element_store::forget_changes_before(int64_t before_ms, size_t max) {
  return changes_.forget_before(before_ms, max);
}

void element_store::on_change(std::function<void(uint64_t last)> listener) {
  std::lock_guard<std::mutex> guard{write_mtx_};  // commit calls it with the lock held
  on_change_ = std::move(listener);
}

}  // namespace syncline::storage
