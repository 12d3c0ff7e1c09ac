#include "connectors/http_stream.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <thread>

#include <curl/curl.h>
#include <xxhash.h>

#include "connectors/error.hpp"
#include "connectors/http_common.hpp"

namespace syncline::connectors::detail {

caf::error service_refusal(long status, const std::string& url, const std::string& what) {
  auto code = std::to_string(status);
  switch (status) {
    case 401:
    case 403:
      return make_error(connector_errc::permission_denied,
                        what + " " + shown(url) + ": the service refused the credentials (" + code + ")");
    case 404:
      return make_error(connector_errc::not_found, what + " " + shown(url) + ": not found (404)");
    case 429:
    case 503:
      return make_error(connector_errc::busy, what + " " + shown(url) + ": the service is busy (" + code + ")");
    default:
      return make_error(connector_errc::network, what + " " + shown(url) + ": the service answered " + code);
  }
}

request_pacer::request_pacer(double per_s) {
  if (per_s > 0)
    interval_ = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>{1.0 / per_s});
}

std::chrono::steady_clock::time_point request_pacer::reserve(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> g{mtx_};
  auto slot = std::max(now, next_);
  next_ = slot + interval_;
  return slot;
}

bool request_pacer::wait(const std::atomic<bool>* cancel) {
  if (interval_ == std::chrono::steady_clock::duration{}) return true;
  auto now = std::chrono::steady_clock::now();
  return pause_for(reserve(now) - now, cancel);
}

std::optional<std::chrono::seconds> retry_after(const std::string& value, std::chrono::seconds most) {
  auto v = trim(value);
  if (v.empty()) return std::nullopt;
  uint64_t seconds = 0;
  if (read_u64(v, seconds)) return std::min(std::chrono::seconds{std::min<uint64_t>(seconds, 1u << 30)}, most);
  auto when = curl_getdate(std::string{v}.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  auto left = static_cast<int64_t>(when) - static_cast<int64_t>(std::time(nullptr));
  return std::min(std::chrono::seconds{std::max<int64_t>(left, 0)}, most);
}

bool pause_for(std::chrono::steady_clock::duration how_long, const std::atomic<bool>* cancel) {
  auto until = std::chrono::steady_clock::now() + how_long;
  for (;;) {
    if (cancel != nullptr && cancel->load()) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds{100}));
  }
}

std::chrono::seconds busy_backoff(uint32_t n) {
  return std::chrono::seconds{std::min<uint32_t>(60, 1u << std::min<uint32_t>(n > 0 ? n - 1 : 0, 6))};
}

handle_pool::~handle_pool() {
  for (auto& h : idle_) free(h);
}

