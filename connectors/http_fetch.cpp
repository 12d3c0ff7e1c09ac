#include "connectors/http_fetch.hpp"

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <utility>

#include <curl/curl.h>

#include "connectors/error.hpp"
#include "connectors/http_common.hpp"

namespace syncline::connectors {

using detail::read_content_range;
using detail::read_u64;
using detail::shown;
using detail::starts_with_nocase;
using detail::trim;

namespace {

// The error of an answer other than 200/206 from an origin (`missing`: what a 404 says).
caf::error refusal(long status, const std::string& url, const char* missing) {
  auto code = std::to_string(status);
  switch (status) {
    case 404:
      return make_error(connector_errc::not_found, shown(url) + ": the origin has " + missing);
    case 401:
    case 403:
      return make_error(connector_errc::permission_denied,
                        shown(url) + ": the origin refused the token (" + code + ")");
    case 429:
    case 503:
      return make_error(connector_errc::busy, shown(url) + ": the origin is busy (" + code + ")");
    default:
      return make_error(connector_errc::network, shown(url) + ": the origin answered " + code);
  }
}

}  // namespace

struct http_fetcher::impl {
  // Why a request to `url` is not made: libcurl did not start, or a token would travel in clear.
  caf::error refused(const std::string& url) const {
    if (curl == nullptr) return make_error(connector_errc::io_error, "libcurl could not start");
    if (!secure_enough(url) && !opt.allow_insecure)
      return make_error(connector_errc::invalid_path,
                        shown(url) + ": a token never travels over plain http beyond loopback "
                                     "(use https, or allow_insecure)");
    return caf::none;
  }

  fetch_options opt;
  CURL* curl = nullptr;
  // What the response being received said.
  long status = 0;
  std::string etag, xxh3, content_range, error_body;
  item_writer* writer = nullptr;
  // The origin's modification time of the file (`X-Content-Mtime-Ns`), when it says.
  std::string mtime;
  // Told the ETag and the file's size once the body of a 200 or 206 begins (the caller keeps
  // the ETag for a resume).
  const std::function<void(const std::string&, uint64_t)>* started = nullptr;
  bool told = false;
  caf::error write_error;
  uint64_t received = 0;
  // A 200 answered to a Range: the body is the whole file, not the rest; stop and start over.
  bool whole_to_a_range = false;
  bool asked_range = false;
  // `read`: the body goes here, up to `text_max` bytes (`too_big` past it).
  std::string* text = nullptr;
  size_t text_max = 0;
  bool too_big = false;

  static size_t on_header(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<impl*>(self_ptr);
    std::string_view line{data, size * n};
    if (starts_with_nocase(line, "http/")) {
      // A new response (after a 100 Continue, say): forget the previous one's fields.
      self->etag.clear();
      self->xxh3.clear();
      self->mtime.clear();
      self->content_range.clear();
      self->status = detail::status_of(line);
    } else if (starts_with_nocase(line, "etag:")) {
      self->etag = std::string{trim(line.substr(5))};
    } else if (starts_with_nocase(line, "x-content-xxh3:")) {
      self->xxh3 = std::string{trim(line.substr(15))};
    } else if (starts_with_nocase(line, "x-content-mtime-ns:")) {
      self->mtime = std::string{trim(line.substr(19))};
    } else if (starts_with_nocase(line, "content-range:")) {
      self->content_range = std::string{trim(line.substr(14))};
    }
    return size * n;
  }

  static size_t on_body(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<impl*>(self_ptr);
    size_t len = size * n;
    if (self->status != 200 && self->status != 206) {
      if (self->error_body.size() < 4096) self->error_body.append(data, std::min<size_t>(len, 4096));
      return len;
    }
    if (self->text != nullptr) {
      if (self->text->size() + len > self->text_max) {
        self->too_big = true;
        return 0;
      }
      self->text->append(data, len);
      return len;
    }
    if (self->status == 200 && self->asked_range) {
      self->whole_to_a_range = true;
      return 0;  // ends the transfer: the caller starts over from 0
    }
    if (!self->told) {
      self->told = true;
      if (self->started != nullptr && *self->started) {
        uint64_t first = 0, whole = 0;
        if (self->status == 206) {
          (void)read_content_range(self->content_range, first, whole);
        } else {
          curl_off_t length = -1;
          curl_easy_getinfo(self->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
          whole = length > 0 ? static_cast<uint64_t>(length) : 0;
        }
        (*self->started)(self->etag, whole);
      }
    }
    if (auto err = self->writer->write(data, len)) {
      self->write_error = std::move(err);
      return 0;
    }
    self->received += len;
    return len;
  }
};

http_fetcher::http_fetcher(fetch_options options) : impl_(std::make_unique<impl>()) {
  detail::start_curl();
  impl_->opt = std::move(options);
  impl_->curl = curl_easy_init();
}

http_fetcher::~http_fetcher() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

caf::expected<std::string> http_fetcher::read(const std::string& url, size_t max_bytes,
                                              const std::string* post) {
  auto& s = *impl_;
  if (auto err = s.refused(url)) return err;
  std::string out;
  s.status = 0;
  s.error_body.clear();
  s.writer = nullptr;
  s.started = nullptr;
  s.told = true;
  s.asked_range = false;
  s.text = &out;
  s.text_max = max_bytes;
  s.too_big = false;
  curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + s.opt.token;
  if (!s.opt.token.empty()) headers = curl_slist_append(headers, auth.c_str());
  if (post != nullptr) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
  }
  auto* c = s.curl;
  detail::set_request(c, url, headers, &impl::on_header, &impl::on_body, &s,
                      static_cast<long>(s.opt.timeout.count()), s.opt.cancel.get(), s.opt.ca_file);
  if (post != nullptr) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post->size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(s.opt.timeout.count()));
  curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE, curl_off_t{0});
  auto rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  s.text = nullptr;
  if (s.too_big)
    return make_error(connector_errc::network,
                      shown(url) + ": the answer exceeds " + std::to_string(max_bytes) + " bytes");
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return make_error(connector_errc::cancelled, "reading " + shown(url) + ": the node is stopping");
  if (rc != CURLE_OK)
    return make_error(connector_errc::network, "reading " + shown(url) + ": " + curl_easy_strerror(rc));
  if (s.status == 200) return out;
  return refusal(s.status, url, "no such folder");
}

