// connectors/http_stream.hpp: what the http datasource's listing and content share: answers
// read as errors, request header lists, and the reader that streams one file (libcurl's multi
// interface, ranges, a broken connection picked up again), and the service's limits.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/error.hpp"
#include "connectors/http_auth.hpp"
#include "connectors/http_common.hpp"
#include "connectors/http_source.hpp"

struct curl_slist;

namespace syncline::connectors::detail {

/// The error of a service's answer `status` to `what` (`listing`, `fetching`) of `url`:
/// 401/403 `permission_denied`, 404 `not_found`, 429/503 `busy`, others `network`.
caf::error service_refusal(long status, const std::string& url, const std::string& what);

/// Spaces requests `1 / per_s` seconds apart, whatever thread makes them. Thread-safe.
class request_pacer {
 public:
  explicit request_pacer(double per_s);
  /// When a request wanting to go at `now` may go; the one after it goes an interval later.
  std::chrono::steady_clock::time_point reserve(std::chrono::steady_clock::time_point now);
  /// Waits for the next slot; false when `cancel` turned true meanwhile.
  bool wait(const std::atomic<bool>* cancel);

 private:
  std::mutex mtx_;
  std::chrono::steady_clock::duration interval_{};
  std::chrono::steady_clock::time_point next_{};
};

/// How long a `Retry-After` value asks to wait (delta seconds or an HTTP date), at most `most`;
/// nullopt when it says neither.
std::optional<std::chrono::seconds> retry_after(const std::string& value, std::chrono::seconds most);

/// Sleeps `how_long` unless `cancel` turns true first (then false).
bool pause_for(std::chrono::steady_clock::duration how_long, const std::atomic<bool>* cancel);

/// The wait before attempt `n` (1, 2...) after a busy answer that said nothing: 1 s doubling to 60 s.
std::chrono::seconds busy_backoff(uint32_t n);

/// Runs `attempt` (one request, returning its error) within the service's limits: paced by
/// `pacer` (may be null), and an answer 429 or 503 waited out as `retry_after_value` (the
/// header the attempt read) says, up to `opt.busy_retries` times in a row. A stop while
/// waiting is `cancelled`, naming `what` and `url`.
template <class Attempt>
caf::error within_limits(const http_source_options& opt, request_pacer* pacer,
                         const std::string& retry_after_value, const char* what,
                         const std::string& url, Attempt attempt) {
  auto stopped = [&] { return make_error(connector_errc::cancelled, what + (" " + shown(url)) + ": stopped"); };
  for (uint32_t busy = 0;; ++busy) {
    if (pacer != nullptr && !pacer->wait(opt.cancel.get())) return stopped();
    auto err = attempt();
    if (!err || !is(err, connector_errc::busy) || busy >= opt.busy_retries) return err;
    auto wait = retry_after(retry_after_value, opt.max_retry_after).value_or(busy_backoff(busy + 1));
    if (!pause_for(wait, opt.cancel.get())) return stopped();
  }
}

/// Idle libcurl handles (a multi handle and its easy handle) kept with their open connection,
/// so that the next file's request reuses it (HTTP keep-alive) instead of connecting again: a
/// listing of many small files costs a request each, not a connection each. Thread-safe.
class handle_pool {
 public:
  struct handles {
    void* multi = nullptr;  // CURLM*
    void* easy = nullptr;   // CURL*, not added to `multi` while idle
  };
  handle_pool() = default;
  handle_pool(const handle_pool&) = delete;
  handle_pool& operator=(const handle_pool&) = delete;
  ~handle_pool();
  /// Idle handles, or new ones (null members when libcurl cannot make them).
  handles take();
  /// Handles whose last transfer ended cleanly (their connection has no unread bytes); beyond
  /// `max_idle` they are freed.
  void give(handles h);
  static void free(handles h) noexcept;

 private:
  static constexpr size_t max_idle = 16;
  std::mutex mtx_;
  std::vector<handles> idle_;
};

/// A libcurl header list, freed with it.
struct header_list {
  curl_slist* list = nullptr;
  header_list() = default;
  header_list(const header_list&) = delete;
  header_list& operator=(const header_list&) = delete;
  ~header_list();
  void add(const std::string& line);
  void clear();
};

/// Opens the content of `info` at `url` from byte `offset` (a range when not 0), with the
/// credentials of `auth` (may be null), on handles from `handles` (given back after a clean
/// end), and reads the
/// answer's head: errors as `service_refusal`'s, `changed_during_copy` when the file is shorter
/// than `offset`. Reading verifies the size and, from offset 0, the XXH3-64 `info` holds
/// (`changed`); a connection that breaks in the middle is picked up again with a range up to
/// three times.
caf::expected<std::unique_ptr<item_reader>> open_http_stream(http_source_options opt,
                                                             std::shared_ptr<request_pacer> pacer,
                                                             std::shared_ptr<authenticator> auth,
                                                             std::shared_ptr<handle_pool> handles,
                                                             item_info info, std::string url,
                                                             uint64_t offset);

}  // namespace syncline::connectors::detail
