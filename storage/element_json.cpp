#include "storage/element_json.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>

#include <simdjson.h>

#include "storage/detail/compact_batch.hpp"
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

// Most ids are ASCII, which is valid UTF-8 and cheaper to tell apart than to validate.
bool is_ascii(std::string_view s) {
  size_t i = 0;
  uint64_t bits = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    bits |= v;
  }
  for (; i < s.size(); ++i) bits |= static_cast<unsigned char>(s[i]);
  return (bits & 0x8080808080808080ull) == 0;
}

// What is wrong with `id`, or an empty string when nothing is.
std::string id_problem(std::string_view id) {
  if (id.empty()) return "must not be empty";
  if (id.size() > max_id_bytes)
    return "is " + std::to_string(id.size()) + " bytes, more than the limit of " +
           std::to_string(max_id_bytes);
  if (id.find('\0') != std::string_view::npos) return "must not contain a NUL character";
  if (!is_ascii(id) && !simdjson::validate_utf8(id.data(), id.size())) return "is not valid UTF-8";
  return {};
}

// Which element an error message names, spelled out only when there is an error.
struct element_place {
  size_t index = 0;
  bool in_array = false;
  std::string text() const {
    return in_array ? "element " + std::to_string(index) + ": " : std::string{};
  }
};

std::string operator+(const element_place& where, const char* what) { return where.text() + what; }

// Checks the `_id` value and passes each id to `emit`.
template <class Emit>
caf::error read_ids(simdjson::dom::element id, const element_place& ctx, const Emit& emit) {
  if (id.is_string()) {
    std::string_view s;
    if (id.get_string().get(s) != simdjson::SUCCESS)
      return make_error(storage_errc::invalid_element, ctx + "_id must be a string");
    if (auto problem = id_problem(s); !problem.empty())
      return make_error(storage_errc::invalid_element, ctx + "_id " + problem);
    emit(s);
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
      emit(s);
      ++i;
    }
    return caf::none;
  }
  return make_error(storage_errc::invalid_element,
                    ctx + "_id must be a string, not " + std::string{type_name(id.type())});
}

// Whether `s` holds a control character, a quote or a backslash. Every id and key written goes
// through here: eight bytes at a time, then a table for the few left, without branches per byte.
inline bool needs_escape(std::string_view s) {
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t highs = 0x8080808080808080ull;
  auto has_zero_byte = [](uint64_t v) { return (v - ones) & ~v & highs; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t v;
    std::memcpy(&v, s.data() + i, 8);
    // A byte below 0x20 (and not 0x80 or above) survives `v - 0x20..` with its high bit set.
    uint64_t below_space = (v - 0x20 * ones) & ~v & highs;
    if (below_space | has_zero_byte(v ^ ('"' * ones)) | has_zero_byte(v ^ ('\\' * ones)))
      return true;
  }
  static constexpr auto escaped = [] {
    std::array<uint8_t, 256> t{};
    for (size_t c = 0; c < 0x20; ++c) t[c] = 1;
    t['"'] = t['\\'] = 1;
    return t;
  }();
  uint8_t any = 0;
  for (; i < s.size(); ++i) any |= escaped[static_cast<unsigned char>(s[i])];
  return any != 0;
}

// Appends to a string through a pointer, growing it in large steps; `finish` trims it to what
// was written. Parsing a request appends a handful of pieces per field, and each
// std::string::append is an out-of-line call with its own checks.
class text_writer {
 public:
  explicit text_writer(std::string& s) : s_(s), n_(s.size()) {}
  size_t size() const noexcept { return n_; }
  void put(std::string_view v) {
    std::memcpy(room(v.size()), v.data(), v.size());
    n_ += v.size();
  }
  void put(char c) {
    *room(1) = c;
    ++n_;
  }
  /// Space for `k` bytes at the end; `wrote(j)` then counts the first `j` of them in.
  char* room(size_t k) {
    if (n_ + k > s_.size()) s_.resize(std::max(2 * s_.size(), n_ + k + 256));
    return s_.data() + n_;
  }
  void wrote(size_t j) noexcept { n_ += j; }
  void finish() { s_.resize(n_); }

 private:
  std::string& s_;
  size_t n_;
};

