// storage/element_json.hpp: turning request JSON into element inputs, and elements into JSON.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

namespace syncline::storage {

/// Limits on what an element may be. Requests beyond them get `storage_errc::invalid_element`.
inline constexpr size_t max_id_bytes = 1024;          ///< bytes of UTF-8 in one `_id`
inline constexpr size_t max_element_bytes = 1u << 20;  ///< bytes of one stored element's JSON
inline constexpr size_t max_json_depth = 64;          ///< nesting of objects and arrays
inline constexpr size_t max_batch_elements = 100000;  ///< elements (or ids) in one call

/// One key of an element with its value as compact JSON text (`"null"` for null).
struct element_field {
  std::string key;
  std::string value;
  bool is_null() const noexcept { return value == "null"; }
};

/// One object of a request: the ids it names and its other keys, in input order. When a key
/// appears twice the last value wins (as in JavaScript).
struct element_input {
  /// The `_id` given: one id, several (when `_id` was an array), or none (absent).
  std::vector<std::string> ids;
  std::vector<element_field> fields;

  /// The field with key `key`, or null.
  const element_field* find(std::string_view key) const noexcept;
};

/// The objects of a request as views into one buffer: what `parse_elements` gives without a
/// string per id, key and value, for the store's bulk paths. Element `e` names the ids
/// `ids[e.ids_begin, e.ids_end)` (none when it gave no `_id`) and has the fields
/// `fields[e.fields_begin, e.fields_end)`, values as compact JSON text, in input order.
struct element_batch {
  struct span {
    size_t offset = 0;
    size_t size = 0;
  };
  struct field {
    span key;
    span value;
  };
  struct element {
    size_t ids_begin = 0, ids_end = 0;
    size_t fields_begin = 0, fields_end = 0;
    /// When `has_body`, `body` is the fields serialized (`,"key":value` each, in order), as
    /// `serialize_element` would write them; set by parsing when no key needs escaping.
    bool has_body = false;
    span body;
  };
  std::string text;
  std::vector<span> ids;
  std::vector<field> fields;
  std::vector<element> elements;

  std::string_view operator[](span s) const noexcept { return {text.data() + s.offset, s.size}; }
  /// Appends `s` to `text` and says where it is.
  span add(std::string_view s);
};

/// How `parse_elements` treats `_id`.
enum class id_policy {
  optional,  ///< absent `_id` is allowed (create generates one); a string or array of strings
  required,  ///< every object names at least one id
};

/// Parses `json`, which must be one object or an array of objects, each with at most
/// `max_batch_elements` objects in all. Fails, naming the offending element's index, on
/// malformed JSON, invalid UTF-8, nesting deeper than `max_json_depth`, a value that is not an
/// object, a non-string or empty or oversize `_id`, or an `_id` holding NUL.
[[nodiscard]] caf::expected<std::vector<element_input>> parse_elements(std::string_view json,
                                                                       id_policy ids);
/// The same as a batch (same checks, same errors).
[[nodiscard]] caf::expected<element_batch> parse_element_batch(std::string_view json,
                                                               id_policy ids);
/// The batch of inputs given as structures, as they are (nothing checked, repeated keys kept).
element_batch make_element_batch(const std::vector<element_input>& in);

/// Parses a list of ids: a JSON string, or an array of strings.
[[nodiscard]] caf::expected<std::vector<std::string>> parse_ids(std::string_view json);

/// Checks one id: non-empty, at most `max_id_bytes`, valid UTF-8, no NUL byte.
[[nodiscard]] caf::error validate_id(std::string_view id);

/// Parses a stored element (an object serialized by this folder) into its fields, `_id`
/// excluded. Fails with `storage_errc::corruption`.
[[nodiscard]] caf::expected<std::vector<element_field>> parse_stored(std::string_view json);

/// Serializes `{"_id":id, fields...}` compactly, skipping fields whose value is null when
/// `drop_nulls`.
std::string serialize_element(std::string_view id, const std::vector<element_field>& fields,
                              bool drop_nulls = false);
/// Serializes `{"_id":id` followed by the already serialized fields (`,"key":value` each) and
/// `}` into `out`, replacing what it held.
void serialize_element(std::string& out, std::string_view id,
                       std::initializer_list<std::string_view> serialized_fields);
/// Serializes `{"_id":id, fields...}` into `out` (replacing what it held), values as given.
void serialize_element(std::string& out, std::string_view id,
                       const std::vector<std::pair<std::string_view, std::string_view>>& fields);

/// Quotes and escapes `s` as a JSON string.
std::string json_quote(std::string_view s);
/// Appends what `json_quote(s)` returns to `out`.
void append_json_string(std::string& out, std::string_view s);

/// The string that the JSON string literal `json` denotes (`json_quote`'s inverse), or nothing
/// when `json` is not one JSON string.
std::optional<std::string> json_unquote(std::string_view json);

}  // namespace syncline::storage
