#include "tools/node_actions.hpp"

#include "connectors/http_common.hpp"

namespace syncline::tools {

namespace {

using connectors::detail::url_escape;

api_result refused_locally(int code, std::string message) {
  api_result r;
  r.exit = code;
  r.error = std::move(message);
  return r;
}

}  // namespace

api_result find_datasource(api_session& api, std::string_view id, datasource_row& out) {
  std::vector<datasource_row> all;
  if (auto r = read_datasources(api, all); !r.ok()) return r;
  for (auto& d : all)
    if (d.id == id) {
      out = d;
      return {};
    }
  return refused_locally(exit_not_found, "no datasource " + std::string{id} +
                                             " (or you may not read it): `syncline status` "
                                             "lists them");
}

api_result pause_resume(api_session& api, const target& t, bool pause) {
  std::string verb = pause ? "/@pause" : "/@resume";
  if (t.kind == "node") return api.post("/api/node" + verb);
  if (t.kind == "volume") return api.post("/api/volumes/" + url_escape(t.id) + verb);
  if (t.kind == "transfer") {
    auto slash = t.id.rfind('/');
    return api.post("/api/transfers/" + url_escape(t.id.substr(0, slash)) + "/" +
                    url_escape(t.id.substr(slash + 1)) + verb);
  }
  datasource_row d;
  if (auto r = find_datasource(api, t.id, d); !r.ok()) return r;
  return api.post(d.path() + verb);
}

api_result sync_now(api_session& api, const target& t) {
  std::vector<datasource_row> all;
  if (auto r = read_datasources(api, all); !r.ok()) return r;
  api_result out;
  out.body = "[";
  size_t asked = 0;
  for (auto& d : all) {
    bool wanted = t.kind == "node" || (t.kind == "datasource" && d.id == t.id);
    if (t.kind == "volume")
      for (auto& v : d.volumes) wanted = wanted || v == t.id;
    if (!wanted) continue;
    auto r = api.post(d.path() + "/@sendToSpyder");
    if (asked++ > 0) out.body += ',';
    out.body += r.ok() ? r.body : "null";
    if (!r.ok() && out.ok()) {
      out.exit = r.exit;
      out.status = r.status;
      out.error = "datasource " + d.id + ": " + r.error;
    } else if (!r.ok()) {
      out.error += "; datasource " + d.id + ": " + r.error;
    }
  }
  out.body += "]";
  if (asked == 0) {
    if (t.kind == "datasource")
      return refused_locally(exit_not_found, "no datasource " + t.id + " (or you may not read it)");
    if (t.kind == "volume")
      return refused_locally(exit_not_found, "no datasource writes to a volume " + t.id);
  }
  return out;
}

api_result confirm_removals(api_session& api, std::string_view id, uint64_t count) {
  datasource_row d;
  if (auto r = find_datasource(api, id, d); !r.ok()) return r;
  return api.post(d.path() + "/@sendToSpyder",
                  "{\"confirm_deletes\":" + std::to_string(count) + "}");
}

api_result set_priority(api_session& api, std::string_view id, int64_t priority) {
  datasource_row d;
  if (auto r = find_datasource(api, id, d); !r.ok()) return r;
  return api.call("PATCH", d.path(), "{\"sync_priority\":" + std::to_string(priority) + "}");
}

api_result push_item(api_session& api, std::string_view id, std::string_view reference) {
  datasource_row d;
  if (auto r = find_datasource(api, id, d); !r.ok()) return r;
  std::string path = d.path();
  size_t at = 0;
  while (at <= reference.size()) {
    auto slash = reference.find('/', at);
    auto part = reference.substr(at, slash == std::string_view::npos ? slash : slash - at);
    path += "/" + url_escape(part);
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return api.post(path + "/@sendToCompute");
}

target read_target(const std::string& kind, const std::string& id, std::string& problem) {
  problem.clear();
  if (kind == "node") {
    if (!id.empty()) problem = "`node` takes no id";
    return problem.empty() ? target{"node", {}} : target{};
  }
  if (kind != "volume" && kind != "datasource" && kind != "transfer") {
    problem = "what to act on must be node, volume ID, datasource ID or transfer VOLUME/N (not `" +
              kind + "`)";
    return {};
  }
  if (id.empty()) {
    problem = "`" + kind + "` needs an id";
    return {};
  }
  if (kind == "transfer") {
    auto slash = id.rfind('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == id.size() ||
        id.find_first_not_of("0123456789", slash + 1) != std::string::npos) {
      problem = "a transfer is VOLUME/N, as /api/actors names it transfer/VOLUME/N (not `" + id +
                "`)";
      return {};
    }
  }
  return target{kind, id};
}

}  // namespace syncline::tools
