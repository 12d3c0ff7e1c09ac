// runtime/datasource_routes.hpp: seed 000's datasource routes
// (`/api/{container}/{account}/workspaces/{workspace}/...`) read into datasource commands.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include <caf/actor_system.hpp>

#include "actors/messages.hpp"
#include "runtime/http_router.hpp"
#include "runtime/request_guard.hpp"

namespace syncline::runtime {

/// Reads the route from the method and the path's parts (`rest`: what follows the workspace)
/// into `cmd`'s op, workspace, id and resource. On failure the answer to give: 400 for a part
/// that is not allowed (`.`/`..` segments, NUL bytes, a bad id or workspace part), 404 for no
/// such route, 405 with `Allow` for a method the route does not take.
std::optional<http_response> read_datasource_route(std::string_view method,
                                                   std::string_view container,
                                                   std::string_view account,
                                                   std::string_view workspace,
                                                   std::string_view rest,
                                                   actors::datasource_command& cmd);

/// Adds seed 000's datasource routes to `router`: each request is read
/// (`read_datasource_route`, the query string, the body), authenticated by `tracker` and handed
/// to `datasources`; the answer is written as HTTP (runtime/api_errors.hpp), with `Location`
/// for a datasource created. Also `GET /api/datasources`: the list of every workspace's
/// datasources the caller may read.
void add_datasource_routes(http_router& router, caf::actor_system& sys,
                           actors::tracker_actor tracker,
                           actors::datasource_api_actor datasources,
                           std::shared_ptr<const request_policy> policy);

}  // namespace syncline::runtime
