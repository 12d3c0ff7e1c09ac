#include "connectors/item.hpp"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "connectors/error.hpp"

namespace syncline::connectors {

const char* to_string(item_kind k) noexcept {
  switch (k) {
    case item_kind::file:
      return "file";
    case item_kind::directory:
      return "directory";
    case item_kind::symlink:
      return "symlink";
    case item_kind::unreadable:
      return "unreadable";
  }
  return "unknown";
}

caf::error validate_reference(const std::string& reference) {
  auto bad = [&](const char* why) {
    return make_error(connector_errc::invalid_path, "reference '" + reference + "': " + why);
  };
  if (reference.empty()) return bad("empty");
  if (reference.front() == '/') return bad("absolute");
  if (reference.find('\0') != std::string::npos) return bad("contains a NUL byte");
  // Segments between slashes; a single trailing slash marks a directory and ends no segment.
  size_t begin = 0;
  const size_t end = reference.back() == '/' ? reference.size() - 1 : reference.size();
  while (begin <= end) {
    size_t slash = reference.find('/', begin);
    if (slash == std::string::npos || slash > end) slash = end;
    const size_t len = slash - begin;
    if (len == 0) return bad("empty segment");
    if (len == 1 && reference[begin] == '.') return bad("'.' segment");
    if (len == 2 && reference[begin] == '.' && reference[begin + 1] == '.') {
      return bad("'..' segment");
    }
    begin = slash + 1;
  }
  return {};
}

caf::expected<uint64_t> xxh3_of(int fd, uint64_t length, char* buffer, size_t size,
                                const std::string& what) {
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state{XXH3_createState(),
                                                                        &XXH3_freeState};
  if (!state) return make_error(connector_errc::io_error, "hash " + what + ": out of memory");
  XXH3_64bits_reset(state.get());
  for (uint64_t at = 0; at < length;) {
    const auto want = static_cast<size_t>(std::min<uint64_t>(size, length - at));
    const ssize_t r = ::pread(fd, buffer, want, static_cast<off_t>(at));
    if (r < 0) {
      if (errno == EINTR) continue;
      return make_error(connector_errc::io_error, "read " + what + ": " + std::strerror(errno));
    }
    if (r == 0) return make_error(connector_errc::io_error, "read " + what + ": shorter than expected");
    XXH3_64bits_update(state.get(), buffer, static_cast<size_t>(r));
    at += static_cast<uint64_t>(r);
  }
  return static_cast<uint64_t>(XXH3_64bits_digest(state.get()));
}

}  // namespace syncline::connectors
