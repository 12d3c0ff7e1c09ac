#include "runtime/config.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include <toml++/toml.h>

#include "runtime/error.hpp"

namespace syncline::runtime {

namespace {

// What a setting accepts; string settings take a `--set` value as written even when it
// happens to parse as another TOML type (`--set node.name=1234`).
enum class value_kind : uint8_t { string, integer, boolean };

// A setting's validator returns a problem for people, or an empty string when it took the value.
using apply_fn = std::string (*)(const toml::node&, node_config&);
using show_fn = std::string (*)(const node_config&);

struct setting {
  std::string_view section;
  std::string_view key;
  value_kind kind;
  std::string_view help;
  show_fn show;
  apply_fn apply;

  std::string name() const {
    std::string out{section};
    out += '.';
    out += key;
    return out;
  }
};

std::string type_name(const toml::node& v) {
  switch (v.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string wrong_type(std::string_view expected, const toml::node& v) {
  return "expected " + std::string{expected} + ", got " + type_name(v);
}

std::string quote_toml(std::string_view s) {
  std::ostringstream out;
  out << toml::value<std::string>{std::string{s}};
  return out.str();
}

std::string read_string(const toml::node& v, std::string& out) {
  auto* s = v.as_string();
  if (s == nullptr) return wrong_type("a string", v);
  out = s->get();
  return {};
}

std::string read_bool(const toml::node& v, bool& out) {
  auto* b = v.as_boolean();
  if (b == nullptr) return wrong_type("a boolean (true or false)", v);
  out = b->get();
  return {};
}

template <class T>
std::string read_int(const toml::node& v, int64_t lo, int64_t hi, T& out) {
  static_assert(std::is_unsigned_v<T>);
  auto* i = v.as_integer();
  if (i == nullptr) return wrong_type("an integer", v);
  int64_t x = i->get();
  if (x < lo || x > hi)
    return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
           std::to_string(x);
  out = static_cast<T>(x);
  return {};
}

// Looks `text` up among the names an enum spells; the problem lists them all.
template <class Enum, size_t N>
std::string read_choice(const toml::node& v, const std::array<Enum, N>& values, Enum& out) {
  std::string text;
  if (auto problem = read_string(v, text); !problem.empty()) return problem;
  std::string names;
  for (auto x : values) {
    if (text == to_string(x)) {
      out = x;
      return {};
    }
    names += names.empty() ? "" : ", ";
    names += to_string(x);
  }
  return "must be one of " + names + ", got " + quote_toml(text);
}

constexpr std::array all_policies{scheduler_policy::sharing, scheduler_policy::stealing};
constexpr std::array all_levels{log_level::trace, log_level::debug, log_level::info,
                                log_level::warn,  log_level::error, log_level::critical,
                                log_level::off};
// The user classes of ARCHITECTURE.md, weakest first.
constexpr std::array<std::string_view, 4> user_classes{"guest", "user", "editor", "admin"};

// The problem with `text` as a listen address, or empty; shared by the setting and
// `parse_listen_address`.
std::string check_listen_address(std::string_view text, listen_address& out) {
  auto bad = [&](std::string_view why) {
    return std::string{why} + " (expected ADDRESS:PORT with a numeric IPv4 address or a " +
           "bracketed IPv6 address, e.g. 127.0.0.1:8460 or [::1]:8460), got " + quote_toml(text);
  };
  std::string host;
  std::string_view port_text;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("unterminated IPv6 address or missing port");
    host = std::string{text.substr(1, close - 1)};
    port_text = text.substr(close + 2);
    v6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    host = std::string{text.substr(0, colon)};
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return bad("IPv6 addresses need brackets");
  }
  unsigned char buf[sizeof(in6_addr)];
  if (::inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1)
    return bad(v6 ? "not a numeric IPv6 address" : "not a numeric IPv4 address");
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad("the port must be a number from 0 to 65535");
  unsigned long port = std::stoul(std::string{port_text});
  if (port > 65535) return bad("the port must be a number from 0 to 65535");
  out.host = std::move(host);
  out.port = static_cast<uint16_t>(port);
  return {};
}

// The one table of settings: parsing, overrides and help texts all read it, so a setting
// added here is everywhere at once. Defaults live in the structs of config.hpp.
const std::vector<setting>& settings() {
  static const std::vector<setting> table{
      {"node", "name", value_kind::string,
       "name of this node for people (logs, status); empty: the node id stands for it",
       [](const node_config& c) { return quote_toml(c.node.name); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         bool ok = s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char ch) {
                     return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
                   });
         if (!ok) return "must be at most 64 letters, digits, '_' or '-', got " + quote_toml(s);
         c.node.name = std::move(s);
         return std::string{};
       }},
      {"node", "data_dir", value_kind::string,
       "data directory (database and lock file); relative to the working directory",
       [](const node_config& c) { return quote_toml(c.node.data_dir.string()); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (s.empty()) return std::string{"must not be empty"};
         c.node.data_dir = s;
         return std::string{};
       }},
      {"http", "listen", value_kind::string,
       "HTTP address ADDRESS:PORT (numeric IPv4, or [IPv6]); port 0 picks a free port",
       [](const node_config& c) { return quote_toml(c.http.listen.to_string()); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         return check_listen_address(s, c.http.listen);
       }},
      {"http", "max_body_bytes", value_kind::integer,
       "largest request body accepted; larger ones get 413",
       [](const node_config& c) { return std::to_string(c.http.max_body_bytes); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, int64_t{1} << 30, c.http.max_body_bytes);
       }},
      {"http", "read_timeout_s", value_kind::integer,
       "seconds a client may take to send a request, or stay idle between requests",
       [](const node_config& c) { return std::to_string(c.http.read_timeout_s); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 3600, c.http.read_timeout_s);
       }},
      {"scheduler", "threads", value_kind::integer, "threads of the actor scheduler",
       [](const node_config& c) { return std::to_string(c.scheduler.threads); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 256, c.scheduler.threads);
       }},
      {"scheduler", "policy", value_kind::string,
       "\"sharing\" (sleeps while idle) or \"stealing\" (polls; more CPU)",
       [](const node_config& c) { return quote_toml(to_string(c.scheduler.policy)); },
       [](const toml::node& v, node_config& c) {
         return read_choice(v, all_policies, c.scheduler.policy);
       }},
      {"log", "level", value_kind::string, "trace, debug, info, warn, error, critical or off",
       [](const node_config& c) { return quote_toml(to_string(c.log.level)); },
       [](const toml::node& v, node_config& c) { return read_choice(v, all_levels, c.log.level); }},
      {"log", "file", value_kind::string,
       "file the log is appended to, besides stderr; empty: none",
       [](const node_config& c) { return quote_toml(c.log.file.string()); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         c.log.file = s;
         return std::string{};
       }},
      {"storage", "sync_writes", value_kind::boolean,
       "fsync the database log on every write (survives a machine crash; slower)",
       [](const node_config& c) { return std::string{c.storage.sync_writes ? "true" : "false"}; },
       [](const toml::node& v, node_config& c) { return read_bool(v, c.storage.sync_writes); }},
      {"storage", "block_cache_mb", value_kind::integer, "database block cache, in MiB",
       [](const node_config& c) { return std::to_string(c.storage.block_cache_mb); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 1 << 20, c.storage.block_cache_mb);
       }},
      {"auth", "anonymous_class", value_kind::string,
       "class anonymous requests act as: guest, user, editor or admin; empty: refused",
       [](const node_config& c) { return quote_toml(c.auth.anonymous_class); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (!s.empty() &&
             std::find(user_classes.begin(), user_classes.end(), s) == user_classes.end())
           return "must be empty (off) or one of guest, user, editor, admin, got " + quote_toml(s);
         c.auth.anonymous_class = std::move(s);
         return std::string{};
       }},
  };
  return table;
}

