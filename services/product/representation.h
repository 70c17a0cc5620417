#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace product {

// What a product read tells the caches in front of the service (a balancer's edge cache,
// browsers): freshness, validators, and the answer to a client's If-None-Match (RFC 9110
// 8.8, 13.1.2; RFC 9111 5.2, RFC 5861). Pure functions, unit-tested alone.

// Cache-Control of a read: public (a token sent with the request does not change the
// catalogue, so a shared cache may store it anyway), max-age and stale-while-revalidate.
struct Freshness {
  uint32_t max_age_s = 0;
  uint32_t stale_while_revalidate_s = 0;
};
std::string cacheControl(const Freshness& freshness);

// A strong entity tag over the exact bytes of `body`: "<128 bits of SHA-256 in hex>". Equal
// bodies give equal tags in every instance of the service, so a revalidation may reach any.
std::string strongEtag(std::string_view body);

// Whether an If-None-Match field value matches `etag` (then a GET is answered 304): "*", or
// a list of entity tags one of which weakly matches (RFC 9110 13.1.2 uses weak comparison).
bool ifNoneMatchMatches(std::string_view field, std::string_view etag);

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate, RFC 9110 5.6.7), whatever the locale.
std::string httpDate(std::time_t when);

// A product's "updated_at" as an IMF-fixdate (whole seconds), read from the JSON body the
// service sends; nullopt when the body has none (a list page) or it is not
// "YYYY-MM-DDTHH:MM:SS[.mmm]Z".
std::optional<std::string> lastModifiedOf(std::string_view product_json);

}  // namespace product
