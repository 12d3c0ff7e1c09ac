// bench/bench_support.hpp: the small helpers the benchmark programs share.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace syncline::bench {

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point start) {
  return std::chrono::duration<double>(bench_clock::now() - start).count();
}

/// CPU seconds of the calling thread: other processes on a shared machine inflate wall time,
/// not this.
inline double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// `1234567` -> `1,234,567`.
inline std::string thousands(uint64_t x) {
  auto s = std::to_string(x);
  for (auto i = s.size(); i > 3; i -= 3) s.insert(i - 3, ",");
  return s;
}

}  // namespace syncline::bench
