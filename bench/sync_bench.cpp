// bench/sync_bench.cpp: the `syncline node` binary copying and re-syncing a tree, beside cp and
// rsync doing the same work on the same tree, in one run.
//
// Workload (ANCHORS.md's benchmark tree): a generated tree of 50,000 files of 1-8 KiB random
// bytes spread over 512 directories three deep (d0/e0/f0 ... d7/e7/f7), plus 20 files of 16 MiB
// in big/ (566 MB in all). --tiny: 500 files + 2 x 1 MiB.
//   initial copy     syncline: `syncline node` with a generated TOML config (one folder
//                    datasource, one directory volume, default [runtime] settings but watching
//                    off, so that the re-syncs below time walks), timed from
//                    process start to the log line `run 1 success`, start-up included. Every
//                    copy is durable then (the volume syncfs'es before it records completions).
//                    anchors: `cp -a src dst && sync`; `rsync -a src/ dst/` (not durable).
//                    goals: syncline <= cp -a && sync, and <= 0.7 x rsync
//   re-syncs         the same node keeps running (it is a daemon; a run starts 1 s after the
//                    last one ended). It is stopped (SIGSTOP) between runs while the tree is
//                    changed and rsync runs, and timed from SIGCONT, when its next run is due, to
//                    the log line `run N success`. rsync: `rsync -a --delete src/ dst/` on its own
//                    copy, which holds the same tree state as syncline's. In order:
//                      no change                                  goal: <= 0.5 x rsync
//                      1% of the small files rewritten            goal: <= 0.5 x rsync
//                      0.5% added, then 0.5% deleted, then ANCHORS.md's "mutate" (all three)
//   watched          the node restarted on the same data with `[runtime] watch = true` (schedule
//                    an hour out, watch_delay_ms = 20): a change is made in one burst and the
//                    node is timed from the end of the change to the `success` of the run after
//                    which the copy equals the source; rsync: `rsync -a --delete` of the same
//                    change on its copy. 0.5% of the small files rewritten  goal: <= 0.1 x rsync;
//                    then ANCHORS.md's "mutate".
//   peak memory      the node's VmHWM at `run 1 success` of the initial copy, with the full
//                    tree and with a tree of 10,000 small files (and the same big files, hard
//                    links): it should not grow with the tree.       goal: <= 1.25 x
//
// Every tool writes into a directory of its own that did not exist before (ext4 creates files
// slowly after mass deletions; see ANCHORS.md), each repetition generates its own identical tree,
// and everything is deleted at the end. `sync` runs before every timed step so that no tool pays
// for another's dirty pages. The tools' order rotates between repetitions. After every step the
// copies are compared with the source (kind, size, mode, mtime of everything; bytes of every
// file after the initial copy and of every rewritten or added file after a re-sync): a wrong copy
// stops the program with an error. Timing is informational: it never fails the program.
//
// Usage: sync_bench [--files N] [--big N] [--big-mib M] [--rss-files N] [--runs R] [--tiny]
//                   [--dir DIR] [--syncline PATH] [--keep] [--verbose]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_support.hpp"
#include "bench/bench_tree.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using syncline::bench::bench_clock;
using syncline::bench::seconds_since;

// A wrong copy or a tool that fails makes the figures meaningless: stop loudly.
[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "sync_bench: FAILED: %s\n", what.c_str());
  std::exit(1);
}

// --- the tree (bench/bench_tree.hpp) ------------------------------------------------------------

using syncline::bench::fast_rng;
using syncline::bench::make_tree;
using syncline::bench::tree;
using syncline::bench::tree_shape;
using syncline::bench::write_small;

// The changes between re-syncs. Each returns the files whose bytes changed (checked after).
std::vector<std::string> rewrite_some(tree& t, fast_rng& rng, size_t n, const tree_shape& shape) {
  std::vector<std::string> touched;
  for (size_t k = 0; k < n && k < t.small.size(); ++k) {
    std::swap(t.small[k], t.small[k + rng.below(t.small.size() - k)]);
    write_small(t, rng, t.small[k], shape);
    touched.push_back(t.small[k]);
  }
  return touched;
}

