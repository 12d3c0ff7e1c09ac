// storage/codec.hpp: order-preserving key encodings and a small binary value format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace syncline::storage::codec {

// --- keys: memcmp order of the encoding == the order we want ------------------------------

/// Appends `x` big-endian, so unsigned integers sort numerically.
void append_u64(std::string& out, uint64_t x);
void append_u32(std::string& out, uint32_t x);

/// Appends a signed integer so that *larger* values sort *first* (the queue's descending
/// priority).
void append_i32_descending(std::string& out, int32_t x);

/// Appends `s` so that encoded strings sort like the strings themselves and the encoding of one
/// string is never a prefix of another's: every 0x00 byte becomes 0x00 0xFF and the string ends
/// with 0x00 0x01. Any bytes are allowed, NUL included.
void append_string(std::string& out, std::string_view s);

/// The smallest key greater than every key that starts with `prefix`, or nothing when there is
/// none (the prefix is all 0xFF bytes).
std::optional<std::string> prefix_successor(std::string_view prefix);

/// Reads back what the appenders wrote, advancing `in`. Return false on malformed input.
bool read_u64(std::string_view& in, uint64_t& x);
bool read_u32(std::string_view& in, uint32_t& x);
bool read_i32_descending(std::string_view& in, int32_t& x);
bool read_string(std::string_view& in, std::string& s);

// --- values: compact, versioned by their owner ----------------------------------------------

/// Writes LEB128 varints, zigzag signed varints and length-prefixed bytes.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  writer& u8(uint8_t x) {
    out_.push_back(static_cast<char>(x));
    return *this;
  }
  writer& varint(uint64_t x);
  writer& svarint(int64_t x) {
    return varint((static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63));
  }
  writer& bytes(std::string_view s) {
    varint(s.size());
    out_.append(s.data(), s.size());
    return *this;
  }

 private:
  std::string& out_;
};

/// Reads what `writer` wrote. Every read checks bounds; after a failed read `ok()` is false and
/// every further read fails, so a caller checks once at the end.
class reader {
 public:
  explicit reader(std::string_view in) : in_(in) {}
  reader& u8(uint8_t& x);
  reader& varint(uint64_t& x);
  reader& varint32(uint32_t& x);
  reader& svarint(int64_t& x);
  reader& bytes(std::string& s);
  bool ok() const noexcept { return ok_; }
  bool at_end() const noexcept { return in_.empty(); }

 private:
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace syncline::storage::codec
