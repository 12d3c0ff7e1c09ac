#include "connectors/tracker_client.hpp"

#include <utility>
#include <vector>

#include <curl/curl.h>
#include <simdjson.h>

#include "connectors/error.hpp"
#include "connectors/http_common.hpp"

namespace syncline::connectors {

namespace {

// The tracker's error text (`{"error": "..."}`), or the start of the body.
std::string error_text(const std::string& body) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  std::string_view msg;
  if (!p.parse(body).get(doc) && !doc["error"].get(msg)) return std::string{msg};
  return body.substr(0, 200);
}

}  // namespace

std::optional<int64_t> flat_element::integer(std::string_view key) const {
  auto it = keys.find(key);
  if (it == keys.end()) return std::nullopt;
  if (auto* i = std::get_if<int64_t>(&it->second)) return *i;
  if (auto* d = std::get_if<double>(&it->second)) return static_cast<int64_t>(*d);
  return std::nullopt;
}

std::optional<bool> flat_element::boolean(std::string_view key) const {
  auto it = keys.find(key);
  if (it == keys.end()) return std::nullopt;
  if (auto* b = std::get_if<bool>(&it->second)) return *b;
  return std::nullopt;
}

std::optional<std::string> flat_element::text(std::string_view key) const {
  auto it = keys.find(key);
  if (it == keys.end()) return std::nullopt;
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  return std::nullopt;
}

namespace {

flat_element flatten(simdjson::dom::object obj) {
  flat_element out;
  for (auto field : obj) {
    flat_element::value v;
    switch (field.value.type()) {
      case simdjson::dom::element_type::BOOL: v = bool(field.value.get_bool()); break;
      case simdjson::dom::element_type::INT64: v = int64_t(field.value.get_int64()); break;
      case simdjson::dom::element_type::UINT64:
        v = static_cast<double>(uint64_t(field.value.get_uint64()));
        break;
      case simdjson::dom::element_type::DOUBLE: v = double(field.value.get_double()); break;
      case simdjson::dom::element_type::STRING:
        v = std::string{std::string_view(field.value.get_string())};
        break;
      case simdjson::dom::element_type::NULL_VALUE: v = std::monostate{}; break;
      default: continue;  // objects and arrays
    }
    out.keys.emplace(std::string{field.key}, std::move(v));
  }
  return out;
}

}  // namespace

std::optional<flat_element> flatten_element(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json.data(), json.size()).get(doc)) return std::nullopt;
  simdjson::dom::object obj;
  if (doc.get(obj)) return std::nullopt;
  return flatten(obj);
}

std::optional<std::vector<std::optional<flat_element>>> flatten_elements(std::string_view json) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(json.data(), json.size()).get(doc)) return std::nullopt;
  std::vector<std::optional<flat_element>> out;
  simdjson::dom::object obj;
  if (!doc.get(obj)) {
    out.emplace_back(flatten(obj));
    return out;
  }
  simdjson::dom::array all;
  if (doc.get(all)) return std::nullopt;
  for (auto e : all) {
    if (!e.get(obj))
      out.emplace_back(flatten(obj));
    else if (e.is_null())
      out.emplace_back(std::nullopt);
    else
      return std::nullopt;
  }
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

struct tracker_client::impl {
  tracker_options opt;
  CURL* curl = nullptr;
  long status = 0;
  std::string body;
  // stream(): where a 200's body goes, and whether it asked to stop.
  const std::function<bool(std::string_view)>* sink = nullptr;
  bool sink_stopped = false;

  static size_t on_header(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<impl*>(self_ptr);
    std::string_view line{data, size * n};
    if (detail::starts_with_nocase(line, "http/")) {
      self->status = detail::status_of(line);
      self->body.clear();
    }
    return size * n;
  }
  static size_t on_body(char* data, size_t size, size_t n, void* self_ptr) {
    auto* self = static_cast<impl*>(self_ptr);
    if (self->sink != nullptr && self->status == 200) {
      if ((*self->sink)(std::string_view{data, size * n})) return size * n;
      self->sink_stopped = true;
      return 0;
    }
    self->body.append(data, size * n);
    // An answer of the tracker is JSON of bounded size (its own limits); a stream beyond
    // 256 MiB is not one of them.
    return self->body.size() > (size_t{256} << 20) ? 0 : size * n;
  }

  // One request: `method url` with `body` and `extra` headers; `total` bounds the whole
  // exchange (0: no bound, `idle` then ends a transfer that stalls). Errors as `call` says.
  caf::expected<tracker_reply> perform(std::string_view method, std::string_view path,
                                       std::string_view body_out,
                                       const std::vector<std::string>& extra,
                                       std::chrono::seconds total, std::chrono::seconds idle);
};

