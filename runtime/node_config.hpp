// runtime/node_config.hpp: every setting of a node, read from a TOML file and command-line overrides.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "actors/sync_config.hpp"

namespace syncline::runtime {

/// A numeric IP address and a TCP port, as `[http] listen` names it.
struct listen_address {
  /// An IPv4 or IPv6 literal, without brackets.
  std::string host = "127.0.0.1";
  /// 0 asks the system for any free port.
  uint16_t port = 8460;

  /// `"127.0.0.1:8460"`, or `"[::1]:8460"` for IPv6.
  std::string to_string() const;
};

/// Parses `ADDR:PORT` where ADDR is a numeric IPv4 address or a bracketed IPv6 address
/// (`127.0.0.1:8460`, `[::1]:0`). Host names are refused: the node binds exactly what it is
/// told. Fails with `runtime_errc::invalid_config` saying what is wrong.
[[nodiscard]] caf::expected<listen_address> parse_listen_address(std::string_view text);

/// CAF's scheduler: `sharing` sleeps while idle, `stealing` polls (faster under load, burns CPU).
enum class scheduler_policy : uint8_t { sharing, stealing };
const char* to_string(scheduler_policy x) noexcept;

/// The levels of the node's log, spdlog's names.
enum class log_level : uint8_t { trace, debug, info, warn, error, critical, off };
const char* to_string(log_level x) noexcept;

/// `[node]`
struct node_settings {
  /// A name for people (logs, status); empty means the node id stands for it.
  std::string name;
  /// Where the database and the lock file live. Relative paths are relative to the working
  /// directory of the process, wherever they were written.
  std::filesystem::path data_dir = "./syncline-data";
};

/// `[http]`
struct http_settings {
  listen_address listen;
  /// Larger request bodies are refused with 413.
  uint64_t max_body_bytes = uint64_t{1} << 20;
  /// Larger request headers (request line and every header field) are refused with 431.
  uint32_t max_header_bytes = 8 * 1024;
  /// Network threads reading, routing and writing requests.
  uint32_t threads = 2;
  /// How long a client may take to send one request (headers, then again the body) and how
  /// long a keep-alive connection may stay idle; the connection is closed after that.
  uint32_t read_timeout_s = 30;
  /// Connections open at once; past it a new one gets 503 (except `/health`) and is closed.
  uint32_t max_connections = 512;
  /// Names the node answers to besides the address a client connected to (`name` or
  /// `name:port`): a request with another `Host` is refused (DNS rebinding).
  std::vector<std::string> allowed_hosts;
  /// Origins (`https://app.example.com`) of pages that may change state, besides the node's
  /// own; a request with another `Origin` is refused.
  std::vector<std::string> allowed_origins;
  /// HTTPS: the certificate chain (PEM) and its private key (PEM); both empty: plain HTTP.
  std::string tls_cert;
  std::string tls_key;
};

/// `[scheduler]`
struct scheduler_settings {
  uint32_t threads = 2;
  scheduler_policy policy = scheduler_policy::sharing;
};

/// `[log]`
struct log_settings {
  log_level level = log_level::info;
  /// Appended to as well as stderr; empty means stderr only.
  std::filesystem::path file;
};

/// `[storage]`
struct storage_settings {
  /// fsync the write-ahead log on every write (survives a machine crash, slower).
  bool sync_writes = false;
  uint32_t block_cache_mb = 64;
};

/// `[auth]`
struct auth_settings {
  /// The user class anonymous requests act as: empty (off: they are refused), or one of
  /// `guest`, `user`, `editor`, `admin`.
  std::string anonymous_class;
  /// Lifetime of a token when signIn asks for none, and the longest one granted.
  uint64_t token_ttl_s = 24 * 3600;
  uint64_t max_token_ttl_s = 365 * 24 * 3600;
  /// How long a verified token is trusted without asking the database (revocation through the
  /// node still takes effect at once).
  uint64_t token_cache_ms = 1000;
  /// The admin created on first start when no admin exists: its name, and where its password
  /// comes from (this file's first line, else the environment variable
  /// SYNCLINE_ADMIN_PASSWORD). Never a built-in password.
  std::string admin_user;
  std::filesystem::path admin_password_file;
  /// Sign-in attempts per (user, client address) and per client address, refilled over
  /// `sign_in_window_s`; a successful attempt is given back. Past them: 429 with Retry-After.
  uint32_t sign_in_attempts = 5;
  uint32_t sign_in_attempts_per_address = 30;
  uint32_t sign_in_window_s = 60;
};

/// `[api]`
struct api_settings {
  /// Most ids (elements, once `_id` arrays are unfolded) one request may name.
  uint32_t max_ids = 10000;
  /// I/O threads of the API (searches, user changes, big bodies), apart from the sync's.
  uint32_t io_threads = 2;
  /// Threads hashing passwords for sign-ins (argon2id), apart from the above.
  uint32_t password_threads = 1;
  /// Most ids a search, search_mongo or graph answers at once; more is refused (never cut).
  uint32_t max_answer_ids = 100000;
  /// Seconds the change feed keeps a change (30 days); a follower further behind resets.
  uint32_t changes_keep_s = 30u * 86400u;
};

/// `[datasources]`
struct datasources_section {
  /// Absolute directories under which a folder datasource made through the API may read (real
  /// paths compared). Empty: the API may not make folder datasources. The configuration
  /// file's datasources are the operator's and are not restricted.
  std::vector<std::string> allowed_roots;
};

/// `[site]`: this node as a site of a multi-site project (seed 003; docs/sites.md). Off while
/// `path` is empty; then `[node] name` is the site's name and must be set.
struct site_section {
  /// The site volume: its whole tree is the project.
  std::string path;
  /// The tracker's base URL, or `self` when this node is the tracker.
  std::string tracker;
  /// A file holding a token of one of the tracker's users (class editor or above).
  std::filesystem::path token_file;
  /// How other sites reach this node (`https://host:port`); empty: `http://` + `[http] listen`.
  std::string url;
  /// Plain http to a host beyond loopback (tokens in clear).
  bool allow_insecure = false;
  /// Certificates (PEM) trusted for https to the tracker and other sites in place of the
  /// system's (a private CA, a self-made certificate); empty: the system's.
  std::string ca_file;
  int64_t scan_interval_s = 60;
  int64_t reception = 4;
  int64_t emission = 8;
  int64_t max_bytes_per_s = 0;
  int64_t feed_wait_s = 25;
  bool sync_everywhere = true;
  bool discover_deletions = true;
};

/// Every setting of a node. A default-constructed value holds the defaults; `load_config`
/// returns only values that passed validation.
struct node_config {
  node_settings node;
  http_settings http;
  scheduler_settings scheduler;
  log_settings log;
  storage_settings storage;
  auth_settings auth;
  api_settings api;
  datasources_section datasources_settings;
  site_section site;
  /// `[runtime]`: the actor runtime's tunables.
  actors::runtime_settings runtime;
  /// `[[volume]]` tables, in file order; ids are unique.
  std::vector<actors::volume_config> volumes;
  /// `[[datasource]]` tables, in file order; ids are unique, every volume they name exists.
  std::vector<actors::datasource_config> datasources;
  /// `--set datasource.<id>.target=...` (or `.targets`) naming a datasource the configuration
  /// does not hold, one made through the API: only `target` and `targets` of each entry are
  /// meaningful. The node applies them to the stored datasource at start (how a data directory
  /// whose API datasources share a volume gets their targets), and they stay.
  std::map<std::string, actors::datasource_config> target_overrides;
};

/// One command-line override of one setting.
struct config_override {
  /// How the user wrote it, quoted in error messages: `"--set 'http.listen=x'"`, `"--http"`.
  std::string origin;
  /// `section.key`, or `datasource.<id>.key` / `volume.<id>.key` for one of those tables.
  std::string key;
  std::string value;
  /// When true, `value` is taken as a string as it is (dedicated flags such as `--data-dir`).
  /// When false, it is parsed as a TOML value (`4`, `true`, `"x"`), and taken as a plain string
  /// when that fails or when the setting is a string.
  bool literal = false;
};

/// Splits a `--set` argument `section.key=value`. Fails with `runtime_errc::invalid_config`
/// when there is no `=` or no `section.key` before it; whether the key exists is checked when
/// the override is applied.
[[nodiscard]] caf::expected<config_override> parse_set_argument(std::string_view arg);

/// Where a node's settings come from, in order of increasing precedence: the defaults, the
/// file, then each override in turn.
struct config_sources {
  /// The TOML file; empty means none (every setting keeps its default unless overridden).
  std::filesystem::path file;
  std::vector<config_override> overrides;
};

/// Reads and validates every setting. Strict: an unknown section or key, a value of the wrong
/// type or out of range fails with `runtime_errc::invalid_config` whose message names the key
/// and where it was written (`file:line:col`, or the override's origin). An unreadable file
/// fails with `runtime_errc::config_unreadable`. Touches nothing on disk except reading the file.
[[nodiscard]] caf::expected<node_config> load_config(const config_sources& sources);

/// Validates TOML text as `load_config` does a file; `source_name` is used in messages.
[[nodiscard]] caf::expected<node_config> parse_config(std::string_view toml_text,
                                                      std::string_view source_name);

/// Applies one override to `cfg`, validated like a file value. On error `cfg` is unchanged.
[[nodiscard]] caf::error apply_override(node_config& cfg, const config_override& o);

/// One setting, for help texts.
struct setting_description {
  /// `section.key`; `datasource.<id>.key` for a field of every [[datasource]]
  std::string key;
  /// The default rendered as TOML (`"./syncline-data"`, `2`, `false`).
  std::string default_value;
  std::string help;
};

/// Every setting, in the order of the sections above.
std::vector<setting_description> describe_settings();

}  // namespace syncline::runtime
