// storage/element_query.cpp: compiling queries (damas-core's text search and MongoDB query
// objects) into conditions, with the regexes and `_id` prefixes they need; element_query itself.
#include "storage/element_query.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <re2/re2.h>
#include <simdjson.h>

#include "storage/element_json.hpp"
#include "storage/element_match.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

namespace detail {

// ---------------------------------------------------------------------------------------------
// Regexes and `_id` prefixes

caf::error bad(std::string what) {
  return make_error(storage_errc::invalid_argument, std::move(what));
}

// `s` shortened for an error message.
std::string excerpt(std::string_view s) {
  constexpr size_t max = 80;
  if (s.size() <= max) return std::string{s};
  return std::string{s.substr(0, max)} + "...";
}

namespace {

// Whether every match of `pattern` starts at the beginning of the text: it starts with `^` and
// has no `|` outside parentheses (`^a|b` finds `b` anywhere).
bool anchored_at_start(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '^') return false;
  int depth = 0;
  bool in_class = false;
  for (size_t i = 1; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 < pattern.size() && pattern[i + 1] == 'Q') return false;  // \Q...\E: give up
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '[') {
      in_class = true;
      // A `]` right after `[` or `[^` is a member, not the end.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') ++i;
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') ++i;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      return false;
    }
  }
  return true;
}

// The text `pattern` matches when it is `^` and literal characters only (letters, digits, other
// bytes that are not operators, escaped punctuation), or nothing.
std::optional<std::string> anchored_literal(std::string_view pattern) {
  constexpr std::string_view operators = ".[]{}()*+?|^$\\";
  if (pattern.empty() || pattern[0] != '^') return std::nullopt;
  std::string out;
  for (size_t i = 1; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (i + 1 == pattern.size()) return std::nullopt;
      char next = pattern[++i];
      bool punct = (next >= '!' && next <= '/') || (next >= ':' && next <= '@') ||
                   (next >= '[' && next <= '`') || (next >= '{' && next <= '~');
      if (!punct) return std::nullopt;  // \d, \Q, \x41...
      out.push_back(next);
    } else if (operators.find(c) != std::string_view::npos) {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string common_prefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return std::string{a.substr(0, n)};
}

// Compiles `pattern` with JavaScript/MongoDB-style flags; `allowed` lists the flags the source
// accepts. Of those, `i`, `m` and `s` change matching; `g`, `y` and `u` do not change which
// strings a search finds (RE2 reads UTF-8 anyway), so they are accepted and ignored.
caf::expected<compiled_regex> compile_regex(std::string_view pattern, std::string_view flags,
                                            std::string_view allowed, const std::string& where) {
  RE2::Options opts;
  opts.set_never_capture(true);
  opts.set_log_errors(false);
  bool multiline = false;
  for (char f : flags) {
    if (allowed.find(f) == npos)
      return bad(where + ": unsupported regex flag '" + std::string(1, f) +
                 "' (supported: " + std::string{allowed} + ")");
    if (f == 'i') opts.set_case_sensitive(false);
    if (f == 's') opts.set_dot_nl(true);
    if (f == 'm') multiline = true;
  }
  // RE2 reads `^` and `$` as the ends of the text unless told otherwise.
  std::string full = multiline ? "(?m)" : "";
  full.append(pattern.data(), pattern.size());
  compiled_regex out;
  out.re = std::make_shared<const RE2>(full, opts);
  if (!out.re->ok())
    return bad(where + ": bad regex /" + excerpt(pattern) + "/: " + out.re->error());
  // RE2 bounds the strings an anchored match can be, and every string between two bounds starts
  // with their common prefix. With `m`, `^` also matches after a newline.
  std::string min, max;
  if (!multiline && anchored_at_start(pattern) &&
      out.re->PossibleMatchRange(&min, &max, static_cast<int>(max_id_bytes)))
    out.prefix = common_prefix(min, max);
  auto literal = anchored_literal(pattern);
  out.prefix_only = literal && !out.prefix.empty() && *literal == out.prefix &&
                    flags.find('i') == npos && !multiline;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compiling

constexpr std::string_view text_regex_flags = "gimsuy";
constexpr std::string_view mongo_options = "imsu";

}  // namespace

// What is wrong with `key` as a (dotted) path, or an empty string.
std::string path_problem(std::string_view key) {
  if (key.empty()) return "an empty key";
  if (key.front() == '.' || key.back() == '.' || key.find("..") != npos)
    return "the key '" + excerpt(key) + "' has an empty path segment";
  return {};
}

std::vector<std::string> split_path(std::string_view key) {
  std::vector<std::string> path;
  size_t start = 0;
  for (;;) {
    size_t dot = key.find('.', start);
    path.emplace_back(key.substr(start, dot == npos ? npos : dot - start));
    if (dot == npos) return path;
    start = dot + 1;
  }
}

}  // namespace detail

