// tests/storage/child_process.hpp: a helper program run as a child, its stdout read by lines.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

namespace syncline::test {

/// The path of a helper program given to a test after `--` on its command line (CMake passes
/// `$<TARGET_FILE:...>` there), else `$SYNCLINE_BUILD_DIR/<relative>`.
inline std::string helper_path(const std::string& relative) {
  auto& suite = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i < suite.argc; ++i) {
    std::string arg = suite.argv[i];
    if (arg.size() >= relative.size() &&
        arg.compare(arg.size() - relative.size(), relative.size(), relative) == 0)
      return arg;
  }
  const char* build = std::getenv("SYNCLINE_BUILD_DIR");
  BOOST_REQUIRE_MESSAGE(build != nullptr, "cannot find " << relative
                                                         << ": pass its path after -- or set "
                                                            "SYNCLINE_BUILD_DIR");
  return std::string{build} + "/" + relative;
}

/// A child process started with fork/exec. Its stdout is a pipe read by `read_line`; its stderr
/// is the test's. The child is killed (SIGKILL) and reaped when this object dies, and also when
/// the test process dies (PR_SET_PDEATHSIG), so no helper outlives a test.
class child_process {
 public:
  explicit child_process(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    auto parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec: the parent has threads.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      ::dup2(fds[1], STDOUT_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~child_process() {
    kill();
    if (out_ >= 0) ::close(out_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  /// The next line the child wrote (without its newline), or nothing once its stdout is closed
  /// and drained. `limit` only bounds a hang: reaching it fails the test.
  std::optional<std::string> read_line(std::chrono::milliseconds limit = std::chrono::seconds{60}) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        auto line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      if (eof_) {
        if (buffer_.empty()) return std::nullopt;
        auto line = std::move(buffer_);
        buffer_.clear();
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      BOOST_REQUIRE_MESSAGE(left.count() > 0, "child " << pid_ << " wrote no line within "
                                                       << limit.count() << " ms");
      pollfd p{out_, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      BOOST_REQUIRE(n >= 0);
      if (n == 0) continue;
      char buf[4096];
      auto got = ::read(out_, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      BOOST_REQUIRE(got >= 0);
      if (got == 0)
        eof_ = true;
      else
        buffer_.append(buf, static_cast<size_t>(got));
    }
  }

  /// Kills the child with SIGKILL (if it still runs) and reaps it. Returns its wait status.
  int kill() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      reap();
    }
    return status_;
  }

  /// Waits for the child to end by itself. Returns its wait status.
  int wait() {
    if (pid_ > 0 && !reaped_) reap();
    return status_;
  }

 private:
  void reap() {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = 0;
  bool reaped_ = false;
  bool eof_ = false;
  std::string buffer_;
};

/// Describes a wait status: "exit 3", "signal 9".
inline std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace syncline::test
