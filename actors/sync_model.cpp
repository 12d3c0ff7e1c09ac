#include "actors/sync_model.hpp"

namespace syncline::actors {

namespace {
constexpr char link_separator = '\x1f';
}

const char* to_string(sync_type t) noexcept {
  switch (t) {
    case sync_type::auto_: return "auto";
    case sync_type::one: return "one";
    case sync_type::arch: return "arch";
  }
  return "unknown";
}

std::optional<sync_type> sync_type_from_string(std::string_view s) noexcept {
  for (auto t : {sync_type::auto_, sync_type::one, sync_type::arch})
    if (s == to_string(t)) return t;
  return std::nullopt;
}

std::string id_problem(std::string_view id) {
  if (id.empty() || id.size() > 64) return "must have 1 to 64 characters";
  if (id.front() == '.') return "must not start with '.'";
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return "may only contain letters, digits, '.', '_' and '-'";
  }
  return {};
}

std::string datastore_scope(std::string_view datasource, std::string_view volume) {
  std::string s{datasource};
  s += link_separator;
  s += volume;
  return s;
}

std::string queue_name(std::string_view volume, std::string_view datasource) {
  std::string s{volume};
  s += link_separator;
  s += datasource;
  return s;
}

std::optional<std::pair<std::string, std::string>> split_queue_name(std::string_view name) {
  auto pos = name.find(link_separator);
  if (pos == std::string_view::npos || pos == 0 || pos + 1 == name.size()) return std::nullopt;
  return std::make_pair(std::string{name.substr(0, pos)}, std::string{name.substr(pos + 1)});
}

}  // namespace syncline::actors
