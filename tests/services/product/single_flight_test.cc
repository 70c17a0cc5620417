#include "services/product/single_flight.h"

#include <catch2/catch.hpp>

#include <vector>

using product::SingleFlight;

TEST_CASE("SingleFlight: the first caller leads, the others wait for its result") {
  SingleFlight<int> flights;
  std::vector<int> got;
  CHECK(flights.join("a", [&](const int& v) { got.push_back(v); }));
  CHECK_FALSE(flights.join("a", [&](const int& v) { got.push_back(v * 10); }));
  CHECK_FALSE(flights.join("a", [&](const int& v) { got.push_back(v * 100); }));
  CHECK(flights.join("b", [&](const int& v) { got.push_back(-v); }));
  CHECK(flights.inFlight() == 2);
  CHECK(got.empty());

  flights.land("a", 7);
  CHECK(got == std::vector<int>{7, 70, 700});
  CHECK(flights.inFlight() == 1);
  flights.land("b", 1);
  CHECK(got.back() == -1);
  CHECK(flights.loads() == 2);
  CHECK(flights.coalesced() == 2);
}

TEST_CASE("SingleFlight: a key starts a new flight once landed, even from a waiter") {
  SingleFlight<int> flights;
  bool relead = false;
  CHECK(flights.join("a", [&](const int&) { relead = flights.join("a", [](const int&) {}); }));
  flights.land("a", 1);
  CHECK(relead);
  CHECK(flights.inFlight() == 1);
  flights.land("a", 2);
  CHECK(flights.inFlight() == 0);
  flights.land("missing", 3);  // no flight: nothing happens
  CHECK(flights.loads() == 2);
}
