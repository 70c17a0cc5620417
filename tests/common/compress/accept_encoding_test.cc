#include "common/compress/accept_encoding.h"

#include <catch2/catch.hpp>
#include <vector>

using compression::Encoding;
using compression::negotiateEncoding;
using compression::parseQValue;

namespace {

const std::vector<Encoding> kAll = {Encoding::kZstd, Encoding::kBrotli, Encoding::kGzip};

std::optional<Encoding> pick(std::string_view header, const std::vector<Encoding>& offered = kAll) {
  return negotiateEncoding(header, offered);
}

}  // namespace

TEST_CASE("q-values parse as RFC 9110 12.4.2 writes them", "[compress]") {
  CHECK(parseQValue("1") == 1000);
  CHECK(parseQValue("1.000") == 1000);
  CHECK(parseQValue("0") == 0);
  CHECK(parseQValue("0.5") == 500);
  CHECK(parseQValue("0.25") == 250);
  CHECK(parseQValue("0.001") == 1);
  CHECK(parseQValue("1.5") == -1);
  CHECK(parseQValue("0.0001") == -1);
  CHECK(parseQValue("2") == -1);
  CHECK(parseQValue("x") == -1);
  CHECK(parseQValue("") == -1);
  CHECK(parseQValue("0.a") == -1);
}

TEST_CASE("the best q wins; equal q goes to the route's order", "[compress]") {
  CHECK(pick("gzip") == Encoding::kGzip);
  CHECK(pick("gzip, br") == Encoding::kBrotli);  // tie: the route prefers br to gzip
  CHECK(pick("gzip, deflate, br, zstd") == Encoding::kZstd);
  CHECK(pick("gzip;q=1.0, br;q=0.5") == Encoding::kGzip);
  CHECK(pick("zstd;q=0.2, br;q=0.8, gzip;q=0.5") == Encoding::kBrotli);
  CHECK(pick("gzip, br", {Encoding::kGzip, Encoding::kBrotli}) == Encoding::kGzip);
  CHECK(pick("br", {Encoding::kGzip}) == std::nullopt);  // not offered by the route
  CHECK(pick("deflate") == std::nullopt);
  CHECK(pick("") == std::nullopt);
}

TEST_CASE("names and parameters are case-insensitive; x-gzip is gzip; spaces are optional",
          "[compress]") {
  CHECK(pick("GZIP") == Encoding::kGzip);
  CHECK(pick("x-gzip") == Encoding::kGzip);
  CHECK(pick(" br ; Q=0.9 ,gzip;q=0.3") == Encoding::kBrotli);
  CHECK(pick("gzip;q=0.5;level=1") == Encoding::kGzip);
}

TEST_CASE("q=0 excludes a coding; a bad q ignores its entry", "[compress]") {
  CHECK(pick("gzip;q=0") == std::nullopt);
  CHECK(pick("zstd;q=0, br;q=0, gzip") == Encoding::kGzip);
  CHECK(pick("zstd;q=2, gzip") == Encoding::kGzip);  // q=2 is no q-value
  CHECK(pick("zstd;q=, gzip") == Encoding::kGzip);
}

TEST_CASE("* stands for every coding not listed", "[compress]") {
  CHECK(pick("*") == Encoding::kZstd);
  CHECK(pick("*;q=0.5, br") == Encoding::kBrotli);
  CHECK(pick("*;q=0") == std::nullopt);
  CHECK(pick("zstd;q=0, *") == Encoding::kBrotli);
  CHECK(pick("gzip;q=0.1, *;q=0.5", {Encoding::kGzip}) == std::nullopt);  // identity is better
}

TEST_CASE("identity: preferred over a coding with a lower q; identity;q=0 changes nothing",
          "[compress]") {
  CHECK(pick("gzip;q=0.5, identity") == std::nullopt);
  CHECK(pick("gzip;q=0.5, identity;q=0.5") == Encoding::kGzip);  // a tie: compress
  CHECK(pick("gzip, identity;q=0") == Encoding::kGzip);
  CHECK(pick("identity;q=0") == std::nullopt);  // nothing acceptable: sent plain anyway
  CHECK(pick("identity") == std::nullopt);
  CHECK(pick("gzip;q=0.1") == Encoding::kGzip);  // an unmentioned identity ranks lower
  CHECK(pick("gzip;q=0.5, *;q=0.1") == Encoding::kGzip);  // * gives identity 0.1 too
}
