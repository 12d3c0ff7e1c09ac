#define BOOST_TEST_MODULE runtime_config
#include "runtime/node_config.hpp"

#include <optional>
#include <fstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "runtime/error.hpp"
#include "tests/temp_dir.hpp"

using namespace syncline::runtime;

namespace {

// The error's text, or "ok". Boost.Test evaluates message arguments even when a check passes,
// so `x.error()` must never be called on a value that holds one.
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{"ok"} : render(x.error());
}

// Fails the test unless `text` as a file named cfg.toml is refused with a message holding every
// one of `parts`.
void check_refused(const std::string& text, const std::vector<std::string>& parts) {
  auto cfg = parse_config(text, "cfg.toml");
  BOOST_REQUIRE_MESSAGE(!cfg, "accepted:\n" << text);
  BOOST_CHECK(is(cfg.error(), runtime_errc::invalid_config));
  auto msg = render(cfg.error());
  for (auto& p : parts)
    BOOST_CHECK_MESSAGE(msg.find(p) != std::string::npos, "message \"" << msg << "\" lacks \"" << p
                                                                       << "\" for:\n"
                                                                       << text);
}

config_override set(const std::string& arg) {
  auto o = parse_set_argument(arg);
  BOOST_REQUIRE_MESSAGE(o, why(o));
  return *o;
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out{p};
  out << text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_without_file_or_overrides) {
  auto cfg = load_config({});
  BOOST_REQUIRE(cfg);
  BOOST_CHECK_EQUAL(cfg->node.name, "");
  BOOST_CHECK_EQUAL(cfg->node.data_dir.string(), "./syncline-data");
  BOOST_CHECK_EQUAL(cfg->http.listen.to_string(), "127.0.0.1:8460");
  BOOST_CHECK_EQUAL(cfg->http.max_body_bytes, 1u << 20);
  BOOST_CHECK_EQUAL(cfg->http.read_timeout_s, 30u);
  BOOST_CHECK_EQUAL(cfg->scheduler.threads, 2u);
  BOOST_CHECK(cfg->scheduler.policy == scheduler_policy::sharing);
  BOOST_CHECK(cfg->log.level == log_level::info);
  BOOST_CHECK(cfg->log.file.empty());
  BOOST_CHECK_EQUAL(cfg->storage.sync_writes, false);
  BOOST_CHECK_EQUAL(cfg->storage.block_cache_mb, 64u);
  BOOST_CHECK_EQUAL(cfg->auth.anonymous_class, "");
}

