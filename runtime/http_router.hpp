// runtime/http_router.hpp: maps requests to route handlers. Nothing here depends on Boost.Beast.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/http_message.hpp"

namespace syncline::runtime {

/// A route handler. It runs on the HTTP server's network thread, so it must return quickly and
/// never block: work that takes time (an actor request, storage I/O) is started here and
/// answered later through `reply`, from whatever thread finishes it. The one exception is a point
/// read (`GET /api/read/<one id>`), answered in the handler from the token cache and the element
/// store, which never wait for a writer (docs/api.md, "How a request runs"). Exceptions thrown by
/// a handler are caught by the server and answered with 500.
using http_handler = std::function<void(http_request request, http_reply reply)>;

/// Routes by method and path pattern. Built before the server starts and read-only afterwards,
/// so the server may dispatch from several threads.
///
/// A pattern is a path of `/`-separated segments, each one of:
/// - a literal (`api`, `read`), matched byte for byte;
/// - `:name`, one non-empty segment, captured;
/// - `*name`, last only: everything after the preceding segments' slash, possibly empty and
///   possibly holding more slashes (`/api/version/*id` captures `/a/b` from `/api/version//a/b`).
/// Captures are percent-decoded into `http_request::params` (a malformed escape is a 400).
///
/// A request path matches with or without one trailing slash (`/api/create` and `/api/create/`),
/// except that a `*` capture keeps whatever the path holds. When several patterns match, the most
/// specific wins: compared segment by segment from the left, a literal beats `:name`, which beats
/// `*name`. So `/api/read/*ids` takes `/api/read/...` before `/api/:container/:account/*rest`
/// would. HEAD requests go to the GET route (the server sends no body).
class http_router {
 public:
  /// What `dispatch` returns when no route took the request (404, 405, 400).
  static constexpr size_t no_route = static_cast<size_t>(-1);

  /// Routes `method` (`"GET"`, `"POST"` ...) on `pattern` to `handler`. Adding the same method
  /// and pattern again replaces the handler. Returns the route's index (stable; see `labels`).
  size_t add(std::string method, std::string pattern, http_handler handler);

  /// Hands `request` to its route's handler with `params` filled, and returns the route's index.
  /// An unknown path gets 404 `not_found`; a known path with another method gets 405
  /// `method_not_allowed` with an `Allow` header; a capture with a malformed escape gets 400
  /// `bad_request`: all three return `no_route`.
  size_t dispatch(http_request request, http_reply reply) const;

  /// One label per route, by index: `"GET /api/read/*ids"`, for metrics.
  std::vector<std::string> labels() const;

 private:
  enum class segment_kind : uint8_t { wildcard = 0, param = 1, literal = 2 };
  struct segment {
    segment_kind kind;
    std::string text;  // the literal, or the capture's name
  };
  struct route {
    std::string method;
    std::string pattern;
    std::vector<segment> segments;
    http_handler handler;
  };
  // Whether `r` matches the path's segments; fills `params` (raw values) when it does.
  static bool match(const route& r, std::string_view path, std::vector<http_param>& params);
  // Whether `a` is more specific than `b`.
  static bool more_specific(const route& a, const route& b) noexcept;

  std::vector<route> routes_;
};

}  // namespace syncline::runtime