// Compact JSON text of values, exactly as simdjson::minify writes it, without its cost:
// simdjson::minify grows a fresh buffer for every value (a handful of allocations each), which
// dominated parsing. Strings that need no escaping, integers and literals, nearly every value,
// are written here; the rest goes through one reused instance of the builder simdjson::minify
// itself uses (simdjson 3.0 marks it internal; the Debian package pins the version).
class minifier {
 public:
  /// Appends the compact text of `value` to `out`.
  void append(std::string& out, simdjson::dom::element value) {
    text_writer w{out};
    append(w, value);
    w.finish();
  }
  void append(text_writer& out, simdjson::dom::element value) {
    switch (value.type()) {
      case simdjson::dom::element_type::STRING: {
        std::string_view s;
        if (value.get_string().get(s) != simdjson::SUCCESS || needs_escape(s)) break;
        auto* p = out.room(s.size() + 2);
        p[0] = '"';
        std::memcpy(p + 1, s.data(), s.size());
        p[s.size() + 1] = '"';
        out.wrote(s.size() + 2);
        return;
      }
      case simdjson::dom::element_type::INT64: {
        int64_t x = 0;
        if (value.get_int64().get(x) != simdjson::SUCCESS) break;
        append_number(out, x);
        return;
      }
      case simdjson::dom::element_type::UINT64: {
        uint64_t x = 0;
        if (value.get_uint64().get(x) != simdjson::SUCCESS) break;
        append_number(out, x);
        return;
      }
      case simdjson::dom::element_type::BOOL: {
        bool x = false;
        if (value.get_bool().get(x) != simdjson::SUCCESS) break;
        out.put(x ? "true" : "false");
        return;
      }
      case simdjson::dom::element_type::NULL_VALUE: out.put("null"); return;
      default: break;
    }
    builder_.clear();
    builder_.append(value);
    out.put(builder_.str());
  }

 private:
  template <class Int>
  static void append_number(text_writer& out, Int x) {
    auto* p = out.room(24);
    out.wrote(static_cast<size_t>(std::to_chars(p, p + 24, x).ptr - p));
  }

  simdjson::internal::string_builder<> builder_;
};

// Writes `{"_id":id,"key":value,...}` for the fields `each(visit)` passes to `visit(key,
// value)`. One allocation and plain copies when no id or key needs escaping, as nearly none does:
// this runs for every element written.
template <class EachField>
void write_element(std::string& out, std::string_view id, const EachField& each) {
  bool plain = !needs_escape(id);
  size_t size = id.size() + 10;
  each([&](std::string_view key, std::string_view value) {
    plain = plain && !needs_escape(key);
    size += key.size() + value.size() + 4;
  });
  out.clear();
  if (!plain) {
    out.reserve(size + 16);
    out.append(R"({"_id":)");
    append_json_string(out, id);
    each([&](std::string_view key, std::string_view value) {
      out.push_back(',');
      append_json_string(out, key);
      out.push_back(':');
      out.append(value.data(), value.size());
    });
    out.push_back('}');
    return;
  }
  out.resize(size);
  char* p = out.data();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(R"({"_id":")");
  put(id);
  *p++ = '"';
  each([&](std::string_view key, std::string_view value) {
    *p++ = ',';
    *p++ = '"';
    put(key);
    *p++ = '"';
    *p++ = ':';
    put(value);
  });
  *p = '}';
}

}  // namespace

element_batch::span element_batch::add(std::string_view s) {
  span at{text.size(), s.size()};
  text.append(s.data(), s.size());
  return at;
}

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

caf::expected<element_batch> parse_element_batch(std::string_view json, id_policy ids) {
  // Most requests, and every bulk one, are already compact: read them as they are.
  if (auto batch = detail::parse_compact_batch(json, ids)) return std::move(*batch);
  return detail::parse_general_batch(json, ids);
}

