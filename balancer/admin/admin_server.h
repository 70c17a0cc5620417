#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "balancer/admin/admin_access.h"
#include "common/http/server.h"
#include "common/util/address.h"

namespace balancer {

class Control;
class Snapshot;

// The admin API (admin.address), an http::Server on the main thread's loop: its handlers only
// read atomics and publish new backend sets, so they never hold a worker up.
//   GET /                                        the live status page (HTML; no token needed:
//                                                its data comes from /upstreams, which does)
//   GET /health                                  200 {"status":"ok"} (no token needed)
//   GET /metrics                                 Prometheus text
//   GET /upstreams                               JSON, see Control::upstreamsJson
//   POST /upstreams/NAME/backends                {"address":"host:port","weight":1} -> 201
//   PUT /upstreams/NAME/backends/ADDRESS         {"weight":N} -> 200
//   DELETE /upstreams/NAME/backends/ADDRESS      -> 202, the backend drains then leaves
//   POST /cache/purge                            {"path":"/api","prefix":true,"host":"h"}
//                                                -> 200 {"purged":N}, over every cache zone
// Who may call it is AdminAccess's to say (Host, Origin, Content-Type, CSRF and token
// checks); with a token configured every other request needs `Authorization: Bearer TOKEN`
// (401). The status page goes out with a strict Content-Security-Policy.
// Errors are JSON {"error": "..."}: 400 bad input, 404 unknown upstream, backend or path,
// 405 wrong method, 409 a backend that is already there.
class AdminServer {
 public:
  AdminServer(uv_loop_t* loop, Control* control, AdminAccess access,
              std::function<std::string()> render_metrics);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and listens. Returns 0 or a libuv error.
  int listen(const util::SocketAddress& address);
  int port() const { return server_->port(); }
  void close();

  // A minimal exposition (backend up, in-flight, ejections) for when no metrics registry is
  // wired in.
  static std::string basicMetrics(const Snapshot& snapshot);

  // The answer to one request (public so unit tests can call it without a socket).
  http::Response handle(const http::Request& request);

 private:
  http::Response statusPage() const;
  http::Response purgeCache(const http::Request& request);

  Control* control_;
  AdminAccess access_;
  std::string page_policy_;  // the status page's Content-Security-Policy
  std::function<std::string()> render_metrics_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace balancer
