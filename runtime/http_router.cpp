#include "runtime/http_router.hpp"

#include <algorithm>
#include <utility>

namespace syncline::runtime {

size_t http_router::add(std::string method, std::string pattern, http_handler handler) {
  for (size_t i = 0; i < routes_.size(); ++i) {
    auto& r = routes_[i];
    if (r.method == method && r.pattern == pattern) {
      r.handler = std::move(handler);
      return i;
    }
  }
  route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  std::string_view rest{r.pattern};
  while (!rest.empty()) {
    if (rest.front() == '/') {
      rest.remove_prefix(1);
      continue;
    }
    auto slash = rest.find('/');
    auto piece = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (piece.front() == '*') {
      r.segments.push_back({segment_kind::wildcard, std::string{piece.substr(1)}});
      break;  // a wildcard takes the rest of any path: nothing may follow it
    }
    if (piece.front() == ':')
      r.segments.push_back({segment_kind::param, std::string{piece.substr(1)}});
    else
      r.segments.push_back({segment_kind::literal, std::string{piece}});
  }
  r.handler = std::move(handler);
  routes_.push_back(std::move(r));
  return routes_.size() - 1;
}

bool http_router::match(const route& r, std::string_view path, std::vector<http_param>& params) {
  if (path.empty() || path.front() != '/') return false;
  // `pos` is where the next segment starts; past the end once the path is used up.
  size_t pos = 1;
  for (auto& seg : r.segments) {
    if (seg.kind == segment_kind::wildcard) {
      params.push_back({seg.text, {}, std::string{pos <= path.size() ? path.substr(pos) : ""}});
      return true;
    }
    if (pos > path.size()) return false;
    auto end = path.find('/', pos);
    auto piece = path.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (seg.kind == segment_kind::literal) {
      if (piece != seg.text) return false;
    } else {
      if (piece.empty()) return false;
      params.push_back({seg.text, {}, std::string{piece}});
    }
    pos = end == std::string_view::npos ? path.size() + 1 : end + 1;
  }
  // Used up, or one trailing slash left over.
  return pos >= path.size();
}

bool http_router::more_specific(const route& a, const route& b) noexcept {
  // A segment that is absent ranks between a wildcard and a capture: where one pattern ends and
  // the other goes on with a wildcard, the path matched the shorter one exactly.
  auto rank = [](const route& r, size_t i) -> int {
    if (i >= r.segments.size()) return 1;
    switch (r.segments[i].kind) {
      case segment_kind::wildcard: return 0;
      case segment_kind::param: return 2;
      case segment_kind::literal: return 3;
    }
    return 0;
  };
  auto n = std::max(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < n; ++i) {
    int ra = rank(a, i), rb = rank(b, i);
    if (ra != rb) return ra > rb;
  }
  return false;
}

// A linear scan over a few dozen routes costs well under a microsecond, far below the rest of a
// request; a trie would only pay off with hundreds of routes.
size_t http_router::dispatch(http_request request, http_reply reply) const {
  // Both arms are views: a `"GET" : request.method` conditional would make a temporary string
  // that dies at the end of this statement, leaving `method` dangling.
  const std::string_view method =
      request.method == "HEAD" ? std::string_view{"GET"} : std::string_view{request.method};
  const route* best = nullptr;
  std::vector<http_param> best_params;
  std::vector<http_param> params;
  std::string allow;
  for (auto& r : routes_) {
    params.clear();
    if (!match(r, request.path, params)) continue;
    // Allow lists each method once; GET implies HEAD.
    auto list_method = [&](std::string_view m) {
      std::string_view list{allow};
      size_t at = 0;
      while (at < list.size()) {
        auto comma = list.find(", ", at);
        if (list.substr(at, comma == std::string_view::npos ? comma : comma - at) == m) return;
        if (comma == std::string_view::npos) break;
        at = comma + 2;
      }
      allow += allow.empty() ? "" : ", ";
      allow += m;
    };
    list_method(r.method);
    if (r.method == "GET") list_method("HEAD");
    if (r.method != method) continue;
    if (best == nullptr || more_specific(r, *best)) {
      best = &r;
      best_params.swap(params);
    }
  }
  if (best == nullptr) {
    if (allow.empty()) {
      reply.send(http_response::error(404, "not_found",
                                      "no route for " + request.method + " " + request.path));
      return no_route;
    }
    auto res = http_response::error(
        405, "method_not_allowed",
        request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")");
    res.headers.emplace_back("Allow", allow);
    reply.send(std::move(res));
    return no_route;
  }
  for (auto& p : best_params) {
    auto decoded = percent_decode(p.raw);
    if (!decoded) {
      reply.send(http_response::error(400, "bad_request",
                                      "malformed percent-encoding in the path: " + p.raw));
      return no_route;
    }
    p.value = std::move(*decoded);
  }
  request.params = std::move(best_params);
  best->handler(std::move(request), std::move(reply));
  return static_cast<size_t>(best - routes_.data());
}

std::vector<std::string> http_router::labels() const {
  std::vector<std::string> out;
  out.reserve(routes_.size());
  for (auto& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace syncline::runtime
