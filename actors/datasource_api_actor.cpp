#include "actors/datasource_api_actor.hpp"

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
#include "storage/credential_store.hpp"
#include "storage/datasource_store.hpp"
#include "storage/element_query.hpp"
#include "storage/error.hpp"
#include "storage/ulid.hpp"
#include "storage/user_store.hpp"

namespace syncline::actors {

namespace {

using storage::user_class;
using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr size_t max_credentials_bytes = 64 * 1024;

// Who owns a datasource and whom it is shared with: kept by storage::datasource_store.
using access_record = storage::datasource_access;

// --- the request, as the path names it ------------------------------------------------------

using op = datasource_op;

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

// A command and what the actor learns about it on the way.
struct call {
  std::shared_ptr<datasource_command> req;
  op what = op::read;
  std::string container, account, workspace;
  std::string id;        // the datasource; empty for list and POST create
  std::string resource;  // sendToCompute
  // read: the status the datasource's actor reports now (empty: not running, use the record's)
  std::string live_status;
  user_class cls = user_class::guest;
};

// --- JSON bodies ----------------------------------------------------------------------------

// The body as an object ({} when empty); on failure the answer to give. Parsed iteratively, so
// deep nesting cannot exhaust the stack.
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

// A parameter from the JSON body, else from the query string.
const rapidjson::Value* body_param(const rapidjson::Document& d, const char* key) {
  if (!d.IsObject() || !d.HasMember(key) || d[key].IsNull()) return nullptr;
  return &d[key];
}

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

// What the view of a datasource holds besides its record.
struct view_extras {
  std::optional<storage::run_record> last_run;
  bool credentials = false;
  // Per volume: the datastore's counts (read only; a scan of the rows).
  std::vector<std::pair<std::string, storage::datastore_counts>> counts;
  // The status the running actor reports, which may be ahead of the saved record's.
  std::string live_status;
};

// The datasource as `user` sees it: an invited user who has not accepted sees `invited`.
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

// --- shared services ------------------------------------------------------------------------

struct services {
  node_context* ctx = nullptr;
  io_pool* pool = nullptr;
  storage::user_store* users = nullptr;
  storage::credential_store* credentials = nullptr;
  datasource_api_init settings;
};

bool can_read(const call& c, const std::optional<access_record>& a) {
  if (c.cls >= user_class::user) return true;
  if (!a) return false;
  return a->owner == c.req->user || a->members.count(c.req->user) != 0;
}

// Loads the datasource named by the call and checks that it lives in the call's workspace
// and that the caller may do what the call does. On failure the answer to give.
struct loaded {
  datasource_record rec;
  std::optional<access_record> access;
};

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
  for (auto& rec : *all) {
    auto& cfg = rec.config;
    if (cfg.container != c.container || cfg.account != c.account || cfg.workspace != c.workspace)
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

}  // namespace

// --- the actor ------------------------------------------------------------------------------

struct datasource_api_state {
  static const char* name;
  std::shared_ptr<services> svc = std::make_shared<services>();
  supervisor_actor supervisor;
  directory_actor directory;
  std::unordered_set<std::string> busy;  // datasources being created, changed or deleted
  uint64_t requests = 0;
  uint64_t refused = 0;
};

const char* datasource_api_state::name = "datasource_api";

namespace {

using self_ptr = datasource_api_actor::stateful_pointer<datasource_api_state>;

void answer(self_ptr self, const call& c, api_answer r) {
  if (r.error) ++self->state.refused;
  if (c.req->respond) c.req->respond(std::move(r));
}

// Runs `fn(actor)` with the datasource's running actor, or answers why there is none.
template <class Fn>
void with_actor(self_ptr self, const call& c, Fn fn) {
  auto& st = self->state;
  self->request(st.directory, caf::duration{st.svc->settings.actor_timeout}, find_atom::value,
                "datasource/" + c.id)
      .then(
          [=](caf::actor& a) {
            if (!a)
              return answer(self, c, refuse(actors_errc::conflict, "datasource " + c.id + " is not running"));
            fn(caf::actor_cast<datasource_actor>(a));
          },
          [=](caf::error&) {
            answer(self, c,
                   refuse(actors_errc::conflict, "datasource " + c.id +
                                 " is not running (parked in error or being restarted); see its "
                                 "last_error"));
          });
}

// The answer to a status change: the datasource as it is now.
void answer_status(self_ptr self, const call& c, datasource_actor a) {
  self->request<caf::message_priority::high>(a, caf::duration{self->state.svc->settings.actor_timeout},
                                             status_atom::value)
      .then(
          [=](actor_status& st) {
            answer(self, c,
                   answer_json(answer_kind::done, "{\"id\":" + json_string(c.id) + ",\"status\":" +
                                          json_string(st.state) + "}"));
          },
          [=](caf::error& err) { answer(self, c, answer_error(err)); });
}

// A person asks for a status: `paused` (pause), `resuming` (resume) or `syncing` (sync now).
// The transition table decides first, from the status the actor reports now.
void change_status(self_ptr self, const call& c, datasource_status to) {
  with_actor(self, c, [=](datasource_actor a) {
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    self->request<caf::message_priority::high>(a, timeout, status_atom::value)
        .then(
            [=](actor_status& now) {
              auto from = datasource_status_from_string(now.state);
              if (!from) return answer(self, c, refuse(actors_errc::job_failed, "unknown status " + now.state));
              if (*from != to) {
                if (auto err = check(*from, to))
                  return answer(self, c, refuse(actors_errc::conflict, error_message(err)));
              } else if (to != datasource_status::syncing) {
                return answer_status(self, c, a);
              }
              auto done = [=](bool ok) {
                if (!ok)
                  return answer(self, c,
                                refuse(actors_errc::conflict, "datasource " + c.id + " refused to move from " +
                                              now.state + " to " + to_string(to)));
                answer_status(self, c, a);
              };
              auto failed = [=](caf::error& err) { answer(self, c, answer_error(err)); };
              if (to == datasource_status::paused)
                self->request(a, timeout, pause_atom::value).then(done, failed);
              else if (to == datasource_status::resuming)
                self->request(a, timeout, resume_atom::value).then(done, failed);
              else
                self->request(a, timeout, sync_now_atom::value)
                    .then([=](uint64_t) { answer_status(self, c, a); }, failed);
            },
            [=](caf::error& err) { answer(self, c, answer_error(err)); });
  });
}

void change_health(self_ptr self, const call& c, sync_health to) {
  with_actor(self, c, [=](datasource_actor a) {
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    auto done = [=](bool ok) {
      if (!ok)
        return answer(self, c,
                      refuse(actors_errc::conflict, "datasource " + c.id + " cannot move its health to " +
                                    to_string(to)));
      answer(self, c,
             answer_json(answer_kind::done, "{\"id\":" + json_string(c.id) + ",\"health\":" +
                                    json_string(to_string(to)) + "}"));
    };
    auto failed = [=](caf::error& err) { answer(self, c, answer_error(err)); };
    if (to == sync_health::disabled)
      self->request(a, timeout, disable_atom::value).then(done, failed);
    else
      self->request(a, timeout, enable_atom::value).then(done, failed);
  });
}

void op_create(self_ptr self, const call& c) {
  auto& st = self->state;
  auto& s = *st.svc;
  if (c.cls < user_class::editor)
    return answer(self, c, refuse(actors_errc::forbidden, "creating a datasource needs the class editor"));
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return answer(self, c, std::move(*bad));
  datasource_record rec;
  auto& cfg = rec.config;
  cfg.container = c.container;
  cfg.account = c.account;
  cfg.workspace = c.workspace;
  cfg.id = c.id;
  if (auto* id = body_param(d, "id")) {
    if (!id->IsString()) return answer(self, c, refuse(actors_errc::bad_request, "id must be a string"));
    if (!c.id.empty() && str(*id) != c.id)
      return answer(self, c, refuse(actors_errc::bad_request, "the body's id differs from the path's " + c.id));
    cfg.id = str(*id);
  }
  if (cfg.id.empty()) return answer(self, c, refuse(actors_errc::bad_request, "a datasource needs an id"));
  if (auto p = id_problem(cfg.id); !p.empty())
    return answer(self, c, refuse(actors_errc::bad_request, "datasource id " + p));
  for (auto [key, value] : {std::pair<const char*, const std::string*>{"container", &c.container},
                            {"account", &c.account},
                            {"workspace", &c.workspace}})
    if (auto* v = body_param(d, key); v != nullptr && (!v->IsString() || str(*v) != *value))
      return answer(self, c, refuse(actors_errc::bad_request, std::string{key} + " differs from the path's"));
  if (!d.HasMember("type"))
    return answer(self, c, refuse(actors_errc::bad_request, "a datasource needs a type (\"folder\" or \"synthetic\")"));
  if (auto p = apply_config(d, cfg); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  if (auto p = datasource_problem(cfg); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  if (cfg.type == "folder")
    if (auto p = allowed_root_problem(cfg.path, s.settings.allowed_roots); !p.empty())
      return answer(self, c, refuse(actors_errc::forbidden, p));
  if (auto* status = body_param(d, "status")) {
    if (!status->IsString() || (str(*status) != "paused" && str(*status) != "created"))
      return answer(self, c, refuse(actors_errc::bad_request, "a datasource is created \"created\" or \"paused\""));
    if (str(*status) == "paused")
      if (auto err = move_status(rec, datasource_status::paused))
        return answer(self, c, answer_error(err));
  }
  if (st.busy.count(cfg.id) != 0)
    return answer(self, c, refuse(actors_errc::conflict, "datasource " + cfg.id + " is being changed; retry"));
  rec.created_ms = storage::epoch_ms();
  access_record access;
  access.origin = "api";
  access.owner = c.req->user;
  access.created_ms = rec.created_ms;
  // The supervisor stores the record and its access list in one batch, then starts it; an id
  // that exists is refused there (already_exists, 409) under the store's lock.
  st.busy.insert(cfg.id);
  self->request(st.supervisor, caf::duration{s.settings.actor_timeout}, caf::add_atom::value,
                encode(rec), storage::datasource_store::encode(access))
      .then(
          [=](bool) {
            self->state.busy.erase(rec.config.id);
            spdlog::info("datasource {} created in {}/{}/{} by {}", rec.config.id, c.container,
                         c.account, c.workspace, c.req->user);
            auto r = answer_json(answer_kind::created, view_json(rec, access, c.req->user, c.cls, {}));
            r.created_id = rec.config.id;
            answer(self, c, std::move(r));
          },
          [=](caf::error& err) {
            self->state.busy.erase(rec.config.id);
            answer(self, c, answer_error(err));
          });
}

void op_change(self_ptr self, const call& c) {
  auto& st = self->state;
  auto& s = *st.svc;
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  auto l = std::get<loaded>(std::move(got));
  rapidjson::Document d;
  if (auto bad = parse_body(*c.req, d)) return answer(self, c, std::move(*bad));
  if (d.ObjectEmpty()) return answer(self, c, refuse(actors_errc::bad_request, "nothing to change"));
  bool has_status = d.HasMember("status"), has_health = d.HasMember("health");
  size_t others = d.MemberCount() - (has_status ? 1 : 0) - (has_health ? 1 : 0);
  if ((has_status || has_health) && others > 0)
    return answer(self, c, refuse(actors_errc::bad_request, "change the status and the configuration in separate requests"));
  if (has_status && has_health)
    return answer(self, c, refuse(actors_errc::bad_request, "change the status and the health in separate requests"));
  if (has_status) {
    auto& v = d["status"];
    auto to = v.IsString() ? datasource_status_from_string(str(v)) : std::nullopt;
    if (!to) return answer(self, c, refuse(actors_errc::bad_request, "status must be a datasource status (seed 000)"));
    if (*to == datasource_status::paused || *to == datasource_status::resuming ||
        *to == datasource_status::syncing)
      return change_status(self, c, *to);
    // Only the node reaches the others; say so after the table, which may already refuse.
    auto from = l.rec.status;
    if (from != *to) {
      if (auto err = check(from, *to)) return answer(self, c, refuse(actors_errc::conflict, error_message(err)));
    }
    return answer(self, c,
                  refuse(actors_errc::conflict, std::string{"status "} + to_string(*to) +
                                " is reached by the node itself; a request may set paused, "
                                "resuming or syncing"));
  }
  if (has_health) {
    auto& v = d["health"];
    auto to = v.IsString() ? sync_health_from_string(str(v)) : std::nullopt;
    if (!to || (*to != sync_health::disabled && *to != sync_health::pending))
      return answer(self, c, refuse(actors_errc::bad_request, "health may be set to \"disabled\" or \"pending\" (enabled)"));
    return change_health(self, c, *to);
  }
  for (auto* key : {"id", "container", "account", "workspace"})
    if (d.HasMember(key))
      return answer(self, c, refuse(actors_errc::bad_request, std::string{key} + " cannot be changed"));
  if (!l.access || l.access->origin != "api")
    return answer(self, c,
                  refuse(actors_errc::conflict, "datasource " + c.id +
                                " is declared in the node's configuration file: change it there"));
  auto rec = l.rec;
  if (auto p = apply_config(d, rec.config); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  if (auto p = datasource_problem(rec.config); !p.empty()) return answer(self, c, refuse(actors_errc::bad_request, p));
  // A datasource made before the roots were set keeps its folder; a new folder must be allowed.
  if (rec.config.type == "folder" &&
      (rec.config.path != l.rec.config.path || l.rec.config.type != "folder"))
    if (auto p = allowed_root_problem(rec.config.path, st.svc->settings.allowed_roots); !p.empty())
      return answer(self, c, refuse(actors_errc::forbidden, p));
  if (st.busy.count(c.id) != 0)
    return answer(self, c, refuse(actors_errc::conflict, "datasource " + c.id + " is being changed; retry"));
  // A person acted: a datasource in error gets another chance with its new configuration.
  person_acted(rec);
  st.busy.insert(c.id);
  auto access = l.access;
  self->request(st.supervisor, caf::duration{s.settings.actor_timeout}, caf::update_atom::value,
                encode(rec))
      .then(
          [=](bool) {
            self->state.busy.erase(c.id);
            spdlog::info("datasource {}: configuration changed by {}", c.id, c.req->user);
            answer(self, c, answer_json(answer_kind::done, view_json(rec, access, c.req->user, c.cls, {})));
          },
          [=](caf::error& err) {
            self->state.busy.erase(c.id);
            answer(self, c, answer_error(err));
          });
}

void op_remove(self_ptr self, const call& c) {
  auto& st = self->state;
  auto& s = *st.svc;
  auto got = load_for(s, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  auto& l = std::get<loaded>(got);
  if (!l.access || l.access->origin != "api")
    return answer(self, c,
                  refuse(actors_errc::conflict, "datasource " + c.id +
                                " is declared in the node's configuration file: remove it there"));
  if (st.busy.count(c.id) != 0)
    return answer(self, c, refuse(actors_errc::conflict, "datasource " + c.id + " is being changed; retry"));
  st.busy.insert(c.id);
  self->request(st.supervisor, caf::duration{s.settings.actor_timeout}, caf::delete_atom::value,
                c.id)
      .then(
          [=](bool) {
            // The supervisor erased its record, access list, credentials, runs, rows and
            // queue items in one batch.
            self->state.busy.erase(c.id);
            spdlog::info("datasource {} deleted by {}", c.id, c.req->user);
            answer(self, c, answer_json(answer_kind::done, "{\"deleted\":" + json_string(c.id) + "}"));
          },
          [=](caf::error& err) {
            self->state.busy.erase(c.id);
            answer(self, c, answer_error(err));
          });
}

void op_spyder(self_ptr self, const call& c) {
  auto got = load_for(*self->state.svc, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  // {"confirm_deletes": N}: the removals the deletion guard held back are meant.
  std::optional<uint64_t> confirm;
  if (!c.req->body.empty()) {
    rapidjson::Document d;
    if (auto refused = parse_body(*c.req, d)) return answer(self, c, std::move(*refused));
    for (auto& m : d.GetObject()) {
      if (str(m.name) != "confirm_deletes")
        return answer(self, c, refuse(actors_errc::bad_request, "unknown key " + str(m.name) + " (confirm_deletes)"));
      if (!m.value.IsUint64() || m.value.GetUint64() == 0)
        return answer(self, c, refuse(actors_errc::bad_request, "confirm_deletes must be a positive integer"));
      confirm = m.value.GetUint64();
    }
  }
  with_actor(self, c, [=](datasource_actor a) {
    auto timeout = caf::duration{self->state.svc->settings.actor_timeout};
    auto sent = confirm ? self->request(a, timeout, sync_now_atom::value, *confirm)
                        : self->request(a, timeout, sync_now_atom::value);
    sent.then(
            [=](uint64_t run) {
              answer(self, c,
                     answer_json(answer_kind::accepted, "{\"datasource\":" + json_string(c.id) +
                                            ",\"run\":" + std::to_string(run) + "}"));
            },
            [=](caf::error& err) { answer(self, c, answer_error(err)); });
  });
}

void op_compute(self_ptr self, const call& c) {
  auto got = load_for(*self->state.svc, c);
  if (auto* refused = std::get_if<api_answer>(&got)) return answer(self, c, std::move(*refused));
  with_actor(self, c, [=](datasource_actor a) {
    self->request(a, caf::duration{self->state.svc->settings.actor_timeout},
                  recompute_atom::value, c.resource)
        .then(
            [=](uint64_t volumes) {
              if (volumes == 0)
                return answer(self, c,
                              refuse(actors_errc::unknown_id, "no item " + c.resource + " in datasource " + c.id));
              answer(self, c,
                     answer_json(answer_kind::accepted, "{\"datasource\":" + json_string(c.id) +
                                            ",\"resource\":" + json_string(c.resource) +
                                            ",\"volumes\":" + std::to_string(volumes) + "}"));
            },
            [=](caf::error& err) { answer(self, c, answer_error(err)); });
  });
}

datasource_api_actor::behavior_type datasource_api(self_ptr self, datasource_api_init init) {
  auto& st = self->state;
  st.svc->ctx = init.ctx;
  st.svc->pool = init.pool;
  st.svc->users = init.users;
  st.svc->credentials = init.credentials;
  st.supervisor = init.supervisor;
  st.directory = init.directory;
  st.svc->settings = std::move(init);
  return {
      [=](api_atom, datasource_command& cmd) {
        auto& s = self->state;
        ++s.requests;
        call c;
        c.req = std::make_shared<datasource_command>(std::move(cmd));
        c.what = c.req->op;
        c.container = c.req->container;
        c.account = c.req->account;
        c.workspace = c.req->workspace;
        c.id = c.req->id;
        c.resource = c.req->resource;
        c.cls = static_cast<user_class>(c.req->user_class);
        if (storage_only(c.what)) {
          if (c.what == op::credentials && c.cls < user_class::editor)
            return answer(self, c, refuse(actors_errc::forbidden, "refreshing credentials needs the class editor"));
          auto submit = [self](const call& job) {
            auto& s2 = self->state;
            auto* pool = s2.svc->pool;
            if (pool->queued() >= s2.svc->settings.max_queued_jobs)
              return answer(self, job, refuse(actors_errc::busy, "the node is busy; retry"));
            pool->submit([svc = s2.svc, job] {
              auto r = run_storage_op(*svc, job);
              if (job.req->respond) job.req->respond(std::move(r));
            });
          };
          if (c.what != op::read) return submit(c);
          // A read shows the status the actor has now: its record is saved a moment later.
          auto bound = caf::duration{std::chrono::seconds{2}};
          self->request(s.directory, bound, find_atom::value, "datasource/" + c.id)
              .then(
                  [=](caf::actor& a) {
                    if (!a) return submit(c);
                    self->request<caf::message_priority::high>(
                            caf::actor_cast<datasource_actor>(a), bound, status_atom::value)
                        .then(
                            [=](actor_status& now) {
                              auto with = c;
                              with.live_status = now.state;
                              submit(with);
                            },
                            [=](caf::error&) { submit(c); });
                  },
                  [=](caf::error&) { submit(c); });
          return;
        }
        switch (c.what) {
          case op::create:
          case op::put:
            return op_create(self, c);
          case op::change:
            return op_change(self, c);
          case op::remove:
            return op_remove(self, c);
          case op::spyder:
            return op_spyder(self, c);
          case op::compute:
            return op_compute(self, c);
          case op::pause:
          case op::resume: {
            auto got = load_for(*s.svc, c);
            if (auto* refused = std::get_if<api_answer>(&got))
              return answer(self, c, std::move(*refused));
            return change_status(self, c,
                                 c.what == op::pause ? datasource_status::paused
                                                     : datasource_status::resuming);
          }
          default:
            return answer(self, c, refuse(actors_errc::job_failed, "operation not handled"));
        }
      },
      [=](status_atom) {
        auto& s = self->state;
        actor_status out;
        out.id = "datasource_api";
        out.kind = "datasource_api";
        out.state = "running";
        out.mailbox = self->mailbox().size();
        out.counters["requests"] = static_cast<int64_t>(s.requests);
        out.counters["refused"] = static_cast<int64_t>(s.refused);
        out.counters["busy"] = static_cast<int64_t>(s.busy.size());
        return out;
      },
      [=](io_done_atom, io_continuation& k) { k.fn(); },
  };
}

}  // namespace

datasource_api_actor spawn_datasource_api(caf::actor_system& sys, datasource_api_init init) {
  return sys.spawn<caf::detached>(datasource_api, std::move(init));
}

caf::expected<std::set<std::string>> api_datasource_ids(const storage::datasource_store& store) {
  auto all = store.all_access();
  if (!all) return std::move(all.error());
  std::set<std::string> out;
  for (auto& [id, access] : *all)
    if (access.origin == "api") out.insert(id);
  return out;
}

}  // namespace syncline::actors
