#include "storage/ulid.hpp"

#include <array>
#include <chrono>
#include <cstdlib>
#include <mutex>

#include <sodium.h>

namespace syncline::storage {

namespace {

constexpr char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct ulid_state {
  std::mutex mtx;
  int64_t last_ms = -1;
  std::array<uint8_t, 10> last_random{};
};

ulid_state& state() {
  static ulid_state s = [] {
    // sodium_init is idempotent and thread-safe; it seeds the random generator.
    if (sodium_init() < 0) std::abort();
    return ulid_state{};
  }();
  return s;
}

// Adds one to the 80-bit random part; on the (astronomically unlikely) overflow the caller
// moves to the next millisecond.
bool increment(std::array<uint8_t, 10>& r) {
  for (auto i = r.size(); i-- > 0;) {
    if (++r[i] != 0) return true;
  }
  return false;
}

}  // namespace

std::string make_ulid(int64_t now_ms) {
  auto& s = state();
  std::array<uint8_t, 16> bytes{};
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    if (now_ms <= s.last_ms) {
      now_ms = s.last_ms;
      if (!increment(s.last_random)) {
        ++now_ms;
        randombytes_buf(s.last_random.data(), s.last_random.size());
      }
    } else {
      randombytes_buf(s.last_random.data(), s.last_random.size());
    }
    s.last_ms = now_ms;
    auto t = static_cast<uint64_t>(now_ms);
    for (int i = 5; i >= 0; --i) {
      bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(t & 0xff);
      t >>= 8;
    }
    std::copy(s.last_random.begin(), s.last_random.end(), bytes.begin() + 6);
  }
  // 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
  std::string out(26, '0');
  uint64_t hi = 0;
  uint64_t lo = 0;
  for (size_t i = 0; i < 8; ++i) hi = (hi << 8) | bytes[i];
  for (size_t i = 8; i < 16; ++i) lo = (lo << 8) | bytes[i];
  for (int i = 25; i >= 0; --i) {
    out[static_cast<size_t>(i)] = crockford[lo & 31];
    lo = (lo >> 5) | (hi << 59);
    hi >>= 5;
  }
  return out;
}

int64_t epoch_ms() noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace syncline::storage
