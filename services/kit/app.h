#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/http/server.h"
#include "common/redis/client.h"
#include "services/kit/config.h"
#include "services/kit/pg_pool.h"
#include "services/kit/router.h"
#include "services/kit/service_metrics.h"

namespace kit {

// One service process: a libuv loop, an HTTP server on `listen`, the router, /health,
// /ready and /metrics, and, when the service asks for them, a PostgreSQL pool and Redis
// connections. SIGTERM/SIGINT stop accepting, let in-flight requests finish (up to
// shutdown_timeout) and exit 0.
//
// The settings every service reads are declared, with their defaults and meanings, in
// services/kit/settings.h; `listen` defaults to the service's own loopback port (loopback:
// services trust X-User-Id). Config says how to set them.
class App {
 public:
  // Parses the command line; on a bad one prints why and exits 2.
  App(std::string name, std::string default_listen, int argc, char** argv);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  const std::string& name() const { return name_; }
  uv_loop_t* loop() { return &loop_; }
  const Config& config() const { return config_; }
  Router& router() { return router_; }
  ServiceMetrics& metrics() { return metrics_; }

  // The database pool, created on first use with the given prepared statements; /ready
  // then checks it.
  PgPool& database(std::vector<std::pair<std::string, std::string>> statements = {});
  bool hasDatabase() const { return pg_ != nullptr; }
  // A Redis connection for commands (created on first use; /ready then checks it).
  redis::Client& redis();
  // Another connection, for a BLOCKing read loop: the caller owns it and closes it in its
  // onShutdown hook.
  std::unique_ptr<redis::Client> newRedisClient(std::string purpose, uint64_t command_timeout_ms);

  // Runs at shutdown, before the loop is left to finish: close what the service opened.
  void onShutdown(std::function<void()> cb) { shutdown_hooks_.push_back(std::move(cb)); }

  // Listens and runs until a signal stops it. Returns the exit code.
  int run();

 private:
  void handle(const http::Request& request, http::Responder responder);
  void ready(http::Responder responder);
  void shutdown();
  static void onSignal(uv_signal_t* handle, int signum);
  static void onShutdownTimer(uv_timer_t* timer);

  std::string name_;
  std::string listen_;
  Config config_;
  uv_loop_t loop_;
  Router router_;
  ServiceMetrics metrics_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<PgPool> pg_;
  std::unique_ptr<redis::Client> redis_;
  std::vector<std::function<void()>> shutdown_hooks_;
  struct InFlight {
    std::string_view route;
    std::string_view method;
    uint64_t start_ns;
  };
  std::unordered_map<const http::Request*, InFlight> in_flight_;
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_timer_t shutdown_timer_;
  util::Millis shutdown_timeout_{10000};
  bool stopping_ = false;
};

// "host:port" -> the parts; exits the process with a message on a bad address.
void splitHostPort(const std::string& address, std::string* host, int* port);

}  // namespace kit