namespace {

using namespace detail;

// The leaves of a query being compiled, and the top-level keys they read.
class compiler {
 public:
  node add(leaf l) {
    auto composite = [](const json_value& v) {
      return v.type == value_type::object || v.type == value_type::array;
    };
    if (l.op == op_kind::eq || l.op == op_kind::cmp) l.scalar_operand = !composite(l.value);
    if (l.op == op_kind::in)
      l.scalar_operand = std::none_of(l.in_values.begin(), l.in_values.end(), composite);
    auto it = std::find(keys_.begin(), keys_.end(), l.path.front());
    l.slot = static_cast<size_t>(it - keys_.begin());
    if (it == keys_.end()) keys_.push_back(l.path.front());
    node n;
    n.k = node::kind::leaf;
    n.leaf_index = leaves_.size();
    leaves_.push_back(std::move(l));
    return n;
  }

  // The longest prefix the condition fixes for `_id`, or empty.
  std::string prefix_of(const node& n) const {
    switch (n.k) {
      case node::kind::leaf:
        return leaf_prefix(leaves_[n.leaf_index]);
      case node::kind::and_: {
        // Every child holds for every match, so any child's prefix is one; the longest helps most.
        std::string best;
        for (auto& c : n.children) {
          auto p = prefix_of(c);
          if (p.size() > best.size()) best = std::move(p);
        }
        return best;
      }
      case node::kind::or_: {
        std::optional<std::string> common;
        for (auto& c : n.children) {
          auto p = prefix_of(c);
          if (p.empty()) return {};
          common = common ? common_prefix(*common, p) : p;
        }
        return common.value_or(std::string{});
      }
      default:
        return {};
    }
  }

  std::vector<leaf> take_leaves() { return std::move(leaves_); }
  std::vector<std::string> take_keys() { return std::move(keys_); }

 private:
  static std::string leaf_prefix(const leaf& l) {
    if (l.path.size() != 1 || l.path.front() != "_id") return {};
    switch (l.op) {
      case op_kind::eq:
        return l.value.type == value_type::string ? l.value.text : std::string{};
      // `_id` is always a string, and a text term matches a string only when equal to its text.
      case op_kind::text_eq:
        return l.text.text;
      case op_kind::regex:
        return l.regex.prefix;
      case op_kind::in: {
        // Values that are not strings never equal an `_id`; strings and regexes must share one.
        std::optional<std::string> common;
        for (auto& s : l.in_strings) common = common ? common_prefix(*common, s) : s;
        for (auto& r : l.in_regexes) common = common ? common_prefix(*common, r.prefix) : r.prefix;
        return common.value_or(std::string{});
      }
      default:
        return {};
    }
  }

