// tests/temp_dir.hpp: a fresh directory per test, removed afterwards.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace syncline::test {

/// Makes a new empty directory under $TMPDIR (or /tmp) and removes it with everything in it
/// when destroyed, unless SYNCLINE_KEEP_TEST_DIRS is set (for post-mortems).
class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "syncline") {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string{base && *base ? base : "/tmp"} + "/" + tag + "-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~temp_dir() {
    if (std::getenv("SYNCLINE_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace syncline::test
