// connectors/http_stream.hpp: what the http datasource's listing and content share: answers
// read as errors, request header lists, and the reader that streams one file (libcurl's multi
// interface, ranges, a broken connection picked up again).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "connectors/http_source.hpp"

struct curl_slist;

namespace syncline::connectors::detail {

/// The error of a service's answer `status` to `what` (`listing`, `fetching`) of `url`:
/// 401/403 `permission_denied`, 404 `not_found`, 429/503 `busy`, others `network`.
caf::error service_refusal(long status, const std::string& url, const std::string& what);

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

/// Opens the content of `info` at `url` from byte `offset` (a range when not 0) and reads the
/// answer's head: errors as `service_refusal`'s, `changed_during_copy` when the file is shorter
/// than `offset`. Reading verifies the size and, from offset 0, the XXH3-64 `info` holds
/// (`changed`); a connection that breaks in the middle is picked up again with a range up to
/// three times.
caf::expected<std::unique_ptr<item_reader>> open_http_stream(http_source_options opt, item_info info,
                                                             std::string url, uint64_t offset);

}  // namespace syncline::connectors::detail
