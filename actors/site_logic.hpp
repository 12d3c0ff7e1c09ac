// actors/site_logic.hpp: what a site decides, as plain functions (docs/sites.md): which files of
// its volume changed since it last looked (discovery), which tracked files it should hold a
// copy of (propagation), and the tracker requests that say so. The site actor
// (actors/site_actor.hpp) does the I/O around them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "actors/text.hpp"
#include "connectors/glob.hpp"
#include "connectors/source.hpp"
#include "connectors/tracker_client.hpp"
#include "storage/datastore.hpp"

namespace syncline::actors {

/// The tracker id of a file of the project: `/` + its reference in the site volume.
std::string element_id(std::string_view reference);

/// The reference in the site volume of a tracked file's id, or nothing when the id names no
/// file a site holds: not beginning with `/`, empty or `.`/`..` segments, control bytes. A
/// package (a folder tracked as one unit, `/a/pkg/`) keeps its trailing `/` (`a/pkg/`).
std::optional<std::string> reference_of(std::string_view id);

/// The URL of a file on its origin's content route: `base` (the origin's volume element's `url`,
/// e.g. `http://host:8460/api/content/site`) `/` the reference, percent-encoded but for `/`.
std::string content_url(std::string_view base, std::string_view reference);

/// Whether `file` is still the one the site's index row recorded (same size and modification
/// time): the one test of "changed here since" for scans, removals, conflicts and deliveries.
inline bool as_recorded(const connectors::item_info& file,
                        const storage::datastore_row& row) noexcept {
  return file.size == row.size && file.mtime_ns == row.mtime_ns;
}

/// A file of the site volume that differs from what the site last recorded (its index).
struct site_change {
  enum class kind : uint8_t { added, modified, removed };
  kind what = kind::added;
  std::string reference;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

/// Merges the volume's listing (reference order) with the index rows (the same order): files
/// not in the index are `added`, files whose size or modification time differ are `modified`,
/// rows whose file is gone are `removed`. Only regular files count (directories, symlinks and
/// unreadable entries are left alone: an unreadable file is neither new nor gone). `skip(ref)`
/// leaves a reference out both ways (a file being received right now).
struct site_diff {
  std::vector<site_change> changes;
  uint64_t files = 0;  ///< regular files listed
  uint64_t rows = 0;   ///< index rows read
};
template <class Skip>
caf::expected<site_diff> diff_site(connectors::listing& now, storage::datastore::cursor& known,
                                   Skip skip);

/// What steers a site while it runs: its settings, then the global parameters element
/// `rsyncGlobalParameters` and its own volume element (`site/<name>`) as they change (seed 003).
struct live_settings {
  bool scans = true;             ///< enableScans (global)
  int64_t scan_interval_s = 60;  ///< sleepBetweenScans (global)
  bool sync_everywhere = true;   ///< syncEverywhere (global)
  bool discovery = true;         ///< enableDiscovery
  bool discover_updates = true;  ///< enableDiscoveryUpdatedFiles
  bool discover_deletions = true;  ///< enableDiscoveryDeletedFiles
  bool discover_packages = true;   ///< enableDiscoveryPackages: scans publish packages' changes
  bool reception = true;         ///< enableReception
  uint32_t amount = 4;           ///< syncAmountReception (1 to `max_reception`)
  uint32_t emission = 8;         ///< syncAmountEmission (1 to `max_emission`)
  /// Which files scans publish (global `includePatternRules`, `excludePatternRules`,
  /// `excludedFiles`; see `scan_filter`); null: every file.
  std::shared_ptr<const connectors::path_filter> filter;
  /// The three texts the filter was made from, and why the last ones could not be used (the
  /// filter made before them stays), empty when they could.
  std::string rules, rules_problem;
  /// `ignoreExistingFiles` (global): scans publish new files only, not changes of tracked ones.
  bool ignore_existing = false;

  /// Whether a scan publishes (and, when tracked, removes) the file `reference`.
  bool scans_file(std::string_view reference) const { return !filter || filter->admits(reference); }
};

/// The filter of the global scan rules (seed 003's `rsyncGlobalParameters`), each a list of
/// entries separated by newlines or commas: `include` and `exclude` globs as a datasource's
/// (connectors/glob.hpp: `*.tmp`, `/cache/`, `**/build/**`), and `excluded_files` tracked ids
/// (`/a/b.txt`, or a folder `/a/`) excluded with all they hold. `bad_config` naming a bad glob.
caf::expected<connectors::path_filter> scan_filter(std::string_view include, std::string_view exclude,
                                                   std::string_view excluded_files);

/// The most transfers a site runs at once, whatever `syncAmountReception` says.
constexpr uint32_t max_reception = 32;
/// The most answers a site's content route gives at once, whatever `syncAmountEmission` says.
constexpr uint32_t max_emission = 256;

/// Takes what `rsyncGlobalParameters` says into `live` (keys it does not have stay).
void apply_global(const connectors::flat_element& e, live_settings& live);
/// Takes what the site's volume element says into `live`.
void apply_volume(const connectors::flat_element& e, live_settings& live);

/// The body of `create` for a site's volume element made for the first time: the switches and
/// amounts `live` holds (from the configuration), then the element wins.
std::string volume_seed_body(std::string_view site, const live_settings& live);

/// How a site takes part, from its settings (later its volume element and the global
/// parameters element).
struct reception_rules {
  std::string site;
  /// `syncEverywhere` of `rsyncGlobalParameters`: for elements that do not say.
  bool sync_everywhere = true;
};

/// A copy this site should fetch: the element's current version, from its origin.
struct wanted_copy {
  std::string reference;
  std::string origin;
  int64_t time = 0;  ///< the tracker's `time` of the version (becomes `synced_<site>`)
  int32_t priority = 0;
  uint64_t size = 0;      ///< `file_size`, when the origin published it
  int64_t mtime_ms = 0;   ///< `file_mtime`: the copy gets the origin's modification time

