#include "runtime/http_message.hpp"

#include <atomic>
#include <cctype>

#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "actors/text.hpp"

namespace syncline::runtime {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

http_file_part::~http_file_part() {
  if (fd >= 0) ::close(fd);
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!s.empty()) {
    auto amp = s.find('&');
    auto part = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1),
                                true);
    if (!name || !value) return std::nullopt;
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

const std::string* http_request::header(std::string_view name) const noexcept {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

const http_param* http_request::param(std::string_view name) const noexcept {
  for (auto& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

std::optional<std::string> http_request::query_param(std::string_view name) const {
  auto pairs = parse_form(query);
  if (!pairs) return std::nullopt;
  for (auto& [k, v] : *pairs)
    if (k == name) return std::move(v);
  return std::nullopt;
}

std::optional<std::string> http_request::cookie(std::string_view name) const {
  // RFC 6265: `Cookie: a=1; b=2`, possibly in several headers; values may be quoted.
  for (auto& [k, v] : headers) {
    if (k != "cookie") continue;
    std::string_view rest{v};
    while (!rest.empty()) {
      auto semi = rest.find(';');
      auto part = trim(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      auto eq = part.find('=');
      if (eq == std::string_view::npos || trim(part.substr(0, eq)) != name) continue;
      auto value = trim(part.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return std::string{value};
    }
  }
  return std::nullopt;
}

http_response http_response::json(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response http_response::error(unsigned status, std::string_view code,
                                   std::string_view message) {
  auto c = actors::printable(code);
  auto m = actors::printable(message);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("error");
  w.String(c.data(), static_cast<rapidjson::SizeType>(c.size()));
  w.Key("message");
  w.String(m.data(), static_cast<rapidjson::SizeType>(m.size()));
  w.EndObject();
  return json(status, std::string{buf.GetString(), buf.GetSize()});
}

struct http_reply::state {
  std::unique_ptr<sink> target;
  std::atomic<bool> done{false};

  ~state() {
    if (!done.load() && target)
      target->deliver(http_response::error(500, "no_reply", "the request was dropped unanswered"));
  }
};

http_reply::http_reply(std::unique_ptr<sink> target) : state_(std::make_shared<state>()) {
  state_->target = std::move(target);
}

void http_reply::send(http_response response) const {
  if (state_->done.exchange(true)) return;
  if (state_->target) state_->target->deliver(std::move(response));
}

bool http_reply::sent() const noexcept {
  return state_->done.load();
}

}  // namespace syncline::runtime
