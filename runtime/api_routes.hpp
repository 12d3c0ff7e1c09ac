// runtime/api_routes.hpp: the HTTP routes of the tracker (and, through it, the datasources).
#pragma once

#include <memory>
#include <string>

#include "actors/messages.hpp"
#include "runtime/http_router.hpp"

namespace syncline::runtime {

/// The token a request presents: `Authorization: Bearer <token>`, else the `token` cookie.
/// damas-core's shell client sends `Bearer ` with nothing after it when it has no token, and
/// its JavaScript one may send `Bearer null`: both mean none. `bad`: an Authorization header
/// that is not `Bearer <token>` (refused with 401).
struct request_credentials {
  std::string token;
  bool bad = false;
};
request_credentials read_credentials(const http_request& req);

/// Adds to `router` every route the tracker answers (docs/api.md lists them):
/// damas-core's `/api/create/ read/ update/ upsert/ delete/ search/ search_one/ search_mongo/
/// graph/ comment/ publish/ version/ lock/ unlock/` and `signIn verify signOut createToken`.
/// Each handler extracts the route's parts and the token (`read_credentials`), sends one
/// message to `tracker` and returns; the tracker answers the HTTP request itself.
/// `/api/{container}/{account}/workspaces/{workspace}/...` goes to the tracker too
/// (`api_op::datasource`), which authenticates it and hands it to the datasource API. The
/// node's own routes are in runtime/node_routes.hpp.
void add_api_routes(http_router& router, actors::tracker_actor tracker);

}  // namespace syncline::runtime
