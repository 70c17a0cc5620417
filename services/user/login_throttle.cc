#include "services/user/login_throttle.h"

#include <hiredis/hiredis.h>

#include <chrono>

#include "services/kit/key_hash.h"

namespace user_service {

namespace {

// KEYS: the account's key. ARGV: now ms, max attempts, backoff ms, max backoff ms, window ms.
// Answers the ms the lock has left (0: this attempt may go on). An attempt is counted when it
// begins, not when its password turns out wrong: attempts sent at once would otherwise all
// pass the check before the first failure is counted (one lock window would allow as many
// guesses as the password queue holds). The max-th attempt, and each one after a lock ran
// out, goes on and locks the account for backoff * 2^(attempts - max), capped, for those
// after it; a success deletes the key. The key lives for the window past the last attempt,
// and at least as long as its lock.
constexpr std::string_view kAttemptScript =
    "local now = tonumber(ARGV[1]) "
    "local u = tonumber(redis.call('HGET', KEYS[1], 'until') or '0') "
    "if u > now then return u - now end "
    "local n = redis.call('HINCRBY', KEYS[1], 'n', 1) "
    "local wait = 0 "
    "if n >= tonumber(ARGV[2]) then "
    "  wait = math.min(tonumber(ARGV[3]) * 2 ^ math.min(n - tonumber(ARGV[2]), 30), "
    "                  tonumber(ARGV[4])) "
    "  redis.call('HSET', KEYS[1], 'until', now + wait) "
    "end "
    "redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[5]), wait)) "
    "return 0";

uint64_t nowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

bool answeredInteger(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_INTEGER;
}

}  // namespace

LoginThrottle::LoginThrottle(redis::Client& redis, Options options)
    : redis_(redis), options_(options) {}

std::string LoginThrottle::key(std::string_view account) {
  size_t first = account.find_first_not_of(" \t");
  size_t last = account.find_last_not_of(" \t");
  std::string normal;
  if (first != std::string_view::npos) {
    normal.assign(account.substr(first, last - first + 1));
  }
  for (char& c : normal) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return "login:failures:" + kit::keyHash(normal);
}

void LoginThrottle::check(std::string_view account, CheckDone done) {
  redis_.command({"EVAL", kAttemptScript, "1", key(account), std::to_string(nowMs()),
                  std::to_string(options_.max_failures), std::to_string(options_.backoff_ms),
                  std::to_string(options_.max_backoff_ms), std::to_string(options_.window_ms)},
                 [this, done = std::move(done)](const redisReply* reply) {
                   if (!answeredInteger(reply)) {
                     ++unavailable_;
                     done(0);
                     return;
                   }
                   auto left = static_cast<uint64_t>(reply->integer);
                   if (left > 0) {
                     ++locked_;
                   }
                   done(left);
                 });
}

void LoginThrottle::succeeded(std::string_view account) {
  redis_.command({"DEL", key(account)}, nullptr);
}

void LoginThrottle::collect(metrics::Exposition& out) const {
  out.family("user_login_locked_total", "counter",
             "Logins refused with 429 because the account is locked after failures.");
  out.sample("user_login_locked_total", {}, static_cast<double>(locked_));
  out.family("user_login_throttle_unavailable_total", "counter",
             "Throttle checks or counts skipped because Redis did not answer.");
  out.sample("user_login_throttle_unavailable_total", {}, static_cast<double>(unavailable_));
}

}  // namespace user_service
