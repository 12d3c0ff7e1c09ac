// storage/error.hpp: the storage folder's one error enum.
#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace syncline::storage {

/// Everything a storage call can fail with. RocksDB statuses and errno values are converted
/// into these in exactly one place (`storage/status.cpp`); nothing above `storage/` sees
/// `rocksdb::Status`.
enum class storage_errc : uint8_t {
  /// The disk or the file system failed; retrying later may succeed.
  io_error = 1,
  /// RocksDB is busy, timed out or asked to try again; retrying shortly will succeed.
  busy,
  /// Stored data is damaged or was written by something else; the node must stop.
  corruption,
  /// The database was written with another schema version than this build reads.
  schema_mismatch,
  /// Another process holds the data directory.
  locked,
  /// The requested record does not exist.
  not_found,
  /// A create named a record that already exists.
  already_exists,
  /// The input is not valid JSON (malformed, truncated, invalid UTF-8).
  invalid_json,
  /// The input is valid JSON but not an acceptable element (not an object, bad `_id`, too big).
  invalid_element,
  /// Any other argument a caller passed is out of range or malformed.
  invalid_argument,
  /// The record is locked by another user.
  locked_by_other,
  /// The database has been closed or was never opened.
  closed,
};

/// Renders the enum value's name, e.g. `"schema_mismatch"`.
const char* to_string(storage_errc x) noexcept;

/// The category atom under which storage errors travel in `caf::error`.
constexpr caf::atom_value storage_category = caf::atom("storage");

// Declared right after the enum (see CAF-0.17.md, pitfall 4) so that `caf::error e = errc;`
// and `e == errc` work everywhere.
caf::error make_error(storage_errc x, std::string context = {});

/// Whether `err` belongs to the storage category and carries `code`.
bool is(const caf::error& err, storage_errc code) noexcept;

/// Renders an error of the storage category for `actor_system_config::add_error_category`,
/// and for logs outside an actor system: `"schema_mismatch: <context>"`.
std::string render(const caf::error& err);

}  // namespace syncline::storage
