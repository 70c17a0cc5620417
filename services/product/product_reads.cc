#include "services/product/product_reads.h"

#include <ctime>
#include <memory>

#include "services/kit/reply.h"
#include "services/product/product_store.h"
#include "services/product/representation.h"

namespace product {

namespace {

http::Response withCacheHeader(http::Response response, bool hit) {
  response.headers.emplace_back("X-Cache", hit ? "HIT" : "MISS");
  return response;
}

// The client's If-None-Match, kept past the request (a waiter of a flight answers later).
std::string ifNoneMatchOf(const http::Request& request) {
  return std::string(request.header("If-None-Match"));
}

// The stored 200 as a 304 when the client's If-None-Match names it (RFC 9110 13.1.2, 15.4.5:
// the 304 keeps the fields a 200 would carry: ETag, Cache-Control, Date, Last-Modified).
void sendAnswer(http::Responder& responder, const http::Response& response,
                const std::string& if_none_match) {
  if (response.status != 200 || if_none_match.empty()) {
    responder.send(response);
    return;
  }
  for (const auto& [name, value] : response.headers) {
    if (name == "ETag" && ifNoneMatchMatches(if_none_match, value)) {
      http::Response not_modified;
      not_modified.status = 304;
      not_modified.content_type.clear();
      not_modified.headers = response.headers;
      responder.send(not_modified);
      return;
    }
  }
  responder.send(response);
}

SingleFlight<http::Response>::Waiter answer(http::Responder responder, std::string if_none_match) {
  return [responder, if_none_match](const http::Response& response) mutable {
    sendAnswer(responder, response, if_none_match);
  };
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

http::Response ProductReads::bodyResponse(std::string_view body, bool hit, Kind kind) const {
  http::Response response;
  if (body == ProductCache::kNotFound) {
    response = kit::errorResponse(404, "product not found");
    if (options_.not_found_max_age_s > 0) {
      response.headers.emplace_back("Cache-Control",
                                    cacheControl({options_.not_found_max_age_s, 0}));
    }
    return withCacheHeader(std::move(response), hit);
  }
  response.body.assign(body.data(), body.size());
  response.headers.emplace_back("Date", httpDate(std::time(nullptr)));
  response.headers.emplace_back(
      "Cache-Control", cacheControl(kind == Kind::kProduct ? options_.product : options_.list));
  response.headers.emplace_back("ETag", strongEtag(body));
  if (kind == Kind::kProduct) {
    if (std::optional<std::string> modified = lastModifiedOf(body)) {
      response.headers.emplace_back("Last-Modified", std::move(*modified));
    }
  }
  return withCacheHeader(std::move(response), hit);
}

void ProductReads::get(const http::Request& request, const kit::Params& params,
                       http::Responder responder) {
  int64_t id = params.id("id");
  if (id < 0) {
    responder.send(kit::errorResponse(404, "product not found"));
    return;
  }
  std::string key = ProductCache::productKey(id);
  cache_.get(key, [this, id, key, responder, inm = ifNoneMatchOf(request)](
                      ProductCache::Lookup result, std::string_view value) mutable {
        Lookups& counts = product_lookups_;
        countLookup(result, &counts.hits, &counts.misses, &counts.unavailable);
        if (result == ProductCache::Lookup::kHit) {
          sendAnswer(responder, bodyResponse(value, true, Kind::kProduct), inm);
          return;
        }
        if (product_flights_.join(key, answer(responder, inm))) {
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
              http::Response response =
                  bodyResponse(load->body.value_or(std::string()), false, Kind::kProduct);
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
  cache_.listVersion([this, query = std::move(*query), responder,
                      inm = ifNoneMatchOf(request)](std::optional<std::string> version) mutable {
    if (!version) {
      ++list_lookups_.unavailable;
      std::string key = listCacheKey("-", query);
      if (list_flights_.join(key, answer(responder, inm))) {
        loadList(query, key, std::nullopt);
      }
      return;
    }
    std::string key = listCacheKey(*version, query);
    cache_.get(key, [this, query, key, version, responder, inm](ProductCache::Lookup result,
                                                                std::string_view value) mutable {
      countLookup(result, &list_lookups_.hits, &list_lookups_.misses, &list_lookups_.unavailable);
      if (result == ProductCache::Lookup::kHit) {
        sendAnswer(responder, bodyResponse(value, true, Kind::kList), inm);
        return;
      }
      if (list_flights_.join(key, answer(responder, inm))) {
        loadList(query, key, result == ProductCache::Lookup::kMiss ? version : std::nullopt);
      }
    });
  });
}

void ProductReads::loadList(const ListQuery& query, const std::string& key,
                            std::optional<std::string> version) {
  auto page = std::make_shared<ListPage>();
  db_.run([query, page](pqxx::connection& conn) { *page = fetchList(conn, query); },
          [this, key, page, version](std::exception_ptr error) {
            if (error) {
              list_flights_.land(
                  key, withCacheHeader(kit::failureResponse(error, "product list"), false));
              return;
            }
            http::Response response = bodyResponse(page->body, false, Kind::kList);
            if (!version || page->empty) {
              list_flights_.land(key, response);
              return;
            }
            cache_.storeList(key, page->body,
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
