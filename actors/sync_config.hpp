// actors/sync_config.hpp: what a datasource and a volume are configured with, and the runtime's tunables.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actors/failure_policy.hpp"
#include "actors/sync_model.hpp"

namespace syncline::actors {

/// A volume (seed 003's volume element, the settings we use).
struct volume_config {
  std::string id;                       ///< see id_problem()
  std::string type = "directory";       ///< `directory`, `fault` (a directory with faults), `null`
  std::string path;                     ///< the root directory
  uint32_t sync_amount_reception = 4;   ///< syncAmountReception: transfers in at once
  uint32_t sync_amount_emission = 4;    ///< syncAmountEmission: transfers out at once
  bool enable_reception = true;         ///< enableReception: false pauses the volume
  bool verify = false;                  ///< re-read every copy and compare its XXH3-64
  // type = "fault": inject `fault_errno` into `fault_operation` for items matching
  // `fault_glob`, `fault_count` times (0 = always). For tests of retry and error handling.
  std::string fault_operation = "open_writer";
  int fault_errno = 5;  // EIO
  uint32_t fault_count = 0;
  std::string fault_glob = "**";
};

/// A priority for the items matching a glob (first matching rule wins).
struct priority_rule {
  std::string glob;
  int32_t priority = 0;
};

/// A datasource of type `http`: a JSON API, where its listing is and how to read it
/// (connectors/http_source.hpp says what each means; docs/http-datasources.md shows examples).
/// Pointers are JSON pointers.
struct http_datasource_config {
  std::string url;                      ///< the listing's first page
  std::string paging = "none";          ///< none, next_url, cursor, link_header, page, offset
  std::string items;                    ///< where a page's items are ("": the page is the array)
  std::string next;                     ///< next_url, cursor: where a page says what follows
  std::string cursor_param = "cursor";
  std::string page_param = "page";
  uint64_t first_page = 1;
  std::string offset_param = "offset";
  std::string limit_param;              ///< the page size's parameter ("": not sent)
  uint64_t page_size = 100;
  std::string reference = "/path";      ///< per item: its relative path
  std::string size;
  std::string mtime;
  std::string mtime_unit = "s";         ///< s, ms, us, ns (a string is RFC 3339)
  std::string hash;                     ///< XXH3-64, 16 hex digits
  std::string content;                  ///< the content's URL in the item, or:
  std::string content_url;              ///< a template, `{/pointer}` replaced by the item's value
  bool allow_insecure = false;          ///< credentials over plain http beyond loopback
  std::string ca_file;                  ///< PEM certificates trusted in place of the system's
  int64_t timeout_s = 30;
  double requests_per_s = 0;            ///< 0: no limit
  uint64_t busy_retries = 5;            ///< answers 429/503 in a row waited out (Retry-After)
  std::string auth = "none";            ///< none, bearer, basic, header, oauth2 (the wallet's)
  std::string token_url;                ///< oauth2: where access tokens are refreshed
};

/// A datasource (seed 000) and its connector's settings.
struct datasource_config {
  std::string id;                           ///< see id_problem()
  std::string name;                         ///< for people; the id when empty
  std::string container = "default";        ///< seed 000's URL parts
  std::string account = "default";
  std::string workspace = "default";
  std::string type = "folder";              ///< `folder`, `synthetic` or `http`
  std::string path;                         ///< folder: the root
  sync_type sync = sync_type::auto_;
  std::vector<std::string> volumes;         ///< the volumes it feeds (at least one)
  /// Where in each volume its copies go (a relative directory, "" for the volume's root; by
  /// default its id); `targets` overrides it per volume. See actors/targets.hpp.
  std::optional<std::string> target;
  std::map<std::string, std::string> targets;
  int32_t sync_priority = 0;                ///< higher first; may be negative
  std::vector<priority_rule> priority_rules;
  std::vector<std::string> include;         ///< globs; empty = everything
  std::vector<std::string> exclude;
  bool compare_hash = false;                ///< rescans compare content hashes when known
  /// The deletion guard of an `auto` datasource: a run that would remove more than
  /// `max_delete` items (0: no limit) or more than `max_delete_percent` % of a volume's items
  /// (100: no limit) removes nothing until a person confirms. See docs/runtime.md.
  uint64_t max_delete = 1000;
  uint32_t max_delete_percent = 50;
  int64_t schedule_min_s = 20 * 60;         ///< `auto`/`arch`: next run after a uniformly
  int64_t schedule_max_s = 30 * 60;         ///<   random delay in [min, max] seconds
  // type = "synthetic"
  uint64_t seed = 1;
  uint64_t count = 1000;
  uint64_t directories = 10;
  uint64_t min_size = 1024;
  uint64_t max_size = 8192;
  double change_rate = 0.01;
  // type = "http"
  http_datasource_config http;
};

/// Tunables of the runtime, from the node's configuration.
struct runtime_settings {
  size_t io_threads = 4;                     ///< blocking-work threads (copies, scans, commits)
  size_t scan_batch = 1000;                  ///< items listed and merged per step
  uint64_t chunk_bytes = 8u << 20;           ///< a transfer step's size
  uint64_t checkpoint_bytes = 64u << 20;     ///< fdatasync + resume point every this many bytes
  size_t group_max = 256;                    ///< completions per durable group
  int64_t group_delay_ms = 50;               ///< longest wait before a group is made durable
  int64_t progress_interval_ms = 10000;      ///< progress log lines during a run
  int64_t restart_base_ms = 1000;            ///< supervisor restart backoff
  retry_policy retry;
  /// Folder datasources of type auto and arch watch their tree (inotify) and run when it
  /// changes, a quiet `watch_delay_ms` after the last change (at most 10 times that after the
  /// first); a watched run merges the changed paths only, and the schedule stays as the safety
  /// net (docs/runtime.md, "Watching").
  bool watch = true;
  int64_t watch_delay_ms = 200;
  size_t max_watches = 100000;  ///< directories one datasource may watch; beyond: scanning only
};

}  // namespace syncline::actors
