#include "runtime/node_config.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "actors/datasource_schema.hpp"
#include "actors/error.hpp"
#include "actors/sync_model.hpp"
#include "actors/targets.hpp"
#include "connectors/glob.hpp"
#include "connectors/volume.hpp"
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

std::string read_strings(const toml::node& v, std::vector<std::string>& out) {
  auto* arr = v.as_array();
  if (arr == nullptr) return wrong_type("an array of strings", v);
  std::vector<std::string> items;
  for (auto& e : *arr) {
    auto* str = e.as_string();
    if (str == nullptr) return "expected an array of strings, found " + type_name(e);
    items.push_back(str->get());
  }
  out = std::move(items);
  return {};
}

// An array of strings; a single string (as `--set` gives it) is an array of one.
std::string read_string_list(const toml::node& v, std::vector<std::string>& out) {
  if (auto* one = v.as_string()) {
    out = {one->get()};
    return {};
  }
  return read_strings(v, out);
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
      {"http", "max_header_bytes", value_kind::integer,
       "largest request line and headers accepted; larger ones get 431",
       [](const node_config& c) { return std::to_string(c.http.max_header_bytes); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1024, 1 << 20, c.http.max_header_bytes);
       }},
      {"http", "threads", value_kind::integer,
       "network threads that read, route and write requests",
       [](const node_config& c) { return std::to_string(c.http.threads); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 64, c.http.threads); }},
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
      {"auth", "token_ttl_s", value_kind::integer,
       "lifetime of a token when signIn asks for none (expiresIn), in seconds",
       [](const node_config& c) { return std::to_string(c.auth.token_ttl_s); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, int64_t{100} * 365 * 86400, c.auth.token_ttl_s);
       }},
      {"auth", "max_token_ttl_s", value_kind::integer,
       "longest token lifetime granted (expiresIn \"0\", no expiry, gets this one), in seconds",
       [](const node_config& c) { return std::to_string(c.auth.max_token_ttl_s); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, int64_t{100} * 365 * 86400, c.auth.max_token_ttl_s);
       }},
      {"auth", "token_cache_ms", value_kind::integer,
       "how long a verified token is trusted without reading the database (0: never); "
       "revocation through the node takes effect at once anyway",
       [](const node_config& c) { return std::to_string(c.auth.token_cache_ms); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 0, 60000, c.auth.token_cache_ms);
       }},
      {"auth", "admin_user", value_kind::string,
       "admin created on first start when there is none; its password comes from "
       "admin_password_file or the environment variable SYNCLINE_ADMIN_PASSWORD",
       [](const node_config& c) { return quote_toml(c.auth.admin_user); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (!s.empty() && s.front() == '@') s.erase(s.begin());
         bool ok = s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char ch) {
                     return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.';
                   });
         if (!ok) return "must be at most 64 letters, digits, '.', '_' or '-', got " + quote_toml(s);
         c.auth.admin_user = std::move(s);
         return std::string{};
       }},
      {"auth", "admin_password_file", value_kind::string,
       "file whose first line is the first admin's password (read at start only)",
       [](const node_config& c) { return quote_toml(c.auth.admin_password_file.string()); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         c.auth.admin_password_file = s;
         return std::string{};
       }},
      {"datasources", "allowed_roots", value_kind::string,
       "absolute directories under which folder datasources made through the API may read; "
       "empty: the API may not make folder datasources",
       [](const node_config& c) {
         std::string out;
         for (auto& r : c.datasources_settings.allowed_roots)
           out += (out.empty() ? "" : ", ") + quote_toml(r);
         return "[" + out + "]";
       },
       [](const toml::node& v, node_config& c) {
         std::vector<std::string> roots;
         if (auto p = read_string_list(v, roots); !p.empty()) return p;
         for (auto& r : roots)
           if (r.empty() || r.front() != '/')
             return "must be absolute directories, got " + quote_toml(r);
         c.datasources_settings.allowed_roots = std::move(roots);
         return std::string{};
       }},
      {"api", "max_ids", value_kind::integer,
       "most ids (or elements) one API request may name",
       [](const node_config& c) { return std::to_string(c.api.max_ids); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 100000, c.api.max_ids); }},
      {"api", "io_threads", value_kind::integer,
       "threads for the API's slow calls (searches, sign-ins, big bodies), apart from the sync's",
       [](const node_config& c) { return std::to_string(c.api.io_threads); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 64, c.api.io_threads); }},
      {"runtime", "io_threads", value_kind::integer,
       "threads for blocking work (listing, copies, database writes, syncfs)",
       [](const node_config& c) { return std::to_string(c.runtime.io_threads); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 64, c.runtime.io_threads); }},
      {"runtime", "scan_batch", value_kind::integer, "items listed and merged per step of a run",
       [](const node_config& c) { return std::to_string(c.runtime.scan_batch); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 10, 1000000, c.runtime.scan_batch);
       }},
      {"runtime", "chunk_kb", value_kind::integer,
       "bytes a transfer copies per step, in KiB (pause and status are answered between steps)",
       [](const node_config& c) { return std::to_string(c.runtime.chunk_bytes >> 10); },
       [](const toml::node& v, node_config& c) {
         uint64_t kb = 0;
         auto p = read_int(v, 64, int64_t{1} << 20, kb);
         if (p.empty()) c.runtime.chunk_bytes = kb << 10;
         return p;
       }},
      {"runtime", "checkpoint_mb", value_kind::integer,
       "a transfer makes its bytes durable and records a resume point every this many MiB",
       [](const node_config& c) { return std::to_string(c.runtime.checkpoint_bytes >> 20); },
       [](const toml::node& v, node_config& c) {
         uint64_t mb = 0;
         auto p = read_int(v, 1, int64_t{1} << 20, mb);
         if (p.empty()) c.runtime.checkpoint_bytes = mb << 20;
         return p;
       }},
      {"runtime", "group_max", value_kind::integer,
       "finished copies made durable together (one syncfs, one database batch)",
       [](const node_config& c) { return std::to_string(c.runtime.group_max); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 100000, c.runtime.group_max); }},
      {"runtime", "group_delay_ms", value_kind::integer,
       "longest wait before a group of finished copies is made durable",
       [](const node_config& c) { return std::to_string(c.runtime.group_delay_ms); },
       [](const toml::node& v, node_config& c) {
         uint64_t ms = 0;
         auto p = read_int(v, 0, 60000, ms);
         if (p.empty()) c.runtime.group_delay_ms = static_cast<int64_t>(ms);
         return p;
       }},
      {"runtime", "progress_interval_s", value_kind::integer,
       "seconds between progress lines in the log during a run",
       [](const node_config& c) { return std::to_string(c.runtime.progress_interval_ms / 1000); },
       [](const toml::node& v, node_config& c) {
         uint64_t sec = 0;
         auto p = read_int(v, 1, 86400, sec);
         if (p.empty()) c.runtime.progress_interval_ms = static_cast<int64_t>(sec) * 1000;
         return p;
       }},
      {"runtime", "retry_base_ms", value_kind::integer,
       "first delay before a failed transfer is retried (then doubling, with jitter)",
       [](const node_config& c) { return std::to_string(c.runtime.retry.base.count()); },
       [](const toml::node& v, node_config& c) {
         uint64_t ms = 0;
         auto p = read_int(v, 1, 3600000, ms);
         if (p.empty()) c.runtime.retry.base = std::chrono::milliseconds{ms};
         return p;
       }},
      {"runtime", "retry_cap_s", value_kind::integer, "longest delay between retries",
       [](const node_config& c) {
         return std::to_string(c.runtime.retry.cap.count() / 1000);
       },
       [](const toml::node& v, node_config& c) {
         uint64_t sec = 0;
         auto p = read_int(v, 1, 86400, sec);
         if (p.empty()) c.runtime.retry.cap = std::chrono::milliseconds{sec * 1000};
         return p;
       }},
      {"runtime", "retry_max_attempts", value_kind::integer,
       "failures after which an item goes to error and waits for a person",
       [](const node_config& c) { return std::to_string(c.runtime.retry.max_attempts); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 1000, c.runtime.retry.max_attempts);
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


// --- [[volume]] and [[datasource]]: arrays of tables, one field table each -------------------

template <class T>
struct entity_field {
  std::string_view key;
  value_kind kind;
  std::string_view help;
  std::string (*show)(const T&);
  std::string (*apply)(const toml::node&, T&);
};

template <class T>
std::string read_signed(const toml::node& v, int64_t lo, int64_t hi, T& out) {
  auto* i = v.as_integer();
  if (i == nullptr) return wrong_type("an integer", v);
  int64_t x = i->get();
  if (x < lo || x > hi)
    return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
           std::to_string(x);
  out = static_cast<T>(x);
  return {};
}

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
  std::string names;
  for (auto w : words) {
    if (text == w) {
      out = text;
      return {};
    }
    names += names.empty() ? "" : ", ";
    names += w;
  }
  return "must be one of " + names + ", got " + quote_toml(text);
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
       [](const toml::node& v, vc& c) { return read_signed(v, 1, 133, c.fault_errno); }},
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

