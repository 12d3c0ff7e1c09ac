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
#include "actors/site_keys.hpp"
#include "actors/sync_model.hpp"
#include "actors/targets.hpp"
#include "connectors/glob.hpp"
#include "connectors/volume.hpp"
#include "runtime/error.hpp"
#include "runtime/node_entities.hpp"
#include "runtime/request_guard.hpp"
#include "runtime/toml_read.hpp"

namespace syncline::runtime {

namespace {

using namespace detail;

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

// An array of strings; a single string (as `--set` gives it) is an array of one.
std::string read_string_list(const toml::node& v, std::vector<std::string>& out) {
  if (auto* one = v.as_string()) {
    out = {one->get()};
    return {};
  }
  return read_strings(v, out);
}

// A list of strings, each normalised by `read_one` (which says what is wrong with it).
std::string read_normalised_list(const toml::node& v,
                                 std::string (*read_one)(std::string_view, std::string&),
                                 std::vector<std::string>& out) {
  std::vector<std::string> raw;
  if (auto p = read_string_list(v, raw); !p.empty()) return p;
  std::vector<std::string> normalised;
  for (auto& r : raw) {
    std::string one;
    if (auto p = read_one(r, one); !p.empty()) return p;
    normalised.push_back(std::move(one));
  }
  out = std::move(normalised);
  return {};
}

std::string toml_list(const std::vector<std::string>& values) {
  std::string out;
  for (auto& r : values) out += (out.empty() ? "" : ", ") + quote_toml(r);
  return "[" + out + "]";
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
       "name of this node for people (logs, status) and its site name ([site]; origin and the "
       "<site> of synced_<site>); empty: the node id stands for it",
       [](const node_config& c) { return quote_toml(c.node.name); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (!s.empty())
           if (auto p = actors::site_name_problem(s)) return *p + ", got " + quote_toml(s);
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
      {"http", "max_connections", value_kind::integer,
       "connections open at once; past it new ones get 503 (except /health) and are closed",
       [](const node_config& c) { return std::to_string(c.http.max_connections); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 1000000, c.http.max_connections);
       }},
      {"http", "allowed_hosts", value_kind::string,
       "names the node answers to (name or name:port) besides the address a client "
       "connected to; other Host headers are refused (DNS rebinding)",
       [](const node_config& c) { return toml_list(c.http.allowed_hosts); },
       [](const toml::node& v, node_config& c) {
         return read_normalised_list(v, read_allowed_host, c.http.allowed_hosts);
       }},
      {"http", "allowed_origins", value_kind::string,
       "origins (https://host[:port]) of web pages that may change state, besides the "
       "node's own; requests with another Origin are refused",
       [](const node_config& c) { return toml_list(c.http.allowed_origins); },
       [](const toml::node& v, node_config& c) {
         return read_normalised_list(v, read_allowed_origin, c.http.allowed_origins);
       }},
      {"http", "tls_cert", value_kind::string,
       "serve HTTPS with this certificate chain (PEM file); with tls_key; empty: plain HTTP",
       [](const node_config& c) { return quote_toml(c.http.tls_cert); },
       [](const toml::node& v, node_config& c) { return read_string(v, c.http.tls_cert); }},
      {"http", "tls_key", value_kind::string,
       "the private key (PEM file) of tls_cert",
       [](const node_config& c) { return quote_toml(c.http.tls_key); },
       [](const toml::node& v, node_config& c) { return read_string(v, c.http.tls_key); }},
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
      {"auth", "sign_in_attempts", value_kind::integer,
       "sign-in attempts per user and client address, refilled over sign_in_window_s "
       "(a success gives its attempt back); past them: 429",
       [](const node_config& c) { return std::to_string(c.auth.sign_in_attempts); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 1000000, c.auth.sign_in_attempts);
       }},
      {"auth", "sign_in_attempts_per_address", value_kind::integer,
       "sign-in attempts per client address (any users), refilled over sign_in_window_s",
       [](const node_config& c) { return std::to_string(c.auth.sign_in_attempts_per_address); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 1000000, c.auth.sign_in_attempts_per_address);
       }},
      {"auth", "sign_in_window_s", value_kind::integer,
       "seconds over which spent sign-in attempts come back",
       [](const node_config& c) { return std::to_string(c.auth.sign_in_window_s); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 86400, c.auth.sign_in_window_s);
       }},
      {"site", "path", value_kind::string,
       "the site volume, whose whole tree is the project (docs/sites.md); empty: not a site",
       [](const node_config& c) { return quote_toml(c.site.path); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (!s.empty() && s.front() != '/') return "must be an absolute directory, got " + quote_toml(s);
         c.site.path = std::move(s);
         return std::string{};
       }},
      {"site", "tracker", value_kind::string,
       "the tracker's base URL, e.g. http://127.0.0.1:8460, or self when this node is the tracker",
       [](const node_config& c) { return quote_toml(c.site.tracker); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (!s.empty() && s != "self" && s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0)
           return "must be self or an http:// or https:// URL, got " + quote_toml(s);
         c.site.tracker = std::move(s);
         return std::string{};
       }},
      {"site", "token_file", value_kind::string,
       "a file holding a token of a tracker user of class editor or above (seed 003: support)",
       [](const node_config& c) { return quote_toml(c.site.token_file.string()); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         c.site.token_file = s;
         return std::string{};
       }},
      {"site", "url", value_kind::string,
       "how other sites reach this node (https://host:port); empty: http:// and [http] listen",
       [](const node_config& c) { return quote_toml(c.site.url); },
       [](const toml::node& v, node_config& c) {
         std::string s;
         if (auto p = read_string(v, s); !p.empty()) return p;
         if (!s.empty() && s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0)
           return "must be an http:// or https:// URL, got " + quote_toml(s);
         c.site.url = std::move(s);
         return std::string{};
       }},
      {"site", "allow_insecure", value_kind::boolean,
       "let tokens travel over plain http to hosts beyond loopback",
       [](const node_config& c) { return std::string{c.site.allow_insecure ? "true" : "false"}; },
       [](const toml::node& v, node_config& c) { return read_bool(v, c.site.allow_insecure); }},
      {"site", "ca_file", value_kind::string,
       "certificates (PEM file) trusted for https to the tracker and the other sites, in place "
       "of the system's; empty: the system's",
       [](const node_config& c) { return quote_toml(c.site.ca_file); },
       [](const toml::node& v, node_config& c) { return read_string(v, c.site.ca_file); }},
      {"site", "scan_interval_s", value_kind::integer,
       "seconds between scans of the site volume (sleepBetweenScans)",
       [](const node_config& c) { return std::to_string(c.site.scan_interval_s); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 86400, c.site.scan_interval_s); }},
      {"site", "reception", value_kind::integer,
       "files received at once (syncAmountReception)",
       [](const node_config& c) { return std::to_string(c.site.reception); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 64, c.site.reception); }},
      {"site", "emission", value_kind::integer,
       "files (or batches of small ones) sent to other sites at once (syncAmountEmission)",
       [](const node_config& c) { return std::to_string(c.site.emission); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 256, c.site.emission); }},
      {"site", "max_bytes_per_s", value_kind::integer,
       "bytes per second at most for each file received; 0: no limit",
       [](const node_config& c) { return std::to_string(c.site.max_bytes_per_s); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 0, int64_t{1} << 40, c.site.max_bytes_per_s);
       }},
      {"site", "feed_wait_s", value_kind::integer,
       "seconds one long poll of the tracker's change feed waits for news",
       [](const node_config& c) { return std::to_string(c.site.feed_wait_s); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 300, c.site.feed_wait_s); }},
      {"site", "sync_everywhere", value_kind::boolean,
       "receive files whose element does not say syncEverywhere (rsyncGlobalParameters)",
       [](const node_config& c) { return std::string{c.site.sync_everywhere ? "true" : "false"}; },
       [](const toml::node& v, node_config& c) { return read_bool(v, c.site.sync_everywhere); }},
      {"site", "discover_deletions", value_kind::boolean,
       "publish removals of files gone from the site volume (enableDiscoveryDeletedFiles)",
       [](const node_config& c) { return std::string{c.site.discover_deletions ? "true" : "false"}; },
       [](const toml::node& v, node_config& c) { return read_bool(v, c.site.discover_deletions); }},
      {"datasources", "allowed_roots", value_kind::string,
       "absolute directories under which folder datasources made through the API may read; "
       "empty: the API may not make folder datasources",
       [](const node_config& c) { return toml_list(c.datasources_settings.allowed_roots); },
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
      {"api", "password_threads", value_kind::integer,
       "threads hashing passwords for sign-ins (argon2id), apart from io_threads",
       [](const node_config& c) { return std::to_string(c.api.password_threads); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 64, c.api.password_threads);
       }},
      {"api", "max_answer_ids", value_kind::integer,
       "most ids a search, search_mongo or graph answers at once; more is refused, never cut",
       [](const node_config& c) { return std::to_string(c.api.max_answer_ids); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 1, 10000000, c.api.max_answer_ids);
       }},
      {"api", "changes_keep_s", value_kind::integer,
       "seconds the change feed keeps a change; a follower further behind reads everything again",
       [](const node_config& c) { return std::to_string(c.api.changes_keep_s); },
       [](const toml::node& v, node_config& c) {
         return read_int(v, 60, 3650u * 86400u, c.api.changes_keep_s);
       }},
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
      {"runtime", "watch", value_kind::boolean,
       "folder datasources (auto, arch) watch their tree and run when it changes",
       [](const node_config& c) { return std::string{c.runtime.watch ? "true" : "false"}; },
       [](const toml::node& v, node_config& c) { return read_bool(v, c.runtime.watch); }},
      {"runtime", "watch_delay_ms", value_kind::integer,
       "a watched change starts a run after this quiet time (at most 10 times it)",
       [](const node_config& c) { return std::to_string(c.runtime.watch_delay_ms); },
       [](const toml::node& v, node_config& c) { return read_int(v, 10, 600000, c.runtime.watch_delay_ms); }},
      {"runtime", "max_watches", value_kind::integer,
       "directories one datasource may watch; a bigger tree is scanned on its schedule only",
       [](const node_config& c) { return std::to_string(c.runtime.max_watches); },
       [](const toml::node& v, node_config& c) { return read_int(v, 1, 100000000, c.runtime.max_watches); }},
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
  std::vector<std::string> vwhere;
  std::vector<std::string> dwhere;
  for (auto&& [name, node] : root) {
    if (name.str() == "volume") {
      if (auto err = detail::load_volumes(node, cfg.volumes, vwhere, source_name)) return err;
      continue;
    }
    if (name.str() == "datasource") {
      if (auto err = detail::load_datasources(node, cfg.datasources, dwhere, source_name))
        return err;
      continue;
    }
    bool known = false;
    for (auto& s : settings()) known = known || s.section == name.str();
    if (!known)
      return config_error(position(source_name, name.source()) + ": unknown key '" +
                          std::string{name.str()} + "' (sections: " + known_sections() + ")");
    if (auto err = load_section(name, node, cfg, source_name)) return err;
  }
  return detail::check_entities(cfg, vwhere, dwhere);
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
      err = detail::apply_datasource_override(next, rest, *value, o);
    else
      err = detail::apply_volume_override(next, rest, *value, o);
    if (err) return err;
    if (auto bad = detail::check_entities(next, {}, {})) {
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
  detail::describe_entities(out);
  return out;
}

}  // namespace syncline::runtime