const setting* find_setting(std::string_view section, std::string_view key) {
  for (auto& s : settings())
    if (s.section == section && s.key == key) return &s;
  return nullptr;
}

std::string known_sections() {
  std::string out;
  for (auto& s : settings()) {
    if (out.find(std::string{s.section}) != std::string::npos) continue;
    out += out.empty() ? "" : ", ";
    out += s.section;
  }
  return out;
}

std::string known_keys(std::string_view section) {
  std::string out;
  for (auto& s : settings()) {
    if (s.section != section) continue;
    out += out.empty() ? "" : ", ";
    out += s.key;
  }
  return out;
}

std::string position(std::string_view source_name, const toml::source_region& where) {
  return std::string{source_name} + ":" + std::to_string(where.begin.line) + ":" +
         std::to_string(where.begin.column);
}

caf::error config_error(std::string text) {
  return make_error(runtime_errc::invalid_config, std::move(text));
}

// Every value is validated into a copy, so a rejected file leaves nothing half-applied.
caf::error load_section(const toml::key& name, const toml::node& node, node_config& cfg,
                        std::string_view source_name) {
  auto* tbl = node.as_table();
  if (tbl == nullptr)
    return config_error(position(source_name, node.source()) + ": " + std::string{name.str()} +
                        ": " +
                        wrong_type("a table (a [" + std::string{name.str()} + "] section)", node));
  for (auto&& [key, value] : *tbl) {
    auto* s = find_setting(name.str(), key.str());
    if (s == nullptr)
      return config_error(position(source_name, key.source()) + ": unknown key '" +
                          std::string{name.str()} + "." + std::string{key.str()} + "' (keys of [" +
                          std::string{name.str()} + "]: " + known_keys(name.str()) + ")");
    if (auto problem = s->apply(value, cfg); !problem.empty())
      return config_error(position(source_name, value.source()) + ": " + s->name() + ": " +
                          problem);
  }
  return caf::none;
}