BOOST_AUTO_TEST_CASE(every_setting_is_described_with_its_default) {
  auto all = describe_settings();
  std::vector<std::string> keys;
  for (auto& s : all) {
    keys.push_back(s.key);
    BOOST_CHECK_MESSAGE(!s.help.empty(), s.key);
    BOOST_CHECK_MESSAGE(!s.default_value.empty(), s.key);
  }
  std::vector<std::string> expected{"node.name",
                                    "node.data_dir",
                                    "http.listen",
                                    "http.max_body_bytes",
                                    "http.max_header_bytes",
                                    "http.threads",
                                    "http.read_timeout_s",
                                    "http.max_connections",
                                    "http.allowed_hosts",
                                    "http.allowed_origins",
                                    "http.tls_cert",
                                    "http.tls_key",
                                    "scheduler.threads",
                                    "scheduler.policy",
                                    "log.level",
                                    "log.file",
                                    "storage.sync_writes",
                                    "storage.block_cache_mb",
                                    "auth.anonymous_class",
                                    "auth.token_ttl_s",
                                    "auth.max_token_ttl_s",
                                    "auth.token_cache_ms",
                                    "auth.admin_user",
                                    "auth.admin_password_file",
                                    "auth.sign_in_attempts",
                                    "auth.sign_in_attempts_per_address",
                                    "auth.sign_in_window_s",
                                    "site.path",
                                    "site.tracker",
                                    "site.token_file",
                                    "site.url",
                                    "site.allow_insecure",
                                    "site.ca_file",
                                    "site.scan_interval_s",
                                    "site.reception",
                                    "site.emission",
                                    "site.max_bytes_per_s",
                                    "site.feed_wait_s",
                                    "site.sync_everywhere",
                                    "site.discover_deletions",
                                    "datasources.allowed_roots",
                                    "api.max_ids",
                                    "api.io_threads",
                                    "api.password_threads",
                                    "api.max_answer_ids",
                                    "api.changes_keep_s",
                                    "runtime.io_threads",
                                    "runtime.scan_batch",
                                    "runtime.chunk_kb",
                                    "runtime.checkpoint_mb",
                                    "runtime.group_max",
                                    "runtime.group_delay_ms",
                                    "runtime.progress_interval_s",
                                    "runtime.watch",
                                    "runtime.watch_delay_ms",
                                    "runtime.max_watches",
                                    "runtime.retry_base_ms",
                                    "runtime.retry_cap_s",
                                    "runtime.retry_max_attempts"};
  // The [[volume]] and [[datasource]] fields follow, each as `<kind>.<id>.<key>`.
  std::vector<std::string> fixed(keys.begin(), keys.begin() + static_cast<long>(std::min(keys.size(), expected.size())));
  BOOST_CHECK_EQUAL_COLLECTIONS(fixed.begin(), fixed.end(), expected.begin(), expected.end());
  for (auto want : {"volume.<id>.path", "volume.<id>.syncAmountReception",
                    "datasource.<id>.sync_type", "datasource.<id>.volumes",
                    "datasource.<id>.sync_priority", "datasource.<id>.exclude",
                    "datasource.<id>.target", "datasource.<id>.targets",
                    "datasource.<id>.max_delete", "datasource.<id>.max_delete_percent"})
    BOOST_CHECK_MESSAGE(std::find(keys.begin(), keys.end(), want) != keys.end(), want);
  for (auto& s : all) {
    if (s.key == "scheduler.threads") BOOST_CHECK_EQUAL(s.default_value, "2");
    if (s.key == "http.listen")
      BOOST_CHECK(s.default_value.find("127.0.0.1:8460") != std::string::npos);
    if (s.key == "storage.sync_writes") BOOST_CHECK_EQUAL(s.default_value, "false");
    if (s.key == "datasources.allowed_roots") BOOST_CHECK_EQUAL(s.default_value, "[]");
  }
  // Set from the file, or from the command line (one root, or an array).
  auto cfg = parse_config("[datasources]\nallowed_roots = [\"/srv/a\", \"/srv/b\"]\n", "x.toml");
  if (!cfg) BOOST_FAIL(render(cfg.error()));
  BOOST_CHECK_EQUAL(cfg->datasources_settings.allowed_roots.size(), 2u);
  auto one = parse_set_argument("datasources.allowed_roots=/srv/c");
  BOOST_REQUIRE(one);
  BOOST_REQUIRE(!apply_override(*cfg, *one));
  BOOST_REQUIRE_EQUAL(cfg->datasources_settings.allowed_roots.size(), 1u);
  BOOST_CHECK_EQUAL(cfg->datasources_settings.allowed_roots[0], "/srv/c");
  BOOST_CHECK(!parse_config("[datasources]\nallowed_roots = [\"relative\"]\n", "x.toml"));
}

BOOST_AUTO_TEST_CASE(file_sets_every_value) {
  auto cfg = parse_config(R"(
[node]
name = "site-a"
data_dir = "/srv/syncline"

[http]
listen = "[::1]:0"
max_body_bytes = 4096
read_timeout_s = 5

[scheduler]
threads = 4
policy = "stealing"

[log]
level = "debug"
file = "/var/log/syncline.log"

[storage]
sync_writes = true
block_cache_mb = 128

[auth]
anonymous_class = "editor"
)",
                          "cfg.toml");
  BOOST_REQUIRE_MESSAGE(cfg, why(cfg));
  BOOST_CHECK_EQUAL(cfg->node.name, "site-a");
  BOOST_CHECK_EQUAL(cfg->node.data_dir.string(), "/srv/syncline");
  BOOST_CHECK_EQUAL(cfg->http.listen.host, "::1");
  BOOST_CHECK_EQUAL(cfg->http.listen.port, 0);
  BOOST_CHECK_EQUAL(cfg->http.listen.to_string(), "[::1]:0");
  BOOST_CHECK_EQUAL(cfg->http.max_body_bytes, 4096u);
  BOOST_CHECK_EQUAL(cfg->http.read_timeout_s, 5u);
  BOOST_CHECK_EQUAL(cfg->scheduler.threads, 4u);
  BOOST_CHECK(cfg->scheduler.policy == scheduler_policy::stealing);
  BOOST_CHECK(cfg->log.level == log_level::debug);
  BOOST_CHECK_EQUAL(cfg->log.file.string(), "/var/log/syncline.log");
  BOOST_CHECK_EQUAL(cfg->storage.sync_writes, true);
  BOOST_CHECK_EQUAL(cfg->storage.block_cache_mb, 128u);
  BOOST_CHECK_EQUAL(cfg->auth.anonymous_class, "editor");
}

