// storage/element_search.cpp: search: a query over the element store, sorted and paged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "storage/element_match.hpp"
#include "storage/element_query.hpp"
#include "storage/element_store.hpp"

namespace syncline::storage {

// ---------------------------------------------------------------------------------------------
// search

namespace {

using namespace detail;

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
