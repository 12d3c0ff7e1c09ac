// runtime/request_guard.hpp: what a browser may not make the node do. A web page can send
// requests to a node it cannot read (a loopback node included): with a foreign `Origin` (a
// cross-site request), or under a foreign name resolving to the node's address (DNS
// rebinding, seen in `Host`). These checks refuse both; docs/api.md ("Browsers") states the
// rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/http_message.hpp"

namespace syncline::runtime {

/// `[http] allowed_hosts` and `allowed_origins`, normalised (lower case, no trailing `/`).
struct request_policy {
  /// Names the node answers to besides the address a connection reached: `name` (any port)
  /// or `name:port`.
  std::vector<std::string> allowed_hosts;
  /// Origins (`scheme://host[:port]`) of pages allowed to change state, besides the node's own.
  std::vector<std::string> allowed_origins;
  /// `[auth] anonymous_class` is set: a request without credentials acts (ambiently).
  bool anonymous_access = false;
  /// The node serves HTTPS (`[http] tls_cert`): the `token` cookie it sets is `Secure`.
  bool tls = false;
};

/// Checks the `Host` of a request that reached the local address `req.local`: allowed are
/// that address itself (the literal the client connected to), `localhost` when it is a
/// loopback address, and `policy.allowed_hosts`. A request without `Host` (HTTP/1.0, not a
/// browser) passes. Nullopt when allowed, else the 403 to answer.
std::optional<http_response> check_host(const http_request& req, const request_policy& policy);

/// Checks a request that would change state. An `Origin` present must be the node's own
/// (`http` or `https` with the request's `Host`) or in `policy.allowed_origins`. When the
/// credentials are ambient (the `token` cookie, or none at all: anonymous access), which a
/// browser attaches to any page's request, an allowed `Origin` (or, without one, a `Referer`
/// of an allowed origin) must be present. Nullopt when allowed, else the 403 to answer.
std::optional<http_response> check_state_change(const http_request& req,
                                                const request_policy& policy,
                                                bool ambient_credentials);

/// Normalises and validates one `allowed_hosts` entry (`name` or `name:port`, `[v6]`, no
/// scheme, no path). Empty string and `out` set when valid, else what is wrong.
std::string read_allowed_host(std::string_view text, std::string& out);

/// Normalises and validates one `allowed_origins` entry (`http://` or `https://`, a host,
/// an optional port, nothing after). Empty string and `out` set when valid, else what is wrong.
std::string read_allowed_origin(std::string_view text, std::string& out);

}  // namespace syncline::runtime
