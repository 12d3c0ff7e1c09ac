#define BOOST_TEST_MODULE storage_codec
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "storage/codec.hpp"

using namespace syncline::storage;

namespace {

// RocksDB's default comparator: bytes compared as unsigned, a proper prefix sorts first.
int bytewise(std::string_view a, std::string_view b) {
  auto n = std::min(a.size(), b.size());
  if (int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n)) return c < 0 ? -1 : 1;
  if (a.size() == b.size()) return 0;
  return a.size() < b.size() ? -1 : 1;
}

std::mt19937_64& rng() {
  static std::mt19937_64 gen{[] {
    auto seed = std::random_device{}();
    BOOST_TEST_MESSAGE("codec_test seed " << seed);
    return seed;
  }()};
  return gen;
}

// Short strings over an alphabet rich in the bytes the string encoding treats specially.
std::string random_bytes(size_t max_len = 6) {
  static const char alphabet[] = {'\0', '\x01', '\x02', '\xfe', '\xff', 'a', 'b', '/'};
  std::uniform_int_distribution<size_t> len{0, max_len};
  std::uniform_int_distribution<size_t> pick{0, sizeof(alphabet) - 1};
  std::string s(len(rng()), ' ');
  for (auto& c : s) c = alphabet[pick(rng())];
  return s;
}

std::string enc_string(std::string_view s) {
  std::string out;
  codec::append_string(out, s);
  return out;
}

std::string enc_u64(uint64_t x) {
  std::string out;
  codec::append_u64(out, x);
  return out;
}

std::string enc_i32d(int32_t x) {
  std::string out;
  codec::append_i32_descending(out, x);
  return out;
}

int sign(int64_t x) { return (x > 0) - (x < 0); }

}  // namespace

BOOST_AUTO_TEST_CASE(unsigned_integers_sort_numerically_and_round_trip) {
  std::vector<uint64_t> values{0, 1, 255, 256, 65535, 65536, uint64_t{1} << 32,
                               std::numeric_limits<uint64_t>::max() - 1,
                               std::numeric_limits<uint64_t>::max()};
  for (int i = 0; i < 2000; ++i) values.push_back(rng()() >> (rng()() % 64));
  for (auto a : values) {
    auto ea = enc_u64(a);
    BOOST_REQUIRE_EQUAL(ea.size(), 8u);
    std::string_view in{ea};
    uint64_t back = 0;
    BOOST_REQUIRE(codec::read_u64(in, back));
    BOOST_CHECK_EQUAL(back, a);
    BOOST_CHECK(in.empty());
  }
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    auto a = values[i];
    auto b = values[i + 1];
    BOOST_CHECK_EQUAL(bytewise(enc_u64(a), enc_u64(b)), a < b ? -1 : (a == b ? 0 : 1));
  }
  for (uint32_t x : {0u, 1u, 0x01020304u, 0xffffffffu}) {
    std::string e;
    codec::append_u32(e, x);
    BOOST_REQUIRE_EQUAL(e.size(), 4u);
    std::string_view in{e};
    uint32_t back = 0;
    BOOST_REQUIRE(codec::read_u32(in, back));
    BOOST_CHECK_EQUAL(back, x);
  }
  std::string e;
  codec::append_u32(e, 0x01020304u);
  BOOST_CHECK_EQUAL(e, std::string("\x01\x02\x03\x04"));
}

BOOST_AUTO_TEST_CASE(signed_descending_puts_larger_values_first) {
  std::vector<int32_t> values{std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::min() + 1,
                              -65536, -2, -1, 0, 1, 2, 7, 65536,
                              std::numeric_limits<int32_t>::max() - 1,
                              std::numeric_limits<int32_t>::max()};
  std::uniform_int_distribution<int32_t> any{std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max()};
  std::uniform_int_distribution<int32_t> small{-5, 5};
  for (int i = 0; i < 1000; ++i) values.push_back(any(rng()));
  for (int i = 0; i < 200; ++i) values.push_back(small(rng()));
  for (auto a : values) {
    auto ea = enc_i32d(a);
    std::string_view in{ea};
    int32_t back = 0;
    BOOST_REQUIRE(codec::read_i32_descending(in, back));
    BOOST_CHECK_EQUAL(back, a);
    BOOST_CHECK(in.empty());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    auto a = values[i];
    auto b = values[(i * 7919 + 13) % values.size()];
    // Descending: a sorts before b exactly when a > b.
    BOOST_CHECK_EQUAL(bytewise(enc_i32d(a), enc_i32d(b)), a > b ? -1 : (a == b ? 0 : 1));
  }
}

