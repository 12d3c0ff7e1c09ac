#include "connectors/http_source.hpp"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>

#include <curl/curl.h>
#include <simdjson.h>

#include "connectors/error.hpp"
#include "connectors/http_common.hpp"
#include "connectors/http_stream.hpp"

namespace syncline::connectors {

using detail::read_u64;
using detail::shown;
using detail::starts_with_nocase;
using detail::trim;

const char* to_string(http_paging p) noexcept {
  switch (p) {
    case http_paging::none: return "none";
    case http_paging::next_url: return "next_url";
    case http_paging::cursor: return "cursor";
    case http_paging::link_header: return "link_header";
    case http_paging::page: return "page";
    case http_paging::offset: return "offset";
  }
  return "none";
}

bool http_paging_from_string(std::string_view s, http_paging& out) noexcept {
  for (auto p : {http_paging::none, http_paging::next_url, http_paging::cursor,
                 http_paging::link_header, http_paging::page, http_paging::offset})
    if (s == to_string(p)) {
      out = p;
      return true;
    }
  return false;
}

namespace {

using entry_map = std::map<std::string, http_source::entry>;

// --- URLs -----------------------------------------------------------------------------------

struct curl_url_handle {
  CURLU* h = curl_url();
  ~curl_url_handle() { curl_url_cleanup(h); }
};

std::string take(char* s) {
  std::string out = s != nullptr ? s : "";
  curl_free(s);
  return out;
}

// `relative` resolved against `base` (an absolute URL stays as it is); empty when it cannot be.
std::string resolve(const std::string& base, const std::string& relative) {
  curl_url_handle u;
  if (curl_url_set(u.h, CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) return {};
  if (curl_url_set(u.h, CURLUPART_URL, relative.c_str(), 0) != CURLUE_OK) return {};
  char* out = nullptr;
  if (curl_url_get(u.h, CURLUPART_URL, &out, 0) != CURLUE_OK) return {};
  return take(out);
}

// Whether two absolute URLs share scheme, host and port (ASCII case aside).
bool same_origin(const std::string& a, const std::string& b) {
  auto origin = [](const std::string& u) {
    auto scheme = u.find("://");
    if (scheme == std::string::npos) return std::string{};
    auto end = u.find_first_of("/?#", scheme + 3);
    std::string o = u.substr(0, end);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
  };
  auto x = origin(a);
  return !x.empty() && x == origin(b);
}

// `url` with the query parameter `name` set to `value` (replacing one already there).
std::string with_param(const std::string& url, const std::string& name, const std::string& value) {
  auto hash = url.find('#');
  std::string base = url.substr(0, hash);
  auto q = base.find('?');
  std::string path = base.substr(0, q), query = q == std::string::npos ? "" : base.substr(q + 1);
  std::string kept;
  size_t at = 0;
  while (at <= query.size() && !query.empty()) {
    auto amp = query.find('&', at);
    auto part = query.substr(at, amp == std::string::npos ? std::string::npos : amp - at);
    auto key = part.substr(0, part.find('='));
    if (!part.empty() && key != name) kept += (kept.empty() ? "" : "&") + part;
    if (amp == std::string::npos) break;
    at = amp + 1;
  }
  kept += (kept.empty() ? "" : "&") + detail::url_escape(name) + "=" + detail::url_escape(value);
  return path + "?" + kept;
}

// The URL of `Link: <url>; rel="next"` (RFC 8288), or empty.
std::string next_link(std::string_view header) {
  while (!header.empty()) {
    auto open = header.find('<');
    if (open == std::string_view::npos) return {};
    auto close = header.find('>', open);
    if (close == std::string_view::npos) return {};
    auto target = header.substr(open + 1, close - open - 1);
    auto rest = header.substr(close + 1);
    auto end = rest.find('<');
    auto params = rest.substr(0, end);
    // rel="next" or rel=next, possibly among other relation types.
    auto rel = params.find("rel=");
    if (rel != std::string_view::npos) {
      auto value = params.substr(rel + 4);
      if (!value.empty() && value.front() == '"') value = value.substr(1, value.find('"', 1) - 1);
      else value = value.substr(0, value.find_first_of(";, "));
      size_t at = 0;
      while (at < value.size()) {
        auto sp = value.find(' ', at);
        if (value.substr(at, sp == std::string_view::npos ? std::string_view::npos : sp - at) == "next")
          return std::string{target};
        if (sp == std::string_view::npos) break;
        at = sp + 1;
      }
    }
    if (end == std::string_view::npos) return {};
    header = rest.substr(end);
  }
  return {};
}

// --- values ---------------------------------------------------------------------------------

// RFC 3339 (`2024-05-01T10:00:00Z`, `...00.5+02:00`) as ns since the epoch.
bool read_rfc3339(std::string_view s, int64_t& out) {
  std::string text{s};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec,
                  &used) != 6)
    return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t ns = 0;
  size_t at = static_cast<size_t>(used);
  if (at < text.size() && text[at] == '.') {
    int64_t scale = 100000000;
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, scale /= 10)
      ns += (text[at] - '0') * scale;
  }
  int64_t offset_s = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int oh = 0, om = 0;
    if (std::sscanf(text.c_str() + at + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset_s = (oh * 3600 + om * 60) * (text[at] == '-' ? -1 : 1);
    at += 6;
  } else {
    return false;
  }
  if (at != text.size()) return false;
  out = (static_cast<int64_t>(::timegm(&tm)) - offset_s) * 1000000000 + ns;
  return true;
}

int64_t unit_ns(const std::string& unit) {
  if (unit == "ms") return 1000000;
  if (unit == "us") return 1000;
  if (unit == "ns") return 1;
  return 1000000000;
}

// The value at `pointer` as text (strings as they are, numbers written out); nullopt when
// missing or of another type.
std::optional<std::string> text_at(simdjson::dom::element item, const std::string& pointer) {
  simdjson::dom::element e = item;
  if (!pointer.empty() && item.at_pointer(pointer).get(e) != simdjson::SUCCESS) return std::nullopt;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: return std::string{e.get_string().value_unsafe()};
    case simdjson::dom::element_type::INT64: return std::to_string(e.get_int64().value_unsafe());
    case simdjson::dom::element_type::UINT64: return std::to_string(e.get_uint64().value_unsafe());
    default: return std::nullopt;
  }
}

