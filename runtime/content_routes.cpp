#include "runtime/content_routes.hpp"

#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <xxhash.h>
#include <unistd.h>

#include "actors/io_pool.hpp"
#include "actors/node_context.hpp"
#include "actors/text.hpp"
#include "actors/tracker_json.hpp"
#include "connectors/error.hpp"
#include "connectors/item.hpp"
#include "connectors/tracker_client.hpp"
#include "connectors/volume.hpp"
#include "runtime/api_errors.hpp"
#include "storage/element_json.hpp"
#include "runtime/api_routes.hpp"

namespace syncline::runtime {

namespace {

// Jobs waiting for the pool beyond this are refused (503): a flood of content requests must
// not queue without limit.
constexpr size_t max_queued = 4096;
// A package (a folder) listed for another site has at most this many files.
constexpr size_t max_package_files = 200000;
// A batch answer carries at most this many files, each at most this large, this much in all.
constexpr size_t max_batch_files = 256;
constexpr uint64_t max_batch_file_bytes = uint64_t{1} << 20;
constexpr uint64_t max_batch_bytes = uint64_t{16} << 20;

struct byte_range {
  uint64_t first = 0, last = 0;  // inclusive
};

// One `bytes=` range of a file of `size` bytes. Nullopt: no usable Range (absent, malformed,
// several ranges: the whole file is sent, as the RFC allows). `unsatisfiable`: it starts at
// or past the end.
std::optional<byte_range> read_range(const std::string* header, uint64_t size,
                                     bool& unsatisfiable) {
  unsatisfiable = false;
  if (header == nullptr) return std::nullopt;
  std::string_view v{*header};
  if (v.substr(0, 6) != "bytes=") return std::nullopt;
  v.remove_prefix(6);
  if (v.find(',') != std::string_view::npos) return std::nullopt;
  auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  auto a = v.substr(0, dash), b = v.substr(dash + 1);
  byte_range r;
  if (a.empty()) {  // the last n bytes
    uint64_t n = 0;
    if (!number(b, n)) return std::nullopt;
    if (n == 0 || size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return r;
  }
  if (!number(a, r.first)) return std::nullopt;
  if (b.empty()) {
    r.last = size == 0 ? 0 : size - 1;
  } else {
    if (!number(b, r.last) || r.last < r.first) return std::nullopt;
    if (size > 0 && r.last >= size) r.last = size - 1;
  }
  if (r.first >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  return r;
}

http_response refusal(const caf::error& err, const std::string& what) {
  using connectors::connector_errc;
  if (connectors::is(err, connector_errc::not_found))
    return http_response::error(404, "not_found", "no file " + what);
  if (connectors::is(err, connector_errc::invalid_path))
    return http_response::error(400, "bad_request", what + ": " + actors::error_message(err));
  if (connectors::is(err, connector_errc::permission_denied))
    return http_response::error(403, "forbidden", "the node may not read " + what);
  return error_response(err);
}

// All of a volume's places for answers are taken (its site's `syncAmountEmission`): the other
// site asks again shortly, and records nothing against the file.
http_response emission_busy(const std::string& volume) {
  auto busy = http_response::error(503, "unavailable",
                                   "volume '" + volume + "' is sending as many files at once as "
                                   "its syncAmountEmission allows; retry");
  busy.headers.emplace_back("Retry-After", "1");
  return busy;
}

// A folder tracked as a package (`/a/pkg/`): the files beneath it, listed (on the pool), so
// that a site can fetch them one by one and put the whole in place at once.
http_response serve_folder(actors::node_context& ctx, const std::string& volume, const std::string& path) {
  auto what = "'" + path + "' in volume '" + volume + "'";
  auto v = ctx.volume(volume);
  if (!v) return http_response::error(404, "not_found", "no volume '" + volume + "' on this node");
  auto files = connectors::files_beneath(*v, path, max_package_files);
  if (!files) return refusal(files.error(), what);
  if (!*files) return http_response::error(404, "not_found", "no folder " + what);
  if ((*files)->size() > max_package_files)
    return http_response::error(413, "payload_too_large",
                                what + " holds more than " + std::to_string(max_package_files) +
                                    " files: too many for one package");
  std::string body = "[";
  for (auto& it : **files) {
    if (body.size() > 1) body += ',';
    body += "{\"path\":" + actors::json_string(it.reference) + ",\"size\":" +
            std::to_string(it.size) + ",\"mtime_ns\":" + std::to_string(it.mtime_ns) + "}";
  }
  body += "]";
  http_response res;
  res.content_type = "application/json";
  res.body = std::move(body);
  return res;
}

// Several small files in one answer (`POST /api/content_batch/{volume}` with a JSON array of
// paths): for each, in order, a header line `{"path","size","mtime_ns","xxh3"}` and its bytes,
// or `{"path","error","message"}` and none. Each file is read once (hashed from what was read).
http_response serve_batch(actors::node_context& ctx, const std::string& volume, const std::string& body) {
  auto v = ctx.volume(volume);
  if (!v) return http_response::error(404, "not_found", "no volume '" + volume + "' on this node");
  auto paths = storage::parse_ids(body);
  if (!paths || paths->empty() || paths->size() > max_batch_files)
    return http_response::error(400, "bad_request",
                                "the body must be a JSON array of 1 to " +
                                    std::to_string(max_batch_files) + " file paths");
  auto slot = ctx.emission_slot(volume);
  if (!slot) return emission_busy(volume);
  std::string out;
  auto refuse = [&](const std::string& path, const char* error, const std::string& message) {
    out += "{\"path\":" + actors::json_string(path) + ",\"error\":\"" + error +
           "\",\"message\":" + actors::json_string(message) + "}\n";
  };
  for (auto& path : *paths) {
    if (connectors::validate_reference(path) || path.empty() || path.back() == '/') {
      refuse(path, "bad_request", "not a file's relative path");
      continue;
    }
    auto reader = v->open_reader(path, 0);
    if (!reader || (*reader)->info().kind != connectors::item_kind::file ||
        (*reader)->native_handle() < 0) {
      refuse(path, "not_found", reader ? "not a file" : actors::error_message(reader.error()));
      continue;
    }
    auto& info = (*reader)->info();
    if (info.size > max_batch_file_bytes || out.size() + info.size > max_batch_bytes) {
      refuse(path, "too_large", "fetch it alone");
      continue;
    }
    auto header_at = out.size();
    std::string header = "{\"path\":" + actors::json_string(path) + ",\"size\":" +
                         std::to_string(info.size) + ",\"mtime_ns\":" + std::to_string(info.mtime_ns) +
                         ",\"xxh3\":\"0000000000000000\"}\n";
    out += header;
    auto at = out.size();
    out.resize(at + info.size);
    uint64_t done = 0;
    int fd = (*reader)->native_handle();
    while (done < info.size) {
      auto got = ::pread(fd, &out[at + done], static_cast<size_t>(info.size - done),
                         static_cast<off_t>(done));
      if (got <= 0) break;
      done += static_cast<uint64_t>(got);
    }
    if (done != info.size) {
      out.resize(header_at);
      refuse(path, "conflict", "changed while it was read; ask again");
      continue;
    }
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, XXH3_64bits(out.data() + at, info.size));
    out.replace(at - 19, 16, hex);  // the placeholder before `"}\n`
  }
  ctx.note_emission(volume);
  http_response res;
  res.content_type = "application/octet-stream";
  res.body = std::move(out);
  res.hold = std::move(slot);
  return res;
}

// Opens, hashes and answers one file (on the pool).
http_response serve(actors::node_context& ctx, const std::string& volume, const std::string& path,
                    const std::optional<std::string>& range, const std::optional<std::string>& if_range) {
  auto what = "'" + path + "' in volume '" + volume + "'";
  auto v = ctx.volume(volume);
  if (!v) return http_response::error(404, "not_found", "no volume '" + volume + "' on this node");
  auto reader = v->open_reader(path, 0);
  if (!reader) return refusal(reader.error(), what);
  auto& info = (*reader)->info();
  if (info.kind != connectors::item_kind::file)
    return http_response::error(404, "not_found", what + " is not a file");
  int fd = (*reader)->native_handle();
  if (fd < 0)
    return http_response::error(501, "not_implemented", "volume '" + volume + "' cannot serve files");
  auto slot = ctx.emission_slot(volume);
  if (!slot) return emission_busy(volume);
  auto buffer = std::make_unique<char[]>(size_t{1} << 20);
  auto hash = connectors::xxh3_of(fd, info.size, buffer.get(), size_t{1} << 20, what);
  if (!hash)
    return http_response::error(409, "conflict", what + " changed while it was read; ask again");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, *hash);
  std::string etag = "\"xxh3-" + std::string{hex} + "\"";
  ctx.note_emission(volume);
  int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return http_response::error(500, "internal_error", "cannot serve " + what);
  http_response res;
  res.content_type = "application/octet-stream";
  res.hold = std::move(slot);
  res.headers = {{"ETag", etag},
                 {"X-Content-XXH3", hex},
                 {"X-Content-Mtime-Ns", std::to_string(info.mtime_ns)},
                 {"Accept-Ranges", "bytes"}};
  bool unsatisfiable = false;
  std::optional<byte_range> r;
  if (range && (!if_range || *if_range == etag)) {
    std::string header = *range;
    r = read_range(&header, info.size, unsatisfiable);
  }
  if (unsatisfiable) {
    ::close(own);
    auto out = http_response::error(416, "range_not_satisfiable",
                                    what + " has " + std::to_string(info.size) + " bytes");
    out.headers.emplace_back("Content-Range", "bytes */" + std::to_string(info.size));
    return out;
  }
  if (r) {
    res.status = 206;
    res.headers.emplace_back("Content-Range", "bytes " + std::to_string(r->first) + "-" +
                                                  std::to_string(r->last) + "/" +
                                                  std::to_string(info.size));
    res.file = std::make_shared<http_file_part>(own, r->first, r->last - r->first + 1);
  } else {
    res.file = std::make_shared<http_file_part>(own, 0, info.size);
  }
  return res;
}

}  // namespace

remote_verifier::remote_verifier(std::string tracker_url, bool allow_insecure,
                                 std::string ca_file, std::chrono::seconds ttl)
    : url_(std::move(tracker_url)),
      allow_insecure_(allow_insecure),
      ca_file_(std::move(ca_file)),
      ttl_(ttl) {}

bool remote_verifier::verify(const std::string& token) {
  if (token.empty()) return false;
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> g{mtx_};
    auto it = seen_.find(token);
    if (it != seen_.end() && it->second.second > now) return it->second.first;
  }
  connectors::tracker_options o;
  o.url = url_;
  o.token = token;
  o.allow_insecure = allow_insecure_;
  o.ca_file = ca_file_;
  o.timeout = std::chrono::seconds{10};
  connectors::tracker_client c{std::move(o)};
  auto r = c.verify();
  // Only the tracker's own answers count: a tracker out of reach refuses now, remembers nothing.
  bool known = r && r->status == 200;
  bool refused = !r && connectors::is(r.error(), connectors::connector_errc::permission_denied);
  if (!known && !refused) return false;
  std::lock_guard<std::mutex> g{mtx_};
  if (seen_.size() >= 10000) seen_.clear();
  seen_[token] = {known, now + (known ? ttl_ : std::chrono::seconds{5})};
  return known;
}

