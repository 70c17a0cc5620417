#include "services/user/user_api.h"

#include <pqxx/pqxx>

#include <ctime>

#include "common/log/log.h"
#include "services/kit/identity.h"
#include "services/kit/reply.h"
#include "services/kit/settings.h"

namespace user_service {

namespace {

constexpr size_t kMinPassword = 8;
constexpr size_t kMaxPassword = 1024;  // argon2 hashes any length; bound the work per request
constexpr size_t kMaxName = 200;

// A user row as the API shows it: roles as a JSON array, times as ISO-8601 UTC.
constexpr const char* kUserColumns =
    "id, email, name, array_to_json(roles)::text, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

kit::Json userJson(const pqxx::row& row) {
  return kit::Json{{"id", row[0].as<int64_t>()},
                   {"email", row[1].as<std::string>()},
                   {"name", row[2].as<std::string>()},
                   {"roles", kit::Json::parse(row[3].as<std::string>())},
                   {"created_at", row[4].as<std::string>()}};
}

struct Credentials {
  std::string email;
  std::string password;
};

// {"email": "...", "password": "..."}, or nullopt after answering 400.
std::optional<Credentials> readCredentials(const kit::Json& body, http::Responder& responder) {
  auto email = kit::requireString(body, "email", responder);
  if (!email) {
    return std::nullopt;
  }
  auto password = kit::requireString(body, "password", responder);
  if (!password) {
    return std::nullopt;
  }
  return Credentials{std::move(*email), std::move(*password)};
}

}  // namespace

bool plausibleEmail(std::string_view email) {
  if (email.size() < 3 || email.size() > 254) {
    return false;
  }
  size_t at = email.find('@');
  if (at == 0 || at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (char c : email) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == ',' || c == '<' || c == '>' || c == '"') {
      return false;
    }
  }
  std::string_view domain = email.substr(at + 1);
  if (domain.find('.') == std::string_view::npos || domain.front() == '.' ||
      domain.back() == '.' || domain.find("..") != std::string_view::npos) {
    return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> UserApi::statements() {
  std::string cols = kUserColumns;
  return {
      {"user_insert",
       "INSERT INTO users (email, password_hash, name, roles) VALUES ($1, $2, $3, $4::text[]) "
       "RETURNING " + cols},
      {"user_seed",
       "INSERT INTO users (email, password_hash, name, roles) SELECT $1, $2, $3, $4::text[] "
       "WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1)) "
       "ON CONFLICT DO NOTHING RETURNING id"},
      {"user_seed_exists", "SELECT 1 FROM users WHERE lower(email) = lower($1)"},
      {"user_for_login",
       "SELECT id, password_hash, array_to_json(roles)::text FROM users "
       "WHERE lower(email) = lower($1)"},
      {"user_by_id", "SELECT " + cols + " FROM users WHERE id = $1"},
      {"user_rehash", "UPDATE users SET password_hash = $2 WHERE id = $1"},
  };
}

UserApi::UserApi(kit::App* app, std::shared_ptr<const PasswordHasher> hasher,
                 std::shared_ptr<const TokenIssuer> issuer, Options options)
    : app_(app),
      db_(&app->database(statements())),
      hasher_(std::move(hasher)),
      issuer_(std::move(issuer)),
      jwks_body_(issuer_->jwksJson()),
      options_(options),
      hash_queue_(app->loop(), "password", options.hash_threads, options.hash_queue) {
  if (options_.throttle.max_failures > 0) {
    throttle_redis_ = app_->newRedisClient(
        "user-service login throttle",
        static_cast<uint64_t>(app_->config().get(kit::settings::kRedisTimeout).count()));
    throttle_ = std::make_unique<LoginThrottle>(*throttle_redis_, options_.throttle);
  }
  uv_timer_init(app_->loop(), &seed_timer_);
  seed_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&seed_timer_));
  app_->onShutdown([this] {
    stopped_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&seed_timer_), nullptr);
    hash_queue_.close();  // 503 to the hashes still queued; waits for the running ones
    if (throttle_redis_) {
      throttle_redis_->close();
    }
  });
  kit::Router& r = app_->router();
  r.add("POST", "/api/users",
        [this](const http::Request& req, const kit::Params&, http::Responder res) {
          registerUser(req, std::move(res));
        });
  r.add("POST", "/api/auth/login",
        [this](const http::Request& req, const kit::Params&, http::Responder res) {
          login(req, std::move(res));
        });
  r.add("GET", "/api/users/me",
        [this](const http::Request& req, const kit::Params&, http::Responder res) {
          me(req, std::move(res));
        });
  r.add("GET", "/.well-known/jwks.json",
        [this](const http::Request&, const kit::Params&, http::Responder res) {
          http::Response response;
          response.body = jwks_body_;
          response.headers.emplace_back("Cache-Control", "public, max-age=300");
          res.send(std::move(response));
        });
  app_->metrics().addCollector([this](metrics::Exposition& out) {
    out.family("user_logins_total", "counter", "Login attempts, by result.");
    out.sample("user_logins_total", {{"result", "ok"}}, static_cast<double>(logins_ok_));
    out.sample("user_logins_total", {{"result", "refused"}}, static_cast<double>(logins_failed_));
    out.family("user_registrations_total", "counter", "Accounts created through the API.");
    out.sample("user_registrations_total", {}, static_cast<double>(registrations_));
    out.family("user_password_queue_waiting", "gauge", "Password hashes waiting for a thread.");
    out.sample("user_password_queue_waiting", {}, static_cast<double>(hash_queue_.waiting()));
    out.family("user_password_queue_refused_total", "counter",
               "Requests answered 503 because the password hash queue was full.");
    out.sample("user_password_queue_refused_total", {},
               static_cast<double>(hash_queue_.refused()));
    if (throttle_) {
      throttle_->collect(out);
    }
  });
}

