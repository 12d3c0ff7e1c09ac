// tests/support/child_process.hpp: runs a program as a child process and captures its output,
// for end-to-end tests that drive the real binaries.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <thread>
#include <utility>
#include <vector>

namespace syncline::test {

/// How a child ended.
struct exit_status {
  /// The exit code when it exited, -1 when a signal killed it.
  int code = -1;
  /// The signal that killed it, 0 when it exited.
  int signal = 0;

  std::string to_string() const;
};

/// What a child gets besides the test's environment and its stdout and stderr.
struct child_options {
  /// The directory it starts in; empty: the test's.
  std::filesystem::path cwd;
  /// Descriptors it inherits: {its number in the child, a descriptor of this process}, e.g.
  /// {3, pipe_end}. This process keeps its own and closes them when it no longer needs them.
  std::vector<std::pair<int, int>> fds;
  /// Environment variables set in the child (over the test's own of the same name).
  std::vector<std::pair<std::string, std::string>> env;
  /// The child leads a process group of its own, and the destructor kills the whole group: for a
  /// program that starts helpers of its own (a browser), so none outlives the test.
  bool own_group = false;
};

/// A child process whose stdout and stderr go, merged, into a buffer that a reader thread fills.
/// Waits are bounded: a bound only limits how long a failing test hangs, it never decides an
/// outcome. The destructor kills (SIGKILL) and reaps a child still running. The child also dies
/// if the test process dies (PR_SET_PDEATHSIG). Not thread-safe except where noted.
class child_process {
 public:
  /// Starts `program` with `args` (argv[1]...), in `cwd` when not empty, with the test's
  /// environment. Throws std::runtime_error when the process cannot be created; a program that
  /// cannot be executed exits with code 127 and says why in its output.
  child_process(std::string program, std::vector<std::string> args, std::filesystem::path cwd = {});
  /// The same, with `options`. Throws std::invalid_argument for a descriptor number below 3.
  child_process(std::string program, std::vector<std::string> args, child_options options);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// Everything the child wrote so far. Thread-safe.
  std::string output() const;

  /// Waits until the output holds a line containing `needle` and returns that line (without
  /// the newline); nullopt when the child closed its output first or `bound` passed.
  std::optional<std::string> wait_for_line(std::string_view needle,
                                           std::chrono::milliseconds bound);

  /// Sends `sig` to the child (nothing once it has been reaped).
  void send_signal(int sig);
  /// Sends `sig` to the child's process group (`own_group` only; the group may outlive a
  /// reaped child).
  void signal_group(int sig);

  /// Waits until the child has exited and closed its output, and reaps it; nullopt when
  /// `bound` passed first (the child is left running; the destructor kills it).
  std::optional<exit_status> wait_exit(std::chrono::milliseconds bound);

 private:
  void read_loop(int fd);

  pid_t pid_ = -1;
  bool own_group_ = false;
  bool reaped_ = false;
  std::thread reader_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::string output_;
  bool eof_ = false;
};

}  // namespace syncline::test