std::vector<std::string> add_some(tree& t, fast_rng& rng, size_t n, const tree_shape& shape) {
  std::vector<std::string> touched;
  for (size_t k = 0; k < n; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "/new%06zu.bin", t.added++);
    auto rel = t.leaves[rng.below(t.leaves.size())] + name;
    write_small(t, rng, rel, shape);
    t.small.push_back(rel);
    touched.push_back(rel);
  }
  return touched;
}

void delete_some(tree& t, fast_rng& rng, size_t n) {
  for (size_t k = 0; k < n && !t.small.empty(); ++k) {
    auto i = rng.below(t.small.size());
    if (::unlink((t.root / t.small[i]).c_str()) != 0) fail("unlink " + t.small[i]);
    t.small[i] = std::move(t.small.back());
    t.small.pop_back();
  }
}

// --- comparing copies -----------------------------------------------------------------------

struct entry {
  char kind = 'f';
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0;
  friend bool operator==(const entry& a, const entry& b) {
    return a.kind == b.kind && a.size == b.size && a.mtime_ns == b.mtime_ns && a.mode == b.mode;
  }
};

// Every entry below `root`; nullopt when one vanished while it was read (a copy in flight) and
// `tolerant`, else a failure.
std::optional<std::map<std::string, entry>> read_tree(const fs::path& root, bool tolerant) {
  std::map<std::string, entry> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator{root, ec}; it != fs::recursive_directory_iterator{};
       it.increment(ec)) {
    if (ec) {
      if (tolerant) return std::nullopt;
      fail("reading " + root.string() + ": " + ec.message());
    }
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0) {
      if (tolerant) return std::nullopt;
      fail("lstat " + it->path().string());
    }
    entry e;
    e.kind = S_ISDIR(st.st_mode) ? 'd' : S_ISREG(st.st_mode) ? 'f' : 'o';
    e.size = e.kind == 'f' ? static_cast<uint64_t>(st.st_size) : 0;
    e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    e.mode = st.st_mode & 07777;
    out.emplace(fs::relative(it->path(), root).string(), e);
  }
  if (ec) {
    if (tolerant) return std::nullopt;
    fail("reading " + root.string() + ": " + ec.message());
  }
  return out;
}

std::map<std::string, entry> snapshot(const fs::path& root) { return *read_tree(root, false); }

// Whether `copy` holds what `src` holds (kinds, sizes, modes, mtimes), right now.
bool same_tree(const fs::path& src, const fs::path& copy) {
  auto a = read_tree(src, true);
  auto b = read_tree(copy, true);
  return a && b && *a == *b;
}

