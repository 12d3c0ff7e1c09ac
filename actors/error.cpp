#include "actors/error.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "connectors/error.hpp"
#include "storage/error.hpp"

namespace syncline::actors {

const char* to_string(actors_errc x) noexcept {
  switch (x) {
    case actors_errc::forbidden_transition: return "forbidden_transition";
    case actors_errc::paused: return "paused";
    case actors_errc::cancelled: return "cancelled";
    case actors_errc::unknown_id: return "unknown_id";
    case actors_errc::bad_request: return "bad_request";
    case actors_errc::shutting_down: return "shutting_down";
    case actors_errc::job_failed: return "job_failed";
    case actors_errc::already_exists: return "already_exists";
    case actors_errc::unauthenticated: return "unauthenticated";
    case actors_errc::forbidden: return "forbidden";
    case actors_errc::conflict: return "conflict";
    case actors_errc::busy: return "busy";
    case actors_errc::too_many_requests: return "too_many_requests";
  }
  return "unknown";
}

caf::error make_error(actors_errc x, std::string context) {
  return {static_cast<uint8_t>(x), actors_category,
          context.empty() ? caf::message{} : caf::make_message(std::move(context))};
}

bool is(const caf::error& err, actors_errc code) noexcept {
  return err.category() == actors_category && err.code() == static_cast<uint8_t>(code);
}

bool caller_error(const caf::error& err) noexcept {
  if (err.category() == actors_category) {
    switch (static_cast<actors_errc>(err.code())) {
      case actors_errc::forbidden_transition:
      case actors_errc::paused:
      case actors_errc::unknown_id:
      case actors_errc::bad_request:
      case actors_errc::already_exists:
      case actors_errc::unauthenticated:
      case actors_errc::forbidden:
      case actors_errc::conflict:
      case actors_errc::too_many_requests:
        return true;
      default:
        return false;
    }
  }
  if (err.category() == storage::storage_category) {
    using storage::storage_errc;
    return storage::is(err, storage_errc::invalid_argument) ||
           storage::is(err, storage_errc::invalid_json) ||
           storage::is(err, storage_errc::invalid_element) ||
           storage::is(err, storage_errc::not_found) ||
           storage::is(err, storage_errc::already_exists) ||
           storage::is(err, storage_errc::locked_by_other);
  }
  return false;
}

std::string render(const caf::error& err) {
  if (!err) return "none";
  if (err.category() == storage::storage_category) return storage::render(err);
  if (err.category() == connectors::connector_category) return connectors::render(err);
  std::string out;
  if (err.category() == actors_category)
    out = to_string(static_cast<actors_errc>(err.code()));
  else if (err.category() == caf::atom("system"))
    out = caf::to_string(static_cast<caf::sec>(err.code()));
  else
    out = caf::to_string(err.category()) + "#" + std::to_string(err.code());
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    out += ": ";
    out += ctx.get_as<std::string>(0);
  } else if (!ctx.empty()) {
    out += ": ";
    out += caf::to_string(ctx);
  }
  return out;
}

}  // namespace syncline::actors
