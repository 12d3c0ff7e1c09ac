// actors/node_context.hpp: what every actor of a node shares.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "actors/event_hub.hpp"
#include "actors/folder_watcher.hpp"
#include "actors/sync_config.hpp"
#include "actors/io_pool.hpp"
#include "storage/database.hpp"
#include "storage/datasource_store.hpp"
#include "storage/datastore.hpp"
#include "storage/run_log.hpp"
#include "storage/transfer_queue.hpp"

namespace syncline::connectors {
class source;
class volume;
}  // namespace syncline::connectors

namespace syncline::storage {
class credential_store;
}  // namespace syncline::storage

namespace syncline::actors {

/// The node's shared services: storage, the I/O pool, the connectors by id, the settings.
/// Created before the actor system's actors and destroyed after them (the node owns it);
/// actors hold a plain pointer. Thread-safe.
class node_context {
 public:
  node_context(storage::database& db, std::unique_ptr<storage::transfer_queue> queue,
               runtime_settings settings);
  ~node_context();

  storage::database& db() noexcept { return db_; }
  storage::datastore& rows() noexcept { return rows_; }
  storage::run_log& runs() noexcept { return runs_; }
  storage::transfer_queue& queue() noexcept { return *queue_; }
  /// Each datasource's record, access list and the rest of its state (the one owner).
  storage::datasource_store& datasources() noexcept { return datasources_; }
  io_pool& pool() noexcept { return pool_; }
  /// The node's live events (GET /api/events).
  event_hub& events() noexcept { return events_; }
  /// The watches of folder datasources' trees (runtime_settings::watch).
  folder_watcher& watcher() noexcept { return watcher_; }
  /// The datasources' credentials (encrypted at rest); null when the node keeps none (tests).
  /// Set once, before any actor starts.
  storage::credential_store* credentials() const noexcept { return credentials_; }
  void set_credentials(storage::credential_store* store) noexcept { credentials_ = store; }
  const runtime_settings& settings() const noexcept { return settings_; }

  /// Connectors by datasource / volume id, set when their actors start.
  void set_source(const std::string& datasource, std::shared_ptr<connectors::source> s);
  std::shared_ptr<connectors::source> source(const std::string& datasource) const;
  void set_volume(const std::string& volume, std::shared_ptr<connectors::volume> v);
  std::shared_ptr<connectors::volume> volume(const std::string& volume) const;
  /// A file of `volume` was served to another site now (the content route); `last_emission`
  /// says when that last happened (ms since the epoch, 0: never since start).
  void note_emission(const std::string& volume);
  int64_t last_emission(const std::string& volume) const;
  /// `syncAmountEmission`: how many answers of the content route `volume` gives at once (a file,
  /// or a batch of small ones); 0, the default, sets no limit.
  void set_emission_limit(const std::string& volume, uint32_t limit);
  /// A place for one answer of `volume`, held until the last copy of the pointer goes (the
  /// server keeps it until the answer is written); null when every place is taken.
  std::shared_ptr<const void> emission_slot(const std::string& volume);
  /// The most answers of `volume` given at once since the node started.
  uint32_t emission_peak(const std::string& volume) const;
  /// A datasource's target directory in each volume it feeds (relative paths, `""` for the
  /// root), set when its actor starts.
  void set_targets(const std::string& datasource, std::map<std::string, std::string> targets);
  /// The part of `volume` that belongs to `datasource`: every transfer, removal, temporary
  /// file and directory time of the pair goes through it. Made on first use (its directory
  /// created), then kept until the volume's connector or the datasource's targets change.
  /// Blocks: call it from I/O jobs. `unknown_id` when either is not known.
  [[nodiscard]] caf::expected<std::shared_ptr<connectors::volume>> target(
      const std::string& datasource, const std::string& volume);

  /// The single-writer fence of a datasource's rows. Each incarnation of a datasource actor
  /// claims a new epoch when it starts; its I/O jobs write only through `write_as`, which
  /// refuses (`actors_errc::shutting_down`) once a newer incarnation has claimed the rows. A job
  /// still running for an actor that was killed or replaced can therefore never overwrite the
  /// rows of its successor.
  uint64_t claim_writer(const std::string& datasource);
  [[nodiscard]] caf::error write_as(const std::string& datasource, uint64_t epoch,
                                    storage::write_batch& batch);

  /// Forgets what the link (datasource, volume) knows: its datastore rows, its sub-queue and
  /// its transfers' resume points. The copies on the volume stay. For a deleted datasource, a
  /// volume it no longer feeds, or a target that moved (the new target is filled afresh).
  /// Blocks: call it from I/O jobs, when no actor of the datasource runs. One batch.
  [[nodiscard]] caf::error forget_link(const std::string& datasource, const std::string& volume);

  /// Where the state of the link (datasource, volume) is kept.
  static storage::datasource_link link_of(const std::string& datasource, const std::string& volume);

  /// Wall-clock milliseconds (records and logs; timers use the actor clock).
  int64_t now_ms() const noexcept;
  /// A random number (backoff jitter, schedules).
  uint64_t random();

 private:
  storage::database& db_;
  storage::datastore rows_;
  storage::run_log runs_;
  std::unique_ptr<storage::transfer_queue> queue_;
  storage::datasource_store datasources_;
  runtime_settings settings_;
  storage::credential_store* credentials_ = nullptr;
  event_hub events_;
  folder_watcher watcher_;
  mutable std::mutex mtx_;
  std::map<std::string, std::shared_ptr<connectors::source>> sources_;
  std::map<std::string, std::shared_ptr<connectors::volume>> volumes_;
  struct emission_gate;
  std::shared_ptr<emission_gate> gate(const std::string& volume) const;
  mutable std::map<std::string, std::shared_ptr<emission_gate>> emissions_;  // guarded by mtx_
  std::map<std::string, std::map<std::string, std::string>> targets_;  // datasource -> volume -> path
  struct made_target {
    std::shared_ptr<connectors::volume> base;
    std::string path;
    std::shared_ptr<connectors::volume> target;
  };
  std::map<std::pair<std::string, std::string>, made_target> made_targets_;
  struct writer_fence {
    std::mutex mtx;
    uint64_t epoch = 0;
  };
  std::map<std::string, std::unique_ptr<writer_fence>> fences_;  // guarded by mtx_
  std::mt19937_64 rng_;
  io_pool pool_;  // last: its workers stop first, while everything they use still exists
};

}  // namespace syncline::actors
