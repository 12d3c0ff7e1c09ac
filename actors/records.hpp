// actors/records.hpp: datasources and volumes as kept in the database (`meta` column family).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/sync_config.hpp"
#include "actors/state_machines.hpp"

namespace syncline::storage {
class database;
class datasource_store;
class write_batch;
}  // namespace syncline::storage

namespace syncline::actors {

/// A datasource's configuration and the state that must survive a restart.
struct datasource_record {
  datasource_config config;
  datasource_status status = datasource_status::created;
  sync_health health = sync_health::pending;
  /// Why the datasource is in `error` or `failed`; empty otherwise.
  std::string last_error;
  /// When the next scheduled run starts (epoch ms); 0 when none is scheduled.
  int64_t next_run_ms = 0;
  /// Runs that failed in a row (for the retry backoff of whole runs).
  uint32_t run_failures = 0;
  int64_t created_ms = 0;
  /// The deletion guard (`auto` only, see docs/runtime.md): the identity of the filesystem
  /// its folder was on at its first run (`connectors::filesystem_identity`), "" until then.
  std::string source_fs;
  /// Removals the last run held back (they wait in the datastore, unqueued), and why.
  uint64_t held_removals = 0;
  /// Removals a person confirmed (`@sendToSpyder {"confirm_deletes": N}`): the next run
  /// releases its held removals if there are at most this many, then forgets it.
  uint64_t confirmed_removals = 0;
};

struct volume_record {
  volume_config config;
  bool paused = false;
  int64_t created_ms = 0;
};

/// The one way a record's status or health changes: through the tables of
/// actors/state_machines.hpp. `none` when the table allows the move (or the record is there
/// already); else `forbidden_transition` naming both states, and the record is unchanged.
[[nodiscard]] caf::error move_status(datasource_record& r, datasource_status to);
[[nodiscard]] caf::error move_health(datasource_record& r, sync_health to);

/// A person acted on the datasource (a new configuration, sync now, new credentials): one in
/// `error` gets another chance. It moves to `pending` (the table's edge for this) and forgets
/// its failed runs and its error. Other statuses are left alone. Returns whether it moved.
bool person_acted(datasource_record& r);

/// The status a datasource resumes in when its actor starts from a stored record: the record
/// is what an earlier incarnation (perhaps killed mid-run) wrote, not a state this one was in,
/// so the table does not apply. `syncing` when its last run is unfinished, else `synced` or
/// `pending` in place of a `syncing` or `resuming` left behind. The only move outside the table.
void restore_status(datasource_record& r, datasource_status to);

/// The meta key of a volume record, `volume/<id>`. A datasource's record is kept by
/// storage::datasource_store with the rest of its state.
std::string volume_key(const std::string& id);

std::string encode(const datasource_record& r);
std::string encode(const volume_record& r);
[[nodiscard]] caf::expected<datasource_record> decode_datasource(std::string_view bytes);
[[nodiscard]] caf::expected<volume_record> decode_volume(std::string_view bytes);

/// Stages a record into a batch (to commit with the changes it accompanies) / writes it now.
void stage(const storage::datasource_store& store, storage::write_batch& batch,
           const datasource_record& r);
[[nodiscard]] caf::error save(storage::datasource_store& store, const datasource_record& r);
[[nodiscard]] caf::error save(storage::database& db, const volume_record& r);

[[nodiscard]] caf::expected<std::optional<datasource_record>> load_datasource(
    const storage::datasource_store& store, const std::string& id);
[[nodiscard]] caf::expected<std::vector<datasource_record>> load_datasources(
    const storage::datasource_store& store);
[[nodiscard]] caf::expected<std::vector<volume_record>> load_volumes(const storage::database& db);

}  // namespace syncline::actors
