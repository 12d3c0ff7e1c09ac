// tools/node_view.hpp: what the console and `syncline status` show of a node, read from its API
// (/health, /api/datasources, /api/actors, /api/queue), and that picture as text lines.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/api_session.hpp"

namespace syncline::tools {

/// One datasource as its view reports it.
struct datasource_row {
  std::string id, container, account, workspace, type, sync_type, status, health, last_error;
  std::vector<std::string> volumes;
  int64_t sync_priority = 0;
  uint64_t held_removals = 0;
  uint64_t pending = 0;  ///< actions waiting, over its volumes
  // Its last (or current) run.
  uint64_t run = 0;
  std::string run_status, run_trigger, run_error;
  uint64_t listed = 0, done = 0, failed = 0, total = 0, bytes_done = 0, bytes_total = 0;
  std::vector<std::pair<std::string, int64_t>> run_history;  ///< status, at_ms

  /// `/api/{container}/{account}/workspaces/{workspace}/{id}`.
  std::string path() const;
};

/// One actor of `/api/actors`, in tree order.
struct actor_row {
  std::string id, kind, state, current, last_error;
  uint64_t mailbox = 0;
  int depth = 0;  ///< 0: under the node; 1: a child of those (the supervisor's entries)
  std::vector<std::pair<std::string, int64_t>> counters;

  int64_t counter(std::string_view name) const;
};

/// One sub-queue of `/api/queue` (a volume's work for one datasource).
struct queue_row {
  std::string volume, datasource;
  uint64_t size = 0, leased = 0;
  std::vector<std::pair<int64_t, std::string>> head;  ///< priority, item
};

struct node_view {
  std::string url, node_id, version;
  uint64_t uptime_s = 0;
  std::vector<datasource_row> datasources;
  std::vector<actor_row> actors;
  std::vector<queue_row> queues;
  uint64_t queue_total = 0;

  const datasource_row* datasource(std::string_view id) const;
};

/// Every datasource the caller may read (`/api/datasources`).
api_result read_datasources(api_session& api, std::vector<datasource_row>& out);

/// Reads the node's picture; a failure says which request failed and why.
api_result read_view(api_session& api, node_view& out, size_t queue_head = 3);

/// The raw answers a `--json` status prints: `{"health", "datasources", "actors", "queue"}`.
api_result read_view_json(api_session& api, std::string& out);

/// Rates and time left of running datasources, from successive progress readings.
class progress_meter {
 public:
  /// What a `progress` event said of a datasource's run.
  struct reading {
    uint64_t run = 0, done = 0, total = 0, failed = 0, bytes = 0, bytes_total = 0;
    int64_t at_ms = 0;
    double rate = 0;  ///< bytes per second, smoothed
  };
  void observe(const std::string& datasource, reading r);
  /// The run's figures of `d` brought up to the last progress event (the views are read at
  /// most twice a second; progress events come once a second while a run goes on).
  void overlay(datasource_row& d) const;
  /// "12.3 MB/s, 1m05s left" or empty when not known yet.
  std::string describe(const datasource_row& d) const;

 private:
  std::map<std::string, reading> last_;
};

/// "1.5 MB", "12 B".
std::string human_bytes(uint64_t n);
/// "1h02m", "35s".
std::string human_duration(uint64_t seconds);

/// One line of the picture, and what it is about when it is something a key can act on
/// (`kind` "node", "datasource", "volume" or "transfer"; `id` the datasource's or volume's id,
/// a transfer's `<volume>/<n>`).
struct view_line {
  std::string text;
  std::string kind, id;
};

/// The picture as lines of at most `width` columns: the node, its datasources, volumes and
/// transfers, the queue, the other actors. `--once` prints it; the console shows it with a
/// selection.
std::vector<view_line> render_view(const node_view& v, const progress_meter& meter,
                                   size_t width);

/// `s` cut (or padded) to exactly `width` columns (UTF-8 aware, one column per code point).
std::string fit(std::string_view s, size_t width);

}  // namespace syncline::tools
