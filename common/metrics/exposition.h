#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace metrics {

using Label = std::pair<std::string_view, std::string_view>;

// Writes the Prometheus text exposition format (version 0.0.4): one family at a time, a HELP
// and TYPE line, then its samples. Label values are escaped; numbers written so that
// `promtool check metrics` accepts them.
class Exposition {
 public:
  // type: counter | gauge | histogram | summary | untyped
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);
  void sample(std::string_view name, std::span<const Label> labels, double value);
  // A histogram's series: cumulative buckets (upper bounds in seconds or any unit), +Inf,
  // _sum and _count. `counts` are per bucket (not cumulative), counts.size() ==
  // bounds.size() + 1 (the last is above every bound).
  void histogram(std::string_view name, std::span<const Label> labels,
                 std::span<const double> bounds, std::span<const uint64_t> counts, double sum);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  void labels(std::span<const Label> labels, std::string_view extra_name = {},
              std::string_view extra_value = {});
  void number(double value);

  std::string out_;
};

}  // namespace metrics
