// actors/tracker_actor.hpp: the tracker (seed 003): damas-core's API over the element store,
// users and tokens, and who presents a token for every other route.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/messages.hpp"
#include "actors/sign_in_limiter.hpp"

namespace syncline::storage {
class element_store;
class transfer_queue;
class user_store;
}  // namespace syncline::storage

namespace syncline::actors {

class io_pool;
class tracker_front;

/// How the tracker authenticates and what it accepts. Runtime fills it from `[auth]` and `[api]`.
struct tracker_settings {
  /// The class anonymous requests act as (`guest` ... `admin`); empty: they get 401.
  std::string anonymous_class;
  /// Lifetime of a token when signIn names none (`expiresIn`), and the longest one granted
  /// (`expiresIn: "0"`, damas-core's "no expiry", gets this longest one).
  std::chrono::seconds token_ttl{std::chrono::hours{24}};
  std::chrono::seconds max_token_ttl{std::chrono::hours{24 * 365}};
  /// How long a verified token is remembered without asking the database again. Revocation
  /// through this node (signOut, a password change, a user disabled, deleted or changed)
  /// forgets it at once; only expiry may lag by up to this much.
  std::chrono::milliseconds token_cache_ttl{1000};
  /// Ids whose writes need the admin class (users are `@name`; configuration elements).
  std::vector<std::string> admin_prefixes{"@", "rsyncGlobalParameters"};
  /// Most ids (or elements, once `_id` arrays are unfolded) one request may name.
  size_t max_ids = 10000;
  /// Bodies larger than this run on the I/O pool rather than on the tracker's own thread.
  size_t inline_body_bytes = 256 * 1024;
  /// Requests waiting for the I/O pool beyond this are refused with 503.
  size_t max_queued_jobs = 4096;
  /// Sign-ins waiting for the password pool beyond this are refused with 503.
  size_t max_queued_sign_ins = 64;
  /// Sign-in attempts per (user, address) and per address.
  sign_in_limits sign_in;
  /// Most ids a search, search_mongo or graph answers at once; more is refused, never cut.
  size_t max_answer_ids = 100000;
  /// The change feed forgets changes older than this (seconds), a batch at every purge.
  int64_t changes_keep_s = 30 * 86400;
};

/// What the tracker needs; everything outlives the tracker actor (the node owns it).
struct tracker_init {
  storage::element_store* elements = nullptr;
  storage::user_store* users = nullptr;
  /// Where slow calls run: searches (full scans), sign-in (argon2id), user changes, big bodies.
  io_pool* pool = nullptr;
  /// Where sign-ins run (argon2id), so that a flood of them cannot starve the other slow
  /// calls; null: `pool`.
  io_pool* password_pool = nullptr;
  tracker_settings settings;
  /// The token cache and point reads, shared with the threads that answer point reads
  /// (actors/tracker_front.hpp); null: the tracker makes its own.
  std::shared_ptr<tracker_front> front;
};

/// The tracker. Answers each `tracker_command` through its `respond` continuation, from the
/// tracker's own thread or from an I/O pool thread; never blocks the scheduler: it runs
/// detached (a thread of its own), where point reads and small writes are done inline, and the
/// slow calls go to the pool.
tracker_actor spawn_tracker(caf::actor_system& sys, tracker_init init);

/// The class an operation needs (`guest` for reads ... `admin`), as a user_class value.
uint8_t required_class(api_op op) noexcept;

}  // namespace syncline::actors
