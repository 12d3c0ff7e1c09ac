#include "storage/error.hpp"

#include <caf/message.hpp>

namespace syncline::storage {

const char* to_string(storage_errc x) noexcept {
  switch (x) {
    case storage_errc::io_error: return "io_error";
    case storage_errc::busy: return "busy";
    case storage_errc::corruption: return "corruption";
    case storage_errc::schema_mismatch: return "schema_mismatch";
    case storage_errc::locked: return "locked";
    case storage_errc::not_found: return "not_found";
    case storage_errc::already_exists: return "already_exists";
    case storage_errc::invalid_json: return "invalid_json";
    case storage_errc::invalid_element: return "invalid_element";
    case storage_errc::invalid_argument: return "invalid_argument";
    case storage_errc::locked_by_other: return "locked_by_other";
    case storage_errc::closed: return "closed";
  }
  return "unknown";
}

caf::error make_error(storage_errc x, std::string context) {
  return {static_cast<uint8_t>(x), storage_category,
          context.empty() ? caf::message{} : caf::make_message(std::move(context))};
}

bool is(const caf::error& err, storage_errc code) noexcept {
  // CAF 0.17's error::category() dereferences the error's data: never call it on "no error".
  return err && err.category() == storage_category && err.code() == static_cast<uint8_t>(code);
}

std::string render(const caf::error& err) {
  if (!err) return "no error";
  std::string out;
  if (err.category() == storage_category) {
    out = to_string(static_cast<storage_errc>(err.code()));
  } else {
    out = "error " + std::to_string(err.code());
  }
  const auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    out += ": ";
    out += ctx.get_as<std::string>(0);
  }
  return out;
}

}  // namespace syncline::storage
