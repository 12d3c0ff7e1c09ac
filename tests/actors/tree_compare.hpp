// tests/actors/tree_compare.hpp: is a copy equal to its source (content, mtime, mode, links)?
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace syncline::test {

struct tree_entry {
  char kind = '?';  // f, d, l
  std::string content;  // file bytes or link target
  int64_t mtime_ns = 0;
  unsigned mode = 0;
};

/// Every entry below `root` by relative path (directories end with '/'), symlinks not followed.
/// `temporaries` counts files named like syncline's temporary files.
inline std::map<std::string, tree_entry> snapshot(const std::filesystem::path& root,
                                                  size_t* temporaries = nullptr) {
  std::map<std::string, tree_entry> out;
  if (temporaries) *temporaries = 0;
  for (auto it = std::filesystem::recursive_directory_iterator{root};
       it != std::filesystem::recursive_directory_iterator{}; ++it) {
    auto rel = std::filesystem::relative(it->path(), root).string();
    auto name = it->path().filename().string();
    if (name.size() > 14 && name.substr(name.size() - 14) == ".syncline-part") {
      if (temporaries) ++*temporaries;
      continue;
    }
    struct stat st {};
    ::lstat(it->path().c_str(), &st);
    tree_entry e;
    e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    e.mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
      e.kind = 'l';
      e.content = std::filesystem::read_symlink(it->path()).string();
      e.mtime_ns = 0;  // a symlink's own mtime is not carried over
    } else if (S_ISDIR(st.st_mode)) {
      e.kind = 'd';
      rel += '/';
    } else {
      e.kind = 'f';
      std::ifstream in{it->path(), std::ios::binary};
      e.content.assign(std::istreambuf_iterator<char>{in}, {});
    }
    out[rel] = std::move(e);
  }
  return out;
}

/// Empty when equal, else the first difference, for messages.
inline std::string difference(const std::map<std::string, tree_entry>& want,
                              const std::map<std::string, tree_entry>& got) {
  for (auto& [path, w] : want) {
    auto i = got.find(path);
    if (i == got.end()) return "missing " + path;
    auto& g = i->second;
    if (g.kind != w.kind) return "kind differs: " + path;
    if (g.content != w.content) return "content differs: " + path;
    if (g.mtime_ns != w.mtime_ns)
      return "mtime differs: " + path + " " + std::to_string(w.mtime_ns) + " vs " +
             std::to_string(g.mtime_ns);
    if (g.mode != w.mode) return "mode differs: " + path;
  }
  for (auto& [path, g] : got)
    if (want.count(path) == 0) return "extra " + path;
  return {};
}

}  // namespace syncline::test
