#include "connectors/error.hpp"

#include <cerrno>
#include <cstring>

#include <caf/message.hpp>

namespace syncline::connectors {

const char* to_string(connector_errc x) noexcept {
  switch (x) {
    case connector_errc::io_error:
      return "io_error";
    case connector_errc::network:
      return "network";
    case connector_errc::busy:
      return "busy";
    case connector_errc::changed_during_copy:
      return "changed_during_copy";
    case connector_errc::permission_denied:
      return "permission_denied";
    case connector_errc::not_found:
      return "not_found";
    case connector_errc::no_space:
      return "no_space";
    case connector_errc::bad_config:
      return "bad_config";
    case connector_errc::invalid_path:
      return "invalid_path";
    case connector_errc::hash_mismatch:
      return "hash_mismatch";
    case connector_errc::cancelled:
      return "cancelled";
    case connector_errc::unsupported:
      return "unsupported";
  }
  return "unknown";
}

caf::error make_error(connector_errc x, std::string context) {
  return {static_cast<uint8_t>(x), connector_category,
          context.empty() ? caf::message{} : caf::make_message(std::move(context))};
}

namespace {

// The one table from errno to our codes. Retry-versus-error is decided from the code alone
// (actors/failure_policy), so this is where "EACCES is a person's problem, EIO is not" lives.
connector_errc code_of(int err) noexcept {
  switch (err) {
    case EBUSY:
      return connector_errc::busy;
    case EACCES:
    case EPERM:
    case EROFS:
      return connector_errc::permission_denied;
    // ENOTDIR on the way to an item means a parent was replaced by a file: the item vanished.
    case ENOENT:
    case ENOTDIR:
      return connector_errc::not_found;
    case ENOSPC:
    case EDQUOT:
      return connector_errc::no_space;
    // openat2 answers ELOOP for a symlink on the way (RESOLVE_NO_SYMLINKS, or O_NOFOLLOW on the
    // last name) and EXDEV for an escape from the root (RESOLVE_BENEATH). A name longer than the
    // file system allows is a path problem too: retrying cannot fix it.
    case ELOOP:
    case EXDEV:
    case ENAMETOOLONG:
      return connector_errc::invalid_path;
    default:
      return connector_errc::io_error;
  }
}

}  // namespace

caf::error from_errno(int err, const std::string& what) {
  char buf[256];
  // GNU strerror_r: thread-safe, returns either buf or a static string.
  const char* text = ::strerror_r(err, buf, sizeof buf);
  std::string context = what;
  context += ": ";
  context += text;
  return make_error(code_of(err), std::move(context));
}

bool is(const caf::error& err, connector_errc code) noexcept {
  // An empty caf::error (0.17) has no data behind category() and code(): test it first.
  return err && err.category() == connector_category && err.code() == static_cast<uint8_t>(code);
}

std::string render(const caf::error& err) {
  if (!err) return "no error";
  std::string out;
  if (err.category() == connector_category) {
    out = to_string(static_cast<connector_errc>(err.code()));
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

}  // namespace syncline::connectors
