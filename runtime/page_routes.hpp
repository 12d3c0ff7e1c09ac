// runtime/page_routes.hpp: the node's live status page at `/` (docs/api.md, "The page").
#pragma once

#include "runtime/http_router.hpp"

namespace syncline::runtime {

/// Adds `GET /` and the page's static files (runtime/page_assets.hpp) to `router`. They need no
/// token (they hold no data: the page reads the API with the `token` cookie signIn sets) and are
/// served with a Content-Security-Policy that lets the page load and connect to this node only
/// (`default-src 'self'`, no inline script, no framing), `X-Content-Type-Options: nosniff`,
/// `X-Frame-Options: DENY` and `Cache-Control: no-cache` (a node of another version serves
/// other files under the same names). HEAD answers the head alone, as for every GET route.
void add_page_routes(http_router& router);

}  // namespace syncline::runtime
