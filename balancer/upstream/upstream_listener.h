#pragma once

#include <cstddef>

namespace balancer {

class UpstreamConnection;

// Why an exchange's upstream connection failed before a response head arrived.
enum class UpstreamFailure {
  kConnectFailed,   // refused, unreachable: nothing was sent, any request may go elsewhere
  kConnectTimeout,
  kClosedEarly,     // reset or closed after the request was sent, before a response
  kBadResponse,     // the response could not be parsed
  kResponseTimeout,  // request_timeout passed without a response head
  kRetryableStatus   // a 502/503 head the exchange chose to drop and send elsewhere
};

// What an UpstreamConnection tells the exchange it serves, from connecting to the end of
// the response (or of the tunnel after a 101). The downstream session implements it; the
// connection knows nothing else of it.
class UpstreamListener {
 public:
  virtual void onUpstreamConnected(UpstreamConnection* conn) = 0;
  // A failure before the response head: the connection has closed itself.
  virtual void onUpstreamFailed(UpstreamConnection* conn, UpstreamFailure failure) = 0;
  // Whether a final response head with `status` is dropped and the request sent to another
  // backend instead (see UpstreamRequest::retriesOnStatus). Changes nothing.
  virtual bool retriesOnStatus(int status) = 0;
  virtual int onUpstreamHeaders(UpstreamConnection* conn) = 0;
  virtual int onUpstreamBody(const char* data, size_t len) = 0;
  // One read of the response was handed over (its pieces refer to the read buffer).
  virtual void onUpstreamReadDone(UpstreamConnection* conn) = 0;
  virtual void onUpstreamComplete(UpstreamConnection* conn, bool reusable) = 0;
  // The response was cut after it began: the client must see it cut too.
  virtual void onUpstreamAborted(UpstreamConnection* conn) = 0;
  virtual void onUpstreamUpgraded(UpstreamConnection* conn, const char* rest, size_t len) = 0;
  // What was queued for the backend has been written.
  virtual void onUpstreamDrained() = 0;
  virtual void onTunnelFromUpstream(const char* data, size_t len) = 0;
  virtual void onTunnelClosedByUpstream() = 0;

 protected:
  ~UpstreamListener() = default;
};

}  // namespace balancer
