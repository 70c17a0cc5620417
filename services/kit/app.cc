#include "services/kit/app.h"

#include <pqxx/pqxx>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <hiredis/hiredis.h>

#include "common/log/log.h"
#include "common/metrics/exposition.h"
#include "services/kit/input_check.h"
#include "services/kit/reply.h"
#include "services/kit/settings.h"

namespace kit {

namespace {
void noopClose(uv_handle_t* /*handle*/) {}
}  // namespace

void splitHostPort(const std::string& address, std::string* host, int* port) {
  size_t colon = address.rfind(':');
  char* end = nullptr;
  long p = colon == std::string::npos ? 0 : std::strtol(address.c_str() + colon + 1, &end, 10);
  if (colon == std::string::npos || colon == 0 || end == nullptr || *end != '\0' || p <= 0 ||
      p > 65535) {
    std::fprintf(stderr, "bad address '%s': expected HOST:PORT\n", address.c_str());
    std::exit(2);
  }
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  *port = static_cast<int>(p);
}

namespace {
// A setting a service reads after start-up (in its main) may be bad too: say so and exit 2
// rather than abort with "terminate called after throwing".
[[noreturn]] void onTerminate() {
  if (std::exception_ptr error = std::current_exception()) {
    try {
      std::rethrow_exception(error);
    } catch (const ConfigError& e) {
      std::fprintf(stderr, "bad setting: %s\n", e.what());
      std::_Exit(2);
    } catch (...) {
    }
  }
  std::abort();
}
}  // namespace

App::App(std::string name, std::string default_listen, int argc, char** argv)
    : name_(std::move(name)), metrics_(name_) {
  std::set_terminate(onTerminate);
  try {
    config_ = Config::fromArgs(argc, argv);
    logging::Level level = logging::Level::kInfo;
    std::string level_text = config_.get(settings::kLogLevel);
    if (!logging::parseLevel(level_text.c_str(), &level)) {
      throw ConfigError("log.level: expected debug, info, warn or error, not '" + level_text + "'");
    }
    logging::setLevel(level);
    std::string format = config_.get(settings::kLogFormat);
    if (format != "text" && format != "json") {
      throw ConfigError("log.format: expected text or json, not '" + format + "'");
    }
    logging::setFormat(format == "json" ? logging::Format::kJson : logging::Format::kText,
                       name_.c_str());
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: %s\n", name_.c_str(), e.what());
    std::exit(2);
  }
  // Database work runs on libuv's thread pool (4 threads by default): size it for the pool
  // plus two, unless the environment says otherwise. CPU-bound work (password hashing) has
  // threads of its own (WorkQueue), so that it never queues ahead of database work.
  if (std::getenv("UV_THREADPOOL_SIZE") == nullptr) {
    std::string n = std::to_string(config_.get(settings::kDatabasePoolSize) + 2);
    setenv("UV_THREADPOOL_SIZE", n.c_str(), 0);
  }
  uv_loop_init(&loop_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_timer_init(&loop_, &shutdown_timer_);
  sigterm_.data = this;
  sigint_.data = this;
  shutdown_timer_.data = this;
  listen_ = config_.string("listen", default_listen);

  router_.add("GET", "/health", [](const http::Request&, const Params&, http::Responder r) {
    r.send(jsonResponse(200, Json{{"status", "ok"}}));
  });
  router_.add("GET", "/ready", [this](const http::Request&, const Params&, http::Responder r) {
    ready(std::move(r));
  });
  router_.add("GET", "/metrics", [this](const http::Request&, const Params&, http::Responder r) {
    http::Response response;
    response.content_type = std::string(metrics::Exposition::kContentType);
    response.body = metrics_.render();
    r.send(std::move(response));
  });
}

App::~App() {
  server_.reset();
  pg_.reset();
  redis_.reset();
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&sigterm_),
                         reinterpret_cast<uv_handle_t*>(&sigint_),
                         reinterpret_cast<uv_handle_t*>(&shutdown_timer_)}) {
    if (!uv_is_closing(h)) {
      uv_close(h, noopClose);
    }
  }
  // Let every handle's close callback run before the loop goes.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

PgPool& App::database(std::vector<std::pair<std::string, std::string>> statements) {
  if (!pg_) {
    PgPool::Options options;
    options.url = config_.get(settings::kDatabaseUrl);
    options.size = static_cast<int>(config_.get(settings::kDatabasePoolSize));
    options.acquire_timeout = config_.get(settings::kDatabaseAcquireTimeout);
    options.statements = std::move(statements);
    pg_ = std::make_unique<PgPool>(&loop_, std::move(options));
    metrics_.setPool(pg_.get());
  }
  return *pg_;
}

std::unique_ptr<redis::Client> App::newRedisClient(std::string purpose,
                                                   uint64_t command_timeout_ms) {
  redis::Client::Options options;
  splitHostPort(config_.get(settings::kRedisAddress), &options.host, &options.port);
  options.command_timeout_ms = command_timeout_ms;
  options.name = std::move(purpose);
  options.username = config_.get(settings::kRedisUsername);
  std::string password_file = config_.get(settings::kRedisPasswordFile);
  if (!password_file.empty()) {
    std::ifstream in(password_file);
    std::getline(in, options.password);
    while (!options.password.empty() && std::isspace(static_cast<unsigned char>(
                                            options.password.back())) != 0) {
      options.password.pop_back();  // the newline an editor or `echo` leaves
    }
    if (!in && options.password.empty()) {
      // A configuration error found at start (services open Redis before serving).
      LOG_ERROR("redis.password_file %s: cannot read it, or it is empty", password_file.c_str());
      std::exit(2);
    }
  }
  return std::make_unique<redis::Client>(&loop_, std::move(options));
}

