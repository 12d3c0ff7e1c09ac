#include "runtime/prometheus.hpp"

#include <cstdio>

#include "actors/text.hpp"

namespace syncline::runtime {

void prometheus_writer::type(std::string_view name, std::string_view kind, std::string_view help) {
  if (!declared_.emplace(name).second) return;
  out_.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out_.append(name).append(" ").append(kind).append("\n");
}

void prometheus_writer::sample(std::string_view name, labels l, double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  sample_text(name, l, buf);
}

void prometheus_writer::sample_text(std::string_view name, labels l, std::string_view value) {
  out_.append(name);
  if (l.size() > 0) {
    out_ += '{';
    bool first = true;
    for (auto& [k, v] : l) {
      if (!first) out_ += ',';
      first = false;
      out_.append(k).append("=\"").append(actors::prometheus_label(v)).append("\"");
    }
    out_ += '}';
  }
  out_.append(" ").append(value).append("\n");
}

}  // namespace syncline::runtime
