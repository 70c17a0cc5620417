#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/http/output_queue.h"
#include "common/http/parser.h"

namespace balancer {

// The working memory of one exchange. A session leases it from its worker when a request
// begins and gives it back when the connection goes idle, so 10,000 idle keep-alive clients
// hold no buffers, and a busy connection reuses warm ones without allocating.
struct ExchangeBuffers {
  http::MessageHead request_head;    // lent to the session's request parser
  http::OutputStorage client_output;  // lent to the session's client output queue
  std::string upstream_head;          // rewritten request head, kept for retries
  std::string early_body;             // body read before the upstream was ready; or a small
                                      // body kept whole for a replay (upstream/stale_retry.h)
  std::string request_id;
  std::string path;                   // the request's path when it had to be normalized
  std::string identity_headers;       // from a verified token, added to the forwarded request
  std::string user;                   // the token's sub, for rate limits keyed by user
  std::string limit_key;              // the rate limit bucket's key
  std::string response_headers;       // header lines the route's filters add to the response
  std::vector<std::string_view> replaced_response_headers;  // upstream fields filters replace
  std::vector<std::string_view> dropped_request_headers;    // client fields filters replace
};

}  // namespace balancer
