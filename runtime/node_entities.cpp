#include "runtime/node_entities.hpp"

#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "actors/datasource_schema.hpp"
#include "actors/error.hpp"
#include "actors/sync_model.hpp"
#include "actors/targets.hpp"
#include "connectors/glob.hpp"
#include "connectors/volume.hpp"
#include "runtime/toml_read.hpp"

namespace syncline::runtime::detail {

namespace {

// --- [[volume]] and [[datasource]]: arrays of tables, one field table each -------------------

template <class T>
struct entity_field {
  std::string_view key;
  value_kind kind;
  std::string_view help;
  std::string (*show)(const T&);
  std::string (*apply)(const toml::node&, T&);
};

std::string read_id(const toml::node& v, std::string& out) {
  std::string s;
  if (auto p = read_string(v, s); !p.empty()) return p;
  if (auto p = actors::id_problem(s); !p.empty()) return p + ", got " + quote_toml(s);
  out = std::move(s);
  return {};
}

std::string read_path(const toml::node& v, std::string& out) {
  std::string s;
  if (auto p = read_string(v, s); !p.empty()) return p;
  if (s.empty()) return "must not be empty";
  out = std::move(s);
  return {};
}

template <size_t N>
std::string read_word(const toml::node& v, const std::array<std::string_view, N>& words,
                      std::string& out) {
  std::string text;
  if (auto p = read_string(v, text); !p.empty()) return p;
  if (auto p = actors::word_problem(text, words, quote_toml(text)); !p.empty()) return p;
  out = std::move(text);
  return {};
}

constexpr std::array<std::string_view, 3> volume_types{"directory", "fault", "null"};
constexpr std::array<std::string_view, 4> fault_operations{"open_writer", "write", "commit", "any"};

using vc = actors::volume_config;

const std::vector<entity_field<vc>>& volume_fields() {
  static const std::vector<entity_field<vc>> table{
      {"id", value_kind::string, "the volume's id: letters, digits, '.', '_', '-'",
       [](const vc& c) { return quote_toml(c.id); },
       [](const toml::node& v, vc& c) { return read_id(v, c.id); }},
      {"type", value_kind::string, "directory, fault (a directory that fails on purpose) or null",
       [](const vc& c) { return quote_toml(c.type); },
       [](const toml::node& v, vc& c) { return read_word(v, volume_types, c.type); }},
      {"path", value_kind::string, "the directory that holds the copies",
       [](const vc& c) { return quote_toml(c.path); },
       [](const toml::node& v, vc& c) { return read_path(v, c.path); }},
      {"syncAmountReception", value_kind::integer, "transfers into this volume at once",
       [](const vc& c) { return std::to_string(c.sync_amount_reception); },
       [](const toml::node& v, vc& c) { return read_int(v, 1, 1024, c.sync_amount_reception); }},
      {"syncAmountEmission", value_kind::integer, "transfers out of this volume at once",
       [](const vc& c) { return std::to_string(c.sync_amount_emission); },
       [](const toml::node& v, vc& c) { return read_int(v, 1, 1024, c.sync_amount_emission); }},
      {"enableReception", value_kind::boolean, "false: the volume starts paused",
       [](const vc& c) { return std::string{c.enable_reception ? "true" : "false"}; },
       [](const toml::node& v, vc& c) { return read_bool(v, c.enable_reception); }},
      {"verify", value_kind::boolean, "re-read every copy and compare its XXH3-64 before commit",
       [](const vc& c) { return std::string{c.verify ? "true" : "false"}; },
       [](const toml::node& v, vc& c) { return read_bool(v, c.verify); }},
      {"fault_operation", value_kind::string, "type = fault: open_writer, write, commit or any",
       [](const vc& c) { return quote_toml(c.fault_operation); },
       [](const toml::node& v, vc& c) { return read_word(v, fault_operations, c.fault_operation); }},
      {"fault_errno", value_kind::integer, "type = fault: the errno injected (5 = EIO, 13 = EACCES)",
       [](const vc& c) { return std::to_string(c.fault_errno); },
       [](const toml::node& v, vc& c) { return read_int(v, 1, 133, c.fault_errno); }},
      {"fault_count", value_kind::integer, "type = fault: failures to inject; 0 = for ever",
       [](const vc& c) { return std::to_string(c.fault_count); },
       [](const toml::node& v, vc& c) { return read_int(v, 0, 1000000, c.fault_count); }},
      {"fault_glob", value_kind::string, "type = fault: the items that fail",
       [](const vc& c) { return quote_toml(c.fault_glob); },
       [](const toml::node& v, vc& c) {
         std::string g;
         if (auto p = read_string(v, g); !p.empty()) return p;
         if (auto compiled = connectors::glob_set::compile({g}); !compiled)
           return actors::render(compiled.error());
         c.fault_glob = std::move(g);
         return std::string{};
       }},
  };
  return table;
}

template <class T>
const entity_field<T>* find_field(const std::vector<entity_field<T>>& fields, std::string_view key) {
  for (auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

template <class T>
std::string field_names(const std::vector<entity_field<T>>& fields) {
  std::string out;
  for (auto& f : fields) out += (out.empty() ? "" : ", ") + std::string{f.key};
  return out;
}

// Loads `[[name]]` tables into `out`; `where` receives each table's position (for later checks).
template <class T>
caf::error load_entities(std::string_view name, const toml::node& node,
                         const std::vector<entity_field<T>>& fields, std::vector<T>& out,
                         std::vector<std::string>& where, std::string_view source_name) {
  auto* arr = node.as_array();
  if (arr == nullptr || !arr->is_array_of_tables())
    return config_error(position(source_name, node.source()) + ": " + std::string{name} + ": " +
                        wrong_type("[[" + std::string{name} + "]] tables", node));
  for (auto& element : *arr) {
    auto& tbl = *element.as_table();
    T item;
    for (auto&& [key, value] : tbl) {
      auto* f = find_field(fields, key.str());
      if (f == nullptr)
        return config_error(position(source_name, key.source()) + ": unknown key '" +
                            std::string{name} + "." + std::string{key.str()} + "' (keys of [[" +
                            std::string{name} + "]]: " + field_names(fields) + ")");
      if (auto problem = f->apply(value, item); !problem.empty())
        return config_error(position(source_name, value.source()) + ": " + std::string{name} +
                            "." + std::string{f->key} + ": " + problem);
    }
    if (item.id.empty())
      return config_error(position(source_name, tbl.source()) + ": " + std::string{name} +
                          ": missing key 'id'");
    out.push_back(std::move(item));
    where.push_back(position(source_name, tbl.source()));
  }
  return caf::none;
}

// --- [[datasource]]: the fields of actors/datasource_schema.hpp ------------------------------

actors::config_value to_value(const toml::node& n) {
  using actors::config_value;
  if (auto* s = n.as_string()) return config_value::of(s->get());
  if (auto* i = n.as_integer()) return config_value::of(i->get());
  if (auto* f = n.as_floating_point()) return config_value::of(f->get());
  if (auto* b = n.as_boolean()) return config_value::of(b->get());
  if (auto* a = n.as_array()) {
    config_value v;
    v.type = config_value::kind::array;
    for (auto& e : *a) v.items.push_back(to_value(e));
    return v;
  }
  if (auto* t = n.as_table()) {
    std::vector<std::pair<std::string, config_value>> members;
    for (auto&& [k, e] : *t) members.emplace_back(std::string{k.str()}, to_value(e));
    return config_value::table_of(std::move(members));
  }
  config_value v;
  v.type = config_value::kind::other;
  v.string = type_name(n);
  return v;
}

// Reads one key of a [[datasource]]; a relative `path` is taken from the working directory,
// as every path of the file is.
std::string read_datasource_key(const actors::datasource_field& f, const toml::node& node,
                                actors::datasource_config& c) {
  auto v = to_value(node);
  if (f.key == "path" && v.type == actors::config_value::kind::string && !v.string.empty() &&
      v.string.front() != '/') {
    std::error_code ec;
    auto abs = std::filesystem::absolute(v.string, ec);
    if (!ec) v.string = abs.string();
  }
  return f.read(v, c);
}

// A value as TOML writes it, for `--help`: `"x"`, `[1, 2]`, `{ a = 1 }`.
std::string toml_text(const actors::config_value& v) {
  using kind = actors::config_value::kind;
  switch (v.type) {
    case kind::boolean:
      return v.boolean ? "true" : "false";
    case kind::integer:
      return std::to_string(v.integer);
    case kind::big_integer:
      return std::to_string(v.big);
    case kind::floating: {
      std::ostringstream out;
      out << toml::value<double>{v.floating};
      return out.str();
    }
    case kind::string:
    case kind::other:
      return quote_toml(v.string);
    case kind::array: {
      std::string out = "[";
      for (auto& e : v.items) out += (out.size() > 1 ? ", " : "") + toml_text(e);
      return out + "]";
    }
    case kind::table: {
      std::string out;
      for (auto& [k, e] : v.members) out += (out.empty() ? "" : ", ") + k + " = " + toml_text(e);
      return "{ " + out + " }";
    }
  }
  return {};
}

caf::error load_datasource_tables(const toml::node& node,
                                  std::vector<actors::datasource_config>& out,
                                  std::vector<std::string>& where, std::string_view source_name) {
  auto* arr = node.as_array();
  if (arr == nullptr || !arr->is_array_of_tables())
    return config_error(position(source_name, node.source()) + ": datasource: " +
                        wrong_type("[[datasource]] tables", node));
  for (auto& element : *arr) {
    auto& tbl = *element.as_table();
    actors::datasource_config item;
    for (auto&& [key, value] : tbl) {
      auto* f = actors::find_datasource_field(key.str());
      if (f == nullptr)
        return config_error(position(source_name, key.source()) + ": unknown key 'datasource." +
                            std::string{key.str()} + "' (keys of [[datasource]]: " +
                            actors::datasource_field_names() + ")");
      if (auto problem = read_datasource_key(*f, value, item); !problem.empty())
        return config_error(position(source_name, value.source()) + ": datasource." +
                            std::string{f->key} + ": " + problem);
    }
    if (item.id.empty())
      return config_error(position(source_name, tbl.source()) + ": datasource: missing key 'id'");
    out.push_back(std::move(item));
    where.push_back(position(source_name, tbl.source()));
  }
  return caf::none;
}

// Checks what no single value shows: unique ids, volumes that exist, what each type needs.
// `vwhere`/`dwhere` give positions when known.
caf::error check_all(const node_config& cfg, const std::vector<std::string>& vwhere,
                     const std::vector<std::string>& dwhere) {
  auto at = [](const std::vector<std::string>& where, size_t i, const std::string& what) {
    return (i < where.size() ? where[i] + ": " : std::string{}) + what;
  };
  std::set<std::string> volume_ids;
  for (size_t i = 0; i < cfg.volumes.size(); ++i) {
    auto& v = cfg.volumes[i];
    auto label = "volume '" + v.id + "'";
    if (!volume_ids.insert(v.id).second)
      return config_error(at(vwhere, i, label + ": another volume has this id"));
    if (v.type != "null" && v.path.empty())
      return config_error(at(vwhere, i, label + ": a " + v.type + " volume needs a path"));
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < cfg.datasources.size(); ++i) {
    auto& d = cfg.datasources[i];
    auto label = "datasource '" + d.id + "'";
    if (!ids.insert(d.id).second)
      return config_error(at(dwhere, i, label + ": another datasource has this id"));
    if (auto problem = actors::datasource_problem(d); !problem.empty())
      return config_error(at(dwhere, i, label + ": " + problem));
    if (auto problem = actors::volume_problem(d, {volume_ids.begin(), volume_ids.end()});
        !problem.empty())
      return config_error(at(dwhere, i, label + ": " + problem));
  }
  if (auto conflict = actors::target_conflict(cfg.datasources); !conflict.empty())
    return config_error(conflict);
  return caf::none;
}

// `--set datasource.<id>.<key>=value` (or volume): the id may hold dots, the key does not.
template <class T>
caf::error apply_entity_override(std::vector<T>& items, const std::vector<entity_field<T>>& fields,
                                 std::string_view kind, std::string_view rest,
                                 const toml::node& value, const config_override& o) {
  auto dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0)
    return config_error(o.origin + ": expected " + std::string{kind} + ".<id>.<key>=value");
  auto id = rest.substr(0, dot);
  auto key = rest.substr(dot + 1);
  auto* f = find_field(fields, key);
  if (f == nullptr || key == "id")
    return config_error(o.origin + ": unknown key '" + std::string{key} + "' of a " +
                        std::string{kind});
  for (auto& item : items) {
    if (item.id != id) continue;
    if (auto problem = f->apply(value, item); !problem.empty())
      return config_error(o.origin + ": " + std::string{kind} + "." + std::string{key} + ": " +
                          problem);
    return caf::none;
  }
  return config_error(o.origin + ": no " + std::string{kind} + " '" + std::string{id} +
                      "' in the configuration");
}

// `--set datasource.<id>.<key>=value`. An id the configuration lacks is a datasource made
// through the API: only its `target` and `targets` may be set (`node_config::target_overrides`).
caf::error apply_datasource_setting(node_config& cfg, std::string_view rest,
                                    const toml::node& value, const config_override& o) {
  auto dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0)
    return config_error(o.origin + ": expected datasource.<id>.<key>=value");
  auto id = rest.substr(0, dot);
  auto key = rest.substr(dot + 1);
  auto* f = actors::find_datasource_field(key);
  if (f == nullptr || f->key == "id")
    return config_error(o.origin + ": unknown key '" + std::string{key} + "' of a datasource");
  auto named = [&](const std::string& problem) {
    return config_error(o.origin + ": datasource." + std::string{key} + ": " + problem);
  };
  for (auto& item : cfg.datasources) {
    if (item.id != id) continue;
    if (auto problem = read_datasource_key(*f, value, item); !problem.empty()) return named(problem);
    return caf::none;
  }
  if (key != "target" && key != "targets")
    return config_error(o.origin + ": no datasource '" + std::string{id} +
                        "' in the configuration");
  if (auto problem = actors::id_problem(id); !problem.empty())
    return config_error(o.origin + ": datasource id " + problem);
  auto& entry = cfg.target_overrides[std::string{id}];
  entry.id = std::string{id};
  if (auto problem = read_datasource_key(*f, value, entry); !problem.empty()) return named(problem);
  if (auto* t = entry.target ? &*entry.target : nullptr)
    if (auto p = connectors::target_problem(*t); !p.empty())
      return config_error(o.origin + ": target '" + *t + "' " + p);
  for (auto& [vol, path] : entry.targets)
    if (auto p = connectors::target_problem(path); !p.empty())
      return config_error(o.origin + ": targets." + vol + " '" + path + "' " + p);
  return caf::none;
}

}  // namespace

caf::error load_volumes(const toml::node& node, std::vector<actors::volume_config>& out,
                        std::vector<std::string>& where, std::string_view source_name) {
  return load_entities("volume", node, volume_fields(), out, where, source_name);
}

caf::error load_datasources(const toml::node& node, std::vector<actors::datasource_config>& out,
                            std::vector<std::string>& where, std::string_view source_name) {
  return load_datasource_tables(node, out, where, source_name);
}

caf::error check_entities(const node_config& cfg, const std::vector<std::string>& vwhere,
                          const std::vector<std::string>& dwhere) {
  return check_all(cfg, vwhere, dwhere);
}

caf::error apply_volume_override(node_config& cfg, std::string_view rest, const toml::node& value,
                                 const config_override& o) {
  return apply_entity_override(cfg.volumes, volume_fields(), "volume", rest, value, o);
}

caf::error apply_datasource_override(node_config& cfg, std::string_view rest,
                                     const toml::node& value, const config_override& o) {
  return apply_datasource_setting(cfg, rest, value, o);
}

void describe_entities(std::vector<setting_description>& out) {
  actors::volume_config v;
  for (auto& f : volume_fields())
    out.push_back({"volume.<id>." + std::string{f.key}, f.key == "id" ? "(required)" : f.show(v),
                   std::string{f.help}});
  actors::datasource_config d;
  for (auto& f : actors::datasource_fields())
    out.push_back({"datasource.<id>." + std::string{f.key},
                   f.default_text.empty() ? toml_text(f.value(d)) : std::string{f.default_text},
                   std::string{f.help}});
}

}  // namespace syncline::runtime::detail
