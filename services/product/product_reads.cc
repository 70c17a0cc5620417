#include "services/product/product_reads.h"

#include <memory>

#include "services/kit/reply.h"
#include "services/product/product_store.h"

namespace product {

namespace {

http::Response withCacheHeader(http::Response response, bool hit) {
  response.headers.emplace_back("X-Cache", hit ? "HIT" : "MISS");
  return response;
}

http::Response bodyResponse(std::string_view body, bool hit) {
  http::Response response;
  if (body == ProductCache::kNotFound) {
    response = kit::errorResponse(404, "product not found");
  } else {
    response.body.assign(body.data(), body.size());
  }
  return withCacheHeader(std::move(response), hit);
}

SingleFlight<http::Response>::Waiter answer(http::Responder responder) {
  return [responder](const http::Response& response) mutable { responder.send(response); };
}

void countLookup(ProductCache::Lookup result, uint64_t* hits, uint64_t* misses,
                 uint64_t* unavailable) {
  switch (result) {
    case ProductCache::Lookup::kHit:
      ++*hits;
      break;
    case ProductCache::Lookup::kMiss:
      ++*misses;
      break;
    case ProductCache::Lookup::kUnavailable:
      ++*unavailable;
      break;
  }
}

}  // namespace

void ProductReads::get(const http::Request& /*request*/, const kit::Params& params,
                       http::Responder responder) {
  int64_t id = params.id("id");
  if (id < 0) {
    responder.send(kit::errorResponse(404, "product not found"));
    return;
  }
  std::string key = ProductCache::productKey(id);
  cache_.get(
      key, [this, id, key, responder](ProductCache::Lookup result, std::string_view value) mutable {
        Lookups& counts = product_lookups_;
        countLookup(result, &counts.hits, &counts.misses, &counts.unavailable);
        if (result == ProductCache::Lookup::kHit) {
          responder.send(bodyResponse(value, true));
          return;
        }
        if (product_flights_.join(key, answer(responder))) {
          loadProduct(id, key, result == ProductCache::Lookup::kMiss);
        }
      });
}

void ProductReads::loadProduct(int64_t id, const std::string& key, bool cached) {
  auto read = [this, id, key](std::optional<std::string> version) {
    struct Load {
      std::optional<std::string> body;
    };
    auto load = std::make_shared<Load>();
    db_.run([id, load](pqxx::connection& conn) { load->body = fetchProduct(conn, id); },
            [this, id, key, load, version](std::exception_ptr error) {
              if (error) {
                product_flights_.land(
                    key, withCacheHeader(kit::failureResponse(error, "product read"), false));
                return;
              }
              http::Response response = bodyResponse(load->body.value_or(std::string()), false);
              if (!version) {
                product_flights_.land(key, response);
                return;
              }
              // Land once Redis has the entry: a request whose GET was sent before the store
              // missed, and its (ordered) reply comes before the store's, so it still finds
              // this flight and joins it instead of loading again.
              cache_.storeProduct(id, *version, load->body,
                                  [this, key, response] { product_flights_.land(key, response); });
            });
  };
  if (!cached) {
    read(std::nullopt);
    return;
  }
  // The version is read before PostgreSQL: see ProductCache.
  cache_.productVersion(id, std::move(read));
}

void ProductReads::list(const http::Request& request, const kit::Params& /*params*/,
                        http::Responder responder) {
  std::string error;
  std::optional<ListQuery> query = parseListQuery(request.query, &error);
  if (!query) {
    responder.send(kit::errorResponse(400, error));
    return;
  }
  cache_.listVersion([this, query = std::move(*query),
                      responder](std::optional<std::string> version) mutable {
    if (!version) {
      ++list_lookups_.unavailable;
      std::string key = listCacheKey("-", query);
      if (list_flights_.join(key, answer(responder))) {
        loadList(query, key, std::nullopt);
      }
      return;
    }
    std::string key = listCacheKey(*version, query);
    cache_.get(key, [this, query, key, version, responder](ProductCache::Lookup result,
                                                           std::string_view value) mutable {
      countLookup(result, &list_lookups_.hits, &list_lookups_.misses, &list_lookups_.unavailable);
      if (result == ProductCache::Lookup::kHit) {
        responder.send(bodyResponse(value, true));
        return;
      }
      if (list_flights_.join(key, answer(responder))) {
        loadList(query, key, result == ProductCache::Lookup::kMiss ? version : std::nullopt);
      }
    });
  });
}

void ProductReads::loadList(const ListQuery& query, const std::string& key,
                            std::optional<std::string> version) {
  auto body = std::make_shared<std::string>();
  db_.run([query, body](pqxx::connection& conn) { *body = fetchList(conn, query); },
          [this, key, body, version](std::exception_ptr error) {
            if (error) {
              list_flights_.land(
                  key, withCacheHeader(kit::failureResponse(error, "product list"), false));
              return;
            }
            http::Response response = bodyResponse(*body, false);
            if (!version) {
              list_flights_.land(key, response);
              return;
            }
            cache_.storeList(key, *body,
                             [this, key, response] { list_flights_.land(key, response); });
          });
}

void ProductReads::collect(metrics::Exposition& out) const {
  out.family("product_cache_lookups_total", "counter",
             "Cache lookups of product reads by kind and result (unavailable: Redis down).");
  for (const auto& [kind, counts] :
       {std::pair{"product", &product_lookups_}, std::pair{"list", &list_lookups_}}) {
    out.sample("product_cache_lookups_total", {{"kind", kind}, {"result", "hit"}},
               static_cast<double>(counts->hits));
    out.sample("product_cache_lookups_total", {{"kind", kind}, {"result", "miss"}},
               static_cast<double>(counts->misses));
    out.sample("product_cache_lookups_total", {{"kind", kind}, {"result", "unavailable"}},
               static_cast<double>(counts->unavailable));
  }
  out.family("product_db_loads_total", "counter",
             "PostgreSQL reads after a cache miss: one per key however many requests missed it.");
  out.sample("product_db_loads_total", {{"kind", "product"}},
             static_cast<double>(product_flights_.loads()));
  out.sample("product_db_loads_total", {{"kind", "list"}},
             static_cast<double>(list_flights_.loads()));
  out.family("product_db_loads_coalesced_total", "counter",
             "Requests that missed the cache and waited for a load already under way.");
  out.sample("product_db_loads_coalesced_total", {{"kind", "product"}},
             static_cast<double>(product_flights_.coalesced()));
  out.sample("product_db_loads_coalesced_total", {{"kind", "list"}},
             static_cast<double>(list_flights_.coalesced()));
}

}  // namespace product
