// storage/element_match.cpp: testing a stored element against a compiled query: values and
// their order, reading a stored element's members without parsing all of it, evaluating the
// conditions.
#include "storage/element_match.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <system_error>

namespace syncline::storage::detail {

// ---------------------------------------------------------------------------------------------
// Values

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

bool is_json_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

}  // namespace

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

namespace {

// simdjson's parser is reusable and not thread-safe: one per thread. A document it returns stays
// valid until its next parse, so every use below finishes with one document before the next.
simdjson::dom::parser& fragment_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

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

// ---------------------------------------------------------------------------------------------
// Conditions

namespace {

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

}  // namespace

std::optional<size_t> array_index(std::string_view segment) {
  if (segment.empty() || segment.size() > 9) return std::nullopt;
  size_t x = 0;
  for (char c : segment) {
    if (c < '0' || c > '9') return std::nullopt;
    x = x * 10 + static_cast<size_t>(c - '0');
  }
  return x;
}

namespace {

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

}  // namespace

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

}  // namespace syncline::storage::detail