BOOST_AUTO_TEST_CASE(inline_tables_and_dotted_keys_are_the_same_sections) {
  auto cfg = parse_config("node = { name = \"x\" }\nscheduler.threads = 3\n", "cfg.toml");
  BOOST_REQUIRE_MESSAGE(cfg, why(cfg));
  BOOST_CHECK_EQUAL(cfg->node.name, "x");
  BOOST_CHECK_EQUAL(cfg->scheduler.threads, 3u);
}

BOOST_AUTO_TEST_CASE(empty_file_keeps_defaults) {
  auto cfg = parse_config("# nothing\n", "cfg.toml");
  BOOST_REQUIRE(cfg);
  BOOST_CHECK_EQUAL(cfg->scheduler.threads, 2u);
}

BOOST_AUTO_TEST_CASE(every_bad_value_names_key_and_position) {
  // Each case: the file, then what its message must name. Columns count from 1.
  check_refused("[node]\nnmae = \"x\"\n", {"cfg.toml:2:1", "node.nmae", "unknown key"});
  check_refused("[nodes]\nname = \"x\"\n", {"cfg.toml:1:2", "'nodes'", "unknown key"});
  check_refused("verbose = true\n", {"cfg.toml:1:1", "'verbose'"});
  check_refused("node = 3\n", {"cfg.toml:1:8", "node", "expected a table"});
  check_refused("[scheduler]\nthreads = \"4\"\n",
                {"cfg.toml:2:11", "scheduler.threads", "expected an integer, got a string"});
  check_refused("[scheduler]\nthreads = 0\n",
                {"cfg.toml:2:11", "scheduler.threads", "between 1 and 256", "got 0"});
  check_refused("[scheduler]\nthreads = 1000\n", {"cfg.toml:2:11", "scheduler.threads"});
  check_refused("[scheduler]\nthreads = 2.5\n",
                {"cfg.toml:2:11", "scheduler.threads", "floating-point"});
  check_refused("[scheduler]\npolicy = \"fast\"\n",
                {"cfg.toml:2:10", "scheduler.policy", "sharing, stealing", "fast"});
  check_refused("[http]\nlisten = \"localhost:80\"\n", {"cfg.toml:2:10", "http.listen"});
  check_refused("[http]\nlisten = \"::1:80\"\n", {"cfg.toml:2:10", "http.listen", "brackets"});
  check_refused("[http]\nlisten = \"127.0.0.1:70000\"\n", {"cfg.toml:2:10", "http.listen"});
  check_refused("[http]\nlisten = \"127.0.0.1\"\n", {"cfg.toml:2:10", "http.listen", "port"});
  check_refused("[http]\nlisten = 8460\n", {"cfg.toml:2:10", "http.listen", "expected a string"});
  check_refused("[http]\nmax_body_bytes = 0\n", {"cfg.toml:2:18", "http.max_body_bytes"});
  check_refused("[http]\nread_timeout_s = -1\n", {"cfg.toml:2:18", "http.read_timeout_s"});
  check_refused("[log]\nlevel = \"verbose\"\n", {"cfg.toml:2:9", "log.level", "verbose"});
  check_refused("[log]\nfile = false\n", {"cfg.toml:2:8", "log.file"});
  check_refused("[storage]\nsync_writes = \"yes\"\n",
                {"cfg.toml:2:15", "storage.sync_writes", "boolean"});
  check_refused("[storage]\nblock_cache_mb = 0\n", {"cfg.toml:2:18", "storage.block_cache_mb"});
  check_refused("[node]\ndata_dir = \"\"\n", {"cfg.toml:2:12", "node.data_dir", "empty"});
  check_refused("[node]\nname = \"has space\"\n", {"cfg.toml:2:8", "node.name"});
  check_refused("[auth]\nanonymous_class = \"root\"\n",
                {"cfg.toml:2:19", "auth.anonymous_class", "guest, user, editor, admin"});
  check_refused("[node]\nname = \"a\"\nname = \"b\"\n", {"cfg.toml:3:", "invalid TOML"});
  check_refused("[node\n", {"cfg.toml:1:", "invalid TOML"});
}