handle_pool::handles handle_pool::take() {
  {
    std::lock_guard<std::mutex> g{mtx_};
    if (!idle_.empty()) {
      auto h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  handles h{curl_multi_init(), curl_easy_init()};
  if (h.multi == nullptr || h.easy == nullptr) {
    free(h);
    return {};
  }
  return h;
}

void handle_pool::give(handles h) {
  {
    std::lock_guard<std::mutex> g{mtx_};
    if (idle_.size() < max_idle) {
      idle_.push_back(h);
      return;
    }
  }
  free(h);
}

void handle_pool::free(handles h) noexcept {
  if (h.easy != nullptr) curl_easy_cleanup(static_cast<CURL*>(h.easy));
  if (h.multi != nullptr) curl_multi_cleanup(static_cast<CURLM*>(h.multi));
}

header_list::~header_list() { curl_slist_free_all(list); }

void header_list::add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }

void header_list::clear() {
  curl_slist_free_all(list);
  list = nullptr;
}

namespace {

// Streams one content URL through libcurl's multi interface, so that `read` pulls bytes as the
// caller wants them (at most about a megabyte waits in memory).
class http_reader final : public item_reader {
 public:
  http_reader(http_source_options opt, std::shared_ptr<request_pacer> pacer,
              std::shared_ptr<authenticator> auth, std::shared_ptr<handle_pool> handles,
              item_info info, std::string url, uint64_t offset)
      : opt_(std::move(opt)),
        pacer_(std::move(pacer)),
        auth_(std::move(auth)),
        handles_(std::move(handles)),
        info_(std::move(info)),
        url_(std::move(url)),
        offset_(offset) {}
  ~http_reader() override {
    if (multi_ != nullptr && easy_ != nullptr && added_) curl_multi_remove_handle(multi_, easy_);
    // A transfer read to its end leaves a connection ready for the next request.
    handle_pool::handles h{multi_, easy_};
    if (done_ && result_ == CURLE_OK)
      handles_->give(h);
    else
      handle_pool::free(h);
  }

  caf::error start() {
    auto h = handles_->take();
    multi_ = static_cast<CURLM*>(h.multi);
    easy_ = static_cast<CURL*>(h.easy);
    if (multi_ == nullptr) return make_error(connector_errc::io_error, "libcurl could not start");
    if (auto err = request(offset_)) return err;
    if (info_.hash && offset_ == 0) {
      hash_.reset(XXH3_createState());
      XXH3_64bits_reset(hash_.get());
    }
    return caf::none;
  }

  const item_info& info() const noexcept override { return info_; }

  caf::expected<size_t> read(char* buf, size_t n) override {
    for (;;) {
      if (pos_ < buffer_.size()) {
        if (skip_ > 0) {
          auto dropped = std::min<uint64_t>(skip_, buffer_.size() - pos_);
          pos_ += static_cast<size_t>(dropped);
          skip_ -= dropped;
          continue;
        }
        auto take_n = std::min(n, buffer_.size() - pos_);
        std::memcpy(buf, buffer_.data() + pos_, take_n);
        pos_ += take_n;
        delivered_ += take_n;
        if (hash_) XXH3_64bits_update(hash_.get(), buf, take_n);
        return take_n;
      }
      if (done_) {
        if (result_ == CURLE_ABORTED_BY_CALLBACK)
          return make_error(connector_errc::cancelled, "fetching " + shown(url_) + ": stopped");
        if (result_ != CURLE_OK && reconnects_ < max_reconnects) {
          // The connection broke in the middle: ask for the rest (a file changed since comes
          // whole, which ends this copy; the next run starts it again).
          ++reconnects_;
          if (auto err = request(offset_ + delivered_)) return err;
          continue;
        }
        if (result_ != CURLE_OK)
          return make_error(connector_errc::network, "fetching " + shown(url_) + ": " +
                                                         curl_easy_strerror(result_) + " after " +
                                                         std::to_string(delivered_) + " bytes");
        return size_t{0};
      }
      if (auto err = drive_until_data_or_end()) return err;
    }
  }

  /// How many times a broken connection was picked up again with a range.
  uint32_t reconnects() const noexcept { return reconnects_; }

 private:
  static constexpr uint32_t max_reconnects = 3;

  // `ask` with the credentials and the service's limits: paced, and answers 429 or 503 waited
  // out (Retry-After).
  caf::error request(uint64_t from) {
    return authorized(auth_.get(), status_, [&](const std::vector<std::string>& credentials) {
      return within_limits(opt_, pacer_.get(), retry_after_, "fetching", url_,
                           [&] { return ask(from, credentials); });
    });
  }

  // Asks for the file from byte `from` on a fresh handle and reads the answer's head: the
  // status, where the body begins and the file's size, checked against what is known.
  caf::error ask(uint64_t from, const std::vector<std::string>& credentials) {
    // The same handle again (its connection kept when it can be), every option set afresh.
    if (added_) curl_multi_remove_handle(multi_, easy_);
    added_ = false;
    curl_easy_reset(easy_);
    status_ = 0;
    headers_done_ = false;
    content_range_.clear();
    retry_after_.clear();
    buffer_.clear();
    pos_ = 0;
    paused_ = false;
    done_ = false;
    result_ = CURLE_OK;
    std::string first_etag = etag_;
    headers_.clear();
    for (auto& h : opt_.headers) headers_.add(h);
    for (auto& h : credentials) headers_.add(h);
    range_ = "Range: bytes=" + std::to_string(from) + "-";
    if_range_ = "If-Range: " + first_etag;
    if (from > 0) headers_.add(range_);
    if (from > 0 && !first_etag.empty()) headers_.add(if_range_);
    detail::set_request(easy_, url_, headers_.list, &on_header, &on_body, this,
                        static_cast<long>(opt_.timeout.count()), opt_.cancel.get(), opt_.ca_file);
    curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy_, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opt_.timeout.count()));
    curl_multi_add_handle(multi_, easy_);
    added_ = true;
    // Until the answer's status and first bytes (or its end): errors belong to the caller.
    while (!done_ && (status_ == 0 || (buffer_.size() == pos_ && !headers_done_)))
      if (auto err = drive()) return err;
    if (auto err = drive_until_data_or_end()) return err;
    if (done_ && result_ == CURLE_ABORTED_BY_CALLBACK)
      return make_error(connector_errc::cancelled, "fetching " + shown(url_) + ": stopped");
    if (status_ == 0)
      return make_error(connector_errc::network,
                        "fetching " + shown(url_) + ": " + curl_easy_strerror(result_));
    if (status_ != 200 && status_ != 206) {
      if (status_ == 416 && from > 0)
        return make_error(connector_errc::changed_during_copy,
                          "fetching " + shown(url_) + ": the file is shorter than the part already copied");
      return service_refusal(status_, url_, "fetching");
    }
    bool again = from != offset_;
    uint64_t total = 0;
    if (status_ == 206) {
      uint64_t first = 0;
      if (!read_content_range(content_range_, first, total) || first != from)
        return make_error(connector_errc::network, "fetching " + shown(url_) + ": a Content-Range that does not continue the copy");
    } else {
      if (again && !first_etag.empty())
        return make_error(connector_errc::changed_during_copy,
                          "fetching " + shown(url_) + ": the file changed while it was fetched");
      curl_off_t length = -1;
      curl_easy_getinfo(easy_, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      total = length >= 0 ? static_cast<uint64_t>(length) : 0;
      skip_ = from;  // the service ignored the range: what is already copied is skipped
    }
    if (total > 0 && info_.size == 0 && !again) info_.size = total;  // the listing did not say
    if (total > 0 && total != info_.size) size_changed_ = true;
    return caf::none;
  }

 public:
  caf::expected<bool> changed() override {
    if (size_changed_ || offset_ + delivered_ != info_.size) return true;
    if (hash_ && XXH3_64bits_digest(hash_.get()) != *info_.hash)
      return make_error(connector_errc::hash_mismatch,
                        "fetching " + shown(url_) + ": the content's XXH3-64 differs from the listing's");
    return false;
  }

 private:
  static size_t on_header(char* data, size_t size, size_t n, void* p) {
    auto* self = static_cast<http_reader*>(p);
    std::string_view line{data, size * n};
    if (starts_with_nocase(line, "http/")) {
      self->status_ = detail::status_of(line);
      self->content_range_.clear();
      self->headers_done_ = false;
    } else if (starts_with_nocase(line, "content-range:")) {
      self->content_range_ = std::string{trim(line.substr(14))};
    } else if (starts_with_nocase(line, "etag:")) {
      self->etag_ = std::string{trim(line.substr(5))};
    } else if (starts_with_nocase(line, "retry-after:")) {
      self->retry_after_ = std::string{trim(line.substr(12))};
    } else if (trim(line).empty()) {
      self->headers_done_ = true;
    }
    return size * n;
  }
  static size_t on_body(char* data, size_t size, size_t n, void* p) {
    auto* self = static_cast<http_reader*>(p);
    if (self->status_ != 200 && self->status_ != 206) return size * n;  // an error's text
    if (self->buffer_.size() - self->pos_ >= (size_t{1} << 20)) {
      self->paused_ = true;
      return CURL_WRITEFUNC_PAUSE;
    }
    if (self->pos_ == self->buffer_.size()) {
      self->buffer_.clear();
      self->pos_ = 0;
    }
    self->buffer_.append(data, size * n);
    return size * n;
  }

  // One round of libcurl's work, waiting up to a second for the socket.
  caf::error drive() {
    int running = 0;
    if (curl_multi_perform(multi_, &running) != CURLM_OK)
      return make_error(connector_errc::io_error, "fetching " + shown(url_) + ": libcurl failed");
    int left = 0;
    while (auto* msg = curl_multi_info_read(multi_, &left))
      if (msg->msg == CURLMSG_DONE) {
        done_ = true;
        result_ = msg->data.result;
      }
    if (!done_ && running > 0 && pos_ == buffer_.size())
      curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
    return caf::none;
  }

  caf::error drive_until_data_or_end() {
    if (paused_ && pos_ == buffer_.size()) {
      buffer_.clear();
      pos_ = 0;
      paused_ = false;
      curl_easy_pause(easy_, CURLPAUSE_CONT);
    }
    while (!done_ && pos_ == buffer_.size())
      if (auto err = drive()) return err;
    return caf::none;
  }

  const http_source_options opt_;
  std::shared_ptr<request_pacer> pacer_;
  std::shared_ptr<authenticator> auth_;
  std::shared_ptr<handle_pool> handles_;
  item_info info_;
  std::string url_;
  uint64_t offset_ = 0;
  CURLM* multi_ = nullptr;
  CURL* easy_ = nullptr;
  bool added_ = false;  // easy_ is in multi_
  header_list headers_;
  std::string range_, if_range_, etag_, retry_after_;
  uint32_t reconnects_ = 0;
  long status_ = 0;
  bool headers_done_ = false;
  std::string content_range_;
  std::string buffer_;
  size_t pos_ = 0;
  bool paused_ = false;
  bool done_ = false;
  CURLcode result_ = CURLE_OK;
  uint64_t skip_ = 0;
  uint64_t delivered_ = 0;
  bool size_changed_ = false;
  struct hash_free {
    void operator()(XXH3_state_t* s) const noexcept { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, hash_free> hash_;
};

}  // namespace

caf::expected<std::unique_ptr<item_reader>> open_http_stream(http_source_options opt,
                                                             std::shared_ptr<request_pacer> pacer,
                                                             std::shared_ptr<authenticator> auth,
                                                             std::shared_ptr<handle_pool> handles,
                                                             item_info info, std::string url,
                                                             uint64_t offset) {
  auto reader = std::make_unique<http_reader>(std::move(opt), std::move(pacer), std::move(auth),
                                              std::move(handles), std::move(info),
                                              std::move(url), offset);
  if (auto err = reader->start()) return err;
  return std::unique_ptr<item_reader>{std::move(reader)};
}

}  // namespace syncline::connectors::detail
