// runtime/toml_read.hpp: reading TOML values for the node's settings (internal to runtime/:
// runtime/node_config.cpp and runtime/node_entities.cpp). Each reader returns a problem for
// people, or an empty string when it took the value.
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <toml++/toml.h>

#include "runtime/error.hpp"

namespace syncline::runtime::detail {

// What a setting accepts; string settings take a `--set` value as written even when it
// happens to parse as another TOML type (`--set node.name=1234`).
enum class value_kind : uint8_t { string, integer, boolean };

inline std::string type_name(const toml::node& v) {
  switch (v.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

inline std::string wrong_type(std::string_view expected, const toml::node& v) {
  return "expected " + std::string{expected} + ", got " + type_name(v);
}

inline std::string quote_toml(std::string_view s) {
  std::ostringstream out;
  out << toml::value<std::string>{std::string{s}};
  return out.str();
}

inline std::string read_string(const toml::node& v, std::string& out) {
  auto* s = v.as_string();
  if (s == nullptr) return wrong_type("a string", v);
  out = s->get();
  return {};
}

inline std::string read_strings(const toml::node& v, std::vector<std::string>& out) {
  auto* arr = v.as_array();
  if (arr == nullptr) return wrong_type("an array of strings", v);
  std::vector<std::string> items;
  for (auto& e : *arr) {
    auto* str = e.as_string();
    if (str == nullptr) return "expected an array of strings, found " + type_name(e);
    items.push_back(str->get());
  }
  out = std::move(items);
  return {};
}

inline std::string read_bool(const toml::node& v, bool& out) {
  auto* b = v.as_boolean();
  if (b == nullptr) return wrong_type("a boolean (true or false)", v);
  out = b->get();
  return {};
}

// An integer in [lo, hi] into `out`, of any integer type that holds that range.
template <class T>
std::string read_int(const toml::node& v, int64_t lo, int64_t hi, T& out) {
  auto* i = v.as_integer();
  if (i == nullptr) return wrong_type("an integer", v);
  int64_t x = i->get();
  if (x < lo || x > hi)
    return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
           std::to_string(x);
  out = static_cast<T>(x);
  return {};
}

inline std::string position(std::string_view source_name, const toml::source_region& where) {
  return std::string{source_name} + ":" + std::to_string(where.begin.line) + ":" +
         std::to_string(where.begin.column);
}

inline caf::error config_error(std::string text) {
  return make_error(runtime_errc::invalid_config, std::move(text));
}

}  // namespace syncline::runtime::detail
