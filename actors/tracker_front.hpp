// actors/tracker_front.hpp: the part of the tracker that runs on its callers' threads: who
// presents a token (the token cache, shared with the tracker actor) and point reads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include <caf/expected.hpp>

#include "actors/messages.hpp"
#include "actors/tracker_actor.hpp"

namespace syncline::actors {

namespace detail {
struct principal;
struct tracker_services;
}  // namespace detail

/// Made by the node before the tracker (tracker_init::front) and used by the tracker actor and by
/// whoever answers point reads without it, so that both see one token cache: a revocation the
/// tracker writes (signOut; any write to a user or its tokens) counts for both at once.
/// Thread-safe.
class tracker_front {
 public:
  using principal_ptr = std::shared_ptr<const detail::principal>;

  /// `init.front` is ignored.
  explicit tracker_front(const tracker_init& init);
  ~tracker_front();
  tracker_front(const tracker_front&) = delete;
  tracker_front& operator=(const tracker_front&) = delete;

  /// Answers `cmd` on the calling thread when it is a point read: `read` of one id named in the
  /// path, without a body. Authentication, the class check and the answer are the tracker's
  /// own. Nothing when `cmd` is something else: send it to the tracker.
  std::optional<api_answer> point_read(const tracker_command& cmd);

  /// Who presents `token` (empty: nobody; `bad_credentials`: not a token), from the cache while
  /// no user change runs and the entry is younger than `token_cache_ttl`, else from the user
  /// store (the answer is then cached).
  caf::expected<principal_ptr> authenticate(const std::string& token, bool bad_credentials);
  /// `token` was revoked: no caller is served from the cache with it from now on.
  void forget(const std::string& token);
  /// A write that may change users or tokens starts: the cache is emptied and not used until
  /// every such write has ended (`user_change_ended`, which empties it again).
  void user_change_started();
  void user_change_ended();

  /// What the tracker works on.
  const std::shared_ptr<detail::tracker_services>& services() const noexcept { return svc_; }

  struct counters {
    uint64_t point_reads = 0;  ///< answered here
    uint64_t refused = 0;      ///< of those, refused (the caller's error)
    uint64_t failed = 0;       ///< of those, failed (the node's)
    uint64_t cache_hits = 0;   ///< tokens found in the cache, by anyone
    uint64_t cached = 0;       ///< tokens in the cache now
  };
  counters read_counters() const;

 private:
  struct entry {
    principal_ptr who;
    std::chrono::steady_clock::time_point at;
  };
  std::shared_ptr<detail::tracker_services> svc_;
  mutable std::shared_mutex mtx_;
  std::unordered_map<std::string, entry> cache_;  // guarded by mtx_
  size_t user_changes_ = 0;                       // guarded by mtx_
  // Bumped (under mtx_) whenever entries are forgotten: a verification that began before
  // caches nothing, since it may have read what the revocation replaced.
  uint64_t generation_ = 0;
  std::atomic<uint64_t> point_reads_{0}, refused_{0}, failed_{0}, cache_hits_{0};
};

/// Why `who` may not run `op` (its class is below `required_class(op)`), or nothing.
std::optional<api_answer> class_refusal(api_op op, const detail::principal& who);

}  // namespace syncline::actors