// `{/pointer}` in `pattern` replaced by the item's value, each `/`-separated part escaped.
std::optional<std::string> expand(const std::string& pattern, simdjson::dom::element item) {
  std::string out;
  size_t at = 0;
  while (at < pattern.size()) {
    auto open = pattern.find("{/", at);
    if (open == std::string::npos) break;
    auto close = pattern.find('}', open);
    if (close == std::string::npos) break;
    out += pattern.substr(at, open - at);
    auto value = text_at(item, pattern.substr(open + 1, close - open - 1));
    if (!value) return std::nullopt;
    std::string_view v{*value};
    while (!v.empty() && v.front() == '/') v.remove_prefix(1);
    size_t from = 0;
    for (;;) {
      auto slash = v.find('/', from);
      out += detail::url_escape(v.substr(from, slash == std::string_view::npos ? std::string_view::npos : slash - from));
      if (slash == std::string_view::npos) break;
      out += '/';
      from = slash + 1;
    }
    at = close + 1;
  }
  return out + pattern.substr(at);
}

// --- requests -------------------------------------------------------------------------------



// One GET of a listing page, whole, on a handle reused from page to page.
struct page_client {
  const http_source_options& opt;
  detail::request_pacer* pacer;
  detail::authenticator* auth;
  CURL* curl = curl_easy_init();
  long status = 0;
  std::string body, link, retry_after;
  bool too_big = false;

