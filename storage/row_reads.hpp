// storage/row_reads.hpp: many datastore rows read at once (one RocksDB MultiGet), for the paths
// that handle rows in groups (a batch of small files, a batch of completions).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include <caf/expected.hpp>

#include "storage/datastore.hpp"

namespace syncline::storage {

class database;

/// A row's address: the datastore scope (datastore::get's first argument) and the reference.
struct row_key {
  std::string_view scope;
  std::string_view reference;
};

/// The rows at `keys` in one MultiGet: out[i] is what datastore::get(keys[i].scope,
/// keys[i].reference) returns (the row, empty when there is none, or that row's own error: a
/// damaged row fails its own read only).
[[nodiscard]] std::vector<caf::expected<std::optional<datastore_row>>> read_rows(
    const database& db, const std::vector<row_key>& keys);

}  // namespace syncline::storage
