#include "actors/datasource_schema.hpp"

#include <filesystem>
#include <limits>
#include <map>

#include "actors/connector_factory.hpp"
#include "actors/error.hpp"
#include "actors/sync_model.hpp"
#include "actors/targets.hpp"
#include "actors/text.hpp"
#include "connectors/error.hpp"
#include "connectors/glob.hpp"

namespace syncline::actors {

// --- config_value -----------------------------------------------------------------------------

config_value config_value::of(bool b) {
  config_value v;
  v.type = kind::boolean;
  v.boolean = b;
  return v;
}

config_value config_value::of(int64_t i) {
  config_value v;
  v.type = kind::integer;
  v.integer = i;
  return v;
}

config_value config_value::of(uint64_t u) {
  if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return of(static_cast<int64_t>(u));
  config_value v;
  v.type = kind::big_integer;
  v.big = u;
  return v;
}

config_value config_value::of(double d) {
  config_value v;
  v.type = kind::floating;
  v.floating = d;
  return v;
}

config_value config_value::of(std::string s) {
  config_value v;
  v.type = kind::string;
  v.string = std::move(s);
  return v;
}

config_value config_value::of(const std::vector<std::string>& strings) {
  config_value v;
  v.type = kind::array;
  for (auto& s : strings) v.items.push_back(of(s));
  return v;
}

config_value config_value::table_of(std::vector<std::pair<std::string, config_value>> members) {
  config_value v;
  v.type = kind::table;
  v.members = std::move(members);
  return v;
}

std::string config_value::type_name() const {
  switch (type) {
    case kind::boolean:
      return "a boolean";
    case kind::integer:
    case kind::big_integer:
      return "an integer";
    case kind::floating:
      return "a floating-point number";
    case kind::string:
      return "a string";
    case kind::array:
      return "an array";
    case kind::table:
      return "a table";
    case kind::other:
      return string;
  }
  return "a value";
}

namespace {

using kind = config_value::kind;
using dc = datasource_config;

constexpr size_t max_part_bytes = 128;
constexpr size_t max_name_bytes = 256;
constexpr int64_t max_schedule_s = 30 * 86400;
constexpr uint64_t max_count = 100'000'000;
constexpr uint64_t max_directories = 1'000'000;
constexpr uint64_t max_size_bytes = uint64_t{1} << 40;

std::string wrong_type(std::string_view expected, const config_value& v) {
  return "expected " + std::string{expected} + ", got " + v.type_name();
}

std::string quote_text(std::string_view s) { return json_string(s); }

std::string read_string(const config_value& v, std::string& out) {
  if (v.type != kind::string) return wrong_type("a string", v);
  out = v.string;
  return {};
}

std::string read_strings(const config_value& v, std::vector<std::string>& out) {
  if (v.type != kind::array) return wrong_type("an array of strings", v);
  std::vector<std::string> items;
  for (auto& e : v.items) {
    if (e.type != kind::string) return "expected an array of strings, found " + e.type_name();
    items.push_back(e.string);
  }
  out = std::move(items);
  return {};
}

std::string read_bool(const config_value& v, bool& out) {
  if (v.type != kind::boolean) return wrong_type("a boolean (true or false)", v);
  out = v.boolean;
  return {};
}

std::string out_of_range(const std::string& lo, const std::string& hi, const std::string& got) {
  return "must be between " + lo + " and " + hi + ", got " + got;
}

// A signed integer in [lo, hi].
template <class T>
std::string read_signed(const config_value& v, int64_t lo, int64_t hi, T& out) {
  if (v.type == kind::big_integer)
    return out_of_range(std::to_string(lo), std::to_string(hi), std::to_string(v.big));
  if (v.type != kind::integer) return wrong_type("an integer", v);
  if (v.integer < lo || v.integer > hi)
    return out_of_range(std::to_string(lo), std::to_string(hi), std::to_string(v.integer));
  out = static_cast<T>(v.integer);
  return {};
}

// An unsigned integer in [0, hi].
template <class T>
std::string read_unsigned(const config_value& v, uint64_t hi, T& out) {
  uint64_t x = 0;
  if (v.type == kind::big_integer) {
    x = v.big;
  } else if (v.type == kind::integer) {
    if (v.integer < 0) return out_of_range("0", std::to_string(hi), std::to_string(v.integer));
    x = static_cast<uint64_t>(v.integer);
  } else {
    return wrong_type("an integer", v);
  }
  if (x > hi) return out_of_range("0", std::to_string(hi), std::to_string(x));
  out = static_cast<T>(x);
  return {};
}

std::string read_id(const config_value& v, std::string& out) {
  std::string s;
  if (auto p = read_string(v, s); !p.empty()) return p;
  if (auto p = id_problem(s); !p.empty()) return p + ", got " + quote_text(s);
  out = std::move(s);
  return {};
}

std::string read_part(const config_value& v, std::string& out) {
  std::string s;
  if (auto p = read_string(v, s); !p.empty()) return p;
  if (auto p = part_problem(s); !p.empty()) return p;
  out = std::move(s);
  return {};
}

template <size_t N>
std::string read_word(const config_value& v, const std::array<std::string_view, N>& words,
                      std::string& out) {
  std::string text;
  if (auto p = read_string(v, text); !p.empty()) return p;
  if (auto p = word_problem(text, words, quote_text(text)); !p.empty()) return p;
  out = std::move(text);
  return {};
}

std::string read_globs(const config_value& v, std::vector<std::string>& out) {
  std::vector<std::string> items;
  if (auto p = read_strings(v, items); !p.empty()) return p;
  auto compiled = connectors::glob_set::compile(items);
  if (!compiled) return render(compiled.error());
  out = std::move(items);
  return {};
}

// An absolute folder without `..` segments, kept in its lexically normal form. Whether it
// exists is the datasource's question when it runs.
std::string read_path(const config_value& v, std::string& out) {
  std::string p;
  if (auto problem = read_string(v, p); !problem.empty()) return problem;
  if (p.empty()) return "must not be empty";
  if (p.find('\0') != std::string::npos) return "holds a NUL byte";
  if (p.front() != '/') return "must be absolute, got " + quote_text(p);
  for (auto& seg : std::filesystem::path{p})
    if (seg == "..") return "may not hold '..' segments, got " + quote_text(p);
  out = std::filesystem::path{p}.lexically_normal().string();
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return {};
}

std::string read_volumes(const config_value& v, std::vector<std::string>& out) {
  std::vector<std::string> vols;
  if (auto p = read_strings(v, vols); !p.empty()) return p;
  for (auto& vol : vols)
    if (auto p = id_problem(vol); !p.empty()) return "volume id " + p + ", got " + quote_text(vol);
  out = std::move(vols);
  return {};
}

std::string read_targets(const config_value& v, std::map<std::string, std::string>& out) {
  if (v.type != kind::table) return wrong_type("a table { <volume> = \"dir\" }", v);
  std::map<std::string, std::string> targets;
  for (auto& [volume, dir] : v.members) {
    std::string path;
    if (auto p = read_string(dir, path); !p.empty()) return volume + ": " + p;
    targets[volume] = std::move(path);
  }
  out = std::move(targets);
  return {};
}

std::string read_rules(const config_value& v, std::vector<priority_rule>& out) {
  if (v.type != kind::array) return wrong_type("an array of {glob, priority} tables", v);
  std::vector<priority_rule> rules;
  for (auto& e : v.items) {
    if (e.type != kind::table)
      return "expected {glob = \"...\", priority = N} tables, found " + e.type_name();
    priority_rule r;
    bool has_glob = false;
    for (auto& [k, val] : e.members) {
      if (k == "glob") {
        if (auto p = read_string(val, r.glob); !p.empty()) return "glob: " + p;
        if (auto compiled = connectors::glob_set::compile({r.glob}); !compiled)
          return render(compiled.error());
        has_glob = true;
      } else if (k == "priority") {
        if (auto p = read_signed(val, std::numeric_limits<int32_t>::min(),
                                 std::numeric_limits<int32_t>::max(), r.priority);
            !p.empty())
          return "priority: " + p;
      } else {
        return "unknown key '" + k + "' in a rule (keys: glob, priority)";
      }
    }
    if (!has_glob) return "a rule needs a glob";
    rules.push_back(std::move(r));
  }
  out = std::move(rules);
  return {};
}

// `{min_s, max_s}`, either or both.
std::string read_schedule(const config_value& v, dc& c) {
  if (v.type != kind::table) return wrong_type("a table {min_s, max_s}", v);
  auto min_s = c.schedule_min_s, max_s = c.schedule_max_s;
  for (auto& [k, val] : v.members) {
    if (k == "min_s") {
      if (auto p = read_signed(val, 1, max_schedule_s, min_s); !p.empty()) return "min_s: " + p;
    } else if (k == "max_s") {
      if (auto p = read_signed(val, 1, max_schedule_s, max_s); !p.empty()) return "max_s: " + p;
    } else {
      return "unknown key '" + k + "' (keys: min_s, max_s)";
    }
  }
  c.schedule_min_s = min_s;
  c.schedule_max_s = max_s;
  return {};
}

std::string read_fraction(const config_value& v, double& out) {
  double x = 0;
  if (v.type == kind::floating) x = v.floating;
  else if (v.type == kind::integer) x = static_cast<double>(v.integer);
  else return wrong_type("a number", v);
  if (!(x >= 0.0 && x <= 1.0)) return "must be between 0 and 1, got " + std::to_string(x);
  out = x;
  return {};
}

constexpr std::array<std::string_view, 3> source_types{"folder", "synthetic", "http"};

// The keys of an http datasource's `http` table: each a string, but for those named below.
struct http_key {
  std::string_view key;
  std::string http_datasource_config::*text;
  uint64_t http_datasource_config::*number;
};
const http_key http_keys[] = {
    {"url", &http_datasource_config::url, nullptr},
    {"paging", &http_datasource_config::paging, nullptr},
    {"items", &http_datasource_config::items, nullptr},
    {"next", &http_datasource_config::next, nullptr},
    {"cursor_param", &http_datasource_config::cursor_param, nullptr},
    {"page_param", &http_datasource_config::page_param, nullptr},
    {"first_page", nullptr, &http_datasource_config::first_page},
    {"offset_param", &http_datasource_config::offset_param, nullptr},
    {"limit_param", &http_datasource_config::limit_param, nullptr},
    {"page_size", nullptr, &http_datasource_config::page_size},
    {"reference", &http_datasource_config::reference, nullptr},
    {"size", &http_datasource_config::size, nullptr},
    {"mtime", &http_datasource_config::mtime, nullptr},
    {"mtime_unit", &http_datasource_config::mtime_unit, nullptr},
    {"hash", &http_datasource_config::hash, nullptr},
    {"content", &http_datasource_config::content, nullptr},
    {"content_url", &http_datasource_config::content_url, nullptr},
    {"ca_file", &http_datasource_config::ca_file, nullptr},
    {"busy_retries", nullptr, &http_datasource_config::busy_retries},
    {"auth", &http_datasource_config::auth, nullptr},
    {"token_url", &http_datasource_config::token_url, nullptr},
};

// The `http` table: every key given replaces its default (a PATCH gives the whole table).
std::string read_http(const config_value& v, dc& c) {
  if (v.type != kind::table) return wrong_type("a table {url, paging, ...}", v);
  http_datasource_config h;
  for (auto& [k, val] : v.members) {
    const http_key* known = nullptr;
    for (auto& key : http_keys)
      if (key.key == k) known = &key;
    std::string problem;
    if (known != nullptr && known->text != nullptr) {
      problem = read_string(val, h.*(known->text));
    } else if (known != nullptr) {
      problem = read_unsigned(val, std::numeric_limits<uint32_t>::max(), h.*(known->number));
    } else if (k == "allow_insecure") {
      problem = read_bool(val, h.allow_insecure);
    } else if (k == "timeout_s") {
      problem = read_signed(val, 1, 3600, h.timeout_s);
    } else if (k == "requests_per_s") {
      double rate = 0;
      if (val.type == kind::floating) rate = val.floating;
      else if (val.type == kind::integer) rate = static_cast<double>(val.integer);
      else problem = wrong_type("a number", val);
      if (problem.empty() && !(rate >= 0 && rate <= 100000))
        problem = "must be between 0 (no limit) and 100000, got " + std::to_string(rate);
      h.requests_per_s = rate;
    } else {
      std::string keys;
      for (auto& key : http_keys) keys += std::string{key.key} + ", ";
      return "unknown key '" + k + "' (keys: " + keys + "allow_insecure, timeout_s, requests_per_s)";
    }
    if (!problem.empty()) return k + ": " + problem;
  }
  c.http = std::move(h);
  return {};
}

config_value http_value(const dc& c) {
  std::vector<std::pair<std::string, config_value>> members;
  for (auto& key : http_keys)
    members.emplace_back(std::string{key.key}, key.text != nullptr ? config_value::of(c.http.*(key.text))
                                                                 : config_value::of(c.http.*(key.number)));
  members.emplace_back("allow_insecure", config_value::of(c.http.allow_insecure));
  members.emplace_back("timeout_s", config_value::of(c.http.timeout_s));
  members.emplace_back("requests_per_s", config_value::of(c.http.requests_per_s));
  return config_value::table_of(std::move(members));
}

bool is_synthetic(const dc& c) { return c.type == "synthetic"; }
bool is_http(const dc& c) { return c.type == "http"; }
bool is_folder(const dc& c) { return c.type == "folder"; }
bool never(const dc&) { return false; }

config_value rules_value(const dc& c) {
  config_value v;
  v.type = kind::array;
  for (auto& r : c.priority_rules)
    v.items.push_back(config_value::table_of(
        {{"glob", config_value::of(r.glob)}, {"priority", config_value::of(int64_t{r.priority})}}));
  return v;
}

config_value targets_value(const dc& c) {
  std::vector<std::pair<std::string, config_value>> members;
  for (auto& [volume, path] : targets_of(c)) members.emplace_back(volume, config_value::of(path));
  return config_value::table_of(std::move(members));
}

// Builds a table entry; `identity` fields come first in the table.
datasource_field field(std::string_view key, std::string_view help, bool identity,
                       std::string (*read)(const config_value&, datasource_config&),
                       config_value (*value)(const datasource_config&),
                       bool (*shown)(const datasource_config&) = nullptr,
                       std::string_view default_text = {}) {
  datasource_field f;
  f.key = key;
  f.help = help;
  f.identity = identity;
  f.read = read;
  f.value = value;
  f.shown = shown;
  f.default_text = default_text;
  return f;
}

}  // namespace

const std::vector<datasource_field>& datasource_fields() {
  using v = config_value;
  static const std::vector<datasource_field> table{
      field("id", "the datasource's id: 1 to 64 letters, digits, '.', '_', '-', not starting with '.'",
       true, [](const v& x, dc& c) { return read_id(x, c.id); },
       [](const dc& c) { return v::of(c.id); }, nullptr, "(required)"),
      field("name", "a name for people, at most 256 bytes of UTF-8; the view shows the id when empty",
       false,
       [](const v& x, dc& c) {
         std::string s;
         if (auto p = read_string(x, s); !p.empty()) return p;
         if (s.size() > max_name_bytes) return std::string{"must be at most 256 bytes"};
         if (!is_valid_utf8(s)) return std::string{"is not valid UTF-8"};
         c.name = std::move(s);
         return std::string{};
       },
       [](const dc& c) { return v::of(c.name.empty() ? c.id : c.name); }),
      field("container", "the container of its API path (1 to 128 bytes of UTF-8, no '/')", true,
       [](const v& x, dc& c) { return read_part(x, c.container); },
       [](const dc& c) { return v::of(c.container); }),
      field("account", "the account of its API path", true,
       [](const v& x, dc& c) { return read_part(x, c.account); },
       [](const dc& c) { return v::of(c.account); }),
      field("workspace", "the workspace of its API path", true,
       [](const v& x, dc& c) { return read_part(x, c.workspace); },
       [](const dc& c) { return v::of(c.workspace); }),
      field("type", "folder (a local folder), synthetic (generated items) or http (a JSON API)", false,
       [](const v& x, dc& c) { return read_word(x, source_types, c.type); },
       [](const dc& c) { return v::of(c.type); }),
      field("path",
       "type = folder: the folder to synchronize, an absolute path (in the file, a relative path "
       "is taken from the working directory)",
       false, [](const v& x, dc& c) { return read_path(x, c.path); },
       [](const dc& c) { return v::of(c.path); }, is_folder),
      field("volumes", "ids of the volumes it feeds (at least one)", false,
       [](const v& x, dc& c) { return read_volumes(x, c.volumes); },
       [](const dc& c) { return v::of(c.volumes); }, nullptr, "(required)"),
      field("target",
       "where its copies go in each volume: a relative directory; default its id; \"\" (the "
       "volume's root) only when it is alone in the volume",
       false,
       [](const v& x, dc& c) {
         std::string s;
         if (auto p = read_string(x, s); !p.empty()) return p;
         c.target = std::move(s);
         return std::string{};
       },
       [](const dc& c) { return v::of(c.target ? *c.target : c.id); }, nullptr, "(its id)"),
      field("targets", "{ <volume> = \"dir\", ... }: a target per volume, overriding target there",
       false, [](const v& x, dc& c) { return read_targets(x, c.targets); }, targets_value),
      field("sync_type",
       "auto (mirror, deletions follow), one (collect once), arch (like auto, never deletes)",
       false,
       [](const v& x, dc& c) {
         std::string text;
         if (auto p = read_string(x, text); !p.empty()) return p;
         auto t = sync_type_from_string(text);
         if (!t) return "must be one of auto, one, arch, got " + quote_text(text);
         c.sync = *t;
         return std::string{};
       },
       [](const dc& c) { return v::of(std::string{to_string(c.sync)}); }),
      field("include", "globs of the items to synchronize; empty: all", false,
       [](const v& x, dc& c) { return read_globs(x, c.include); },
       [](const dc& c) { return v::of(c.include); }),
      field("exclude", "globs of the items to leave out", false,
       [](const v& x, dc& c) { return read_globs(x, c.exclude); },
       [](const dc& c) { return v::of(c.exclude); }),
      field("sync_priority", "higher first; 0 is normal, may be negative (a 32-bit integer)", false,
       [](const v& x, dc& c) {
         return read_signed(x, std::numeric_limits<int32_t>::min(),
                            std::numeric_limits<int32_t>::max(), c.sync_priority);
       },
       [](const dc& c) { return v::of(int64_t{c.sync_priority}); }),
      field("priority_rules",
       "[{glob = \"**/*.exr\", priority = 5}, ...]: the first matching rule sets an item's priority",
       false, [](const v& x, dc& c) { return read_rules(x, c.priority_rules); }, rules_value),
      field("compare_hash", "rescans compare content hashes when known", false,
       [](const v& x, dc& c) { return read_bool(x, c.compare_hash); },
       [](const dc& c) { return v::of(c.compare_hash); }),
      field("max_delete",
       "auto: a run that would remove more items than this removes none until a person "
       "confirms (0: no limit)",
       false,
       [](const v& x, dc& c) {
         return read_unsigned(x, std::numeric_limits<uint64_t>::max(), c.max_delete);
       },
       [](const dc& c) { return v::of(c.max_delete); }),
      field("max_delete_percent",
       "auto: ... or more than this percentage of a volume's items (100: no limit)", false,
       [](const v& x, dc& c) { return read_unsigned(x, 100, c.max_delete_percent); },
       [](const dc& c) { return v::of(uint64_t{c.max_delete_percent}); }),
      field("schedule", "{min_s = N, max_s = N}: schedule_min_s and schedule_max_s in one table",
       false, read_schedule,
       [](const dc& c) {
         return v::table_of({{"min_s", v::of(c.schedule_min_s)}, {"max_s", v::of(c.schedule_max_s)}});
       }),
      field("schedule_min_s",
       "auto/arch: the next run starts between schedule_min_s and schedule_max_s seconds later "
       "(1 to 30 days)",
       false, [](const v& x, dc& c) { return read_signed(x, 1, max_schedule_s, c.schedule_min_s); },
       [](const dc& c) { return v::of(c.schedule_min_s); }, never),
      field("schedule_max_s", "see schedule_min_s", false,
       [](const v& x, dc& c) { return read_signed(x, 1, max_schedule_s, c.schedule_max_s); },
       [](const dc& c) { return v::of(c.schedule_max_s); }, never),
      field("http",
       "type = http: {url = \"https://...\", paging = \"cursor\", items = \"/items\", ...}: where "
       "the listing is and how to read it (docs/http-datasources.md)",
       false, read_http, http_value, is_http),
      field("seed", "type = synthetic: everything derives from it", false,
       [](const v& x, dc& c) {
         return read_unsigned(x, std::numeric_limits<uint64_t>::max(), c.seed);
       },
       [](const dc& c) { return v::of(c.seed); }, is_synthetic),
      field("count", "type = synthetic: number of files, at most 100,000,000", false,
       [](const v& x, dc& c) { return read_unsigned(x, max_count, c.count); },
       [](const dc& c) { return v::of(c.count); }, is_synthetic),
      field("directories", "type = synthetic: directories the files spread over, at most 1,000,000",
       false, [](const v& x, dc& c) { return read_unsigned(x, max_directories, c.directories); },
       [](const dc& c) { return v::of(c.directories); }, is_synthetic),
      field("min_size", "type = synthetic: smallest file size, at most 2^40", false,
       [](const v& x, dc& c) { return read_unsigned(x, max_size_bytes, c.min_size); },
       [](const dc& c) { return v::of(c.min_size); }, is_synthetic),
      field("max_size", "type = synthetic: largest file size, at most 2^40", false,
       [](const v& x, dc& c) { return read_unsigned(x, max_size_bytes, c.max_size); },
       [](const dc& c) { return v::of(c.max_size); }, is_synthetic),
      field("change_rate",
       "type = synthetic: fraction of files that change from one run to the next, 0 to 1", false,
       [](const v& x, dc& c) { return read_fraction(x, c.change_rate); },
       [](const dc& c) { return v::of(c.change_rate); }, is_synthetic),
  };
  return table;
}

const datasource_field* find_datasource_field(std::string_view key) {
  for (auto& f : datasource_fields())
    if (f.key == key) return &f;
  return nullptr;
}

std::string datasource_field_names() {
  std::string out;
  for (auto& f : datasource_fields()) out += (out.empty() ? "" : ", ") + std::string{f.key};
  return out;
}

std::string datasource_problem(const datasource_config& c) {
  if (auto p = id_problem(c.id); !p.empty()) return "id " + p;
  if (c.volumes.empty()) return "volumes: name at least one volume";
  if (c.type == "folder" && c.path.empty()) return "a folder datasource needs a path";
  if (c.type == "http") {
    auto made = make_source(c);
    if (!made) return "http: " + connectors::render(made.error());
  }
  if (auto p = target_problem(c); !p.empty()) return p;
  if (c.schedule_min_s > c.schedule_max_s)
    return "schedule_min_s is more than schedule_max_s (schedule.min_s > schedule.max_s)";
  if (c.min_size > c.max_size) return "min_size is more than max_size";
  return {};
}

std::string volume_problem(const datasource_config& c, const std::vector<std::string>& known) {
  for (auto& v : c.volumes) {
    bool found = false;
    for (auto& k : known) found = found || k == v;
    if (!found) return "volumes: no volume '" + v + "' is defined";
  }
  return {};
}

std::string part_problem(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > max_part_bytes)
    return "is longer than " + std::to_string(max_part_bytes) + " bytes";
  if (s == "." || s == "..") return "may not be '.' or '..'";
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
      return "holds a control character, a slash or a backslash";
  if (!is_valid_utf8(s)) return "is not valid UTF-8";
  return {};
}

}  // namespace syncline::actors
