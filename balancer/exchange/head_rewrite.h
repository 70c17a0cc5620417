#pragma once

#include <span>
#include <string>
#include <string_view>

#include "balancer/routing/router.h"
#include "common/http/parser.h"

namespace balancer {

// What the balancer changes in a request on its way upstream.
struct RequestRewrite {
  std::string_view strip_prefix;   // removed from the path; "/" if nothing is left
  std::string_view client_ip;      // the peer: appended to X-Forwarded-For
  // The peer is a trusted proxy: the X-Forwarded-For it sent is kept (and appended to), and
  // its Forwarded and X-Real-IP pass. Otherwise X-Forwarded-For is replaced and the other two
  // dropped: a client's own claims must not reach a backend as if true.
  bool keep_forwarded_for = false;
  std::string_view request_id;     // X-Request-Id
  bool tls = false;                // X-Forwarded-Proto: https
  bool upgrade = false;            // keep Upgrade and send Connection: upgrade
  std::string_view default_host;   // Host for a request that had none (HTTP/1.0)
  // Client-sent headers to drop (case-insensitive), e.g. the identity headers the balancer
  // itself sets from a verified token.
  std::span<const std::string> drop_headers;
  // ...and those a filter answers for itself (FilterOutput::dropped_request_headers).
  std::span<const std::string_view> filter_drop_headers;
  // Lines added as they are ("Name: value\r\n..."), e.g. identity from a verified token.
  std::string_view extra_headers;
  // A query parameter removed from the forwarded target (a WebSocket's access_token).
  std::string_view drop_query_param;
  // Set to how many headers were left out for a '_' in their name: CGI-style backends read
  // X_User_Id and X-User-Id as one name, so such a header could pose as one the balancer
  // sets. nginx drops them too (underscores_in_headers off).
  size_t* dropped_underscore = nullptr;
};

// Writes the head to send upstream for `request` (its head parsed, its target split) into
// *out: request line with the forwarded path, the client's end-to-end headers, framing
// (Content-Length or chunked, as the client sent), X-Forwarded-For/-Proto, X-Request-Id.
// Hop-by-hop headers, those named by Connection, drop_headers and names with '_' are left out.
void rewriteRequestHead(const http::Parser& request, const RequestTarget& target,
                        const RequestRewrite& rewrite, std::string* out);

// What the balancer changes in a final response on its way to the client.
struct ResponseRewrite {
  std::string_view request_id;  // added when the upstream did not set X-Request-Id
  bool rechunk = false;         // the body goes out chunked (no Content-Length upstream)
  bool keep_alive = true;       // else Connection: close
  bool client_http10 = false;   // say Connection: keep-alive explicitly
  std::string_view extra_headers;  // lines the route's filters add, each ending in CRLF
  // A filter changes the body: its Content-Length is dropped, and so is Accept-Ranges (ranges
  // of the upstream's bytes do not apply to the ones sent).
  bool body_rewritten = false;
  // Fields left out (case-insensitive): a filter sends its own (the cache's X-Cache).
  std::span<const std::string_view> drop_headers;
  bool weaken_etag = false;        // the body is changed but equivalent: a strong ETag goes weak
};

// Writes the head for the client of a final (>= 200) or 101 response into *out.
void rewriteResponseHead(const http::Parser& response, const ResponseRewrite& rewrite,
                         std::string* out);

// Appends a local response's header lines (each ending in CRLF), with a strong ETag sent weak
// when `weaken_etag` (its body was re-encoded on the way) and without Accept-Ranges when
// `body_rewritten` (as ResponseRewrite::body_rewritten).
void appendLocalHeaders(std::string_view lines, bool weaken_etag, bool body_rewritten,
                        std::string* out);

// The value of `name` in a query ("?a=1&b=2" or "a=1&b=2"), and whether it was there.
std::string_view queryParam(std::string_view query, std::string_view name, bool* found);

// Writes an interim (1xx other than 101) response head without its hop-by-hop headers.
void copyInterimHead(const http::Parser& response, std::string* out);

}  // namespace balancer
