#include "connectors/glob.hpp"

#include <re2/re2.h>

#include "connectors/error.hpp"

namespace syncline::connectors {

namespace {

struct translated {
  std::string regex;
  bool directory_only = false;
};

caf::error bad_pattern(const std::string& pattern, const std::string& why) {
  return make_error(connector_errc::bad_config, "glob '" + pattern + "': " + why);
}

// Appends byte `c` as a literal of a Latin-1 RE2 pattern (each byte is one character there).
void append_literal(std::string& out, unsigned char c) {
  if (c == 0) {
    out += "\\x00";
  } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c >= 0x80 || c == '_' || c == '/') {
    out += static_cast<char>(c);
  } else {
    out += '\\';
    out += static_cast<char>(c);
  }
}

caf::expected<translated> translate(const std::string& pattern) {
  std::string_view p = pattern;
  translated result;
  if (p.empty()) return bad_pattern(pattern, "empty pattern");
  // gitignore's rules: a trailing slash means "directories only" and does not anchor; any other
  // slash anchors the pattern at the root.
  while (p.size() > 1 && p.back() == '/' && p[p.size() - 2] != '\\') {
    p.remove_suffix(1);
    result.directory_only = true;
  }
  const bool anchored = p.find('/') != std::string_view::npos;
  if (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (p.empty() || p == "/") return bad_pattern(pattern, "matches no name");
  std::string& out = result.regex;
  if (!anchored) out = "(?:.*/)?";
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        const bool segment_start = i == 0 || p[i - 1] == '/';
        while (i + 1 < p.size() && p[i + 1] == '*') ++i;
        if (segment_start && i + 1 < p.size() && p[i + 1] == '/') {
          out += "(?:.*/)?";  // `**/`: zero or more whole directories
          ++i;
        } else {
          out += ".*";
        }
      } else {
        out += "[^/]*";
      }
    } else if (c == '?') {
      out += "[^/]";
    } else if (c == '\\') {
      if (i + 1 == p.size()) return bad_pattern(pattern, "trailing backslash");
      append_literal(out, static_cast<unsigned char>(p[++i]));
    } else if (c == '[') {
      size_t j = i + 1;
      bool negate = false;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
        negate = true;
        ++j;
      }
      std::string cls = negate ? "[^/" : "[";
      bool first = true;
      bool closed = false;
      for (; j < p.size(); ++j, first = false) {
        char k = p[j];
        if (k == ']' && !first) {
          closed = true;
          break;
        }
        if (k == '\\') {
          if (j + 1 == p.size()) break;
          k = p[++j];
        } else if (k == '-' && !first && j + 1 < p.size() && p[j + 1] != ']') {
          cls += '-';  // a range between the previous and the next byte
          continue;
        }
        if (k == '/') return bad_pattern(pattern, "'/' inside a character class");
        const auto u = static_cast<unsigned char>(k);
        if (u == 0) {
          cls += "\\x00";
        } else if ((k >= 'a' && k <= 'z') || (k >= 'A' && k <= 'Z') || (k >= '0' && k <= '9') ||
                   u >= 0x80) {
          cls += k;
        } else {
          cls += '\\';
          cls += k;
        }
      }
      if (!closed) return bad_pattern(pattern, "unterminated character class");
      cls += ']';
      out += cls;
      i = j;
    } else {
      append_literal(out, static_cast<unsigned char>(c));
    }
  }
  return result;
}

RE2::Options regex_options() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);  // references are bytes, not always UTF-8
  options.set_dot_nl(true);                            // names may contain newlines
  options.set_log_errors(false);
  return options;
}

caf::expected<std::shared_ptr<const re2::RE2>> compile_alternatives(
    const std::vector<std::string>& regexes, const std::string& pattern_list) {
  if (regexes.empty()) return std::shared_ptr<const re2::RE2>{};
  std::string combined;
  for (const auto& r : regexes) {
    if (!combined.empty()) combined += '|';
    combined += "(?:";
    combined += r;
    combined += ')';
  }
  auto re = std::make_shared<const re2::RE2>(combined, regex_options());
  if (!re->ok()) return bad_pattern(pattern_list, re->error());
  return re;
}

}  // namespace

glob_set::glob_set() = default;
glob_set::~glob_set() = default;
glob_set::glob_set(const glob_set&) = default;
glob_set& glob_set::operator=(const glob_set&) = default;

caf::expected<glob_set> glob_set::compile(const std::vector<std::string>& patterns) {
  glob_set result;
  std::vector<std::string> all;
  std::vector<std::string> others;
  for (const auto& pattern : patterns) {
    auto t = translate(pattern);
    if (!t) return std::move(t.error());
    // Compile each pattern alone first, so that an error names the pattern at fault.
    re2::RE2 alone(t->regex, regex_options());
    if (!alone.ok()) return bad_pattern(pattern, alone.error());
    all.push_back(t->regex);
    if (!t->directory_only) others.push_back(std::move(t->regex));
  }
  std::string list;
  for (const auto& p : patterns) list += (list.empty() ? "" : " ") + p;
  auto dirs = compile_alternatives(all, list);
  if (!dirs) return std::move(dirs.error());
  auto rest = compile_alternatives(others, list);
  if (!rest) return std::move(rest.error());
  result.patterns_ = patterns;
  result.for_directories_ = std::move(*dirs);
  result.for_others_ = std::move(*rest);
  return result;
}

bool glob_set::matches(std::string_view reference) const {
  const bool directory = !reference.empty() && reference.back() == '/';
  if (directory) reference.remove_suffix(1);
  const auto& re = directory ? for_directories_ : for_others_;
  return re && re2::RE2::FullMatch(re2::StringPiece{reference.data(), reference.size()}, *re);
}

caf::expected<path_filter> path_filter::make(const std::vector<std::string>& include,
                                             const std::vector<std::string>& exclude) {
  path_filter result;
  auto inc = glob_set::compile(include);
  if (!inc) return std::move(inc.error());
  auto exc = glob_set::compile(exclude);
  if (!exc) return std::move(exc.error());
  result.include_ = std::move(*inc);
  result.exclude_ = std::move(*exc);
  return result;
}

bool path_filter::keep(std::string_view reference) const {
  if (exclude_.matches(reference)) return false;
  const bool directory = !reference.empty() && reference.back() == '/';
  return directory || include_.empty() || include_.matches(reference);
}

bool path_filter::admits(std::string_view reference) const {
  if (keeps_all()) return true;
  if (!exclude_.empty()) {
    // Every ancestor, as a directory reference: "a/", "a/b/"...
    const size_t last = reference.empty() ? 0 : reference.size() - 1;
    for (size_t slash = reference.find('/'); slash != std::string_view::npos && slash < last;
         slash = reference.find('/', slash + 1)) {
      if (exclude_.matches(reference.substr(0, slash + 1))) return false;
    }
  }
  return keep(reference);
}

}  // namespace syncline::connectors