caf::error load_table(const toml::table& root, node_config& cfg, std::string_view source_name) {
  for (auto&& [name, node] : root) {
    // Sections that are arrays of tables ([[datasource]], [[volume]]) get their own loader
    // here, before the fixed sections are looked up.
    bool known = false;
    for (auto& s : settings()) known = known || s.section == name.str();
    if (!known)
      return config_error(position(source_name, name.source()) + ": unknown key '" +
                          std::string{name.str()} + "' (sections: " + known_sections() + ")");
    if (auto err = load_section(name, node, cfg, source_name)) return err;
  }
  return caf::none;
}

}  // namespace

std::string listen_address::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

caf::expected<listen_address> parse_listen_address(std::string_view text) {
  listen_address out;
  if (auto problem = check_listen_address(text, out); !problem.empty())
    return config_error(std::move(problem));
  return out;
}

const char* to_string(scheduler_policy x) noexcept {
  switch (x) {
    case scheduler_policy::sharing:
      return "sharing";
    case scheduler_policy::stealing:
      return "stealing";
  }
  return "unknown";
}

const char* to_string(log_level x) noexcept {
  switch (x) {
    case log_level::trace:
      return "trace";
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warn:
      return "warn";
    case log_level::error:
      return "error";
    case log_level::critical:
      return "critical";
    case log_level::off:
      return "off";
  }
  return "unknown";
}

caf::expected<config_override> parse_set_argument(std::string_view arg) {
  std::string origin = "--set '" + std::string{arg} + "'";
  auto eq = arg.find('=');
  auto dot = arg.find('.');
  if (eq == std::string_view::npos || dot == std::string_view::npos || dot == 0 || dot + 1 >= eq)
    return config_error(origin + ": expected section.key=value");
  config_override o;
  o.origin = std::move(origin);
  o.key = std::string{arg.substr(0, eq)};
  o.value = std::string{arg.substr(eq + 1)};
  return o;
}

caf::error apply_override(node_config& cfg, const config_override& o) {
  auto dot = o.key.find('.');
  const setting* s = dot == std::string::npos
                         ? nullptr
                         : find_setting(std::string_view{o.key}.substr(0, dot),
                                        std::string_view{o.key}.substr(dot + 1));
  if (s == nullptr) return config_error(o.origin + ": unknown key '" + o.key + "'");
  // A value that is not a single TOML value (`a b`, `127.0.0.1:0`, `/x/y`) is the string as
  // written, so paths and addresses need no quotes on the command line.
  toml::value<std::string> as_text{o.value};
  toml::table parsed;
  const toml::node* value = &as_text;
  if (!o.literal) {
    try {
      parsed = toml::parse("v = " + o.value, o.origin);
      auto* v = parsed.size() == 1 ? parsed.get("v") : nullptr;
      if (v != nullptr && (s->kind != value_kind::string || v->is_string())) value = v;
    } catch (const toml::parse_error&) {
      // Not a TOML value: the text as written stays the value.
    }
  }
  node_config next = cfg;
  if (auto problem = s->apply(*value, next); !problem.empty())
    return config_error(o.origin + ": " + s->name() + ": " + problem);
  cfg = std::move(next);
  return caf::none;
}

caf::expected<node_config> parse_config(std::string_view toml_text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return config_error(position(source_name, e.source()) +
                        ": invalid TOML: " + std::string{e.description()});
  }
  node_config cfg;
  if (auto err = load_table(root, cfg, source_name)) return err;
  return cfg;
}

caf::expected<node_config> load_config(const config_sources& sources) {
  node_config cfg;
  if (!sources.file.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(sources.file, ec))
      return make_error(runtime_errc::config_unreadable,
                        sources.file.string() + " is a directory, not a TOML file");
    std::ifstream in{sources.file, std::ios::binary};
    if (!in)
      return make_error(runtime_errc::config_unreadable,
                        "cannot open " + sources.file.string() + ": " + std::strerror(errno));
    std::string text;
    std::array<char, 4096> chunk;
    while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0)
      text.append(chunk.data(), static_cast<size_t>(in.gcount()));
    if (in.bad())
      return make_error(runtime_errc::config_unreadable,
                        "cannot read " + sources.file.string() + ": " + std::strerror(errno));
    auto parsed = parse_config(text, sources.file.string());
    if (!parsed) return std::move(parsed.error());
    cfg = std::move(*parsed);
  }
  for (auto& o : sources.overrides)
    if (auto err = apply_override(cfg, o)) return err;
  return cfg;
}

std::vector<setting_description> describe_settings() {
  node_config defaults;
  std::vector<setting_description> out;
  for (auto& s : settings()) out.push_back({s.name(), s.show(defaults), std::string{s.help}});
  return out;
}

}  // namespace syncline::runtime
