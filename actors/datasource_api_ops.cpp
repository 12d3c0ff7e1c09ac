// actors/datasource_api_ops.cpp: the datasource API's parts that only read or write storage
// (list, read, children, frontsearch, runs, credentials, share, accept; they run on the I/O
// pool), and what every operation shares: the body, the configuration from JSON, the view.
#include "actors/datasource_api_ops.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include "actors/datasource_schema.hpp"
#include "actors/error.hpp"
#include "actors/io_pool.hpp"
#include "actors/node_context.hpp"
#include "actors/records.hpp"
#include "actors/targets.hpp"
#include "actors/tracker_json.hpp"
#include "connectors/glob.hpp"
#include "connectors/http_auth.hpp"
#include "storage/credential_store.hpp"
#include "storage/datasource_store.hpp"
#include "storage/element_query.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::actors::detail {

namespace {

using storage::user_class;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr size_t max_credentials_bytes = 64 * 1024;


// --- the request, as the path names it ------------------------------------------------------


enum class need : uint8_t { read, write, share, accept };

need need_of(op o) {
  switch (o) {
    case op::list:
    case op::read:
    case op::children:
    case op::frontsearch:
    case op::runs:
      return need::read;
    case op::share: return need::share;
    case op::accept: return need::accept;
    default: return need::write;
  }
}


// --- JSON bodies ----------------------------------------------------------------------------

// The body as an object ({} when empty); on failure the answer to give. Parsed iteratively, so
// deep nesting cannot exhaust the stack.
}  // namespace

std::optional<api_answer> parse_body(const datasource_command& req, rapidjson::Document& d) {
  std::string_view body{req.body};
  while (!body.empty() && (body.front() == ' ' || body.front() == '\n' || body.front() == '\r' ||
                           body.front() == '\t'))
    body.remove_prefix(1);
  if (body.empty()) {
    d.SetObject();
    return std::nullopt;
  }
  d.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                  body.size());
  if (d.HasParseError()) return refuse(actors_errc::bad_request, "the body is not valid JSON");
  if (!d.IsObject()) return refuse(actors_errc::bad_request, "the body must be a JSON object");
  return std::nullopt;
}


