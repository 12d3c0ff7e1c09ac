#include "connectors/http_auth.hpp"

#include <cctype>
#include <chrono>
#include <utility>

#include <curl/curl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sodium.h>

#include "connectors/error.hpp"
#include "connectors/http_common.hpp"
#include "connectors/http_stream.hpp"

namespace syncline::connectors {

const char* to_string(http_auth a) noexcept {
  switch (a) {
    case http_auth::none: return "none";
    case http_auth::bearer: return "bearer";
    case http_auth::basic: return "basic";
    case http_auth::header: return "header";
    case http_auth::oauth2: return "oauth2";
  }
  return "none";
}

bool http_auth_from_string(std::string_view s, http_auth& out) noexcept {
  for (auto a : {http_auth::none, http_auth::bearer, http_auth::basic, http_auth::header, http_auth::oauth2})
    if (s == to_string(a)) {
      out = a;
      return true;
    }
  return false;
}

namespace {

using json = rapidjson::Document;

bool parse_object(std::string_view text, json& d) {
  d.Parse(text.data(), text.size());
  return !d.HasParseError() && d.IsObject();
}

// The string at `key`, or "" when absent or not a string.
std::string text_of(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

// RFC 7230's token characters: a header name.
bool header_name(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || std::string_view{"!#$%&'*+-.^_`|~"}.find(static_cast<char>(c)) != std::string_view::npos))
      return false;
  return true;
}

bool header_value(std::string_view s) {
  for (unsigned char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

std::string lacks(http_auth kind, const std::string& what) {
  return std::string{"credentials for auth = "} + to_string(kind) + " " + what;
}

std::string check(http_auth kind, const json& d) {
  auto need = [&](const char* key) -> std::string {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsString() || it->value.GetStringLength() == 0)
      return lacks(kind, std::string{"need a non-empty string \""} + key + "\"");
    if (!header_value({it->value.GetString(), it->value.GetStringLength()}))
      return lacks(kind, std::string{"hold a line break in \""} + key + "\"");
    return {};
  };
  switch (kind) {
    case http_auth::none:
      return {};
    case http_auth::bearer:
      return need("token");
    case http_auth::basic:
      if (auto p = need("user"); !p.empty()) return p;
      if (text_of(d, "user").find(':') != std::string::npos) return lacks(kind, "have a ':' in \"user\"");
      return need("password");
    case http_auth::header:
      if (d.ObjectEmpty()) return lacks(kind, "need at least one header");
      for (auto& m : d.GetObject()) {
        std::string name{m.name.GetString(), m.name.GetStringLength()};
        if (!header_name(name)) return lacks(kind, "name a header wrongly: \"" + name + "\"");
        if (!m.value.IsString()) return lacks(kind, "need a string for header \"" + name + "\"");
        if (!header_value({m.value.GetString(), m.value.GetStringLength()}))
          return lacks(kind, "hold a line break in header \"" + name + "\"");
      }
      return {};
    case http_auth::oauth2: {
      if (auto p = need("client_id"); !p.empty()) return p;
      if (auto p = need("refresh_token"); !p.empty()) return p;
      for (const char* key : {"client_secret", "access_token"})
        if (d.HasMember(key))
          if (auto p = need(key); !p.empty()) return p;
      auto at = d.FindMember("expires_at");
      if (at != d.MemberEnd() && !at->value.IsInt64())
        return lacks(kind, "need \"expires_at\" in seconds since the epoch");
      return {};
    }
  }
  return {};
}

caf::error bad_credentials(std::string problem) {
  return make_error(connector_errc::bad_config, std::move(problem));
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One POST of a form to the token endpoint; the answer's status and body.
struct token_request {
  long status = 0;
  std::string body;
  bool too_big = false;

  static size_t on_header(char* data, size_t size, size_t n, void* p) {
    auto* self = static_cast<token_request*>(p);
    std::string_view line{data, size * n};
    if (detail::starts_with_nocase(line, "http/")) self->status = detail::status_of(line);
    return size * n;
  }
  static size_t on_body(char* data, size_t size, size_t n, void* p) {
    auto* self = static_cast<token_request*>(p);
    if (self->body.size() + size * n > (size_t{1} << 20)) {
      self->too_big = true;
      return 0;
    }
    self->body.append(data, size * n);
    return size * n;
  }

  CURLcode post(const detail::authenticator::options& o, const std::string& form) {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return CURLE_FAILED_INIT;
    detail::header_list headers;
    headers.add("Accept: application/json");
    headers.add("Content-Type: application/x-www-form-urlencoded");
    detail::set_request(curl, o.token_url, headers.list, &on_header, &on_body, this, o.timeout_s,
                        o.cancel.get(), o.ca_file);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, o.timeout_s);
    auto rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    return rc;
  }
};

// What a refusal of the token endpoint says (RFC 6749 section 5.2), short and without secrets:
// the error code and its description as the endpoint gives them.
std::string refusal_reason(const std::string& body) {
  json d;
  if (!parse_object(body, d)) return "no reason given";
  auto code = text_of(d, "error");
  auto why = text_of(d, "error_description");
  if (why.size() > 200) why = why.substr(0, 200) + "...";
  if (code.empty()) return "no reason given";
  return why.empty() ? code : code + " (" + why + ")";
}

}  // namespace

std::string credentials_problem(http_auth kind, std::string_view text) {
  json d;
  if (!parse_object(text, d)) return lacks(kind, "are not a JSON object");
  return check(kind, d);
}

namespace detail {

authenticator::authenticator(options o) : opt_(std::move(o)) {}

void authenticator::reload() {
  std::lock_guard<std::mutex> g{mtx_};
  read_ = false;
}

caf::error authenticator::use(std::string text) {
  json d;
  if (!parse_object(text, d)) return bad_credentials(lacks(opt_.kind, "are not a JSON object"));
  if (auto p = check(opt_.kind, d); !p.empty()) return bad_credentials(p);
  std::vector<std::string> lines;
  switch (opt_.kind) {
    case http_auth::none:
      break;
    case http_auth::bearer:
      lines.push_back("Authorization: Bearer " + text_of(d, "token"));
      break;
    case http_auth::basic: {
      auto pair = text_of(d, "user") + ":" + text_of(d, "password");
      std::string b64(sodium_base64_ENCODED_LEN(pair.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
      sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(pair.data()),
                        pair.size(), sodium_base64_VARIANT_ORIGINAL);
      b64.resize(std::char_traits<char>::length(b64.c_str()));
      sodium_memzero(pair.data(), pair.size());
      lines.push_back("Authorization: Basic " + b64);
      break;
    }
    case http_auth::header:
      for (auto& m : d.GetObject())
        lines.push_back(std::string{m.name.GetString(), m.name.GetStringLength()} + ": " +
                        std::string{m.value.GetString(), m.value.GetStringLength()});
      break;
    case http_auth::oauth2: {
      auto access = text_of(d, "access_token");
      has_access_ = !access.empty();
      auto at = d.FindMember("expires_at");
      expires_at_ = at != d.MemberEnd() ? at->value.GetInt64() : 0;
      if (has_access_) lines.push_back("Authorization: Bearer " + access);
      break;
    }
  }
  stored_ = std::move(text);
  headers_ = std::move(lines);
  ++generation_;
  read_ = true;
  return caf::none;
}

caf::error authenticator::read_wallet() {
  if (!opt_.wallet) return make_error(connector_errc::bad_config, "no credential wallet for this datasource");
  auto got = opt_.wallet->load();
  if (!got) return std::move(got.error());
  if (!*got)
    return make_error(connector_errc::permission_denied,
                      std::string{"auth = "} + to_string(opt_.kind) +
                          " but no credentials are stored for this datasource: POST them to "
                          "@refreshServiceCredentials");
  return use(std::move(**got));
}

caf::error authenticator::refresh_token() {
  json d;
  if (!parse_object(stored_, d)) return bad_credentials(lacks(opt_.kind, "are not a JSON object"));
  auto form = "grant_type=refresh_token&refresh_token=" + detail::url_escape(text_of(d, "refresh_token")) +
              "&client_id=" + detail::url_escape(text_of(d, "client_id"));
  if (auto secret = text_of(d, "client_secret"); !secret.empty()) form += "&client_secret=" + detail::url_escape(secret);
  token_request req;
  auto rc = req.post(opt_, form);
  sodium_memzero(form.data(), form.size());
  auto where = "refreshing the OAuth2 access token at " + shown(opt_.token_url);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return make_error(connector_errc::cancelled, where + ": stopped");
  if (req.too_big) return make_error(connector_errc::io_error, where + ": the answer exceeds 1 MiB");
  if (rc != CURLE_OK) return make_error(connector_errc::network, where + ": " + curl_easy_strerror(rc));
  if (req.status == 400 || req.status == 401 || req.status == 403)
    return make_error(connector_errc::permission_denied,
                      where + ": the token endpoint refused the refresh token (" + std::to_string(req.status) +
                          ", " + refusal_reason(req.body) +
                          "); store new credentials with @refreshServiceCredentials");
  if (req.status == 429 || req.status == 503)
    return make_error(connector_errc::busy, where + ": the token endpoint is busy (" + std::to_string(req.status) + ")");
  if (req.status != 200)
    return make_error(connector_errc::network, where + ": the token endpoint answered " + std::to_string(req.status));
  json answer;
  std::string access;
  if (!parse_object(req.body, answer) || (access = text_of(answer, "access_token")).empty() ||
      !header_value(access))
    return make_error(connector_errc::io_error, where + ": the answer holds no access_token");
  // The new tokens beside what was stored (client id and secret, anything else kept).
  auto& a = d.GetAllocator();
  auto set = [&](const char* key, rapidjson::Value v) {
    auto it = d.FindMember(key);
    if (it != d.MemberEnd()) it->value = std::move(v);
    else d.AddMember(rapidjson::Value{key, a}, std::move(v), a);
  };
  set("access_token", rapidjson::Value{access.c_str(), static_cast<rapidjson::SizeType>(access.size()), a});
  auto lifetime = answer.FindMember("expires_in");
  if (lifetime != answer.MemberEnd() && lifetime->value.IsNumber() && lifetime->value.GetDouble() > 0) {
    set("expires_at", rapidjson::Value{static_cast<int64_t>(now_s() + static_cast<int64_t>(lifetime->value.GetDouble()))});
  } else if (d.HasMember("expires_at")) {
    d.RemoveMember("expires_at");
  }
  if (auto rotated = text_of(answer, "refresh_token"); !rotated.empty() && header_value(rotated))
    set("refresh_token", rapidjson::Value{rotated.c_str(), static_cast<rapidjson::SizeType>(rotated.size()), a});
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  d.Accept(w);
  std::string now{buf.GetString(), buf.GetSize()};
  ++refreshes_;
  auto stored = opt_.wallet->replace(stored_, now);
  if (!stored) return std::move(stored.error());
  if (!*stored) return read_wallet();  // new credentials arrived meanwhile: they win
  return use(std::move(now));
}

caf::expected<authenticator::pass> authenticator::current() {
  std::lock_guard<std::mutex> g{mtx_};
  if (opt_.kind == http_auth::none) return pass{};
  if (!read_)
    if (auto err = read_wallet()) return err;
  if (opt_.kind == http_auth::oauth2 &&
      (!has_access_ || (expires_at_ != 0 && expires_at_ - now_s() <= opt_.margin_s)))
    if (auto err = refresh_token()) return err;
  return pass{headers_, generation_};
}

caf::expected<bool> authenticator::refused(uint64_t generation) {
  std::lock_guard<std::mutex> g{mtx_};
  if (opt_.kind == http_auth::none) return false;
  if (generation != generation_) return true;  // someone else has new credentials already
  auto before = stored_;
  if (auto err = read_wallet()) return err;
  if (stored_ != before) return true;  // a person stored new ones
  if (opt_.kind != http_auth::oauth2) return false;
  if (auto err = refresh_token()) return err;
  return true;
}

}  // namespace detail
}  // namespace syncline::connectors
