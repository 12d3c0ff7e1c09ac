// connectors/http_source.hpp: a datasource that is a JSON API over HTTP, described by its
// settings rather than written per service (docs/http-datasources.md).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/glob.hpp"
#include "connectors/http_auth.hpp"
#include "connectors/source.hpp"

namespace syncline::connectors {

namespace detail {
class authenticator;
class handle_pool;
class request_pacer;
}  // namespace detail

/// How a listing goes from one page to the next.
enum class http_paging : uint8_t {
  none,         ///< one page holds every item
  next_url,     ///< the page says the next page's URL (`next_pointer`; absolute or relative)
  cursor,       ///< the page says a cursor (`next_pointer`), sent as `cursor_param`
  link_header,  ///< the answer's `Link: <url>; rel="next"` header
  page,         ///< `page_param` = 1, 2, ... until a page has no item
  offset,       ///< `offset_param` = 0, n, 2n, ... until a page has no item
};

/// The words of `http_paging` (`none`, `next_url`, `cursor`, `link_header`, `page`, `offset`).
const char* to_string(http_paging p) noexcept;
bool http_paging_from_string(std::string_view s, http_paging& out) noexcept;

/// Where a listing page's items are and what each says. Pointers are JSON pointers (RFC 6901:
/// `/items`, `/meta/size`); an empty pointer is the whole document (items) or "not given".
struct http_source_options {
  /// The listing's first page (http or https).
  std::string url;
  http_paging paging = http_paging::none;
  /// Where the items are in a page: an array of objects. Empty: the page is the array.
  std::string items_pointer;
  /// `next_url` and `cursor`: where the page says what comes next; missing, null, "" or false
  /// ends the listing.
  std::string next_pointer;
  /// `cursor`: the query parameter that carries the cursor to the next page.
  std::string cursor_param = "cursor";
  /// `page`: the page number's parameter and the first number.
  std::string page_param = "page";
  uint64_t first_page = 1;
  /// `offset`: the offset's parameter.
  std::string offset_param = "offset";
  /// The page size's parameter (every paging but `none`; empty: not sent) and its value.
  std::string limit_param;
  uint64_t page_size = 100;
  /// Per item: its reference (a relative path; a leading `/` is dropped; one ending in `/` is
  /// a folder, implied anyway by the paths beneath it), size (bytes), modification time, XXH3-64
  /// (16 hex digits), content URL (absolute or relative to the page's).
  std::string reference_pointer = "/path";
  std::string size_pointer;
  std::string mtime_pointer;
  /// How a numeric mtime counts: `s`, `ms`, `us` or `ns`. A string is read as RFC 3339.
  std::string mtime_unit = "s";
  std::string hash_pointer;
  std::string content_pointer;
  /// Else the content URL is this template, `{/pointer}` replaced by the item's value there
  /// (each `/`-separated part percent-encoded): `https://h/api/content/v/{/path}`.
  std::string content_url;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  /// Extra request headers (`Authorization: Bearer ...`): they travel only over https or to a
  /// loopback host unless `allow_insecure`.
  std::vector<std::string> headers;
  bool allow_insecure = false;
  /// The credentials: how they are sent (`http_auth`), where an OAuth2 access token is refreshed
  /// (`token_url`), and where they are kept (`wallet`, needed unless `auth` is none). They
  /// travel to the listing's origin (scheme, host and port) only: content elsewhere is fetched
  /// without them. Same rule as `headers` for plain http.
  http_auth auth = http_auth::none;
  std::string token_url;
  std::shared_ptr<credential_wallet> wallet;
  /// Certificates (PEM) trusted for https in place of the system's; empty: the system's.
  std::string ca_file;
  /// Connecting; a request with no byte for this long fails.
  std::chrono::seconds timeout{30};
  /// Requests per second at most, listing pages and files together (0: no limit).
  double requests_per_s = 0;
  /// How many answers 429 or 503 in a row a request waits out (as `Retry-After` says, else
  /// 1 s doubling to 60 s; at most `max_retry_after` each) before it fails `busy`.
  uint32_t busy_retries = 5;
  std::chrono::seconds max_retry_after{300};
  /// A listing with more items is refused (they are held in memory to be sorted).
  uint64_t max_items = 10'000'000;
  /// A page larger than this is refused.
  uint64_t max_page_bytes = uint64_t{64} << 20;
  /// Stops requests in flight soon after it turns true; may be null.
  std::shared_ptr<std::atomic<bool>> cancel;
};

/// A source whose listing is read page by page from a JSON API (parsed with simdjson) and whose
/// files are fetched from their content URLs with libcurl (ranges for an offset). The whole
/// listing is read before the first item is given (an API's order is not reference order):
/// items are sorted, folders implied by paths are added, duplicates and invalid references
/// end the listing with an error naming the item. `stat` answers from the last listing.
/// Errors: `permission_denied` (401, 403), `not_found` (404 for content), `busy` (429, 503),
/// `network` (connection, timeout, other statuses), `io_error` (an answer that is not the
/// JSON described: the run fails, nothing is removed), `bad_config`. Thread-safe.
/// Each listing reads the credentials from the wallet again, so new ones stored meanwhile are
/// used by the next run.
class http_source final : public source {
 public:
  /// `bad_config` naming the setting: no URL, a URL that is not http(s), a bad glob, a paging
  /// without its pointer, no content URL.
  [[nodiscard]] static caf::expected<std::unique_ptr<http_source>> make(http_source_options options);
  ~http_source() override;

  std::string describe() const override;
  [[nodiscard]] caf::error check() override;
  [[nodiscard]] caf::expected<std::unique_ptr<listing>> list() override;
  [[nodiscard]] caf::expected<item_info> stat(std::string_view reference) override;
  [[nodiscard]] caf::expected<std::unique_ptr<item_reader>> open(std::string_view reference,
                                                                 uint64_t offset) override;

  /// An item of the last listing: what it says and where its content is.
  struct entry {
    item_info info;
    std::string content;
  };

 private:
  http_source(http_source_options options, path_filter filter);

  http_source_options opt_;
  path_filter filter_;
  std::shared_ptr<detail::request_pacer> pacer_;
  std::shared_ptr<detail::authenticator> auth_;  // null for auth = none
  std::shared_ptr<detail::handle_pool> handles_;  // idle connections for the next files
  mutable std::mutex mtx_;
  std::shared_ptr<const std::map<std::string, entry>> known_;  // the last listing, guarded
};

}  // namespace syncline::connectors
