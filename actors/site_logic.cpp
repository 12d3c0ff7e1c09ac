#include "actors/site_logic.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "actors/site_keys.hpp"
#include "actors/text.hpp"
#include "connectors/error.hpp"

namespace syncline::actors {

std::string element_id(std::string_view reference) {
  std::string id = "/";
  id += reference;
  return id;
}

std::optional<std::string> reference_of(std::string_view id) {
  if (id.size() < 2 || id.front() != '/' || id == "//") return std::nullopt;
  auto ref = id.substr(1);
  if (has_dot_segment(ref) || ref.find("//") != std::string_view::npos) return std::nullopt;
  for (char c : ref)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  return std::string{ref};
}

std::string content_url(std::string_view base, std::string_view reference) {
  static const char* hex = "0123456789ABCDEF";
  std::string out{base};
  while (!out.empty() && out.back() == '/') out.pop_back();
  out += '/';
  for (char c : reference) {
    auto u = static_cast<unsigned char>(c);
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~' || c == '/';
    if (plain) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

std::string wanted_copy::encode() const {
  std::string out = std::to_string(time);
  out += '\n';
  out += origin;
  out += '\n';
  out += std::to_string(size);
  out += '\n';
  out += std::to_string(mtime_ms);
  out += '\n';
  out += reference;
  out += '\n';
  out += std::to_string(priority);
  return out;
}

std::optional<wanted_copy> wanted_copy::decode(std::string_view payload) {
  wanted_copy w;
  auto take = [&](std::string_view& field) {
    auto nl = payload.find('\n');
    if (nl == std::string_view::npos) return false;
    field = payload.substr(0, nl);
    payload.remove_prefix(nl + 1);
    return true;
  };
  std::string_view time, origin, size, mtime, reference;
  if (!take(time) || !take(origin) || !take(size) || !take(mtime) || !take(reference))
    return std::nullopt;
  auto num = [](std::string_view s, auto& out) {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
  };
  if (!num(time, w.time) || !num(size, w.size) || !num(mtime, w.mtime_ms) ||
      !num(payload, w.priority))
    return std::nullopt;
  w.origin = std::string{origin};
  w.reference = std::string{reference};
  return w;
}

std::optional<wanted_copy> copy_needed(std::string_view id, const connectors::flat_element& e,
                                       const reception_rules& rules) {
  auto reference = reference_of(id);
  if (!reference) return std::nullopt;
  auto origin = e.text("origin");
  auto time = e.integer("time");
  if (!origin || origin->empty() || *origin == rules.site || !time) return std::nullopt;
  bool meant = e.boolean(destination_key(rules.site)).value_or(false);
  if (!meant) meant = e.boolean("syncEverywhere").value_or(rules.sync_everywhere);
  if (!meant) return std::nullopt;
  auto synced = e.integer(key_for(site_key::synced, rules.site));
  if (synced && *synced >= *time) return std::nullopt;
  wanted_copy w;
  w.reference = std::move(*reference);
  w.origin = std::move(*origin);
  w.time = *time;
  auto priority = e.integer("sync_priority").value_or(0);
  w.priority = static_cast<int32_t>(std::clamp<int64_t>(priority, INT32_MIN, INT32_MAX));
  auto size = e.integer("file_size").value_or(0);
  w.size = size > 0 ? static_cast<uint64_t>(size) : 0;
  w.mtime_ms = e.integer("file_mtime").value_or(0);
  return w;
}

namespace {

// The entries of a rules text: separated by newlines or commas, without the blanks around.
std::vector<std::string> rule_entries(std::string_view text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= text.size()) {
    auto end = text.find_first_of(",\n", at);
    if (end == std::string_view::npos) end = text.size();
    auto entry = text.substr(at, end - at);
    while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t')) entry.remove_prefix(1);
    while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t' || entry.back() == '\r'))
      entry.remove_suffix(1);
    if (!entry.empty()) out.emplace_back(entry);
    at = end + 1;
  }
  return out;
}

}  // namespace

caf::expected<connectors::path_filter> scan_filter(std::string_view include, std::string_view exclude,
                                                   std::string_view excluded_files) {
  auto excluded = rule_entries(exclude);
  for (auto& id : rule_entries(excluded_files)) {
    // A tracked id as a literal pattern anchored at the root.
    std::string pattern = "/";
    for (char c : std::string_view{id}.substr(id.front() == '/' ? 1 : 0)) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
      pattern += c;
    }
    if (pattern != "/") excluded.push_back(std::move(pattern));
  }
  return connectors::path_filter::make(rule_entries(include), excluded);
}

void apply_global(const connectors::flat_element& e, live_settings& live) {
  live.scans = e.boolean("enableScans").value_or(live.scans);
  live.ignore_existing = e.boolean("ignoreExistingFiles").value_or(live.ignore_existing);
  auto include = e.text("includePatternRules").value_or("");
  auto exclude = e.text("excludePatternRules").value_or("");
  auto files = e.text("excludedFiles").value_or("");
  auto rules = include + '\0' + exclude + '\0' + files;
  if (rules != live.rules) {
    live.rules = std::move(rules);
    if (auto f = scan_filter(include, exclude, files)) {
      live.filter = f->keeps_all() ? nullptr : std::make_shared<const connectors::path_filter>(*f);
      live.rules_problem.clear();
    } else {
      live.rules_problem = "rsyncGlobalParameters: " + connectors::render(f.error()) +
                           " (the scan rules before it stay)";
    }
  }
  live.sync_everywhere = e.boolean("syncEverywhere").value_or(live.sync_everywhere);
  if (auto s = e.integer("sleepBetweenScans"); s && *s >= 1 && *s <= 86400) live.scan_interval_s = *s;
}

void apply_volume(const connectors::flat_element& e, live_settings& live) {
  live.discovery = e.boolean("enableDiscovery").value_or(live.discovery);
  live.discover_updates = e.boolean("enableDiscoveryUpdatedFiles").value_or(live.discover_updates);
  live.discover_deletions = e.boolean("enableDiscoveryDeletedFiles").value_or(live.discover_deletions);
  live.discover_packages = e.boolean("enableDiscoveryPackages").value_or(live.discover_packages);
  live.reception = e.boolean("enableReception").value_or(live.reception);
  if (auto n = e.integer("syncAmountReception"); n && *n >= 1)
    live.amount = static_cast<uint32_t>(std::min<int64_t>(*n, max_reception));
  if (auto n = e.integer("syncAmountEmission"); n && *n >= 1)
    live.emission = static_cast<uint32_t>(std::min<int64_t>(*n, max_emission));
}

std::string volume_seed_body(std::string_view site, const live_settings& live) {
  auto flag = [](bool b) { return b ? "true" : "false"; };
  std::string body = "{\"_id\":" + json_string(volume_element_id(site));
  body += ",\"name\":" + json_string(site);
  body += std::string{",\"enableDiscovery\":"} + flag(live.discovery);
  body += std::string{",\"enableDiscoveryUpdatedFiles\":"} + flag(live.discover_updates);
  body += std::string{",\"enableDiscoveryDeletedFiles\":"} + flag(live.discover_deletions);
  body += std::string{",\"enableDiscoveryPackages\":"} + flag(live.discover_packages);
  body += ",\"enableEmission\":true";
  body += std::string{",\"enableReception\":"} + flag(live.reception);
  body += ",\"syncAmountReception\":" + std::to_string(live.amount);
  body += ",\"syncAmountEmission\":" + std::to_string(live.emission) + "}";
  return body;
}

namespace {

std::string file_keys(const site_change& c) {
  std::string out = "\"file_mtime\":" + std::to_string(c.mtime_ns / 1000000);
  out += ",\"file_size\":" + std::to_string(c.size);
  return out;
}

}  // namespace

std::string discovered_body(const std::vector<const site_change*>& added, std::string_view site) {
  std::string body = "[";
  for (size_t i = 0; i < added.size(); ++i) {
    auto& c = *added[i];
    if (i > 0) body += ',';
    body += "{\"_id\":" + json_string(element_id(c.reference));
    body += ",\"origin\":" + json_string(site) + "," + file_keys(c);
    body += ",\"comment\":" + json_string("scanned at " + std::string{site}) + "}";
  }
  body += ']';
  return body;
}

std::string modified_body(const std::vector<const site_change*>& changed, std::string_view site,
                          int64_t now_ms) {
  std::string body = "[";
  for (size_t i = 0; i < changed.size(); ++i) {
    auto& c = *changed[i];
    if (i > 0) body += ',';
    body += "{\"_id\":" + json_string(element_id(c.reference));
    body += ",\"origin\":" + json_string(site) + "," + file_keys(c);
    body += ",\"modified_" + std::string{site} + "\":" + std::to_string(now_ms);
    body += ",\"comment\":" + json_string("modified at " + std::string{site}) + "}";
  }
  body += ']';
  return body;
}

std::string synced_body(const std::vector<std::pair<std::string, int64_t>>& copies,
                        std::string_view site) {
  std::string body = "[";
  for (size_t i = 0; i < copies.size(); ++i) {
    if (i > 0) body += ',';
    body += "{\"_id\":" + json_string(copies[i].first);
    body += ",\"" + key_for(site_key::synced, site) + "\":" + std::to_string(copies[i].second);
    for (auto k : {site_key::syncing, site_key::sync_error, site_key::sync_last_attempt})
      body += ",\"" + key_for(k, site) + "\":null";
    body += '}';
  }
  body += ']';
  return body;
}

std::string volume_status_body(std::string_view site, const std::vector<status_field>& fields) {
  std::string body = "{\"_id\":" + json_string(volume_element_id(site));
  for (auto& f : fields) body += ",\"" + std::string{f.key} + "\":" + f.json;
  body += '}';
  return body;
}

std::string failed_body(std::string_view id, std::string_view site, int code, int64_t now_ms) {
  std::string body = "{\"_id\":" + json_string(id);
  body += ",\"" + key_for(site_key::sync_error, site) + "\":" + std::to_string(code);
  body += ",\"" + key_for(site_key::sync_last_attempt, site) + "\":" + std::to_string(now_ms);
  body += ",\"" + key_for(site_key::syncing, site) + "\":null}";
  return body;
}

int rsync_code(const caf::error& err) {
  using connectors::connector_errc;
  if (connectors::is(err, connector_errc::not_found)) return 23;  // partial transfer: file vanished
  if (connectors::is(err, connector_errc::network)) return 30;    // timeout in data send/receive
  if (connectors::is(err, connector_errc::busy)) return 30;
  if (connectors::is(err, connector_errc::permission_denied)) return 5;  // error starting session
  if (connectors::is(err, connector_errc::changed_during_copy)) return 12;  // protocol data stream
  if (connectors::is(err, connector_errc::invalid_path)) return 1;         // syntax or usage
  return 11;  // error in file I/O
}

}  // namespace syncline::actors
