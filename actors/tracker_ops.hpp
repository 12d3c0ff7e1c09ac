// actors/tracker_ops.hpp: the tracker's operations over the element and user stores, as plain
// functions of (services, command, caller) -> answer. The actor (actors/tracker_actor.cpp)
// authenticates and decides on which thread they run; runtime/api_routes.cpp reads the
// commands from HTTP and renders the answers. Internal to actors/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/error.hpp"
#include "actors/messages.hpp"
#include "actors/tracker_actor.hpp"
#include "actors/tracker_json.hpp"
#include "storage/user_store.hpp"

namespace syncline::storage {
class element_store;
}  // namespace syncline::storage

namespace syncline::actors::detail {

/// Who is asking.
struct principal {
  std::string name;  ///< `author` and `lock` values: the username, or "anonymous"
  storage::user_class cls = storage::user_class::guest;
  bool anonymous = false;
  std::string element_json;  ///< the user's element (verify answers it)
  /// When the token presented expires (epoch ms); 0 for anonymous access. A token the caller
  /// makes with `createToken` expires no later, unless the caller is an admin.
  int64_t token_expires_ms = 0;
};

/// What the operations work on; shared with the pool jobs in flight.
struct tracker_services {
  storage::element_store* elements = nullptr;
  storage::user_store* users = nullptr;
  tracker_settings settings;
  std::optional<storage::user_class> anonymous;

  /// Whether writing `id` needs the admin class.
  bool admin_id(std::string_view id) const noexcept {
    for (auto& p : settings.admin_prefixes)
      if (!p.empty() && id.substr(0, p.size()) == p) return true;
    return false;
  }
};

/// Runs `cmd` for `who` (every operation but verify and signOut, which the actor answers from
/// its token cache). Never throws: an exception becomes `job_failed`, logged.
api_answer run_tracker_op(const tracker_services& s, const tracker_command& cmd,
                          const principal& who);

/// damas-core's `verify` answer: the caller's user element, or the anonymous class.
std::string verify_json(const principal& who);

/// Whether `cmd` may change users or tokens: the actor runs such writes with its token cache
/// off, so that a revocation counts from the moment it is written.
bool touches_users(const tracker_command& cmd, const principal& who);

/// Whether the operation is slow enough (a scan, argon2id) to run on the I/O pool.
bool slow_op(api_op op) noexcept;

// --- shared by the operation files (tracker_ops.cpp, tracker_queries.cpp) ----------------------

/// The ids a read, delete, lock, unlock or graph names: in the path, else the body's id or
/// array of ids (numbers taken as their decimal text, as damas-core's clients send them).
caf::expected<id_list> request_ids(const tracker_services& s, const tracker_command& cmd);

/// Checks every id; an empty one stays (it names nothing: reads answer null for it, as
/// damas-core's shell client relies on) unless `allow_empty` is false. The refusal, or nothing.
std::optional<api_answer> check_ids(const std::vector<std::string>& ids, bool allow_empty);

api_answer op_create(const tracker_services& s, const tracker_command& cmd, const principal& who);
api_answer op_update_or_upsert(const tracker_services& s, const tracker_command& cmd,
                               const principal& who, bool upsert);
api_answer op_delete(const tracker_services& s, const tracker_command& cmd, const principal& who);
/// `/api/syncState`: per-site keys only, `time` and `author` kept, locks passed.
api_answer op_sync_state(const tracker_services& s, const tracker_command& cmd,
                         const principal& who);
api_answer op_lock_or_unlock(const tracker_services& s, const tracker_command& cmd,
                             const principal& who, bool lock);
api_answer op_comment(const tracker_services& s, const tracker_command& cmd, const principal& who);
api_answer op_publish(const tracker_services& s, const tracker_command& cmd, const principal& who);
api_answer op_version(const tracker_services& s, const tracker_command& cmd, const principal& who);

}  // namespace syncline::actors::detail