  std::vector<leaf> leaves_;
  std::vector<std::string> keys_;
};

// ---- damas-core's text search ----

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `%XX` becomes the byte; a `%` not followed by two hex digits stays as it is (damas-core's
// decodeURIComponent would throw and answer 500).
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The number `s` reads as: JSON's syntax, except that leading zeros and a missing integer part
// (`.5`) are allowed; integers stay exact; `1e999` is no number.
std::optional<number> read_number(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  bool integral = true;
  if (i < s.size() && s[i] == '.') {
    integral = false;
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    integral = false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (integral) {
    int64_t x = 0;
    if (auto r = std::from_chars(first, last, x); r.ec == std::errc{} && r.ptr == last)
      return number::of(x);
    uint64_t u = 0;
    if (s[0] != '-')
      if (auto r = std::from_chars(first, last, u); r.ec == std::errc{} && r.ptr == last)
        return number::of(u);
  }
  double d = 0;
  auto r = std::from_chars(first, last, d);
  if (r.ec != std::errc{} || r.ptr != last) return std::nullopt;
  return number::of(d);
}

// damas-core's test for a regex value: `/pattern/flags`, the flags being letters it knows, so
// that `/a/b` (a path) is a plain value and `/a/` and `/a/i` are regexes.
bool split_text_regex(std::string_view value, std::string_view& pattern, std::string_view& flags) {
  if (value.size() < 2 || value[0] != '/') return false;
  size_t last = value.rfind('/');
  if (last == 0) return false;
  flags = value.substr(last + 1);
  if (flags.find_first_not_of(text_regex_flags) != npos) return false;
  pattern = value.substr(1, last - 1);
  return true;
}

caf::error compile_term(compiler& c, std::string_view term, std::vector<node>& out) {
  auto where = "term '" + excerpt(term) + "'";
  // The leftmost operator splits the term, so values may hold `:`, `<` and `>` (URLs, regexes).
  // damas-core looks for `<=`, `<`, `>=`, `>` anywhere before it looks for `:`, and keeps only the
  // text up to a second occurrence: it reads `url:ssh://h` as `ssh` and `_id:/a<b/` as the key
  // `_id:/a`. Where its terms make sense, both read the same (`a<=b` is `<=` in both).
  size_t pos = term.find_first_of(":<>");
  if (pos == npos)
    return bad(where +
               " has no operator (key:value, key<value, key<=value, key>value or "
               "key>=value)");
  if (pos == 0) return bad(where + " has no key");
  leaf l;
  size_t value_at = pos + 1;
  if (term[pos] == ':') {
    l.op = op_kind::text_eq;
  } else {
    l.op = op_kind::text_cmp;
    bool or_equal = value_at < term.size() && term[value_at] == '=';
    if (or_equal) ++value_at;
    if (term[pos] == '<')
      l.cmp = or_equal ? cmp_kind::lte : cmp_kind::lt;
    else
      l.cmp = or_equal ? cmp_kind::gte : cmp_kind::gt;
  }
  auto key = percent_decode(term.substr(0, pos));
  auto value = percent_decode(term.substr(value_at));
  if (auto problem = path_problem(key); !problem.empty()) return bad(where + " has " + problem);
  l.path = split_path(key);
  std::string_view pattern, flags;
  if (l.op == op_kind::text_eq && split_text_regex(value, pattern, flags)) {
    auto re = compile_regex(pattern, flags, text_regex_flags, where);
    if (!re) return std::move(re.error());
    l.op = op_kind::regex;
    l.regex = std::move(*re);
  } else {
    l.text.num = read_number(value);
    if (value == "true") l.text.boolean = 1;
    if (value == "false") l.text.boolean = 0;
    l.text.null_word = value == "null";
    l.text.text = std::move(value);
  }
  out.push_back(c.add(std::move(l)));
  return caf::none;
}

// ---- MongoDB query objects ----

using dom_element = simdjson::dom::element;

std::string json_text(dom_element e) {
  return excerpt(simdjson::minify(e));
}

// damas-core turns `"REGEX_<pattern>"` and `"RX_<pattern>_RX<flags>"` strings anywhere in a
// search_mongo query into regexes before MongoDB sees them (the last `_RX` ends the pattern).
bool damas_regex(std::string_view s, std::string_view& pattern, std::string_view& flags) {
  constexpr std::string_view regex_tag = "REGEX_", rx_tag = "RX_", rx_end = "_RX";
  flags = {};
  if (s.substr(0, regex_tag.size()) == regex_tag) {
    pattern = s.substr(regex_tag.size());
    return true;
  }
  if (s.substr(0, rx_tag.size()) != rx_tag) return false;
  size_t end = s.rfind(rx_end);
  if (end == npos || end < rx_tag.size()) {
    pattern = s.substr(rx_tag.size());
  } else {
    pattern = s.substr(rx_tag.size(), end - rx_tag.size());
    flags = s.substr(end + rx_end.size());
  }
  return true;
}

// Whether `e` is a damas-core regex string; when it is, `pattern` and `flags` say which.
bool is_damas_regex(dom_element e, std::string_view& pattern, std::string_view& flags) {
  std::string_view s;
  return e.get_string().get(s) == simdjson::SUCCESS && damas_regex(s, pattern, flags);
}

node negate(node n) {
  node out;
  out.k = node::kind::not_;
  out.children.push_back(std::move(n));
  return out;
}

// An AND of `children`, without the AND when there is one child (none: matches everything).
node conjunction(std::vector<node> children) {
  if (children.size() == 1) return std::move(children.front());
  node n;
  if (!children.empty()) n.k = node::kind::and_;
  n.children = std::move(children);
  return n;
}

bool is_operator_object(dom_element e) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS || obj.size() == 0) return false;
  auto key = (*obj.begin()).key;
  return !key.empty() && key[0] == '$';
}

class mongo_compiler {
 public:
  compiler c;

