// runtime/prometheus.hpp: the Prometheus text exposition format (0.0.4), written once for every
// metric the node serves at /metrics.
#pragma once

#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace syncline::runtime {

/// Appends metric families to a text: `# HELP` and `# TYPE` once per name, then samples with
/// their labels (values escaped).
class prometheus_writer {
 public:
  using labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  /// Declares `name` (once; later calls for the same name do nothing).
  void type(std::string_view name, std::string_view kind, std::string_view help);
  /// One sample; the value printed with 17 significant digits (integers exactly).
  void sample(std::string_view name, labels l, double value);
  /// One sample whose value is already formatted.
  void sample_text(std::string_view name, labels l, std::string_view value);

  const std::string& text() const noexcept { return out_; }
  std::string take() noexcept { return std::move(out_); }

 private:
  std::string out_;
  std::set<std::string, std::less<>> declared_;
};

}  // namespace syncline::runtime
