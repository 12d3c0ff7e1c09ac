// bench/bench_e2e.hpp: what the benchmarks that drive real processes share (multisite_bench,
// http_bench): failing loudly, a free loopback port, a value from a JSON answer, and checking a
// copied tree byte for byte.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace syncline::bench {

/// The program's name in failure messages; set it first thing in main.
inline const char*& program_name() {
  static const char* name = "bench";
  return name;
}

/// Prints `<program>: FAILED: what` and exits 1: a wrong copy or a tool that did not run.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "%s: FAILED: %s\n", program_name(), what.c_str());
  std::exit(1);
}

/// Where the executable `tool` is: a directory of $PATH, else /usr/sbin or /sbin (nginx lives
/// there and root's PATH may lack it); "" when it is nowhere.
inline std::string tool_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::string dirs = std::string{path != nullptr ? path : "/usr/bin"} + ":/usr/sbin:/sbin";
  size_t at = 0;
  while (at <= dirs.size()) {
    auto end = dirs.find(':', at);
    auto dir = dirs.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0) return dir + "/" + tool;
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return {};
}

/// The value of `"key":` in a flat JSON text (a string's without quotes), or empty.
inline std::string json_value(const std::string& body, const std::string& key) {
  auto at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return {};
  at += key.size() + 3;
  if (at < body.size() && body[at] == '"') {
    auto end = body.find('"', at + 1);
    return body.substr(at + 1, end - at - 1);
  }
  auto end = body.find_first_of(",}", at);
  return body.substr(at, end - at);
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    fail("no free port");
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Every regular file below `src` is in `copy` with the same bytes, and `copy` holds no other;
/// the number of files. Fails the program otherwise.
inline size_t compare_trees(const std::filesystem::path& src, const std::filesystem::path& copy) {
  namespace fs = std::filesystem;
  size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator{src}) {
    if (!e.is_regular_file()) continue;
    auto rel = fs::relative(e.path(), src);
    std::ifstream a{e.path(), std::ios::binary}, b{copy / rel, std::ios::binary};
    if (!b) fail("missing in the copy " + copy.string() + ": " + rel.string());
    std::string x{std::istreambuf_iterator<char>{a}, {}}, y{std::istreambuf_iterator<char>{b}, {}};
    if (x != y) fail("different bytes in the copy " + copy.string() + ": " + rel.string());
    ++n;
  }
  size_t m = 0;
  for (auto& e : fs::recursive_directory_iterator{copy})
    if (e.is_regular_file()) ++m;
  if (m != n)
    fail("the copy " + copy.string() + " has " + std::to_string(m) + " files, the source " + std::to_string(n));
  return n;
}

}  // namespace syncline::bench
