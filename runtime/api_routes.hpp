// runtime/api_routes.hpp: the HTTP routes of the tracker and of the node's introspection.
#pragma once

#include <memory>

#include "actors/messages.hpp"
#include "runtime/http_metrics.hpp"
#include "runtime/http_router.hpp"

namespace syncline::runtime {

/// Adds to `router` every route the tracker answers (docs/api.md lists them):
/// damas-core's `/api/create/ read/ update/ upsert/ delete/ search/ search_one/ search_mongo/
/// graph/ comment/ publish/ version/ lock/ unlock/`, `signIn verify signOut createToken`, and the
/// node's `/api/actors`, `/api/queue`, `/metrics` (whose text ends with `metrics`' counters).
/// Each handler extracts the route's parts and the token (`Authorization: Bearer` or the `token`
/// cookie), sends one message to `tracker` and returns; the tracker answers the HTTP request
/// itself. `/api/{container}/{account}/workspaces/{workspace}/...` goes to the tracker too
/// (`api_op::datasource`), which authenticates it and hands it to the datasource API.
void add_api_routes(http_router& router, actors::tracker_actor tracker,
                    std::shared_ptr<http_metrics> metrics);

}  // namespace syncline::runtime
