#include "connectors/http_common.hpp"

#include <atomic>
#include <mutex>

#include <curl/curl.h>

namespace syncline::connectors {

namespace detail {

void start_curl() {
  static std::once_flag global;
  std::call_once(global, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = s[i], b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool read_u64(std::string_view s, uint64_t& out, int base) noexcept {
  if (s.empty() || s.size() > (base == 16 ? 16u : 19u)) return false;
  out = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : 99;
    if (d >= base) return false;
    out = out * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
  }
  return true;
}

bool read_content_range(std::string_view value, uint64_t& first, uint64_t& size) noexcept {
  auto dash = value.find('-'), slash = value.find('/');
  return value.substr(0, 6) == "bytes " && dash != std::string_view::npos &&
         slash != std::string_view::npos && read_u64(value.substr(6, dash - 6), first) &&
         read_u64(value.substr(slash + 1), size);
}

std::string shown(std::string_view url) { return std::string{url.substr(0, url.find('?'))}; }

namespace {
int cancel_progress(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* f = static_cast<const std::atomic<bool>*>(flag);
  return f != nullptr && f->load(std::memory_order_relaxed) ? 1 : 0;
}
}  // namespace

void watch_cancel(void* curl, const std::atomic<bool>* flag) {
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, flag == nullptr ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &cancel_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(flag));
}

void set_request(void* curl, const std::string& url, void* headers, curl_data_fn on_header,
                 curl_data_fn on_body, void* user, long connect_timeout_s,
                 const std::atomic<bool>* cancel, const std::string& ca_file) {
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(headers));
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, user);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, user);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // Certificates are always verified (peer and host name); only the trusted set may change.
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.empty() ? nullptr : ca_file.c_str());
  watch_cancel(curl, cancel);
}

std::string url_escape(std::string_view s) {
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  std::string out = e != nullptr ? e : "";
  curl_free(e);
  return out;
}

long status_of(std::string_view line) noexcept {
  auto sp = line.find(' ');
  uint64_t code = 0;
  if (sp == std::string_view::npos || !read_u64(line.substr(sp + 1, 3), code)) return 0;
  return static_cast<long>(code);
}

}  // namespace detail

using detail::starts_with_nocase;

bool secure_enough(const std::string& url) noexcept {
  std::string_view u{url};
  if (starts_with_nocase(u, "https://")) return true;
  if (!starts_with_nocase(u, "http://")) return false;
  u.remove_prefix(7);
  auto end = u.find_first_of("/?#");
  auto authority = u.substr(0, end);
  if (authority.find('@') != std::string_view::npos) return false;
  std::string_view host;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    return host == "::1";
  }
  host = authority.substr(0, authority.find(':'));
  if (starts_with_nocase(host, "localhost") && host.size() == 9) return true;
  // 127.0.0.0/8, dotted quad only.
  if (host.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

}  // namespace syncline::connectors
