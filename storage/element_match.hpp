// storage/element_match.hpp: what a compiled element_query is made of and how a stored element
// is tested against it (internal to storage/: storage/element_query.cpp compiles queries,
// storage/element_match.cpp tests elements, storage/element_search.cpp runs searches;
// storage/element_query.hpp is the interface).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <re2/re2.h>
#include <simdjson.h>

namespace syncline::storage::detail {

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

// A value of a stored element, valid while the JSON text or simdjson document it points into.
struct value_view {
  value_type type = value_type::null_value;
  bool boolean = false;
  number num;
  std::string_view text;
  simdjson::dom::element dom;  // for objects and arrays
};

/// MongoDB's order of values: type bracket first, then value (-1, 0 or 1).
int compare(const json_value& a, const json_value& b);
/// The same order, for a stored value.
int compare(const value_view& a, const json_value& b);

/// An owned copy of a parsed value.
json_value to_json_value(simdjson::dom::element e);
/// An owned copy of a stored value.
json_value to_json_value(const value_view& v);

// Reading stored elements without parsing all of them (see storage/element_match.cpp).

constexpr size_t npos = std::string_view::npos;

/// The index of the quote closing the string that opens at `json[open]`, or npos.
size_t string_end(std::string_view json, size_t open);
/// The index of the first non-space byte at or after `pos`.
size_t skip_space(std::string_view json, size_t pos);
/// The index just past the value starting at `json[pos]`, or npos.
size_t value_end(std::string_view json, size_t pos);
/// Parses a piece of stored JSON (a member's value, or a quoted key) with this thread's parser;
/// the result stays valid until the thread's next parse.
std::optional<simdjson::dom::element> parse_fragment(std::string_view text);
/// Reads a scalar straight from its JSON text; false for what needs simdjson (objects, arrays,
/// escaped strings, numbers that are not plain 64-bit integers).
bool scalar_from_text(std::string_view raw, value_view& v);

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

/// The array index a path segment names (1 to 9 digits), if any.
std::optional<size_t> array_index(std::string_view segment);

/// Whether an element satisfies the condition `n`; `values` holds the JSON text of each top-level
/// key the query reads (empty when absent), as member_finder found them.
bool eval(const node& n, const std::vector<leaf>& leaves,
          const std::vector<std::string_view>& values);

// Defined in storage/element_query.cpp for the compilers; the search uses them too.

/// `invalid_argument` with this message.
caf::error bad(std::string what);
/// `s` shortened for an error message.
std::string excerpt(std::string_view s);
/// What is wrong with `key` as a (dotted) path, or an empty string.
std::string path_problem(std::string_view key);
/// `key` split at its dots.
std::vector<std::string> split_path(std::string_view key);

}  // namespace syncline::storage::detail
