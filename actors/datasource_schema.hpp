// actors/datasource_schema.hpp: the one description of a datasource's configuration.
//
// Every reader and writer of a datasource's settings goes through the table below: the TOML
// reader of the node's file (`[[datasource]]`, `--set datasource.<id>.<key>`), the API's JSON
// reader (create and PATCH), the API's view and `node --help`. A field names its key, its help,
// how to read it from a `config_value` (which both readers make from their own format) and how to
// show it; `datasource_problem` holds the rules that span fields. Two readers cannot disagree
// about a key's type or range because there is one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/sync_config.hpp"

namespace syncline::actors {

/// A configuration value as a reader found it, reduced to what the fields need. TOML and JSON
/// both map onto it: a TOML table or a JSON object is a `table` (members in the order written).
struct config_value {
  enum class kind : uint8_t {
    boolean,
    integer,      ///< fits int64_t: `integer`
    big_integer,  ///< above INT64_MAX (JSON only): `big`
    floating,
    string,
    array,
    table,
    other,  ///< a TOML date or time, which no field takes: `string` names it ("a date")
  };
  kind type = kind::string;
  bool boolean = false;
  int64_t integer = 0;
  uint64_t big = 0;
  double floating = 0;
  std::string string;
  std::vector<config_value> items;
  std::vector<std::pair<std::string, config_value>> members;

  static config_value of(bool b);
  static config_value of(int64_t i);
  static config_value of(uint64_t u);
  static config_value of(double d);
  static config_value of(std::string s);
  static config_value of(const std::vector<std::string>& strings);
  static config_value table_of(std::vector<std::pair<std::string, config_value>> members);

  /// "a string", "an integer", ... for messages.
  std::string type_name() const;
};

/// One key of a datasource's configuration.
struct datasource_field {
  std::string_view key;
  std::string_view help;
  /// Set when the datasource is made and never changed: `id`, `container`, `account`,
  /// `workspace` (the API takes them from the request's path).
  bool identity = false;
  /// Takes `v` into `c`; returns what is wrong (without the key: the reader names it and where
  /// it was written), or "". On error `c` is unchanged.
  std::string (*read)(const config_value& v, datasource_config& c) = nullptr;
  /// The value as the view shows it.
  config_value (*value)(const datasource_config& c) = nullptr;
  /// Whether the view shows the field for `c` (type-specific keys, aliases); null: always.
  bool (*shown)(const datasource_config& c) = nullptr;
  /// The default for `--help` when the value of a default configuration does not say it
  /// (`(required)`, `(its id)`); empty: that value.
  std::string_view default_text;
};

/// Every field, in the order the view and `--help` list them.
const std::vector<datasource_field>& datasource_fields();

/// The field named `key`, or null.
const datasource_field* find_datasource_field(std::string_view key);

/// The keys, comma-separated, for "unknown key" messages.
std::string datasource_field_names();

/// What is wrong with `c` as a whole, beyond single values: no volume, a folder without a path,
/// bad targets, a schedule or size range upside down; empty when nothing is. Whether the volumes
/// exist and whether targets overlap other datasources' are the node's questions
/// (`volume_problem`, `target_conflict`). A folder that does not exist is not a configuration
/// error: the datasource reports it when it runs.
std::string datasource_problem(const datasource_config& c);

/// The first volume `c` feeds that is not in `known`, as "volumes: no volume 'x' is defined";
/// empty when all exist.
std::string volume_problem(const datasource_config& c, const std::vector<std::string>& known);

/// "" when `text` is one of `words`, else "must be one of <the words>, got <quoted>": the check of
/// every setting that takes one of a few words (a datasource's `type`, a volume's `type`, ...).
/// `quoted` is `text` as the reader's format writes it.
template <class Words>
std::string word_problem(std::string_view text, const Words& words, const std::string& quoted) {
  std::string names;
  for (std::string_view w : words) {
    if (text == w) return {};
    names += names.empty() ? "" : ", ";
    names += w;
  }
  return "must be one of " + names + ", got " + quoted;
}

/// What is wrong with a container, account or workspace name (1 to 128 bytes of UTF-8 without
/// control bytes, `/` or `\`, not `.` or `..`), or "".
std::string part_problem(std::string_view s);

}  // namespace syncline::actors
