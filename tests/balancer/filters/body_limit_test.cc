#include "balancer/filters/body_limit.h"

#include <catch2/catch.hpp>

#include "filter_fixture.h"

using balancer::filters::BodyLimit;
using namespace filters_test;

namespace {

void checkTooLarge(const Verdict& v) {
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 413);
  CHECK(v.message == "request body too large");
  CHECK(v.close);  // the rest of the body is not read
}

}  // namespace

TEST_CASE("body_limit refuses a Content-Length over the limit at the head", "[filters]") {
  FilterFixture f;
  BodyLimit limit(10);
  FilterContext& ctx = f.request("/upload");
  ctx.request.has_body = true;
  ctx.request.content_length = 11;
  checkTooLarge(limit.onRequestHead(ctx));
}

TEST_CASE("body_limit lets a Content-Length equal to the limit, or none, through", "[filters]") {
  FilterFixture f;
  BodyLimit limit(10);
  FilterContext& ctx = f.request("/upload");
  ctx.request.has_body = true;
  ctx.request.content_length = 10;
  CHECK(limit.onRequestHead(ctx).goesOn());
  ctx.request.content_length = 0;
  CHECK(limit.onRequestHead(ctx).goesOn());
  ctx.request.content_length.reset();  // chunked: judged by its pieces
  CHECK(limit.onRequestHead(ctx).goesOn());
  CHECK(limit.wantsRequestBody());
}

TEST_CASE("body_limit sums a chunked body's pieces and refuses once past", "[filters]") {
  FilterFixture f;
  BodyLimit limit(10);
  FilterContext& ctx = f.request("/upload");
  ctx.request.has_body = true;
  CHECK(limit.onRequestBody(ctx, "abcd").goesOn());
  CHECK(ctx.out.body_bytes == 4);
  CHECK(limit.onRequestBody(ctx, "efgh").goesOn());
  CHECK(limit.onRequestBody(ctx, "ij").goesOn());  // exactly 10
  CHECK(ctx.out.body_bytes == 10);
  checkTooLarge(limit.onRequestBody(ctx, "k"));  // 11: one byte past

  // A fresh request starts from zero: no piece alone is past the limit.
  FilterContext& next = f.request("/upload");
  next.request.has_body = true;
  CHECK(limit.onRequestBody(next, "0123456789").goesOn());
}
