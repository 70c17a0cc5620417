#include "balancer/filters/filter_chain.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "filter_fixture.h"

using balancer::AuthMode;
using balancer::Config;
using balancer::ListenerConfig;
using balancer::RateLimitConfig;
using balancer::filters::Filter;
using balancer::filters::FilterChain;
using balancer::filters::buildListenerChain;
using balancer::filters::buildRouteChain;
using namespace filters_test;

namespace {

// A filter that writes its name (and "+body" for a body piece) to a log and answers as told.
class Recording final : public Filter {
 public:
  Recording(std::string name, std::vector<std::string>* log, Verdict head = Verdict::next(),
            bool wants_body = false, Verdict body = Verdict::next())
      : name_(std::move(name)), log_(log), head_(head), wants_body_(wants_body), body_(body) {}
  std::string_view name() const override { return name_; }
  Verdict onRequestHead(FilterContext& /*ctx*/) override {
    log_->push_back(name_);
    return head_;
  }
  Verdict onRequestBody(FilterContext& /*ctx*/, std::string_view piece) override {
    log_->push_back(name_ + "+" + std::string(piece));
    return body_;
  }
  bool wantsRequestBody() const override { return wants_body_; }

 private:
  std::string name_;
  std::vector<std::string>* log_;
  Verdict head_;
  bool wants_body_;
  Verdict body_;
};

std::vector<std::string> namesOf(const FilterChain& chain) {
  std::vector<std::string> names;
  for (size_t i = 0; i < chain.size(); ++i) {
    names.emplace_back(chain.at(i).name());
  }
  return names;
}

}  // namespace

TEST_CASE("a chain runs its filters in order until one does not continue", "[filters]") {
  FilterFixture f;
  std::vector<std::string> log;
  FilterChain chain;
  chain.add(std::make_unique<Recording>("a", &log));
  chain.add(std::make_unique<Recording>("b", &log));
  chain.add(std::make_unique<Recording>("c", &log));
  REQUIRE(chain.size() == 3);

  size_t at = 99;
  Verdict v = chain.runRequestHead(f.request("/"), 0, &at);
  CHECK(v.goesOn());
  CHECK(at == 3);  // every filter went on
  CHECK(log == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a chain stops at the first reply and says where", "[filters]") {
  FilterFixture f;
  std::vector<std::string> log;
  FilterChain chain;
  chain.add(std::make_unique<Recording>("a", &log));
  chain.add(std::make_unique<Recording>("b", &log, Verdict::reply(418, "teapot", "X-B: 1\r\n")));
  chain.add(std::make_unique<Recording>("c", &log, Verdict::reply(500, "not me")));

  size_t at = 99;
  Verdict v = chain.runRequestHead(f.request("/"), 0, &at);
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 418);
  CHECK(v.message == "teapot");
  CHECK(v.headers == "X-B: 1\r\n");
  CHECK(at == 1);
  CHECK(log == std::vector<std::string>{"a", "b"});
}

TEST_CASE("a paused chain resumes from the filter after the one that paused", "[filters]") {
  FilterFixture f;
  std::vector<std::string> log;
  FilterChain chain;
  chain.add(std::make_unique<Recording>("a", &log));
  chain.add(std::make_unique<Recording>("b", &log, Verdict::pause()));
  chain.add(std::make_unique<Recording>("c", &log));
  chain.add(std::make_unique<Recording>("d", &log));

  size_t at = 99;
  FilterContext& ctx = f.request("/");
  Verdict v = chain.runRequestHead(ctx, 0, &at);
  CHECK(v.action == Verdict::Action::kPause);
  CHECK(at == 1);
  CHECK(log == std::vector<std::string>{"a", "b"});

  log.clear();
  v = chain.runRequestHead(ctx, at + 1, &at);
  CHECK(v.goesOn());
  CHECK(at == 4);
  CHECK(log == std::vector<std::string>{"c", "d"});

  // From past the end: nothing runs.
  log.clear();
  v = chain.runRequestHead(ctx, 4, &at);
  CHECK(v.goesOn());
  CHECK(log.empty());
}