void UserApi::setIssuer(std::shared_ptr<const TokenIssuer> issuer) {
  issuer_ = std::move(issuer);
  jwks_body_ = issuer_->jwksJson();
}

void UserApi::registerUser(const http::Request& request, http::Responder responder) {
  auto body = kit::parseJsonObject(request, responder);
  std::optional<Credentials> credentials = body ? readCredentials(*body, responder) : std::nullopt;
  if (!credentials) {
    return;
  }
  auto& [email, password] = *credentials;
  std::string name;
  if (auto it = body->find("name"); it != body->end() && !it->is_null()) {
    if (!it->is_string()) {
      responder.send(kit::errorResponse(400, "name must be a string"));
      return;
    }
    name = it->get<std::string>();
  }
  if (!plausibleEmail(email)) {
    responder.send(kit::errorResponse(400, "email is not a valid address"));
    return;
  }
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    responder.send(kit::errorResponse(400, "password must be 8 to 1024 characters"));
    return;
  }
  if (name.size() > kMaxName) {
    responder.send(kit::errorResponse(400, "name is longer than 200 characters"));
    return;
  }
  struct State {
    std::string email, password, name, hash;
    kit::Json user;
    bool taken = false;
  };
  auto state = std::make_shared<State>(State{email, password, name, {}, {}, false});
  bool queued = hash_queue_.submit(
      [state, hasher = hasher_] { state->hash = hasher->hash(state->password); },
      [this, state, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "password hashing"));
          return;
        }
        db_->run(
            [state](pqxx::connection& c) {
              pqxx::work tx(c);
              try {
                pqxx::result r = tx.exec_prepared("user_insert", state->email, state->hash,
                                                  state->name, "{customer}");
                state->user = userJson(r[0]);
                tx.commit();
              } catch (const pqxx::unique_violation&) {
                state->taken = true;
              }
            },
            [this, state, responder](std::exception_ptr err) mutable {
              if (err) {
                responder.send(kit::failureResponse(err, "register"));
              } else if (state->taken) {
                responder.send(kit::errorResponse(409, "an account with this email exists"));
              } else {
                ++registrations_;
                http::Response r = kit::jsonResponse(201, state->user);
                r.headers.emplace_back("Location", "/api/users/me");
                responder.send(std::move(r));
              }
            });
      });
  if (!queued) {
    hashQueueFull(responder);
  }
}

