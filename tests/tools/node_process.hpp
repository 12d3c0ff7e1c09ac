// tests/tools/node_process.hpp: a `syncline node` child process on a free loopback port, for the
// end-to-end tests of the installed node and of its service notifications.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/support/child_process.hpp"

namespace syncline::test {

// Bounds only (a sanitized build starts slowly); they never decide an outcome.
constexpr std::chrono::milliseconds node_start_bound = std::chrono::seconds{30};
constexpr std::chrono::milliseconds node_exit_bound = std::chrono::seconds{30};

/// The binary the build made: $SYNCLINE_BUILD_DIR/tools/syncline (ctest sets the variable).
inline std::string built_syncline() {
  const char* dir = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr && *dir != '\0',
                        "SYNCLINE_BUILD_DIR is not set (run the test through ctest)");
  return std::string{dir} + "/tools/syncline";
}

/// `binary node args...`; `port` is read from its log once `wait_listening` returned.
struct node_process {
  std::unique_ptr<child_process> proc;
  uint16_t port = 0;

  node_process(const std::string& binary, std::vector<std::string> args) {
    args.insert(args.begin(), "node");
    proc = std::make_unique<child_process>(binary, std::move(args));
  }

  /// Waits for the `listening on http://127.0.0.1:PORT` line.
  void wait_listening() {
    const std::string prefix = "listening on http://127.0.0.1:";
    auto line = proc->wait_for_line(prefix, node_start_bound);
    BOOST_REQUIRE_MESSAGE(line, "the node never said where it listens; output:\n"
                                    << proc->output());
    port = static_cast<uint16_t>(std::stoul(line->substr(line->find(prefix) + prefix.size())));
    BOOST_REQUIRE_NE(port, 0);
  }

  exit_status wait_exit() {
    auto st = proc->wait_exit(node_exit_bound);
    BOOST_REQUIRE_MESSAGE(st, "the node did not exit; output:\n" << proc->output());
    return *st;
  }
};

}  // namespace syncline::test
