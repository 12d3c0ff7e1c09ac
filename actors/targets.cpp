#include "actors/targets.hpp"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "connectors/volume.hpp"

namespace syncline::actors {

std::string target_of(const datasource_config& c, const std::string& volume) {
  auto i = c.targets.find(volume);
  if (i != c.targets.end()) return i->second;
  if (c.target) return *c.target;
  // The default: a directory named after the datasource (ids are single path segments).
  return c.id;
}

std::map<std::string, std::string> targets_of(const datasource_config& c) {
  std::map<std::string, std::string> out;
  for (auto& v : c.volumes) out.emplace(v, target_of(c, v));
  return out;
}

std::vector<std::string> moved_targets(const datasource_config& before,
                                       const datasource_config& after) {
  std::vector<std::string> out;
  for (auto& v : after.volumes)
    if (std::find(before.volumes.begin(), before.volumes.end(), v) != before.volumes.end() &&
        target_of(before, v) != target_of(after, v))
      out.push_back(v);
  return out;
}

bool targets_overlap(std::string_view a, std::string_view b) noexcept {
  if (a.size() > b.size()) std::swap(a, b);
  if (a.empty() || a == b) return true;
  return b.substr(0, a.size()) == a && b[a.size()] == '/';
}

std::string target_problem(const datasource_config& c) {
  auto check = [](const std::string& what, const std::string& path) -> std::string {
    if (auto p = connectors::target_problem(path); !p.empty())
      return what + " '" + path + "' " + p;
    return {};
  };
  if (c.target)
    if (auto p = check("target", *c.target); !p.empty()) return p;
  for (auto& [volume, path] : c.targets) {
    if (std::find(c.volumes.begin(), c.volumes.end(), volume) == c.volumes.end())
      return "targets: '" + volume + "' is not one of its volumes";
    if (auto p = check("targets." + volume, path); !p.empty()) return p;
  }
  return {};
}

namespace {

std::string shown(const std::string& target) {
  return target.empty() ? "the volume's root" : "'" + target + "'";
}

std::string conflict(const datasource_config& a, const datasource_config& b) {
  for (auto& v : a.volumes) {
    if (std::find(b.volumes.begin(), b.volumes.end(), v) == b.volumes.end()) continue;
    auto ta = target_of(a, v);
    auto tb = target_of(b, v);
    if (!targets_overlap(ta, tb)) continue;
    return "datasources '" + a.id + "' and '" + b.id + "' both write into volume '" + v +
           "' at overlapping targets (" + shown(ta) + " and " + shown(tb) +
           "): give each its own target directory, neither inside the other (key target, or "
           "targets = { " + v + " = \"...\" }); the root (\"\") only for a datasource alone in "
           "its volume";
  }
  return {};
}

}  // namespace

std::string target_conflict(const std::vector<datasource_config>& all) {
  for (size_t i = 0; i < all.size(); ++i)
    for (size_t j = i + 1; j < all.size(); ++j)
      if (auto c = conflict(all[i], all[j]); !c.empty()) return c;
  return {};
}

std::string target_conflict(const datasource_config& candidate,
                            const std::vector<datasource_config>& others) {
  for (auto& o : others) {
    if (o.id == candidate.id) continue;
    if (auto c = conflict(candidate, o); !c.empty()) return c;
  }
  return {};
}

namespace {

// The real path of `p`: symlinks of the part that exists resolved, the rest normalised.
std::filesystem::path real_path(const std::string& p) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(p, ec);
  if (ec) return std::filesystem::path{p}.lexically_normal();
  auto real = std::filesystem::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal() : real;
}

// Whether `inner` is `outer` or lies inside it (segment by segment).
bool path_contains(const std::filesystem::path& outer, const std::filesystem::path& inner) {
  auto o = outer.begin();
  auto i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

// Whether `a` and `b` are the same directory or one is inside the other.
bool paths_overlap(const std::filesystem::path& a, const std::filesystem::path& b) {
  return path_contains(a, b) || path_contains(b, a);
}

std::string overlap_message(const datasource_config& c, const std::filesystem::path& source,
                            const std::string& what, const std::filesystem::path& other) {
  std::string relation = source == other ? "is" : (paths_overlap(source, other) &&
                                                   std::distance(source.begin(), source.end()) <
                                                       std::distance(other.begin(), other.end())
                                                       ? "contains"
                                                       : "is inside");
  return "datasource '" + c.id + "': its folder " + c.path + " (" + source.string() + ") " +
         relation + " " + what + " (" + other.string() +
         "): a source may neither contain nor lie inside a volume or the data directory";
}

}  // namespace

std::string source_overlap(const datasource_config& c, const std::vector<volume_config>& volumes,
                           const std::string& data_dir) {
  if (c.type != "folder" || c.path.empty()) return {};
  auto source = real_path(c.path);
  for (auto& v : volumes) {
    if (v.path.empty() || v.type == "null") continue;
    auto target = real_path(v.path);
    if (paths_overlap(source, target))
      return overlap_message(c, source, "volume '" + v.id + "' " + v.path, target);
  }
  if (!data_dir.empty()) {
    auto data = real_path(data_dir);
    if (paths_overlap(source, data))
      return overlap_message(c, source, "the data directory " + data_dir, data);
  }
  return {};
}

std::string allowed_root_problem(const std::string& path, const std::vector<std::string>& roots) {
  if (roots.empty())
    return "folder datasources cannot be made through the API on this node: its setting "
           "[datasources] allowed_roots names no directory";
  auto real = real_path(path);
  std::string shown;
  for (auto& r : roots) {
    if (path_contains(real_path(r), real)) return {};
    shown += (shown.empty() ? "" : ", ") + r;
  }
  return "path " + path + " (" + real.string() + ") is outside every directory of the setting "
         "[datasources] allowed_roots (" + shown + ")";
}

}  // namespace syncline::actors
