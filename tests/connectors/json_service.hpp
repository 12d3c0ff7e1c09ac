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
#include <set>
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
/// (one `Range: bytes=a-` honoured unless `ignore_ranges`). `bearer`, when set, is required;
/// `header`, when set, must be sent as is (`X-Api-Key: k`, `Authorization: Basic ...`); `oauth`
/// makes `POST /token` an OAuth2 token endpoint (RFC 6749 section 6) and every route require
/// one of the access tokens it gave.
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
  std::pair<std::string, std::string> header;  ///< name (lower case) and value, when set
  /// OAuth2: the client, the refresh tokens the endpoint takes, how many requests an access
  /// token is good for (0: any), whether a refresh hands out a new refresh token.
  struct oauth_state {
    bool on = false;
    std::string client_id = "syncline", client_secret = "s3cr3t-client";
    std::set<std::string> refresh_tokens;
    std::map<std::string, uint64_t> access;  ///< token -> requests left (0: unlimited)
    uint64_t token_uses = 0;
    int64_t expires_in = 3600;
    bool rotate = true;
    uint64_t issued = 0;
  } oauth;  // guarded by mtx
  std::atomic<uint64_t> refreshes{0}, unauthorized{0};
  /// After the content request numbered so (counting from the start, 0: never), every access
  /// token given so far expires: a token that ends in the middle of a run.
  std::atomic<uint64_t> expire_at_content{0};
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
    router.add("POST", "/token", [this](runtime::http_request req, runtime::http_reply reply) {
      reply.send(token(req));
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

  // 503 while `busy_next` says so.
  std::optional<runtime::http_response> busy() {
    if (busy_next.load() <= 0) return std::nullopt;
    --busy_next;
    ++busy_answers;
    auto res = runtime::http_response::error(503, "unavailable", "busy");
    if (!retry_after.empty()) res.headers.emplace_back("Retry-After", retry_after);
    return res;
  }

  /// Every access token given so far is refused from now on (expired at the service's end).
  void expire_access_tokens() {
    std::lock_guard<std::mutex> g{mtx};
    oauth.access.clear();
  }

 private:
  bool refused(const runtime::http_request& req) {
    bool no = false;
    if (!bearer.empty()) {
      auto* h = req.header("authorization");
      no = h == nullptr || *h != "Bearer " + bearer;
    }
    if (!header.first.empty()) {
      auto* h = req.header(header.first);
      no = no || h == nullptr || *h != header.second;
    }
    std::lock_guard<std::mutex> g{mtx};
    if (oauth.on) {
      auto* h = req.header("authorization");
      auto it = h != nullptr && h->rfind("Bearer ", 0) == 0 ? oauth.access.find(h->substr(7)) : oauth.access.end();
      if (it == oauth.access.end()) {
        no = true;
      } else if (it->second > 0 && --it->second == 0) {
        oauth.access.erase(it);  // its last use
      }
    }
    if (no) ++unauthorized;
    return no;
  }

  // grant_type=refresh_token: a new access token (and refresh token when `rotate`).
  runtime::http_response token(const runtime::http_request& req) {
    auto form = runtime::parse_form(req.body);
    BOOST_REQUIRE(form);
    std::map<std::string, std::string> f{form->begin(), form->end()};
    auto refuse = [](int status, const std::string& code) {
      runtime::http_response r;
      r.status = status;
      r.body = "{\"error\":\"" + code + "\",\"error_description\":\"no such grant here\"}";
      return r;
    };
    std::lock_guard<std::mutex> g{mtx};
    if (!oauth.on || f["grant_type"] != "refresh_token") return refuse(400, "unsupported_grant_type");
    if (f["client_id"] != oauth.client_id || f["client_secret"] != oauth.client_secret)
      return refuse(401, "invalid_client");
    if (oauth.refresh_tokens.count(f["refresh_token"]) == 0) return refuse(400, "invalid_grant");
    ++refreshes;
    auto n = std::to_string(++oauth.issued);
    auto access = "access-" + n;
    oauth.access[access] = oauth.token_uses;
    runtime::http_response r;
    r.body = "{\"access_token\":\"" + access + "\",\"token_type\":\"Bearer\",\"expires_in\":" +
             std::to_string(oauth.expires_in);
    if (oauth.rotate) {
      oauth.refresh_tokens.erase(f["refresh_token"]);
      oauth.refresh_tokens.insert("refresh-" + n);
      r.body += ",\"refresh_token\":\"refresh-" + n + "\"";
    }
    r.body += "}";
    return r;
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
    if (++content_requests == expire_at_content.load()) expire_access_tokens();
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
