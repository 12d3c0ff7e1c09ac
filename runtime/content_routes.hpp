// runtime/content_routes.hpp: the content route, through which other sites pull the files of
// this node's volumes (seed 003's transport; docs/api.md, "Content").
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>

#include "actors/messages.hpp"
#include "runtime/http_router.hpp"

namespace syncline::actors {
class io_pool;
class node_context;
}  // namespace syncline::actors

namespace syncline::runtime {

/// Tokens of the tracker's users, checked by asking the tracker (`GET /api/verify`) when this
/// node is a site and not the tracker: one user store serves every site. Answers are kept
/// `ttl` (a revoked token is refused here at most that long after); a bounded number of them.
/// Thread-safe; `verify` blocks (call it off the network threads).
class remote_verifier {
 public:
  remote_verifier(std::string tracker_url, bool allow_insecure, std::string ca_file,
                  std::chrono::seconds ttl = std::chrono::seconds{30});
  bool verify(const std::string& token);

 private:
  std::string url_;
  bool allow_insecure_;
  std::string ca_file_;
  std::chrono::seconds ttl_;
  std::mutex mtx_;
  std::map<std::string, std::pair<bool, std::chrono::steady_clock::time_point>> seen_;
};

struct content_routes_init {
  /// Authenticates every request (`auth`).
  actors::tracker_actor tracker;
  /// The volumes' connectors (`volume(id)`), which resolve every path beneath their root.
  actors::node_context* ctx = nullptr;
  /// Where files are opened and hashed, off the network threads.
  actors::io_pool* pool = nullptr;
  /// A site's check of tokens this node does not know (null: only this node's users).
  std::shared_ptr<remote_verifier> remote;
};

/// Adds `GET /api/content/{volume}/{path}` (and HEAD): the file `path` of the volume, for any
/// authenticated caller. Answers `ETag` and `X-Content-XXH3` (the XXH3-64 of the whole file,
/// 16 hex digits), `Accept-Ranges: bytes`; honours one `Range: bytes=a-b`, `a-` or `-n` (206
/// with `Content-Range`; 416 when it starts past the end), with `If-Range` naming the ETag
/// (another ETag: the whole file, 200). The body is streamed from the file, never read whole.
/// 400 for a path that is not a plain relative reference, 404 for an unknown volume or a path
/// that is no file there. A token this node does not know is checked with `remote` when set.
void add_content_routes(http_router& router, caf::actor_system& sys, content_routes_init init);

}  // namespace syncline::runtime