  // A query object: its members ANDed. `where` names it in errors.
  caf::expected<node> object(dom_element e, const std::string& where) {
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS)
      return bad(where + " must be an object, not " + json_text(e));
    std::vector<node> children;
    for (auto member : obj) {
      std::string_view key = member.key;
      auto child =
          !key.empty() && key[0] == '$' ? logical(key, member.value) : field(key, member.value);
      if (!child) return child;
      children.push_back(std::move(*child));
    }
    return conjunction(std::move(children));
  }

 private:
  caf::expected<node> logical(std::string_view op, dom_element arg) {
    node n;
    if (op == "$and")
      n.k = node::kind::and_;
    else if (op == "$or")
      n.k = node::kind::or_;
    else if (op == "$nor")
      n.k = node::kind::nor;
    else
      return bad("unknown top-level operator '" + excerpt(op) +
                 "' (supported: $and $or $nor, and conditions on fields)");
    auto name = std::string{op};
    simdjson::dom::array arr;
    if (arg.get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0)
      return bad(name + " needs a non-empty array of query objects, not " + json_text(arg));
    size_t i = 0;
    for (auto child : arr) {
      auto sub = object(child, name + "[" + std::to_string(i++) + "]");
      if (!sub) return sub;
      n.children.push_back(std::move(*sub));
    }
    return n;
  }

  caf::expected<node> field(std::string_view key, dom_element value) {
    if (auto problem = path_problem(key); !problem.empty()) return bad("the query has " + problem);
    auto path = split_path(key);
    auto where = "the condition on '" + excerpt(key) + "'";
    if (is_operator_object(value)) return operators(path, value, where);
    return equality(path, value, where);
  }

  // `{key: value}` and `{key: {$eq: value}}`; a damas-core regex string matches by regex.
  caf::expected<node> equality(const std::vector<std::string>& path, dom_element value,
                               const std::string& where) {
    leaf l;
    l.path = path;
    std::string_view pattern, flags;
    if (is_damas_regex(value, pattern, flags)) {
      auto re = compile_regex(pattern, flags, text_regex_flags, where);
      if (!re) return std::move(re.error());
      l.op = op_kind::regex;
      l.regex = std::move(*re);
    } else {
      l.op = op_kind::eq;
      l.value = to_json_value(value);
    }
    return c.add(std::move(l));
  }