caf::expected<element_batch> detail::parse_general_batch(std::string_view json, id_policy ids) {
  auto doc = parse_document(json);
  if (!doc) return std::move(doc.error());
  element_batch out;
  // Ids, keys and compact values take about as many bytes as the input.
  out.text.resize(json.size() + json.size() / 8 + 64);
  out.text.clear();
  text_writer text{out.text};
  auto add_text = [&](std::string_view s) {
    element_batch::span at{text.size(), s.size()};
    text.put(s);
    return at;
  };
  // Two strings equal, comparing first what differs most often between keys.
  auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && (a.empty() || (a[0] == b[0] && a == b));
  };
  minifier minify;
  size_t element_count = 1;
  auto add = [&](simdjson::dom::element e, size_t index, bool in_array) -> caf::error {
    element_place ctx{index, in_array};
    if (!e.is_object())
      return make_error(storage_errc::invalid_element,
                        ctx + "expected an object, got " + type_name(e.type()));
    simdjson::dom::object obj;
    if (e.get_object().get(obj) != simdjson::SUCCESS)
      return make_error(storage_errc::invalid_element, ctx + "expected an object");
    element_batch::element el;
    el.ids_begin = out.ids.size();
    el.fields_begin = out.fields.size();
    // Fields are laid out as their own serialization, `,"key":value`, as long as that stays
    // true: no key needs escaping, none repeats, no `_id` comes between them.
    el.has_body = true;
    el.body.offset = text.size();
    for (auto [key, value] : obj) {
      if (key == "_id") {
        out.ids.resize(el.ids_begin);
        el.has_body = el.has_body && out.fields.size() == el.fields_begin;
        auto err = read_ids(value, ctx, [&](std::string_view id) { out.ids.push_back(add_text(id)); });
        if (err) return err;
        el.body.offset = text.size();
        continue;
      }
      // A repeated key keeps its first place and takes the last value.
      auto f = out.fields.begin() + static_cast<ptrdiff_t>(el.fields_begin);
      while (f != out.fields.end() && !same(out[f->key], key)) ++f;
      if (f != out.fields.end()) {
        el.has_body = false;
      } else if (el.has_body && !needs_escape(key)) {
        auto* p = text.room(key.size() + 4);
        p[0] = ',';
        p[1] = '"';
        std::memcpy(p + 2, key.data(), key.size());
        p[key.size() + 2] = '"';
        p[key.size() + 3] = ':';
        text.wrote(key.size() + 4);
        out.fields.push_back({{text.size() - key.size() - 2, key.size()}, {}});
        f = out.fields.end() - 1;
      } else {
        el.has_body = false;
        out.fields.push_back({add_text(key), {}});
        f = out.fields.end() - 1;
      }
      f->value.offset = text.size();
      minify.append(text, value);
      f->value.size = text.size() - f->value.offset;
    }
    el.ids_end = out.ids.size();
    el.fields_end = out.fields.size();
    el.body.size = el.has_body ? text.size() - el.body.offset : 0;
    // Requests mostly hold elements of one shape: after the first, make room for all of them.
    if (out.elements.empty()) out.fields.reserve(out.fields.size() * element_count + 16);
    if (el.ids_begin == el.ids_end && ids == id_policy::required)
      return make_error(storage_errc::invalid_element, ctx + "_id is missing");
    out.elements.push_back(el);
    return caf::none;
  };
  if (doc->is_array()) {
    simdjson::dom::array arr;
    if (doc->get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0)
      return make_error(storage_errc::invalid_element, "expected an object or a non-empty array");
    if (arr.size() > max_batch_elements)
      return make_error(storage_errc::invalid_element,
                        "more than " + std::to_string(max_batch_elements) + " elements in one call");
    element_count = arr.size();
    out.elements.reserve(element_count);
    out.ids.reserve(element_count);
    size_t i = 0;
    for (auto e : arr)
      if (auto err = add(e, i++, true)) return err;
  } else if (auto err = add(*doc, 0, false)) {
    return err;
  }
  text.finish();
  return out;
}

caf::expected<std::vector<element_input>> parse_elements(std::string_view json, id_policy ids) {
  auto batch = parse_element_batch(json, ids);
  if (!batch) return std::move(batch.error());
  auto& b = *batch;
  std::vector<element_input> result(b.elements.size());
  for (size_t i = 0; i < b.elements.size(); ++i) {
    auto& e = b.elements[i];
    auto& in = result[i];
    in.ids.reserve(e.ids_end - e.ids_begin);
    for (auto k = e.ids_begin; k < e.ids_end; ++k) in.ids.emplace_back(b[b.ids[k]]);
    in.fields.reserve(e.fields_end - e.fields_begin);
    for (auto k = e.fields_begin; k < e.fields_end; ++k)
      in.fields.push_back(
          element_field{std::string{b[b.fields[k].key]}, std::string{b[b.fields[k].value]}});
  }
  return result;
}