void UserApi::hashQueueFull(http::Responder& responder) {
  http::Response r =
      kit::errorResponse(503, "busy: too many password checks waiting; retry shortly");
  r.headers.emplace_back("Retry-After", "1");
  responder.send(std::move(r));
}

void UserApi::login(const http::Request& request, http::Responder responder) {
  auto body = kit::parseJsonObject(request, responder);
  std::optional<Credentials> credentials = body ? readCredentials(*body, responder) : std::nullopt;
  if (!credentials) {
    return;
  }
  auto& [email, password] = *credentials;
  if (password.size() > kMaxPassword) {
    responder.send(kit::errorResponse(401, "invalid email or password"));
    return;
  }
  if (!throttle_) {
    verify(std::move(email), std::move(password), std::move(responder));
    return;
  }
  std::string account = email;  // not `email`: the lambda below moves it away, maybe first
  throttle_->check(account, [this, email = std::move(email), password = std::move(password),
                             responder](uint64_t locked_ms) mutable {
    if (locked_ms > 0) {
      http::Response r =
          kit::errorResponse(429, "too many failed logins for this account; retry later");
      r.headers.emplace_back("Retry-After", std::to_string((locked_ms + 999) / 1000));
      responder.send(std::move(r));
      return;
    }
    verify(std::move(email), std::move(password), std::move(responder));
  });
}

void UserApi::verify(std::string email, std::string password, http::Responder responder) {
  // Full now: refuse before the database lookup too, so a flood costs the pool nothing.
  if (hash_queue_.waiting() >= options_.hash_queue) {
    hashQueueFull(responder);
    return;
  }
  struct State {
    std::string email, password;
    bool found = false;
    int64_t id = 0;
    std::string hash;
    std::vector<std::string> roles;
    bool ok = false;
    bool rehash = false;
    std::string new_hash;
  };
  auto state = std::make_shared<State>();
  state->email = std::move(email);
  state->password = std::move(password);
  db_->run(
      [state](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        pqxx::result r = tx.exec_prepared("user_for_login", state->email);
        if (!r.empty()) {
          state->found = true;
          state->id = r[0][0].as<int64_t>();
          state->hash = r[0][1].as<std::string>();
          for (const auto& role : kit::Json::parse(r[0][2].as<std::string>())) {
            state->roles.push_back(role.get<std::string>());
          }
        }
      },
      [this, state, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "login"));
          return;
        }
        bool queued = hash_queue_.submit(
            [state, hasher = hasher_] {
              if (!state->found) {
                hasher->dummyVerify(state->password);  // the same time as a wrong password
                return;
              }
              state->ok = hasher->verify(state->hash, state->password);
              if (state->ok && hasher->needsRehash(state->hash)) {
                state->rehash = true;
                state->new_hash = hasher->hash(state->password);
              }
            },
            [this, state, responder](std::exception_ptr err) mutable {
              if (err) {
                responder.send(kit::failureResponse(err, "password check"));
                return;
              }
              if (!state->ok) {
                ++logins_failed_;  // already counted by the throttle's check
                responder.send(kit::errorResponse(401, "invalid email or password"));
                return;
              }
              ++logins_ok_;
              if (throttle_) {
                throttle_->succeeded(state->email);
              }
              std::string token =
                  issuer_->issue(std::to_string(state->id), state->roles, std::time(nullptr));
              http::Response r = kit::jsonResponse(
                  200, kit::Json{{"access_token", token},
                                 {"token_type", "Bearer"},
                                 {"expires_in", issuer_->options().ttl_seconds}});
              r.headers.emplace_back("Cache-Control", "no-store");
              responder.send(std::move(r));
              if (state->rehash) {  // parameters changed since this hash: store a new one
                db_->run(
                    [state](pqxx::connection& c) {
                      pqxx::work tx(c);
                      tx.exec_prepared("user_rehash", state->id, state->new_hash);
                      tx.commit();
                    },
                    [](std::exception_ptr) {});
              }
            });
        if (!queued) {
          hashQueueFull(responder);
        }
      });
}