  caf::expected<node> operators(const std::vector<std::string>& path, dom_element value,
                                const std::string& where) {
    std::vector<node> children;
    std::optional<dom_element> regex_arg, options_arg;
    simdjson::dom::object obj = value.get_object().value_unsafe();
    for (auto member : obj) {
      std::string_view op = member.key;
      auto arg = member.value;
      auto here = std::string{op} + " in " + where;
      caf::expected<node> child{node{}};
      if (op.empty() || op[0] != '$') {
        return bad(where + " mixes operators with the field '" + excerpt(op) + "'");
      } else if (op == "$eq") {
        child = equality(path, arg, here);
      } else if (op == "$ne") {
        child = equality(path, arg, here);
        if (child) child = negate(std::move(*child));
      } else if (op == "$gt" || op == "$gte" || op == "$lt" || op == "$lte") {
        child = comparison(path, op, arg, here);
      } else if (op == "$in" || op == "$nin") {
        child = in(path, arg, here);
        if (child && op == "$nin") child = negate(std::move(*child));
      } else if (op == "$exists") {
        child = exists(path, arg, here);
      } else if (op == "$not") {
        child = negation(path, arg, here);
      } else if (op == "$regex") {
        regex_arg = arg;
        continue;
      } else if (op == "$options") {
        options_arg = arg;
        continue;
      } else {
        return bad("unknown operator '" + excerpt(op) + "' in " + where +
                   " (supported: $eq $ne $gt $gte $lt $lte $in $nin $regex $options $exists $not)");
      }
      if (!child) return child;
      children.push_back(std::move(*child));
    }
    if (options_arg && !regex_arg) return bad("$options without $regex in " + where);
    if (regex_arg) {
      auto child = regex(path, *regex_arg, options_arg, where);
      if (!child) return child;
      children.push_back(std::move(*child));
    }
    return conjunction(std::move(children));
  }

  caf::expected<node> comparison(const std::vector<std::string>& path, std::string_view op,
                                 dom_element arg, const std::string& where) {
    std::string_view pattern, flags;
    if (is_damas_regex(arg, pattern, flags))
      return bad(where + ": a regex has no order; use $regex");
    leaf l;
    l.path = path;
    l.op = op_kind::cmp;
    if (op == "$gt")
      l.cmp = cmp_kind::gt;
    else if (op == "$gte")
      l.cmp = cmp_kind::gte;
    else if (op == "$lt")
      l.cmp = cmp_kind::lt;
    else
      l.cmp = cmp_kind::lte;
    l.value = to_json_value(arg);
    return c.add(std::move(l));
  }

  caf::expected<node> in(const std::vector<std::string>& path, dom_element arg,
                         const std::string& where) {
    simdjson::dom::array arr;
    if (arg.get_array().get(arr) != simdjson::SUCCESS)
      return bad(where + " needs an array, not " + json_text(arg));
    leaf l;
    l.path = path;
    l.op = op_kind::in;
    for (auto item : arr) {
      std::string_view s, pattern, flags;
      if (is_damas_regex(item, pattern, flags)) {
        auto re = compile_regex(pattern, flags, text_regex_flags, where);
        if (!re) return std::move(re.error());
        l.in_regexes.push_back(std::move(*re));
      } else if (item.get_string().get(s) == simdjson::SUCCESS) {
        l.in_strings.emplace_back(s);
      } else {
        if (item.is_null()) l.in_null = true;
        l.in_values.push_back(to_json_value(item));
      }
    }
    std::sort(l.in_strings.begin(), l.in_strings.end());
    return c.add(std::move(l));
  }

  caf::expected<node> exists(const std::vector<std::string>& path, dom_element arg,
                             const std::string& where) {
    bool want = false;
    if (arg.is_bool())
      want = arg.get_bool().value_unsafe();
    else if (arg.is_number())
      want = arg.get_double().value_unsafe() != 0;
    else
      return bad(where + " needs true or false, not " + json_text(arg));
    leaf l;
    l.path = path;
    l.op = op_kind::exists;
    auto n = c.add(std::move(l));
    return want ? n : negate(std::move(n));
  }

  // `$not` takes operators (`{$not: {$gt: 5}}`) or a regex (a damas-core regex string).
  caf::expected<node> negation(const std::vector<std::string>& path, dom_element arg,
                               const std::string& where) {
    std::string_view pattern, flags;
    caf::expected<node> n{node{}};
    if (is_damas_regex(arg, pattern, flags))
      n = equality(path, arg, where);
    else if (is_operator_object(arg))
      n = operators(path, arg, where);
    else
      return bad(where + " needs an object of operators or a regex, not " + json_text(arg));
    if (!n) return n;
    return negate(std::move(*n));
  }

