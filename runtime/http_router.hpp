// runtime/http_router.hpp: maps requests to route handlers. Nothing here depends on Boost.Beast.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "runtime/http_message.hpp"

namespace syncline::runtime {

/// A route handler. It runs on the HTTP server's network thread, so it must return quickly and
/// never block: work that takes time (an actor request, storage I/O) is started here and
/// answered later through `reply`, from whatever thread finishes it. Exceptions thrown by a
/// handler are caught by the server and answered with 500.
using http_handler = std::function<void(http_request request, http_reply reply)>;

/// Routes by method and exact path. Built before the server starts and read-only afterwards,
/// so the server may dispatch from several threads.
class http_router {
 public:
  /// Routes `method` (`"GET"`, `"POST"` ...) on exactly `path` (`"/health"`) to `handler`.
  /// Adding the same method and path again replaces the handler.
  void add(std::string method, std::string path, http_handler handler);

  /// Hands `request` to its route's handler. An unknown path gets 404 `not_found`; a known path
  /// with another method gets 405 `method_not_allowed` with an `Allow` header.
  void dispatch(http_request request, http_reply reply) const;

 private:
  struct route {
    std::string method;
    std::string path;
    http_handler handler;
  };
  std::vector<route> routes_;
};

}  // namespace syncline::runtime