  page_client(const http_source_options& o, detail::request_pacer* p, detail::authenticator* a)
      : opt(o), pacer(p), auth(a) {}
  ~page_client() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  static size_t on_header(char* data, size_t size, size_t n, void* p) {
    auto* self = static_cast<page_client*>(p);
    std::string_view line{data, size * n};
    if (starts_with_nocase(line, "http/")) {
      self->status = detail::status_of(line);
      self->link.clear();
      self->retry_after.clear();
    } else if (starts_with_nocase(line, "retry-after:")) {
      self->retry_after = std::string{trim(line.substr(12))};
    } else if (starts_with_nocase(line, "link:")) {
      if (!self->link.empty()) self->link += ", ";
      self->link += std::string{trim(line.substr(5))};
    }
    return size * n;
  }
  static size_t on_body(char* data, size_t size, size_t n, void* p) {
    auto* self = static_cast<page_client*>(p);
    if (self->body.size() + size * n > self->opt.max_page_bytes) {
      self->too_big = true;
      return 0;
    }
    self->body.append(data, size * n);
    return size * n;
  }

  // `once` with the credentials, paced, with answers 429 or 503 waited out as Retry-After says.
  caf::error get(const std::string& url) {
    return detail::authorized(auth, status, [&](const std::vector<std::string>& credentials) {
      return detail::within_limits(opt, pacer, retry_after, "listing", url,
                                   [&] { return once(url, credentials); });
    });
  }

  caf::error once(const std::string& url, const std::vector<std::string>& credentials) {
    if (curl == nullptr) return make_error(connector_errc::io_error, "libcurl could not start");
    status = 0;
    body.clear();
    link.clear();
    too_big = false;
    detail::header_list headers;
    for (auto& h : opt.headers) headers.add(h);
    for (auto& h : credentials) headers.add(h);
    headers.add("Accept: application/json");
    detail::set_request(curl, url, headers.list, &on_header, &on_body, this,
                        static_cast<long>(opt.timeout.count()), opt.cancel.get(), opt.ca_file);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opt.timeout.count()));
    auto rc = curl_easy_perform(curl);
    if (too_big)
      return make_error(connector_errc::io_error, "listing " + shown(url) + ": a page exceeds " +
                                                      std::to_string(opt.max_page_bytes) + " bytes");
    if (rc == CURLE_ABORTED_BY_CALLBACK)
      return make_error(connector_errc::cancelled, "listing " + shown(url) + ": stopped");
    if (rc != CURLE_OK)
      return make_error(connector_errc::network, "listing " + shown(url) + ": " + curl_easy_strerror(rc));
    if (status != 200) return detail::service_refusal(status, url, "listing");
    return caf::none;
  }
};