std::string read_all(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

// Fails unless `copy` mirrors `src`: the same entries with the same kind, size, mode and mtime
// (directories' too), and the same bytes for `contents` (all files when null).
// rsync does not always restore a directory's mtime after creating files in it (it sets the time,
// then its receiver writes into the directory), so `dir_mtimes` is off for it.
void check_copy(const char* who, const fs::path& src, const fs::path& copy,
                const std::vector<std::string>* contents, bool dir_mtimes = true) {
  auto a = snapshot(src);
  auto b = snapshot(copy);
  for (auto& [rel, e] : a) {
    auto i = b.find(rel);
    if (i == b.end()) fail(std::string{who} + ": missing " + rel);
    auto& f = i->second;
    bool mtime_differs = f.mtime_ns != e.mtime_ns && (dir_mtimes || e.kind != 'd');
    if (f.kind != e.kind || f.size != e.size || f.mode != e.mode || mtime_differs) {
      char what[160];
      std::snprintf(what, sizeof what, "kind %c/%c, size %llu/%llu, mode %o/%o, mtime %lld/%lld",
                    e.kind, f.kind, static_cast<unsigned long long>(e.size),
                    static_cast<unsigned long long>(f.size), e.mode, f.mode,
                    static_cast<long long>(e.mtime_ns), static_cast<long long>(f.mtime_ns));
      fail(std::string{who} + ": " + rel + " differs from the source (" + what + ")");
    }
  }
  for (auto& [rel, e] : b)
    if (a.count(rel) == 0) fail(std::string{who} + ": extra " + rel);
  auto same_bytes = [&](const std::string& rel) {
    if (read_all(src / rel) != read_all(copy / rel))
      fail(std::string{who} + ": the bytes of " + rel + " differ");
  };
  if (contents == nullptr) {
    for (auto& [rel, e] : a)
      if (e.kind == 'f') same_bytes(rel);
  } else {
    for (auto& rel : *contents)
      if (a.count(rel) != 0) same_bytes(rel);
  }
}

// --- processes --------------------------------------------------------------------------------

struct finished {
  double seconds = 0;
  int status = 0;
  struct rusage usage {};
};

class spawn_actions {
 public:
  spawn_actions() { posix_spawn_file_actions_init(&fa_); }
  ~spawn_actions() { posix_spawn_file_actions_destroy(&fa_); }
  spawn_actions(const spawn_actions&) = delete;
  spawn_actions& operator=(const spawn_actions&) = delete;
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

pid_t spawn(const std::vector<std::string>& argv, spawn_actions& actions) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, args[0], actions.get(), nullptr, args.data(), environ);
  if (rc != 0) fail("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

// Runs a command to its end, its output going to `log`; fails if it does not exit with 0.
finished run_command(const std::vector<std::string>& argv, const fs::path& log) {
  spawn_actions actions;
  posix_spawn_file_actions_addopen(actions.get(), 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(actions.get(), 1, 2);
  finished out;
  auto start = bench_clock::now();
  pid_t pid = spawn(argv, actions);
  if (::wait4(pid, &out.status, 0, &out.usage) != pid) fail("wait for " + argv[0]);
  out.seconds = seconds_since(start);
  if (!WIFEXITED(out.status) || WEXITSTATUS(out.status) != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    fail(cmd + " failed; see " + log.string());
  }
  return out;
}

double flush_page_cache() {
  auto start = bench_clock::now();
  ::sync();
  return seconds_since(start);
}

// A running `syncline node`: its log lines, stamped when they arrive.
class node_process {
 public:
  node_process(const std::string& binary, const fs::path& config, const fs::path& log, bool echo)
      : echo_(echo), log_(log, std::ios::app) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe");
    spawn_actions actions;
    posix_spawn_file_actions_adddup2(actions.get(), fds[1], 1);
    posix_spawn_file_actions_adddup2(actions.get(), fds[1], 2);
    started_ = bench_clock::now();
    pid_ = spawn({binary, "node", "--config", config.string()}, actions);
    ::close(fds[1]);
    reader_ = std::thread{[this, fd = fds[0]] { read_loop(fd); }};
  }

  ~node_process() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      ::kill(pid_, SIGCONT);
      reap();
    }
    if (reader_.joinable()) reader_.join();
  }
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  bench_clock::time_point started() const { return started_; }

  // Waits for a line containing `needle` after line `from`; returns its index and arrival time.
  std::pair<size_t, bench_clock::time_point> wait_line(const std::string& needle, size_t from,
                                                       std::chrono::seconds bound) {
    std::unique_lock<std::mutex> lock{mtx_};
    auto deadline = bench_clock::now() + bound;
    for (;;) {
      for (size_t i = from; i < lines_.size(); ++i)
        if (lines_[i].second.find(needle) != std::string::npos) return {i, lines_[i].first};
      from = lines_.size();
      if (closed_) fail("the node exited before logging '" + needle + "'; see " + log_path());
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
          bench_clock::now() >= deadline)
        fail("the node did not log '" + needle + "' in time; see " + log_path());
    }
  }

  size_t line_count() {
    std::lock_guard<std::mutex> guard{mtx_};
    return lines_.size();
  }

  bool has_line_after(const std::string& needle, size_t from) {
    std::lock_guard<std::mutex> guard{mtx_};
    for (size_t i = from; i < lines_.size(); ++i)
      if (lines_[i].second.find(needle) != std::string::npos) return true;
    return false;
  }

  // SIGSTOP, returning once the node is stopped.
  void stop() {
    ::kill(pid_, SIGSTOP);
    int status = 0;
    if (::waitpid(pid_, &status, WUNTRACED) != pid_ || !WIFSTOPPED(status))
      fail("the node did not stop");
  }
  void cont() { ::kill(pid_, SIGCONT); }

  // The node's peak resident memory so far, in KiB.
  uint64_t peak_rss_kib() const {
    std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
    fail("no VmHWM for the node");
  }

  // SIGTERM, and waits for a clean exit.
  finished terminate() {
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    auto out = reap();
    if (!WIFEXITED(out.status) || WEXITSTATUS(out.status) != 0)
      fail("the node did not stop cleanly; see " + log_path());
    return out;
  }

 private:
  std::string log_path() const { return "the node's log"; }

  finished reap() {
    finished out;
    if (::wait4(pid_, &out.status, 0, &out.usage) != pid_) fail("wait for the node");
    reaped_ = true;
    return out;
  }

  void read_loop(int fd) {
    std::string pending;
    char buf[4096];
    for (;;) {
      auto n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      auto now = bench_clock::now();
      pending.append(buf, static_cast<size_t>(n));
      size_t nl;
      std::lock_guard<std::mutex> guard{mtx_};
      while ((nl = pending.find('\n')) != std::string::npos) {
        auto line = pending.substr(0, nl);
        pending.erase(0, nl + 1);
        log_ << line << '\n';
        if (echo_) std::fprintf(stderr, "  node| %s\n", line.c_str());
        lines_.emplace_back(now, std::move(line));
      }
      cv_.notify_all();
    }
    ::close(fd);
    std::lock_guard<std::mutex> guard{mtx_};
    log_.flush();
    closed_ = true;
    cv_.notify_all();
  }

  bool echo_;
  std::ofstream log_;
  pid_t pid_ = 0;
  bool reaped_ = false;
  bench_clock::time_point started_;
  std::thread reader_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::pair<bench_clock::time_point, std::string>> lines_;
  bool closed_ = false;
};

