#include "runtime/http_message.hpp"

#include <atomic>
#include <cctype>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8_sequence(std::string_view s, size_t i) noexcept {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

// Messages quote request paths and other client bytes; JSON must stay valid UTF-8.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    if (auto n = utf8_sequence(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace

const std::string* http_request::header(std::string_view name) const noexcept {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return &v;
  return nullptr;
}

http_response http_response::json(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response http_response::error(unsigned status, std::string_view code,
                                   std::string_view message) {
  auto c = valid_utf8(code);
  auto m = valid_utf8(message);
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
