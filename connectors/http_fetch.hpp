// connectors/http_fetch.hpp: pulling one file over HTTP(S) with libcurl into a volume, as a site
// pulls from another site's content route (docs/api.md, "Content"): resumed with Range after
// an interruption, verified (size and XXH3-64) before it is renamed into place.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/http_common.hpp"
#include "connectors/item.hpp"
#include "connectors/volume.hpp"

namespace syncline::connectors {

struct fetch_options {
  /// Sent as `Authorization: Bearer <token>`; never logged, never in an error text.
  std::string token;
  /// Allow `http://` to a host that is not loopback (tokens would travel in clear).
  bool allow_insecure = false;
  /// Certificates (PEM file) trusted for https in place of the system's; empty: the system's.
  std::string ca_file;
  /// Bytes per second at most (0: no limit).
  uint64_t max_bytes_per_s = 0;
  /// Bound on connecting, and on a transfer making no progress.
  std::chrono::seconds timeout{30};
  /// When set and true, a call in progress ends at once (`cancelled`): a node stopping does not
  /// wait for a long poll or a download.
  std::shared_ptr<const std::atomic<bool>> cancel;
};

/// What one fetch did.
struct fetch_result {
  uint64_t size = 0;        ///< the file's size
  uint64_t hash = 0;        ///< its XXH3-64, as the origin said and the copy verified
  int64_t mtime_ns = 0;     ///< the copy's modification time
  uint64_t received = 0;    ///< body bytes received (less than `size` when resumed)
  bool resumed = false;     ///< continued a temporary file left by an earlier attempt
};

/// Fetches files one at a time over reused connections (one libcurl handle). Not thread-safe:
/// one per worker.
class http_fetcher {
 public:
  explicit http_fetcher(fetch_options options);
  ~http_fetcher();
  http_fetcher(const http_fetcher&) = delete;
  http_fetcher& operator=(const http_fetcher&) = delete;

  /// Fetches `url` into `target` as the item `info` (its reference, mode, mtime; the size
  /// comes from the origin): continues the temporary file of an earlier attempt when there is
  /// one (`resume_offset`, as `volume::open_writer` takes it), asking for the rest with `Range`
  /// and `If-Range` (the ETag that attempt saw, `etag`; a file changed since comes whole and
  /// the temporary file starts over). The copy is verified against the origin's size and
  /// `X-Content-XXH3` and only then committed under its name; on any failure nothing appears
  /// under the final name and the temporary file is kept for a resume (removed when it cannot
  /// serve one). Errors: `not_found` (404: the origin has no such file; rsync's 23),
  /// `permission_denied` (401, 403), `busy` (429, 503), `network` (connection, timeout, 5xx),
  /// `changed_during_copy` (the copy does not verify), `invalid_path` (a URL refused, e.g.
  /// plain http beyond loopback), and the volume's own. `started(etag, size)` is called once
  /// the body begins arriving, before it is written, with the whole file's size: a caller that
  /// wants to resume after its own restart keeps the ETag durably there and passes it back
  /// with `resume_offset` past the end of the temporary file (`UINT64_MAX`: all of it). The
  /// copy gets the origin's modification time when it sends `X-Content-Mtime-Ns` (the file
  /// may have changed since the caller learnt of it), else `info`'s.
  [[nodiscard]] caf::expected<fetch_result> fetch(
      const std::string& url, volume& target, const item_info& info, uint64_t resume_offset,
      const std::string& etag = {},
      const std::function<void(const std::string&, uint64_t)>& started = {});

  /// GETs `url` whole into a string (a package's listing), or POSTs the JSON `post` to it (a
  /// batch of small files): errors as `fetch`'s, and `network` when the answer exceeds
  /// `max_bytes`.
  [[nodiscard]] caf::expected<std::string> read(const std::string& url, size_t max_bytes,
                                                const std::string* post = nullptr);

  /// The ETag the origin gave in the last fetch (for a later `If-Range`).
  const std::string& last_etag() const noexcept { return etag_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string etag_;
};

}  // namespace syncline::connectors
