// tools/syncline.cpp: the `syncline` command: `syncline node` runs a node until SIGINT/SIGTERM;
// the other verbs (console, status, pause, resume, sync, users, tokens, login) talk to a running
// node over its API with the operator's token (docs/console.md).
#include <functional>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "runtime/node_config.hpp"
#include "runtime/error.hpp"
#include "runtime/logging.hpp"
#include "runtime/node.hpp"
#include "runtime/version.hpp"
#include "tools/admin_verbs.hpp"
#include "tools/api_session.hpp"
#include "tools/console.hpp"

namespace {

using namespace syncline;

// Exit codes of `node`: 0 stopped cleanly, 1 the node failed, 2 bad command line or
// configuration. The other verbs: tools/api_session.hpp's exit_code.
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

// The verbs that talk to a node, and what they were given.
struct client_verbs {
  tools::verb_context ctx;
  bool once = false;
  std::string kind, id, user, cls = "user", password_file, expires;
  std::function<int()> run;
};

// --url, --token-file and --json of a verb that talks to a node.
void client_options(CLI::App* cmd, client_verbs& v, bool json = true) {
  cmd->add_option("--url", v.ctx.url, "the node (default $SYNCLINE_URL, else http://127.0.0.1:8460)")
      ->type_name("URL");
  cmd->add_option("--token-file", v.ctx.token_file,
                  "file whose first line is the token (default $SYNCLINE_TOKEN, else " +
                      tools::default_token_file().string() + ", which `syncline login` writes)")
      ->type_name("FILE");
  if (json) cmd->add_flag("--json", v.ctx.json, "print the node's JSON answer");
}

void add_client_verbs(CLI::App& app, client_verbs& v) {
  const char* codes =
      "Exit codes: 0 done, 1 the node answered an error, 2 bad command line, 3 the node did not "
      "answer, 4 refused (401/403: no token, a token refused, a class too low), 5 not found, 6 "
      "conflict (409: e.g. a paused datasource asked to sync).";
  auto* console = app.add_subcommand(
      "console", "a node's actors, datasources, volumes, transfers and queue, live, with keys to act");
  client_options(console, v, false);
  console->add_flag("--once", v.once, "print one text snapshot and exit (for scripts)");
  console->footer(std::string{"Keys: j/k or arrows select, p pause, r resume, s sync now, c "
                              "confirm held removals, +/- priority, i push an item again, u "
                              "refresh, q quit.\n"} + codes);
  console->callback([&v] { v.run = [&v] { return tools::run_console({v.ctx.url, v.ctx.token_file, v.once}); }; });

  auto* status = app.add_subcommand("status", "the node's datasources, volumes, queue and actors");
  client_options(status, v);
  status->footer(codes);
  status->callback([&v] { v.run = [&v] { return tools::verb_status(v.ctx); }; });

  for (bool pause : {true, false}) {
    auto* cmd = app.add_subcommand(pause ? "pause" : "resume",
                                   pause ? "pause the node, a volume, a datasource or a transfer"
                                         : "resume the node, a volume, a datasource or a transfer");
    client_options(cmd, v);
    cmd->add_option("what", v.kind, "node | volume | datasource | transfer")->required();
    cmd->add_option("id", v.id, "the volume's or datasource's id, a transfer's VOLUME/N");
    cmd->footer(codes);
    cmd->callback([&v, pause] { v.run = [&v, pause] { return tools::verb_pause(v.ctx, pause, v.kind, v.id); }; });
  }

  auto* sync = app.add_subcommand("sync", "start a run now: of a datasource, of every datasource "
                                          "of a volume, or of every datasource (node)");
  client_options(sync, v);
  sync->add_option("what", v.kind, "node | volume | datasource")->required();
  sync->add_option("id", v.id, "the volume's or datasource's id");
  sync->footer(codes);
  sync->callback([&v] { v.run = [&v] { return tools::verb_sync(v.ctx, v.kind, v.id); }; });

  auto* users = app.add_subcommand("users", "add a user, change a password, delete a user (admins)");
  users->require_subcommand(1);
  auto password_option = [&v](CLI::App* cmd) {
    cmd->add_option("--password-file", v.password_file,
                    "the password is this file's first line (- : standard input; default: asked "
                    "on the terminal)")
        ->type_name("FILE");
  };
  auto* add = users->add_subcommand("add", "create a user with a password");
  client_options(add, v);
  add->add_option("name", v.user, "the user's name (its element is @name)")->required();
  add->add_option("--class", v.cls, "guest | user | editor | admin (default user)")
      ->check(CLI::IsMember({"guest", "user", "editor", "admin"}));
  password_option(add);
  add->footer(codes);
  add->callback([&v] { v.run = [&v] { return tools::verb_user_add(v.ctx, v.user, v.cls, v.password_file); }; });
  auto* passwd = users->add_subcommand("passwd", "set a user's password (revokes its tokens)");
  client_options(passwd, v);
  passwd->add_option("name", v.user, "the user's name")->required();
  password_option(passwd);
  passwd->footer(codes);
  passwd->callback([&v] { v.run = [&v] { return tools::verb_user_passwd(v.ctx, v.user, v.password_file); }; });
  auto* del = users->add_subcommand("del", "delete a user (revokes its tokens)");
  client_options(del, v);
  del->add_option("name", v.user, "the user's name")->required();
  del->footer(codes);
  del->callback([&v] { v.run = [&v] { return tools::verb_user_del(v.ctx, v.user); }; });

  auto* tokens = app.add_subcommand("tokens", "tokens of the signed-in user");
  tokens->require_subcommand(1);
  auto* create = tokens->add_subcommand("create", "print another token (for a script or a scraper)");
  client_options(create, v);
  create->add_option("--expires", v.expires, "lifetime: 90s, 30m, 2h, 1d (default the node's)");
  create->footer(codes);
  create->callback([&v] { v.run = [&v] { return tools::verb_token_create(v.ctx, v.expires); }; });

  auto* login = app.add_subcommand("login", "sign in and keep the token for the other verbs");
  client_options(login, v);
  login->add_option("--user", v.user, "the user's name")->required();
  password_option(login);
  login->add_option("--expires", v.expires, "lifetime: 90s, 30m, 2h, 1d (default the node's)");
  login->footer(codes);
  login->callback([&v] {
    v.run = [&v] { return tools::verb_login(v.ctx, v.user, v.password_file, v.expires); };
  });
}

// The settings table of runtime/node_config.cpp, so `node --help` lists every key with its default
// without a second list to keep in step.
std::string settings_footer() {
  std::ostringstream out;
  out << "Settings (TOML file: [section] key = value; command line: --set section.key=value):\n";
  for (auto& s : runtime::describe_settings())
    out << "  " << std::left << std::setw(26) << s.key << " default " << std::setw(18)
        << s.default_value << " " << s.help << "\n";
  out << "Precedence: defaults < --config file < --set (in order) < --data-dir, --http.\n"
         "An unknown key, a wrong type or an out-of-range value stops the node before it\n"
         "creates or changes anything, and the message names the key and where it was set.";
  return out.str();
}

int run_node(const runtime::config_sources& sources) {
  auto cfg = runtime::load_config(sources);
  if (!cfg) {
    spdlog::error("{}", runtime::render(cfg.error()));
    return exit_usage;
  }
  if (auto err = runtime::run_node(*cfg)) {
    spdlog::error("{}", runtime::render(err));
    return exit_failure;
  }
  return 0;
}

int main_impl(int argc, char** argv) {
  runtime::node_config defaults;
  CLI::App app{"syncline keeps datasources in step with volumes, at one site or many.", "syncline"};
  app.set_version_flag("--version", std::string{"syncline "} + runtime::version(),
                       "print the version and exit");
  app.require_subcommand(1);

  auto* node_cmd =
      app.add_subcommand("node", "run a node (database, actors, HTTP API) until SIGINT or SIGTERM");
  std::string config_file;
  std::string data_dir;
  std::string http;
  std::vector<std::string> sets;
  node_cmd
      ->add_option("--config", config_file,
                   "TOML configuration file (default: none, every setting has its default)")
      ->type_name("FILE");
  node_cmd
      ->add_option("--data-dir", data_dir,
                   "data directory, same as --set node.data_dir=DIR (default " +
                       defaults.node.data_dir.string() + ")")
      ->type_name("DIR");
  node_cmd
      ->add_option("--http", http,
                   "HTTP listen address ADDRESS:PORT, numeric IPv4 or [IPv6], port 0 = any "
                   "free port; same as --set http.listen=ADDR (default " +
                       defaults.http.listen.to_string() + ")")
      ->type_name("ADDR:PORT");
  node_cmd
      ->add_option("--set", sets,
                   "override one setting, section.key=value; the value is read as TOML (4, true, "
                   "\"x\") or else taken as a string; repeatable; keys below")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  node_cmd->footer(settings_footer());
  client_verbs verbs;
  add_client_verbs(app, verbs);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (verbs.run) {
    if (verbs.ctx.url.empty()) verbs.ctx.url = tools::default_url();
    return verbs.run();
  }

  runtime::config_sources sources;
  sources.file = config_file;
  for (auto& s : sets) {
    auto o = runtime::parse_set_argument(s);
    if (!o) {
      spdlog::error("{}", runtime::render(o.error()));
      return exit_usage;
    }
    sources.overrides.push_back(std::move(*o));
  }
  if (node_cmd->count("--data-dir") > 0)
    sources.overrides.push_back({"--data-dir", "node.data_dir", data_dir, true});
  if (node_cmd->count("--http") > 0)
    sources.overrides.push_back({"--http", "http.listen", http, true});
  return run_node(sources);
}

}  // namespace

int main(int argc, char** argv) {
  syncline::runtime::start_console_logging();
  int rc = exit_failure;
  // Nothing may escape main: a stray exception is logged and the exit code says failure.
  try {
    rc = main_impl(argc, argv);
  } catch (const std::exception& e) {
    spdlog::critical("unexpected error: {}", e.what());
  }
  syncline::runtime::stop_logging();
  return rc;
}
