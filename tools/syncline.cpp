// tools/syncline.cpp: the `syncline` command: `syncline node` runs a node until SIGINT/SIGTERM.
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

namespace {

using namespace syncline;

// Exit codes: 0 stopped cleanly, 1 the node failed, 2 bad command line or configuration.
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
