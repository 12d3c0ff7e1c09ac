#include "storage/element_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

#include "storage/error.hpp"

namespace syncline::storage {

namespace {

// simdjson's parser is reusable and not thread-safe: one per thread, sized on demand.
simdjson::dom::parser& thread_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

caf::error parse_error(simdjson::error_code code) {
  if (code == simdjson::DEPTH_ERROR)
    return make_error(storage_errc::invalid_json,
                      "JSON nests deeper than " + std::to_string(max_json_depth) + " levels");
  return make_error(storage_errc::invalid_json,
                    std::string{"malformed JSON: "} + simdjson::error_message(code));
}

const char* type_name(simdjson::dom::element_type t) {
  switch (t) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "something else";
}

caf::expected<simdjson::dom::element> parse_document(std::string_view json) {
  auto& parser = thread_parser();
  // simdjson refuses a document that reaches its max_depth (it allows max_depth - 1 levels), so
  // one more lets exactly `max_json_depth` levels through.
  constexpr size_t simdjson_depth = max_json_depth + 1;
  if (parser.max_depth() != simdjson_depth || parser.capacity() < json.size()) {
    if (parser.allocate(std::max<size_t>(json.size(), 4096), simdjson_depth) != simdjson::SUCCESS)
      return make_error(storage_errc::invalid_argument, "cannot allocate JSON parser");
  }
  simdjson::dom::element doc;
  if (auto err = parser.parse(json.data(), json.size()).get(doc)) return parse_error(err);
  return doc;
}

// What is wrong with `id`, or an empty string when nothing is.
std::string id_problem(std::string_view id) {
  if (id.empty()) return "must not be empty";
  if (id.size() > max_id_bytes)
    return "is " + std::to_string(id.size()) + " bytes, more than the limit of " +
           std::to_string(max_id_bytes);
  if (id.find('\0') != std::string_view::npos) return "must not contain a NUL character";
  if (!simdjson::validate_utf8(id.data(), id.size())) return "is not valid UTF-8";
  return {};
}

std::string where(size_t index, bool in_array) {
  return in_array ? "element " + std::to_string(index) + ": " : std::string{};
}

caf::error read_ids(simdjson::dom::element id, std::vector<std::string>& out,
                    const std::string& ctx) {
  if (id.is_string()) {
    std::string_view s;
    if (id.get_string().get(s) != simdjson::SUCCESS)
      return make_error(storage_errc::invalid_element, ctx + "_id must be a string");
    if (auto problem = id_problem(s); !problem.empty())
      return make_error(storage_errc::invalid_element, ctx + "_id " + problem);
    out.emplace_back(s);
    return caf::none;
  }
  if (id.is_array()) {
    simdjson::dom::array arr;
    if (id.get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0)
      return make_error(storage_errc::invalid_element, ctx + "_id is an empty array");
    if (arr.size() > max_batch_elements)
      return make_error(storage_errc::invalid_element,
                        ctx + "_id names more than " + std::to_string(max_batch_elements) + " ids");
    size_t i = 0;
    for (auto v : arr) {
      if (!v.is_string())
        return make_error(storage_errc::invalid_element,
                          ctx + "_id[" + std::to_string(i) + "] must be a string, not " +
                              type_name(v.type()));
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) continue;
      if (auto problem = id_problem(s); !problem.empty())
        return make_error(storage_errc::invalid_element,
                          ctx + "_id[" + std::to_string(i) + "] " + problem);
      out.emplace_back(s);
      ++i;
    }
    return caf::none;
  }
  return make_error(storage_errc::invalid_element,
                    ctx + "_id must be a string, not " + std::string{type_name(id.type())});
}

void set_field(std::vector<element_field>& fields, std::string_view key, std::string value) {
  for (auto& f : fields) {
    if (f.key == key) {
      f.value = std::move(value);
      return;
    }
  }
  fields.push_back(element_field{std::string{key}, std::move(value)});
}

}  // namespace

const element_field* element_input::find(std::string_view key) const noexcept {
  for (auto& f : fields)
    if (f.key == key) return &f;
  return nullptr;
}

caf::error validate_id(std::string_view id) {
  auto problem = id_problem(id);
  if (problem.empty()) return caf::none;
  return make_error(storage_errc::invalid_element, "_id " + problem);
}

caf::expected<std::vector<element_input>> parse_elements(std::string_view json, id_policy ids) {
  auto doc = parse_document(json);
  if (!doc) return std::move(doc.error());
  std::vector<element_input> result;
  auto add = [&](simdjson::dom::element e, size_t index, bool in_array) -> caf::error {
    auto ctx = where(index, in_array);
    if (!e.is_object())
      return make_error(storage_errc::invalid_element,
                        ctx + "expected an object, got " + type_name(e.type()));
    element_input in;
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS)
      return make_error(storage_errc::invalid_element, ctx + "expected an object");
    for (auto [key, value] : obj) {
      if (key == "_id") {
        in.ids.clear();
        if (auto err = read_ids(value, in.ids, ctx)) return err;
        continue;
      }
      set_field(in.fields, key, simdjson::minify(value));
    }
    if (in.ids.empty() && ids == id_policy::required)
      return make_error(storage_errc::invalid_element, ctx + "_id is missing");
    result.push_back(std::move(in));
    return caf::none;
  };
  if (doc->is_array()) {
    simdjson::dom::array arr;
    if (doc->get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0)
      return make_error(storage_errc::invalid_element, "expected an object or a non-empty array");
    if (arr.size() > max_batch_elements)
      return make_error(storage_errc::invalid_element,
                        "more than " + std::to_string(max_batch_elements) + " elements in one call");
    result.reserve(arr.size());
    size_t i = 0;
    for (auto e : arr)
      if (auto err = add(e, i++, true)) return err;
  } else if (auto err = add(*doc, 0, false)) {
    return err;
  }
  return result;
}

caf::expected<std::vector<std::string>> parse_ids(std::string_view json) {
  auto doc = parse_document(json);
  if (!doc) return std::move(doc.error());
  std::vector<std::string> out;
  if (auto err = read_ids(*doc, out, {})) return err;
  return out;
}

caf::expected<std::vector<element_field>> parse_stored(std::string_view json) {
  auto doc = parse_document(json);
  if (!doc || !doc->is_object())
    return make_error(storage_errc::corruption, "stored element is not a JSON object");
  std::vector<element_field> fields;
  simdjson::dom::object obj;
  if (doc->get_object().get(obj) != simdjson::SUCCESS)
    return make_error(storage_errc::corruption, "stored element is not a JSON object");
  for (auto [key, value] : obj) {
    if (key == "_id") continue;
    fields.push_back(element_field{std::string{key}, simdjson::minify(value)});
  }
  return fields;
}

std::string serialize_element(std::string_view id, const std::vector<element_field>& fields,
                              bool drop_nulls) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.StartObject();
  w.Key("_id", 3);
  w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
  for (auto& f : fields) {
    if (drop_nulls && f.is_null()) continue;
    w.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
    w.RawValue(f.value.data(), f.value.size(), rapidjson::kObjectType);
  }
  w.EndObject();
  return std::string{buf.GetString(), buf.GetSize()};
}

std::optional<std::string> json_unquote(std::string_view json) {
  auto doc = parse_document(json);
  std::string_view s;
  if (!doc || doc->get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return std::string{s};
}

std::string json_quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string{buf.GetString(), buf.GetSize()};
}

}  // namespace syncline::storage