// The watched mode's quiet period: the change is made in one burst, then the watch waits this
// long for quiet before the run (the node's default is 200 ms, for editors that save in steps).
constexpr int watch_delay_ms = 20;

void write_config(const fs::path& file, const fs::path& data, const fs::path& src,
                  const fs::path& dst, uint32_t reception, bool watch = false) {
  std::ofstream out{file};
  // Default [runtime] settings: what a user gets. A run starts 1 s after the previous one ended,
  // so the benchmark can time re-syncs of a running node (it is stopped while it waits).
  out << "[node]\ndata_dir = \"" << data.string() << "\"\n"
      << "[http]\nlisten = \"127.0.0.1:0\"\n"
      << "[[volume]]\nid = \"copy\"\npath = \"" << dst.string() << "\"\n";
  if (reception != 0) out << "syncAmountReception = " << reception << "\n";
  out
      // Alone in its volume, its copies go to the volume's root, where the anchors' go.
      << "[[datasource]]\nid = \"tree\"\ntarget = \"\"\npath = \"" << src.string() << "\"\n"
      << "volumes = [\"copy\"]\nsync_type = \"auto\"\n";
  // Watched: runs start on changes; the schedule, the safety net, is an hour out.
  if (watch)
    out << "schedule_min_s = 3600\nschedule_max_s = 3600\n[runtime]\nwatch = true\n"
        << "watch_delay_ms = " << watch_delay_ms << "\n";
  else  // walked: what the re-syncs time is the run over the whole tree
    out << "schedule_min_s = 1\nschedule_max_s = 1\n[runtime]\nwatch = false\n";
}

// --- figures ----------------------------------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// A figure: syncline's value beside an anchor's, per repetition; lower is better.
struct figure {
  std::string name;
  std::string unit;
  std::string anchor;
  double goal_ratio = 0;  // 0: no goal
  std::vector<double> ours, theirs;
};

void print(const figure& f) {
  std::vector<double> ratios;
  for (size_t i = 0; i < f.ours.size() && i < f.theirs.size(); ++i)
    ratios.push_back(f.theirs[i] > 0 ? f.ours[i] / f.theirs[i] : 0);
  auto ratio = median(ratios);
  char goal[64] = "no goal";
  const char* met = "";
  if (f.goal_ratio > 0) {
    std::snprintf(goal, sizeof goal, "goal <= %.2f", f.goal_ratio);
    met = ratio <= f.goal_ratio ? ", met" : ", missed";
  }
  std::printf("%s: %.3f %s (anchor %s: %.3f %s, ratio %.2f, %s%s)\n", f.name.c_str(),
              median(f.ours), f.unit.c_str(), f.anchor.c_str(), median(f.theirs), f.unit.c_str(),
              ratio, goal, met);
  std::fflush(stdout);
}