caf::expected<fetch_result> http_fetcher::fetch(const std::string& url, volume& target,
                                                const item_info& info, uint64_t resume_offset,
                                                const std::string& etag,
                                                const std::function<void(const std::string&, uint64_t)>& started) {
  auto& s = *impl_;
  if (auto err = s.refused(url)) return err;
  std::string known_etag = etag;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto opened = target.open_writer(info, resume_offset);
    if (!opened) return std::move(opened.error());
    auto& w = **opened;
    uint64_t offset = w.offset();
    if (offset > 0 && known_etag.empty()) {
      // Nothing tells whether the origin's file is still the one begun: start over.
      w.abort();
      resume_offset = 0;
      continue;
    }
    s.status = 0;
    s.error_body.clear();
    s.write_error = caf::none;
    s.received = 0;
    s.whole_to_a_range = false;
    s.asked_range = offset > 0;
    s.writer = &w;
    s.started = &started;
    s.told = false;
    curl_slist* headers = nullptr;
    std::string auth = "Authorization: Bearer " + s.opt.token;
    if (!s.opt.token.empty()) headers = curl_slist_append(headers, auth.c_str());
    std::string range = "Range: bytes=" + std::to_string(offset) + "-";
    std::string if_range = "If-Range: " + known_etag;
    if (offset > 0) {
      headers = curl_slist_append(headers, range.c_str());
      headers = curl_slist_append(headers, if_range.c_str());
    }
    auto* c = s.curl;
    detail::set_request(c, url, headers, &impl::on_header, &impl::on_body, &s,
                        static_cast<long>(s.opt.timeout.count()), s.opt.cancel.get(),
                        s.opt.ca_file);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(s.opt.timeout.count()));
    curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(s.opt.max_bytes_per_s));
    auto rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    s.writer = nullptr;
    if (s.write_error) return std::move(s.write_error);  // the writer keeps what it has
    if (s.whole_to_a_range || s.status == 416) {
      // The file changed since the first attempt (or the temporary file outgrew it).
      w.abort();
      resume_offset = 0;
      known_etag.clear();
      continue;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK)
      return make_error(connector_errc::cancelled, "fetching " + shown(url) + ": the node is stopping");
    if (rc != CURLE_OK && (s.status == 200 || s.status == 206 || s.status == 0))
      return make_error(connector_errc::network,
                        "fetching " + shown(url) + ": " + curl_easy_strerror(rc) + " after " +
                            std::to_string(s.received) + " bytes");
    if (s.status != 200 && s.status != 206) {
      if (s.status == 404) w.abort();
      return refusal(s.status, url, "no such file");
    }
    // How big the file is, and where this body began.
    uint64_t size = 0, first = 0;
    if (s.status == 206) {
      // bytes first-last/size
      if (!read_content_range(s.content_range, first, size) || first != offset)
        return make_error(connector_errc::network,
                          shown(url) + ": the origin's Content-Range does not continue the copy");
    } else {
      curl_off_t length = -1;
      curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length < 0)
        return make_error(connector_errc::network, shown(url) + ": the origin gave no length");
      size = static_cast<uint64_t>(length);
    }
    uint64_t expected_hash = 0;
    if (!read_u64(s.xxh3, expected_hash, 16)) {
      w.abort();
      return make_error(connector_errc::network,
                        shown(url) + ": the origin gave no X-Content-XXH3 to verify the copy");
    }
    etag_ = s.etag;
    if (w.offset() != size) {
      w.abort();
      return make_error(connector_errc::changed_during_copy,
                        shown(url) + ": " + std::to_string(w.offset()) + " bytes arrived of " +
                            std::to_string(size));
    }
    auto got = w.content_hash();
    if (!got) return std::move(got.error());
    if (*got != expected_hash) {
      w.abort();
      return make_error(connector_errc::changed_during_copy,
                        shown(url) + ": the copy's XXH3 differs from the origin's");
    }
    auto done = info;
    done.size = size;
    done.hash = expected_hash;
    // The origin's modification time, when it says: the copy is of the file as it is now,
    // which may be newer than the version the caller asked for.
    uint64_t mtime_ns = 0;
    if (read_u64(s.mtime, mtime_ns) && mtime_ns <= static_cast<uint64_t>(INT64_MAX))
      done.mtime_ns = static_cast<int64_t>(mtime_ns);
    if (auto err = w.commit(done)) return err;
    fetch_result out;
    out.size = size;
    out.mtime_ns = done.mtime_ns;
    out.hash = expected_hash;
    out.received = s.received;
    out.resumed = offset > 0;
    return out;
  }
  return make_error(connector_errc::changed_during_copy,
                    shown(url) + ": the origin's file kept changing; try again later");
}

}  // namespace syncline::connectors
