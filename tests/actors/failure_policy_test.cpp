#define BOOST_TEST_MODULE actors_failure_policy
#include <boost/test/unit_test.hpp>

#include <cerrno>

#include <caf/sec.hpp>

#include "actors/error.hpp"
#include "actors/failure_policy.hpp"
#include "connectors/error.hpp"
#include "storage/error.hpp"

using namespace syncline;
using namespace syncline::actors;

BOOST_AUTO_TEST_CASE(errno_failures_are_classified_as_the_issue_says) {
  // Transient: retried.
  for (int e : {EIO, EAGAIN, EINTR, ETIMEDOUT, EBUSY})
    BOOST_CHECK_MESSAGE(classify(connectors::from_errno(e, "op")) == failure_class::retry, e);
  // Needs a person: permission, vanished source, full disk.
  for (int e : {EACCES, EPERM, ENOENT, ENOSPC, EDQUOT})
    BOOST_CHECK_MESSAGE(classify(connectors::from_errno(e, "op")) == failure_class::no_retry, e);
}

BOOST_AUTO_TEST_CASE(other_errors_are_classified) {
  using connectors::connector_errc;
  BOOST_CHECK(classify(connectors::make_error(connector_errc::changed_during_copy)) ==
              failure_class::retry);
  BOOST_CHECK(classify(connectors::make_error(connector_errc::hash_mismatch)) ==
              failure_class::retry);
  BOOST_CHECK(classify(connectors::make_error(connector_errc::bad_config)) ==
              failure_class::no_retry);
  BOOST_CHECK(classify(connectors::make_error(connector_errc::invalid_path)) ==
              failure_class::no_retry);
  BOOST_CHECK(classify(storage::make_error(storage::storage_errc::corruption)) ==
              failure_class::fatal);
  BOOST_CHECK(classify(storage::make_error(storage::storage_errc::io_error)) ==
              failure_class::retry);
  BOOST_CHECK(classify(caf::make_error(caf::sec::runtime_error)) == failure_class::retry);
  BOOST_CHECK(classify(caf::make_error(caf::sec::request_timeout)) == failure_class::retry);
  // Something unknown is not retried blindly.
  BOOST_CHECK(classify(caf::error{7, caf::atom("mystery")}) == failure_class::no_retry);
}

BOOST_AUTO_TEST_CASE(backoff_grows_exponentially_within_jitter_and_cap) {
  retry_policy p;
  p.base = std::chrono::milliseconds{100};
  p.cap = std::chrono::milliseconds{5000};
  for (uint32_t attempt = 1; attempt <= 12; ++attempt) {
    int64_t nominal = std::min<int64_t>(100LL << (attempt - 1), 5000);
    for (uint64_t r : {0ULL, 1ULL, 12345ULL, ~0ULL}) {
      auto d = backoff(p, attempt, r).count();
      BOOST_CHECK_GE(d, nominal / 2);
      BOOST_CHECK_LE(d, nominal);
    }
  }
  // Jitter spreads items that failed together.
  BOOST_CHECK_NE(backoff(p, 4, 1).count(), backoff(p, 4, 200).count());
}

BOOST_AUTO_TEST_CASE(retries_stop_at_the_maximum_and_never_for_no_retry) {
  retry_policy p;
  p.max_attempts = 3;
  BOOST_CHECK(should_retry(p, failure_class::retry, 1));
  BOOST_CHECK(should_retry(p, failure_class::retry, 2));
  BOOST_CHECK(!should_retry(p, failure_class::retry, 3));
  BOOST_CHECK(!should_retry(p, failure_class::no_retry, 1));
  BOOST_CHECK(!should_retry(p, failure_class::fatal, 1));
}
