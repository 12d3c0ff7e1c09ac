#include "runtime/http_metrics.hpp"

#include <cstdio>

#include "runtime/prometheus.hpp"

namespace syncline::runtime {

namespace {

std::string format_double(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

}  // namespace

void http_metrics::bind(std::vector<std::string> route_labels) {
  if (bound_.load()) return;
  for (auto& l : route_labels) {
    series_.push_back(std::make_unique<series>());
    series_.back()->label = std::move(l);
  }
  series_.push_back(std::make_unique<series>());
  series_.back()->label = "unmatched";
  bound_.store(true);
}

void http_metrics::observe(size_t route, unsigned status, std::chrono::nanoseconds latency) noexcept {
  if (!bound_.load(std::memory_order_acquire)) return;
  auto& s = *series_[route < series_.size() - 1 ? route : series_.size() - 1];
  double seconds = static_cast<double>(latency.count()) / 1e9;
  size_t b = 0;
  while (b + 1 < bucket_bounds.size() && seconds > bucket_bounds[b]) ++b;
  s.buckets[b].fetch_add(1, std::memory_order_relaxed);
  s.by_class[status >= 100 && status < 600 ? status / 100 : 0].fetch_add(
      1, std::memory_order_relaxed);
  s.sum_ns.fetch_add(static_cast<uint64_t>(latency.count()), std::memory_order_relaxed);
  s.count.fetch_add(1, std::memory_order_relaxed);
}

std::string http_metrics::prometheus() const {
  if (!bound_.load(std::memory_order_acquire)) return {};
  prometheus_writer p;
  p.type("syncline_http_requests_total", "counter",
         "HTTP requests answered, by route and status class.");
  static const char* classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
  for (auto& s : series_) {
    for (size_t c = 0; c < s->by_class.size(); ++c) {
      auto n = s->by_class[c].load(std::memory_order_relaxed);
      if (n == 0) continue;
      p.sample_text("syncline_http_requests_total", {{"route", s->label}, {"code", classes[c]}},
                    std::to_string(n));
    }
  }
  const std::string hist = "syncline_http_request_duration_seconds";
  p.type(hist, "histogram", "Time from a request read to its answer.");
  for (auto& s : series_) {
    auto count = s->count.load(std::memory_order_relaxed);
    if (count == 0) continue;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < bucket_bounds.size(); ++b) {
      cumulative += s->buckets[b].load(std::memory_order_relaxed);
      auto le = b + 1 == bucket_bounds.size() ? std::string{"+Inf"} : format_double(bucket_bounds[b]);
      p.sample_text(hist + "_bucket", {{"route", s->label}, {"le", le}}, std::to_string(cumulative));
    }
    p.sample_text(hist + "_sum", {{"route", s->label}},
                  format_double(static_cast<double>(s->sum_ns.load(std::memory_order_relaxed)) / 1e9));
    p.sample_text(hist + "_count", {{"route", s->label}}, std::to_string(count));
  }
  return p.take();
}

}  // namespace syncline::runtime