BOOST_AUTO_TEST_CASE(overrides_apply_after_the_file_in_order) {
  syncline::test::temp_dir dir{"config"};
  auto file = dir / "node.toml";
  write_file(file, "[scheduler]\nthreads = 4\n[http]\nlisten = \"127.0.0.1:1\"\n");
  config_sources src;
  src.file = file;
  src.overrides.push_back(set("scheduler.threads=6"));
  src.overrides.push_back(set("scheduler.threads=8"));
  src.overrides.push_back(set("storage.sync_writes=true"));
  src.overrides.push_back(set("log.level=warn"));
  src.overrides.push_back(set("node.name=1234"));
  src.overrides.push_back(set("log.file=/tmp/x y.log"));
  src.overrides.push_back(set("http.max_body_bytes=2048"));
  src.overrides.push_back({"--data-dir", "node.data_dir", "/data/dir", true});
  src.overrides.push_back({"--http", "http.listen", "[::]:0", true});
  auto cfg = load_config(src);
  BOOST_REQUIRE_MESSAGE(cfg, why(cfg));
  BOOST_CHECK_EQUAL(cfg->scheduler.threads, 8u);
  BOOST_CHECK_EQUAL(cfg->storage.sync_writes, true);
  BOOST_CHECK(cfg->log.level == log_level::warn);
  BOOST_CHECK_EQUAL(cfg->node.name, "1234");
  BOOST_CHECK_EQUAL(cfg->log.file.string(), "/tmp/x y.log");
  BOOST_CHECK_EQUAL(cfg->http.max_body_bytes, 2048u);
  BOOST_CHECK_EQUAL(cfg->node.data_dir.string(), "/data/dir");
  BOOST_CHECK_EQUAL(cfg->http.listen.to_string(), "[::]:0");
}

BOOST_AUTO_TEST_CASE(set_values_are_toml_or_else_strings) {
  node_config cfg;
  BOOST_REQUIRE(!apply_override(cfg, set("node.name=\"quoted\"")));
  BOOST_CHECK_EQUAL(cfg.node.name, "quoted");
  BOOST_REQUIRE(!apply_override(cfg, set("node.data_dir=relative/dir")));
  BOOST_CHECK_EQUAL(cfg.node.data_dir.string(), "relative/dir");
  BOOST_REQUIRE(!apply_override(cfg, set("http.listen=127.0.0.1:0")));
  BOOST_CHECK_EQUAL(cfg.http.listen.port, 0);
  BOOST_REQUIRE(!apply_override(cfg, set("scheduler.policy=stealing")));
  BOOST_CHECK(cfg.scheduler.policy == scheduler_policy::stealing);
  BOOST_REQUIRE(!apply_override(cfg, set("auth.anonymous_class=")));
  BOOST_CHECK_EQUAL(cfg.auth.anonymous_class, "");
  // A value that smuggles a second key is one string, not two settings.
  BOOST_REQUIRE(!apply_override(cfg, set("log.file=a\nlevel = 'off'")));
  BOOST_CHECK_EQUAL(cfg.log.file.string(), "a\nlevel = 'off'");
  BOOST_CHECK(cfg.log.level == log_level::info);
}