  caf::expected<node> regex(const std::vector<std::string>& path, dom_element arg,
                            std::optional<dom_element> options, const std::string& where) {
    std::string_view s;
    if (arg.get_string().get(s) != simdjson::SUCCESS)
      return bad("$regex in " + where + " needs a string, not " + json_text(arg));
    std::string_view opts;
    if (options && options->get_string().get(opts) != simdjson::SUCCESS)
      return bad("$options in " + where + " needs a string, not " + json_text(*options));
    std::string_view pattern = s, flags;
    damas_regex(s, pattern, flags);  // damas-core makes `$regex: "REGEX_a"` a regex object
    std::string all_flags{flags};
    for (char f : opts) {
      if (f == 'x') return bad("$options in " + where + ": 'x' (extended syntax) is not supported");
      if (mongo_options.find(f) == npos)
        return bad("$options in " + where + ": unsupported option '" + std::string(1, f) +
                   "' (supported: i m s u)");
      all_flags.push_back(f);
    }
    auto re = compile_regex(pattern, all_flags, text_regex_flags, "$regex in " + where);
    if (!re) return std::move(re.error());
    leaf l;
    l.path = path;
    l.op = op_kind::regex;
    l.regex = std::move(*re);
    return c.add(std::move(l));
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// element_query

struct element_query::impl {
  node root;
  std::vector<leaf> leaves;
  member_finder members;
  std::string prefix;

  impl(compiler& c, node r)
      : root(std::move(r)),
        leaves(),
        members(std::vector<std::string>{}),
        prefix(c.prefix_of(root)) {
    leaves = c.take_leaves();
    members = member_finder{c.take_keys()};
  }
};

element_query::element_query() = default;
element_query::~element_query() = default;
element_query::element_query(const element_query&) = default;
element_query& element_query::operator=(const element_query&) = default;

caf::expected<element_query> element_query::parse_text(std::string_view query) {
  compiler c;
  std::vector<node> terms;
  bool everything = false;
  auto space = [](char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
  };
  for (size_t i = 0; i < query.size();) {
    while (i < query.size() && space(query[i])) ++i;
    size_t start = i;
    while (i < query.size() && !space(query[i])) ++i;
    if (i == start) break;
    auto term = query.substr(start, i - start);
    // damas-core's command line client documents `search *` as "every element".
    if (term == "*") {
      everything = true;
      continue;
    }
    if (auto err = compile_term(c, term, terms)) return err;
  }
  if (terms.empty() && !everything) return bad("empty query");
  element_query q;
  q.impl_ = std::make_shared<const impl>(c, conjunction(std::move(terms)));
  return q;
}

caf::expected<element_query> element_query::parse_mongo(std::string_view json) {
  simdjson::dom::parser parser;
  // simdjson refuses a document that reaches its max_depth, so one more lets exactly
  // `max_json_depth` levels through, as for elements.
  constexpr size_t simdjson_depth = max_json_depth + 1;
  if (parser.allocate(std::max<size_t>(json.size(), 64), simdjson_depth) != simdjson::SUCCESS)
    return bad("cannot allocate the JSON parser");
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc)) {
    if (err == simdjson::DEPTH_ERROR)
      return make_error(storage_errc::invalid_json,
                        "query nests deeper than " + std::to_string(max_json_depth) + " levels");
    return make_error(storage_errc::invalid_json,
                      std::string{"malformed query JSON: "} + simdjson::error_message(err));
  }
  mongo_compiler mc;
  auto root = mc.object(doc, "the query");
  if (!root) return std::move(root.error());
  element_query q;
  q.impl_ = std::make_shared<const impl>(mc.c, std::move(*root));
  return q;
}

bool element_query::matches(std::string_view element_json) const {
  if (!impl_ || impl_->root.k == node::kind::all) return true;
  thread_local std::vector<std::string_view> values;
  if (!impl_->members.find(element_json, values)) return false;
  return eval(impl_->root, impl_->leaves, values);
}

const std::string& element_query::id_prefix() const noexcept {
  static const std::string none;
  return impl_ ? impl_->prefix : none;
}

}  // namespace syncline::storage
