#include <time.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "services/user/password_hasher.h"

using user_service::Argon2Params;
using user_service::PasswordHasher;

namespace {

// Cheap parameters, so the tests are about behaviour, not cost.
Argon2Params fastParams() {
  Argon2Params params;
  params.memory_kib = 256;
  params.iterations = 1;
  return params;
}

// phc-winner-argon2's src/test.c: argon2id of "password" with salt "somesalt", made by the
// reference implementation (m=256 keeps it cheap).
constexpr const char* kReferenceHash =
    "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";

double threadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// This thread's CPU time, not the wall clock: other processes on a busy machine do not count.
// (argon2 with parallelism 1 runs in the calling thread.)
template <typename F>
double fastestCpuSeconds(int runs, F&& f) {
  double best = 1e9;
  for (int i = 0; i < runs; ++i) {
    double start = threadCpuSeconds();
    f();
    best = std::min(best, threadCpuSeconds() - start);
  }
  return best;
}

}  // namespace

TEST_CASE("a hash verifies its password and no other") {
  PasswordHasher hasher(fastParams());
  std::string encoded = hasher.hash("correct horse battery staple");
  CHECK(encoded.rfind("$argon2id$v=19$m=256,t=1,p=1$", 0) == 0);
  CHECK(hasher.verify(encoded, "correct horse battery staple"));
  CHECK_FALSE(hasher.verify(encoded, "correct horse battery stapl"));
  CHECK_FALSE(hasher.verify(encoded, "correct horse battery staple "));
  CHECK_FALSE(hasher.verify(encoded, ""));

  std::string empty = hasher.hash("");
  CHECK(hasher.verify(empty, ""));
  CHECK_FALSE(hasher.verify(empty, "x"));

  // Bytes, not C strings: a NUL inside the password counts.
  std::string with_nul("ab\0cd", 5);
  std::string nul_hash = hasher.hash(with_nul);
  CHECK(hasher.verify(nul_hash, with_nul));
  CHECK_FALSE(hasher.verify(nul_hash, "ab"));
}

TEST_CASE("the defaults are OWASP's argon2id parameters with a 16-byte salt") {
  PasswordHasher hasher;
  std::string encoded = hasher.hash("pw");
  CHECK(encoded.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  // 16 bytes of salt and 32 of hash in unpadded base64: 22 and 43 characters.
  std::string rest = encoded.substr(std::string("$argon2id$v=19$m=19456,t=2,p=1$").size());
  CHECK(rest.size() == 22 + 1 + 43);
  CHECK(rest[22] == '$');
  CHECK(hasher.verify(encoded, "pw"));
}

TEST_CASE("two hashes of one password differ by their salt") {
  PasswordHasher hasher(fastParams());
  std::string a = hasher.hash("same");
  std::string b = hasher.hash("same");
  CHECK(a != b);
  CHECK(a.substr(0, a.rfind('$')) != b.substr(0, b.rfind('$')));  // the salts differ
  CHECK(hasher.verify(a, "same"));
  CHECK(hasher.verify(b, "same"));
}

TEST_CASE("a hash from the reference implementation verifies") {
  PasswordHasher hasher(fastParams());
  CHECK(hasher.verify(kReferenceHash, "password"));
  CHECK_FALSE(hasher.verify(kReferenceHash, "Password"));
  // Its parameters are not ours: worth rehashing at the next login.
  CHECK(hasher.needsRehash(kReferenceHash));
}

TEST_CASE("malformed or foreign encoded strings are refused, not crashed on") {
  PasswordHasher hasher(fastParams());
  std::string good = hasher.hash("pw");
  REQUIRE(hasher.verify(good, "pw"));

  const std::string cases[] = {
      "",
      "pw",
      "$argon2id$",
      "$argon2id$v=19$m=256,t=1,p=1$",
      good.substr(0, good.size() - 1),                 // hash cut short
      good.substr(0, good.rfind('$')),                 // no hash
      good + "$",                                      // trailing garbage
      good + "A",                                      // hash one character longer
      std::string("\0", 1) + good,                     // a NUL in front
      good.substr(0, 10) + std::string("\0", 1) + good.substr(11),
      "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8",
      "$argon2id$v=16$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=0256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ=$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=0,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=0$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=1,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29t$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",  // 3-byte salt
      // Costs that would allocate 4 TiB, run for hours or start thousands of threads.
      "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=99999999999999999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=4000000000,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=65536,t=2,p=8000$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  // bcrypt
      std::string(100000, 'A'),
  };
  for (const std::string& encoded : cases) {
    INFO(encoded);
    CHECK_FALSE(hasher.verify(encoded, "pw"));
    CHECK_FALSE(hasher.verify(encoded, "password"));
    CHECK(hasher.needsRehash(encoded));
  }

  // A flipped character in the hash or the salt: well formed, wrong.
  for (size_t at : {good.size() - 5, good.rfind('$') - 3}) {
    std::string tampered = good;
    tampered[at] = tampered[at] == 'A' ? 'B' : 'A';
    INFO(tampered);
    CHECK_FALSE(hasher.verify(tampered, "pw"));
  }
}

TEST_CASE("needsRehash tells hashes of other parameters") {
  Argon2Params params = fastParams();
  PasswordHasher hasher(params);
  CHECK_FALSE(hasher.needsRehash(hasher.hash("pw")));

  params.iterations = 2;
  PasswordHasher stronger(params);
  std::string old = hasher.hash("pw");
  CHECK(stronger.needsRehash(old));
  CHECK(stronger.verify(old, "pw"));  // still verifies with its own parameters
  CHECK_FALSE(stronger.needsRehash(stronger.hash("pw")));
}

TEST_CASE("parameters libargon2 refuses fail at construction") {
  Argon2Params params = fastParams();
  params.memory_kib = 1;  // below 8 KiB per lane
  CHECK_THROWS_AS(PasswordHasher(params), std::invalid_argument);
  params = fastParams();
  params.salt_bytes = 4;  // below 8
  CHECK_THROWS_AS(PasswordHasher(params), std::invalid_argument);
  params = fastParams();
  params.iterations = 0;
  CHECK_THROWS_AS(PasswordHasher(params), std::invalid_argument);
  params = fastParams();
  params.memory_kib = PasswordHasher::kMaxMemoryKib + 1;  // verify() would refuse our hashes
  CHECK_THROWS_AS(PasswordHasher(params), std::invalid_argument);
}

TEST_CASE("dummyVerify costs what a verify costs") {
  // With the real parameters: that is where the timing matters. This thread's CPU time,
  // fastest of a few runs each, and a loose bound: a dummyVerify that skipped the argon2 work
  // would take microseconds against tens of milliseconds, one with a fraction of the memory
  // or passes a fraction of the time.
  PasswordHasher hasher;
  REQUIRE(Argon2Params{}.parallelism == 1);  // else argon2's own threads do the work
  std::string encoded = hasher.hash("the password");
  hasher.dummyVerify("warm up");
  double verify = fastestCpuSeconds(3, [&] { CHECK_FALSE(hasher.verify(encoded, "wrong")); });
  double dummy = fastestCpuSeconds(3, [&] { hasher.dummyVerify("wrong"); });
  INFO("CPU time: verify " << verify << " s, dummyVerify " << dummy << " s");
  CHECK(dummy > verify / 3);
  CHECK(dummy < verify * 3);
}
