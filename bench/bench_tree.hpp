// bench/bench_tree.hpp: ANCHORS.md's benchmark tree, generated the same for every benchmark that
// copies files (sync_bench, multisite_bench): 50,000 files of 1-8 KiB random bytes over 512
// directories three deep (d0/e0/f0 ... d7/e7/f7) and 20 files of 16 MiB in big/.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace syncline::bench {

namespace fs = std::filesystem;

// A benchmark whose tree cannot be written measures nothing: stop loudly.
[[noreturn]] inline void tree_failed(const std::string& what) {
  std::fprintf(stderr, "bench: FAILED: %s\n", what.c_str());
  std::exit(1);
}

struct tree_shape {
  size_t files = 50000;
  size_t big = 20;
  size_t big_bytes = size_t{16} << 20;
  size_t min_size = 1024;
  size_t max_size = 8192;
};

// xoshiro256**: fast enough to generate half a gigabyte of random bytes in well under a second.
class fast_rng {
 public:
  explicit fast_rng(uint64_t seed) {
    for (auto& w : s_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      w = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  void fill(char* p, size_t n) {
    for (size_t i = 0; i < n; i += 8) {
      uint64_t w = next();
      std::memcpy(p + i, &w, std::min<size_t>(8, n - i));
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

inline void write_bytes(const fs::path& p, const char* data, size_t n) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) tree_failed("create " + p.string() + ": " + std::strerror(errno));
  while (n > 0) {
    auto w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      tree_failed("write " + p.string() + ": " + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  ::close(fd);
}

// A generated tree and the small files it holds now (they change between re-syncs).
struct tree {
  fs::path root;
  std::vector<std::string> leaves;  // leaf directories, relative
  std::vector<std::string> small;   // small files, relative
  size_t added = 0;                 // names of added files are numbered on
};

inline std::string leaf_name(size_t i) {
  return "d" + std::to_string(i / 64) + "/e" + std::to_string(i / 8 % 8) + "/f" +
         std::to_string(i % 8);
}

inline void write_small(tree& t, fast_rng& rng, const std::string& rel, const tree_shape& shape) {
  static thread_local std::vector<char> buf;
  auto size = shape.min_size + rng.below(shape.max_size - shape.min_size + 1);
  buf.resize(size);
  rng.fill(buf.data(), size);
  write_bytes(t.root / rel, buf.data(), size);
}

// The same seed gives the same names and bytes: every repetition copies an identical tree.
inline tree make_tree(const fs::path& root, const tree_shape& shape, uint64_t seed,
               const fs::path* big_from = nullptr) {
  tree t;
  t.root = root;
  fast_rng rng{seed};
  for (size_t i = 0; i < 512; ++i) {
    t.leaves.push_back(leaf_name(i));
    fs::create_directories(root / t.leaves.back());
  }
  for (size_t i = 0; i < shape.files; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/file%06zu.bin", i);
    t.small.push_back(t.leaves[i % t.leaves.size()] + name);
    write_small(t, rng, t.small.back(), shape);
  }
  fs::create_directories(root / "big");
  std::vector<char> buf(shape.big_bytes);
  for (size_t i = 0; i < shape.big; ++i) {
    auto rel = "big/big" + std::to_string(i) + ".bin";
    if (big_from != nullptr) {
      fs::create_hard_link(*big_from / rel, root / rel);
    } else {
      rng.fill(buf.data(), buf.size());
      write_bytes(root / rel, buf.data(), buf.size());
    }
  }
  return t;
}

}  // namespace syncline::bench
