#include "runtime/api_errors.hpp"

#include <caf/sec.hpp>
#include <spdlog/spdlog.h>

#include "actors/error.hpp"
#include "actors/tracker_json.hpp"
#include "storage/error.hpp"

namespace syncline::runtime {

namespace {

const char* code_for(unsigned status) noexcept {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    default: return "internal_error";
  }
}

}  // namespace

unsigned http_status_of(const caf::error& err) noexcept {
  using actors::actors_errc;
  using storage::storage_errc;
  if (err.category() == actors::actors_category) {
    switch (static_cast<actors_errc>(err.code())) {
      case actors_errc::bad_request: return 400;
      case actors_errc::unauthenticated: return 401;
      case actors_errc::forbidden: return 403;
      case actors_errc::unknown_id: return 404;
      case actors_errc::paused:
      case actors_errc::forbidden_transition:
      case actors_errc::already_exists:
      case actors_errc::conflict: return 409;
      case actors_errc::too_many_requests: return 429;
      case actors_errc::shutting_down:
      case actors_errc::busy: return 503;
      default: return 500;
    }
  }
  if (err.category() == storage::storage_category) {
    switch (static_cast<storage_errc>(err.code())) {
      case storage_errc::invalid_argument:
      case storage_errc::invalid_json:
      case storage_errc::invalid_element: return 400;
      case storage_errc::not_found: return 404;
      case storage_errc::already_exists:
      case storage_errc::locked_by_other: return 409;
      case storage_errc::busy:
      case storage_errc::closed: return 503;
      default: return 500;
    }
  }
  if (err == caf::sec::request_timeout || err == caf::sec::request_receiver_down) return 503;
  return 500;
}

http_response error_response(const caf::error& err) {
  auto status = http_status_of(err);
  if (status == 500) spdlog::error("API: {}", actors::render(err));
  return http_response::error(status, code_for(status), actors::error_message(err));
}

http_response to_http(actors::api_answer answer, bool secure_cookie) {
  http_response out;
  if (answer.error) {
    out = error_response(answer.error);
  } else {
    unsigned status = 200;
    if (answer.kind == actors::answer_kind::created) status = 201;
    if (answer.kind == actors::answer_kind::partial) status = 207;
    if (answer.kind == actors::answer_kind::accepted) status = 202;
    out = http_response::json(status, std::move(answer.json));
  }
  if (answer.retry_after_s > 0)
    out.headers.emplace_back("Retry-After", std::to_string(answer.retry_after_s));
  // The cookie a browser's page signs in with: never readable by a script, never sent by a
  // request another site makes (docs/api.md, "Browsers").
  const std::string attributes =
      std::string{"; Path=/; HttpOnly; SameSite=Strict"} + (secure_cookie ? "; Secure" : "");
  if (answer.token_revoked)
    out.headers.emplace_back("Set-Cookie", "token=; Max-Age=0" + attributes);
  if (!answer.error && !answer.issued_token.empty())
    out.headers.emplace_back("Set-Cookie", "token=" + answer.issued_token + "; Max-Age=" +
                                               std::to_string(answer.issued_token_ttl_s) + attributes);
  return out;
}

}  // namespace syncline::runtime
