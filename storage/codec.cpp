#include "storage/codec.hpp"

namespace syncline::storage::codec {

void append_u64(std::string& out, uint64_t x) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
  out.append(buf, 8);
}

void append_u32(std::string& out, uint32_t x) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
  out.append(buf, 4);
}

void append_i32_descending(std::string& out, int32_t x) {
  // Flipping the sign bit orders signed values like unsigned ones; inverting every bit then
  // reverses that order.
  append_u32(out, ~(static_cast<uint32_t>(x) ^ 0x80000000u));
}

void append_string(std::string& out, std::string_view s) {
  for (char c : s) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  out.push_back('\0');
  out.push_back('\x01');
}

std::optional<std::string> prefix_successor(std::string_view prefix) {
  std::string s{prefix};
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

bool read_u64(std::string_view& in, uint64_t& x) {
  if (in.size() < 8) return false;
  x = 0;
  for (size_t i = 0; i < 8; ++i) x = (x << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(8);
  return true;
}

bool read_u32(std::string_view& in, uint32_t& x) {
  if (in.size() < 4) return false;
  x = 0;
  for (size_t i = 0; i < 4; ++i) x = (x << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(4);
  return true;
}

bool read_i32_descending(std::string_view& in, int32_t& x) {
  uint32_t u = 0;
  if (!read_u32(in, u)) return false;
  x = static_cast<int32_t>(~u ^ 0x80000000u);
  return true;
}

bool read_string(std::string_view& in, std::string& s) {
  s.clear();
  for (size_t i = 0; i + 1 < in.size(); ++i) {
    if (in[i] != '\0') {
      s.push_back(in[i]);
      continue;
    }
    if (in[i + 1] == '\x01') {
      in.remove_prefix(i + 2);
      return true;
    }
    if (in[i + 1] != '\xff') return false;
    s.push_back('\0');
    ++i;
  }
  return false;
}

writer& writer::varint(uint64_t x) {
  while (x >= 0x80) {
    out_.push_back(static_cast<char>((x & 0x7f) | 0x80));
    x >>= 7;
  }
  out_.push_back(static_cast<char>(x));
  return *this;
}

reader& reader::u8(uint8_t& x) {
  if (!ok_ || in_.empty()) {
    ok_ = false;
    return *this;
  }
  x = static_cast<uint8_t>(in_[0]);
  in_.remove_prefix(1);
  return *this;
}

reader& reader::varint(uint64_t& x) {
  x = 0;
  if (!ok_) return *this;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (in_.empty()) break;
    auto b = static_cast<unsigned char>(in_[0]);
    in_.remove_prefix(1);
    // The tenth byte holds only the 64th bit; more would be silently cut off, so the bytes
    // cannot be something `writer` wrote.
    if (shift == 63 && (b & 0x7e) != 0) break;
    x |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return *this;
  }
  ok_ = false;
  return *this;
}

reader& reader::varint32(uint32_t& x) {
  uint64_t v = 0;
  varint(v);
  if (v > UINT32_MAX) ok_ = false;
  x = static_cast<uint32_t>(v);
  return *this;
}

reader& reader::svarint(int64_t& x) {
  uint64_t u = 0;
  varint(u);
  x = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return *this;
}

reader& reader::bytes(std::string& s) {
  uint64_t n = 0;
  varint(n);
  if (!ok_ || n > in_.size()) {
    ok_ = false;
    return *this;
  }
  s.assign(in_.data(), static_cast<size_t>(n));
  in_.remove_prefix(static_cast<size_t>(n));
  return *this;
}

}  // namespace syncline::storage::codec