namespace {

http_response busy_answer() {
  auto busy = http_response::error(503, "unavailable", "the node is busy; retry");
  busy.headers.emplace_back("Retry-After", "1");
  return busy;
}

// Answers with what `job` makes on the pool (files are opened and read off the network threads).
template <class Job>
void on_pool(const content_routes_init& init, http_reply r, Job job) {
  if (init.pool == nullptr || init.ctx == nullptr)
    return r.send(http_response::error(503, "unavailable", "this node serves no content"));
  if (init.pool->queued() >= max_queued) return r.send(busy_answer());
  init.pool->submit([job = std::move(job), r] {
    try {
      r.send(job());
    } catch (const std::exception& e) {
      r.send(http_response::error(500, "internal_error", e.what()));
    }
  });
}

void serve_request(const content_routes_init& init, const std::shared_ptr<http_request>& shared,
                   http_reply r) {
  auto* volume = shared->param("volume");
  auto* path = shared->param("path");
  std::string p = path != nullptr ? path->value : std::string{};
  if (auto err = connectors::validate_reference(p); err || p.empty())
    return r.send(http_response::error(
        400, "bad_request",
        "the content path must be a file's relative path, without . or .. segments"));
  std::optional<std::string> range, if_range;
  if (auto* h = shared->header("range")) range = *h;
  if (auto* h = shared->header("if-range")) if_range = *h;
  on_pool(init, std::move(r), [ctx = init.ctx, vol = volume->value, p, range, if_range] {
    return p.back() == '/' ? serve_folder(*ctx, vol, p) : serve(*ctx, vol, p, range, if_range);
  });
}

// The batch route: several small files in one answer (`serve_batch`), on the pool.
void serve_batch_request(const content_routes_init& init, const std::shared_ptr<http_request>& shared,
                         http_reply r) {
  auto* volume = shared->param("volume");
  on_pool(init, std::move(r), [ctx = init.ctx, vol = volume->value, shared] {
    return serve_batch(*ctx, vol, shared->body);
  });
}

using content_handler = void (*)(const content_routes_init&, const std::shared_ptr<http_request>&,
                                 http_reply);

}  // namespace