TEST_CASE("the body phase calls only the filters that want bodies", "[filters]") {
  FilterFixture f;
  std::vector<std::string> log;
  FilterChain heads_only;
  heads_only.add(std::make_unique<Recording>("a", &log));
  CHECK_FALSE(heads_only.wantsRequestBody());

  FilterChain chain;
  chain.add(std::make_unique<Recording>("a", &log));
  chain.add(std::make_unique<Recording>("b", &log, Verdict::next(), true));
  chain.add(std::make_unique<Recording>("c", &log));
  chain.add(std::make_unique<Recording>("d", &log, Verdict::next(), true));
  CHECK(chain.wantsRequestBody());

  FilterContext& ctx = f.request("/");
  CHECK(chain.runRequestBody(ctx, "xy").goesOn());
  CHECK(log == std::vector<std::string>{"b+xy", "d+xy"});

  // A body filter's reply stops the body filters after it.
  log.clear();
  FilterChain refusing;
  refusing.add(std::make_unique<Recording>("b", &log, Verdict::next(), true,
                                           Verdict::reply(413, "too big")));
  refusing.add(std::make_unique<Recording>("d", &log, Verdict::next(), true));
  Verdict v = refusing.runRequestBody(ctx, "z");
  CHECK(v.action == Verdict::Action::kReply);
  CHECK(v.status == 413);
  CHECK(log == std::vector<std::string>{"b+z"});
}

TEST_CASE("a route's chain is body_limit, jwt_auth, rate_limit, as configured", "[filters]") {
  Config config = configWithRoutes(4);
  // 0: bare. 1: all three. 2: only a rate limit. 3: only auth.
  config.routes[1].rate_limit = RateLimitConfig{};
  config.routes[1].auth = AuthMode::kJwt;
  config.routes[1].max_body_size = 10;
  config.routes[2].rate_limit = RateLimitConfig{};
  config.routes[3].auth = AuthMode::kJwtOptional;

  CHECK(buildRouteChain(config, 0).empty());
  FilterChain all = buildRouteChain(config, 1);
  CHECK(namesOf(all) == std::vector<std::string>{"body_limit", "jwt_auth", "rate_limit"});
  CHECK(all.wantsRequestBody());  // the body limit
  FilterChain limit_only = buildRouteChain(config, 2);
  CHECK(namesOf(limit_only) == std::vector<std::string>{"rate_limit"});
  CHECK_FALSE(limit_only.wantsRequestBody());
  CHECK(namesOf(buildRouteChain(config, 3)) == std::vector<std::string>{"jwt_auth"});
}

TEST_CASE("a route's chain takes claims_to_headers from the jwt section", "[filters]") {
  Config config = configWithRoutes(1);
  config.routes[0].auth = AuthMode::kJwt;
  config.jwt.emplace();
  config.jwt->claims_to_headers = {{"sub", "X-User-Id"}};
  FilterChain chain = buildRouteChain(config, 0);

  FilterFixture f(1);
  size_t at = 0;
  Verdict v = chain.runRequestHead(
      f.request("/", {{"Authorization", "Bearer " + tokenFor({{"sub", "bob"}})}}), 0, &at);
  CHECK(v.goesOn());
  CHECK(f.user == "bob");
  CHECK(f.identity == "X-User-Id: bob\r\n");
}

