#include "storage/element_query.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <system_error>

#include <re2/re2.h>
#include <simdjson.h>

#include "storage/element_json.hpp"
#include "storage/element_store.hpp"
#include "storage/error.hpp"

namespace syncline::storage {

namespace {

// ---------------------------------------------------------------------------------------------
// Values
//
// Query operands and sort keys are owned (`json_value`); the values of a stored element are
// views (`value_view`) into its JSON text or into a simdjson document, so that testing an element
// allocates nothing on the common paths.

// MongoDB's order of type brackets; comparison operators only match values of the same bracket.
enum class value_type : uint8_t { null_value, number, string, object, array, boolean };

// A JSON number as simdjson reads it: exact for every integer that fits 64 bits.
struct number {
  enum class kind : uint8_t { int64, uint64, float64 };
  kind k = kind::int64;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;

  static number of(int64_t x) { return {kind::int64, x, 0, 0}; }
  static number of(uint64_t x) { return {kind::uint64, 0, x, 0}; }
  static number of(double x) { return {kind::float64, 0, 0, x}; }
};

// x86-64's 80-bit long double holds every int64, uint64 and double exactly, so one conversion
// compares any mix of them without rounding (2^53 + 1 stays distinct from 2^53).
static_assert(std::numeric_limits<long double>::digits >= 64);

long double widen(const number& n) {
  switch (n.k) {
    case number::kind::int64:
      return static_cast<long double>(n.i);
    case number::kind::uint64:
      return static_cast<long double>(n.u);
    case number::kind::float64:
      return static_cast<long double>(n.d);
  }
  return 0;
}

template <class T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int compare_numbers(const number& a, const number& b) {
  using k = number::kind;
  if (a.k == k::int64 && b.k == k::int64) return three_way(a.i, b.i);
  if (a.k == k::float64 && b.k == k::float64) return three_way(a.d, b.d);
  return three_way(widen(a), widen(b));
}

int compare_strings(std::string_view a, std::string_view b) {
  // char_traits<char>::compare orders bytes as unsigned: UTF-8 byte order is code point order,
  // which is MongoDB's binary string comparison.
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

struct json_value;

struct composite_parts {
  std::vector<json_value> items;   // array elements, or object member values
  std::vector<std::string> names;  // object member names, parallel to `items`
};

// An owned JSON value: a query operand or a sort key. Objects and arrays are rare in both, so
// they live behind a pointer and scalars stay small.
struct json_value {
  value_type type = value_type::null_value;
  bool boolean = false;
  number num;
  std::string text;
  std::shared_ptr<const composite_parts> parts;
};

int compare(const json_value& a, const json_value& b);

int compare_parts(value_type type, const composite_parts& a, const composite_parts& b) {
  size_t n = std::min(a.items.size(), b.items.size());
  for (size_t i = 0; i < n; ++i) {
    // MongoDB compares embedded documents member by member: type bracket, name, then value.
    if (type == value_type::object) {
      if (a.items[i].type != b.items[i].type) return a.items[i].type < b.items[i].type ? -1 : 1;
      if (int c = compare_strings(a.names[i], b.names[i])) return c;
    }
    if (int c = compare(a.items[i], b.items[i])) return c;
  }
  return three_way(a.items.size(), b.items.size());
}

int compare(const json_value& a, const json_value& b) {
  if (a.type != b.type) return a.type < b.type ? -1 : 1;
  switch (a.type) {
    case value_type::null_value:
      return 0;
    case value_type::number:
      return compare_numbers(a.num, b.num);
    case value_type::string:
      return compare_strings(a.text, b.text);
    case value_type::boolean:
      return three_way(a.boolean, b.boolean);
    case value_type::object:
    case value_type::array:
      return compare_parts(a.type, *a.parts, *b.parts);
  }
  return 0;
}

// A value of a stored element, valid while the JSON text or simdjson document it points into.
struct value_view {
  value_type type = value_type::null_value;
  bool boolean = false;
  number num;
  std::string_view text;
  simdjson::dom::element dom;  // for objects and arrays
};

value_view view_of(simdjson::dom::element e) {
  value_view v;
  switch (e.type()) {
    case simdjson::dom::element_type::NULL_VALUE:
      v.type = value_type::null_value;
      break;
    case simdjson::dom::element_type::BOOL:
      v.type = value_type::boolean;
      v.boolean = e.get_bool().value_unsafe();
      break;
    case simdjson::dom::element_type::INT64:
      v.type = value_type::number;
      v.num = number::of(e.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      v.type = value_type::number;
      v.num = number::of(e.get_uint64().value_unsafe());
      break;
    case simdjson::dom::element_type::DOUBLE:
      v.type = value_type::number;
      v.num = number::of(e.get_double().value_unsafe());
      break;
    case simdjson::dom::element_type::STRING:
      v.type = value_type::string;
      v.text = e.get_string().value_unsafe();
      break;
    case simdjson::dom::element_type::OBJECT:
      v.type = value_type::object;
      v.dom = e;
      break;
    case simdjson::dom::element_type::ARRAY:
      v.type = value_type::array;
      v.dom = e;
      break;
  }
  return v;
}

json_value to_json_value(simdjson::dom::element e) {
  json_value out;
  auto v = view_of(e);
  out.type = v.type;
  out.boolean = v.boolean;
  out.num = v.num;
  if (v.type == value_type::string) out.text.assign(v.text.data(), v.text.size());
  if (v.type == value_type::array) {
    auto parts = std::make_shared<composite_parts>();
    simdjson::dom::array arr = e.get_array().value_unsafe();
    for (auto child : arr) parts->items.push_back(to_json_value(child));
    out.parts = std::move(parts);
  } else if (v.type == value_type::object) {
    auto parts = std::make_shared<composite_parts>();
    simdjson::dom::object obj = e.get_object().value_unsafe();
    for (auto member : obj) {
      parts->names.emplace_back(member.key);
      parts->items.push_back(to_json_value(member.value));
    }
    out.parts = std::move(parts);
  }
  return out;
}

json_value to_json_value(const value_view& v) {
  if (v.type == value_type::object || v.type == value_type::array) return to_json_value(v.dom);
  json_value out;
  out.type = v.type;
  out.boolean = v.boolean;
  out.num = v.num;
  out.text.assign(v.text.data(), v.text.size());
  return out;
}

int compare(const value_view& a, const json_value& b) {
  if (a.type != b.type) return a.type < b.type ? -1 : 1;
  switch (a.type) {
    case value_type::null_value:
      return 0;
    case value_type::number:
      return compare_numbers(a.num, b.num);
    case value_type::string:
      return compare_strings(a.text, b.text);
    case value_type::boolean:
      return three_way(a.boolean, b.boolean);
    case value_type::object:
    case value_type::array:
      // Comparing whole objects or arrays is rare (an operand that is one); converting is simpler
      // than a second comparison over simdjson's types.
      return compare(to_json_value(a.dom), b);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Reading stored elements without parsing all of them
//
// A stored element is a compact JSON object written by this folder. A query reads a few of its
// top-level members, so one pass finds the members' extents (skipping strings with memchr) and
// stops once it has them all; scalars are read straight from the text, and only objects, arrays,
// strings with escapes and non-integer numbers go through simdjson. Text found malformed on the
// way (which only corruption can produce) makes the element match nothing; what lies after the
// last member needed is not looked at.

constexpr size_t npos = std::string_view::npos;

// The index of the quote closing the string that opens at `json[open]`, or npos.
size_t string_end(std::string_view json, size_t open) {
  size_t from = open + 1;
  while (from < json.size()) {
    auto* hit = static_cast<const char*>(std::memchr(json.data() + from, '"', json.size() - from));
    if (hit == nullptr) return npos;
    size_t end = static_cast<size_t>(hit - json.data());
    // The quote is escaped when an odd run of backslashes precedes it.
    size_t run = 0;
    while (end - run > open + 1 && json[end - run - 1] == '\\') ++run;
    if (run % 2 == 0) return end;
    from = end + 1;
  }
  return npos;
}

bool is_json_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

size_t skip_space(std::string_view json, size_t pos) {
  while (pos < json.size() && is_json_space(json[pos])) ++pos;
  return pos;
}

// The index just past the value starting at `json[pos]`, or npos.
size_t value_end(std::string_view json, size_t pos) {
  if (pos >= json.size()) return npos;
  char c = json[pos];
  if (c == '"') {
    size_t e = string_end(json, pos);
    return e == npos ? npos : e + 1;
  }
  if (c == '{' || c == '[') {
    size_t depth = 0;
    for (size_t i = pos; i < json.size();) {
      char ch = json[i];
      if (ch == '"') {
        size_t e = string_end(json, i);
        if (e == npos) return npos;
        i = e + 1;
        continue;
      }
      if (ch == '{' || ch == '[') {
        ++depth;
      } else if (ch == '}' || ch == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return npos;
  }
  size_t i = pos;
  while (i < json.size() && json[i] != ',' && json[i] != '}' && json[i] != ']' &&
         !is_json_space(json[i]))
    ++i;
  return i > pos ? i : npos;
}

// simdjson's parser is reusable and not thread-safe: one per thread. A document it returns stays
// valid until its next parse, so every use below finishes with one document before the next.
simdjson::dom::parser& fragment_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// Parses a piece of stored JSON (a member's value, or a quoted key). Copies it into the parser's
// padded buffer, so `text` needs no padding.
std::optional<simdjson::dom::element> parse_fragment(std::string_view text) {
  simdjson::dom::element e;
  if (fragment_parser().parse(text.data(), text.size(), true).get(e) != simdjson::SUCCESS)
    return std::nullopt;
  return e;
}

// Reads a scalar straight from its JSON text; false for what needs simdjson (objects, arrays,
// escaped strings, numbers that are not plain 64-bit integers).
bool scalar_from_text(std::string_view raw, value_view& v) {
  switch (raw[0]) {
    case '"': {
      if (raw.size() < 2) return false;
      auto body = raw.substr(1, raw.size() - 2);
      if (std::memchr(body.data(), '\\', body.size()) != nullptr) return false;
      v.type = value_type::string;
      v.text = body;
      return true;
    }
    case 't':
    case 'f':
      v.type = value_type::boolean;
      v.boolean = raw[0] == 't';
      return raw == (v.boolean ? "true" : "false");
    case 'n':
      v.type = value_type::null_value;
      return raw == "null";
    case '{':
    case '[':
      return false;
    default: {
      int64_t x = 0;
      auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), x);
      if (ec != std::errc{} || end != raw.data() + raw.size()) return false;
      v.type = value_type::number;
      v.num = number::of(x);
      return true;
    }
  }
}

// The top-level keys a query (or a sort) reads, and where their values are in one element.
class member_finder {
 public:
  explicit member_finder(std::vector<std::string> keys) : keys_(std::move(keys)) {}

  // Fills `values[k]` with the JSON text of key `k`'s value, empty when absent. False when the
  // element is not a well-formed object.
  bool find(std::string_view json, std::vector<std::string_view>& values) const {
    values.assign(keys_.size(), {});
    size_t wanted = keys_.size();
    if (wanted == 0) return true;
    size_t pos = skip_space(json, 0);
    if (pos >= json.size() || json[pos] != '{') return false;
    pos = skip_space(json, pos + 1);
    if (pos < json.size() && json[pos] == '}') return true;
    while (pos < json.size()) {
      if (json[pos] != '"') return false;
      size_t key_open = pos;
      size_t key_close = string_end(json, key_open);
      if (key_close == npos) return false;
      pos = skip_space(json, key_close + 1);
      if (pos >= json.size() || json[pos] != ':') return false;
      pos = skip_space(json, pos + 1);
      size_t end = value_end(json, pos);
      if (end == npos) return false;
      size_t slot = lookup(json.substr(key_open, key_close + 1 - key_open));
      // Stored elements hold each key once (parsing keeps the last of repeated keys), so the
      // first value found is the value, and the pass stops when it has every key it needs.
      if (slot != npos && values[slot].empty()) {
        values[slot] = json.substr(pos, end - pos);
        if (--wanted == 0) return true;
      }
      pos = skip_space(json, end);
      if (pos >= json.size()) return false;
      if (json[pos] == '}') return true;
      if (json[pos] != ',') return false;
      pos = skip_space(json, pos + 1);
    }
    return false;
  }

 private:
  // The index of the key whose JSON text (quotes included) is `quoted`, or npos.
  size_t lookup(std::string_view quoted) const {
    auto raw_key = quoted.substr(1, quoted.size() - 2);
    if (std::memchr(raw_key.data(), '\\', raw_key.size()) == nullptr) {
      for (size_t k = 0; k < keys_.size(); ++k)
        if (keys_[k] == raw_key) return k;
      return npos;
    }
    // Escaped keys are rare: let simdjson unescape them.
    auto e = parse_fragment(quoted);
    std::string_view key;
    if (!e || e->get_string().get(key) != simdjson::SUCCESS) return npos;
    for (size_t k = 0; k < keys_.size(); ++k)
      if (keys_[k] == key) return k;
    return npos;
  }

  std::vector<std::string> keys_;
};

// ---------------------------------------------------------------------------------------------
// Conditions

enum class op_kind : uint8_t {
  exists,    // the path resolves to some value
  eq,        // MongoDB equality: same bracket and equal (an array matches an element too)
  cmp,       // MongoDB $lt $lte $gt $gte: same bracket only
  regex,     // strings that the RE2 pattern finds a match in
  in,        // equal to one of the values, or matched by one of the regexes
  text_eq,   // damas-core `key:value`
  text_cmp,  // damas-core `key<value` and friends
};

enum class cmp_kind : uint8_t { lt, lte, gt, gte };

bool holds(cmp_kind k, int c) {
  switch (k) {
    case cmp_kind::lt:
      return c < 0;
    case cmp_kind::lte:
      return c <= 0;
    case cmp_kind::gt:
      return c > 0;
    case cmp_kind::gte:
      return c >= 0;
  }
  return false;
}

// The operand of a text-search term: a string that may also read as a number, a boolean or null.
struct text_operand {
  std::string text;
  std::optional<number> num;
  int boolean = -1;  // 0 or 1 when the text is `false` or `true`
  bool null_word = false;
};

using regex_ptr = std::shared_ptr<const RE2>;

struct compiled_regex {
  regex_ptr re;
  std::string prefix;        // every string it matches starts with this
  bool prefix_only = false;  // and every string starting with it matches (`^literal`)

  bool matches(std::string_view s) const {
    // Most strings fail on their first bytes; RE2's per-call cost is far above a memcmp.
    if (!prefix.empty() &&
        (s.size() < prefix.size() || std::memcmp(s.data(), prefix.data(), prefix.size()) != 0))
      return false;
    return prefix_only || RE2::PartialMatch(re2::StringPiece{s.data(), s.size()}, *re);
  }
};

struct leaf {
  std::vector<std::string> path;
  size_t slot = 0;  // the index of `path[0]` among the query's top-level keys
  op_kind op = op_kind::exists;
  cmp_kind cmp = cmp_kind::lt;
  json_value value;
  text_operand text;
  compiled_regex regex;
  // $in: strings sorted for binary search, other values, regexes, and whether null is one.
  std::vector<std::string> in_strings;
  std::vector<json_value> in_values;
  std::vector<compiled_regex> in_regexes;
  bool in_null = false;
  // Whether only scalars can satisfy the operator (no object or array operand), so that an array
  // is tested by its scalar elements alone.
  bool scalar_operand = true;

  // Whether an element lacking the path (on some branch) satisfies the condition: MongoDB's
  // `{k: null}`, `{k: {$in: [null]}}`, `{k: {$gte: null}}` and `{k: {$lte: null}}` do.
  bool matches_missing() const {
    switch (op) {
      case op_kind::eq:
        return value.type == value_type::null_value;
      case op_kind::cmp:
        return value.type == value_type::null_value &&
               (cmp == cmp_kind::lte || cmp == cmp_kind::gte);
      case op_kind::in:
        return in_null;
      default:
        return false;
    }
  }
};

struct node {
  enum class kind : uint8_t { all, and_, or_, nor, not_, leaf };
  kind k = kind::all;
  std::vector<node> children;
  size_t leaf_index = 0;
};

bool test_text(const leaf& l, const value_view& v) {
  const auto& t = l.text;
  if (l.op == op_kind::text_eq) {
    switch (v.type) {
      case value_type::string:
        return v.text == t.text;
      case value_type::number:
        return t.num && compare_numbers(v.num, *t.num) == 0;
      case value_type::boolean:
        return t.boolean == (v.boolean ? 1 : 0);
      case value_type::null_value:
        return t.null_word;
      default:
        return false;
    }
  }
  switch (v.type) {
    case value_type::string:
      return holds(l.cmp, compare_strings(v.text, t.text));
    case value_type::number:
      return t.num && holds(l.cmp, compare_numbers(v.num, *t.num));
    default:
      return false;
  }
}

bool test_in(const leaf& l, const value_view& v) {
  if (v.type == value_type::string) {
    if (std::binary_search(l.in_strings.begin(), l.in_strings.end(), v.text,
                           [](std::string_view a, std::string_view b) { return a < b; }))
      return true;
    for (auto& r : l.in_regexes)
      if (r.matches(v.text)) return true;
    return false;
  }
  for (auto& x : l.in_values)
    if (x.type == v.type && compare(v, x) == 0) return true;
  return false;
}

// Tests one value the path led to (not its elements).
bool test_one(const leaf& l, const value_view& v) {
  switch (l.op) {
    case op_kind::exists:
      return true;
    case op_kind::eq:
      return v.type == l.value.type && compare(v, l.value) == 0;
    case op_kind::cmp:
      return v.type == l.value.type && holds(l.cmp, compare(v, l.value));
    case op_kind::regex:
      return v.type == value_type::string && l.regex.matches(v.text);
    case op_kind::in:
      return test_in(l, v);
    case op_kind::text_eq:
    case op_kind::text_cmp:
      return test_text(l, v);
  }
  return false;
}

// MongoDB tests an array found at the end of a path as a whole and element by element.
bool test_value(const leaf& l, const value_view& v) {
  if (test_one(l, v)) return true;
  if (v.type != value_type::array || l.op == op_kind::exists) return false;
  simdjson::dom::array arr = v.dom.get_array().value_unsafe();
  for (auto child : arr)
    if (test_one(l, view_of(child))) return true;
  return false;
}

std::optional<size_t> array_index(std::string_view segment) {
  if (segment.empty() || segment.size() > 9) return std::nullopt;
  size_t x = 0;
  for (char c : segment) {
    if (c < '0' || c > '9') return std::nullopt;
    x = x * 10 + static_cast<size_t>(c - '0');
  }
  return x;
}

// Follows `path[i..]` from `e` the way MongoDB does: through objects by name, and through arrays
// both by index (a numeric segment) and into each object element. Calls `hit` for every value
// reached until it returns true; `missing` is set when some branch ends without a value.
template <class Hit>
bool resolve(simdjson::dom::element e, const std::vector<std::string>& path, size_t i,
             bool& missing, const Hit& hit) {
  if (i == path.size()) return hit(e);
  if (e.type() == simdjson::dom::element_type::OBJECT) {
    simdjson::dom::element child;
    if (e.get_object().value_unsafe().at_key(path[i]).get(child) != simdjson::SUCCESS) {
      missing = true;
      return false;
    }
    return resolve(child, path, i + 1, missing, hit);
  }
  if (e.type() == simdjson::dom::element_type::ARRAY) {
    auto arr = e.get_array().value_unsafe();
    bool reached = false;
    if (auto index = array_index(path[i])) {
      simdjson::dom::element child;
      if (arr.at(*index).get(child) == simdjson::SUCCESS) {
        reached = true;
        if (resolve(child, path, i + 1, missing, hit)) return true;
      }
    }
    for (auto child : arr) {
      if (child.type() != simdjson::dom::element_type::OBJECT) continue;
      reached = true;
      if (resolve(child, path, i, missing, hit)) return true;
    }
    if (!reached) missing = true;
    return false;
  }
  missing = true;
  return false;
}

// Evaluates a leaf on the JSON text of its top-level member (empty when absent).
// Tests the elements of the array whose JSON text is `raw` without simdjson, for a leaf only
// scalars satisfy (an array of tags, of sites). Empty when an element needs simdjson.
std::optional<bool> test_scalar_elements(const leaf& l, std::string_view raw) {
  size_t pos = skip_space(raw, 1);
  if (pos < raw.size() && raw[pos] == ']') return false;
  while (pos < raw.size()) {
    size_t end = value_end(raw, pos);
    if (end == npos) return std::nullopt;
    char first = raw[pos];
    // Nested objects and arrays cannot equal or compare with a scalar operand.
    if (first != '{' && first != '[') {
      value_view v;
      if (!scalar_from_text(raw.substr(pos, end - pos), v)) return std::nullopt;
      if (test_one(l, v)) return true;
    }
    pos = skip_space(raw, end);
    if (pos >= raw.size()) return std::nullopt;
    if (raw[pos] == ']') return false;
    if (raw[pos] != ',') return std::nullopt;
    pos = skip_space(raw, pos + 1);
  }
  return std::nullopt;
}

bool eval_leaf(const leaf& l, std::string_view raw) {
  if (raw.empty()) return l.matches_missing();
  if (l.path.size() == 1) {
    if (l.op == op_kind::exists) return true;
    value_view v;
    if (scalar_from_text(raw, v)) return test_one(l, v);
    if (raw[0] == '[' && l.scalar_operand)
      if (auto found = test_scalar_elements(l, raw)) return *found;
  }
  auto root = parse_fragment(raw);
  if (!root) return false;
  bool missing = false;
  bool found = resolve(*root, l.path, 1, missing,
                       [&](simdjson::dom::element e) { return test_value(l, view_of(e)); });
  return found || (missing && l.matches_missing());
}

bool eval(const node& n, const std::vector<leaf>& leaves,
          const std::vector<std::string_view>& values) {
  switch (n.k) {
    case node::kind::all:
      return true;
    case node::kind::leaf: {
      const auto& l = leaves[n.leaf_index];
      return eval_leaf(l, values[l.slot]);
    }
    case node::kind::and_:
      for (auto& c : n.children)
        if (!eval(c, leaves, values)) return false;
      return true;
    case node::kind::or_:
      for (auto& c : n.children)
        if (eval(c, leaves, values)) return true;
      return false;
    case node::kind::nor:
      for (auto& c : n.children)
        if (eval(c, leaves, values)) return false;
      return true;
    case node::kind::not_:
      return !eval(n.children.front(), leaves, values);
  }
  return false;
}

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
  auto space = [](char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
  };
  for (size_t i = 0; i < query.size();) {
    while (i < query.size() && space(query[i])) ++i;
    size_t start = i;
    while (i < query.size() && !space(query[i])) ++i;
    if (i == start) break;
    if (auto err = compile_term(c, query.substr(start, i - start), terms)) return err;
  }
  if (terms.empty()) return bad("empty query");
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

// ---------------------------------------------------------------------------------------------
// search

namespace {

struct sort_key {
  std::vector<std::string> path;
  size_t slot = 0;  // the index of `path[0]` among the sort's top-level keys
  bool descending = false;
};

// The value a sort key reads: objects by name, arrays only by index (a whole array sorts as an
// array, where MongoDB would use its smallest or largest element); missing is null.
json_value sort_value(std::string_view raw, const std::vector<std::string>& path) {
  if (raw.empty()) return {};
  if (path.size() == 1) {
    value_view v;
    if (scalar_from_text(raw, v)) return to_json_value(v);
  }
  auto root = parse_fragment(raw);
  if (!root) return {};
  auto e = *root;
  for (size_t i = 1; i < path.size(); ++i) {
    simdjson::dom::element child;
    auto index = array_index(path[i]);
    if (e.is_object()) {
      if (e.get_object().value_unsafe().at_key(path[i]).get(child) != simdjson::SUCCESS) return {};
    } else if (e.is_array() && index) {
      if (e.get_array().value_unsafe().at(*index).get(child) != simdjson::SUCCESS) return {};
    } else {
      return {};
    }
    e = child;
  }
  return to_json_value(e);
}

struct sorted_match {
  std::string id;
  std::vector<json_value> keys;
};

}  // namespace

caf::expected<search_result> search(const element_store& store, const element_query& query,
                                    const search_options& options) {
  std::vector<sort_key> sort_keys;
  std::vector<std::string> sort_members;
  for (auto& [key, direction] : options.sort) {
    if (auto problem = path_problem(key); !problem.empty()) return bad("sort has " + problem);
    if (direction != 1 && direction != -1)
      return bad("sort direction of '" + excerpt(key) + "' must be 1 or -1, not " +
                 std::to_string(direction));
    sort_key k;
    k.path = split_path(key);
    auto it = std::find(sort_members.begin(), sort_members.end(), k.path.front());
    k.slot = static_cast<size_t>(it - sort_members.begin());
    if (it == sort_members.end()) sort_members.push_back(k.path.front());
    k.descending = direction == -1;
    sort_keys.push_back(std::move(k));
  }
  // Only the first `skip + limit` matches in result order are ever kept (0: no bound).
  constexpr size_t unbounded = std::numeric_limits<size_t>::max() / 4;
  size_t wanted = 0;
  if (options.limit != 0 && options.skip < unbounded && options.limit < unbounded)
    wanted = options.skip + options.limit;

  search_result result;
  if (sort_keys.empty()) {
    // Ids arrive in `_id` order, which is the result order: keep only the page, count the rest.
    uint64_t limit = options.limit == 0 ? std::numeric_limits<uint64_t>::max() : options.limit;
    auto err = store.scan(query.id_prefix(), [&](std::string_view id, std::string_view json) {
      if (!query.matches(json)) return true;
      if (result.count >= options.skip && result.count - options.skip < limit)
        result.ids.emplace_back(id);
      ++result.count;
      return true;
    });
    if (err) return err;
    return result;
  }

  member_finder finder{sort_members};
  std::vector<std::string_view> raw;
  // Ties go by `_id`; ids are unique, so the order is total and any sort gives the stable result.
  auto order = [&](const std::vector<json_value>& a_keys, std::string_view a_id,
                   const std::vector<json_value>& b_keys, std::string_view b_id) {
    for (size_t k = 0; k < sort_keys.size(); ++k) {
      int c = compare(a_keys[k], b_keys[k]);
      if (c != 0) return sort_keys[k].descending ? c > 0 : c < 0;
    }
    return a_id < b_id;
  };
  auto before = [&](const sorted_match& a, const sorted_match& b) {
    return order(a.keys, a.id, b.keys, b.id);
  };
  std::vector<sorted_match> matches;
  std::optional<sorted_match> last_kept;  // after a trim: the last of the `wanted` kept
  std::vector<json_value> keys(sort_keys.size());
  auto err = store.scan(query.id_prefix(), [&](std::string_view id, std::string_view json) {
    if (!query.matches(json)) return true;
    ++result.count;
    bool ok = finder.find(json, raw);
    for (size_t k = 0; k < sort_keys.size(); ++k)
      keys[k] = ok ? sort_value(raw[sort_keys[k].slot], sort_keys[k].path) : json_value{};
    // The kept matches only get better, so one sorting after the last kept can never be returned.
    if (last_kept && !order(keys, id, last_kept->keys, last_kept->id)) return true;
    matches.push_back(sorted_match{std::string{id}, keys});
    // With a limit only the first `wanted` in sort order can be returned: trimming to them
    // whenever twice as many are held bounds memory at a linear total cost.
    if (wanted != 0 && matches.size() >= std::max<size_t>(2 * wanted, 1024)) {
      auto last = matches.begin() + static_cast<ptrdiff_t>(wanted - 1);
      std::nth_element(matches.begin(), last, matches.end(), before);
      matches.resize(wanted);
      last_kept = matches.back();
    }
    return true;
  });
  if (err) return err;
  std::sort(matches.begin(), matches.end(), before);
  size_t begin = std::min(options.skip, matches.size());
  size_t end = matches.size() - begin > options.limit && options.limit != 0 ? begin + options.limit
                                                                            : matches.size();
  for (size_t i = begin; i < end; ++i) result.ids.push_back(std::move(matches[i].id));
  return result;
}

}  // namespace syncline::storage
