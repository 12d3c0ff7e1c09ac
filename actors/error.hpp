// actors/error.hpp: the actors folder's one error enum.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace syncline::actors {

enum class actors_errc : uint8_t {
  /// A state change that the state machine's table does not allow.
  forbidden_transition = 1,
  /// The target (datasource, volume, transfer) is paused or disabled.
  paused,
  /// The operation was cancelled.
  cancelled,
  /// No datasource, volume or actor has that id.
  unknown_id,
  /// A request was malformed (bad priority, bad option).
  bad_request,
  /// The actor is shutting down.
  shutting_down,
  /// An I/O job threw an exception (its text is the context); the actor that asked for it is
  /// restarted when it cannot take the error as the job's result.
  job_failed,
  /// Something with that id exists already (a second datasource of one id).
  already_exists,
  /// A request carries no valid credentials (no token where one is needed, a token that is
  /// invalid, expired or revoked, a malformed Authorization header).
  unauthenticated,
  /// The caller is known but its class or role does not allow the request.
  forbidden,
  /// The request collides with the state of what it names (an element locked by someone
  /// else, nothing left to create).
  conflict,
  /// Too much work is waiting; the caller may retry later.
  busy,
  /// The caller made too many attempts (sign-ins) and must wait before the next.
  too_many_requests,
};

const char* to_string(actors_errc x) noexcept;

constexpr caf::atom_value actors_category = caf::atom("actors");

caf::error make_error(actors_errc x, std::string context = {});

bool is(const caf::error& err, actors_errc code) noexcept;

/// Whether `err` is the caller's doing (a malformed, unauthenticated, forbidden or colliding
/// request, an unknown id) rather than a failure of the node: the counters `refused` and
/// `failed` of the API actors tell them apart.
bool caller_error(const caf::error& err) noexcept;

/// Renders any syncline error (storage, connector, actors, runtime) or CAF error as
/// `"<code>: <context>"`; the one renderer logs and status use.
std::string render(const caf::error& err);

}  // namespace syncline::actors