void add_content_routes(http_router& router, caf::actor_system& sys, content_routes_init init) {
  // Every content route authenticates the same way, then runs `handle`.
  auto guarded = [&sys, init](content_handler handle) {
    return [&sys, init, handle](http_request req, http_reply reply) {
      auto shared = std::make_shared<http_request>(std::move(req));
      if (init.remote) {
        // A site: a token of the tracker's users is checked there (this node's own users too).
        auto who = read_credentials(*shared);
        if (!who.token.empty() && !who.bad) {
          if (init.pool == nullptr || init.pool->queued() >= max_queued)
            return reply.send(busy_answer());
          return authenticate_then(
              sys, init.tracker, *shared, reply,
              [shared, init, handle](caf::event_based_actor*, http_reply r, const caller&) {
                handle(init, shared, std::move(r));
              },
              [shared, init, handle, token = who.token](http_reply r) {
                init.pool->submit([shared, init, handle, token, r]() mutable {
                  if (!init.remote->verify(token))
                    return r.send(http_response::error(
                        401, "unauthenticated", "the token is unknown here and at the tracker"));
                  handle(init, shared, std::move(r));
                });
              });
        }
      }
      authenticate_then(sys, init.tracker, *shared, std::move(reply),
                        [shared, init, handle](caf::event_based_actor*, http_reply r, const caller&) {
                          handle(init, shared, std::move(r));
                        });
    };
  };
  router.add("GET", "/api/content/:volume/*path", guarded(&serve_request));
  router.add("POST", "/api/content_batch/:volume", guarded(&serve_batch_request));
}

}  // namespace syncline::runtime