// Reads the listing, every page of it, into `out`.
caf::error read_listing(const http_source_options& opt, detail::request_pacer* pacer,
                        detail::authenticator* auth, entry_map& out) {
  page_client client{opt, pacer, auth};
  simdjson::dom::parser parser;
  std::string url = opt.url;
  uint64_t page_number = opt.first_page, offset = 0;
  auto paged = [&](std::string u) {
    if (opt.paging == http_paging::page) u = with_param(u, opt.page_param, std::to_string(page_number));
    if (opt.paging == http_paging::offset) u = with_param(u, opt.offset_param, std::to_string(offset));
    if (opt.paging != http_paging::none && !opt.limit_param.empty())
      u = with_param(u, opt.limit_param, std::to_string(opt.page_size));
    return u;
  };
  url = paged(url);
  std::set<std::string> seen_urls;
  for (uint64_t pages = 1;; ++pages) {
    if (!seen_urls.insert(url).second)
      return make_error(connector_errc::io_error,
                        "listing " + shown(opt.url) + ": page " + std::to_string(pages) +
                            " leads back to a page already read (" + shown(url) + ")");
    if (auto err = client.get(url)) return err;
    auto where = "listing " + shown(opt.url) + ", page " + std::to_string(pages);
    simdjson::dom::element doc;
    if (auto e = parser.parse(client.body).get(doc))
      return make_error(connector_errc::io_error, where + " is not JSON: " + simdjson::error_message(e));
    simdjson::dom::array items;
    simdjson::dom::element list = doc;
    if ((!opt.items_pointer.empty() && doc.at_pointer(opt.items_pointer).get(list) != simdjson::SUCCESS) ||
        list.get_array().get(items) != simdjson::SUCCESS)
      return make_error(connector_errc::io_error,
                        where + ": no array of items at '" + opt.items_pointer + "'");
    size_t count = 0;
    for (auto item : items) {
      ++count;
      auto ref = text_at(item, opt.reference_pointer);
      if (!ref)
        return make_error(connector_errc::io_error, where + ", item " + std::to_string(count) +
                                                        ": no reference at '" + opt.reference_pointer + "'");
      std::string reference = *ref;
      while (!reference.empty() && reference.front() == '/') reference.erase(0, 1);
      if (reference.empty() || reference.back() == '/') continue;  // the root, or a folder
      if (auto err = validate_reference(reference))
        return make_error(connector_errc::io_error, where + ": the item '" + *ref +
                                                        "' is not a relative path (" + render(err) + ")");
      http_source::entry e;
      e.info.reference = reference;
      e.info.kind = item_kind::file;
      e.info.mode = 0644;
      if (!opt.size_pointer.empty()) {
        uint64_t size = 0;
        auto v = item.at_pointer(opt.size_pointer);
        if (v.get(size) != simdjson::SUCCESS) {
          auto t = text_at(item, opt.size_pointer);
          if (!t || !read_u64(*t, size))
            return make_error(connector_errc::io_error, where + ": the size of '" + reference +
                                                            "' at '" + opt.size_pointer + "' is not a number");
        }
        e.info.size = size;
      }
      if (!opt.mtime_pointer.empty()) {
        auto v = item.at_pointer(opt.mtime_pointer);
        int64_t whole = 0;
        double real = 0;
        std::string_view text;
        if (v.get(whole) == simdjson::SUCCESS) {
          e.info.mtime_ns = whole * unit_ns(opt.mtime_unit);
        } else if (v.get(real) == simdjson::SUCCESS) {
          e.info.mtime_ns = static_cast<int64_t>(std::llround(real * static_cast<double>(unit_ns(opt.mtime_unit))));
        } else if (v.get(text) != simdjson::SUCCESS || !read_rfc3339(text, e.info.mtime_ns)) {
          return make_error(connector_errc::io_error, where + ": the modification time of '" + reference +
                                                          "' at '" + opt.mtime_pointer + "' is neither a number nor RFC 3339");
        }
      }
      if (!opt.hash_pointer.empty()) {
        if (auto h = text_at(item, opt.hash_pointer); h && !h->empty()) {
          uint64_t hash = 0;
          if (!read_u64(*h, hash, 16))
            return make_error(connector_errc::io_error, where + ": the hash of '" + reference +
                                                            "' is not 16 hex digits of XXH3-64");
          e.info.hash = hash;
        }
      }
      std::optional<std::string> content;
      if (!opt.content_pointer.empty()) {
        content = text_at(item, opt.content_pointer);
      } else {
        content = expand(opt.content_url, item);
      }
      if (!content || content->empty())
        return make_error(connector_errc::io_error, where + ": no content URL for '" + reference + "'");
      e.content = resolve(url, *content);
      if (e.content.empty())
        return make_error(connector_errc::io_error, where + ": the content URL of '" + reference +
                                                        "' is not a URL: " + shown(*content));
      if (out.size() >= opt.max_items)
        return make_error(connector_errc::io_error, "listing " + shown(opt.url) + ": more than " +
                                                        std::to_string(opt.max_items) + " items");
      auto ref_copy = e.info.reference;
      if (!out.emplace(std::move(ref_copy), std::move(e)).second)
        return make_error(connector_errc::io_error, where + ": '" + reference + "' is listed twice");
    }
    // The next page, if any.
    std::string next;
    switch (opt.paging) {
      case http_paging::none: break;
      case http_paging::next_url:
      case http_paging::cursor: {
        auto v = doc.at_pointer(opt.next_pointer);
        std::string value;
        if (!v.error()) {
          if (auto t = text_at(v.value_unsafe(), "")) value = *t;
        }
        if (value.empty()) break;
        next = opt.paging == http_paging::next_url ? resolve(url, value)
                                                   : with_param(url, opt.cursor_param, value);
        if (next.empty())
          return make_error(connector_errc::io_error, where + ": the next page's URL is not a URL: " + shown(value));
        break;
      }
      case http_paging::link_header: {
        auto target = next_link(client.link);
        if (!target.empty()) next = resolve(url, target);
        break;
      }
      case http_paging::page:
        if (count > 0) {
          ++page_number;
          next = paged(opt.url);
        }
        break;
      case http_paging::offset:
        if (count > 0) {
          offset += count;
          next = paged(opt.url);
        }
        break;
    }
    if (next.empty()) return caf::none;
    url = std::move(next);
  }
}

