// actors/sign_in_limiter.hpp: how many sign-in attempts a client may make. Each (user, client
// address) pair and each client address has a bucket of attempts that refills steadily; an
// attempt takes one, a successful one gives it back. So a stranger guessing the admin's
// password from elsewhere never locks the admin out (the admin's own pair and address keep
// their attempts), and one address cannot try many users quickly either.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace syncline::actors {

struct sign_in_limits {
  /// Attempts per (user, address) at once, refilled over `window`.
  uint32_t per_user_address = 5;
  /// Attempts per address at once (any users), refilled over `window`.
  uint32_t per_address = 30;
  std::chrono::seconds window{60};
  /// Buckets remembered at most; beyond it, full ones are forgotten first.
  size_t max_entries = 100000;
};

class sign_in_limiter {
 public:
  using clock = std::chrono::steady_clock;

  explicit sign_in_limiter(sign_in_limits limits = {}) : limits_(limits) {}

  /// Takes an attempt for `user` from `address` (`"127.0.0.1:50312"` or `"[::1]:50312"`; the
  /// port is ignored). Nullopt when it may go ahead, else the seconds (at least 1) until it
  /// may try again; a refused attempt takes nothing.
  std::optional<uint32_t> admit(std::string_view user, std::string_view address,
                                clock::time_point now);

  /// The attempt succeeded: it is given back to both buckets.
  void succeeded(std::string_view user, std::string_view address, clock::time_point now);

  /// Buckets remembered (for tests and status).
  size_t size() const noexcept { return buckets_.size(); }

  /// The host part of `"ip:port"` / `"[v6]:port"`.
  static std::string host_of(std::string_view address);

 private:
  struct bucket {
    double tokens = 0;
    uint32_t capacity = 0;
    clock::time_point at;
  };
  // Refills `b` (or makes it full) as of `now`; returns it.
  bucket& refill(const std::string& key, uint32_t capacity, clock::time_point now);
  void prune(clock::time_point now);

  sign_in_limits limits_;
  std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace syncline::actors
