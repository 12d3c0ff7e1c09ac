#include "storage/detail/compact_batch.hpp"

#include <cstdint>
#include <cstring>

#include <simdjson.h>

namespace syncline::storage::detail {

namespace {

// Deeper input goes to the general parser, which enforces max_json_depth.
constexpr size_t max_depth = 32;
// Integers of at most this many digits fit an int64, which the parser writes back unchanged.
constexpr size_t max_digits = 18;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Whether one of the eight bytes of `v` is a quote, a backslash or a control character.
bool has_special_byte(uint64_t v) {
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t highs = 0x8080808080808080ull;
  auto has_zero_byte = [](uint64_t x) { return (x - ones) & ~x & highs; };
  uint64_t below_space = (v - 0x20 * ones) & ~v & highs;
  return (below_space | has_zero_byte(v ^ ('"' * ones)) | has_zero_byte(v ^ ('\\' * ones))) != 0;
}

// Reads the subset of JSON that the general parser would write back byte for byte; every
// method returns false at anything else, leaving the decision to the general parser.
struct scanner {
  const char* p;
  const char* end;

  bool at(char c) const { return p < end && *p == c; }
  void skip_space() {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  }
  bool starts_with(std::string_view s) const {
    return static_cast<size_t>(end - p) >= s.size() && std::memcmp(p, s.data(), s.size()) == 0;
  }

  // A string without escapes or control characters at `p`; `s` is its content.
  bool string(std::string_view& s) {
    if (!at('"')) return false;
    const char* start = ++p;
    for (uint64_t v = 0; p + 8 <= end; p += 8) {
      std::memcpy(&v, p, 8);
      if (has_special_byte(v)) break;
    }
    for (; p < end; ++p) {
      auto c = static_cast<unsigned char>(*p);
      if (c == '"') {
        s = {start, static_cast<size_t>(p - start)};
        ++p;
        return true;
      }
      if (c == '\\' || c < 0x20) return false;
    }
    return false;
  }

  // An integer in its shortest form: no fraction, exponent, leading zero or minus zero.
  bool integer() {
    const char* start = p;
    if (at('-')) ++p;
    const char* digits = p;
    if (at('0')) {
      ++p;
      if (digits != start) return false;  // -0
    } else {
      while (p < end && is_digit(*p)) ++p;
    }
    auto count = static_cast<size_t>(p - digits);
    if (count == 0 || count > max_digits) return false;
    return !(p < end && (*p == '.' || *p == 'e' || *p == 'E' || is_digit(*p)));
  }

  bool word(std::string_view w) {
    if (!starts_with(w)) return false;
    p += w.size();
    return true;
  }

  // An array or an object (`close` says which) at `p`, its members compact.
  bool container(char close, size_t depth) {
    if (++depth > max_depth) return false;
    ++p;
    if (at(close)) return ++p, true;
    for (std::string_view key;;) {
      if (close == '}') {
        if (!string(key) || !at(':')) return false;
        ++p;
      }
      if (!value(depth)) return false;
      if (at(close)) return ++p, true;
      if (!at(',')) return false;
      ++p;
    }
  }

  bool value(size_t depth) {
    if (p >= end) return false;
    std::string_view s;
    switch (*p) {
      case '"': return string(s);
      case 't': return word("true");
      case 'f': return word("false");
      case 'n': return word("null");
      case '[': return container(']', depth);
      case '{': return container('}', depth);
      default: return integer();
    }
  }
};

// One element at `sc.p`, appended to `out` as parse_element_batch lays it out: its id, then its
// fields as `,"key":value` each (the body), copied from the input in one piece.
bool element(scanner& sc, element_batch& out, id_policy ids) {
  if (!sc.at('{')) return false;
  ++sc.p;
  element_batch::element el;
  el.ids_begin = out.ids.size();
  el.fields_begin = out.fields.size();
  el.has_body = true;
  auto& text = out.text;
  bool comma_first = false;  // the input holds the body's leading comma (after an `_id`)
  if (sc.starts_with(R"("_id":)")) {
    sc.p += 6;
    std::string_view id;
    if (!sc.string(id) || validate_id(id)) return false;
    out.ids.push_back({text.size(), id.size()});
    text.append(id.data(), id.size());
    comma_first = true;
  }
  el.body.offset = text.size();
  if (!comma_first && !sc.at('}')) text.push_back(',');
  const char* body = sc.p;  // the input copied to text.size()
  size_t base = text.size();
  auto key_at = [&](const element_batch::field& f) {
    return std::string_view{body + (f.key.offset - base), f.key.size};
  };
  bool need_comma = comma_first;
  while (!sc.at('}')) {
    if (need_comma) {
      if (!sc.at(',')) return false;
      ++sc.p;
    }
    need_comma = true;
    std::string_view key;
    if (!sc.string(key) || !sc.at(':') || key == "_id") return false;
    ++sc.p;
    for (auto k = el.fields_begin; k < out.fields.size(); ++k) {
      auto other = key_at(out.fields[k]);
      // The general parser merges repeats. Keys mostly differ in size or first byte.
      if (other.size() == key.size() && (key.empty() || (other[0] == key[0] && other == key)))
        return false;
    }
    const char* value = sc.p;
    if (!sc.value(1)) return false;
    out.fields.push_back({{base + static_cast<size_t>(key.data() - body), key.size()},
                          {base + static_cast<size_t>(value - body),
                           static_cast<size_t>(sc.p - value)}});
  }
  text.append(body, static_cast<size_t>(sc.p - body));
  ++sc.p;
  el.body.size = text.size() - el.body.offset;
  el.ids_end = out.ids.size();
  el.fields_end = out.fields.size();
  if (el.ids_begin == el.ids_end && ids == id_policy::required) return false;
  out.elements.push_back(el);
  return true;
}

}  // namespace

std::optional<element_batch> parse_compact_batch(std::string_view json, id_policy ids) {
  if (!simdjson::validate_utf8(json.data(), json.size())) return std::nullopt;
  scanner sc{json.data(), json.data() + json.size()};
  element_batch out;
  // The batch's text is never longer than the input: an element loses its braces and gains
  // at most a comma.
  out.text.reserve(json.size());
  sc.skip_space();
  if (sc.at('[')) {
    ++sc.p;
    sc.skip_space();
    if (sc.at(']')) return std::nullopt;
    for (;;) {
      if (out.elements.size() == max_batch_elements) return std::nullopt;
      if (!element(sc, out, ids)) return std::nullopt;
      if (out.elements.size() == 1) {
        // Requests mostly hold elements of one shape and size: room for as many as fit.
        auto used = static_cast<size_t>(sc.p - json.data());
        auto guess = json.size() / used + 1;
        out.elements.reserve(guess);
        out.ids.reserve(guess);
        out.fields.reserve(guess * out.fields.size() + 16);
      }
      sc.skip_space();
      if (sc.at(',')) {
        ++sc.p;
        sc.skip_space();
      } else if (sc.at(']')) {
        ++sc.p;
        break;
      } else {
        return std::nullopt;
      }
    }
  } else if (!element(sc, out, ids)) {
    return std::nullopt;
  }
  sc.skip_space();
  if (sc.p != sc.end) return std::nullopt;
  return out;
}

}  // namespace syncline::storage::detail
