// user-service: accounts, login and the public keys that verify its tokens.
//
// Settings of its own are declared below (the kit's: services/kit/settings.h); also
// jwt.private_keys, the PEM files of EC P-256 keys (the first signs, all are published), and
// seed.admin_email / seed.admin_password, seed.courier_email / seed.courier_password:
// accounts created at start when missing (development).
//
// Key rotation without a restart: list two files, jwt.private_keys: [current.pem,
// previous.pem]; copy current over previous, put the new key in current, send SIGHUP. The new
// key signs from then on, the old one stays published (its tokens stay valid until they
// expire), and the balancer, fetching /.well-known/jwks.json (jwt.jwks_url), learns the new
// kid on the first token that carries it.
#include <algorithm>
#include <csignal>
#include <functional>
#include <memory>

#include "common/log/log.h"
#include "services/kit/app.h"
#include "services/kit/setting.h"
#include "services/user/user_api.h"

namespace {

// Loads jwt.private_keys; on failure logs why and returns null.
std::shared_ptr<const user_service::TokenIssuer> loadIssuer(
    const kit::Config& config, const user_service::TokenIssuerOptions& options) {
  std::vector<std::string> keys = config.strings("jwt.private_keys");
  if (keys.empty()) {
    LOG_ERROR("jwt.private_keys: no signing key (make one with scripts/dev-keys)");
    return nullptr;
  }
  std::string error;
  auto issuer = user_service::TokenIssuer::loadFiles(keys, options, &error);
  if (!issuer) {
    LOG_ERROR("jwt.private_keys: %s", error.c_str());
    return nullptr;
  }
  return std::make_shared<const user_service::TokenIssuer>(std::move(*issuer));
}

// Writes the public keys to jwt.jwks_file when one is set; false, having said why, on failure.
bool writeJwks(const user_service::TokenIssuer& issuer, const std::string& path) {
  if (path.empty()) {
    return true;
  }
  std::string error;
  if (!issuer.writeJwksFile(path, &error)) {
    LOG_ERROR("jwt.jwks_file: %s", error.c_str());
    return false;
  }
  LOG_INFO("public keys written to %s (kid %s)", path.c_str(), issuer.signingKid().c_str());
  return true;
}

// The argon2id costs' defaults are those of Argon2Params.
const user_service::Argon2Params kArgon2{};
const kit::Setting<int64_t> kMemoryKib{"password.memory_kib", kArgon2.memory_kib,
                                       "argon2id memory cost"};
const kit::Setting<int64_t> kIterations{"password.iterations", kArgon2.iterations,
                                        "argon2id time cost"};
const user_service::UserApi::Options kApi{};
const kit::Setting<int64_t> kHashThreads{"password.threads", kApi.hash_threads,
                                         "threads of their own that hash passwords"};
const kit::Setting<int64_t> kHashQueue{
    "password.queue", static_cast<int64_t>(kApi.hash_queue),
    "password hashes that may wait for a thread; beyond: 503 with Retry-After"};
const kit::Setting<int64_t> kMaxFailures{
    "login.max_failures", kApi.throttle.max_failures,
    "failed logins of one account before it is locked (429); 0: no throttling"};
const kit::Setting<util::Millis> kBackoff{"login.backoff",
                                          util::Millis(kApi.throttle.backoff_ms),
                                          "the first lock; doubled at each further failure"};
const kit::Setting<util::Millis> kMaxBackoff{"login.max_backoff",
                                             util::Millis(kApi.throttle.max_backoff_ms),
                                             "the longest lock"};
const kit::Setting<util::Millis> kFailureWindow{
    "login.failure_window", util::Millis(kApi.throttle.window_ms),
    "failures are forgotten this long after the last one"};
const kit::Setting<std::string> kIssuer{"jwt.issuer", "https://users.local",
                                        "iss of the tokens (the balancer's jwt.issuer)"};
const kit::Setting<std::string> kAudience{"jwt.audience", "shop",
                                          "aud of the tokens (the balancer's jwt.audience)"};
const kit::Setting<util::Millis> kTtl{"jwt.ttl", util::Millis(3600 * 1000),
                                      "a token's lifetime"};
const kit::Setting<std::string> kJwksFile{
    "jwt.jwks_file", "", "where to write the public keys for the balancer (optional)"};

}  // namespace

int main(int argc, char** argv) {
  kit::App app("user-service", "127.0.0.1:7001", argc, argv);
  const kit::Config& config = app.config();

  user_service::Argon2Params params;
  params.memory_kib = static_cast<uint32_t>(config.get(kMemoryKib));
  params.iterations = static_cast<uint32_t>(config.get(kIterations));
  std::shared_ptr<const user_service::PasswordHasher> hasher;
  try {
    hasher = std::make_shared<const user_service::PasswordHasher>(params);
  } catch (const std::exception& e) {
    LOG_ERROR("password settings: %s", e.what());
    return 2;
  }

  user_service::TokenIssuerOptions options;
  options.issuer = config.get(kIssuer);
  options.audience = config.get(kAudience);
  options.ttl_seconds = config.get(kTtl).count() / 1000;
  std::shared_ptr<const user_service::TokenIssuer> issuer = loadIssuer(config, options);
  std::string jwks_file = config.get(kJwksFile);
  if (!issuer || !writeJwks(*issuer, jwks_file)) {
    return 2;
  }

  user_service::UserApi::Options api_options;
  api_options.hash_threads = static_cast<int>(std::max<int64_t>(1, config.get(kHashThreads)));
  api_options.hash_queue = static_cast<size_t>(std::max<int64_t>(1, config.get(kHashQueue)));
  api_options.throttle.max_failures = config.get(kMaxFailures);
  api_options.throttle.backoff_ms = static_cast<uint64_t>(config.get(kBackoff).count());
  api_options.throttle.max_backoff_ms = static_cast<uint64_t>(config.get(kMaxBackoff).count());
  api_options.throttle.window_ms = static_cast<uint64_t>(config.get(kFailureWindow).count());
  user_service::UserApi api(&app, hasher, issuer, api_options);

  // SIGHUP: the key files are read again (a rotation); a bad set keeps the running one.
  struct Rotation {
    uv_signal_t signal;
    std::function<void()> rotate;
  } rotation;
  rotation.rotate = [&] {
    LOG_INFO("SIGHUP: reloading jwt.private_keys");
    auto next = loadIssuer(config, options);
    if (!next || !writeJwks(*next, jwks_file)) {
      LOG_ERROR("SIGHUP: keeping the signing keys in use");
      return;
    }
    api.setIssuer(next);
    LOG_INFO("SIGHUP: signing with kid %s", next->signingKid().c_str());
  };
  uv_signal_init(app.loop(), &rotation.signal);
  rotation.signal.data = &rotation;
  uv_signal_start(
      &rotation.signal,
      [](uv_signal_t* handle, int) { static_cast<Rotation*>(handle->data)->rotate(); }, SIGHUP);
  app.onShutdown([&] { uv_close(reinterpret_cast<uv_handle_t*>(&rotation.signal), nullptr); });

  struct SeedAccount {
    const char* key;
    const char* role;
  };
  for (SeedAccount seed : {SeedAccount{"admin", "admin"}, SeedAccount{"courier", "courier"}}) {
    std::string prefix = std::string("seed.") + seed.key;
    std::string email = config.string(prefix + "_email", "");
    std::string password = config.string(prefix + "_password", "");
    if (!email.empty() && !password.empty()) {
      api.seedUser(email, password, seed.key, {seed.role});
    }
  }
  return app.run();
}
