#include "connectors/volume.hpp"

#include <cstdio>

#include <xxhash.h>

namespace syncline::connectors {

namespace {

constexpr std::string_view temporary_suffix = ".syncline-part";
// The longest file name (NAME_MAX on Linux file systems).
constexpr size_t name_max = 255;

std::string hex(uint64_t v, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string{buf + 16 - digits, static_cast<size_t>(digits)};
}

bool is_hex(std::string_view s) noexcept {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

uint64_t reference_hash(std::string_view reference) {
  return XXH3_64bits(reference.data(), reference.size());
}

}  // namespace

std::string temporary_name(std::string_view reference) {
  // A directory reference has no temporary file of its own, but naming one is harmless.
  if (!reference.empty() && reference.back() == '/') reference.remove_suffix(1);
  const size_t slash = reference.rfind('/');
  const size_t name_at = slash == std::string_view::npos ? 0 : slash + 1;
  const auto name = reference.substr(name_at);
  const auto hash = reference_hash(reference);
  std::string out{reference.substr(0, name_at)};
  // `.<name>.<8 hex>.syncline-part` when that fits in a file name, else `.<16 hex>.syncline-part`.
  if (1 + name.size() + 1 + 8 + temporary_suffix.size() <= name_max) {
    out += '.';
    out.append(name);
    out += '.';
    out += hex(hash, 8);
  } else {
    out += '.';
    out += hex(hash, 16);
  }
  out.append(temporary_suffix);
  return out;
}

bool is_temporary_name(std::string_view parent, std::string_view name) noexcept {
  if (name.size() <= 1 + temporary_suffix.size() || name.front() != '.' ||
      name.substr(name.size() - temporary_suffix.size()) != temporary_suffix)
    return false;
  auto core = name.substr(1, name.size() - 1 - temporary_suffix.size());
  // The long form: whose it is cannot be read back from the name.
  if (core.size() == 16 && is_hex(core)) return true;
  // The short form: `<name>.<8 hex>`, the hash of the parent's reference and that name.
  if (core.size() < 10 || core[core.size() - 9] != '.') return false;
  auto digits = core.substr(core.size() - 8);
  if (!is_hex(digits)) return false;
  std::string reference{parent};
  reference.append(core.substr(0, core.size() - 9));
  return hex(reference_hash(reference), 8) == digits;
}

}  // namespace syncline::connectors
