// actors/site_jobs.hpp: the blocking work of a site (docs/sites.md): a scan and what it
// publishes, a page of the change feed and what it queues, one file pulled from its origin. The
// site actor (actors/site_actor.cpp) runs them on its own I/O threads. Internal to actors/.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <string>
#include <unordered_map>

#include <caf/error.hpp>

#include "actors/site_actor.hpp"
#include "actors/site_logic.hpp"
#include "connectors/http_fetch.hpp"
#include "connectors/tracker_client.hpp"
#include "connectors/volume.hpp"
#include "storage/datastore.hpp"

namespace syncline::actors {
class node_context;
}  // namespace syncline::actors

namespace syncline::actors::site_detail {

// Requests to the tracker carry at most this many elements.
constexpr size_t chunk = 500;
// Files this large get `syncing_<site>` while they travel, and resume after a restart.
constexpr uint64_t resumable_size = uint64_t{1} << 20;
// The site's rows (its index: what it last published or received, per reference) and its
// queue live under this name in place of a datasource's id, which cannot begin with `~`.
constexpr const char* site_scope_name = "~site";

/// Whether `reference` is a package: a folder tracked as one unit (`/a/pkg/`, seed 003).
inline bool is_package(std::string_view reference) {
  return !reference.empty() && reference.back() == '/';
}

/// The package of `packages` holding `reference` (one of its ancestor folders), or null.
inline const std::string* package_of(const std::set<std::string>& packages,
                                     const std::string& reference) {
  for (size_t slash = reference.find('/'); slash != std::string::npos;
       slash = reference.find('/', slash + 1)) {
    auto it = packages.find(reference.substr(0, slash + 1));
    if (it != packages.end()) return &*it;
  }
  return nullptr;
}

// What is being received now, shared with the jobs: a scan must not take a file that a
// transfer is putting in place for a local change (it would publish it back as modified here).
struct reception_guard {
  std::mutex mtx;
  std::set<std::string> receiving;
  bool scanning = false;
  std::set<std::string> received_during_scan;

