#include "storage/element_store.hpp"

#include <unordered_map>

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
// one call sees the effect of its first mention.
struct element_store::working_set {
  struct slot {
    bool exists = false;
    bool parsed = false;  // fields hold the stored keys (only loaded where needed)
    bool dirty = false;
    std::string raw;      // stored JSON as read
    std::vector<element_field> fields;
  };
  bool parse_existing = true;
  std::vector<std::string> order;  // ids in first-touch order
  std::unordered_map<std::string, slot> slots;

  slot& touch(const std::string& id) {
    auto [i, added] = slots.try_emplace(id);
    if (added) order.push_back(id);
    return i->second;
  }
};

element_store::element_store(database& db) : db_(db) {}

caf::error element_store::load(working_set& ws) const {
  auto& r = db_.internals();
  std::vector<rocksdb::Slice> keys;
  keys.reserve(ws.order.size());
  for (auto& id : ws.order) keys.push_back(slice(id));
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  r.db->MultiGet(rocksdb::ReadOptions{}, r.cf(column::elements), keys.size(), keys.data(),
                 values.data(), statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto& s = ws.slots[ws.order[i]];
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return to_error(statuses[i], "read element");
    s.exists = true;
    if (ws.parse_existing) {
      s.raw.assign(values[i].data(), values[i].size());
      auto fields = parse_stored(s.raw);
      if (!fields)
        return make_error(storage_errc::corruption, "element " + ws.order[i] + ": " +
                                                        render(fields.error()));
      s.fields = std::move(*fields);
      s.parsed = true;
    }
  }
  return caf::none;
}

caf::expected<std::vector<element_outcome>> element_store::commit(
    working_set& ws, std::vector<element_outcome> outcomes) {
  write_batch batch{db_};
  std::unordered_map<std::string, std::string> serialized;
  for (auto& id : ws.order) {
    auto& s = ws.slots[id];
    if (!s.dirty) continue;
    if (!s.exists) {
      batch.erase(column::elements, id);
      continue;
    }
    auto json = serialize_element(id, s.fields);
    if (json.size() > max_element_bytes)
      return make_error(storage_errc::invalid_element,
                        "element " + id + " would be " + std::to_string(json.size()) +
                            " bytes, more than the limit of " + std::to_string(max_element_bytes));
    batch.put(column::elements, id, json);
    serialized[id] = std::move(json);
  }
  if (auto err = db_.write(batch)) return err;
  // Outcomes carry the element as stored at the end of the call.
  for (auto& o : outcomes) {
    if (o.result == element_result::created || o.result == element_result::updated) {
      auto i = serialized.find(o.id);
      if (i != serialized.end()) o.json = i->second;
    }
  }
  return outcomes;
}

caf::expected<std::vector<element_outcome>> element_store::create(
    const std::vector<element_input>& in, const write_context& ctx) {
  if (in.size() > max_batch_elements)
    return make_error(storage_errc::invalid_element,
                      "more than " + std::to_string(max_batch_elements) + " elements in one call");
  if (auto err = check_input_ids(in)) return err;
  auto now = resolve_time(ctx);
  auto time_text = std::to_string(now);
  auto author_text = json_quote(ctx.author);
  // Generated ids are fixed before taking the lock, so the order of outcomes is the input's.
  std::vector<std::vector<std::string>> ids(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    ids[i] = in[i].ids.empty() ? std::vector<std::string>{make_ulid(now)} : in[i].ids;
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  ws.parse_existing = false;
  for (auto& list : ids)
    for (auto& id : list) ws.touch(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  outcomes.reserve(ws.order.size());
  for (size_t i = 0; i < in.size(); ++i) {
    for (auto& id : ids[i]) {
      auto& s = ws.slots[id];
      element_outcome o;
      o.id = id;
      if (s.exists) {
        o.result = element_result::exists;
      } else {
        s.fields = in[i].fields;
        if (!ctx.keep_given_author_time || !find_field(s.fields, "author")) {
          if (!ctx.author.empty())
            set_field(s.fields, "author", author_text);
          else if (!ctx.keep_given_author_time)
            erase_field(s.fields, "author");
        }
        if (!ctx.keep_given_author_time || !find_field(s.fields, "time"))
          set_field(s.fields, "time", time_text);
        s.exists = s.dirty = s.parsed = true;
        o.result = element_result::created;
      }
      outcomes.push_back(std::move(o));
    }
  }
  return commit(ws, std::move(outcomes));
}

caf::expected<std::vector<element_outcome>> element_store::create(std::string_view json,
                                                                  const write_context& ctx) {
  auto in = parse_elements(json, id_policy::optional);
  if (!in) return std::move(in.error());
  return create(*in, ctx);
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
    if (!ctx.keep_given_author_time && (f.key == "author" || f.key == "time")) continue;
    if (f.is_null())
      erase_field(fields, f.key);
    else
      set_field(fields, f.key, f.value);
  }
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
    for (auto& id : e.ids) ws.touch(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& e : in) {
    for (auto& id : e.ids) {
      auto& s = ws.slots[id];
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
  for (size_t i = 0; i < in.size(); ++i)
    ids[i] = in[i].ids.empty() ? std::vector<std::string>{make_ulid(now)} : in[i].ids;
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  for (auto& list : ids)
    for (auto& id : list) ws.touch(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (size_t i = 0; i < in.size(); ++i) {
    for (auto& id : ids[i]) {
      auto& s = ws.slots[id];
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
  if (auto err = check_ids(ids)) return err;
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  ws.parse_existing = ctx.honor_locks;
  for (auto& id : ids) ws.touch(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& id : ids) {
    auto& s = ws.slots[id];
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
  return commit(ws, std::move(outcomes));
}

caf::expected<std::vector<element_outcome>> element_store::lock(const std::vector<std::string>& ids,
                                                                const write_context& ctx) {
  if (auto err = check_ids(ids)) return err;
  auto owner_text = json_quote(ctx.author);
  std::lock_guard<std::mutex> guard{write_mtx_};
  working_set ws;
  for (auto& id : ids) ws.touch(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& id : ids) {
    auto& s = ws.slots[id];
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
  for (auto& id : ids) ws.touch(id);
  if (auto err = load(ws)) return err;
  std::vector<element_outcome> outcomes;
  for (auto& id : ids) {
    auto& s = ws.slots[id];
    element_outcome o;
    o.id = id;
    auto* held = s.exists ? find_field(s.fields, "lock") : nullptr;
    if (!s.exists) {
      o.result = element_result::not_found;
    } else if (held == nullptr || held->is_null()) {
      o.result = element_result::unchanged;
    } else if (lock_owner_of(*held) != ctx.author) {
      o.result = element_result::locked;
      o.lock_owner = lock_owner_of(*held);
    } else {
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
                 values.data(), statuses.data());
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
  std::unique_ptr<rocksdb::Iterator> it{r.db->NewIterator(ro, r.cf(column::elements))};
  for (it->Seek(slice(prefix)); it->Valid(); it->Next()) {
    if (!visit({it->key().data(), it->key().size()}, {it->value().data(), it->value().size()}))
      break;
  }
  return to_error(it->status(), "scan elements");
}

}  // namespace syncline::storage