std::string str(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

namespace {

// A parameter from the JSON body, else from the query string.
}  // namespace

const rapidjson::Value* body_param(const rapidjson::Document& d, const char* key) {
  if (!d.IsObject() || !d.HasMember(key) || d[key].IsNull()) return nullptr;
  return &d[key];
}

namespace {

std::optional<std::string> query_param(const datasource_command& req, std::string_view key) {
  for (auto& [k, v] : req.query)
    if (k == key) return v;
  return std::nullopt;
}

bool parse_uint(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  out = v;
  return true;
}

// --- configuration from JSON: the fields of actors/datasource_schema.hpp ----------------------

config_value to_value(const rapidjson::Value& v) {
  if (v.IsString()) return config_value::of(str(v));
  if (v.IsBool()) return config_value::of(v.GetBool());
  if (v.IsInt64()) return config_value::of(v.GetInt64());
  if (v.IsUint64()) return config_value::of(v.GetUint64());
  if (v.IsNumber()) return config_value::of(v.GetDouble());
  if (v.IsArray()) {
    config_value out;
    out.type = config_value::kind::array;
    for (auto& e : v.GetArray()) out.items.push_back(to_value(e));
    return out;
  }
  if (v.IsObject()) {
    std::vector<std::pair<std::string, config_value>> members;
    for (auto& m : v.GetObject()) members.emplace_back(str(m.name), to_value(m.value));
    return config_value::table_of(std::move(members));
  }
  config_value out;
  out.type = config_value::kind::other;
  out.string = "null";
  return out;
}

// Applies the configuration keys of `obj` to `c`; returns what is wrong, or "". `status` and
// the identity fields (`id`, `container`, `account`, `workspace`) are the caller's.
}  // namespace

std::string apply_config(const rapidjson::Value& obj, datasource_config& c) {
  for (auto& m : obj.GetObject()) {
    auto key = str(m.name);
    if (key == "status") continue;
    auto* f = find_datasource_field(key);
    if (f == nullptr)
      return "unknown key " + key + " (keys: " + datasource_field_names() + ")";
    if (f->identity) continue;
    if (auto p = f->read(to_value(m.value), c); !p.empty()) return key + ": " + p;
  }
  return {};
}

namespace {

// --- the datasource as JSON -----------------------------------------------------------------

void write_string(json_writer& w, std::string_view s) {
  auto p = printable(s);
  w.String(p.c_str(), static_cast<rapidjson::SizeType>(p.size()));
}

void write_value(json_writer& w, const config_value& v) {
  using kind = config_value::kind;
  switch (v.type) {
    case kind::boolean:
      w.Bool(v.boolean);
      return;
    case kind::integer:
      w.Int64(v.integer);
      return;
    case kind::big_integer:
      w.Uint64(v.big);
      return;
    case kind::floating:
      w.Double(v.floating);
      return;
    case kind::string:
    case kind::other:
      write_string(w, v.string);
      return;
    case kind::array:
      w.StartArray();
      for (auto& e : v.items) write_value(w, e);
      w.EndArray();
      return;
    case kind::table:
      w.StartObject();
      for (auto& [k, e] : v.members) {
        w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
        write_value(w, e);
      }
      w.EndObject();
      return;
  }
}

void write_run(json_writer& w, const storage::run_record& r) {
  w.StartObject();
  w.Key("number");
  w.Uint64(r.number);
  w.Key("status");
  w.String(storage::to_string(r.status));
  w.Key("trigger");
  write_string(w, r.trigger);
  w.Key("started_ms");
  w.Int64(r.started_ms);
  w.Key("ended_ms");
  w.Int64(r.ended_ms);
  w.Key("error");
  write_string(w, r.error);
  w.Key("history");
  w.StartArray();
  for (auto& h : r.history) {
    w.StartObject();
    w.Key("status");
    w.String(storage::to_string(h.status));
    w.Key("at_ms");
    w.Int64(h.at_ms);
    w.EndObject();
  }
  w.EndArray();
  auto& c = r.counters;
  w.Key("counters");
  w.StartObject();
  for (auto [k, v] : {std::pair<const char*, uint64_t>{"listed", c.listed}, {"added", c.added},
                      {"replaced", c.replaced}, {"removed", c.removed},
                      {"unchanged", c.unchanged}, {"done", c.done}, {"failed", c.failed},
                      {"bytes_total", c.bytes_total}, {"bytes_done", c.bytes_done}}) {
    w.Key(k);
    w.Uint64(v);
  }
  w.EndObject();
  w.EndObject();
}


// The datasource as `user` sees it: an invited user who has not accepted sees `invited`.
}  // namespace

std::string view_json(const datasource_record& rec, const std::optional<access_record>& access,
                      const std::string& user, user_class cls, const view_extras& x) {
  auto& c = rec.config;
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  for (auto& f : datasource_fields()) {
    if (f.shown != nullptr && !f.shown(c)) continue;
    w.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
    write_value(w, f.value(c));
  }
  w.Key("held_removals");
  w.Uint64(rec.held_removals);
  std::string invitation;
  if (access) {
    auto m = access->members.find(user);
    if (m != access->members.end()) invitation = m->second;
  }
  w.Key("status");
  if (invitation == "invited")
    w.String("invited");
  else if (!x.live_status.empty())
    write_string(w, x.live_status);
  else
    w.String(to_string(rec.status));
  w.Key("health");
  w.String(to_string(rec.health));
  w.Key("last_error");
  write_string(w, rec.last_error);
  w.Key("next_run_ms");
  w.Int64(rec.next_run_ms);
  w.Key("created_ms");
  w.Int64(rec.created_ms);
  w.Key("origin");
  w.String(access ? access->origin.c_str() : "config");
  w.Key("owner");
  if (access && !access->owner.empty()) write_string(w, access->owner);
  else w.Null();
  if (!invitation.empty()) {
    w.Key("invitation");
    w.String(invitation.c_str());
  }
  if (access && (cls == user_class::admin || access->owner == user)) {
    w.Key("shared_with");
    w.StartObject();
    for (auto& [u, state] : access->members) {
      w.Key(u.c_str(), static_cast<rapidjson::SizeType>(u.size()));
      w.String(state.c_str());
    }
    w.EndObject();
  }
  w.Key("credentials");
  w.StartObject();
  w.Key("stored");
  w.Bool(x.credentials);
  w.EndObject();
  w.Key("last_run");
  if (x.last_run) write_run(w, *x.last_run);
  else w.Null();
  if (!x.counts.empty()) {
    w.Key("counters");
    w.StartObject();
    for (auto& [vol, n] : x.counts) {
      w.Key(vol.c_str(), static_cast<rapidjson::SizeType>(vol.size()));
      w.StartObject();
      w.Key("items");
      w.Uint64(n.rows);
      w.Key("bytes");
      w.Uint64(n.bytes);
      w.Key("pending");
      w.StartObject();
      for (auto a : {storage::pending_action::add, storage::pending_action::replace,
                     storage::pending_action::remove}) {
        w.Key(storage::to_string(a));
        w.Uint64(n.pending[static_cast<size_t>(a)]);
      }
      w.EndObject();
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

namespace {

// --- shared services ------------------------------------------------------------------------


bool can_read(const call& c, const std::optional<access_record>& a) {
  return storage::may_read(a, c.req->user, c.cls);
}


}  // namespace

std::variant<loaded, api_answer> load_for(const services& s, const call& c) {
  auto rec = load_datasource(s.ctx->datasources(), c.id);
  if (!rec) return answer_error(rec.error());
  auto where = c.container + "/" + c.account + "/" + c.workspace;
  if (!*rec || (*rec)->config.container != c.container || (*rec)->config.account != c.account ||
      (*rec)->config.workspace != c.workspace)
    return refuse(actors_errc::unknown_id, "no datasource " + c.id + " in workspace " + where);
  auto access = s.ctx->datasources().access(c.id);
  if (!access) return answer_error(access.error());
  loaded out{std::move(**rec), std::move(*access)};
  auto& user = c.req->user;
  switch (need_of(c.what)) {
    case need::read:
      if (!can_read(c, out.access))
        return refuse(actors_errc::forbidden, "reading datasource " + c.id +
                             " needs the class user, or being its owner or invited to it");
      break;
    case need::write:
      if (c.cls < user_class::editor)
        return refuse(actors_errc::forbidden, "changing datasource " + c.id + " needs the class editor");
      break;
    case need::share:
      if (c.cls < user_class::editor ||
          (c.cls != user_class::admin && (!out.access || out.access->owner != user)))
        return refuse(actors_errc::forbidden, "only the owner (an editor) or an admin may share datasource " + c.id);
      break;
    case need::accept:
      if (!out.access || out.access->members.count(user) == 0) {
        if (!can_read(c, out.access))
          return refuse(actors_errc::forbidden, "datasource " + c.id + " is not shared with you");
        return refuse(actors_errc::conflict, "datasource " + c.id + " has no invitation for you");
      }
      break;
  }
  return out;
}

namespace {

// --- the operations that only read or write storage (they run on the pool) -------------------

view_extras extras_of(const services& s, const datasource_record& rec, bool counts,
                      caf::error& err) {
  view_extras x;
  auto last = s.ctx->runs().last(rec.config.id);
  if (!last) {
    err = std::move(last.error());
    return x;
  }
  x.last_run = std::move(*last);
  auto has = s.credentials->has(rec.config.id);
  if (!has) {
    err = std::move(has.error());
    return x;
  }
  x.credentials = *has;
  if (counts)
    for (auto& v : rec.config.volumes) {
      auto n = s.ctx->rows().count(datastore_scope(rec.config.id, v));
      if (!n) {
        err = std::move(n.error());
        return x;
      }
      x.counts.emplace_back(v, *n);
    }
  return x;
}

api_answer op_read(const services& s, const call& c) {
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return std::move(*refused);
  auto& l = std::get<loaded>(got);
  caf::error err;
  auto x = extras_of(s, l.rec, true, err);
  if (err) return answer_error(err);
  x.live_status = c.live_status;
  return answer_json(answer_kind::done, view_json(l.rec, l.access, c.req->user, c.cls, x));
}

api_answer op_list(const services& s, const call& c) {
  auto all = load_datasources(s.ctx->datasources());
  if (!all) return answer_error(all.error());
  auto accesses = s.ctx->datasources().all_access();
  if (!accesses) return answer_error(accesses.error());
  std::string body = "{\"datasources\":[";
  size_t n = 0;
  const bool every = c.container.empty() && c.account.empty() && c.workspace.empty();
  for (auto& rec : *all) {
    auto& cfg = rec.config;
    if (!every && (cfg.container != c.container || cfg.account != c.account || cfg.workspace != c.workspace))
      continue;
    std::optional<access_record> access;
    if (auto a = accesses->find(cfg.id); a != accesses->end()) access = a->second;
    if (!can_read(c, access)) continue;
    caf::error err;
    auto x = extras_of(s, rec, false, err);
    if (err) return answer_error(err);
    if (n++ > 0) body += ',';
    body += view_json(rec, access, c.req->user, c.cls, x);
  }
  body += "],\"count\":" + std::to_string(n) + "}";
  return answer_json(answer_kind::done, std::move(body));
}

// Page size and cursor of getAllChildren and frontsearch: JSON body `{page_size, scroll}` or
// the query string's `page_size`, `scroll`.
struct paging {
  size_t page_size = 0;
  std::string after;
};

std::optional<api_answer> read_paging(const services& s, const datasource_command& req,
                                        const rapidjson::Document& d, paging& p) {
  p.page_size = s.settings.default_page_size;
  uint64_t n = 0;
  if (auto* v = body_param(d, "page_size")) {
    if (!v->IsUint64() || v->GetUint64() == 0)
      return refuse(actors_errc::bad_request, "page_size must be a positive integer");
    n = v->GetUint64();
  } else if (auto q = query_param(req, "page_size")) {
    if (!parse_uint(*q, n) || n == 0) return refuse(actors_errc::bad_request, "page_size must be a positive integer");
  }
  if (n > 0) p.page_size = static_cast<size_t>(std::min<uint64_t>(n, s.settings.max_page_size));
  if (auto* v = body_param(d, "scroll")) {
    if (!v->IsString()) return refuse(actors_errc::bad_request, "scroll must be a string (a cursor of a previous page)");
    p.after = str(*v);
  } else if (auto q = query_param(req, "scroll")) {
    p.after = *q;
  }
  if (p.after.size() > 4096 || p.after.find('\0') != std::string::npos)
    return refuse(actors_errc::bad_request, "scroll is not a cursor of this API");
  return std::nullopt;
}

const char* item_type(const storage::datastore_row& r) {
  if ((r.flags & storage::datastore_row::flag_directory) != 0) return "directory";
  if ((r.flags & storage::datastore_row::flag_symlink) != 0) return "symlink";
  return "file";
}

// A child as JSON: the element `@frontsearch` matches against, and what a page lists.
std::string child_json(const storage::datastore_row& r) {
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  std::string_view ref{r.reference};
  auto trimmed = ref;
  if (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
  auto slash = trimmed.rfind('/');
  auto name = slash == std::string_view::npos ? trimmed : trimmed.substr(slash + 1);
  w.StartObject();
  w.Key("_id");
  write_string(w, ref);
  w.Key("name");
  write_string(w, name);
  w.Key("type");
  w.String(item_type(r));
  w.Key("size");
  w.Uint64(r.size);
  w.Key("mtime_ns");
  w.Int64(r.mtime_ns);
  if (r.hash) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(*r.hash));
    w.Key("hash");
    w.String(hex);
  }
  w.Key("pending");
  w.String(storage::to_string(r.action));
  if (r.parked) {
    w.Key("error");
    write_string(w, r.last_error);
  }
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

// Walks the datasource's children in reference order after `after`: the union of its volumes'
// rows (each volume's rows list the same source), without the items gone from the source.
// Calls `visit(row)` until it returns false or `max_rows` rows were read; returns whether rows
// remain, or the error.
template <class Visit>
caf::expected<bool> walk_children(const services& s, const datasource_record& rec,
                                  const std::string& after, size_t max_rows, Visit visit) {
  std::vector<storage::datastore::cursor> cs;
  for (auto& v : rec.config.volumes)
    cs.push_back(s.ctx->rows().scan(datastore_scope(rec.config.id, v), after));
  size_t read = 0;
  while (true) {
    const storage::datastore_row* best = nullptr;
    for (auto& cur : cs) {
      if (!cur.valid()) continue;
      if (best == nullptr || cur.row().reference < best->reference) best = &cur.row();
    }
    if (best == nullptr) break;
    if (read >= max_rows) return true;
    auto row = *best;
    for (auto& cur : cs)
      if (cur.valid() && cur.row().reference == row.reference) cur.next();
    ++read;
    if (row.action == storage::pending_action::remove) continue;
    if (!visit(row)) {
      for (auto& cur : cs)
        if (cur.valid()) return true;
      break;
    }
  }
  for (auto& cur : cs)
    if (cur.status()) return cur.status();
  return false;
}

api_answer op_children(const services& s, const call& c, bool search) {
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return std::move(*refused);
  auto& l = std::get<loaded>(got);
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return std::move(*bad);
  paging p;
  if (auto bad = read_paging(s, *c.req, d, p)) return std::move(*bad);
  std::optional<storage::element_query> query;
  if (search) {
    std::optional<caf::expected<storage::element_query>> parsed;
    if (auto* v = body_param(d, "query")) {
      if (v->IsString()) {
        parsed = storage::element_query::parse_text(str(*v));
      } else if (v->IsObject()) {
        rapidjson::StringBuffer buf;
        json_writer w{buf};
        v->Accept(w);
        parsed = storage::element_query::parse_mongo({buf.GetString(), buf.GetSize()});
      } else {
        return refuse(actors_errc::bad_request, "query must be a text query (a string) or a MongoDB query (an object)");
      }
    } else if (auto q = query_param(*c.req, "q")) {
      parsed = storage::element_query::parse_text(*q);
    } else {
      return refuse(actors_errc::bad_request, "@frontsearch needs a query: {\"query\": \"name:/x/i\"} or ?q=...");
    }
    if (!*parsed) return refuse(actors_errc::bad_request, "query: " + error_message(parsed->error()));
    query = std::move(**parsed);
  }
  std::string items;
  size_t n = 0;
  std::string last;
  size_t max_rows = search ? s.settings.max_scan_rows : static_cast<size_t>(-1);
  auto more = walk_children(s, l.rec, p.after, max_rows, [&](const storage::datastore_row& r) {
    last = r.reference;
    auto j = child_json(r);
    if (query && !query->matches(j)) return true;
    if (n++ > 0) items += ',';
    items += j;
    return n < p.page_size;
  });
  if (!more) return answer_error(more.error());
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("cursor");
  if (*more && !last.empty()) write_string(w, last);
  else w.Null();
  w.EndObject();
  std::string tail{buf.GetString() + 1, buf.GetSize() - 1};  // `"cursor":...}`
  return answer_json(answer_kind::done, "{\"items\":[" + items + "]," + tail);
}

api_answer op_runs(const services& s, const call& c) {
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return std::move(*refused);
  uint64_t limit = 20, before = 0;
  if (auto q = query_param(*c.req, "limit"))
    if (!parse_uint(*q, limit) || limit == 0) return refuse(actors_errc::bad_request, "limit must be a positive integer");
  if (auto q = query_param(*c.req, "before"))
    if (!parse_uint(*q, before)) return refuse(actors_errc::bad_request, "before must be a run number");
  auto runs = s.ctx->runs().list(c.id, static_cast<size_t>(std::min<uint64_t>(limit, 100)), before);
  if (!runs) return answer_error(runs.error());
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  w.StartObject();
  w.Key("datasource");
  write_string(w, c.id);
  w.Key("runs");
  w.StartArray();
  for (auto& r : *runs) write_run(w, r);
  w.EndArray();
  w.EndObject();
  return answer_json(answer_kind::done, {buf.GetString(), buf.GetSize()});
}

api_answer op_credentials(services& s, const call& c) {
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return std::move(*refused);
  if (c.req->body.size() > max_credentials_bytes)
    return refuse(actors_errc::bad_request, "credentials are larger than 64 KiB");
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return std::move(*bad);
  if (d.ObjectEmpty()) return refuse(actors_errc::bad_request, "the body must be an object holding the credentials");
  rapidjson::StringBuffer buf;
  json_writer w{buf};
  d.Accept(w);
  // What an http datasource will send must be there: refused now, not at its next run.
  auto& h = std::get<loaded>(got).rec.config.http;
  connectors::http_auth kind = connectors::http_auth::none;
  if (std::get<loaded>(got).rec.config.type == "http" && connectors::http_auth_from_string(h.auth, kind))
    if (auto p = connectors::credentials_problem(kind, {buf.GetString(), buf.GetSize()}); !p.empty())
      return refuse(actors_errc::bad_request, p);
  if (auto err = s.credentials->put(c.id, {buf.GetString(), buf.GetSize()})) return answer_error(err);
  rapidjson::StringBuffer out;
  json_writer o{out};
  o.StartObject();
  o.Key("datasource");
  write_string(o, c.id);
  o.Key("credentials");
  o.StartObject();
  o.Key("stored");
  o.Bool(true);
  o.Key("keys");
  o.StartArray();
  for (auto& m : d.GetObject()) write_string(o, str(m.name));
  o.EndArray();
  o.EndObject();
  o.EndObject();
  spdlog::info("datasource {}: credentials refreshed by {}", c.id, c.req->user);
  return answer_json(answer_kind::done, {out.GetString(), out.GetSize()});
}

api_answer op_share(services& s, const call& c) {
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return std::move(*refused);
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return std::move(*bad);
  auto* u = body_param(d, "user");
  if (u == nullptr || !u->IsString() || u->GetStringLength() == 0)
    return refuse(actors_errc::bad_request, "@share needs {\"user\": \"name\"}");
  auto user = str(*u);
  if (!user.empty() && user.front() == '@') user.erase(0, 1);
  auto found = s.users->find(user);
  if (!found) {
    if (storage::is(found.error(), storage::storage_errc::not_found) ||
        storage::is(found.error(), storage::storage_errc::invalid_argument))
      return refuse(actors_errc::bad_request, "no user " + user);
    return answer_error(found.error());
  }
  std::string state;
  auto err = s.ctx->datasources().update_access(
      c.id, [&](std::optional<access_record>& access, caf::error& refuse) {
        if (!access) access.emplace();
        if (user == access->owner) {
          refuse = make_error(actors_errc::bad_request, user + " owns datasource " + c.id);
          return false;
        }
        auto& member = access->members[user];
        if (member.empty()) member = "invited";
        state = member;
        return true;
      });
  if (err) return answer_error(err);
  spdlog::info("datasource {}: shared with {} by {}", c.id, user, c.req->user);
  return answer_json(answer_kind::done, "{\"datasource\":" + json_string(c.id) + ",\"user\":" +
                                json_string(user) + ",\"invitation\":" + json_string(state) + "}");
}

api_answer op_accept(services& s, const call& c) {
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return std::move(*refused);
  auto& l = std::get<loaded>(got);
  auto err = s.ctx->datasources().update_access(
      c.id, [&](std::optional<access_record>& access, caf::error& refuse) {
        if (!access || access->members.count(c.req->user) == 0) {
          refuse = make_error(actors_errc::forbidden_transition,
                              "datasource " + c.id + " has no invitation for you");
          return false;
        }
        access->members[c.req->user] = "accepted";
        l.access = access;
        return true;
      });
  if (err) return answer_error(err);
  caf::error extras_err;
  auto x = extras_of(s, l.rec, false, extras_err);
  if (extras_err) return answer_error(extras_err);
  return answer_json(answer_kind::done, view_json(l.rec, l.access, c.req->user, c.cls, x));
}

}  // namespace

api_answer run_storage_op(services& s, const call& c) {
  try {
    switch (c.what) {
      case op::list: return op_list(s, c);
      case op::read: return op_read(s, c);
      case op::children: return op_children(s, c, false);
      case op::frontsearch: return op_children(s, c, true);
      case op::runs: return op_runs(s, c);
      case op::credentials: return op_credentials(s, c);
      case op::share: return op_share(s, c);
      case op::accept: return op_accept(s, c);
      default: break;
    }
  } catch (const std::exception& e) {
    spdlog::error("datasource API: {} failed: {}", to_string(c.what), e.what());
  }
  return refuse(actors_errc::job_failed, "the request failed on the server");
}


bool storage_only(op o) {
  switch (o) {
    case op::list:
    case op::read:
    case op::children:
    case op::frontsearch:
    case op::runs:
    case op::credentials:
    case op::share:
    case op::accept:
      return true;
    default:
      return false;
  }
}


}  // namespace syncline::actors::detail
