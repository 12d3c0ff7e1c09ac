#include "actors/targets.hpp"

#include <algorithm>

#include "connectors/volume.hpp"

namespace syncline::actors {

std::string target_of(const datasource_config& c, const std::string& volume) {
  auto i = c.targets.find(volume);
  if (i != c.targets.end()) return i->second;
  if (c.target) return *c.target;
  // Until the stored format records targets and a data directory of the previous format is
  // upgraded (issue 10's next step), a datasource without one writes at the volume's root, as
  // every datasource did before; then the default becomes a directory named after its id.
  return {};
}

std::map<std::string, std::string> targets_of(const datasource_config& c) {
  std::map<std::string, std::string> out;
  for (auto& v : c.volumes) out.emplace(v, target_of(c, v));
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

}  // namespace syncline::actors