void print_context(const char* name, const std::vector<double>& v, const char* unit) {
  std::printf("%s: %.3f %s (context)\n", name, median(v), unit);
  std::fflush(stdout);
}

struct options {
  tree_shape shape;
  size_t rss_files = 10000;
  int runs = 3;
  fs::path base;
  std::string syncline;
  bool keep = false;
  bool verbose = false;
  uint32_t reception = 0;  // the volume's syncAmountReception; 0: the default
};

// The re-sync steps, in order; each changes the tree, then both tools catch up.
struct resync_step {
  const char* name;
  double goal;
  size_t rewrite, add, remove;  // in thousandths of the small files
};

constexpr resync_step resync_steps[] = {
    {"re-sync, no change", 0.5, 0, 0, 0},
    {"re-sync, 1% rewritten", 0.5, 10, 0, 0},
    {"re-sync, 0.5% added", 0, 0, 5, 0},
    {"re-sync, 0.5% deleted", 0, 0, 0, 5},
    {"re-sync, mutate (1% rewritten, 0.5% added, 0.5% deleted)", 0, 10, 5, 5},
};
constexpr size_t step_count = sizeof resync_steps / sizeof resync_steps[0];

// The watched steps, in order, after the re-syncs: the node watches the tree, each change is
// made in one burst, and the node is timed from the end of the change to the `success` of the
// run that leaves the copy equal to the source.
constexpr resync_step watched_steps[] = {
    {"watched, 0.5% rewritten, change to synced", 0.1, 5, 0, 0},
    {"watched, mutate (1% rewritten, 0.5% added, 0.5% deleted), change to synced", 0, 10, 5, 5},
};
constexpr size_t watched_count = sizeof watched_steps / sizeof watched_steps[0];

struct results {
  figure initial_cp{"initial copy, durable, vs cp -a && sync", "s", "cp -a && sync", 1.0, {}, {}};
  figure initial_rsync{"initial copy, durable, vs rsync -a (not durable)", "s", "rsync -a", 0.7,
                       {}, {}};
  std::vector<double> cp_alone, rsync_sync;
  std::vector<figure> resync, watched;
  std::vector<double> peak_full, peak_small, peak_all;
};

// The node restarted on the same data with watching on (its start-up walk first), then the
// watched steps, each beside `rsync -a --delete` of the same change on rsync's copy.
void watched_changes(const options& opt, const fs::path& dir, tree& src, fast_rng& rng,
                     results& res) {
  auto logs = dir / "logs";
  write_config(dir / "node-watch.toml", dir / "data", src.root, dir / "syncline", opt.reception,
               true);
  node_process node{opt.syncline, dir / "node-watch.toml", logs / "node-watch.log", opt.verbose};
  node.wait_line(" success (", 0, std::chrono::seconds{3600});
  for (size_t s = 0; s < watched_count; ++s) {
    auto& step = watched_steps[s];
    flush_page_cache();
    auto from = node.line_count();
    auto n = src.small.size();
    std::vector<std::string> touched = rewrite_some(src, rng, n * step.rewrite / 1000, opt.shape);
    auto added = add_some(src, rng, n * step.add / 1000, opt.shape);
    touched.insert(touched.end(), added.begin(), added.end());
    delete_some(src, rng, n * step.remove / 1000);
    auto changed = bench_clock::now();
    // The change may come to the node as more than one run: the time is that of the first
    // success after which the copy is the source's and no other run had begun.
    double t_s = 0;
    for (size_t after = from;;) {
      auto [line, at] = node.wait_line(" success (", after, std::chrono::seconds{600});
      if (same_tree(src.root, dir / "syncline") && !node.has_line_after(" started (", line + 1)) {
        t_s = std::chrono::duration<double>(at - changed).count();
        break;
      }
      after = line + 1;
    }
    flush_page_cache();
    double t_r = run_command({"rsync", "-a", "--delete", src.root.string() + "/",
                              (dir / "rsync").string() + "/"},
                             logs / "rsync.log")
                     .seconds;
    res.watched[s].ours.push_back(t_s);
    res.watched[s].theirs.push_back(t_r);
    std::fprintf(stderr, "sync_bench: %s: syncline %.3f s, rsync %.3f s\n", step.name, t_s, t_r);
    check_copy("rsync", src.root, dir / "rsync", &touched, false);
    check_copy("syncline (watched)", src.root, dir / "syncline", &touched);
  }
  node.terminate();
}

