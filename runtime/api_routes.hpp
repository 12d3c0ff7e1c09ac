// runtime/api_routes.hpp: the HTTP routes of the tracker and of the datasources.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/messages.hpp"
#include "runtime/http_router.hpp"
#include "runtime/request_guard.hpp"

namespace syncline::actors {
class tracker_front;
}  // namespace syncline::actors

namespace syncline::runtime {

/// The token a request presents: `Authorization: Bearer <token>`, else the `token` cookie.
/// damas-core's shell client sends `Bearer ` with nothing after it when it has no token, and
/// its JavaScript one may send `Bearer null`: both mean none. `bad`: an Authorization header
/// that is not `Bearer <token>` (refused with 401).
struct request_credentials {
  std::string token;
  bool bad = false;
  /// The token came in the `Authorization` header, which no page can make a browser add to
  /// a foreign site's request (a cookie it attaches by itself).
  bool from_header = false;
};
request_credentials read_credentials(const http_request& req);

/// The refusal of a request that would change state, or nullopt: HEAD (405 with `Allow:
/// methods`), or what `check_state_change` refuses. `credentials`: what the request presents
/// (`read_credentials`) when the route acts on them (every route but signIn; null for signIn),
/// so a cookie or none at all is ambient.
std::optional<http_response> refuse_state_change(const http_request& req,
                                                 const std::string& methods,
                                                 const request_policy& policy,
                                                 const request_credentials* credentials);
/// Who a request comes from, as the tracker established it.
struct caller {
  std::string name;  ///< the user's name; `anonymous` for anonymous access
  uint8_t cls = 0;   ///< a storage::user_class value
  bool anonymous = false;
  /// What the request presented, as `read_credentials` read it.
  request_credentials credentials;
};

/// What runs once a request is authenticated: inside a short-lived actor `self` (so it can ask
/// others in turn), with the request's `reply`.
using authenticated =
    std::function<void(caf::event_based_actor* self, http_reply reply, const caller& who)>;

/// Asks `tracker` who sent `req` (`auth`), then runs `then`, or answers the refusal (401, or
/// 503 when the tracker does not answer in time).
void authenticate_then(caf::actor_system& sys, actors::tracker_actor tracker,
                       const http_request& req, http_reply reply, authenticated then);
/// The same, but a request the tracker does not know (`unauthenticated`) goes to `unknown`
/// instead of a 401 (a site asks the tracker of the project about it).
void authenticate_then(caf::actor_system& sys, actors::tracker_actor tracker,
                       const http_request& req, http_reply reply, authenticated then,
                       std::function<void(http_reply)> unknown);

/// Adds to `router` every route of the tracker and of the datasources (docs/api.md lists them):
/// damas-core's `/api/create/ read/ update/ upsert/ delete/ search/ search_one/ search_mongo/
/// graph/ comment/ publish/ version/ lock/ unlock/` and `signIn verify signOut createToken`,
/// each read into a `tracker_command` for `tracker` and its `api_answer` written as HTTP
/// (runtime/api_errors.hpp); and seed 000's
/// `/api/{container}/{account}/workspaces/{workspace}/...`, authenticated by the tracker and
/// handed to `datasources`. The node's own routes are in runtime/node_routes.hpp. With `front`
/// (the tracker's, actors/tracker_front.hpp), a point read (`GET /api/read/<one id>`) is answered
/// on the network thread that read it, without a message to the tracker.
void add_api_routes(http_router& router, caf::actor_system& sys, actors::tracker_actor tracker,
                    actors::datasource_api_actor datasources,
                    std::shared_ptr<const request_policy> policy,
                    std::shared_ptr<actors::tracker_front> front = nullptr);

}  // namespace syncline::runtime
