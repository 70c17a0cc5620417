#include <catch2/catch.hpp>

#include "balancer/static_files/encoding_choice.h"

using balancer::static_files::AcceptEncoding;
using balancer::static_files::chooseCoding;
using balancer::static_files::Coding;

namespace {

// The coding chosen for `field` when the siblings in `have` exist.
Coding choose(std::optional<std::string_view> field,
              std::initializer_list<Coding> have = {Coding::kZstd, Coding::kBr, Coding::kGzip}) {
  return chooseCoding(AcceptEncoding(field), [&](Coding c) {
    for (Coding h : have) {
      if (h == c) {
        return true;
      }
    }
    return false;
  });
}

}  // namespace

TEST_CASE("q-values are read in thousandths; malformed elements are skipped") {
  AcceptEncoding a("gzip;q=0.5, br ; q=1.0, zstd;Q=0.001, identity;q=0");
  CHECK(a.weight(Coding::kGzip) == 500);
  CHECK(a.weight(Coding::kBr) == 1000);
  CHECK(a.weight(Coding::kZstd) == 1);
  CHECK(a.weight(Coding::kIdentity) == 0);
  AcceptEncoding bad("gzip;q=2, br;q=0.5x, zstd;level=3, GZIP");
  CHECK(bad.weight(Coding::kGzip) == 1000);  // the well-formed GZIP entry
  CHECK(bad.weight(Coding::kBr) == 0);
  CHECK(bad.weight(Coding::kZstd) == 0);
  CHECK(AcceptEncoding("x-gzip").weight(Coding::kGzip) == 1000);
}

TEST_CASE("identity is acceptable unless refused by name or by *;q=0") {
  CHECK(AcceptEncoding(std::nullopt).weight(Coding::kIdentity) == 1000);
  CHECK(AcceptEncoding(std::nullopt).weight(Coding::kGzip) == 0);  // no field: identity
  CHECK(AcceptEncoding("").weight(Coding::kIdentity) == 1000);
  CHECK(AcceptEncoding("").weight(Coding::kGzip) == 0);
  CHECK(AcceptEncoding("*;q=0").weight(Coding::kIdentity) == 0);
  CHECK(AcceptEncoding("*;q=0, identity").weight(Coding::kIdentity) == 1000);
  CHECK(AcceptEncoding("*").weight(Coding::kBr) == 1000);
  CHECK(AcceptEncoding("gzip, *;q=0.2").weight(Coding::kZstd) == 200);
}

TEST_CASE("the highest weight wins; ties go to zstd, br, gzip, then identity") {
  CHECK(choose("gzip, deflate, br, zstd") == Coding::kZstd);
  CHECK(choose("gzip, br") == Coding::kBr);
  CHECK(choose("gzip;q=1, br;q=0.9") == Coding::kGzip);
  CHECK(choose("gzip, br", {Coding::kGzip}) == Coding::kGzip);  // only a .gz sibling
  CHECK(choose("gzip, br", {}) == Coding::kIdentity);
  CHECK(choose("identity;q=1, gzip;q=0.5") == Coding::kIdentity);
  CHECK(choose("gzip;q=0, br;q=0") == Coding::kIdentity);
  CHECK(choose(std::nullopt) == Coding::kIdentity);
  CHECK(choose("*") == Coding::kZstd);
  CHECK(choose("identity;q=0, deflate") == Coding::kIdentity);  // nothing else to send
}
