#include "actors/site_keys.hpp"

#include <utility>

namespace syncline::actors {

std::optional<std::string> site_name_problem(std::string_view name) {
  if (name.empty()) return std::string{"a site name may not be empty"};
  if (name.size() > 64) return std::string{"a site name has at most 64 characters"};
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok)
      return "a site name is made of letters, digits, '_' and '-' (not '" + std::string(1, c) +
             "'), as it ends keys like synced_<site>";
  }
  return std::nullopt;
}

std::string destination_key(std::string_view site) {
  std::string out = "sync_";
  out += site;
  return out;
}

const char* prefix_of(site_key k) noexcept {
  switch (k) {
    case site_key::syncing: return "syncing_";
    case site_key::synced: return "synced_";
    case site_key::sync_error: return "syncError_";
    case site_key::sync_last_attempt: return "syncLastAttempt_";
  }
  return "";
}

std::string key_for(site_key k, std::string_view site) {
  std::string out = prefix_of(k);
  out += site;
  return out;
}

std::optional<std::pair<site_key, std::string_view>> parse_site_key(std::string_view key) noexcept {
  for (auto k : {site_key::syncing, site_key::synced, site_key::sync_error,
                 site_key::sync_last_attempt}) {
    std::string_view p = prefix_of(k);
    if (key.size() <= p.size() || key.substr(0, p.size()) != p) continue;
    auto site = key.substr(p.size());
    if (site_name_problem(site)) return std::nullopt;
    return std::make_pair(k, site);
  }
  return std::nullopt;
}

std::string volume_element_id(std::string_view site) {
  std::string out = "site/";
  out += site;
  return out;
}

bool is_volume_element_id(std::string_view id) {
  return id.size() > 5 && id.substr(0, 5) == "site/" && !site_name_problem(id.substr(5));
}

bool is_volume_status_key(std::string_view key) noexcept {
  for (std::string_view k :
       {"agentStatus", "agentStartTime", "agentVersion", "last_scan", "last_emission",
        "last_reception", "lastConnectionAttempt", "lastConnectionSuccess",
        "lastConnectionStatusChange", "error", "exit_scan", "exit_emission", "exit_reception",
        "scan_duration", "stderr_scan", "stderr_emission", "stderr_reception", "url", "name"})
    if (key == k) return true;
  return false;
}

}  // namespace syncline::actors
