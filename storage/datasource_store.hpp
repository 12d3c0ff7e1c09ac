// storage/datasource_store.hpp: everything the node keeps about one datasource, in one place.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "storage/user_store.hpp"

namespace syncline::storage {

class database;
class datastore;
class run_log;
class transfer_queue;
class write_batch;

/// Who owns a datasource and whom it is shared with. Datasources of the configuration file
/// have none until someone shares them (their origin is `config`).
struct datasource_access {
  std::string origin = "config";  ///< "api": made through the API (started on every start)
  std::string owner;
  int64_t created_ms = 0;
  std::map<std::string, std::string> members;  ///< user -> "invited" | "accepted"

  friend bool operator==(const datasource_access& a, const datasource_access& b) noexcept;
};

/// Whether `user` of class `cls` may read a datasource whose access list is `access` (none: a
/// datasource of the configuration file never shared): class `user` and above read every
/// datasource; a guest only one it owns or is invited to (accepted or not). The one rule for
/// the datasource routes and the node's views (`/api/queue`, `/api/actors`).
bool may_read(const std::optional<datasource_access>& access, std::string_view user,
              user_class cls);

/// One link of a datasource (it feeds a volume): where its rows and queue items live.
struct datasource_link {
  std::string rows;   ///< the datastore scope of the link's rows
  std::string queue;  ///< the link's sub-queue, whose name also prefixes its resume points
};

/// The one owner of per-datasource state in the `meta` column and beside it: the record (bytes
/// that actors/records.hpp encodes), the access list, the transfers' resume points, and, for
/// erasing, its runs, credentials, rows and queue items. Every key prefix a datasource uses is
/// named here and nowhere else. Creating writes the record and the access list in one batch;
/// erasing removes everything in one batch, so a crash leaves a datasource whole or gone.
/// Thread-safe.
class datasource_store {
 public:
  datasource_store(database& db, datastore& rows, transfer_queue& queue, run_log& runs);

  // --- the record -------------------------------------------------------------------------

  /// The stored record, or nothing.
  [[nodiscard]] caf::expected<std::optional<std::string>> record(std::string_view id) const;
  /// Calls `visit(id, record)` for every stored record, in id order, until it returns false.
  [[nodiscard]] caf::error scan_records(
      const std::function<bool(std::string_view id, std::string_view record)>& visit) const;
  /// Writes the record now / stages it with the changes it accompanies.
  [[nodiscard]] caf::error put_record(std::string_view id, std::string_view record);
  void stage_record(write_batch& batch, std::string_view id, std::string_view record) const;

  /// Writes a new datasource's record and access list in one batch. `already_exists` when a
  /// record with this id is stored (checked and written under one lock).
  [[nodiscard]] caf::error create(std::string_view id, std::string_view record,
                                  const datasource_access& access);

  // --- who may see and change it ----------------------------------------------------------

  [[nodiscard]] caf::expected<std::optional<datasource_access>> access(std::string_view id) const;
  /// Every access list, by datasource id.
  [[nodiscard]] caf::expected<std::map<std::string, datasource_access>> all_access() const;
  /// Reads the access list (nothing when none is stored), lets `change` modify it, and writes
  /// it when `change` returns true; serialized with every other change of access lists. An
  /// error from `change` (its second argument) is returned and nothing is written.
  [[nodiscard]] caf::error update_access(
      std::string_view id,
      const std::function<bool(std::optional<datasource_access>& access, caf::error& refuse)>&
          change);

  // --- resume points of transfers -----------------------------------------------------------

  /// The meta key of the resume point of `reference` in sub-queue `queue`.
  static std::string checkpoint_key(std::string_view queue, std::string_view reference);

  // --- forgetting -------------------------------------------------------------------------

  /// Forgets what a link knows: its rows, its queue items, its resume points (one batch). The
  /// copies on the volume are not the store's and stay.
  [[nodiscard]] caf::error forget_link(const datasource_link& link);

  /// Erases the datasource: its record, access list, credentials, runs, and every link's rows,
  /// queue items and resume points, in one batch.
  [[nodiscard]] caf::error erase(std::string_view id, const std::vector<datasource_link>& links);

  /// The meta keys of the record and the access list.
  static std::string record_key(std::string_view id);
  static std::string access_key(std::string_view id);

  /// The access list as stored (JSON), and back; nothing when `bytes` cannot be read.
  static std::string encode(const datasource_access& a);
  static std::optional<datasource_access> decode(std::string_view bytes);

 private:
  caf::error stage_forget_link(write_batch& batch, const datasource_link& link);

  database& db_;
  datastore& rows_;
  transfer_queue& queue_;
  run_log& runs_;
  // Serializes creation (its existence check) and read-modify-writes of access lists.
  mutable std::mutex mtx_;
};

}  // namespace syncline::storage
