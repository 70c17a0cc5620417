#include <catch2/catch.hpp>

#include <string>

#include "services/kit/input_check.h"

using kit::readJsonObject;
using kit::requestTextProblem;

TEST_CASE("clean text is well-formed UTF-8 without NUL") {
  CHECK(kit::isCleanText("kopi susu"));
  CHECK(kit::isCleanText("k\xc3\xa9pi \xf0\x9f\x98\x80"));
  CHECK_FALSE(kit::isCleanText(std::string("a\0b", 3)));
  CHECK_FALSE(kit::isCleanText("\xff"));
  CHECK_FALSE(kit::isCleanText("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(kit::isCleanText("\xed\xa0\x80"));      // a surrogate
}

TEST_CASE("a JSON body is refused, with the reason, for bytes PostgreSQL would refuse") {
  std::string error;
  CHECK(readJsonObject(R"({"name": "kopi", "n": [1, {"a": null}]})", &error));

  auto refused = [&](std::string_view body, std::string_view reason) {
    error.clear();
    INFO(body);
    CHECK_FALSE(readJsonObject(body, &error));
    CHECK(error.find(reason) != std::string::npos);
  };
  refused(R"({"name": "a\u0000b"})", "string contains NUL");
  refused(R"({"a\u0000": 1})", "key contains NUL");
  refused(R"({"deep": [[{"name": "\u0000"}]]})", "string contains NUL");
  refused("{\"name\": \"\xff\xfe\"}", "not valid JSON");
  refused("{\"name\": \"\xc0\xaf\"}", "not valid JSON");
  refused(R"({"name": "\ud800"})", "not valid JSON");  // a lone surrogate
  refused(R"({"n": 1e999})", "not valid JSON");
  refused("[1, 2]", "must be a JSON object");
  refused("\"text\"", "must be a JSON object");
  refused("", "not valid JSON");

  std::string deep = "{\"a\":";
  for (int i = 0; i < 10000; ++i) {
    deep += "[";
  }
  refused(deep, "nested deeper than");  // cut short too, but refused before that
  std::string nested = "{\"a\":";
  for (int i = 0; i < kit::kMaxJsonDepth + 1; ++i) {
    nested += "[";
  }
  nested += std::string(static_cast<size_t>(kit::kMaxJsonDepth + 1), ']') + "}";
  refused(nested, "nested deeper than");
}

TEST_CASE("path segments, query parameters and Idempotency-Key must decode to clean text") {
  CHECK(requestTextProblem("/api/products/12", "q=k%C3%A9pi&limit=5", "key-1") == "");
  CHECK(requestTextProblem("/api/products", "q=a+b", "") == "");
  CHECK(requestTextProblem("/api/products/%00", "", "").find("the path") == 0);
  CHECK(requestTextProblem("/api/products/%ff", "", "").find("the path") == 0);
  CHECK(requestTextProblem("/api/products/%zz", "", "").find("bad percent-encoding") !=
        std::string::npos);
  CHECK(requestTextProblem("/api/products", "q=%00", "") == "q: must be UTF-8 text without NUL");
  CHECK(requestTextProblem("/api/products", "q=%C3", "").find("q: ") == 0);
  CHECK(requestTextProblem("/api/products", "a=1&q=%zz", "") == "q: bad percent-encoding");
  std::string long_name(65, 'n');
  CHECK(requestTextProblem("/api/products", long_name + "=%ff", "").find("a query parameter: ") ==
        0);
  CHECK(requestTextProblem("/api/products", "%ff=1", "").find("a query parameter name") == 0);
  CHECK(requestTextProblem("/api/orders", "", "k\xff").find("Idempotency-Key") == 0);
  CHECK(requestTextProblem("/api/orders", "", "k\xc3\xa9") == "");
}