BOOST_AUTO_TEST_CASE(strings_sort_like_their_bytes_and_are_prefix_free) {
  std::vector<std::string> values{"", std::string{"\0", 1}, std::string{"\0\0", 2},
                                  std::string{"\0\xff", 2}, std::string{"\0\x01", 2}, "\x01",
                                  "\xff", "\xff\xff", "a", "a/", "a0", "ab"};
  for (int i = 0; i < 400; ++i) values.push_back(random_bytes());
  for (auto& a : values) {
    auto ea = enc_string(a);
    for (auto& b : values) {
      auto eb = enc_string(b);
      BOOST_CHECK_EQUAL(bytewise(ea, eb), bytewise(a, b));
      if (a != b)
        BOOST_CHECK_MESSAGE(eb.compare(0, ea.size(), ea) != 0 || eb.size() < ea.size(),
                            "encoding of one string is a prefix of another's");
    }
  }
}

BOOST_AUTO_TEST_CASE(composite_keys_sort_field_by_field) {
  // The datastore and queue keys: (string, u64) and (string, descending i32, u64).
  struct key {
    std::string s;
    int32_t p;
    uint64_t n;
  };
  std::vector<key> keys;
  std::uniform_int_distribution<int32_t> prio{-3, 3};
  std::uniform_int_distribution<uint64_t> seq{0, 5};
  for (int i = 0; i < 600; ++i) keys.push_back({random_bytes(3), prio(rng()), seq(rng())});
  auto encode = [](const key& k) {
    std::string out;
    codec::append_string(out, k.s);
    codec::append_i32_descending(out, k.p);
    codec::append_u64(out, k.n);
    return out;
  };
  auto expected_order = [](const key& a, const key& b) {
    if (int c = bytewise(a.s, b.s)) return c;
    if (a.p != b.p) return a.p > b.p ? -1 : 1;
    return sign(static_cast<int64_t>(a.n > b.n) - static_cast<int64_t>(a.n < b.n));
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    for (size_t j = 0; j < keys.size(); j += 7) {
      BOOST_CHECK_EQUAL(bytewise(encode(keys[i]), encode(keys[j])),
                        expected_order(keys[i], keys[j]));
    }
  }
  // And every field reads back, in sequence.
  for (auto& k : keys) {
    auto e = encode(k);
    std::string_view in{e};
    key back{};
    BOOST_REQUIRE(codec::read_string(in, back.s));
    BOOST_REQUIRE(codec::read_i32_descending(in, back.p));
    BOOST_REQUIRE(codec::read_u64(in, back.n));
    BOOST_CHECK(in.empty());
    BOOST_CHECK(back.s == k.s && back.p == k.p && back.n == k.n);
  }
}

BOOST_AUTO_TEST_CASE(read_string_round_trips_and_stops_at_the_terminator) {
  for (int i = 0; i < 500; ++i) {
    auto s = random_bytes(12);
    auto rest = random_bytes(4);
    auto e = enc_string(s) + rest;
    std::string_view in{e};
    std::string back = "junk";
    BOOST_REQUIRE(codec::read_string(in, back));
    BOOST_CHECK(back == s);
    BOOST_CHECK(in == rest);
  }
}

