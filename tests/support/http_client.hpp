// tests/support/http_client.hpp: a tiny blocking HTTP/1.1 client over plain sockets, for tests.
// It speaks just enough HTTP to check the node's answers: Content-Length framing or
// read-until-close; no chunked bodies, no TLS.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncline::test {

struct http_result {
  int status = 0;
  /// Header names lower-cased; a repeated header keeps its last value.
  std::map<std::string, std::string> headers;
  std::string body;

  /// The header's value, or empty.
  std::string header(const std::string& lower_case_name) const;
};

/// One TCP connection to `host` (a numeric IPv4 or IPv6 address) and `port`. Every send and
/// receive is bounded by `io_bound`, so a server that stops answering fails the test instead of
/// hanging it. Errors throw std::runtime_error (Boost.Test reports them).
class http_connection {
 public:
  http_connection(const std::string& host, uint16_t port,
                  std::chrono::milliseconds io_bound = std::chrono::seconds{30});
  ~http_connection();
  http_connection(const http_connection&) = delete;
  http_connection& operator=(const http_connection&) = delete;

  /// Sends a request with `Host`, `Content-Length` (when there is a body) and `extra` headers.
  void send_request(std::string_view method, std::string_view target, std::string_view body = {},
                    const std::vector<std::pair<std::string, std::string>>& extra = {});
  /// The `Host` header sent from now on (`"127.0.0.1:<port>"` by default); empty: none.
  void set_host_header(std::string value) { host_header_ = std::move(value); }
  /// Sends bytes as they are.
  void send_raw(std::string_view bytes);
  /// Reads one response.
  http_result read_response();
  /// `send_request` then `read_response`.
  http_result request(std::string_view method, std::string_view target, std::string_view body = {},
                      const std::vector<std::pair<std::string, std::string>>& extra = {});
  /// Reads and discards until the server closes the connection: true, or false when the bound
  /// passed first.
  bool wait_closed();
  /// Reads until `marker` has arrived and returns what came up to and including it (a streamed
  /// body read piece by piece: Server-Sent Events end each event with a blank line); nullopt
  /// when the server closed first. Throws when nothing arrives within the bound.
  std::optional<std::string> read_until(std::string_view marker);

 private:
  // Appends at least one more byte to buffer_; false at end of stream.
  bool fill();

  int fd_ = -1;
  std::string host_header_;
  std::string buffer_;
  bool head_sent_ = false;  // the last request sent was HEAD
};

/// One request on a fresh connection to 127.0.0.1:`port`.
http_result fetch(uint16_t port, std::string_view method, std::string_view target,
                  std::string_view body = {},
                  const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace syncline::test