BOOST_AUTO_TEST_CASE(bad_set_arguments_name_the_argument) {
  for (auto arg : {"scheduler.threads", "threads=2", "=2", ".threads=2", "scheduler.=2"}) {
    auto o = parse_set_argument(arg);
    BOOST_REQUIRE_MESSAGE(!o, arg);
    auto msg = why(o);
    BOOST_CHECK_MESSAGE(msg.find(std::string{"--set '"} + arg + "'") != std::string::npos, msg);
    BOOST_CHECK_MESSAGE(msg.find("section.key=value") != std::string::npos, msg);
  }
  struct bad_case {
    const char* arg;
    const char* needle;
  };
  for (auto c : std::vector<bad_case>{{"scheduler.threads=zero", "expected an integer"},
                                      {"scheduler.threads=0", "between 1 and 256"},
                                      {"scheduler.thread=2", "unknown key 'scheduler.thread'"},
                                      {"sched.threads=2", "unknown key 'sched.threads'"},
                                      {"storage.sync_writes=yes", "boolean"},
                                      {"http.listen=localhost:1", "numeric IPv4"},
                                      {"log.level=1", "must be one of"}}) {
    node_config cfg;
    auto err = apply_override(cfg, set(c.arg));
    BOOST_REQUIRE_MESSAGE(err, c.arg);
    BOOST_CHECK(is(err, runtime_errc::invalid_config));
    auto msg = render(err);
    BOOST_CHECK_MESSAGE(msg.find(std::string{"--set '"} + c.arg + "'") != std::string::npos, msg);
    BOOST_CHECK_MESSAGE(msg.find(c.needle) != std::string::npos, msg);
    // Nothing of a refused override is applied.
    BOOST_CHECK_EQUAL(cfg.scheduler.threads, 2u);
  }
}

BOOST_AUTO_TEST_CASE(dedicated_flags_are_validated_and_named) {
  config_sources src;
  src.overrides.push_back({"--http", "http.listen", "127.0.0.1:http", true});
  auto cfg = load_config(src);
  BOOST_REQUIRE(!cfg);
  auto msg = render(cfg.error());
  BOOST_CHECK_MESSAGE(msg.find("--http") != std::string::npos, msg);
  BOOST_CHECK_MESSAGE(msg.find("http.listen") != std::string::npos, msg);

  src.overrides = {{"--data-dir", "node.data_dir", "", true}};
  cfg = load_config(src);
  BOOST_REQUIRE(!cfg);
  BOOST_CHECK_MESSAGE(render(cfg.error()).find("--data-dir") != std::string::npos,
                      render(cfg.error()));
}