void UserApi::me(const http::Request& request, http::Responder responder) {
  kit::Identity who = kit::Identity::fromRequest(request);
  if (!kit::requireUser(who, responder)) {
    return;
  }
  auto user = std::make_shared<kit::Json>();
  db_->run(
      [user, id = who.user_id](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        pqxx::result r = tx.exec_prepared("user_by_id", id);
        if (!r.empty()) {
          *user = userJson(r[0]);
        }
      },
      [user, responder](std::exception_ptr error) mutable {
        if (error) {
          responder.send(kit::failureResponse(error, "users/me"));
        } else if (user->is_null()) {
          responder.send(kit::errorResponse(404, "no such user"));
        } else {
          responder.send(kit::jsonResponse(200, *user));
        }
      });
}

void UserApi::seedUser(std::string email, std::string password, std::string name,
                       std::vector<std::string> roles) {
  std::string role_array = "{";
  for (size_t i = 0; i < roles.size(); ++i) {
    role_array += (i != 0 ? "," : "") + roles[i];
  }
  role_array += "}";
  seedStep(std::make_shared<Seed>(
      Seed{std::move(email), std::move(password), std::move(name), role_array, {}, false}));
}

// Hashes only when the account is missing: argon2 at every start of every instance would
// cost its ~20 ms for nothing. Retried every 2 s while the database does not answer.
void UserApi::seedStep(std::shared_ptr<Seed> seed) {
  db_->run(
      [seed](pqxx::connection& c) {
        pqxx::read_transaction tx(c);
        seed->exists = !tx.exec_prepared("user_seed_exists", seed->email).empty();
      },
      [this, seed](std::exception_ptr error) {
        if (error) {
          retrySeed(seed);
          return;
        }
        if (seed->exists) {
          return;
        }
        bool queued = hash_queue_.submit(
            [seed, hasher = hasher_] { seed->hash = hasher->hash(seed->password); },
            [this, seed](std::exception_ptr hash_error) {
              if (hash_error) {
                LOG_ERROR("seed %s: cannot hash the password", seed->email.c_str());
                return;
              }
              db_->run(
                  [seed](pqxx::connection& c) {
                    pqxx::work tx(c);
                    tx.exec_prepared("user_seed", seed->email, seed->hash, seed->name,
                                     seed->roles);
                    tx.commit();
                  },
                  [this, seed](std::exception_ptr insert_error) {
                    if (insert_error) {
                      retrySeed(seed);
                    } else {
                      LOG_INFO("seeded account %s %s", seed->email.c_str(), seed->roles.c_str());
                    }
                  });
            });
        if (!queued) {
          retrySeed(seed);
        }
      });
}

void UserApi::retrySeed(std::shared_ptr<Seed> seed) {
  if (stopped_) {
    return;
  }
  LOG_WARN("seed %s: database not ready; retrying in 2 s", seed->email.c_str());
  seeds_waiting_.push_back(std::move(seed));
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&seed_timer_))) {
    uv_timer_start(&seed_timer_, onSeedTimer, 2000, 0);
  }
}

void UserApi::onSeedTimer(uv_timer_t* timer) {
  auto* self = static_cast<UserApi*>(timer->data);
  std::vector<std::shared_ptr<Seed>> due;
  due.swap(self->seeds_waiting_);
  for (auto& seed : due) {
    self->seedStep(seed);
  }
}

}  // namespace user_service
