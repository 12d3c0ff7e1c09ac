#include "runtime/request_guard.hpp"

#include <algorithm>
#include <cctype>

namespace syncline::runtime {

namespace {

// `host[:port]` or `[v6][:port]`, lower-cased; port -1 when absent.
struct authority {
  std::string host;
  int port = -1;
};

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool host_char(char c, bool v6) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
         (v6 && c == ':');
}

std::optional<authority> parse_authority(std::string_view text) {
  authority a;
  auto s = lower(text);
  std::string_view rest{s};
  bool v6 = false;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = std::string{rest.substr(1, close - 1)};
    rest.remove_prefix(close + 1);
    v6 = true;
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
  } else {
    auto colon = rest.find(':');
    a.host = std::string{rest.substr(0, colon)};
    rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon);
  }
  if (a.host.empty() || a.host.size() > 255) return std::nullopt;
  for (char c : a.host)
    if (!host_char(c, v6)) return std::nullopt;
  if (!rest.empty()) {
    rest.remove_prefix(1);  // the ':'
    if (rest.empty() || rest.size() > 5 ||
        !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    a.port = std::stoi(std::string{rest});
    if (a.port > 65535) return std::nullopt;
  }
  return a;
}

bool loopback(std::string_view host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
}

// An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d.
std::string unmapped(std::string host) {
  if (host.rfind("::ffff:", 0) == 0 && host.find('.') != std::string::npos) host.erase(0, 7);
  return host;
}

std::string shown(std::string_view s) {
  return std::string{s.substr(0, 200)} + (s.size() > 200 ? "..." : "");
}

http_response forbidden(std::string message) {
  return http_response::error(403, "forbidden", message);
}

// `scheme://authority` of an origin or of a URL (a Referer), lower-cased; empty when it has
// no such prefix.
std::string origin_of(std::string_view url) {
  url = trim(url);
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return {};
  auto end = url.find_first_of("/?#", sep + 3);
  return lower(url.substr(0, end));
}

bool allowed_origin(const http_request& req, const request_policy& policy,
                    const std::string& origin) {
  if (origin.empty()) return false;
  if (std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), origin) !=
      policy.allowed_origins.end())
    return true;
  // The node's own pages: its origin is the scheme (http here, https through a proxy) and
  // the Host the request was sent to, which check_host has already admitted.
  auto* host = req.header("host");
  if (host == nullptr) return false;
  auto h = lower(trim(*host));
  return !h.empty() && (origin == "http://" + h || origin == "https://" + h);
}

}  // namespace

std::optional<http_response> check_host(const http_request& req, const request_policy& policy) {
  auto* header = req.header("host");
  if (header == nullptr) return std::nullopt;
  auto asked = parse_authority(trim(*header));
  if (!asked) return forbidden("malformed Host header '" + shown(*header) + "'");
  auto port = asked->port < 0 ? 80 : asked->port;
  if (auto local = parse_authority(req.local); local && local->port == port) {
    auto here = unmapped(local->host);
    if (asked->host == here || (loopback(here) && loopback(asked->host))) return std::nullopt;
  }
  for (auto& entry : policy.allowed_hosts) {
    auto a = parse_authority(entry);
    if (!a || a->host != asked->host) continue;
    if (a->port < 0 || a->port == asked->port ||
        (asked->port < 0 && (a->port == 80 || a->port == 443)))
      return std::nullopt;
  }
  return forbidden("Host '" + shown(*header) +
                   "' is not an address of this node (a browser may have been led here by a "
                   "foreign name); a node reached by name lists it in [http] allowed_hosts");
}

std::optional<http_response> check_state_change(const http_request& req,
                                                const request_policy& policy,
                                                bool ambient_credentials) {
  if (auto* origin = req.header("origin")) {
    if (allowed_origin(req, policy, origin_of(*origin))) return std::nullopt;
    return forbidden("a page of origin '" + shown(trim(*origin)) +
                     "' may not change anything here: only the node's own pages and those of "
                     "[http] allowed_origins may");
  }
  if (!ambient_credentials) return std::nullopt;
  if (auto* referer = req.header("referer"))
    if (allowed_origin(req, policy, origin_of(*referer))) return std::nullopt;
  return forbidden(
      "a change made with the token cookie or with anonymous access needs an Origin (or "
      "Referer) header of an allowed origin; a script sends its token as 'Authorization: "
      "Bearer <token>' instead");
}

std::string read_allowed_host(std::string_view text, std::string& out) {
  auto t = trim(text);
  if (t.find('/') != std::string_view::npos)
    return "must be a host name or address with an optional port, without scheme or path, got '" +
           shown(t) + "'";
  auto a = parse_authority(t);
  if (!a) return "must be a host name or address with an optional port, got '" + shown(t) + "'";
  out = a->host.find(':') != std::string::npos ? "[" + a->host + "]" : a->host;
  if (a->port >= 0) out += ":" + std::to_string(a->port);
  return {};
}

std::string read_allowed_origin(std::string_view text, std::string& out) {
  auto t = trim(text);
  if (!t.empty() && t.back() == '/') t.remove_suffix(1);
  auto s = lower(t);
  std::string_view rest{s};
  std::string scheme;
  for (auto* p : {"http://", "https://"})
    if (rest.rfind(p, 0) == 0) scheme = p;
  if (scheme.empty()) return "must start with http:// or https://, got '" + shown(t) + "'";
  rest.remove_prefix(scheme.size());
  if (rest.find_first_of("/?#") != std::string_view::npos)
    return "must be an origin (scheme, host, optional port) without a path, got '" + shown(t) + "'";
  auto a = parse_authority(rest);
  if (!a) return "must name a host with an optional port, got '" + shown(t) + "'";
  out = s;
  return {};
}

}  // namespace syncline::runtime
