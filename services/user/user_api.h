#pragma once

#include <memory>

#include "services/kit/app.h"
#include "services/kit/work_queue.h"
#include "services/user/login_throttle.h"
#include "services/user/password_hasher.h"
#include "services/user/token_issuer.h"

namespace user_service {

// The user service's HTTP API:
//   POST /api/users            {email, password, name}  -> 201 the user; 409 email taken
//   POST /api/auth/login       {email, password}        -> 200 {access_token, token_type, expires_in}
//   GET  /api/users/me         (X-User-Id)              -> 200 the user
//   GET  /.well-known/jwks.json                         -> the public keys
// Password hashing runs on threads of its own (a bounded queue: full -> 503 with Retry-After)
// without holding a database connection. Failed logins lock the account for a growing time
// (429 with Retry-After): LoginThrottle.
class UserApi {
 public:
  struct Options {
    LoginThrottle::Options throttle;  // max_failures 0: no throttling
    int hash_threads = 2;             // password.threads
    size_t hash_queue = 32;           // password.queue: hashes waiting; more answer 503
  };
  UserApi(kit::App* app, std::shared_ptr<const PasswordHasher> hasher,
          std::shared_ptr<const TokenIssuer> issuer, Options options);

  // The SQL the handlers run, prepared on every pooled connection.
  static std::vector<std::pair<std::string, std::string>> statements();

  // A key rotation (SIGHUP): tokens are signed by the new issuer's first key from now on
  // and the JWKS answer lists its keys. On the loop thread, as every use of the issuer is.
  void setIssuer(std::shared_ptr<const TokenIssuer> issuer);

  // Creates the account if its email is free (development seed: admin, courier). Retries
  // until the database answers.
  void seedUser(std::string email, std::string password, std::string name,
                std::vector<std::string> roles);

 private:
  void registerUser(const http::Request& request, http::Responder responder);
  void login(const http::Request& request, http::Responder responder);
  void me(const http::Request& request, http::Responder responder);
  // The stored hash checked against the password (on the hash queue), then the answer.
  void verify(std::string email, std::string password, http::Responder responder);
  // 503 with Retry-After: the hash queue is full (a login flood); other requests go on.
  void hashQueueFull(http::Responder& responder);
  struct Seed {
    std::string email, password, name, roles, hash;  // roles: a PostgreSQL array literal
    bool exists = false;
  };
  void seedStep(std::shared_ptr<Seed> seed);
  void retrySeed(std::shared_ptr<Seed> seed);
  static void onSeedTimer(uv_timer_t* timer);

  kit::App* app_;
  kit::PgPool* db_;
  std::shared_ptr<const PasswordHasher> hasher_;
  std::shared_ptr<const TokenIssuer> issuer_;
  std::string jwks_body_;
  Options options_;
  kit::WorkQueue hash_queue_;
  std::unique_ptr<redis::Client> throttle_redis_;  // not App's: /ready does not need it
  std::unique_ptr<LoginThrottle> throttle_;
  uint64_t logins_ok_ = 0;
  uint64_t logins_failed_ = 0;
  uint64_t registrations_ = 0;
  uv_timer_t seed_timer_;
  std::vector<std::shared_ptr<Seed>> seeds_waiting_;
  bool stopped_ = false;
};

// Whether `email` looks like an address we can store: one '@', a non-empty local part, a
// domain with a dot and no empty labels, no spaces or control characters, at most 254 bytes.
// (Deliverability is the mail server's to say; this refuses what is surely a mistake.)
bool plausibleEmail(std::string_view email);

}  // namespace user_service
