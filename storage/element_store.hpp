// storage/element_store.hpp: the tracker's elements (seed 003, damas-core semantics).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/change_feed.hpp"
#include "storage/element_json.hpp"

namespace syncline::storage {

class database;
class write_batch;

/// Who is writing, and how the reserved keys are treated.
struct write_context {
  /// The authenticated user: recorded as `author` on create, compared with `lock`.
  std::string author;
  /// The time recorded as `time`, epoch milliseconds; 0 reads the system clock.
  int64_t now_ms = 0;
  /// Keep `author` and `time` when the input gives them (imports, admins). Otherwise the store
  /// sets `author` on create and `time` on every change, ignoring what the input says.
  bool keep_given_author_time = false;
  /// Refuse update, upsert, delete and unlock of an element whose `lock` names another user.
  bool honor_locks = true;
  /// A bookkeeping update (the per-site keys of where an element's copies are): `time` and
  /// `author` stay as stored, whatever the input says, so that recording a copy never makes
  /// the element look newer than its copies.
  bool keep_time = false;
};

/// What happened to one id.
enum class element_result : uint8_t {
  created,    ///< a new element was written
  updated,    ///< an existing element was changed (update, upsert, lock, unlock)
  deleted,    ///< the element was removed
  unchanged,  ///< nothing to do (lock already held by this user, unlock of an unlocked element)
  exists,     ///< create of an id that exists (or appeared earlier in the same call)
  not_found,  ///< the id does not exist
  locked,     ///< the element is locked by another user; `lock_owner` says whom
};

const char* to_string(element_result r) noexcept;

struct element_outcome {
  std::string id;
  element_result result = element_result::not_found;
  /// The element as stored after the call, for `created` and `updated`.
  std::string json;
  /// For `locked`: the user holding the lock. For `updated` by an unlock that broke another
  /// user's lock (`honor_locks` false): whose lock it was.
  std::string lock_owner;
};

/// One page of a prefix listing.
struct element_page {
  std::vector<std::pair<std::string, std::string>> items;  ///< (_id, JSON) in `_id` order
  /// Pass as `after` to get the next page; empty when the listing is complete.
  std::string next_cursor;
};

/// JSON elements keyed by `_id`, in the `elements` column family, in `_id` byte order.
///
/// Every mutating call is one atomic write (a crash keeps all or none of it) and reports one
/// outcome per id, in input order; bad input fails the whole call before anything is written.
/// Mutations are serialized by an internal mutex, so check-and-write sequences (create of a
/// new id, lock) are atomic with respect to each other. Reads never block writers.
/// Thread-safe. The database must outlive the store.
class element_store {
 public:
  explicit element_store(database& db);

  /// Creates each element; an element with an `_id` array is created once per id, and one
  /// without `_id` gets a generated ULID. Existing ids get `exists` and are not touched.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> create(
      const std::vector<element_input>& in, const write_context& ctx);
  [[nodiscard]] caf::expected<std::vector<element_outcome>> create(std::string_view json,
                                                                   const write_context& ctx);

  /// What `create_staged` calls once every outcome is decided, before anything is written, with
  /// the store's write lock held: `outcomes` has each id and result (`json` is not filled yet).
  /// It may add changes of its own to `batch`, which is then written as one atomic write with
  /// the created elements; an error it returns fails the call and nothing is written. It must
  /// not call this store's mutating methods (the lock is held); reads are fine.
  using create_stage = std::function<caf::error(const std::vector<element_outcome>& outcomes,
                                                write_batch& batch)>;

