// tools/console.hpp: `syncline console`: a node's actors, datasources, volumes, transfers, queue
// and runs on one terminal screen (80x24 and up, plain ANSI), kept current from the node's
// event stream, with keys that act through the API with the operator's token. `--once` prints
// one snapshot and exits (scripts, no terminal).
#pragma once

#include <string>

namespace syncline::tools {

struct console_options {
  std::string url;
  std::string token_file;
  bool once = false;
};

/// Runs the console until `q`, Ctrl-C or SIGTERM; an exit code of api_session.hpp's.
int run_console(const console_options& o);

}  // namespace syncline::tools
