#include "runtime/http_router.hpp"

#include <utility>

namespace syncline::runtime {

void http_router::add(std::string method, std::string path, http_handler handler) {
  for (auto& r : routes_) {
    if (r.method == method && r.path == path) {
      r.handler = std::move(handler);
      return;
    }
  }
  routes_.push_back({std::move(method), std::move(path), std::move(handler)});
}

// A linear scan: a handful of routes now; the damas-core API will want a path trie here.
void http_router::dispatch(http_request request, http_reply reply) const {
  std::string allow;
  for (auto& r : routes_) {
    if (r.path != request.path) continue;
    if (r.method == request.method) {
      r.handler(std::move(request), std::move(reply));
      return;
    }
    allow += allow.empty() ? "" : ", ";
    allow += r.method;
  }
  if (allow.empty()) {
    reply.send(http_response::error(404, "not_found",
                                    "no route for " + request.method + " " + request.path));
    return;
  }
  auto res = http_response::error(
      405, "method_not_allowed",
      request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")");
  res.headers.emplace_back("Allow", allow);
  reply.send(std::move(res));
}

}  // namespace syncline::runtime
