#include "common/metrics/exposition.h"

#include <cmath>
#include <cstdio>

namespace metrics {

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  for (char c : help) {  // HELP escapes only backslash and newline
    if (c == '\\') {
      out_ += "\\\\";
    } else if (c == '\n') {
      out_ += "\\n";
    } else {
      out_ += c;
    }
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels,
                        double value) {
  sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
}

void Exposition::sample(std::string_view name, std::span<const Label> label_list, double value) {
  out_ += name;
  labels(label_list);
  out_ += ' ';
  number(value);
  out_ += '\n';
}

void Exposition::histogram(std::string_view name, std::span<const Label> label_list,
                           std::span<const double> bounds, std::span<const uint64_t> counts,
                           double sum) {
  uint64_t cumulative = 0;
  std::string series(name);
  series += "_bucket";
  char le[32];
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += counts[i];
    std::snprintf(le, sizeof(le), "%.6g", bounds[i]);
    out_ += series;
    labels(label_list, "le", le);
    out_ += ' ';
    number(static_cast<double>(cumulative));
    out_ += '\n';
  }
  cumulative += counts[bounds.size()];
  out_ += series;
  labels(label_list, "le", "+Inf");
  out_ += ' ';
  number(static_cast<double>(cumulative));
  out_ += '\n';
  sample(std::string(name) + "_sum", label_list, sum);
  sample(std::string(name) + "_count", label_list, static_cast<double>(cumulative));
}

void Exposition::labels(std::span<const Label> label_list, std::string_view extra_name,
                        std::string_view extra_value) {
  if (label_list.empty() && extra_name.empty()) {
    return;
  }
  out_ += '{';
  bool first = true;
  auto put = [&](std::string_view key, std::string_view value) {
    if (!first) {
      out_ += ',';
    }
    first = false;
    out_ += key;
    out_ += "=\"";
    for (char c : value) {
      if (c == '\\') {
        out_ += "\\\\";
      } else if (c == '"') {
        out_ += "\\\"";
      } else if (c == '\n') {
        out_ += "\\n";
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  };
  for (const Label& l : label_list) {
    put(l.first, l.second);
  }
  if (!extra_name.empty()) {
    put(extra_name, extra_value);
  }
  out_ += '}';
}

void Exposition::number(double value) {
  if (std::isnan(value)) {
    out_ += "NaN";
  } else if (std::isinf(value)) {
    out_ += value > 0 ? "+Inf" : "-Inf";
  } else if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", value);
    out_ += buf;
  } else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", value);
    out_ += buf;
  }
}

}  // namespace metrics