caf::expected<tracker_reply> tracker_client::impl::perform(std::string_view method,
                                                           std::string_view path,
                                                           std::string_view body_out,
                                                           const std::vector<std::string>& extra,
                                                           std::chrono::seconds total,
                                                           std::chrono::seconds idle) {
  if (curl == nullptr) return make_error(connector_errc::io_error, "libcurl could not start");
  std::string url = opt.url + std::string{path};
  std::string where = std::string{method} + " " + detail::shown(url);
  if (!secure_enough(url) && !opt.allow_insecure)
    return make_error(connector_errc::invalid_path,
                      where + ": a token never travels over plain http beyond loopback (use "
                              "https, or allow_insecure)");
  status = 0;
  body.clear();
  sink_stopped = false;
  curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + opt.token;
  if (!opt.token.empty()) headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  for (auto& h : extra) headers = curl_slist_append(headers, h.c_str());
  std::string verb{method};
  auto* c = curl;
  detail::set_request(c, url, headers, &impl::on_header, &impl::on_body, this,
                      static_cast<long>(opt.timeout.count()), opt.cancel.get(), opt.ca_file);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
  if (verb == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body_out.empty() ? "" : body_out.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_out.size()));
    if (verb != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, verb.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(total.count()));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, idle.count() > 0 ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(idle.count()));
  auto rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  if (sink_stopped) return tracker_reply{status, {}};
  if (rc == CURLE_ABORTED_BY_CALLBACK)
    return make_error(connector_errc::cancelled, where + ": the node is stopping");
  if (rc != CURLE_OK)
    return make_error(connector_errc::network, where + ": " + curl_easy_strerror(rc));
  if (status < 100)
    return make_error(connector_errc::network, where + ": no HTTP answer");
  if (!opt.every_status) {
    switch (status) {
      case 401:
      case 403:
        return make_error(connector_errc::permission_denied,
                          where + ": the tracker refused the token (" + std::to_string(status) +
                              ": " + error_text(body) + ")");
      case 429:
      case 503:
        return make_error(connector_errc::busy,
                          where + ": the tracker is busy (" + std::to_string(status) + ")");
      default:
        break;
    }
    if (status >= 500 || status < 200)
      return make_error(connector_errc::network,
                        where + ": the tracker answered " + std::to_string(status) + ": " +
                            error_text(body));
  }
  tracker_reply out;
  out.status = status;
  out.body = std::move(body);
  return out;
}

tracker_client::tracker_client(tracker_options options) : impl_(std::make_unique<impl>()) {
  detail::start_curl();
  while (!options.url.empty() && options.url.back() == '/') options.url.pop_back();
  impl_->opt = std::move(options);
  impl_->curl = curl_easy_init();
}

tracker_client::~tracker_client() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

const tracker_options& tracker_client::options() const noexcept { return impl_->opt; }

caf::expected<tracker_reply> tracker_client::call(std::string_view method, std::string_view path,
                                                  std::string_view body,
                                                  std::chrono::seconds extra_wait) {
  impl_->sink = nullptr;
  return impl_->perform(method, path, body, {}, impl_->opt.timeout + extra_wait,
                        std::chrono::seconds{0});
}

caf::expected<tracker_reply> tracker_client::stream(
    std::string_view path, const std::string& last_event_id,
    const std::function<bool(std::string_view)>& on_data, std::chrono::seconds idle) {
  std::vector<std::string> extra{"Accept: text/event-stream"};
  if (!last_event_id.empty()) extra.push_back("Last-Event-ID: " + last_event_id);
  impl_->sink = &on_data;
  auto out = impl_->perform("GET", path, {}, extra, std::chrono::seconds{0}, idle);
  impl_->sink = nullptr;
  return out;
}

caf::expected<feed_page> tracker_client::changes(uint64_t since, uint32_t limit,
                                                 uint32_t timeout_s) {
  auto r = call("GET",
                "/api/changes?since=" + std::to_string(since) + "&limit=" + std::to_string(limit) +
                    "&timeout_s=" + std::to_string(timeout_s),
                {}, std::chrono::seconds{timeout_s});
  if (!r) return std::move(r.error());
  if (r->status != 200)
    return make_error(connector_errc::network, "the change feed answered " +
                                                   std::to_string(r->status) + ": " +
                                                   error_text(r->body));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array results;
  feed_page page;
  auto bad = [] { return make_error(connector_errc::network, "the change feed's page is not JSON of its shape"); };
  if (p.parse(r->body).get(doc) || doc["results"].get(results) ||
      doc["last_seq"].get(page.last_seq))
    return bad();
  bool reset = false;
  if (!doc["reset"].get(reset)) page.reset = reset;
  for (auto c : results) {
    feed_change one;
    std::string_view id;
    if (c["seq"].get(one.seq) || c["id"].get(id)) return bad();
    one.id = std::string{id};
    bool deleted = false;
    if (!c["deleted"].get(deleted)) one.deleted = deleted;
    page.changes.push_back(std::move(one));
  }
  return page;
}

caf::expected<std::vector<std::optional<std::string>>> tracker_client::read(
    const std::vector<std::string>& ids) {
  std::vector<std::optional<std::string>> out(ids.size());
  if (ids.empty()) return out;
  std::string body = "[";
  for (size_t i = 0; i < ids.size(); ++i) body += (i ? "," : "") + json_quote(ids[i]);
  body += "]";
  auto r = call("POST", "/api/read/", body);
  if (!r) return std::move(r.error());
  if (r->status == 404) return out;  // none of them exists
  if (r->status != 200 && r->status != 207)
    return make_error(connector_errc::network,
                      "read answered " + std::to_string(r->status) + ": " + error_text(r->body));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array all;
  if (p.parse(r->body).get(doc) || doc.get(all) || all.size() != ids.size())
    return make_error(connector_errc::network, "read's answer is not an array of the ids asked");
  size_t i = 0;
  for (auto e : all) {
    if (!e.is_null()) out[i] = simdjson::minify(e);
    ++i;
  }
  return out;
}

caf::expected<std::vector<std::string>> tracker_client::search(std::string_view query) {
  auto r = call("GET", "/api/search/" + std::string{query});
  if (!r) return std::move(r.error());
  std::vector<std::string> out;
  if (r->status == 404) return out;
  if (r->status != 200)
    return make_error(connector_errc::network,
                      "search answered " + std::to_string(r->status) + ": " + error_text(r->body));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  simdjson::dom::array all;
  if (p.parse(r->body).get(doc) || doc.get(all))
    return make_error(connector_errc::network, "search's answer is not an array of ids");
  for (auto e : all) {
    std::string_view id;
    if (!e.get(id)) out.emplace_back(id);
  }
  return out;
}

}  // namespace syncline::connectors
