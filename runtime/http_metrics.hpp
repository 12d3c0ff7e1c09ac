// runtime/http_metrics.hpp: request counts and latency histograms per route, for /metrics.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace syncline::runtime {

/// Counts requests per route and status class and keeps a latency histogram per route (time
/// from the request being read to its answer being handed to the connection). Lock-free to
/// record: a few relaxed atomic increments. Thread-safe.
class http_metrics {
 public:
  /// Upper bounds of the latency buckets, in seconds (Prometheus `le`), the last being +Inf.
  static constexpr std::array<double, 14> bucket_bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                        0.005,  0.01,    0.025,  0.05,  0.1,
                                                        0.25,   1.0,     5.0,    1e300};

  http_metrics() = default;
  http_metrics(const http_metrics&) = delete;
  http_metrics& operator=(const http_metrics&) = delete;

  /// Names the routes (index = route index of `http_router`); requests that matched no route go
  /// under `"unmatched"`. Called once, by the server before it accepts anything.
  void bind(std::vector<std::string> route_labels);

  /// Records one answered request; `route` beyond the bound labels counts as unmatched.
  void observe(size_t route, unsigned status, std::chrono::nanoseconds latency) noexcept;

  /// The Prometheus text exposition of every counter: `syncline_http_requests_total{route,code}`
  /// (code = `2xx` ...) and `syncline_http_request_duration_seconds` (histogram, by route).
  std::string prometheus() const;

 private:
  struct series {
    std::string label;
    std::array<std::atomic<uint64_t>, bucket_bounds.size()> buckets{};
    std::array<std::atomic<uint64_t>, 6> by_class{};  // 0: other, 1: 1xx ... 5: 5xx
    std::atomic<uint64_t> sum_ns{0};
    std::atomic<uint64_t> count{0};
  };
  // Fixed once bound: series are never added or moved afterwards.
  std::vector<std::unique_ptr<series>> series_;
  std::atomic<bool> bound_{false};
};

}  // namespace syncline::runtime
