// storage/ulid.hpp: generated identifiers.
#pragma once

#include <cstdint>
#include <string>

namespace syncline::storage {

/// Returns a new ULID: 26 characters of Crockford base32, 48 bits of `now_ms` then 80 random
/// bits (libsodium). Within one process, ids made in the same millisecond increase, so ids sort
/// in creation order. Thread-safe.
std::string make_ulid(int64_t now_ms);

/// Milliseconds since the Unix epoch, from the system clock.
int64_t epoch_ms() noexcept;

}  // namespace syncline::storage
