#include "balancer/server/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/log/log.h"

namespace balancer {

namespace {

socklen_t addressLength(const util::SocketAddress& address) {
  return address.family() == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// Whether another socket listens on `address` already: a bind without SO_REUSEPORT fails
// then (SO_REUSEADDR: a connection of an earlier run left in TIME_WAIT does not count).
bool someoneListens(const util::SocketAddress& address) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;  // the real bind reports what is wrong
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (address.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  bool taken = bind(fd, address.get(), addressLength(address)) != 0 && errno == EADDRINUSE;
  ::close(fd);
  return taken;
}

}  // namespace

// A listening socket with SO_REUSEPORT, so each worker has its own accept queue and the
// kernel spreads connections over them.
int openListeningSocket(const util::SocketAddress& address, bool first, std::string* error) {
  if (first && address.port() != 0 && someoneListens(address)) {
    *error = "address already in use (another process listens there; a second balancer would "
             "share the port with it and take part of its connections)";
    return -1;
  }
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (address.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd, address.get(), addressLength(address)) != 0 || listen(fd, 4096) != 0) {
    *error = strerror(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

void closeListening(const std::vector<std::vector<Worker::Listening>>& fds) {
  for (const auto& per_worker : fds) {
    for (const Worker::Listening& l : per_worker) {
      ::close(l.fd);
    }
  }
}

Server::Server(std::unique_ptr<Snapshot> snapshot)
    : snapshot_(std::move(snapshot)), listeners_(std::make_shared<ListenerRuntimes>()) {
  loop_error_ = uv_loop_init(&loop_);
  metrics_ = std::make_unique<MetricsRegistry>(snapshot_.get());
}

Server::~Server() {
  stopKeyFetcher();
  admin_.reset();
  control_.reset();
  workers_.clear();
  health_checker_.reset();
  if (loop_error_ == 0) {
    uv_loop_close(&loop_);
  }
}

namespace {
// How often session ticket keys change; a ticket stays valid for two periods.
constexpr uint64_t kTicketKeyRotationMs = 6 * 3600 * 1000;
}  // namespace

bool Server::loadTls() {
  bool ok = true;
  for (auto& runtime : *listeners_) {
    const ListenerConfig& l = *runtime->config;
    if (!l.tls) {
      continue;
    }
    tls::ServerOptions options;
    for (const auto& c : l.tls->certificates) {
      options.certificates.push_back({c.cert, c.key});
    }
    options.min_version = l.tls->min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    options.ciphers = l.tls->ciphers;
    options.ciphersuites = l.tls->ciphersuites;
    std::string error;
    auto context = tls::ServerContext::load(options, ticket_keys_, &error);
    if (!context) {
      LOG_ERROR("listener %s: %s", l.name.c_str(), error.c_str());
      ok = false;
      continue;
    }
    runtime->tls.store(std::move(context));
  }
  return ok;
}

bool Server::loadJwks() {
  const auto& jc = snapshot_->config().jwt;
  if (!jc) {
    stopKeyFetcher();
    return true;
  }
  jwt::Options options;
  options.issuer = jc->issuer;
  options.audience = jc->audience;
  options.leeway_seconds = jc->leeway.count() / 1000;
  for (const auto& [claim, header] : jc->claims_to_headers) {
    options.kept_claims.push_back(claim);
  }
  if (!jc->jwks_url.empty()) {
    startKeyFetcher(*jc, std::move(options));
    return true;
  }
  std::string error;
  auto keys = jwt::KeySet::loadFile(jc->jwks_file, &error);
  if (!keys) {
    LOG_ERROR("jwt: %s: %s", jc->jwks_file.c_str(), error.c_str());
    return false;
  }
  stopKeyFetcher();
  size_t count = keys->size();
  shared_.setVerifier(std::make_shared<const jwt::Verifier>(
      std::make_shared<const jwt::KeySet>(std::move(*keys)), std::move(options)));
  LOG_INFO("jwt: %zu keys from %s", count, jc->jwks_file.c_str());
  return true;
}

void Server::startKeyFetcher(const JwtConfig& jc, jwt::Options options) {
  jwks::FetcherSettings settings;
  settings.url = jc.jwks_url;
  settings.ca_file = jc.jwks_ca;
  settings.refresh_min = jc.jwks_refresh.min;
  settings.refresh_max = jc.jwks_refresh.max;
  auto publish = [this, options = std::move(options)](std::shared_ptr<const jwt::KeySet> keys) {
    if (!keys) {
      keys = std::make_shared<const jwt::KeySet>();  // every kid unknown: 401, and a refetch
    }
    shared_.setVerifier(std::make_shared<const jwt::Verifier>(std::move(keys), options));
  };
  if (jwks_fetcher_ && jwks_fetcher_->settings() == settings) {
    jwks_fetcher_->setPublish(std::move(publish));
    return;
  }
  stopKeyFetcher();
  jwks_stats_.keys.store(0);
  publish(nullptr);  // keys of another URL are not trusted for this one
  jwks_fetcher_ = std::make_shared<jwks::JwksFetcher>(settings, &jwks_stats_);
  jwks_fetcher_->start(std::move(publish));
  shared_.setKeyFetcher(jwks_fetcher_);
  metrics_->setJwksStats(&jwks_stats_);
  LOG_INFO("jwt: keys from %s", settings.url.c_str());
}

void Server::stopKeyFetcher() {
  if (jwks_fetcher_) {
    metrics_->setJwksStats(nullptr);
    shared_.setKeyFetcher(nullptr);
    jwks_fetcher_->stop();
    jwks_fetcher_.reset();
  }
}

bool Server::openListeners(int workers, std::vector<std::vector<Worker::Listening>>* fds) {
  fds->assign(static_cast<size_t>(workers), {});
  for (size_t li = 0; li < snapshot_->config().listeners.size(); ++li) {
    const ListenerConfig& l = snapshot_->config().listeners[li];
    util::SocketAddress address = l.address;
    for (int w = 0; w < workers; ++w) {
      std::string error;
      int fd = openListeningSocket(address, w == 0, &error);
      if (fd < 0) {
        LOG_ERROR("listener %s: cannot listen on %s: %s", l.name.c_str(), address.text.c_str(),
                  error.c_str());
        closeListening(*fds);
        return false;
      }
      if (w == 0 && address.port() == 0) {
        // Port 0: the kernel picked one; the other workers share it.
        socklen_t len = sizeof address.storage;
        getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage), &len);
      }
      (*fds)[static_cast<size_t>(w)].push_back({fd, (*listeners_)[li].get()});
    }
    (*listeners_)[li]->port = address.port();
    LOG_INFO("listening name=%s address=%s", l.name.c_str(),
             util::formatAddress(address.get()).c_str());
  }
  setHttpsPort(*listeners_);
  return true;
}

void setHttpsPort(const ListenerRuntimes& listeners) {
  // The first TLS listener's bound port, so a listener on port 0 redirects to the real one.
  int https_port = 443;
  for (const auto& runtime : listeners) {
    if (runtime->config->tls) {
      https_port = runtime->port;
      break;
    }
  }
  for (const auto& runtime : listeners) {
    runtime->https_port = https_port;
  }
}

int Server::run() {
  if (loop_error_ != 0) {
    LOG_ERROR("uv_loop_init: %s; balancer not started", uv_strerror(loop_error_));
    return 1;
  }
  int workers = snapshot_->config().workers;
  if (workers <= 0) {
    workers = static_cast<int>(std::thread::hardware_concurrency());
    workers = workers > 0 ? workers : 1;
  }
  ticket_keys_ = std::make_shared<tls::TicketKeys>();
  for (const ListenerConfig& l : snapshot_->config().listeners) {
    auto runtime = std::make_unique<ListenerRuntime>();
    runtime->config = &l;
    listeners_->push_back(std::move(runtime));
  }
  if (!loadTls() || !loadJwks()) {
    return notStarted();
  }
  if (const auto& al = snapshot_->config().access_log) {
    std::string error;
    access_log_ = AccessLog::open(al->path, &error);
    if (!access_log_) {
      LOG_ERROR("access_log: %s", error.c_str());
      return notStarted();
    }
    metrics_->setAccessLog(access_log_.get());
  }
  // Everything that can fail on the main loop comes first, the admin API's socket included,
  // so a failure leaves no listener open and no worker running.
  if (!openHandles()) {
    return notStarted();
  }
  health_checker_ = std::make_unique<HealthChecker>(&loop_, snapshot_.get());
  if (!startControl()) {
    return notStarted();
  }
  std::vector<std::vector<Worker::Listening>> fds;
  if (!openListeners(workers, &fds) || !startWorkers(&fds)) {
    return notStarted();
  }
  if (access_log_) {
    access_log_->start();
  }
  health_checker_->start();
  LOG_INFO("balancer started workers=%d upstreams=%zu routes=%zu", workers,
           snapshot_->upstreams().size(), snapshot_->config().routes.size());

  uv_run(&loop_, UV_RUN_DEFAULT);
  for (auto& worker : workers_) {
    worker->join();
  }
  if (access_log_) {
    access_log_->stop();  // the workers' last lines
  }
  LOG_INFO("balancer stopped");
  return 0;
}

bool Server::openHandles() {
  int r = uv_async_init(&loop_, &worker_finished_, &Server::onWorkerFinished);
  if (r != 0) {
    LOG_ERROR("uv_async_init: %s", uv_strerror(r));
    return false;
  }
  worker_finished_.data = this;
  open_handles_.push_back(reinterpret_cast<uv_handle_t*>(&worker_finished_));
  for (uv_timer_t* timer : {&shutdown_timer_, &ticket_timer_}) {
    if ((r = uv_timer_init(&loop_, timer)) != 0) {
      LOG_ERROR("uv_timer_init: %s", uv_strerror(r));
      return false;
    }
    timer->data = this;
    open_handles_.push_back(reinterpret_cast<uv_handle_t*>(timer));
  }
  uv_timer_start(&ticket_timer_, &Server::onRotateTicketKeys, kTicketKeyRotationMs,
                 kTicketKeyRotationMs);
  struct Handler {
    uv_signal_t* handle;
    int number;
    uv_signal_cb callback;
  };
  const Handler handlers[] = {{&sigterm_, SIGTERM, &Server::onSignal},
                              {&sigint_, SIGINT, &Server::onSignal},
                              {&sighup_, SIGHUP, &Server::onSignal},
                              {&sigusr1_, SIGUSR1, &Server::onReopenLogs}};
  for (const Handler& h : handlers) {
    if ((r = uv_signal_init(&loop_, h.handle)) != 0) {
      LOG_ERROR("uv_signal_init: %s", uv_strerror(r));
      return false;
    }
    h.handle->data = this;
    open_handles_.push_back(reinterpret_cast<uv_handle_t*>(h.handle));
    if ((r = uv_signal_start(h.handle, h.callback, h.number)) != 0) {
      LOG_ERROR("signal %s: %s", strsignal(h.number), uv_strerror(r));
      return false;
    }
  }
  return true;
}

bool Server::startWorkers(std::vector<std::vector<Worker::Listening>>* fds) {
  for (auto& listening : *fds) {
    auto id = static_cast<int>(workers_.size());
    workers_.push_back(std::make_unique<Worker>(id, snapshot_, listeners_, &shared_,
                                                std::move(listening),
                                                [this] { uv_async_send(&worker_finished_); }));
  }
  for (auto& worker : workers_) {
    metrics_->addWorker(worker->metricsBlock());
    if (access_log_) {
      worker->setAccessLog(access_log_->addSink());
    }
  }
  for (auto& worker : workers_) {
    std::string error;
    if (!worker->start(&error)) {
      LOG_ERROR("worker %d: %s", worker->id(), error.c_str());
      return false;  // notStarted() stops the workers that run
    }
  }
  return true;
}

int Server::notStarted() {
  // Workers that started (a later one failed) stop at once: no connection came yet.
  for (auto& worker : workers_) {
    if (worker->started()) {
      worker->stop();
    }
  }
  for (auto& worker : workers_) {
    worker->join();
  }
  workers_.clear();  // closes the listening sockets of workers that never started
  stopKeyFetcher();
  stopControl();
  if (health_checker_) {
    health_checker_->stop();
  }
  closeHandles();
  uv_run(&loop_, UV_RUN_DEFAULT);  // the close callbacks
  LOG_ERROR("balancer not started");
  return 1;
}

void Server::closeHandles() {
  for (uv_handle_t* handle : open_handles_) {
    uv_close(handle, nullptr);
  }
  open_handles_.clear();
}

void Server::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<Server*>(handle->data);
  if (signum == SIGHUP) {
    // The whole configuration, certificates and keys included (balancer/reload).
    self->reload();
    return;
  }
  self->beginShutdown(signum);
}

void Server::onReopenLogs(uv_signal_t* handle, int) {
  auto* self = static_cast<Server*>(handle->data);
  if (self->access_log_) {
    LOG_INFO("SIGUSR1: reopening the access log");
    self->access_log_->reopen();
  }
}

void Server::beginShutdown(int signum) {
  if (shutting_down_) {
    return;
  }
  shutting_down_ = true;
  LOG_INFO("%s: draining (shutdown_timeout %lldms)", signum == SIGINT ? "SIGINT" : "SIGTERM",
           static_cast<long long>(snapshot_->config().shutdown_timeout.count()));
  for (auto& worker : workers_) {
    worker->stop();
  }
  uv_timer_start(&shutdown_timer_, &Server::onShutdownTimeout,
                 static_cast<uint64_t>(snapshot_->config().shutdown_timeout.count()), 0);
}

void Server::onRotateTicketKeys(uv_timer_t* timer) {
  static_cast<Server*>(timer->data)->ticket_keys_->rotate();
}

void Server::onWorkerFinished(uv_async_t* async) {
  auto* self = static_cast<Server*>(async->data);
  for (auto& worker : self->workers_) {
    if (!worker->finished()) {
      return;
    }
  }
  self->finish();
}

namespace {
// How long workers get to close their connections after shutdown_timeout.
constexpr std::chrono::milliseconds kAbortGrace{2000};
}  // namespace

void Server::onShutdownTimeout(uv_timer_t* timer) {
  auto* self = static_cast<Server*>(timer->data);
  if (self->aborting_) {
    // The workers did not finish even with every session closed: end the process.
    LOG_WARN("workers did not stop %lldms after closing their connections; exiting",
             static_cast<long long>(kAbortGrace.count()));
    _exit(0);
  }
  LOG_WARN("shutdown_timeout passed with requests still in flight; closing them");
  // Each in-flight exchange is logged (503) as its connection closes; then the workers end
  // as on a drain, and the access log is flushed by the normal exit.
  self->aborting_ = true;
  for (auto& worker : self->workers_) {
    if (!worker->finished()) {
      worker->abortSessions();
    }
  }
  uv_timer_start(timer, &Server::onShutdownTimeout, static_cast<uint64_t>(kAbortGrace.count()),
                 0);
}

void Server::finish() {
  if (finished_) {
    return;
  }
  finished_ = true;
  stopKeyFetcher();
  health_checker_->stop();
  stopControl();
  closeHandles();
}

}  // namespace balancer