element_batch make_element_batch(const std::vector<element_input>& in) {
  element_batch out;
  size_t bytes = 0;
  for (auto& e : in) {
    for (auto& id : e.ids) bytes += id.size();
    for (auto& f : e.fields) bytes += f.key.size() + f.value.size();
  }
  out.text.reserve(bytes);
  out.elements.reserve(in.size());
  for (auto& e : in) {
    element_batch::element el;
    el.ids_begin = out.ids.size();
    for (auto& id : e.ids) out.ids.push_back(out.add(id));
    el.ids_end = out.ids.size();
    el.fields_begin = out.fields.size();
    for (auto& f : e.fields) {
      auto k = out.add(f.key);
      out.fields.push_back({k, out.add(f.value)});
    }
    el.fields_end = out.fields.size();
    out.elements.push_back(el);
  }
  return out;
}

caf::expected<std::vector<std::string>> parse_ids(std::string_view json) {
  auto doc = parse_document(json);
  if (!doc) return std::move(doc.error());
  std::vector<std::string> out;
  auto err = read_ids(*doc, element_place{}, [&](std::string_view id) { out.emplace_back(id); });
  if (err) return err;
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
  // Room for the keys a change usually adds (`time`, a status) without moving every field.
  fields.reserve(obj.size() + 2);
  minifier minify;
  for (auto [key, value] : obj) {
    if (key == "_id") continue;
    fields.push_back(element_field{std::string{key}, {}});
    minify.append(fields.back().value, value);
  }
  return fields;
}

void append_json_string(std::string& out, std::string_view s) {
  // The escapes of RapidJSON's Writer, which wrote every element stored so far: control
  // characters (\b \t \n \f \r by name, others as \u00XX in upper case), quote and backslash;
  // everything else, UTF-8 included, verbatim. Hand-written because it runs for every key of
  // every element written, and a Writer needs its own buffer and a copy out of it.
  static constexpr char hex[] = "0123456789ABCDEF";
  out.push_back('"');
  size_t done = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + done, i - done);
    done = i + 1;
    out.push_back('\\');
    switch (c) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '\b': out.push_back('b'); break;
      case '\t': out.push_back('t'); break;
      case '\n': out.push_back('n'); break;
      case '\f': out.push_back('f'); break;
      case '\r': out.push_back('r'); break;
      default:
        out.append("u00", 3);
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 0xf]);
    }
  }
  out.append(s.data() + done, s.size() - done);
  out.push_back('"');
}

std::string serialize_element(std::string_view id, const std::vector<element_field>& fields,
                              bool drop_nulls) {
  std::string out;
  write_element(out, id, [&](const auto& visit) {
    for (auto& f : fields)
      if (!drop_nulls || !f.is_null()) visit(f.key, f.value);
  });
  return out;
}

void serialize_element(std::string& out, std::string_view id,
                       std::initializer_list<std::string_view> serialized_fields) {
  size_t size = id.size() + 10;
  for (auto part : serialized_fields) size += part.size();
  out.clear();
  if (needs_escape(id)) {
    out.reserve(size + 16);
    out.append(R"({"_id":)");
    append_json_string(out, id);
    for (auto part : serialized_fields) out.append(part.data(), part.size());
    out.push_back('}');
    return;
  }
  out.resize(size);
  char* p = out.data();
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(R"({"_id":")");
  put(id);
  *p++ = '"';
  for (auto part : serialized_fields) put(part);
  *p = '}';
}

void serialize_element(std::string& out, std::string_view id,
                       const std::vector<std::pair<std::string_view, std::string_view>>& fields) {
  write_element(out, id, [&](const auto& visit) {
    for (auto& [key, value] : fields) visit(key, value);
  });
}

std::optional<std::string> json_unquote(std::string_view json) {
  auto doc = parse_document(json);
  std::string_view s;
  if (!doc || doc->get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return std::string{s};
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  append_json_string(out, s);
  return out;
}

}  // namespace syncline::storage
