// tests/fuzz/fuzz_check.hpp: what the fuzz targets share. A target is a
// `LLVMFuzzerTestOneInput`; built with SYNCLINE_FUZZ it is a libFuzzer binary, otherwise
// replay_main.cpp runs it over its corpus as an ordinary test.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace syncline::fuzz {

/// A property a target checks: when it does not hold, the input is a finding (abort, so
/// libFuzzer saves it and the replay test fails).
inline void require(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "fuzz property violated: %s\n", what);
  std::abort();
}

inline std::string_view text(const unsigned char* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace syncline::fuzz