TEST_CASE("a route's global limit without Redis: this balancer's own limit, or none, or 503",
          "[filters]") {
  Config config = configWithRoutes(1);
  RateLimitConfig global;
  global.rate = 1.0 / 60;
  global.burst = 1;
  global.scope = RateLimitConfig::Scope::kGlobal;
  config.routes[0].rate_limit = global;
  using Mode = balancer::RedisConfig::OnUnavailable;

  // The verdicts of `n` requests from one client while Redis cannot answer.
  auto resumedWith = [&](const Config& c, int n) {
    FilterFixture f(1);
    FilterChain chain = buildRouteChain(c, 0);
    std::vector<Verdict> verdicts;
    for (int i = 0; i < n; ++i) {
      size_t at = 0;
      Verdict v = chain.runRequestHead(f.request("/"), 0, &at);
      CHECK(v.action == Verdict::Action::kPause);
      REQUIRE(f.host.resumed.size() == static_cast<size_t>(i + 1));
      verdicts.push_back(f.host.resumed[static_cast<size_t>(i)].verdict);
    }
    return verdicts;
  };

  // No redis section (a config check refuses that; the filter must still decide): open.
  CHECK(resumedWith(config, 1)[0].goesOn());
  config.redis.emplace();
  CHECK(config.redis->on_unavailable == Mode::kLocal);  // the default
  auto local = resumedWith(config, 2);
  CHECK(local[0].goesOn());
  CHECK(local[1].action == Verdict::Action::kReply);  // the burst of 1 holds without Redis
  CHECK(local[1].status == 429);
  config.redis->on_unavailable = Mode::kAllow;
  auto allow = resumedWith(config, 2);
  CHECK(allow[1].goesOn());
  config.redis->on_unavailable = Mode::kDeny;
  Verdict closed = resumedWith(config, 1)[0];
  CHECK(closed.action == Verdict::Action::kReply);
  CHECK(closed.status == 503);
}

TEST_CASE("key: ip counts an IPv6 client by its /64, an IPv4 one by its address", "[filters]") {
  Config config = configWithRoutes(1);
  RateLimitConfig limit;
  limit.rate = 1.0 / 60;
  limit.burst = 1;
  config.routes[0].rate_limit = limit;
  FilterFixture f(1);
  FilterChain chain = buildRouteChain(config, 0);
  auto from = [&](std::string_view ip) {
    auto& ctx = f.request("/");
    ctx.request.client_ip = ip;
    size_t at = 0;
    return chain.runRequestHead(ctx, 0, &at).goesOn();
  };
  CHECK(from("2001:db8:1:2::1"));
  CHECK_FALSE(from("2001:db8:1:2:ffff::9"));  // the same /64: the same bucket
  CHECK(f.limit_key == "0:2001:db8:1:2::/64");
  CHECK(from("2001:db8:1:3::1"));             // the next /64
  CHECK(from("10.0.0.1"));
  CHECK(from("10.0.0.2"));                    // IPv4: per address
  CHECK(from("::ffff:10.0.0.3"));
}

TEST_CASE("a listener's chain has https_redirect only with redirect_to_https", "[filters]") {
  ListenerConfig listener;
  CHECK(buildListenerChain(listener).empty());
  listener.redirect_to_https = true;
  CHECK(namesOf(buildListenerChain(listener)) == std::vector<std::string>{"https_redirect"});
}

TEST_CASE("a Resumer calls its host while the host lives, and not after", "[filters]") {
  FakeHost host;
  host.exchange = 42;
  Resumer r = host.pauseExchange();
  CHECK(host.pauses == 1);
  CHECK(r.alive());
  r.resume(Verdict::reply(429, "later"));
  REQUIRE(host.resumed.size() == 1);
  CHECK(host.resumed[0].exchange == 42);
  CHECK(host.resumed[0].verdict.status == 429);

  host.leave();
  CHECK_FALSE(r.alive());
  r.resume(Verdict::next());
  CHECK(host.resumed.size() == 1);  // nothing more

  Resumer none;
  CHECK_FALSE(none.alive());
  none.resume(Verdict::next());  // no host at all: nothing, and no crash
}

namespace {

// A filter that adds a header line to the response when it sees the response head.
class ResponseStamp final : public Filter {
 public:
  explicit ResponseStamp(bool wants) : wants_(wants) {}
  std::string_view name() const override { return "stamp"; }
  Verdict onRequestHead(FilterContext& /*ctx*/) override { return Verdict::next("X-Req: 1\r\n"); }
  void onResponseHead(FilterContext& ctx, const balancer::filters::ResponseFacts& r) override {
    ctx.out.response_headers->append("X-Status: " + std::to_string(r.status) + "\r\n");
  }
  bool wantsResponseHead() const override { return wants_; }

 private:
  bool wants_;
};

}  // namespace

