// tests/storage/storage_test_util.hpp: small helpers shared by the storage suites.
#pragma once

#include <memory>
#include <string>

#include <boost/test/unit_test.hpp>
#include <caf/expected.hpp>

#include "storage/database.hpp"
#include "storage/error.hpp"

namespace syncline::test {

/// The error of a failed `expected` as text, or an empty string when it holds a value. Boost.Test
/// builds a message before it checks the condition, so `render(x.error())` cannot be the message
/// of a check that `x` holds a value.
template <class T>
std::string why(const caf::expected<T>& x) {
  return x ? std::string{} : storage::render(x.error());
}
inline std::string why(const caf::error& err) { return storage::render(err); }

/// Opens the database in `dir` or fails the current test with the reason.
inline std::unique_ptr<storage::database> open_db(const std::filesystem::path& dir) {
  auto db = storage::database::open({dir});
  BOOST_REQUIRE_MESSAGE(db, "open " << dir << ": " << why(db));
  return std::move(*db);
}

}  // namespace syncline::test
