// actors/failure_policy.hpp: the one place that decides retry, no retry, or fatal.
#pragma once

#include <chrono>
#include <cstdint>

#include <caf/error.hpp>

namespace syncline::actors {

enum class failure_class : uint8_t {
  retry,     ///< transient: the item (or actor) goes `failed` and is retried with backoff
  no_retry,  ///< needs a person: the item (or actor) goes `error` and waits
  fatal,     ///< the node cannot go on safely (storage corruption): stop loudly
};

const char* to_string(failure_class c) noexcept;

/// Classifies any error syncline produces: connector, storage, actors, runtime or CAF errors.
/// Unknown errors are `no_retry`: retrying what we do not understand hides it.
failure_class classify(const caf::error& err) noexcept;

/// How retries back off.
struct retry_policy {
  std::chrono::milliseconds base{1000};    ///< first delay
  std::chrono::milliseconds cap{300000};   ///< longest delay (5 min)
  uint32_t max_attempts = 8;               ///< after this many failures: `error`
};

/// The delay before attempt `attempt + 1` after `attempt` failures (attempt >= 1): exponential
/// `base * 2^(attempt-1)` capped at `cap`, with "full jitter" (uniform in [d/2, d]) from
/// `random` so that many items failing together do not retry together.
std::chrono::milliseconds backoff(const retry_policy& p, uint32_t attempt, uint64_t random) noexcept;

/// Whether a failure with this class after `attempts` failures should be retried.
bool should_retry(const retry_policy& p, failure_class c, uint32_t attempts) noexcept;

}  // namespace syncline::actors
