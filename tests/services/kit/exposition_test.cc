#include <catch2/catch.hpp>

#include <array>

#include "common/metrics/exposition.h"

TEST_CASE("exposition writes families, escaped labels and cumulative histograms") {
  metrics::Exposition out;
  out.family("x_total", "counter", "Things.\nCounted \\ here.");
  out.sample("x_total", {{"route", "/a\"b\\c\nd"}}, 3);
  std::array<double, 2> bounds{0.1, 1};
  std::array<uint64_t, 3> counts{2, 1, 4};
  metrics::Label labels[] = {{"route", "/r"}};
  out.family("y_seconds", "histogram", "Latency.");
  out.histogram("y_seconds", labels, bounds, counts, 7.5);
  std::string text = out.take();
  CHECK(text.find("# HELP x_total Things.\\nCounted \\\\ here.\n") != std::string::npos);
  CHECK(text.find("x_total{route=\"/a\\\"b\\\\c\\nd\"} 3\n") != std::string::npos);
  CHECK(text.find("y_seconds_bucket{route=\"/r\",le=\"0.1\"} 2\n") != std::string::npos);
  CHECK(text.find("y_seconds_bucket{route=\"/r\",le=\"1\"} 3\n") != std::string::npos);
  CHECK(text.find("y_seconds_bucket{route=\"/r\",le=\"+Inf\"} 7\n") != std::string::npos);
  CHECK(text.find("y_seconds_sum{route=\"/r\"} 7.5\n") != std::string::npos);
  CHECK(text.find("y_seconds_count{route=\"/r\"} 7\n") != std::string::npos);
}
