#include "tools/node_view.hpp"

#include <algorithm>
#include <cstdio>

#include <simdjson.h>

#include "connectors/http_common.hpp"

namespace syncline::tools {

namespace {

using simdjson::dom::element;

std::string str(element e, const char* key) {
  std::string_view v;
  return e[key].get(v) ? std::string{} : std::string{v};
}

uint64_t u64(element e, const char* key) {
  uint64_t v = 0;
  if (!e[key].get(v)) return v;
  int64_t i = 0;
  if (!e[key].get(i) && i > 0) return static_cast<uint64_t>(i);
  return 0;
}

int64_t i64(element e, const char* key) {
  int64_t v = 0;
  if (!e[key].get(v)) return v;
  uint64_t u = 0;
  return !e[key].get(u) ? static_cast<int64_t>(u) : 0;
}

api_result malformed(const char* what) {
  api_result r;
  r.exit = exit_failed;
  r.error = std::string{"the node's answer to "} + what + " is not JSON of the documented shape";
  return r;
}

void read_datasource(element d, datasource_row& row) {
  row.id = str(d, "id");
  row.container = str(d, "container");
  row.account = str(d, "account");
  row.workspace = str(d, "workspace");
  row.type = str(d, "type");
  row.sync_type = str(d, "sync_type");
  row.status = str(d, "status");
  row.health = str(d, "health");
  row.last_error = str(d, "last_error");
  row.sync_priority = i64(d, "sync_priority");
  row.held_removals = u64(d, "held_removals");
  simdjson::dom::array vols;
  if (!d["volumes"].get(vols))
    for (auto v : vols) {
      std::string_view s;
      if (!v.get(s)) row.volumes.emplace_back(s);
    }
  simdjson::dom::object counters;
  if (!d["counters"].get(counters))
    for (auto [vol, c] : counters) {
      element pending;
      if (c["pending"].get(pending)) continue;
      row.pending += u64(pending, "add") + u64(pending, "replace") + u64(pending, "remove");
    }
  element run;
  if (d["last_run"].get(run) || run.is_null()) return;
  row.run = u64(run, "number");
  row.run_status = str(run, "status");
  row.run_trigger = str(run, "trigger");
  row.run_error = str(run, "error");
  element rc;
  if (!run["counters"].get(rc)) {
    row.listed = u64(rc, "listed");
    row.done = u64(rc, "done");
    row.failed = u64(rc, "failed");
    row.total = u64(rc, "added") + u64(rc, "replaced") + u64(rc, "removed");
    row.bytes_done = u64(rc, "bytes_done");
    row.bytes_total = u64(rc, "bytes_total");
  }
  simdjson::dom::array history;
  if (!run["history"].get(history))
    for (auto h : history) row.run_history.emplace_back(str(h, "status"), i64(h, "at_ms"));
}

void read_actor(element a, int depth, std::vector<actor_row>& out) {
  actor_row row;
  row.id = str(a, "id");
  row.kind = str(a, "kind");
  row.state = str(a, "state");
  row.current = str(a, "current");
  row.last_error = str(a, "last_error");
  row.mailbox = u64(a, "mailbox");
  row.depth = depth;
  simdjson::dom::object counters;
  if (!a["counters"].get(counters))
    for (auto [k, v] : counters) {
      int64_t n = 0;
      uint64_t u = 0;
      if (!v.get(n)) row.counters.emplace_back(std::string{k}, n);
      else if (!v.get(u)) row.counters.emplace_back(std::string{k}, static_cast<int64_t>(u));
    }
  out.push_back(std::move(row));
  simdjson::dom::array children;
  if (!a["children"].get(children))
    for (auto c : children) read_actor(c, depth + 1, out);
}

std::string count_of(uint64_t done, uint64_t total) {
  return std::to_string(done) + "/" + std::to_string(total);
}

}  // namespace

std::string datasource_row::path() const {
  using connectors::detail::url_escape;
  return "/api/" + url_escape(container) + "/" + url_escape(account) + "/workspaces/" +
         url_escape(workspace) + "/" + url_escape(id);
}

int64_t actor_row::counter(std::string_view name) const {
  for (auto& [k, v] : counters)
    if (k == name) return v;
  return 0;
}

const datasource_row* node_view::datasource(std::string_view id) const {
  for (auto& d : datasources)
    if (d.id == id) return &d;
  return nullptr;
}

api_result read_datasources(api_session& api, std::vector<datasource_row>& out) {
  out.clear();
  auto ds = api.get("/api/datasources");
  if (!ds.ok()) return ds;
  simdjson::dom::parser parser;
  element doc;
  simdjson::dom::array list;
  if (parser.parse(ds.body).get(doc) || doc["datasources"].get(list))
    return malformed("/api/datasources");
  for (auto d : list) {
    datasource_row row;
    read_datasource(d, row);
    out.push_back(std::move(row));
  }
  return {};
}

api_result read_view(api_session& api, node_view& out, size_t queue_head) {
  out = node_view{};
  out.url = api.url();
  simdjson::dom::parser parser;
  element doc;
  auto health = api.get("/health");
  if (!health.ok()) return health;
  if (parser.parse(health.body).get(doc)) return malformed("/health");
  out.node_id = str(doc, "node_id");
  out.version = str(doc, "version");
  out.uptime_s = u64(doc, "uptime_s");

  if (auto ds = read_datasources(api, out.datasources); !ds.ok()) return ds;
  simdjson::dom::array list;

  auto actors = api.get("/api/actors");
  if (!actors.ok()) return actors;
  if (parser.parse(actors.body).get(doc)) return malformed("/api/actors");
  simdjson::dom::array children;
  if (!doc["children"].get(children))
    for (auto c : children) read_actor(c, 0, out.actors);

  auto queue = api.get("/api/queue?limit=" + std::to_string(queue_head));
  if (!queue.ok()) return queue;
  if (parser.parse(queue.body).get(doc) || doc["queues"].get(list)) return malformed("/api/queue");
  out.queue_total = u64(doc, "total");
  for (auto q : list) {
    queue_row row;
    row.volume = str(q, "volume");
    row.datasource = str(q, "datasource");
    row.size = u64(q, "size");
    row.leased = u64(q, "leased");
    simdjson::dom::array head;
    if (!q["head"].get(head))
      for (auto h : head) row.head.emplace_back(i64(h, "priority"), str(h, "item"));
    out.queues.push_back(std::move(row));
  }
  return {};
}

api_result read_view_json(api_session& api, std::string& out) {
  out = "{";
  const std::pair<const char*, const char*> parts[] = {{"health", "/health"},
                                                       {"datasources", "/api/datasources"},
                                                       {"actors", "/api/actors"},
                                                       {"queue", "/api/queue"}};
  for (auto& [key, path] : parts) {
    auto r = api.get(path);
    if (!r.ok()) return r;
    if (out.size() > 1) out += ',';
    out += std::string{"\""} + key + "\":" + r.body;
  }
  out += "}";
  return {};
}

void progress_meter::observe(const std::string& datasource, reading now) {
  auto& r = last_[datasource];
  if (r.run == now.run && now.at_ms > r.at_ms && now.bytes >= r.bytes) {
    double rate = static_cast<double>(now.bytes - r.bytes) * 1000.0 /
                  static_cast<double>(now.at_ms - r.at_ms);
    now.rate = r.rate == 0 ? rate : 0.7 * r.rate + 0.3 * rate;
  }
  r = now;
}

void progress_meter::overlay(datasource_row& d) const {
  auto it = last_.find(d.id);
  if (it == last_.end() || it->second.run < d.run || d.status != "syncing") return;
  auto& r = it->second;
  d.run = r.run;
  d.done = r.done;
  d.total = r.total;
  d.failed = r.failed;
  d.bytes_done = r.bytes;
  d.bytes_total = r.bytes_total;
}

std::string progress_meter::describe(const datasource_row& d) const {
  auto it = last_.find(d.id);
  if (it == last_.end() || it->second.run != d.run || it->second.rate <= 0) return {};
  auto rate = it->second.rate;
  std::string out = human_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (d.bytes_total > d.bytes_done)
    out += ", " +
           human_duration(static_cast<uint64_t>(static_cast<double>(d.bytes_total - d.bytes_done) / rate)) +
           " left";
  return out;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1000.0 && u + 1 < std::size(units)) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

std::string human_duration(uint64_t s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  else
    std::snprintf(buf, sizeof buf, "%llud%02lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>(s / 3600 % 24));
  return buf;
}

std::string fit(std::string_view s, size_t width) {
  std::string out;
  size_t cols = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    bool starts = (c & 0xC0) != 0x80;
    if (starts && cols == width) break;
    if (c < 0x20 || c == 0x7F) c = '?';  // no control byte reaches the terminal
    out += static_cast<char>(c);
    cols += starts ? 1 : 0;
  }
  out.append(width - std::min(width, cols), ' ');
  return out;
}

std::vector<view_line> render_view(const node_view& v, const progress_meter& meter,
                                   size_t width) {
  std::vector<view_line> out;
  auto line = [&](std::string text, std::string kind = {}, std::string id = {}) {
    out.push_back({fit(text, width), std::move(kind), std::move(id)});
  };
  // The node, and whether it is paused (every volume paused says so).
  bool any_volume = false, all_paused = true;
  for (auto& a : v.actors)
    if (a.kind == "volume" && a.depth == 0) {
      any_volume = true;
      all_paused = all_paused && a.state == "paused";
    }
  line("node " + v.node_id.substr(0, 10) + "  syncline " + v.version + "  up " +
           human_duration(v.uptime_s) + "  " + v.url +
           (any_volume && all_paused ? "  [paused]" : ""),
       "node", "node");
  line("");
  line(fit("DATASOURCE", 18) + fit("STATUS", 12) + fit("HEALTH", 10) + fit("RUN", 6) +
       fit("ITEMS", 12) + "BYTES");
  if (v.datasources.empty()) line("  (none)");
  for (auto& d : v.datasources) {
    std::string text = fit(d.id, 17) + " " + fit(d.status, 11) + " " + fit(d.health, 9) + " " +
                       fit(d.run == 0 ? "-" : std::to_string(d.run), 5) + " " +
                       fit(count_of(d.done, d.total), 11) + " " +
                       human_bytes(d.bytes_done) + "/" + human_bytes(d.bytes_total);
    if (auto m = meter.describe(d); !m.empty() && d.status == "syncing") text += "  " + m;
    line(text, "datasource", d.id);
    if (d.held_removals > 0)
      line("    " + std::to_string(d.held_removals) + " removals held: confirm with c");
    if (!d.last_error.empty()) line("    error: " + d.last_error);
  }
  line("");
  line(fit("VOLUME / TRANSFER", 30) + fit("STATE", 10) + fit("QUEUED", 8) + fit("RUNNING", 8) +
       fit("DONE", 8) + "FAILED");
  for (auto& a : v.actors) {
    if (a.kind != "volume" || a.depth != 0) continue;
    auto id = a.id.substr(a.id.find('/') + 1);
    line(fit(id, 29) + " " + fit(a.state, 9) + " " + fit(std::to_string(a.counter("queued")), 7) +
             " " + fit(std::to_string(a.counter("running")), 7) + " " +
             fit(std::to_string(a.counter("done")), 7) + " " + std::to_string(a.counter("failed")),
         "volume", id);
    if (!a.last_error.empty()) line("    error: " + a.last_error);
  }
  for (auto& a : v.actors) {
    if (a.kind != "transfer") continue;
    auto id = a.id.substr(a.id.find('/') + 1);
    line("  " + fit(id, 27) + " " + fit(a.state, 9) + " " + a.current, "transfer", id);
  }
  line("");
  line("QUEUE " + std::to_string(v.queue_total) + " waiting");
  for (auto& q : v.queues) {
    std::string text = "  " + q.volume + " <- " + q.datasource + ": " + std::to_string(q.size) +
                       " (" + std::to_string(q.leased) + " leased)";
    for (auto& [prio, item] : q.head) text += "  " + item;
    line(text);
  }
  line("");
  line(fit("ACTOR", 30) + fit("STATE", 12) + fit("MAILBOX", 8) + "ERROR");
  for (auto& a : v.actors) {
    if (a.kind == "volume" && a.depth == 0) continue;
    if (a.kind == "transfer") continue;
    std::string indent(static_cast<size_t>(a.depth) * 2, ' ');
    line(indent + fit(a.id, 29 - indent.size()) + " " + fit(a.state, 11) + " " +
         fit(std::to_string(a.mailbox), 7) + " " + a.last_error);
  }
  return out;
}

}  // namespace syncline::tools
