#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "balancer/admin/admin_server.h"
#include "balancer/discovery/dns_discovery.h"
#include "balancer/control/control.h"
#include "balancer/upstream/health_checker.h"
#include "balancer/downstream/listener_runtime.h"
#include "balancer/access_log/access_log.h"
#include "balancer/metrics/registry.h"
#include "balancer/shared_state.h"
#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"

namespace balancer {

// A listening socket with SO_REUSEPORT (one per worker and listener). Returns the descriptor,
// or -1 with the reason in `error`. `first`: the listener's first socket, refused when another
// process already listens on the address (SO_REUSEPORT would join it and split the
// connections with it: a second balancer started with the same file).
int openListeningSocket(const util::SocketAddress& address, bool first, std::string* error);
// Closes sockets opened for workers that did not take them.
void closeListening(const std::vector<std::vector<Worker::Listening>>& fds);
// Sets every runtime's https_port (where redirect_to_https sends clients) to the bound port
// of the first TLS listener, 443 without one. After the ports are known (port 0 binds).
void setHttpsPort(const ListenerRuntimes& listeners);

// The process: opens the listening sockets, starts the workers, runs the health checks and
// handles signals on the main thread's loop until a graceful shutdown ends it.
class Server {
 public:
  explicit Server(std::unique_ptr<Snapshot> snapshot);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Runs until SIGTERM or SIGINT has drained the workers. Returns the exit code.
  int run();
  // What GET /metrics shows; render() may be called from any thread.
  MetricsRegistry& metrics() { return *metrics_; }
  // The file SIGHUP loads the configuration from again.
  void setConfigPath(std::string path) { config_path_ = std::move(path); }

 private:
  static void onSignal(uv_signal_t* handle, int signum);
  // SIGUSR1: the access log opens its file again (after logrotate moved it).
  static void onReopenLogs(uv_signal_t* handle, int signum);
  static void onWorkerFinished(uv_async_t* async);
  static void onShutdownTimeout(uv_timer_t* timer);
  bool openListeners(int workers, std::vector<std::vector<Worker::Listening>>* fds);
  // Loads every TLS listener's certificates; on failure logs why and returns false.
  bool loadTls();
  // Loads the JWKS file into a new verifier; on failure logs why and returns false. With
  // jwks_url, starts (or keeps) the fetcher instead, which publishes verifiers as keys come.
  bool loadJwks();
  // Starts the fetcher of jwt.jwks_url, or keeps the running one when its settings stand
  // (its keys then go out with the new options at once); publishes an empty key set until a
  // first fetch succeeds, so tokens meanwhile get 401, as Envoy's jwt_authn answers them.
  void startKeyFetcher(const JwtConfig& jc, jwt::Options options);
  void stopKeyFetcher();
  static void onRotateTicketKeys(uv_timer_t* timer);
  void beginShutdown(int signum);
  // The admin API and runtime backend control (server/control.cc). Returns false, having
  // said why, when admin.address cannot be bound.
  bool startControl();
  void stopControl();
  // The main loop's own handles (wake-up, timers, signals); false, having said why, if one
  // could not be set up.
  bool openHandles();
  void closeHandles();
  // Creates and starts a worker per entry of `fds`; false, having said why, if one failed.
  bool startWorkers(std::vector<std::vector<Worker::Listening>>* fds);
  // A startup step failed: stops what was started, says so and returns the exit status.
  int notStarted();
  void finish();
  // SIGHUP (server/reload.cc): loads config_path_ again and, if it is good,
  // swaps the new snapshot in; otherwise logs why and keeps the running one.
  void reload();

  // The running configuration and its listeners' runtimes. The workers hold them too, and
  // those replaced by a reload until the last session on them closes.
  std::shared_ptr<Snapshot> snapshot_;
  std::shared_ptr<ListenerRuntimes> listeners_;
  std::string config_path_;
  uv_loop_t loop_;
  int loop_error_ = 0;  // uv_loop_init's result: the loop is usable when 0
  std::vector<uv_handle_t*> open_handles_;  // of those below, the ones initialized
  uv_signal_t sigterm_;
  uv_signal_t sigint_;
  uv_signal_t sighup_;
  uv_signal_t sigusr1_;
  uv_async_t worker_finished_;
  uv_timer_t shutdown_timer_;
  uv_timer_t ticket_timer_;
  std::shared_ptr<tls::TicketKeys> ticket_keys_;
  SharedState shared_;
  jwks::JwksStats jwks_stats_;
  std::shared_ptr<jwks::JwksFetcher> jwks_fetcher_;  // with jwt.jwks_url
  std::unique_ptr<MetricsRegistry> metrics_;  // sums the workers' counters at scrape time
  std::unique_ptr<AccessLog> access_log_;     // null when access_log is off
  std::unique_ptr<HealthChecker> health_checker_;
  std::unique_ptr<Control> control_;     // runtime backends, ejection upkeep (main loop)
  std::unique_ptr<DnsDiscovery> discovery_;  // backends named by host (main loop)
  std::unique_ptr<AdminServer> admin_;   // admin.address, when configured
  std::vector<std::unique_ptr<Worker>> workers_;
  bool shutting_down_ = false;
  bool aborting_ = false;  // shutdown_timeout passed: the workers close their connections
  bool finished_ = false;
};

}  // namespace balancer
