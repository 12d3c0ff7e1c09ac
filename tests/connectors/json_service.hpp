// tests/connectors/json_service.hpp: a JSON API on loopback for the http datasource's tests: a
// real HTTP server (the node's own, runtime/http_server) listing a set of files page by page in
// every paging style the connector knows, and serving their content with ranges.
#pragma once

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <xxhash.h>

#include "runtime/http_router.hpp"
#include "runtime/http_server.hpp"

namespace syncline::test {

/// Listing routes (`limit` items a page, default 3): `/flat` (one page, a bare array), `/next`
/// (`{"items":[...],"next":"/next?after=N"}`), `/cursor` (`{"data":{"files":[...]},
/// "cursor":"N"}`, cursor from `?cursor=`), `/link` (a `Link: <...>; rel="next"` header),
/// `/page?page=P`, `/offset?offset=O`. An item is `{"path":"/a/b","size":N,"mtime":"RFC 3339",
/// "mtime_ms":N,"xxh3":"hex","url":"/files/a/b"}`. `/files/<path>` serves a file's bytes
/// (one `Range: bytes=a-` honoured unless `ignore_ranges`). `bearer`, when set, is required.
class json_service {
 public:
  std::map<std::string, std::string> files;  ///< path (no leading '/') -> content; set before use
  int64_t mtime_s = 1700000000;
  std::atomic<bool> ignore_ranges{false};
  std::atomic<int> malformed_page{0};  ///< this page (1, 2...) of every listing is not JSON
  /// The next this many requests (listing or content) get 503 with `Retry-After: <retry_after>`
  /// (no header when empty).
  std::atomic<int> busy_next{0};
  std::string retry_after = "1";
  std::atomic<uint64_t> busy_answers{0};
  /// The next whole-file answer breaks off after half its bytes (the connection is closed).
  std::atomic<bool> drop_once{false};
  std::mutex mtx;
  std::string last_range;  ///< the Range header of the last content request (guarded by mtx)
  std::string bearer;
  std::atomic<uint64_t> content_requests{0}, listing_requests{0};

  json_service() {
    runtime::http_router router;
    auto listing = [this](const char* style) {
      return [this, style](runtime::http_request req, runtime::http_reply reply) {
        reply.send(list(req, style));
      };
    };
    for (auto* style : {"flat", "next", "cursor", "link", "page", "offset"})
      router.add("GET", std::string{"/"} + style, listing(style));
    router.add("GET", "/files/*path", [this](runtime::http_request req, runtime::http_reply reply) {
      reply.send(content(req));
    });
    runtime::http_server_options o;
    o.listen = {"127.0.0.1", 0};
    o.threads = 2;
    auto s = runtime::http_server::start(std::move(o), std::move(router));
    BOOST_REQUIRE(s);
    server_ = std::move(*s);
  }

  std::string base() const {
    return "http://127.0.0.1:" + std::to_string(server_->local_address().port);
  }

  static std::string hex(const std::string& bytes) {
    char out[17];
    std::snprintf(out, sizeof out, "%016" PRIx64, XXH3_64bits(bytes.data(), bytes.size()));
    return out;
  }

 private:
  // 503 while `busy_next` says so.
  std::optional<runtime::http_response> busy() {
    if (busy_next.load() <= 0) return std::nullopt;
    --busy_next;
    ++busy_answers;
    auto res = runtime::http_response::error(503, "unavailable", "busy");
    if (!retry_after.empty()) res.headers.emplace_back("Retry-After", retry_after);
    return res;
  }

  bool refused(const runtime::http_request& req) const {
    if (bearer.empty()) return false;
    auto* h = req.header("authorization");
    return h == nullptr || *h != "Bearer " + bearer;
  }

  std::string item(const std::string& path, const std::string& bytes) const {
    char when[32];
    std::time_t t = mtime_s;
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return "{\"path\":\"/" + path + "\",\"size\":" + std::to_string(bytes.size()) + ",\"mtime\":\"" +
           when + "\",\"mtime_ms\":" + std::to_string(mtime_s * 1000) + ",\"xxh3\":\"" + hex(bytes) +
           "\",\"url\":\"/files/" + path + "\"}";
  }