BOOST_AUTO_TEST_CASE(bad_file_names_the_file_and_key) {
  syncline::test::temp_dir dir{"config"};
  auto file = dir / "node.toml";
  write_file(file, "[node]\ndata_dir = \"/x\"\n\n[storage]\nblock_cache_mb = \"big\"\n");
  auto cfg = load_config({file, {}});
  BOOST_REQUIRE(!cfg);
  auto msg = render(cfg.error());
  BOOST_CHECK_MESSAGE(msg.find(file.string() + ":5:18") != std::string::npos, msg);
  BOOST_CHECK_MESSAGE(msg.find("storage.block_cache_mb") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(missing_or_unreadable_file_is_its_own_error) {
  syncline::test::temp_dir dir{"config"};
  auto cfg = load_config({dir / "absent.toml", {}});
  BOOST_REQUIRE(!cfg);
  BOOST_CHECK(is(cfg.error(), runtime_errc::config_unreadable));
  BOOST_CHECK(render(cfg.error()).find("absent.toml") != std::string::npos);
  cfg = load_config({dir.path(), {}});
  BOOST_REQUIRE(!cfg);
  BOOST_CHECK(is(cfg.error(), runtime_errc::config_unreadable));
}

BOOST_AUTO_TEST_CASE(listen_addresses) {
  auto a = parse_listen_address("0.0.0.0:65535");
  BOOST_REQUIRE(a);
  BOOST_CHECK_EQUAL(a->host, "0.0.0.0");
  BOOST_CHECK_EQUAL(a->port, 65535);
  a = parse_listen_address("[fe80::1]:80");
  BOOST_REQUIRE(a);
  BOOST_CHECK_EQUAL(a->host, "fe80::1");
  BOOST_CHECK_EQUAL(a->to_string(), "[fe80::1]:80");
  for (auto bad : {"", ":80", "1.2.3.4:", "1.2.3.4:-1", "1.2.3.4:+80", "1.2.3.4:080000", "1.2.3:80",
                   "[::1]", "[::1:80", "[1.2.3.4]:80", "example.org:80", "1.2.3.4:80 "}) {
    auto r = parse_listen_address(bad);
    BOOST_CHECK_MESSAGE(!r, "accepted '" << bad << "'");
    if (!r) BOOST_CHECK(is(r.error(), runtime_errc::invalid_config));
  }
}

namespace {

const char* two_datasources = R"([[volume]]
id = "backup"
path = "/srv/backup"
syncAmountReception = 3

[[datasource]]
id = "photos"
path = "/home/me/photos"
sync_type = "arch"
volumes = ["backup"]
sync_priority = -2
exclude = ["**/.cache/**"]
priority_rules = [{glob = "*.raw", priority = 9}]

[[datasource]]
id = "load"
type = "synthetic"
count = 500
change_rate = 0.5
volumes = ["backup"]
)";

}  // namespace

BOOST_AUTO_TEST_CASE(volumes_and_datasources_are_read) {
  auto cfg = parse_config(two_datasources, "node.toml");
  if (!cfg) BOOST_FAIL(render(cfg.error()));
  BOOST_REQUIRE_EQUAL(cfg->volumes.size(), 1u);
  BOOST_CHECK_EQUAL(cfg->volumes[0].sync_amount_reception, 3u);
  BOOST_REQUIRE_EQUAL(cfg->datasources.size(), 2u);
  auto& p = cfg->datasources[0];
  BOOST_CHECK(p.sync == syncline::actors::sync_type::arch);
  BOOST_CHECK_EQUAL(p.sync_priority, -2);
  BOOST_REQUIRE_EQUAL(p.priority_rules.size(), 1u);
  BOOST_CHECK_EQUAL(p.priority_rules[0].priority, 9);
  BOOST_CHECK_EQUAL(cfg->datasources[1].count, 500u);
  BOOST_CHECK_EQUAL(cfg->datasources[1].change_rate, 0.5);
}

BOOST_AUTO_TEST_CASE(datasource_errors_name_the_key_and_position) {
  struct bad_case {
    std::string text;
    std::string expect;
  };
  std::vector<bad_case> cases{
      {"[[volume]]\nid = \"v\"\npath = \"/x\"\n[[datasource]]\nid = \"d\"\npath = \"/y\"\n"
       "volumes = [\"w\"]\n",
       "node.toml:4:1: datasource 'd': volumes: no volume 'w' is defined"},
      {"[[datasource]]\nid = \"d\"\nsync_type = \"mirror\"\n",
       "node.toml:3:13: datasource.sync_type: must be one of auto, one, arch"},
      {"[[volume]]\npath = \"/x\"\n", "node.toml:1:1: volume: missing key 'id'"},
      {"[[volume]]\nid = \"v\"\npth = \"/x\"\n", "node.toml:3:1: unknown key 'volume.pth'"},
      {"[[volume]]\nid = \"a b\"\n", "node.toml:2:6: volume.id: may only contain"},
      {"[[volume]]\nid = \"v\"\n", "volume 'v': a directory volume needs a path"},
      {"[[volume]]\nid = \"v\"\npath = \"/x\"\n[[volume]]\nid = \"v\"\npath = \"/y\"\n",
       "node.toml:4:1: volume 'v': another volume has this id"},
      {"[[volume]]\nid = \"v\"\npath = \"/x\"\n[[datasource]]\nid = \"d\"\npath = \"/y\"\n"
       "volumes = [\"v\"]\nexclude = [\"[oops\"]\n",
       "node.toml:8:11: datasource.exclude: bad_config"},
      {"[[volume]]\nid = \"v\"\npath = \"/x\"\nsyncAmountReception = 0\n",
       "node.toml:4:23: volume.syncAmountReception: must be between 1 and 1024"},
      {"volume = 3\n", "node.toml:1:10: volume: expected [[volume]] tables"},
  };
  for (auto& c : cases) {
    auto cfg = parse_config(c.text, "node.toml");
    BOOST_REQUIRE_MESSAGE(!cfg, c.text);
    auto text = render(cfg.error());
    BOOST_CHECK_MESSAGE(text.find(c.expect) != std::string::npos,
                        "expected '" << c.expect << "' in: " << text);
  }
}

BOOST_AUTO_TEST_CASE(datasource_fields_can_be_overridden_by_id) {
  auto cfg = parse_config(two_datasources, "node.toml");
  BOOST_REQUIRE(cfg);
  auto o = parse_set_argument("datasource.photos.sync_type=auto");
  BOOST_REQUIRE(o);
  BOOST_REQUIRE(!apply_override(*cfg, *o));
  BOOST_CHECK(cfg->datasources[0].sync == syncline::actors::sync_type::auto_);
  auto bad = parse_set_argument("datasource.photos.volumes=[\"nowhere\"]");
  BOOST_REQUIRE(bad);
  auto err = apply_override(*cfg, *bad);
  BOOST_REQUIRE(err);
  BOOST_CHECK_NE(render(err).find("no volume 'nowhere'"), std::string::npos);
  BOOST_CHECK_EQUAL(cfg->datasources[0].volumes.at(0), "backup");  // unchanged
  auto unknown = parse_set_argument("datasource.nobody.path=/x");
  BOOST_REQUIRE(unknown);
  auto err2 = apply_override(*cfg, *unknown);
  BOOST_REQUIRE(err2);
  BOOST_CHECK_NE(render(err2).find("no datasource 'nobody'"), std::string::npos);
  auto vol = parse_set_argument("volume.backup.syncAmountReception=9");
  BOOST_REQUIRE(vol);
  BOOST_REQUIRE(!apply_override(*cfg, *vol));
  BOOST_CHECK_EQUAL(cfg->volumes[0].sync_amount_reception, 9u);
}

BOOST_AUTO_TEST_CASE(targets_are_read_checked_and_set_for_api_datasources) {
  auto cfg = parse_config(std::string{two_datasources} +
                              "target = \"generated\"\n"
                              "[[volume]]\nid = \"other\"\npath = \"/srv/other\"\n",
                          "node.toml");
  if (!cfg) BOOST_FAIL(render(cfg.error()));
  BOOST_CHECK(!cfg->datasources[0].target);  // photos: the default, its id
  BOOST_CHECK(cfg->datasources[1].target == std::optional<std::string>{"generated"});
  // Per volume.
  auto per_volume = parse_config(
      "[[volume]]\nid = \"v\"\npath = \"/x\"\n[[volume]]\nid = \"w\"\npath = \"/z\"\n"
      "[[datasource]]\nid = \"d\"\npath = \"/y\"\nvolumes = [\"v\", \"w\"]\n"
      "targets = { w = \"deep/dir\" }\n",
      "node.toml");
  if (!per_volume) BOOST_FAIL(render(per_volume.error()));
  BOOST_CHECK_EQUAL(per_volume->datasources[0].targets.at("w"), "deep/dir");
  struct bad_case {
    std::string text;
    std::string expect;
  };
  const std::string vol = "[[volume]]\nid = \"v\"\npath = \"/x\"\n";
  std::vector<bad_case> cases{
      {vol + "[[datasource]]\nid = \"d\"\npath = \"/y\"\nvolumes = [\"v\"]\ntarget = \"../up\"\n",
       "datasource 'd': target '../up'"},
      {vol + "[[datasource]]\nid = \"d\"\npath = \"/y\"\nvolumes = [\"v\"]\ntarget = \"/abs\"\n",
       "datasource 'd': target '/abs'"},
      {vol + "[[datasource]]\nid = \"d\"\npath = \"/y\"\nvolumes = [\"v\"]\n"
             "targets = { w = \"x\" }\n",
       "targets: 'w' is not one of its volumes"},
      {vol + "[[datasource]]\nid = \"d\"\npath = \"/y\"\nvolumes = [\"v\"]\ntarget = \"\"\n"
             "[[datasource]]\nid = \"e\"\npath = \"/z\"\nvolumes = [\"v\"]\n",
       "datasources 'd' and 'e' both write into volume 'v'"},
      {vol + "[[datasource]]\nid = \"d\"\npath = \"/y\"\nvolumes = [\"v\"]\ntarget = \"e/sub\"\n"
             "[[datasource]]\nid = \"e\"\npath = \"/z\"\nvolumes = [\"v\"]\n",
       "datasources 'd' and 'e' both write into volume 'v'"},
  };
  for (auto& c : cases) {
    auto bad = parse_config(c.text, "node.toml");
    BOOST_REQUIRE_MESSAGE(!bad, c.text);
    auto text = render(bad.error());
    BOOST_CHECK_MESSAGE(text.find(c.expect) != std::string::npos,
                        "expected '" << c.expect << "' in: " << text);
  }
  // A datasource the configuration lacks (one made through the API) may get a target from the
  // command line, and nothing else.
  auto o = parse_set_argument("datasource.made-by-api.target=kept/here");
  BOOST_REQUIRE(o);
  BOOST_REQUIRE(!apply_override(*cfg, *o));
  BOOST_CHECK(cfg->target_overrides.at("made-by-api").target ==
              std::optional<std::string>{"kept/here"});
  auto escape = parse_set_argument("datasource.made-by-api.target=../../etc");
  BOOST_REQUIRE(escape);
  BOOST_CHECK(apply_override(*cfg, *escape));
  BOOST_CHECK(cfg->target_overrides.at("made-by-api").target ==
              std::optional<std::string>{"kept/here"});
  auto other_key = parse_set_argument("datasource.made-by-api.path=/x");
  BOOST_REQUIRE(other_key);
  BOOST_CHECK(apply_override(*cfg, *other_key));
}

// The file reads [[datasource]] through the one schema (actors/datasource_schema.hpp): the
// API's limits hold here too, and a relative path is taken from the working directory.
BOOST_AUTO_TEST_CASE(datasources_follow_the_one_schema) {
  auto head = std::string{"[[volume]]\nid = \"v\"\npath = \"/x\"\n[[datasource]]\nid = \"d\"\n"
                          "volumes = [\"v\"]\n"};
  auto cfg = parse_config(head + "path = \"rel/dir\"\ncontainer = \"caf\xC3\xA9\"\n", "n.toml");
  if (!cfg) BOOST_FAIL(render(cfg.error()));
  BOOST_CHECK_EQUAL(cfg->datasources[0].path, (std::filesystem::current_path() / "rel/dir").string());
  BOOST_CHECK_EQUAL(cfg->datasources[0].container, "caf\xC3\xA9");
  for (auto [text, says] : std::vector<std::pair<std::string, std::string>>{
           {"path = \"/y\"\ntype = \"synthetic\"\ncount = 100000001\n", "datasource.count: must be between 0 and 100000000"},
           {"path = \"/y\"\nsync_priority = 2147483648\n", "datasource.sync_priority"},
           {"path = \"/y\"\nname = \"" + std::string(257, 'n') + "\"\n", "datasource.name"},
           {"path = \"/y/../z\"\n", "datasource.path: may not hold '..'"},
           {"path = \"/y\"\nschedule = { min_s = 50, max_s = 40 }\n", "schedule_min_s is more than"},
           {"path = \"/y\"\ncolour = \"red\"\n", "unknown key 'datasource.colour'"}}) {
    auto bad = parse_config(head + text, "n.toml");
    BOOST_REQUIRE_MESSAGE(!bad, text);
    BOOST_CHECK_MESSAGE(render(bad.error()).find(says) != std::string::npos, render(bad.error()));
  }
  auto sched = parse_config(head + "path = \"/y\"\nschedule = { min_s = 5, max_s = 9 }\n", "n.toml");
  BOOST_REQUIRE(sched);
  BOOST_CHECK_EQUAL(sched->datasources[0].schedule_max_s, 9);
}

// The browser rules' lists: normalised (lower case, no trailing slash), and a value that is
// not a host or an origin is refused naming the key.
BOOST_AUTO_TEST_CASE(allowed_hosts_and_origins_are_read_and_checked) {
  auto cfg = parse_config(
      "[http]\nallowed_hosts = [\"Sync.Example.org\", \"box:8460\", \"[::1]:9\"]\n"
      "allowed_origins = [\"HTTPS://App.Example.org/\", \"http://127.0.0.1:3000\"]\n",
      "cfg.toml");
  BOOST_REQUIRE_MESSAGE(cfg, why(cfg));
  BOOST_CHECK((cfg->http.allowed_hosts ==
               std::vector<std::string>{"sync.example.org", "box:8460", "[::1]:9"}));
  BOOST_CHECK((cfg->http.allowed_origins ==
               std::vector<std::string>{"https://app.example.org", "http://127.0.0.1:3000"}));
  check_refused("[http]\nallowed_hosts = [\"http://x\"]\n", {"http.allowed_hosts", "without scheme"});
  check_refused("[http]\nallowed_hosts = [\"a b\"]\n", {"http.allowed_hosts"});
  check_refused("[http]\nallowed_origins = [\"app.example.org\"]\n",
                {"http.allowed_origins", "http:// or https://"});
  check_refused("[http]\nallowed_origins = [\"https://x/path\"]\n",
                {"http.allowed_origins", "without a path"});
}
