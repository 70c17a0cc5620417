#include "balancer/cache/store.h"

#include <catch2/catch.hpp>

#include "test_headers.h"

using namespace balancer::cache;
using cache_test::fields;
using cache_test::headers;

namespace {

KeyMaker keys(1, 2);

// A complete object for host/path, varying on `vary` with the values of `request`.
std::shared_ptr<const CachedObject> object(std::string path, size_t body_bytes,
                                           const http::HeaderList& request = {},
                                           std::string vary = {}, std::string host = "h") {
  ObjectHead head;
  head.headers = fields({{"Cache-Control", "max-age=60"}});
  if (!vary.empty()) {
    head.headers.push_back({"Vary", vary});
  }
  head.content_length = body_bytes;
  head.primary = keys.primary(host, path, "", {});
  head.secondary = keys.secondary(request, {}, varyNames(head.headers));
  head.host = host;
  head.path = path;
  auto made = makeObject(std::move(head), {});
  made->body->append(std::string(body_bytes, 'b'));
  made->body->finish();
  return made;
}

std::shared_ptr<const CachedObject> find(Store& store, std::string path,
                                         const http::HeaderList& request = {},
                                         std::string host = "h") {
  return store.lookup(keys.primary(host, path, "", {}),
                      [&](const std::vector<std::string>& vary) {
                        return keys.secondary(request, {}, vary);
                      });
}

}  // namespace

TEST_CASE("a stored object is found by its key and counted", "[cache]") {
  Store store({});
  auto stored = object("/a", 100);
  CHECK(store.insert(stored));
  CHECK(find(store, "/a") == stored);
  CHECK(find(store, "/b") == nullptr);
  CHECK(store.objects() == 1);
  CHECK(store.bytes() == stored->bytes());
}

TEST_CASE("objects above max_object are never stored", "[cache]") {
  StoreLimits limits;
  limits.max_object = 1000;
  Store store(limits);
  CHECK_FALSE(store.insert(object("/big", 5000)));
  CHECK(store.objects() == 0);
}

TEST_CASE("variants: one per varied request value, each found by its own request",
          "[cache]") {
  Store store({});
  auto gzip = headers({{"Accept-Encoding", "gzip"}});
  auto br = headers({{"Accept-Encoding", "br"}});
  auto zipped = object("/v", 10, gzip, "Accept-Encoding");
  auto brotli = object("/v", 20, br, "Accept-Encoding");
  store.insert(zipped);
  store.insert(brotli);
  CHECK(store.objects() == 2);
  CHECK(find(store, "/v", gzip) == zipped);
  CHECK(find(store, "/v", br) == brotli);
  CHECK(find(store, "/v", headers({{"accept-encoding", " gzip "}})) == zipped);
  CHECK(find(store, "/v", headers({})) == nullptr);
  // The same variant again replaces the old one.
  auto zipped2 = object("/v", 10, gzip, "Accept-Encoding");
  store.insert(zipped2);
  CHECK(store.objects() == 2);
  CHECK(find(store, "/v", gzip) == zipped2);
}

TEST_CASE("invalidating a URI removes all its variants", "[cache]") {
  Store store({});
  store.insert(object("/v", 10, headers({{"Accept", "a"}}), "Accept"));
  store.insert(object("/v", 10, headers({{"Accept", "b"}}), "Accept"));
  store.insert(object("/w", 10));
  CHECK(store.invalidate(keys.primary("h", "/v", "", {})) == 2);
  CHECK(store.objects() == 1);
  CHECK(store.invalidate(keys.primary("h", "/v", "", {})) == 0);
}

TEST_CASE("purge by exact path or prefix, optionally on one host", "[cache]") {
  Store store({});
  store.insert(object("/api/products", 10));
  store.insert(object("/api/products/1", 10));
  store.insert(object("/api/products/2", 10, {}, {}, "other"));
  store.insert(object("/api/orders", 10));
  CHECK(store.purge("/api/products", false, std::nullopt) == 1);
  CHECK(store.purge("/api/products", true, std::string_view("H")) == 1);
  CHECK(store.purge("/api/products", true, std::nullopt) == 1);
  CHECK(store.objects() == 1);
  CHECK(find(store, "/api/orders") != nullptr);
}

TEST_CASE("the store stays within its memory and counts evictions", "[cache]") {
  StoreLimits limits;
  limits.memory = 64 * 1024;
  limits.max_object = 8 * 1024;
  Store store(limits);
  for (int i = 0; i < 200; ++i) {
    CHECK(store.insert(object("/o" + std::to_string(i), 1000)));
    CHECK(store.bytes() <= limits.memory);
  }
  CHECK(store.evictions() > 0);
  CHECK(store.objects() + store.evictions() == 200);
}

TEST_CASE("a reader keeps streaming an object the store evicted", "[cache]") {
  StoreLimits limits;
  limits.memory = 4096;
  limits.max_object = 4096;
  limits.shards = 1;
  limits.eviction = EvictionKind::kLru;
  Store store(limits);
  store.insert(object("/first", 2000));
  auto held = find(store, "/first");
  REQUIRE(held);
  store.insert(object("/second", 2000));
  store.insert(object("/third", 2000));
  CHECK(find(store, "/first") == nullptr);
  CHECK(held->body->read(0, 4096).size() == 2000);
}

TEST_CASE("a refreshed head replaces the stored one and keeps the body", "[cache]") {
  Store store({});
  auto old_object = object("/r", 10);
  store.insert(old_object);
  auto refreshed = std::make_shared<CachedObject>(*old_object);
  refreshed->etag = "\"v2\"";
  CHECK(store.refresh(old_object, refreshed));
  CHECK(find(store, "/r")->etag == "\"v2\"");
  CHECK(find(store, "/r")->body == old_object->body);
  CHECK(store.objects() == 1);
}
