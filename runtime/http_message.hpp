// runtime/http_message.hpp: HTTP requests, responses and the asynchronous reply handle that route
// handlers see. Nothing here depends on Boost.Beast.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncline::runtime {

/// One value captured by a route pattern (see `http_router::add`).
struct http_param {
  std::string name;
  /// Percent-decoded (`%2F` is `/`; `+` stays `+`). May hold any bytes, NUL included: handlers
  /// validate what they use.
  std::string value;
  /// As it appeared in the path, not decoded (to split on literal separators first).
  std::string raw;
};

/// One complete request, read and checked by the server (headers within 8 KiB, body within
/// `[http] max_body_bytes`).
struct http_request {
  /// As sent, e.g. `"GET"`.
  std::string method;
  /// The request-target as sent: path plus optional `?query`.
  std::string target;
  /// `target` up to the `?`, not percent-decoded (routes match on the raw path; a handler
  /// decodes the parts it extracts).
  std::string path;
  /// `target` after the `?`, not decoded; empty when there is none.
  std::string query;
  /// Every header in arrival order, names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The peer, `"127.0.0.1:50312"`, for logs.
  std::string remote;
  /// The local address the connection reached, `"127.0.0.1:8460"` or `"[::1]:8460"` (the
  /// `Host` check compares with it).
  std::string local;

  /// What the matched route's pattern captured, in pattern order (filled by the router).
  std::vector<http_param> params;

  /// The value of the first header named `name` (any case), or nullptr.
  const std::string* header(std::string_view name) const noexcept;
  /// The captured parameter named `name`, or nullptr.
  const http_param* param(std::string_view name) const noexcept;
  /// The decoded value of the first `name=value` pair of the query string, or nullopt (also when
  /// the query string is malformed).
  std::optional<std::string> query_param(std::string_view name) const;
  /// The value of cookie `name` in the `Cookie` header(s), or nullopt.
  std::optional<std::string> cookie(std::string_view name) const;
};

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`, as forms encode it).
/// Nullopt when an escape is malformed (`%`, `%4`, `%zz`).
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

/// Parses `a=1&b=x%20y` (a query string or an `application/x-www-form-urlencoded` body) into
/// decoded pairs in order; a part without `=` has an empty value, empty parts are skipped.
/// Nullopt when any escape is malformed.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view s);

/// Part of an open file, sent as a response's body without reading it into memory: `length`
/// bytes from `offset`. The descriptor is closed when the last reference goes.
struct http_file_part {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;

  http_file_part() = default;
  http_file_part(int fd_, uint64_t offset_, uint64_t length_)
      : fd(fd_), offset(offset_), length(length_) {}
  ~http_file_part();
  http_file_part(const http_file_part&) = delete;
  http_file_part& operator=(const http_file_part&) = delete;
};

/// A response for `http_reply::send`. The server adds `Content-Length`, `Server` and
/// `Connection` itself.
/// A body produced as it goes (Server-Sent Events): the server sends the head (no length: the
/// body ends with the connection), then asks for the next bytes, writes them, asks again, until
/// the bytes are empty, the client goes away or the server stops. Between two writes the
/// connection waits for `ready` without a timeout; the producer sends something (an SSE
/// comment) now and then so that a client that went away is noticed.
class http_body_stream {
 public:
  virtual ~http_body_stream() = default;
  /// Asks for the next bytes: `ready` is called once, from any thread, when there are some
  /// (empty: the body ends). Never blocks.
  virtual void next(std::function<void(std::string)> ready) = 0;
  /// The connection is gone (or the server stops): no `next` follows, and a `ready` pending may
  /// be dropped. Called on the connection's thread; never blocks.
  virtual void cancel() noexcept = 0;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  /// When set, the body is this part of a file (and `body` is ignored): the server streams it
  /// in blocks. If the file ends early, the connection is closed (the client sees a short
  /// body, never other bytes).
  std::shared_ptr<const http_file_part> file;
  /// Extra headers, e.g. `{"Allow", "GET"}`.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Kept by the server until the response is written or its connection is gone: a place
  /// among a limited number of answers at once (the content route's `syncAmountEmission`).
  std::shared_ptr<const void> hold;
  /// When set, the body comes from this stream (`body` and `file` are ignored; HEAD gets the
  /// head only).
  std::shared_ptr<http_body_stream> stream;

  /// A JSON response; `body` must already be JSON.
  static http_response json(unsigned status, std::string body);
  /// The API's error shape, `{"error":"<code>","message":"<message>"}`. `message` may hold any
  /// bytes: what is not valid UTF-8 is replaced so the body stays valid JSON.
  static http_response error(unsigned status, std::string_view code, std::string_view message);
};

/// The handle through which a route handler answers its request, now or later, from any
/// thread. Copies share one answer: the first `send` wins and later ones are ignored. When the
/// last copy is destroyed without any `send`, the client gets a 500 `no_reply` error, so a
/// forgotten or dropped request never leaves a connection hanging. Sending after the client
/// went away or the server stopped is harmless and does nothing. `send` never blocks: it hands
/// the response to the connection's own executor.
class http_reply {
 public:
  /// Where an answer goes; the server implements it per request (tests may too).
  class sink {
   public:
    virtual ~sink() = default;
    /// Called at most once, from any thread; must not block or throw.
    virtual void deliver(http_response response) noexcept = 0;
  };

  explicit http_reply(std::unique_ptr<sink> target);

  /// Answers the request (the first call only). Thread-safe.
  void send(http_response response) const;
  /// Whether an answer has been given by any copy.
  bool sent() const noexcept;

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace syncline::runtime