BOOST_AUTO_TEST_CASE(malformed_keys_are_refused) {
  std::string s;
  for (std::string bad : std::vector<std::string>{
           "", "abc", std::string{"a\0", 2}, std::string{"\0", 1}, std::string{"a\0\x02", 3},
           std::string{"a\0\x00", 3}, std::string{"a\0\xff", 3}, std::string{"\0\xff\0", 3}}) {
    std::string_view in{bad};
    BOOST_CHECK_MESSAGE(!codec::read_string(in, s), "accepted " << bad.size() << " bytes");
  }
  uint64_t u64 = 0;
  uint32_t u32 = 0;
  int32_t i32 = 0;
  std::string seven(7, '\x01');
  std::string three(3, '\x01');
  std::string_view in7{seven};
  std::string_view in3{three};
  BOOST_CHECK(!codec::read_u64(in7, u64));
  BOOST_CHECK_EQUAL(in7.size(), 7u);
  BOOST_CHECK(!codec::read_u32(in3, u32));
  BOOST_CHECK(!codec::read_i32_descending(in3, i32));
  BOOST_CHECK_EQUAL(in3.size(), 3u);
}

BOOST_AUTO_TEST_CASE(prefix_successor_bounds_every_key_with_the_prefix) {
  BOOST_CHECK(!codec::prefix_successor(""));
  BOOST_CHECK(!codec::prefix_successor("\xff\xff"));
  BOOST_CHECK_EQUAL(*codec::prefix_successor("ab"), "ac");
  BOOST_CHECK_EQUAL(*codec::prefix_successor("a\xff\xff"), "b");
  BOOST_CHECK_EQUAL(*codec::prefix_successor(std::string{"a\0", 2}), std::string("a\x01"));
  BOOST_CHECK_EQUAL(*codec::prefix_successor("\xfe"), "\xff");
  for (int i = 0; i < 300; ++i) {
    auto prefix = random_bytes(4);
    auto succ = codec::prefix_successor(prefix);
    for (int j = 0; j < 30; ++j) {
      auto other = random_bytes(6);
      auto with = prefix + other;
      if (succ) {
        BOOST_CHECK(bytewise(with, *succ) < 0);
        // Every key at or after the successor lies outside the prefix...
        if (bytewise(other, *succ) >= 0) BOOST_CHECK(other.compare(0, prefix.size(), prefix) != 0);
        // ...and every key outside it but after the prefix is at or after the successor.
        if (other.compare(0, prefix.size(), prefix) != 0 && bytewise(other, prefix) > 0)
          BOOST_CHECK(bytewise(other, *succ) >= 0);
      } else {
        // No successor: every key after the prefix starts with it.
        if (bytewise(other, prefix) >= 0) BOOST_CHECK(other.compare(0, prefix.size(), prefix) == 0);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(writer_and_reader_round_trip_random_records) {
  std::uniform_int_distribution<int> kind{0, 3};
  for (int round = 0; round < 200; ++round) {
    std::vector<std::tuple<int, uint64_t, int64_t, std::string>> fields;
    std::string out;
    codec::writer w{out};
    for (int i = 0; i < 12; ++i) {
      int k = kind(rng());
      uint64_t u = rng()() >> (rng()() % 64);
      auto s = static_cast<int64_t>(rng()()) >> (rng()() % 64);
      auto b = random_bytes(20);
      fields.emplace_back(k, u, s, b);
      switch (k) {
        case 0: w.u8(static_cast<uint8_t>(u)); break;
        case 1: w.varint(u); break;
        case 2: w.svarint(s); break;
        default: w.bytes(b); break;
      }
    }
    codec::reader r{out};
    for (auto& [k, u, s, b] : fields) {
      switch (k) {
        case 0: {
          uint8_t x = 0;
          r.u8(x);
          BOOST_CHECK_EQUAL(x, static_cast<uint8_t>(u));
          break;
        }
        case 1: {
          uint64_t x = 0;
          r.varint(x);
          BOOST_CHECK_EQUAL(x, u);
          break;
        }
        case 2: {
          int64_t x = 0;
          r.svarint(x);
          BOOST_CHECK_EQUAL(x, s);
          break;
        }
        default: {
          std::string x;
          r.bytes(x);
          BOOST_CHECK(x == b);
          break;
        }
      }
    }
    BOOST_CHECK(r.ok());
    BOOST_CHECK(r.at_end());
  }
}

BOOST_AUTO_TEST_CASE(varint_edges_round_trip) {
  for (uint64_t x : {uint64_t{0}, uint64_t{127}, uint64_t{128}, uint64_t{16383}, uint64_t{16384},
                     std::numeric_limits<uint64_t>::max()}) {
    std::string out;
    codec::writer{out}.varint(x);
    uint64_t back = 1;
    codec::reader r{out};
    r.varint(back);
    BOOST_CHECK(r.ok() && r.at_end());
    BOOST_CHECK_EQUAL(back, x);
  }
  std::string max_out;
  codec::writer{max_out}.varint(std::numeric_limits<uint64_t>::max());
  BOOST_CHECK_EQUAL(max_out.size(), 10u);
  for (int64_t x : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0}, int64_t{1},
                    std::numeric_limits<int64_t>::max()}) {
    std::string out;
    codec::writer{out}.svarint(x);
    int64_t back = 7;
    codec::reader r{out};
    r.svarint(back);
    BOOST_CHECK(r.ok() && r.at_end());
    BOOST_CHECK_EQUAL(back, x);
  }
  std::string small;
  codec::writer{small}.svarint(-1).svarint(1);
  BOOST_CHECK_EQUAL(small, std::string("\x01\x02"));
}

BOOST_AUTO_TEST_CASE(reader_refuses_truncated_and_oversized_input_and_stays_failed) {
  uint8_t b = 0;
  uint64_t v = 0;
  uint32_t v32 = 0;
  std::string s;
  {
    codec::reader r{""};
    r.u8(b);
    BOOST_CHECK(!r.ok());
  }
  {
    codec::reader r{"\x80"};  // continuation bit with nothing after it
    r.varint(v);
    BOOST_CHECK(!r.ok());
  }
  {
    std::string eleven = std::string(11, '\x80') + '\x01';  // longer than any 64-bit varint
    codec::reader r{eleven};
    r.varint(v);
    BOOST_CHECK(!r.ok());
  }
  {
    // Ten bytes whose last one carries bits beyond the 64th: a value no writer produces.
    std::string wide = std::string(9, '\xff') + '\x7f';
    codec::reader r{wide};
    r.varint(v);
    BOOST_CHECK_MESSAGE(!r.ok(), "a varint wider than 64 bits was read as " << v);
  }
  {
    std::string out;
    codec::writer{out}.varint(uint64_t{1} << 32);
    codec::reader r{out};
    r.varint32(v32);
    BOOST_CHECK(!r.ok());
  }
  {
    codec::reader r{"\x05" "abc"};  // says five bytes, holds three
    r.bytes(s);
    BOOST_CHECK(!r.ok());
  }
  {
    std::string huge;
    codec::writer{huge}.varint(std::numeric_limits<uint64_t>::max());
    huge += "x";
    codec::reader r{huge};
    r.bytes(s);
    BOOST_CHECK(!r.ok());
  }
  {
    // After a failure every read fails, even where the bytes would read fine: the length 200
    // is refused without consuming the three bytes after it.
    codec::reader r{"\xc8\x01xyz"};
    r.bytes(s);
    BOOST_CHECK(!r.ok());
    b = 42;
    r.u8(b);
    BOOST_CHECK(!r.ok());
    BOOST_CHECK_EQUAL(b, 42);
    r.bytes(s);
    BOOST_CHECK(!r.ok());
  }
}

BOOST_AUTO_TEST_CASE(reader_survives_random_garbage) {
  // Whatever the bytes, reads stay within bounds (ASan checks) and end in a definite state.
  for (int round = 0; round < 3000; ++round) {
    auto garbage = random_bytes(24);
    codec::reader r{garbage};
    uint8_t b = 0;
    uint64_t v = 0;
    int64_t sv = 0;
    uint32_t v32 = 0;
    std::string s;
    r.u8(b).varint(v).bytes(s).svarint(sv).varint32(v32).bytes(s);
    if (r.ok()) BOOST_CHECK(s.size() <= garbage.size());
  }
}
