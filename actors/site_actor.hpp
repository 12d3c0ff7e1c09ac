// actors/site_actor.hpp: this node as a site of a multi-site project (seed 003; docs/sites.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

namespace syncline::actors {

class node_context;

/// `[node] name` and `[site]` (runtime/node_config.hpp reads them).
struct site_settings {
  /// The site's name (`[node] name`): `origin` of what it discovers, the `<site>` of its keys.
  std::string name;
  /// The site volume's root: its whole tree is the project (`/a/b` is `<path>/a/b`).
  std::string path;
  /// The id under which the content route serves the site volume (`/api/content/site/...`).
  std::string volume_id = "site";
  /// The tracker's base URL (this node's own address when it is the tracker) and the token of
  /// one of the tracker's users (class editor; seed 003 calls the scanning user `support`).
  std::string tracker;
  std::string token;
  /// How other sites reach this node's content route: the base URL of its HTTP server.
  std::string url;
  /// Plain http beyond loopback (tokens in clear) allowed.
  bool allow_insecure = false;
  /// Certificates (PEM file) trusted for https in place of the system's; empty: the system's.
  std::string ca_file;
  /// Seconds between scans of the volume (`sleepBetweenScans`).
  std::chrono::seconds scan_interval{60};
  /// Transfers in at once (`syncAmountReception`).
  uint32_t reception = 4;
  /// Answers of the content route at once (`syncAmountEmission`).
  uint32_t emission = 8;
  /// Bytes per second at most per transfer (0: no limit).
  uint64_t max_bytes_per_s = 0;
  /// How long one long poll of the change feed waits for news.
  std::chrono::seconds feed_wait{25};
  /// `syncEverywhere` for elements that do not say (`rsyncGlobalParameters`).
  bool sync_everywhere = true;
  /// Publish removals of files gone from the volume (`enableDiscoveryDeletedFiles`).
  bool discover_deletions = true;
  /// `agentVersion` of the volume element: this build's version.
  std::string agent_version;
};

/// Spawns the site: it scans its volume every `scan_interval` and publishes what changed to the
/// tracker, follows the tracker's change feed and pulls the files meant for it from their
/// origin's content route through a persistent queue, recording `synced_<site>` (or
/// `syncError_<site>`) through the tracker's sync state route. Registers the site volume with
/// `ctx` (for the content route) and answers `status_atom` with an `actor_status`.
caf::actor spawn_site(caf::actor_system& sys, node_context* ctx, site_settings settings);

}  // namespace syncline::actors
