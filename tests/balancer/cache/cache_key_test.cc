#include "balancer/cache/cache_key.h"

#include <catch2/catch.hpp>

#include "test_headers.h"

using namespace balancer::cache;
using cache_test::fields;
using cache_test::headers;

TEST_CASE("SipHash-2-4-128 gives the reference vectors", "[cache]") {
  // The reference implementation's key 00 01 .. 0f; messages 00 01 .. (n-1).
  const uint64_t k0 = 0x0706050403020100ULL;
  const uint64_t k1 = 0x0f0e0d0c0b0a0908ULL;
  Hash128 empty = sipHash128(k0, k1, "");
  CHECK(empty.lo == 0xe6a825ba047f81a3ULL);
  CHECK(empty.hi == 0x930255c71472f66dULL);
  std::string fifteen;
  for (char c = 0; c < 15; ++c) {
    fifteen += c;
  }
  CHECK(sipHash128(k0, k1, fifteen) != sipHash128(k0, k1, fifteen.substr(0, 14)));
}

TEST_CASE("the primary key: host case-insensitive, path and query exact", "[cache]") {
  KeyMaker keys(1, 2);
  KeyOptions none;
  CHECK(keys.primary("Shop.Example", "/a", "x=1", none) ==
        keys.primary("shop.example", "/a", "x=1", none));
  CHECK(keys.primary("shop.example", "/a", "x=1", none) !=
        keys.primary("shop.example", "/A", "x=1", none));
  CHECK(keys.primary("shop.example", "/a", "x=1", none) !=
        keys.primary("shop.example", "/a", "x=2", none));
  CHECK(keys.primary("shop.example", "/a", "", none) !=
        keys.primary("other.example", "/a", "", none));
  // Length-prefixed parts: moving a byte between parts changes the key.
  CHECK(keys.primary("ab", "/c", "", none) != keys.primary("a", "b/c", "", none));
  CHECK(KeyMaker(1, 2).primary("h", "/", "", none) != KeyMaker(3, 4).primary("h", "/", "", none));
}

TEST_CASE("ignored query parameters leave the key", "[cache]") {
  KeyMaker keys(1, 2);
  KeyOptions options;
  options.ignore_query = {"utm_source", "fbclid"};
  CHECK(keys.primary("h", "/p", "id=3&utm_source=x&fbclid=y", options) ==
        keys.primary("h", "/p", "id=3", options));
  CHECK(keys.primary("h", "/p", "id=3", options) != keys.primary("h", "/p", "id=4", options));
  CHECK(withoutParams("a=1&utm=x&b=2&utm=y", {"utm"}) == "a=1&b=2");
  CHECK(withoutParams("utm=1", {"utm"}).empty());
}

TEST_CASE("key additions: a header's or a cookie's value splits the key", "[cache]") {
  KeyMaker keys(1, 2);
  KeyOptions options;
  options.headers = {"X-Tenant"};
  options.cookies = {"lang"};
  auto a = headers({{"X-Tenant", "a"}, {"Cookie", "sid=1; lang=de"}});
  auto a_other_sid = headers({{"x-tenant", "a"}, {"Cookie", "lang=de; sid=2"}});
  auto b = headers({{"X-Tenant", "b"}, {"Cookie", "lang=de"}});
  auto en = headers({{"X-Tenant", "a"}, {"Cookie", "lang=en"}});
  auto absent = headers({{"Cookie", "lang=de"}});
  auto empty = headers({{"X-Tenant", ""}, {"Cookie", "lang=de"}});
  CHECK(keys.secondary(a, options, {}) == keys.secondary(a_other_sid, options, {}));
  CHECK(keys.secondary(a, options, {}) != keys.secondary(b, options, {}));
  CHECK(keys.secondary(a, options, {}) != keys.secondary(en, options, {}));
  CHECK(keys.secondary(absent, options, {}) != keys.secondary(empty, options, {}));
}

TEST_CASE("Vary names are lowercase, sorted and unique", "[cache]") {
  CHECK(varyNames(fields({{"Vary", "Accept-Encoding, accept-language"},
                          {"Vary", "ACCEPT-ENCODING"}})) ==
        std::vector<std::string>{"accept-encoding", "accept-language"});
  CHECK(varyNames(headers({{"Vary", "*"}})) == std::vector<std::string>{"*"});
}

TEST_CASE("the secondary key: a variant per varied request value, normalized", "[cache]") {
  KeyMaker keys(1, 2);
  const std::vector<std::string> vary = {"accept-encoding"};
  auto gzip = headers({{"Accept-Encoding", "gzip, br"}});
  auto gzip_spaced = headers({{"accept-encoding", "gzip ,   br "}});
  auto gzip_two_lines = headers({{"Accept-Encoding", "gzip"}, {"Accept-Encoding", "br"}});
  auto identity = headers({{"Accept-Encoding", "identity"}});
  auto none = headers({});
  CHECK(keys.secondary(gzip, {}, vary) == keys.secondary(gzip_spaced, {}, vary));
  CHECK(keys.secondary(gzip, {}, vary) == keys.secondary(gzip_two_lines, {}, vary));
  CHECK(keys.secondary(gzip, {}, vary) != keys.secondary(identity, {}, vary));
  CHECK(keys.secondary(gzip, {}, vary) != keys.secondary(none, {}, vary));
  // Without Vary every request selects the same variant.
  CHECK(keys.secondary(gzip, {}, {}) == keys.secondary(identity, {}, {}));
}

TEST_CASE("the secondary key: Accept-Language and Accept-Encoding values case-insensitively",
          "[cache]") {
  KeyMaker keys(1, 2);
  const std::vector<std::string> vary = {"accept-language"};
  auto en_de = headers({{"Accept-Language", "en, de;q=0.5"}});
  CHECK(keys.secondary(en_de, {}, vary) ==
        keys.secondary(headers({{"Accept-Language", "eN, De;Q=0.5"}}), {}, vary));
  // The order is the client's preference an origin may read: another variant.
  CHECK(keys.secondary(headers({{"Accept-Language", "en, de"}}), {}, vary) !=
        keys.secondary(headers({{"Accept-Language", "de, en"}}), {}, vary));
  const std::vector<std::string> encoding = {"accept-encoding"};
  CHECK(keys.secondary(headers({{"Accept-Encoding", "GZIP"}}), {}, encoding) ==
        keys.secondary(headers({{"Accept-Encoding", "gzip"}}), {}, encoding));
  // Other fields keep their case.
  const std::vector<std::string> foo = {"foo"};
  CHECK(keys.secondary(headers({{"Foo", "A"}}), {}, foo) !=
        keys.secondary(headers({{"Foo", "a"}}), {}, foo));
}

TEST_CASE("cookie values are found among the pairs", "[cache]") {
  bool found = false;
  CHECK(cookieValue("a=1; b=2;c=3", "b", &found) == "2");
  CHECK(found);
  CHECK(cookieValue("a=1; b=2;c=3", "c", &found) == "3");
  cookieValue("ab=1", "a", &found);
  CHECK_FALSE(found);
}