redis::Client& App::redis() {
  if (!redis_) {
    redis_ = newRedisClient(name_, static_cast<uint64_t>(
                                       config_.get(settings::kRedisTimeout).count()));
    metrics_.setRedisUp([this] { return redis_->connected(); });
  }
  return *redis_;
}

void App::handle(const http::Request& request, http::Responder responder) {
  metrics_.requestStarted();
  InFlight& entry = in_flight_[&request];
  entry.method = request.method_name;
  entry.start_ns = uv_hrtime();
  std::string problem =
      requestTextProblem(request.path, request.query, request.header("Idempotency-Key"));
  if (!problem.empty()) {
    responder.send(errorResponse(400, problem));
    return;
  }
  router_.handle(request, std::move(responder), &entry.route);
}

// Alive is /health; ready means the stores this service uses answer now.
void App::ready(http::Responder responder) {
  struct Check {
    http::Responder responder;
    int pending = 0;
    Json body = Json::object();
    bool ok = true;
    void finish() {
      if (--pending == 0) {
        body["status"] = ok ? "ready" : "not ready";
        responder.send(jsonResponse(ok ? 200 : 503, body));
      }
    }
  };
  auto check = std::make_shared<Check>();
  check->responder = std::move(responder);
  check->pending = 1;
  if (pg_) {
    ++check->pending;
    pg_->run([](pqxx::connection& c) { pqxx::nontransaction(c).exec("SELECT 1"); },
             [check](std::exception_ptr error) {
               check->body["database"] = error ? "down" : "up";
               check->ok = check->ok && !error;
               check->finish();
             });
  }
  if (redis_) {
    ++check->pending;
    redis_->command({"PING"}, [check](const redisReply* reply) {
      bool up = reply != nullptr && reply->type != REDIS_REPLY_ERROR;
      check->body["redis"] = up ? "up" : "down";
      check->ok = check->ok && up;
      check->finish();
    });
  }
  check->finish();
}

int App::run() {
  std::string error;
  auto address = util::parseSocketAddress(listen_, &error);
  if (!address) {
    LOG_ERROR("listen %s: %s", listen_.c_str(), error.c_str());
    return 2;
  }
  http::ServerOptions options;
  std::string size_error;
  auto max_body = util::parseSize(config_.get(settings::kMaxBodySize), &size_error);
  if (!max_body) {
    LOG_ERROR("max_body_size: %s", size_error.c_str());
    return 2;
  }
  options.limits.max_body_size = *max_body;
  options.on_response = [this](const http::Request& request, int status) {
    auto it = in_flight_.find(&request);
    if (it == in_flight_.end()) {
      return;
    }
    double seconds = static_cast<double>(uv_hrtime() - it->second.start_ns) / 1e9;
    metrics_.requestFinished(it->second.route, it->second.method, status, seconds);
    in_flight_.erase(it);
  };
  server_ = std::make_unique<http::Server>(
      &loop_, [this](const http::Request& req, http::Responder r) { handle(req, std::move(r)); },
      options);
  int rc = server_->listen(*address);
  if (rc != 0) {
    LOG_ERROR("cannot listen on %s: %s", listen_.c_str(), uv_strerror(rc));
    return 1;
  }
  // Read now, so it counts as a known setting and a bad value shows at start.
  shutdown_timeout_ = config_.get(settings::kShutdownTimeout);
  for (const std::string& key : config_.unusedFileKeys()) {
    LOG_WARN("%s: unknown setting '%s' ignored", config_.file().c_str(), key.c_str());
  }
  LOG_INFO("%s listening on %s", name_.c_str(), listen_.c_str());

  uv_signal_start(&sigterm_, onSignal, SIGTERM);
  uv_signal_start(&sigint_, onSignal, SIGINT);
  signal(SIGPIPE, SIG_IGN);

  uv_run(&loop_, UV_RUN_DEFAULT);
  LOG_INFO("%s stopped", name_.c_str());
  return 0;
}

void App::onSignal(uv_signal_t* handle, int signum) {
  auto* self = static_cast<App*>(handle->data);
  LOG_INFO("%s: signal %d, shutting down", self->name_.c_str(), signum);
  self->shutdown();
}

void App::shutdown() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  server_->close();  // idle connections close now, busy ones after their answer
  for (auto& hook : shutdown_hooks_) {
    hook();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), noopClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), noopClose);
  uv_timer_start(&shutdown_timer_, onShutdownTimer,
                 static_cast<uint64_t>(shutdown_timeout_.count()), 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&shutdown_timer_));
  // Give in-flight database work its answer, then release the stores.
  if (pg_) {
    pg_->close();
  }
  if (redis_) {
    redis_->close();
  }
}

void App::onShutdownTimer(uv_timer_t* timer) {
  auto* self = static_cast<App*>(timer->data);
  LOG_WARN("%s: shutdown_timeout reached with work in flight; stopping", self->name_.c_str());
  uv_stop(&self->loop_);
}

}  // namespace kit
