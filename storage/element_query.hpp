// storage/element_query.hpp: searching elements (damas-core's search and search_mongo).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

class element_store;

/// A compiled condition on elements. Immutable once built; cheap to copy; thread-safe.
///
/// Two languages compile to it:
/// - damas-core's text search (`parse_text`): space-separated terms, all ANDed: `key:value`
///   (equality; the value is percent-decoded), `key:/regex/flags` (flags `i` `m` `s`),
///   `key<v`, `key<=v`, `key>v`, `key>=v`. A value that reads as a number compares as a number
///   with numbers (and as a string with strings).
/// - MongoDB query objects (`parse_mongo`): `{key: value}` (equality; an array value matches an
///   array element too), and operators `$eq $ne $gt $gte $lt $lte $in $nin $regex` (with
///   `$options`) `$exists $and $or $not $nor`; damas-core's `"REGEX_..."` and `"RX_..._RX<flags>"`
///   strings are regexes too. Keys may be dotted paths into nested objects.
/// Regexes are RE2 (linear time: no catastrophic backtracking on hostile patterns).
///
/// Which queries scan everything: only a condition on `_id` that fixes a prefix (`_id:/^abc/`,
/// `{"_id": {"$regex": "^abc"}}`, `_id:abc`, `$in` of ids) uses the key order; every other query
/// reads every element once (see `search`).
class element_query {
 public:
  /// Matches everything.
  element_query();
  ~element_query();
  element_query(const element_query&);
  element_query& operator=(const element_query&);

  /// `invalid_argument` naming the bad term (an empty query, a term without operator, a regex
  /// RE2 refuses, ...). `key:/abc` without a closing slash is a plain value (paths need that).
  /// The term `*` matches every element (damas-core's `search *`).
  [[nodiscard]] static caf::expected<element_query> parse_text(std::string_view query);
  /// `invalid_json` or `invalid_argument` naming the bad operator or value.
  [[nodiscard]] static caf::expected<element_query> parse_mongo(std::string_view json);

  /// Whether a stored element (compact JSON object) satisfies the condition.
  bool matches(std::string_view element_json) const;

  /// A prefix every matching `_id` has, for a ranged scan; empty when the query fixes none.
  const std::string& id_prefix() const noexcept;

  struct impl;

 private:
  std::shared_ptr<const impl> impl_;
};

/// How results come back.
struct search_options {
  /// Keys to sort by, in order, with 1 (ascending) or -1 (descending); empty: `_id` order.
  /// Values order as MongoDB does across types (null < numbers < strings < objects < arrays <
  /// booleans); missing keys sort as null.
  std::vector<std::pair<std::string, int>> sort;
  size_t skip = 0;
  /// At most this many ids; 0: all.
  size_t limit = 0;
};

struct search_result {
  /// How many elements matched in all (before skip and limit).
  uint64_t count = 0;
  std::vector<std::string> ids;
};

/// Runs `query` over the elements, reading a consistent snapshot.
[[nodiscard]] caf::expected<search_result> search(const element_store& store,
                                                  const element_query& query,
                                                  const search_options& options = {});

}  // namespace syncline::storage
