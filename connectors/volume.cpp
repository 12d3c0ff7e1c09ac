#include "connectors/volume.hpp"

#include <cstdio>
#include <vector>

#include "connectors/error.hpp"

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

caf::expected<std::optional<std::vector<item_info>>> files_beneath(volume& v,
                                                                 const std::string& folder,
                                                                 size_t limit) {
  using result = std::optional<std::vector<item_info>>;
  auto st = v.stat(folder);
  if (!st) return std::move(st.error());
  if (!*st || (*st)->kind != item_kind::directory) return result{};
  auto below = v.target(std::string_view{folder}.substr(0, folder.size() - 1));
  if (!below) return std::move(below.error());
  auto listing = (*below)->list();
  if (!listing) return std::move(listing.error());
  std::vector<item_info> out, batch;
  for (bool more = true; more && out.size() <= limit;) {
    batch.clear();
    auto got = (*listing)->next(batch, 1024);
    if (!got) return std::move(got.error());
    more = *got;
    for (auto& it : batch)
      if (it.kind == item_kind::file && out.size() <= limit) out.push_back(std::move(it));
  }
  return result{std::move(out)};
}

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

std::string target_problem(std::string_view relative) {
  if (relative.empty()) return {};
  if (relative.front() == '/') return "must be relative (no leading '/')";
  if (relative.back() == '/') return "must not end with '/'";
  size_t begin = 0;
  while (begin <= relative.size()) {
    auto slash = relative.find('/', begin);
    if (slash == std::string_view::npos) slash = relative.size();
    auto segment = relative.substr(begin, slash - begin);
    if (segment.empty()) return "has an empty segment ('//')";
    if (segment == "." || segment == "..") return "has a '.' or '..' segment";
    if (segment.size() > name_max) return "has a name longer than 255 bytes";
    if (segment.find('\0') != std::string_view::npos) return "contains a NUL byte";
    begin = slash + 1;
  }
  return {};
}

caf::expected<std::shared_ptr<volume>> volume::target(std::string_view relative) {
  if (auto p = target_problem(relative); !p.empty())
    return make_error(connector_errc::invalid_path,
                      "target '" + std::string{relative} + "' " + p);
  if (relative.empty()) return shared_from_this();
  return make_error(connector_errc::unsupported, describe() + " has no targets below its root");
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
