#include "connectors/item.hpp"

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

}  // namespace syncline::connectors
