// storage/detail/compact_batch.hpp: parse_element_batch's fast path for input that is already
// compact. Internal to storage/ (tests compare it with the general path).
#pragma once

#include <optional>
#include <string_view>

#include <caf/expected.hpp>

#include "storage/element_json.hpp"

namespace syncline::storage::detail {

/// The batch `parse_element_batch(json, ids)` makes, read straight from the text when every
/// element is already written as that batch stores it: one object or an array of objects
/// (whitespace only between them), each object compact, its `_id` (a string) first if given,
/// no key repeated, strings without escapes, numbers integers of at most 18 digits (the forms
/// the parser writes back unchanged), at most 32 levels deep. Each element's fields are then
/// copied as one piece of the input, with nothing parsed into values and written out again.
/// Anything else, valid or not (errors included), gives nothing: the general parser decides.
std::optional<element_batch> parse_compact_batch(std::string_view json, id_policy ids);

/// parse_element_batch without the fast path: simdjson's parse, then every value written out
/// compact.
caf::expected<element_batch> parse_general_batch(std::string_view json, id_policy ids);

}  // namespace syncline::storage::detail