  void begin(const std::string& ref) {
    std::lock_guard<std::mutex> g{mtx};
    receiving.insert(ref);
  }
  // After the copy's row is written.
  void end(const std::string& ref) {
    std::lock_guard<std::mutex> g{mtx};
    receiving.erase(ref);
    if (scanning) received_during_scan.insert(ref);
  }
  // A file is busy when it, or the package (`a/pkg/`) holding it, is being received.
  bool busy(const std::string& ref) {
    std::lock_guard<std::mutex> g{mtx};
    return holds(receiving, ref) || holds(received_during_scan, ref);
  }
  static bool holds(const std::set<std::string>& refs, const std::string& ref) {
    return refs.count(ref) > 0 || package_of(refs, ref) != nullptr;
  }
  void start_scan() {
    std::lock_guard<std::mutex> g{mtx};
    scanning = true;
    received_during_scan.clear();
  }
  std::set<std::string> end_scan() {
    std::lock_guard<std::mutex> g{mtx};
    scanning = false;
    return std::move(received_during_scan);
  }
};

// The origins' content URLs (their volume elements' `url`), shared by the transfer jobs.
struct origin_directory {
  std::mutex mtx;
  struct origin {
    std::string url;        // its content route
    bool emitting = true;   // enableEmission
  };
  std::map<std::string, origin> known;
};

// One thread's clients: each job takes a worker and gives it back, so no two threads share one.
struct worker {
  std::unique_ptr<connectors::tracker_client> tracker;
  std::unique_ptr<connectors::http_fetcher> fetcher;
};

// What the jobs need, shared and never changed after start.
struct site_env {
  node_context* ctx = nullptr;
  site_settings cfg;
  std::shared_ptr<connectors::volume> volume;
  std::string scope;      // datastore scope of the index
  std::string queue;      // transfer queue name
  std::string cursor_key; // meta key of the feed cursor
  std::string part_prefix; // meta keys of the ETags of large files in flight
  std::shared_ptr<const std::atomic<bool>> stop;
  reception_guard guard;
  origin_directory origins;
  // The newest version (tracker `time`) queued per reference since start: the follower queues
  // a version once, so the site's own bookkeeping writes (a failure recorded, say), which come
  // back through the feed, do not queue it again; a failed transfer is retried by its own
  // queue item, and a file missing at its origin waits for a newer version.
  std::mutex queued_mtx;
  std::unordered_map<std::string, int64_t> queued;
  // What steers the site now (the actor changes it; jobs read a copy).
  mutable std::mutex live_mtx;
  live_settings live;
  live_settings live_now() const {
    std::lock_guard<std::mutex> g{live_mtx};
    return live;
  }
};

/// A worker with its own clients for `env`'s tracker and origins.
std::shared_ptr<worker> make_worker(const site_env& env, std::shared_ptr<const std::atomic<bool>> stop);

/// The index row of a file the site holds: `generation` keeps the tracker `time` of the
/// version (0: some version, not known which).
storage::datastore_row row_of(const std::string& ref, uint64_t size, int64_t mtime_ns,
                              int64_t version);

/// An answer of the tracker that was not expected, as an error naming `what`.
caf::error answer_error(const connectors::tracker_reply& r, const std::string& what);

struct scan_outcome {
  size_t added = 0, modified = 0, removed = 0, held = 0;
  bool skipped = false;  // enableScans or enableDiscovery is off
  caf::error err;
};

struct follow_outcome {
  uint64_t cursor = 0;
  size_t queued = 0, removed = 0;
  bool reset = false;
  bool more = false;  // the page was full: more changes follow at once
  // The site's volume element and the global parameters, when the page changed them.
  std::optional<connectors::flat_element> own, global;
  caf::error err;
};

struct start_outcome {
  std::optional<connectors::flat_element> own, global;
  caf::error err;
};

/// At start: makes the site's volume element when there is none (seeded from the settings in
/// `env.live`), else records its status (agentStatus, agentStartTime, agentVersion, url); reads
/// it and the global parameters.
start_outcome run_start(site_env& env, worker& w);

struct fetch_outcome {
  bool done = false;   // nothing more to do (acknowledge the queue item)
  bool retry = false;  // a transient failure: release the item for a later attempt
  // Held now (delivered, or found delivered): the version to record as `synced_<site>` before
  // the queue item is acknowledged (the actor records them in batches).
  int64_t synced = 0;
  uint64_t received = 0;
  caf::error err;
};

/// Lists the volume, compares it with the index, publishes what changed and records it.
scan_outcome run_scan(site_env& env, worker& w);

/// Reads one page of the change feed after `since` (waiting for news when `wait`), queues the
/// copies this site should fetch and removes local copies of deleted elements; the queue items
/// and the new cursor in one write.
follow_outcome run_follow(site_env& env, worker& w, uint64_t since, bool wait);

// --- packages (actors/site_packages.cpp) ---------------------------------------------------

/// The packages the index knows (their references, `a/pkg/`).
caf::expected<std::set<std::string>> known_packages(site_env& env);

/// What a scan publishes of a package with changes inside: `modified` with its total size and
/// newest modification time, or `removed` when its folder is gone.
caf::expected<site_change> package_change(site_env& env, const std::string& package);

/// Puts into `batch` the index rows of the files now under `package` (those gone erased), so
/// that the next scan finds them known.
caf::error record_package_files(site_env& env, const std::string& package,
                                storage::write_batch& batch);

/// Puts a package folder back where a crash in the middle of its replacement left it aside.
void recover_package(site_env& env, const std::string& package);

/// Receives the package `want` from its origin's content route at `base`: its listing, every
/// file into a staging folder beside it (a temporary name, which listings skip), then the whole
/// put in place at once (the old folder moved aside, the new one renamed in, the old one
/// removed, or kept as `<name>.sync-conflict-<site>-<time>` when it held local changes); the
/// index learns its files. Returns the bytes received.
caf::expected<uint64_t> receive_package(site_env& env, worker& w, const wanted_copy& want,
                                        const std::string& base);

/// Removes the local copy of the deleted package `ref`, whose row the index holds and which is
/// not being received (remove_local checked both), when every file in it is the copy the index
/// recorded (a package changed here stays).
caf::error remove_local_package(site_env& env, const std::string& ref, storage::write_batch& batch,
                                size_t& removed);

/// What `origin`'s volume element says (its content route, whether it emits), cached until the
/// element changes.
caf::expected<origin_directory::origin> origin_of(site_env& env, worker& w, const std::string& origin);

/// Files at most this large, from one origin, travel several in one request (`run_fetch_batch`).
constexpr uint64_t batch_file_bytes = 256 * 1024;
constexpr size_t batch_files = 128;

/// Pulls several small files from one origin in one request to its batch content route, each
/// verified (size, XXH3-64) and renamed into place, their rows in one write. A file with local
/// changes, or one the batch did not carry, takes `run_fetch`'s way. One outcome per `wants`.
std::vector<fetch_outcome> run_fetch_batch(site_env& env, worker& w,
                                           const std::vector<wanted_copy>& wants);

/// Pulls one file from its origin into the volume and records it in the index (not at the
/// tracker: see `fetch_outcome::synced`); a failure is recorded at the tracker.
fetch_outcome run_fetch(site_env& env, worker& w, const wanted_copy& want);

}  // namespace syncline::actors::site_detail
