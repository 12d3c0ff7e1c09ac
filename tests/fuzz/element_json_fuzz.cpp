// tests/fuzz/element_json_fuzz.cpp: the element JSON reader (storage/element_json.hpp), on
// any bytes as a request body. Beyond not crashing, it checks what the store relies on:
// - both readers (`parse_elements`, `parse_element_batch`) accept the same inputs and read
//   the same ids and fields;
// - every value is the compact text simdjson::minify writes (the reader has its own
//   faster minifier);
// - a batch element's prepared body is exactly its fields serialized;
// - what is stored reads back: `serialize_element` then `parse_stored` gives the same fields;
// - the fast path for compact input (storage/detail/compact_batch.hpp) makes exactly the batch
//   the general parser makes, whenever it takes an input.
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "storage/detail/compact_batch.hpp"
#include "storage/element_json.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using namespace syncline;
using fuzz::require;

// The value of `key` in `obj` as simdjson::minify writes it, the last one when repeated.
std::string reference_value(simdjson::dom::object obj, std::string_view key) {
  std::string out;
  for (auto [k, v] : obj)
    if (k == key) out = simdjson::minify(v);
  return out;
}

void check_against_simdjson(std::string_view json, const std::vector<storage::element_input>& in) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded{json};
  simdjson::dom::element doc;
  require(parser.parse(padded).get(doc) == simdjson::SUCCESS,
          "the element reader accepted what simdjson refuses");
  std::vector<simdjson::dom::object> objects;
  if (doc.is_array()) {
    simdjson::dom::array arr = doc.get_array().value_unsafe();
    for (auto e : arr) objects.push_back(e.get_object().value_unsafe());
  } else {
    objects.push_back(doc.get_object().value_unsafe());
  }
  require(objects.size() == in.size(), "element count differs from simdjson's");
  for (size_t i = 0; i < in.size(); ++i)
    for (auto& f : in[i].fields)
      require(f.value == reference_value(objects[i], f.key),
              "a value's compact text differs from simdjson::minify's");
}

void check_batch(const std::vector<storage::element_input>& in, const storage::element_batch& b) {
  require(b.elements.size() == in.size(), "the batch reader read another element count");
  for (size_t i = 0; i < in.size(); ++i) {
    auto& e = b.elements[i];
    require(e.ids_end - e.ids_begin == in[i].ids.size(), "the batch reader read other ids");
    for (size_t k = 0; k < in[i].ids.size(); ++k)
      require(b[b.ids[e.ids_begin + k]] == in[i].ids[k], "the batch reader read another id");
    require(e.fields_end - e.fields_begin == in[i].fields.size(),
            "the batch reader read another field count");
    std::string body;
    for (size_t k = 0; k < in[i].fields.size(); ++k) {
      auto& f = b.fields[e.fields_begin + k];
      require(b[f.key] == in[i].fields[k].key, "the batch reader read another key");
      require(b[f.value] == in[i].fields[k].value, "the batch reader read another value");
      body += ',' + storage::json_quote(in[i].fields[k].key) + ':' + in[i].fields[k].value;
    }
    if (e.has_body) require(b[e.body] == body, "a prepared body differs from its fields");
  }
}

bool same_span(storage::element_batch::span a, storage::element_batch::span b) {
  return a.offset == b.offset && a.size == b.size;
}

void check_fast_path(std::string_view json, storage::id_policy policy) {
  auto fast = storage::detail::parse_compact_batch(json, policy);
  if (!fast) return;
  auto general = storage::detail::parse_general_batch(json, policy);
  require(static_cast<bool>(general), "the fast path took what the general parser refuses");
  auto& a = *fast;
  auto& b = *general;
  require(a.text == b.text, "the fast path laid out other text");
  require(a.ids.size() == b.ids.size() && a.fields.size() == b.fields.size() &&
              a.elements.size() == b.elements.size(),
          "the fast path read other counts");
  for (size_t k = 0; k < a.ids.size(); ++k)
    require(same_span(a.ids[k], b.ids[k]), "the fast path placed an id elsewhere");
  for (size_t k = 0; k < a.fields.size(); ++k)
    require(same_span(a.fields[k].key, b.fields[k].key) &&
                same_span(a.fields[k].value, b.fields[k].value),
            "the fast path placed a field elsewhere");
  for (size_t k = 0; k < a.elements.size(); ++k) {
    auto& x = a.elements[k];
    auto& y = b.elements[k];
    require(x.ids_begin == y.ids_begin && x.ids_end == y.ids_end &&
                x.fields_begin == y.fields_begin && x.fields_end == y.fields_end &&
                x.has_body == y.has_body && (!x.has_body || same_span(x.body, y.body)),
            "the fast path read another element");
  }
}

void check_round_trip(const storage::element_input& e) {
  auto json = storage::serialize_element(e.ids.empty() ? "x" : e.ids.front(), e.fields);
  auto back = storage::parse_stored(json);
  require(static_cast<bool>(back), "a serialized element does not read back");
  require(back->size() == e.fields.size(), "a serialized element reads back other fields");
  for (size_t k = 0; k < e.fields.size(); ++k) {
    require((*back)[k].key == e.fields[k].key, "a key does not read back");
    require((*back)[k].value == e.fields[k].value, "a value does not read back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto json = fuzz::text(data, size);
  for (auto policy : {storage::id_policy::optional, storage::id_policy::required}) {
    auto parsed = storage::parse_elements(json, policy);
    auto batch = storage::parse_element_batch(json, policy);
    check_fast_path(json, policy);
    require(static_cast<bool>(parsed) == static_cast<bool>(batch), "the two readers disagree on validity");
    if (!parsed) continue;
    check_against_simdjson(json, *parsed);
    check_batch(*parsed, *batch);
    for (auto& e : *parsed) {
      for (auto& id : e.ids) require(!storage::validate_id(id), "an id read fails validate_id");
      check_round_trip(e);
    }
  }
  if (auto ids = storage::parse_ids(json))
    for (auto& id : *ids) require(!storage::validate_id(id), "an id list holds an invalid id");
  if (auto s = storage::json_unquote(json))
    require(storage::json_unquote(storage::json_quote(*s)) == *s, "json_quote does not round-trip");
  (void)storage::parse_stored(json);
  return 0;
}