TEST_CASE("what filters add to the response: at the request head and at the response head",
          "[filters]") {
  FilterFixture f;
  FilterChain chain;
  chain.add(std::make_unique<ResponseStamp>(false));
  CHECK_FALSE(chain.wantsResponseHead());
  chain.add(std::make_unique<ResponseStamp>(true));
  CHECK(chain.wantsResponseHead());
  FilterContext& ctx = f.request("/");
  size_t at = 0;
  CHECK(chain.runRequestHead(ctx, 0, &at).goesOn());
  CHECK(f.response_headers == "X-Req: 1\r\nX-Req: 1\r\n");  // a continue verdict's lines
  balancer::filters::ResponseFacts response;
  response.status = 201;
  chain.runResponseHead(ctx, response);
  // Only the filter that wants the response head saw it.
  CHECK(f.response_headers == "X-Req: 1\r\nX-Req: 1\r\nX-Status: 201\r\n");
}

namespace {

// Upper-cases what passes; counts the pieces it saw in its per-exchange state.
class Upper final : public Filter {
 public:
  struct Seen final : balancer::filters::FilterState {
    int pieces = 0;
  };
  std::string_view name() const override { return "upper"; }
  Verdict onRequestHead(FilterContext& /*ctx*/) override { return Verdict::next(); }
  void onResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                      balancer::filters::BodySink& next) override {
    Seen* seen = ctx.stateOf<Seen>(this);
    if (seen == nullptr) {
      seen = &ctx.makeState<Seen>(this);
    }
    seen->pieces += end ? 0 : 1;
    std::string out(piece);
    for (char& c : out) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    next.write(out);
  }
  bool wantsResponseBody() const override { return true; }
};

// Holds the whole body and lets it go, framed, at the end (as a compressor's last block).
class Hold final : public Filter {
 public:
  struct Held final : balancer::filters::FilterState {
    std::string bytes;
  };
  std::string_view name() const override { return "hold"; }
  Verdict onRequestHead(FilterContext& /*ctx*/) override { return Verdict::next(); }
  void onResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                      balancer::filters::BodySink& next) override {
    Held* held = ctx.stateOf<Held>(this);
    if (held == nullptr) {
      held = &ctx.makeState<Held>(this);
    }
    held->bytes.append(piece);
    if (end) {
      next.write("[" + held->bytes + "]h");
    }
  }
  bool wantsResponseBody() const override { return true; }
};

struct Collect final : balancer::filters::BodySink {
  std::vector<std::string> writes;
  void write(std::string_view bytes) override { writes.emplace_back(bytes); }
};

}  // namespace

TEST_CASE("the response-body phase passes pieces through the filters last to first, then the end",
          "[filters]") {
  FilterFixture f;
  FilterChain chain;
  chain.add(std::make_unique<ResponseStamp>(false));  // wants no body: skipped
  CHECK_FALSE(chain.wantsResponseBody());
  chain.add(std::make_unique<Upper>());
  chain.add(std::make_unique<Hold>());
  CHECK(chain.wantsResponseBody());
  FilterContext& ctx = f.request("/");
  Collect client;
  chain.runResponseBody(ctx, "ab", false, client);
  chain.runResponseBody(ctx, "cd", false, client);
  CHECK(client.writes.empty());  // held
  chain.runResponseBody(ctx, {}, true, client);
  REQUIRE(client.writes.size() == 1);
  // Held and framed by the last filter first, then upper-cased by the one before it.
  CHECK(client.writes[0] == "[ABCD]H");
  REQUIRE(ctx.stateOf<Upper::Seen>(&chain.at(1)) != nullptr);
  CHECK(ctx.stateOf<Upper::Seen>(&chain.at(1))->pieces == 1);  // the one Hold let go
  CHECK(ctx.stateOf<Hold::Held>(&chain.at(2))->bytes == "abcd");  // each filter its own
  CHECK(ctx.stateOf<Upper::Seen>(&chain.at(0)) == nullptr);       // a filter without: none

  // Without body filters the pieces go straight to the client.
  FilterChain plain;
  plain.add(std::make_unique<ResponseStamp>(true));
  Collect direct;
  plain.runResponseBody(ctx, "xy", false, direct);
  plain.runResponseBody(ctx, {}, true, direct);
  CHECK(direct.writes == std::vector<std::string>{"xy"});
}
