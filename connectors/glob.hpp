// connectors/glob.hpp: include/exclude rules on references, written as globs.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

namespace re2 {
class RE2;
}  // namespace re2

namespace syncline::connectors {

/// A set of glob patterns, matched against references (gitignore-like rules, on bytes):
/// - `*` matches any run of bytes without `/`, `?` one byte that is not `/`;
/// - `**` matches across `/`: `**/x` is `x` at any depth, `a/**` everything below `a`,
///   `a/**/b` is `a/b`, `a/x/b`, `a/x/y/b`...;
/// - `[abc]`, `[a-z]`, `[!a-z]` (or `[^a-z]`) match one byte of (not of) a class; classes
///   never match `/`;
/// - `\` makes the next character literal (`\*`, `\[`, `\\`);
/// - a pattern without `/` matches the last segment at any depth (`*.jpg` matches
///   `x/y/z.jpg`); a pattern with a `/` is anchored at the root (`/tmp` or `a/*.o`);
/// - a trailing `/` makes a pattern match directories only (`cache/`).
/// Matching works on bytes, not characters: `?` matches one byte of a multi-byte UTF-8
/// character. Copying is cheap (the compiled expressions are shared); thread-safe.
class glob_set {
 public:
  /// The empty set: matches nothing.
  glob_set();
  ~glob_set();
  glob_set(const glob_set&);
  glob_set& operator=(const glob_set&);

  /// Compiles `patterns`. An empty pattern, an unterminated class, a trailing `\` or a
  /// pattern RE2 refuses is `connector_errc::bad_config` naming that pattern.
  [[nodiscard]] static caf::expected<glob_set> compile(const std::vector<std::string>& patterns);

  /// Whether any pattern matches `reference` (a directory's reference ends with `/`, which only
  /// marks it as a directory and is not matched itself).
  bool matches(std::string_view reference) const;

  bool empty() const noexcept { return patterns_.empty(); }
  const std::vector<std::string>& patterns() const noexcept { return patterns_; }

 private:
  std::vector<std::string> patterns_;
  /// Every pattern, for directories; nullptr when the set is empty.
  std::shared_ptr<const re2::RE2> for_directories_;
  /// The patterns that are not directory-only, for other items; nullptr when there are none.
  std::shared_ptr<const re2::RE2> for_others_;
};

/// Which items a source lists: an item is kept when it matches no exclude pattern and either
/// there are no include patterns or it matches one. Include patterns apply to non-directories
/// only: a directory is kept (listed and traversed) whenever it is not excluded, so `*.jpg`
/// finds pictures at any depth; an excluded directory is not traversed (its subtree is pruned).
/// Cheap to copy; thread-safe.
class path_filter {
 public:
  /// Keeps everything.
  path_filter() = default;

  /// `bad_config` naming the first invalid pattern.
  [[nodiscard]] static caf::expected<path_filter> make(const std::vector<std::string>& include,
                                                       const std::vector<std::string>& exclude);

  /// Whether the item itself is kept; its ancestors are not looked at (a listing prunes
  /// excluded directories before it reaches their children).
  bool keep(std::string_view reference) const;

  /// Whether the item is kept and none of its ancestor directories is excluded: whether a
  /// listing would show it.
  bool admits(std::string_view reference) const;

  /// Whether the filter keeps everything.
  bool keeps_all() const noexcept { return include_.empty() && exclude_.empty(); }

 private:
  glob_set include_;
  glob_set exclude_;
};

}  // namespace syncline::connectors