// --- listing --------------------------------------------------------------------------------

class http_listing final : public listing {
 public:
  explicit http_listing(std::vector<item_info> items) : items_(std::move(items)) {}
  caf::expected<bool> next(std::vector<item_info>& out, size_t max) override {
    while (max-- > 0 && at_ < items_.size()) out.push_back(std::move(items_[at_++]));
    return at_ < items_.size();
  }

 private:
  std::vector<item_info> items_;
  size_t at_ = 0;
};

}  // namespace

caf::expected<std::unique_ptr<http_source>> http_source::make(http_source_options options) {
  auto bad = [](const std::string& what) { return make_error(connector_errc::bad_config, what); };
  if (options.url.empty()) return bad("an http datasource needs a url (its listing's first page)");
  if (!starts_with_nocase(options.url, "http://") && !starts_with_nocase(options.url, "https://"))
    return bad("url must start with http:// or https://, got " + shown(options.url));
  if ((!options.headers.empty() || options.auth != http_auth::none) && !secure_enough(options.url) &&
      !options.allow_insecure)
    return bad("url " + shown(options.url) + ": credentials never travel over plain http beyond "
                                            "loopback (use https, or allow_insecure)");
  if ((options.paging == http_paging::next_url || options.paging == http_paging::cursor) &&
      options.next_pointer.empty())
    return bad(std::string{"paging = "} + to_string(options.paging) +
               " needs next_pointer (where a page says what comes next)");
  if (options.paging == http_paging::cursor && options.cursor_param.empty())
    return bad("paging = cursor needs cursor_param");
  if (options.auth == http_auth::oauth2) {
    if (options.token_url.empty()) return bad("auth = oauth2 needs token_url (where access tokens are refreshed)");
    if (!starts_with_nocase(options.token_url, "http://") && !starts_with_nocase(options.token_url, "https://"))
      return bad("token_url must start with http:// or https://, got " + shown(options.token_url));
    if (!secure_enough(options.token_url) && !options.allow_insecure)
      return bad("token_url " + shown(options.token_url) + ": credentials never travel over plain http "
                                                          "beyond loopback (use https, or allow_insecure)");
  }
  if (options.page_size == 0) return bad("page_size must be at least 1");
  if (!(options.requests_per_s >= 0)) return bad("requests_per_s may not be negative");
  if (options.reference_pointer.empty()) return bad("reference_pointer may not be empty");
  if (options.content_pointer.empty() && options.content_url.empty())
    return bad("an http datasource needs content_pointer or content_url (where each file's bytes are)");
  for (auto* p : {&options.items_pointer, &options.next_pointer, &options.reference_pointer,
                  &options.size_pointer, &options.mtime_pointer, &options.hash_pointer,
                  &options.content_pointer})
    if (!p->empty() && p->front() != '/')
      return bad("a JSON pointer starts with '/', got '" + *p + "'");
  auto unit = options.mtime_unit;
  if (unit != "s" && unit != "ms" && unit != "us" && unit != "ns")
    return bad("mtime_unit must be one of s, ms, us, ns, got '" + unit + "'");
  auto filter = path_filter::make(options.include, options.exclude);
  if (!filter) return std::move(filter.error());
  detail::start_curl();
  return std::unique_ptr<http_source>{new http_source(std::move(options), std::move(*filter))};
}

