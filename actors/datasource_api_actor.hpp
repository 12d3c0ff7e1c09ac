// actors/datasource_api_actor.hpp: seed 000's datasource routes,
// `/api/{container}/{account}/workspaces/{workspace}/{datasource}/...` (docs/api.md,
// "Datasources").
#pragma once

#include <chrono>
#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/messages.hpp"

namespace syncline::storage {
class credential_store;
class datasource_store;
class database;
class user_store;
}  // namespace syncline::storage

namespace syncline::actors {

class io_pool;
class node_context;

/// What the datasource API needs; everything outlives the actor (the node owns it).
struct datasource_api_init {
  /// The database, the datastore rows and the run log.
  node_context* ctx = nullptr;
  /// Adds, changes and deletes datasources.
  supervisor_actor supervisor;
  /// Finds a datasource's actor (`datasource/<id>`) for sync now, recompute, pause, resume.
  directory_actor directory;
  /// Where scans run (children pages, searches, counts): the API's pool.
  io_pool* pool = nullptr;
  /// Who may be invited (`@share`).
  storage::user_store* users = nullptr;
  /// Datasource secrets, encrypted at rest (`@refreshServiceCredentials`).
  storage::credential_store* credentials = nullptr;
  /// `@getAllChildren` and `@frontsearch`: the page size when none is asked, the largest one.
  size_t default_page_size = 100;
  size_t max_page_size = 1000;
  /// `@frontsearch` reads at most this many rows per request (the page then ends early, with a
  /// cursor to go on from).
  size_t max_scan_rows = 100000;
  /// Jobs waiting for the pool beyond this are refused with 503.
  size_t max_queued_jobs = 4096;
  /// `[datasources] allowed_roots`: where folder datasources made here may read (see
  /// `allowed_root_problem`); empty: nowhere.
  std::vector<std::string> allowed_roots;
  /// How long a request to the supervisor or a datasource actor may take.
  std::chrono::seconds actor_timeout{30};
};

/// The datasource API. Runs detached (a thread of its own): it reads a datasource's record and
/// access list inline (point reads), sends the supervisor and the datasource actors their
/// messages, and runs every scan on the pool. It trusts `api_request::user` and `user_class`,
/// which only the tracker sets, after authenticating. Answers through `api_request::respond`.
datasource_api_actor spawn_datasource_api(caf::actor_system& sys, datasource_api_init init);

/// The ids of the datasources created through the API (their records have an access entry of
/// origin `api`): the node starts them on every start, beside the ones its configuration names.
[[nodiscard]] caf::expected<std::set<std::string>> api_datasource_ids(
    const storage::datasource_store& store);

}  // namespace syncline::actors
