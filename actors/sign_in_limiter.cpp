#include "actors/sign_in_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace syncline::actors {

namespace {

std::string address_key(const std::string& host) { return std::string{"a\n"} + host; }

std::string pair_key(const std::string& host, std::string_view user) {
  return std::string{"u\n"} + host + "\n" + std::string{user};
}

}  // namespace

std::string sign_in_limiter::host_of(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    return std::string{address.substr(1, close == std::string_view::npos ? address.npos : close - 1)};
  }
  auto colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon)
    return std::string{address.substr(0, colon)};
  return std::string{address};
}

sign_in_limiter::bucket& sign_in_limiter::refill(const std::string& key, uint32_t capacity,
                                                 clock::time_point now) {
  auto [it, made] = buckets_.try_emplace(key);
  auto& b = it->second;
  if (made) {
    b.tokens = capacity;
    b.capacity = capacity;
    b.at = now;
    return b;
  }
  double per_second = static_cast<double>(capacity) /
                      static_cast<double>(std::max<int64_t>(1, limits_.window.count()));
  auto elapsed = std::chrono::duration<double>(now - b.at).count();
  if (elapsed > 0) {
    b.tokens = std::min<double>(capacity, b.tokens + elapsed * per_second);
    b.at = now;
  }
  b.capacity = capacity;
  return b;
}

std::optional<uint32_t> sign_in_limiter::admit(std::string_view user, std::string_view address,
                                               clock::time_point now) {
  if (buckets_.size() >= limits_.max_entries) prune(now);
  auto host = host_of(address);
  auto& by_address = refill(address_key(host), limits_.per_address, now);
  auto& by_pair = refill(pair_key(host, user), limits_.per_user_address, now);
  auto wait = [&](const bucket& b) -> uint32_t {
    if (b.tokens >= 1 - 1e-9) return 0;  // float noise never costs an attempt
    double per_second = static_cast<double>(b.capacity) /
                        static_cast<double>(std::max<int64_t>(1, limits_.window.count()));
    return static_cast<uint32_t>(std::max(1.0, std::ceil((1 - b.tokens) / per_second - 1e-9)));
  };
  auto longest = std::max(wait(by_address), wait(by_pair));
  if (longest > 0) return longest;
  by_address.tokens -= 1;
  by_pair.tokens -= 1;
  return std::nullopt;
}

void sign_in_limiter::succeeded(std::string_view user, std::string_view address,
                                clock::time_point now) {
  auto host = host_of(address);
  for (auto* b : {&refill(address_key(host), limits_.per_address, now),
                  &refill(pair_key(host, user), limits_.per_user_address, now)})
    b->tokens = std::min<double>(b->capacity, b->tokens + 1);
}

void sign_in_limiter::prune(clock::time_point now) {
  // Full buckets say nothing a fresh one would not.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    auto& b = it->second;
    double per_second = static_cast<double>(b.capacity) /
                        static_cast<double>(std::max<int64_t>(1, limits_.window.count()));
    double tokens = b.tokens + std::chrono::duration<double>(now - b.at).count() * per_second;
    if (tokens >= b.capacity)
      it = buckets_.erase(it);
    else
      ++it;
  }
  // Still too many (a flood from very many addresses): forget them all rather than grow.
  if (buckets_.size() >= limits_.max_entries) buckets_.clear();
}

}  // namespace syncline::actors