  /// The queue payload and back (lines: time, origin, size, mtime, reference, priority).
  std::string encode() const;
  static std::optional<wanted_copy> decode(std::string_view payload);
};

/// Whether the copy recorded in `row` is the version `want` describes, by size and
/// modification time (rsync's quick check): a fetch of an earlier version found the file as
/// this one is (it was published while being written, say). Needs the version's `file_mtime`.
inline bool same_version(const storage::datastore_row& row, const wanted_copy& want) noexcept {
  return want.mtime_ms != 0 && row.size == want.size && row.mtime_ns / 1000000 == want.mtime_ms;
}

/// Whether this site needs a transfer for the element `id`: a file of the project from another
/// origin, meant for this site (`sync_<site>: true`, or `syncEverywhere` — the element's, else
/// the global one — true), whose `synced_<site>` is missing or older than its `time`.
std::optional<wanted_copy> copy_needed(std::string_view id, const connectors::flat_element& e,
                                       const reception_rules& rules);

/// The body of `create` for files discovered at `site` (seed 003: origin, file_mtime and
/// file_size in milliseconds and bytes, `comment: "scanned at <site>"`).
std::string discovered_body(const std::vector<const site_change*>& added, std::string_view site);

/// The body of `update` for files modified at `site`: file_*, `modified_<site>` (`now_ms`),
/// `comment: "modified at <site>"`, and `origin: <site>` (the site now holds the version others
/// must fetch).
std::string modified_body(const std::vector<const site_change*>& changed, std::string_view site,
                          int64_t now_ms);

/// The body of `syncState` recording that `site` holds the versions of `copies` (id, time):
/// `synced_<site>` and no `syncing_`, `syncError_` or `syncLastAttempt_`.
std::string synced_body(const std::vector<std::pair<std::string, int64_t>>& copies,
                        std::string_view site);

/// The body of `syncState` recording a failed attempt: `syncError_<site>` (an rsync exit code:
/// 23 the file is missing at the origin, 30 a timeout or a connection lost, 12 a protocol
/// error, 11 a local file error) and `syncLastAttempt_<site>` (`now_ms`).
std::string failed_body(std::string_view id, std::string_view site, int code, int64_t now_ms);

/// rsync's exit code for an error of a transfer (see `failed_body`).
int rsync_code(const caf::error& err);

/// One status key of a site's volume element and its value, already JSON text.
struct status_field {
  const char* key;
  std::string json;
};
inline status_field status_number(const char* key, int64_t n) { return {key, std::to_string(n)}; }
inline status_field status_text(const char* key, std::string_view s) { return {key, json_string(s)}; }

/// The body of `syncState` setting status keys (`is_volume_status_key`) of `site`'s volume
/// element: bookkeeping, which changes neither its `time` nor its `author`.
std::string volume_status_body(std::string_view site, const std::vector<status_field>& fields);

// --- template definitions -----------------------------------------------------------------

template <class Skip>
caf::expected<site_diff> diff_site(connectors::listing& now, storage::datastore::cursor& known,
                                   Skip skip) {
  site_diff d;
  auto& out = d.changes;
  std::vector<connectors::item_info> batch;
  size_t i = 0;
  bool more = true;
  auto next_file = [&]() -> caf::expected<const connectors::item_info*> {
    for (;;) {
      if (i == batch.size()) {
        batch.clear();
        i = 0;
        if (!more) return nullptr;
        auto got = now.next(batch, 1024);
        if (!got) return std::move(got.error());
        more = *got;
        if (batch.empty()) {
          if (!more) return nullptr;
          continue;
        }
      }
      auto* it = &batch[i++];
      if (it->kind == connectors::item_kind::file) {
        ++d.files;
        return it;
      }
    }
  };
  auto file = next_file();
  if (!file) return std::move(file.error());
  const connectors::item_info* f = *file;
  while (f != nullptr || known.valid()) {
    bool take_file = f != nullptr && (!known.valid() || f->reference < known.row().reference);
    bool take_row = known.valid() && (f == nullptr || known.row().reference < f->reference);
    if (take_file) {
      if (!skip(f->reference))
        out.push_back({site_change::kind::added, f->reference, f->size, f->mtime_ns});
    } else if (take_row) {
      if (!skip(known.row().reference))
        out.push_back({site_change::kind::removed, known.row().reference, 0, 0});
    } else {
      auto& r = known.row();
      if (!as_recorded(*f, r) && !skip(f->reference))
        out.push_back({site_change::kind::modified, f->reference, f->size, f->mtime_ns});
    }
    if (take_file || !take_row) {
      file = next_file();
      if (!file) return std::move(file.error());
    }
    if (take_row || !take_file) {
      ++d.rows;
      known.next();
    }
    f = *file;
  }
  if (known.status()) return known.status();
  return d;
}

}  // namespace syncline::actors
