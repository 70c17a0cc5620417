#pragma once

#include <string>
#include <string_view>

namespace balancer::jwks {

// Whether `url` may be fetched for keys: https:// to any host, http:// only to a loopback
// one (localhost, 127.0.0.0/8, [::1]: development), since keys fetched in the clear could be
// replaced on the way, unless `insecure_http` (jwt.jwks_insecure_http: a network trusted as
// much as the plain HTTP the balancer speaks to its backends). Returns "" when it may,
// otherwise why not.
std::string checkJwksUrl(std::string_view url, bool insecure_http);

}  // namespace balancer::jwks
