#include "connectors/volume.hpp"

namespace syncline::connectors {

namespace {

constexpr std::string_view temporary_suffix = ".syncline-part";

}  // namespace

std::string temporary_name(std::string_view reference) {
  // A directory reference has no temporary file of its own, but naming one is harmless.
  if (!reference.empty() && reference.back() == '/') reference.remove_suffix(1);
  const size_t slash = reference.rfind('/');
  const size_t name_at = slash == std::string_view::npos ? 0 : slash + 1;
  std::string out;
  out.reserve(reference.size() + 1 + temporary_suffix.size());
  out.append(reference.substr(0, name_at));
  out += '.';
  out.append(reference.substr(name_at));
  out.append(temporary_suffix);
  return out;
}

bool is_temporary_name(std::string_view name) noexcept {
  return name.size() > temporary_suffix.size() + 1 && name.front() == '.' &&
         name.substr(name.size() - temporary_suffix.size()) == temporary_suffix;
}

}  // namespace syncline::connectors
