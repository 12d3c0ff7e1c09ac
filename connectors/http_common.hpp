// connectors/http_common.hpp: what the libcurl clients (http_fetch, tracker_client) share:
// libcurl's one-time start, reading header lines, and which URLs may carry a token.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncline::connectors {

/// Whether `url` may carry a token: `https://`, or `http://` to a loopback host.
bool secure_enough(const std::string& url) noexcept;

namespace detail {

/// `curl_global_init`, once per process, before the first handle.
void start_curl();

/// ASCII case-insensitive prefix test; `prefix` in lower case.
bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept;
/// Without the spaces, tabs and line ends around it.
std::string_view trim(std::string_view s) noexcept;
/// An unsigned number of `base` 10 or 16 filling all of `s`.
bool read_u64(std::string_view s, uint64_t& out, int base = 10) noexcept;
/// A `Content-Range` value `bytes first-last/size` into `first` and `size`.
bool read_content_range(std::string_view value, uint64_t& first, uint64_t& size) noexcept;
/// `s` percent-encoded but for RFC 3986's unreserved characters (a path part, a query or form
/// value), by libcurl.
std::string url_escape(std::string_view s);
/// The URL without its query, for messages.
std::string shown(std::string_view url);
/// libcurl's header and body callbacks.
using curl_data_fn = size_t (*)(char* data, size_t size, size_t n, void* user);

/// What every request of ours sets on the libcurl handle `curl`: the URL and `headers` (a
/// `curl_slist*`), `on_header` and `on_body` with `user` as their data, no redirects, no
/// signals, http and https only, `connect_timeout_s`, `cancel` (see `watch_cancel`), and for
/// https the certificates of `ca_file` (PEM) trusted in place of the system's when not empty.
void set_request(void* curl, const std::string& url, void* headers, curl_data_fn on_header,
                 curl_data_fn on_body, void* user, long connect_timeout_s,
                 const std::atomic<bool>* cancel, const std::string& ca_file);

/// Makes the libcurl handle `curl` end its transfer (`CURLE_ABORTED_BY_CALLBACK`) soon after
/// `*flag` turns true (checked at least once a second); nothing when `flag` is null.
void watch_cancel(void* curl, const std::atomic<bool>* flag);

/// The status code of a status line (`HTTP/1.1 200 OK`), or 0.
long status_of(std::string_view status_line) noexcept;

}  // namespace detail
}  // namespace syncline::connectors