  runtime::http_response list(const runtime::http_request& req, const std::string& style) {
    if (refused(req)) return runtime::http_response::error(401, "unauthenticated", "no");
    if (auto b = busy()) return *b;
    ++listing_requests;
    auto number = [&](const char* name, uint64_t otherwise) {
      auto v = req.query_param(name);
      return v && !v->empty() ? std::stoull(*v) : otherwise;
    };
    uint64_t limit = number("limit", 3);
    uint64_t from = 0;
    if (style == "next") from = number("after", 0);
    if (style == "cursor") from = number("cursor", 0);
    if (style == "link") from = number("from", 0);
    if (style == "page") from = (number("page", 1) - 1) * limit;
    if (style == "offset") from = number("offset", 0);
    if (style == "flat") limit = files.size();
    uint64_t page = limit == 0 ? 1 : from / limit + 1;
    std::string items = "[";
    uint64_t i = 0, to = from + limit;
    for (auto& [path, bytes] : files) {
      if (i >= from && i < to) items += (items.size() > 1 ? "," : "") + item(path, bytes);
      ++i;
    }
    items += "]";
    bool more = to < files.size();
    runtime::http_response res;
    if (malformed_page.load() == static_cast<int>(page)) {
      res.body = "{\"items\": [{\"path\": ";
      return res;
    }
    auto next = std::to_string(to);
    if (style == "flat" || style == "page" || style == "offset") res.body = items;
    if (style == "next")
      res.body = "{\"items\":" + items + ",\"next\":" + (more ? "\"/next?after=" + next + "&limit=" +
                                                                    std::to_string(limit) + "\""
                                                              : std::string{"null"}) + "}";
    if (style == "cursor")
      res.body = "{\"data\":{\"files\":" + items + "},\"cursor\":" + (more ? "\"" + next + "\"" : "null") + "}";
    if (style == "link") {
      res.body = items;
      if (more)
        res.headers.emplace_back("Link", "<" + base() + "/link?from=" + next + "&limit=" +
                                             std::to_string(limit) + ">; rel=\"next\", <" + base() +
                                             "/link>; rel=\"first\"");
    }
    return res;
  }

  runtime::http_response content(const runtime::http_request& req) {
    if (refused(req)) return runtime::http_response::error(401, "unauthenticated", "no");
    if (auto b = busy()) return *b;
    ++content_requests;
    auto* p = req.param("path");
    auto it = files.find(p != nullptr ? p->value : "");
    if (it == files.end()) return runtime::http_response::error(404, "not_found", "no such file");
    runtime::http_response res;
    res.content_type = "application/octet-stream";
    auto* range = req.header("range");
    {
      std::lock_guard<std::mutex> g{mtx};
      last_range = range != nullptr ? *range : "";
    }
    if (range == nullptr && drop_once.exchange(false)) {
      // Announces the whole file and sends half: the server closes the connection there.
      char name[] = "/tmp/json-service-XXXXXX";
      int fd = ::mkstemp(name);
      BOOST_REQUIRE_GE(fd, 0);
      ::unlink(name);
      auto half = it->second.size() / 2;
      BOOST_REQUIRE_EQUAL(::write(fd, it->second.data(), half), static_cast<ssize_t>(half));
      res.file = std::make_shared<runtime::http_file_part>(fd, 0, it->second.size());
      res.headers.emplace_back("ETag", "\"" + hex(it->second) + "\"");
      return res;
    }
    res.headers.emplace_back("ETag", "\"" + hex(it->second) + "\"");
    uint64_t from = 0;
    if (range != nullptr && !ignore_ranges && range->rfind("bytes=", 0) == 0)
      from = std::stoull(range->substr(6));
    if (from > it->second.size())
      return runtime::http_response::error(416, "range_not_satisfiable", "past the end");
    if (range != nullptr && !ignore_ranges) {
      res.status = 206;
      res.headers.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                                    std::to_string(it->second.size() - 1) + "/" +
                                                    std::to_string(it->second.size()));
    }
    res.body = it->second.substr(from);
    return res;
  }

  std::unique_ptr<runtime::http_server> server_;
};

}  // namespace syncline::test
