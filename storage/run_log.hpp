// storage/run_log.hpp: the record of every synchronize run (seed 001's run states).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class database;
class write_batch;

/// A run's state (seed 001). Which moves are allowed is decided in actors/, not here.
enum class run_status : uint8_t { started, querying, queued, in_progress, success, paused, failed };

/// The wire spelling: `started querying queued in_progress success paused failed`.
const char* to_string(run_status s) noexcept;
std::optional<run_status> run_status_from_string(std::string_view s) noexcept;

/// Whether a run in this state is over (`success`, `failed`); a `paused` run is not.
bool is_final(run_status s) noexcept;

struct run_counters {
  uint64_t listed = 0;      ///< items seen at the source
  uint64_t added = 0;       ///< new items found
  uint64_t replaced = 0;    ///< changed items found
  uint64_t removed = 0;     ///< items gone from the source (acted on only for `auto`)
  uint64_t unchanged = 0;   ///< items needing nothing
  uint64_t done = 0;        ///< actions completed
  uint64_t failed = 0;      ///< actions that failed in this run
  uint64_t bytes_total = 0; ///< bytes the run's actions must move
  uint64_t bytes_done = 0;  ///< bytes moved so far
  friend bool operator==(const run_counters& a, const run_counters& b) noexcept;
};

struct run_transition {
  run_status status = run_status::started;
  int64_t at_ms = 0;
};

struct run_record {
  std::string datasource;
  /// 1 for a datasource's first run, then increasing by one.
  uint64_t number = 0;
  run_status status = run_status::started;
  /// Every status the run has been in, oldest first; the last is `status`.
  std::vector<run_transition> history;
  run_counters counters;
  /// Why the run failed or paused; empty otherwise.
  std::string error;
  /// What started it: "schedule", "manual", "resume", "startup"...
  std::string trigger;
  int64_t started_ms = 0;
  /// When the run reached a final status; 0 while it is not over.
  int64_t ended_ms = 0;

  /// Sets `status`, appends to `history`, and sets `ended_ms` when the new status is final.
  void move_to(run_status s, int64_t at_ms);
};

/// The `runs` column family: run records keyed by (datasource, number). Thread-safe.
class run_log {
 public:
  explicit run_log(database& db);

  /// Writes a new run of `datasource` with the next number, in status `started`.
  [[nodiscard]] caf::expected<run_record> begin(std::string_view datasource, int64_t now_ms,
                                                std::string trigger);

  /// Stages the record's current state into `batch` / writes it at once.
  void stage(write_batch& batch, const run_record& record) const;
  [[nodiscard]] caf::error save(const run_record& record) const;

  [[nodiscard]] caf::expected<std::optional<run_record>> get(std::string_view datasource,
                                                             uint64_t number) const;
  /// The run with the highest number, if any.
  [[nodiscard]] caf::expected<std::optional<run_record>> last(std::string_view datasource) const;
  /// Up to `limit` runs, newest first, numbered below `before` (0: from the newest).
  [[nodiscard]] caf::expected<std::vector<run_record>> list(std::string_view datasource,
                                                            size_t limit,
                                                            uint64_t before = 0) const;
  /// Deletes every run of a datasource but the newest `keep`.
  [[nodiscard]] caf::error prune(std::string_view datasource, size_t keep) const;
  /// Stages the removal of every run of `datasource` (a deleted datasource).
  void stage_erase(write_batch& batch, std::string_view datasource) const;

 private:
  database& db_;
  std::mutex begin_mtx_;
};

}  // namespace syncline::storage