caf::error load_datasources(const toml::node& node, std::vector<actors::datasource_config>& out,
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
caf::error check_entities(const node_config& cfg, const std::vector<std::string>& vwhere,
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

caf::error load_table(const toml::table& root, node_config& cfg, std::string_view source_name) {
  std::vector<std::string> vwhere;
  std::vector<std::string> dwhere;
  for (auto&& [name, node] : root) {
    if (name.str() == "volume") {
      if (auto err = load_entities("volume", node, volume_fields(), cfg.volumes, vwhere,
                                   source_name))
        return err;
      continue;
    }
    if (name.str() == "datasource") {
      if (auto err = load_datasources(node, cfg.datasources, dwhere, source_name)) return err;
      continue;
    }
    bool known = false;
    for (auto& s : settings()) known = known || s.section == name.str();
    if (!known)
      return config_error(position(source_name, name.source()) + ": unknown key '" +
                          std::string{name.str()} + "' (sections: " + known_sections() + ")");
    if (auto err = load_section(name, node, cfg, source_name)) return err;
  }
  return check_entities(cfg, vwhere, dwhere);
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
caf::error apply_datasource_override(node_config& cfg, std::string_view rest,
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
  std::string_view section = dot == std::string::npos ? std::string_view{o.key}
                                                      : std::string_view{o.key}.substr(0, dot);
  if (section == "datasource" || section == "volume") {
    auto rest = dot == std::string::npos ? std::string_view{} : std::string_view{o.key}.substr(dot + 1);
    toml::value<std::string> as_text{o.value};
    toml::table parsed;
    const toml::node* value = &as_text;
    if (!o.literal) {
      try {
        parsed = toml::parse("v = " + o.value, o.origin);
        if (auto* v = parsed.get("v"); v != nullptr) value = v;
      } catch (const toml::parse_error&) {
      }
    }
    node_config next = cfg;
    caf::error err;
    if (section == "datasource")
      err = apply_datasource_override(next, rest, *value, o);
    else
      err = apply_entity_override(next.volumes, volume_fields(), "volume", rest, *value, o);
    if (err) return err;
    if (auto bad = check_entities(next, {}, {})) {
      auto& ctx = bad.context();
      return config_error(o.origin + ": " +
                          (ctx.match_elements<std::string>() ? ctx.get_as<std::string>(0)
                                                             : std::string{"invalid"}));
    }
    cfg = std::move(next);
    return caf::none;
  }
  const setting* s = dot == std::string::npos
                         ? nullptr
                         : find_setting(section, std::string_view{o.key}.substr(dot + 1));
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
  actors::volume_config v;
  for (auto& f : volume_fields())
    out.push_back({"volume.<id>." + std::string{f.key}, f.key == "id" ? "(required)" : f.show(v),
                   std::string{f.help}});
  actors::datasource_config d;
  for (auto& f : actors::datasource_fields())
    out.push_back({"datasource.<id>." + std::string{f.key},
                   f.default_text.empty() ? toml_text(f.value(d)) : std::string{f.default_text},
                   std::string{f.help}});
  return out;
}

}  // namespace syncline::runtime
