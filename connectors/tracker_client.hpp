// connectors/tracker_client.hpp: a site's calls to the tracker's HTTP API (docs/api.md) with
// libcurl: JSON in, JSON out, one connection reused, the token in a header and never in a log
// or an error text. The tracker may be another node or this node itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::connectors {

struct tracker_options {
  /// The tracker's base URL, e.g. `http://127.0.0.1:8460` (no trailing slash needed).
  std::string url;
  /// Sent as `Authorization: Bearer <token>`.
  std::string token;
  /// Allow `http://` to a host that is not loopback (the token would travel in clear).
  bool allow_insecure = false;
  /// Certificates (PEM file) trusted for https in place of the system's; empty: the system's.
  std::string ca_file;
  /// Bound on connecting and on an answer making no progress (a long poll adds its wait).
  std::chrono::seconds timeout{30};
  /// When set and true, a call in progress ends at once (`cancelled`): a node stopping does not
  /// wait for a long poll or a download.
  std::shared_ptr<const std::atomic<bool>> cancel;
  /// Every answer with a status is a reply, 401, 403, 429 and 5xx included (the console and the
  /// admin verbs show the node's own error and choose their exit code from the status).
  bool every_status = false;
};

/// An answer the tracker gave: 2xx, or a 4xx the caller decides about (400, 404, 409).
struct tracker_reply {
  long status = 0;
  std::string body;
};

/// One entry of the change feed (`GET /api/changes`).
struct feed_change {
  uint64_t seq = 0;
  std::string id;
  bool deleted = false;
};

struct feed_page {
  std::vector<feed_change> changes;
  uint64_t last_seq = 0;
  /// The cursor was older than what the tracker keeps (or from another tracker): read every
  /// element again, then follow from `last_seq`.
  bool reset = false;
};

/// The top-level scalar keys of an element (nested objects and arrays are left out): what a
/// site reads of seed 003's elements (`time`, `origin`, `syncEverywhere`, `sync_<site>`, ...).
struct flat_element {
  using value = std::variant<std::monostate, bool, int64_t, double, std::string>;
  std::map<std::string, value, std::less<>> keys;

  std::optional<int64_t> integer(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<std::string> text(std::string_view key) const;
};

/// Reads an element's JSON object; nothing when it is not an object.
std::optional<flat_element> flatten_element(std::string_view json);

/// Reads an answer that is an element or an array of elements and nulls (create, update, read,
/// syncState): one entry per element, nothing for a null. Nothing when it is neither.
std::optional<std::vector<std::optional<flat_element>>> flatten_elements(std::string_view json);

/// Calls one tracker over one reused connection. Not thread-safe: one per thread.
class tracker_client {
 public:
  explicit tracker_client(tracker_options options);
  ~tracker_client();
  tracker_client(const tracker_client&) = delete;
  tracker_client& operator=(const tracker_client&) = delete;

  /// `method path` with `body` (JSON). Answers 2xx and the 4xx other than 401, 403 and 429 as
  /// a reply; errors: `permission_denied` (401, 403: the token was refused), `busy` (429, 503),
  /// `network` (no connection, a timeout, another 5xx), `invalid_path` (a URL that may not carry
  /// the token). `extra_wait` lengthens the bound for a long poll.
  caf::expected<tracker_reply> call(std::string_view method, std::string_view path,
                                    std::string_view body = {},
                                    std::chrono::seconds extra_wait = std::chrono::seconds{0});

  /// damas-core's writes with a JSON body (an element or an array): `create`, `update`, `upsert`,
  /// `delete` (ids), and ours, `syncState` (per-site keys). The tracker's answer as `call` gives it.
  caf::expected<tracker_reply> create(std::string_view body) { return call("POST", "/api/create/", body); }
  caf::expected<tracker_reply> update(std::string_view body) { return call("PUT", "/api/update/", body); }
  caf::expected<tracker_reply> upsert(std::string_view body) { return call("POST", "/api/upsert/", body); }
  caf::expected<tracker_reply> remove(std::string_view ids) { return call("DELETE", "/api/delete/", ids); }
  caf::expected<tracker_reply> sync_state(std::string_view body) {
    return call("POST", "/api/syncState/", body);
  }
  /// `verify`: whether the tracker knows the token (200).
  caf::expected<tracker_reply> verify() { return call("GET", "/api/verify"); }

  /// A page of the change feed after `since`, waiting up to `timeout_s` for news.
  caf::expected<feed_page> changes(uint64_t since, uint32_t limit, uint32_t timeout_s);

  /// The elements of `ids` as JSON, in order; nothing for an id that does not exist.
  caf::expected<std::vector<std::optional<std::string>>> read(const std::vector<std::string>& ids);

  /// The ids `GET /api/search/<query>` answers (`*`: every element).
  caf::expected<std::vector<std::string>> search(std::string_view query);

  /// GETs `path` (`text/event-stream`, the node's `/api/events`) and hands its body to `on_data`
  /// as it arrives, until the node ends it or `on_data` answers false (then no error). Before
  /// the body, `on_status` gets the status; a status other than 200 is read whole and answered
  /// as a reply (or an error, as `call`'s). A stream that sends nothing for `idle` (the node
  /// sends a keep-alive every 15 s) ends with `network`. `last_event_id`, when not empty, is
  /// sent as `Last-Event-ID`.
  caf::expected<tracker_reply> stream(std::string_view path, const std::string& last_event_id,
                                      const std::function<bool(std::string_view)>& on_data,
                                      std::chrono::seconds idle = std::chrono::seconds{45});

  const tracker_options& options() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// A JSON string literal of `s` (quotes and escapes), for request bodies.
std::string json_quote(std::string_view s);

}  // namespace syncline::connectors