  /// `create(in, ctx)`, with `stage` adding the caller's own changes to the same atomic write
  /// (the user store writes a user's element and password hash as one). As in `create`, no
  /// other mutation of this store runs between the check that an id is new and the write.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> create_staged(
      const std::vector<element_input>& in, const write_context& ctx, const create_stage& stage);

  /// Merges each input's keys into the elements it names: a key set to null is removed, other
  /// keys are replaced or added, `time` is set. Every input needs at least one key besides
  /// `_id` (else `invalid_element`). Missing ids get `not_found`.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> update(
      const std::vector<element_input>& in, const write_context& ctx);
  [[nodiscard]] caf::expected<std::vector<element_outcome>> update(std::string_view json,
                                                                   const write_context& ctx);

  /// Update where the id exists, create (null keys dropped) where it does not. An absent `_id`,
  /// or the id `"null"` (damas-core's spelling), creates an element under a new ULID.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> upsert(
      const std::vector<element_input>& in, const write_context& ctx);
  [[nodiscard]] caf::expected<std::vector<element_outcome>> upsert(std::string_view json,
                                                                   const write_context& ctx);

  /// Deletes each id.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> remove(
      const std::vector<std::string>& ids, const write_context& ctx);
  /// `remove(ids, ctx)`, with `stage` (called as `create_staged` calls it, the outcomes
  /// decided, the lock held) adding the caller's own changes to the same atomic write: the user
  /// store deletes a user's password hash and tokens with its element.
  [[nodiscard]] caf::expected<std::vector<element_outcome>> remove_staged(
      const std::vector<std::string>& ids, const write_context& ctx, const create_stage& stage);

  /// Sets `lock` to `ctx.author` on each id not locked by someone else (an atomic
  /// test-and-set per id).
  [[nodiscard]] caf::expected<std::vector<element_outcome>> lock(const std::vector<std::string>& ids,
                                                                 const write_context& ctx);
  /// Removes `lock` from each id locked by `ctx.author`; with `ctx.honor_locks` false, from
  /// each id whoever holds it (an admin breaking a lock: the caller checks the class).
  [[nodiscard]] caf::expected<std::vector<element_outcome>> unlock(
      const std::vector<std::string>& ids, const write_context& ctx);

  /// The elements' JSON in input order, with an empty optional for each missing id.
  [[nodiscard]] caf::expected<std::vector<std::optional<std::string>>> read(
      const std::vector<std::string>& ids) const;
  [[nodiscard]] caf::expected<std::optional<std::string>> get(std::string_view id) const;

  /// Up to `limit` elements whose `_id` starts with `prefix` and sorts after `after` (empty:
  /// from the start), in `_id` order. With `shallow`, only the prefix's direct children:
  /// `<prefix>name` and `<prefix>name/`, skipping anything below them. Paging with the
  /// returned cursor yields every element present for the whole listing exactly once, however
  /// many are added or removed meanwhile.
  [[nodiscard]] caf::expected<element_page> list(std::string_view prefix, std::string_view after,
                                                 size_t limit, bool shallow = false) const;

  /// Calls `visit(id, json)` for every element whose id starts with `prefix`, in order, until
  /// it returns false. Reads a consistent snapshot.
  [[nodiscard]] caf::error scan(
      std::string_view prefix,
      const std::function<bool(std::string_view id, std::string_view json)>& visit) const;

  /// The change feed (storage/change_feed.hpp): up to `limit` changes after the cursor `since`.
  /// Every write of this store (users' elements included) adds one change per element it
  /// created, changed or deleted, in the same atomic write.
  [[nodiscard]] caf::expected<change_page> changes(uint64_t since, size_t limit) const;
  /// The newest change's sequence (0: none yet).
  uint64_t last_change() const;
  /// Forgets up to `max` of the changes written before `before_ms` (the feed is compacted by
  /// age); returns how many.
  [[nodiscard]] caf::expected<size_t> forget_changes_before(int64_t before_ms, size_t max);
  /// Called after every write that added changes, with the newest sequence, on the writing
  /// thread (with the store's write lock held: it must only hand the news on, and never call
  /// this store's mutating methods).
  void on_change(std::function<void(uint64_t last)> listener);

 private:
  struct working_set;
  caf::error load(working_set& ws) const;
  caf::expected<std::vector<element_outcome>> commit(working_set& ws,
                                                     std::vector<element_outcome> outcomes,
                                                     const create_stage* stage = nullptr);
  caf::expected<std::vector<element_outcome>> create_batch(const element_batch& in,
                                                           const write_context& ctx,
                                                           const create_stage* stage = nullptr);

  database& db_;
  std::mutex write_mtx_;
  change_log changes_;
  std::function<void(uint64_t)> on_change_;
};

}  // namespace syncline::storage
