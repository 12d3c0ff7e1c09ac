#include "actors/failure_policy.hpp"

#include <caf/sec.hpp>

#include "actors/error.hpp"
#include "connectors/error.hpp"
#include "storage/error.hpp"

namespace syncline::actors {

const char* to_string(failure_class c) noexcept {
  switch (c) {
    case failure_class::retry: return "retry";
    case failure_class::no_retry: return "no_retry";
    case failure_class::fatal: return "fatal";
  }
  return "unknown";
}

failure_class classify(const caf::error& err) noexcept {
  if (!err) return failure_class::retry;
  auto code = err.code();
  if (err.category() == connectors::connector_category) {
    using c = connectors::connector_errc;
    switch (static_cast<c>(code)) {
      case c::io_error:
      case c::network:
      case c::busy:
      case c::changed_during_copy:
      case c::hash_mismatch:
      case c::cancelled:
        return failure_class::retry;
      case c::permission_denied:
      case c::not_found:
      case c::no_space:
      case c::bad_config:
      case c::invalid_path:
      case c::unsupported:
        return failure_class::no_retry;
    }
    return failure_class::no_retry;
  }
  if (err.category() == storage::storage_category) {
    using s = storage::storage_errc;
    switch (static_cast<s>(code)) {
      case s::io_error:
      case s::busy:
        return failure_class::retry;
      case s::corruption:
      case s::schema_mismatch:
      case s::closed:
        return failure_class::fatal;
      default:
        return failure_class::no_retry;
    }
  }
  if (err.category() == actors_category) {
    switch (static_cast<actors_errc>(code)) {
      case actors_errc::paused:
      case actors_errc::cancelled:
      case actors_errc::shutting_down:
      case actors_errc::job_failed:  // like an exception in an actor: try again
        return failure_class::retry;
      default:
        return failure_class::no_retry;
    }
  }
  if (err.category() == caf::atom("system")) {
    switch (static_cast<caf::sec>(code)) {
      case caf::sec::request_timeout:
      case caf::sec::request_receiver_down:
      case caf::sec::runtime_error:  // an exception in an actor: restart it
      case caf::sec::bad_function_call:
        return failure_class::retry;
      default:
        return failure_class::no_retry;
    }
  }
  return failure_class::no_retry;
}

std::chrono::milliseconds backoff(const retry_policy& p, uint32_t attempt,
                                  uint64_t random) noexcept {
  using ms = std::chrono::milliseconds;
  auto base = static_cast<uint64_t>(p.base.count() > 0 ? p.base.count() : 1);
  auto cap = static_cast<uint64_t>(p.cap.count() > 0 ? p.cap.count() : 1);
  uint64_t d = base;
  for (uint32_t i = 1; i < attempt && d < cap; ++i) d *= 2;
  if (d > cap) d = cap;
  auto half = d / 2;
  return ms{static_cast<ms::rep>(half + random % (d - half + 1))};
}

bool should_retry(const retry_policy& p, failure_class c, uint32_t attempts) noexcept {
  return c == failure_class::retry && attempts < p.max_attempts;
}

}  // namespace syncline::actors
