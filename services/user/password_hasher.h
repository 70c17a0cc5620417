#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace user_service {

// argon2id cost parameters. The defaults are OWASP's first recommendation for argon2id
// (Password Storage Cheat Sheet): 19 MiB of memory, 2 passes, 1 lane; about 20-50 ms per hash
// on one core. Tests lower memory_kib and iterations to run fast.
struct Argon2Params {
  uint32_t memory_kib = 19456;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
  uint32_t salt_bytes = 16;
  uint32_t hash_bytes = 32;
};

// Hashes and verifies passwords with argon2id (libargon2), stored as PHC strings:
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>" (unpadded standard base64), which carry
// their own parameters, so hashes made before a parameter change still verify.
//
// Every call is CPU- and memory-bound for tens of milliseconds: run it on the uv thread pool,
// never on a loop thread. The hasher is immutable, so one instance may serve all threads.
class PasswordHasher {
 public:
  // Makes one hash at once (for dummyVerify), so bad parameters fail at startup:
  // throws std::invalid_argument when libargon2 refuses them.
  explicit PasswordHasher(Argon2Params params = {});

  // A PHC string for `password` with a fresh random salt (OpenSSL RAND_bytes). Throws
  // std::runtime_error when the random generator or libargon2 fails (out of memory).
  std::string hash(std::string_view password) const;

  // Whether `password` matches `encoded`; the final comparison is constant time. False for
  // a wrong password and for anything that is not an argon2id v=19 PHC string with costs
  // within the ceilings below (a corrupted row must not make us allocate gigabytes). Never
  // throws.
  bool verify(std::string_view encoded, std::string_view password) const;

  // Does the work of verify() against a hash of a random secret, and always fails. Call it when
  // the email is unknown so the login answers in the same time as for a wrong password: no
  // enumerating accounts by timing. It matches users whose hashes use the current parameters;
  // needsRehash() lets the service bring older hashes up to date at login.
  void dummyVerify(std::string_view password) const;

  // Whether `encoded` was made with parameters other than this hasher's (or is not ours):
  // after a successful login the service may store hash(password) in its place.
  bool needsRehash(std::string_view encoded) const;

  const Argon2Params& params() const { return params_; }

  // verify() refuses encoded costs above these.
  static constexpr uint32_t kMaxMemoryKib = 1u << 20;  // 1 GiB
  static constexpr uint32_t kMaxIterations = 100;
  static constexpr uint32_t kMaxParallelism = 64;

 private:
  Argon2Params params_;
  std::string dummy_encoded_;
};

}  // namespace user_service
