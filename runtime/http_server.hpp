// runtime/http_server.hpp: the node's HTTP/1.1 server. Boost.Beast stays inside http_server.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include <caf/expected.hpp>

#include "runtime/node_config.hpp"
#include "runtime/http_metrics.hpp"
#include "runtime/http_router.hpp"

namespace syncline::runtime {

struct http_server_options {
  /// Where to listen; port 0 picks a free port (see `http_server::local_address`).
  listen_address listen;
  /// Larger request headers get 431 and the connection is closed.
  size_t max_header_bytes = 8 * 1024;
  /// Larger request bodies get 413 and the connection is closed.
  uint64_t max_body_bytes = uint64_t{1} << 20;
  /// Bound on reading one request's headers, then its body, and on idling between requests
  /// of a keep-alive connection; also bounds writing a response. A connection that exceeds it
  /// is closed.
  std::chrono::seconds read_timeout{30};
  /// How long `stop` lets requests in flight finish before closing their connections.
  std::chrono::milliseconds stop_grace{5000};
  /// Connections served at once. Past it, a new connection may still send one request:
  /// `/health` is answered, anything else gets 503 with `Retry-After`, and it is closed; a
  /// few more beyond (a quarter of the limit, at least 16) are closed at once.
  size_t max_connections = 512;
  /// Network threads: requests are read, routed and written on this many threads (each
  /// connection on one at a time).
  size_t threads = 1;
  /// HTTPS: the certificate chain (PEM, the server's first) and its private key (PEM). Both
  /// empty: plain HTTP. TLS 1.2 at least.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// The `Server` header's value.
  std::string server_name = "syncline";
  /// Consulted for every complete request before routing: an answer given here is sent
  /// instead of routing (the `Host` check, say). Null: every request is routed.
  std::function<std::optional<http_response>(const http_request&)> admit;
  /// Where answered requests are counted, by route (bound to the router's labels at start);
  /// null: not counted.
  std::shared_ptr<http_metrics> metrics;
};

/// An asynchronous HTTP/1.1 server with keep-alive, on network threads of its own.
///
/// Each request is read completely (within the limits above), then handed to the router on
/// the network thread; the handler answers through `http_reply` now or later from any thread,
/// and the server writes the answer on the connection's own executor. Requests of one
/// connection are answered in order, one at a time. Malformed requests get 400, oversized
/// headers 431, oversized bodies 413 (also on `Content-Length` alone, before the body is sent;
/// `Expect: 100-continue` is honoured), and those connections are closed after the answer.
/// HEAD requests are routed as GET and answered with the headers only.
class http_server {
 public:
  /// Binds, listens and starts the network thread. Fails with `runtime_errc::listen_failed`
  /// naming the address when it cannot listen (in use, not a local address, no permission),
  /// or naming the file when the TLS certificate or key cannot be used.
  /// The router is fixed from here on.
  [[nodiscard]] static caf::expected<std::unique_ptr<http_server>> start(
      http_server_options options, http_router router);

  /// Stops as `stop` does.
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The address actually bound, with the real port when 0 was asked for.
  const listen_address& local_address() const noexcept;

  /// Stops accepting, closes idle connections at once, lets requests in flight be answered and
  /// written for up to `stop_grace`, then closes whatever is left and joins the network threads.
  /// Answers sent after that are dropped. Idempotent; call from any thread but the network
  /// thread (that is, not from a route handler).
  void stop() noexcept;

 private:
  struct impl;
  explicit http_server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Reads one request from `wire` as a connection reads it (the same parser, limits and
/// conversion): the request (`remote` and `local` empty), the answer a connection gives to what
/// it cannot read (400, 413, 431; the connection then closes), or nothing when `wire` ends
/// before the request does. Bytes after the request are ignored. For tests and fuzzing.
std::variant<std::monostate, http_request, http_response> read_http_request(
    std::string_view wire, const http_server_options& options);

}  // namespace syncline::runtime