void one_repetition(const options& opt, int rep, results& res) {
  auto dir = opt.base / ("rep" + std::to_string(rep));
  auto logs = dir / "logs";
  fs::create_directories(logs);
  const uint64_t seed = 20240601;
  std::fprintf(stderr, "sync_bench: repetition %d: generating the tree\n", rep + 1);
  auto gen_start = bench_clock::now();
  auto src = make_tree(dir / "src", opt.shape, seed);
  std::fprintf(stderr, "sync_bench: tree of %zu + %zu files in %.1f s\n", src.small.size(),
               opt.shape.big, seconds_since(gen_start));

  // Initial copies, in an order that rotates between repetitions.
  write_config(dir / "node.toml", dir / "data", src.root, dir / "syncline", opt.reception);
  fs::create_directories(dir / "syncline");
  std::unique_ptr<node_process> node;
  double t_cp = 0, t_cp_sync = 0, t_rsync = 0, t_rsync_sync = 0, t_node = 0;
  auto run_cp = [&] {
    flush_page_cache();
    t_cp = run_command({"cp", "-a", src.root.string(), (dir / "cp").string()}, logs / "cp.log")
               .seconds;
    t_cp_sync = flush_page_cache();
  };
  auto run_rsync = [&] {
    flush_page_cache();
    t_rsync = run_command({"rsync", "-a", src.root.string() + "/", (dir / "rsync").string() + "/"},
                          logs / "rsync.log")
                  .seconds;
    t_rsync_sync = flush_page_cache();
  };
  auto run_node = [&] {
    flush_page_cache();
    node = std::make_unique<node_process>(opt.syncline, dir / "node.toml", logs / "node.log",
                                          opt.verbose);
    auto [line, at] = node->wait_line("run 1 success", 0, std::chrono::seconds{3600});
    (void)line;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});  // see do_node
    node->stop();
    t_node = std::chrono::duration<double>(at - node->started()).count();
    res.peak_full.push_back(static_cast<double>(node->peak_rss_kib()) / 1024.0);
  };
  std::vector<std::function<void()>> order{run_cp, run_rsync, run_node};
  std::rotate(order.begin(), order.begin() + rep % 3, order.end());
  for (auto& f : order) f();
  res.initial_cp.ours.push_back(t_node);
  res.initial_cp.theirs.push_back(t_cp + t_cp_sync);
  res.initial_rsync.ours.push_back(t_node);
  res.initial_rsync.theirs.push_back(t_rsync);
  res.cp_alone.push_back(t_cp);
  res.rsync_sync.push_back(t_rsync + t_rsync_sync);
  std::fprintf(stderr,
               "sync_bench: initial copy: syncline %.3f s, cp -a %.3f s + sync %.3f s, rsync -a "
               "%.3f s (+ sync %.3f s)\n",
               t_node, t_cp, t_cp_sync, t_rsync, t_rsync_sync);
  check_copy("cp -a", src.root, dir / "cp", nullptr);
  check_copy("rsync", src.root, dir / "rsync", nullptr, false);
  check_copy("syncline", src.root, dir / "syncline", nullptr);

  // Re-syncs of the running node, beside rsync --delete on its own copy.
  fast_rng rng{seed + 1};
  auto last_end = bench_clock::now();
  uint64_t run = 1;
  for (size_t s = 0; s < step_count; ++s) {
    auto& step = resync_steps[s];
    auto n = src.small.size();
    std::vector<std::string> touched = rewrite_some(src, rng, n * step.rewrite / 1000, opt.shape);
    auto added = add_some(src, rng, n * step.add / 1000, opt.shape);
    touched.insert(touched.end(), added.begin(), added.end());
    delete_some(src, rng, n * step.remove / 1000);
    double t_r = 0, t_s = 0, t_started = 0;
    auto do_rsync = [&] {
      flush_page_cache();
      t_r = run_command({"rsync", "-a", "--delete", src.root.string() + "/",
                         (dir / "rsync").string() + "/"},
                        logs / "rsync.log")
                .seconds;
    };
    auto do_node = [&] {
      flush_page_cache();
      // The next run is due 1 s after the last one ended: let that time pass while stopped, so
      // that the run starts when the node continues.
      auto due = last_end + std::chrono::milliseconds{1100};
      if (bench_clock::now() < due) std::this_thread::sleep_until(due);
      ++run;
      auto from = node->line_count();
      auto start = bench_clock::now();
      node->cont();
      auto [begun, begun_at] = node->wait_line("run " + std::to_string(run) + " started", from,
                                               std::chrono::seconds{3600});
      auto [line, at] = node->wait_line("run " + std::to_string(run) + " success", begun,
                                        std::chrono::seconds{3600});
      (void)line;
      t_started = std::chrono::duration<double>(begun_at - start).count();
      // The node schedules its next run right after it logs the success: stopped before that,
      // it would schedule it only when continued, a second late. Idle now, it is not timed.
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
      node->stop();
      last_end = at;
      t_s = std::chrono::duration<double>(at - start).count();
      if (node->has_line_after("run " + std::to_string(run + 1) + " started", from))
        fail("the node started another run before it was stopped");
    };
    if ((s + static_cast<size_t>(rep)) % 2 == 0) {
      do_rsync();
      do_node();
    } else {
      do_node();
      do_rsync();
    }
    res.resync[s].ours.push_back(t_s);
    res.resync[s].theirs.push_back(t_r);
    std::fprintf(stderr, "sync_bench: %s: syncline %.3f s (run started after %.3f s), rsync %.3f s\n",
                 step.name, t_s, t_started, t_r);
    check_copy("rsync", src.root, dir / "rsync", &touched, false);
    check_copy("syncline", src.root, dir / "syncline", &touched);
  }
  auto done = node->terminate();
  res.peak_all.push_back(static_cast<double>(done.usage.ru_maxrss) / 1024.0);
  node.reset();
  watched_changes(opt, dir, src, rng, res);

  // Peak memory with a smaller tree of the same shape (the big files are hard links).
  if (rep == 0) {
    auto small_shape = opt.shape;
    small_shape.files = opt.rss_files;
    auto small_dir = dir / "small";
    auto big_from = src.root;
    auto small = make_tree(small_dir / "src", small_shape, seed + 2, &big_from);
    write_config(small_dir / "node.toml", small_dir / "data", small.root, small_dir / "syncline",
                 opt.reception);
    fs::create_directories(small_dir / "syncline");
    flush_page_cache();
    node_process small_node{opt.syncline, small_dir / "node.toml", logs / "node-small.log",
                            opt.verbose};
    small_node.wait_line("run 1 success", 0, std::chrono::seconds{3600});
    small_node.stop();
    res.peak_small.push_back(static_cast<double>(small_node.peak_rss_kib()) / 1024.0);
    small_node.terminate();
    check_copy("syncline (small tree)", small.root, small_dir / "syncline", nullptr);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sync_bench: the syncline node beside cp and rsync, on one generated tree"};
  options opt;
  bool tiny = false;
  std::string base;
#ifdef SYNCLINE_NODE_BINARY
  opt.syncline = SYNCLINE_NODE_BINARY;
#endif
  app.add_option("--files", opt.shape.files, "small files (1-8 KiB)")
      ->check(CLI::Range(size_t{10}, size_t{10000000}));
  app.add_option("--big", opt.shape.big, "big files")->check(CLI::Range(size_t{0}, size_t{1000}));
  size_t big_mib = 16;
  app.add_option("--big-mib", big_mib, "size of each big file, MiB")
      ->check(CLI::Range(size_t{1}, size_t{4096}));
  app.add_option("--rss-files", opt.rss_files, "small files of the second tree (peak memory)")
      ->check(CLI::Range(size_t{10}, size_t{10000000}));
  app.add_option("--runs", opt.runs, "repetitions (medians are printed)")->check(CLI::Range(1, 20));
  app.add_option("--reception", opt.reception,
                 "the volume's syncAmountReception (default: the node's default)")
      ->check(CLI::Range(1u, 1024u));
  app.add_flag("--tiny", tiny, "500 files + 2 x 1 MiB, one repetition, for CI");
  app.add_option("--dir", base, "where to make the trees (default $TMPDIR or /tmp)");
  app.add_option("--syncline", opt.syncline, "the syncline binary");
  app.add_flag("--keep", opt.keep, "keep the trees and logs");
  app.add_flag("--verbose", opt.verbose, "echo the node's log to stderr");
  CLI11_PARSE(app, argc, argv);
  opt.shape.big_bytes = big_mib << 20;
  if (tiny) {
    opt.shape.files = 500;
    opt.shape.big = 2;
    opt.shape.big_bytes = size_t{1} << 20;
    opt.rss_files = 100;
    opt.runs = 1;
  }
  if (opt.syncline.empty() || ::access(opt.syncline.c_str(), X_OK) != 0)
    fail("no syncline binary (--syncline PATH): '" + opt.syncline + "'");
  for (const char* tool : {"cp", "rsync", "sync"}) {
    std::string cmd = std::string{"command -v "} + tool + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) fail(std::string{tool} + " is not installed");
  }
  if (base.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string templ = base + "/sync_bench-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) fail("cannot make a directory in " + base);
  opt.base = templ;

  auto mib = static_cast<double>(opt.shape.files) * static_cast<double>(opt.shape.min_size + opt.shape.max_size) / 2 / (1 << 20) +
             static_cast<double>(opt.shape.big * opt.shape.big_bytes) / (1 << 20);
  std::printf(
      "sync_bench: %zu files of %zu-%zu bytes in 512 directories + %zu x %zu MiB (~%.0f MiB), "
      "%d repetition%s (medians), in %s\n",
      opt.shape.files, opt.shape.min_size, opt.shape.max_size, opt.shape.big,
      opt.shape.big_bytes >> 20, mib, opt.runs, opt.runs == 1 ? "" : "s", opt.base.c_str());
  std::printf(
      "sync_bench: syncline = the `syncline node` binary (%s): initial copy from process start "
      "to `run 1 success`; re-syncs from SIGCONT of the running node, its run due, to `run N "
      "success`\n",
      opt.syncline.c_str());
  std::fflush(stdout);

  results res;
  for (auto& step : resync_steps)
    res.resync.push_back(figure{step.name, "s", "rsync -a --delete", step.goal, {}, {}});
  for (auto& step : watched_steps)
    res.watched.push_back(figure{step.name, "s", "rsync -a --delete", step.goal, {}, {}});
  for (int rep = 0; rep < opt.runs; ++rep) one_repetition(opt, rep, res);

  print(res.initial_cp);
  print(res.initial_rsync);
  print_context("initial copy, cp -a alone", res.cp_alone, "s");
  print_context("initial copy, rsync -a && sync", res.rsync_sync, "s");
  for (auto& f : res.resync) print(f);
  std::printf("(watched: [runtime] watch = true, watch_delay_ms = %d; the node's default quiet "
              "period is 200 ms)\n", watch_delay_ms);
  for (auto& f : res.watched) print(f);
  auto full = median(res.peak_full);
  auto small = median(res.peak_small);
  auto ratio = small > 0 ? full / small : 0;
  std::printf(
      "peak memory, initial copy of %zu files: %.1f MiB (anchor: %zu files: %.1f MiB, ratio "
      "%.2f, goal <= 1.25, %s)\n",
      opt.shape.files + opt.shape.big, full, opt.rss_files + opt.shape.big, small, ratio,
      ratio <= 1.25 ? "met" : "missed");
  print_context("peak memory, the whole sequence", res.peak_all, "MiB");
  if (!opt.keep) {
    std::error_code ec;
    fs::remove_all(opt.base, ec);
  } else {
    std::printf("sync_bench: kept %s\n", opt.base.c_str());
  }
  return 0;
}
