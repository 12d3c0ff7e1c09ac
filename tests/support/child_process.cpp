#include "tests/support/child_process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <stdexcept>
#include <string_view>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace syncline::test {

std::string exit_status::to_string() const {
  if (signal != 0) return "killed by signal " + std::to_string(signal);
  return "exit code " + std::to_string(code);
}

child_process::child_process(std::string program, std::vector<std::string> args,
                             std::filesystem::path cwd)
    : child_process(std::move(program), std::move(args), child_options{std::move(cwd), {}, {}, false}) {}

child_process::child_process(std::string program, std::vector<std::string> args,
                             child_options options)
    : own_group_(options.own_group) {
  int highest = 2;
  for (auto& m : options.fds) {
    if (m.first < 3 || m.second < 0) throw std::invalid_argument("child_process: bad descriptor mapping");
    highest = std::max(highest, m.first);
  }
  auto fds_wanted = options.fds;
  bool group = options.own_group;
  // Everything the child needs is prepared before fork: after it, in a process with threads,
  // the child may only make async-signal-safe calls.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(program);
  for (auto& a : args) argv_storage.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string dir = options.cwd.string();
  // The environment: the test's, with `options.env` over it.
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry{*e};
    auto name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (auto& [k, v] : options.env) replaced |= k == name;
    if (!replaced) env_storage.emplace_back(entry);
  }
  for (auto& [k, v] : options.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exec_failed = "child_process: cannot execute " + program + "\n";

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string{"pipe2: "} + std::strerror(errno));
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(std::string{"fork: "} + std::strerror(err));
  }
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    if (group) ::setpgid(0, 0);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    // In two steps, so that a source numbered like another's target is not overwritten first:
    // copies above every target (closed on exec), then each to its number (dup2 leaves the
    // copy open across exec).
    for (auto& m : fds_wanted) {
      m.second = ::fcntl(m.second, F_DUPFD_CLOEXEC, highest + 1);
      if (m.second < 0) ::_exit(127);
    }
    for (auto& m : fds_wanted)
      if (::dup2(m.second, m.first) < 0) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(127);
    ::execve(argv[0], argv.data(), envp.data());
    auto n = ::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    (void)n;
    ::_exit(127);
  }
  // Also here: the group exists before anything is sent to it, whichever process runs first.
  if (group) ::setpgid(pid_, pid_);
  ::close(fds[1]);
  int fd = fds[0];
  reader_ = std::thread([this, fd] { read_loop(fd); });
}

child_process::~child_process() {
  if (own_group_ && pid_ > 0) ::kill(-pid_, SIGKILL);
  if (!reaped_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (reader_.joinable()) reader_.join();
}

void child_process::read_loop(int fd) {
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::lock_guard<std::mutex> lock{mu_};
    output_.append(buf, static_cast<size_t>(n));
    changed_.notify_all();
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock{mu_};
  eof_ = true;
  changed_.notify_all();
}

std::string child_process::output() const {
  std::lock_guard<std::mutex> lock{mu_};
  return output_;
}

std::optional<std::string> child_process::wait_for_line(std::string_view needle,
                                                        std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  std::unique_lock<std::mutex> lock{mu_};
  for (;;) {
    auto at = output_.find(needle);
    if (at != std::string::npos) {
      auto begin = output_.rfind('\n', at);
      begin = begin == std::string::npos ? 0 : begin + 1;
      auto end = output_.find('\n', at);
      if (end != std::string::npos || eof_)
        return output_.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    }
    if (eof_) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return std::nullopt;
  }
}

void child_process::send_signal(int sig) {
  if (!reaped_ && pid_ > 0) ::kill(pid_, sig);
}

void child_process::signal_group(int sig) {
  if (own_group_ && pid_ > 0) ::kill(-pid_, sig);
}

std::optional<exit_status> child_process::wait_exit(std::chrono::milliseconds bound) {
  if (reaped_) throw std::logic_error("child_process: already reaped");
  // The end of the output is the event to wait for: the child's descriptors close when it
  // exits, and waitpid then returns at once.
  {
    std::unique_lock<std::mutex> lock{mu_};
    if (!changed_.wait_for(lock, bound, [this] { return eof_; })) return std::nullopt;
  }
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r != pid_) throw std::runtime_error(std::string{"waitpid: "} + std::strerror(errno));
  reaped_ = true;
  exit_status out;
  if (WIFEXITED(status)) out.code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  return out;
}

}  // namespace syncline::test