http_source::http_source(http_source_options options, path_filter filter)
    : opt_(std::move(options)),
      filter_(std::move(filter)),
      pacer_(std::make_shared<detail::request_pacer>(opt_.requests_per_s)),
      handles_(std::make_shared<detail::handle_pool>()) {
  if (opt_.auth == http_auth::none) return;
  detail::authenticator::options a;
  a.kind = opt_.auth;
  a.token_url = opt_.token_url;
  a.wallet = opt_.wallet;
  a.ca_file = opt_.ca_file;
  a.timeout_s = static_cast<long>(opt_.timeout.count());
  a.cancel = opt_.cancel;
  auth_ = std::make_shared<detail::authenticator>(std::move(a));
}

http_source::~http_source() = default;

std::string http_source::describe() const { return "http " + shown(opt_.url); }

caf::error http_source::check() {
  if (auth_) auth_->reload();
  page_client client{opt_, pacer_.get(), auth_.get()};
  return client.get(opt_.url);
}

caf::expected<std::unique_ptr<listing>> http_source::list() {
  auto read = std::make_shared<entry_map>();
  if (auth_) auth_->reload();  // credentials stored since the last run
  if (auto err = read_listing(opt_, pacer_.get(), auth_.get(), *read)) return err;
  // Kept, then folders implied by the paths, in reference order.
  for (auto it = read->begin(); it != read->end();)
    it = filter_.admits(it->first) ? std::next(it) : read->erase(it);
  std::vector<item_info> items;
  items.reserve(read->size());
  std::set<std::string> folders;
  for (auto& kv : *read) {
    auto& ref = kv.first;
    for (auto slash = ref.find('/'); slash != std::string::npos; slash = ref.find('/', slash + 1))
      folders.insert(ref.substr(0, slash + 1));
  }
  auto f = folders.begin();
  for (auto& [ref, e] : *read) {
    for (; f != folders.end() && reference_less(*f, ref); ++f) {
      item_info d;
      d.reference = *f;
      d.kind = item_kind::directory;
      d.mode = 0755;
      items.push_back(std::move(d));
    }
    items.push_back(e.info);
  }
  {
    std::lock_guard<std::mutex> g{mtx_};
    known_ = std::move(read);
  }
  return std::unique_ptr<listing>{new http_listing(std::move(items))};
}

caf::expected<item_info> http_source::stat(std::string_view reference) {
  std::string ref{reference};
  if (auto err = validate_reference(ref)) return err;
  std::shared_ptr<const entry_map> known;
  {
    std::lock_guard<std::mutex> g{mtx_};
    known = known_;
  }
  if (known) {
    auto it = known->find(ref);
    if (it != known->end()) return it->second.info;
    if (ref.back() == '/') {
      auto below = known->lower_bound(ref);
      if (below != known->end() && below->first.compare(0, ref.size(), ref) == 0) {
        item_info d;
        d.reference = ref;
        d.kind = item_kind::directory;
        d.mode = 0755;
        return d;
      }
    }
  }
  return make_error(connector_errc::not_found, describe() + ": no item '" + ref + "' in the last listing");
}

caf::expected<std::unique_ptr<item_reader>> http_source::open(std::string_view reference, uint64_t offset) {
  std::string ref{reference};
  if (auto err = validate_reference(ref)) return err;
  if (ref.back() == '/') return make_error(connector_errc::invalid_path, ref + " is a folder");
  std::shared_ptr<const entry_map> known;
  {
    std::lock_guard<std::mutex> g{mtx_};
    known = known_;
  }
  if (!known) {
    // Opened before any listing (a run resumed after a restart): list first.
    auto l = list();
    if (!l) return std::move(l.error());
    std::lock_guard<std::mutex> g{mtx_};
    known = known_;
  }
  auto it = known->find(ref);
  if (it == known->end())
    return make_error(connector_errc::not_found, describe() + ": no item '" + ref + "' in the last listing");
  // Credentials go to the listing's origin only.
  auto auth = same_origin(opt_.url, it->second.content) ? auth_ : nullptr;
  return detail::open_http_stream(opt_, pacer_, std::move(auth), handles_, it->second.info,
                                  it->second.content, offset);
}

}  // namespace syncline::connectors
