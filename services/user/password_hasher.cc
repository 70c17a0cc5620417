#include "services/user/password_hasher.h"

#include <stdexcept>

#include <argon2.h>
#include <openssl/rand.h>

namespace user_service {

namespace {

// Longer than any PHC string within the cost ceilings; longer input is refused unparsed.
constexpr size_t kMaxEncodedBytes = 512;

// What the prefix "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" of a PHC string says.
struct Encoded {
  uint32_t memory_kib = 0;
  uint32_t iterations = 0;
  uint32_t parallelism = 0;
  size_t salt_bytes = 0;
  size_t hash_bytes = 0;
};

bool consume(std::string_view* text, std::string_view prefix) {
  if (text->substr(0, prefix.size()) != prefix) {
    return false;
  }
  text->remove_prefix(prefix.size());
  return true;
}

// A decimal without sign or leading zero, at most `max`.
bool consumeNumber(std::string_view* text, uint32_t max, uint32_t* out) {
  size_t n = 0;
  uint64_t value = 0;
  while (n < text->size() && (*text)[n] >= '0' && (*text)[n] <= '9') {
    value = value * 10 + static_cast<uint64_t>((*text)[n] - '0');
    if (value > max) {
      return false;
    }
    ++n;
  }
  if (n == 0 || (n > 1 && (*text)[0] == '0')) {
    return false;
  }
  *out = static_cast<uint32_t>(value);
  text->remove_prefix(n);
  return true;
}

bool isBase64(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// Unpadded base64 up to the next '$' or the end; returns the decoded byte count, 0 if empty
// or not base64. libargon2 decodes it again: this only sizes it and keeps NULs out.
size_t consumeBase64(std::string_view* text) {
  size_t n = 0;
  while (n < text->size() && isBase64((*text)[n])) {
    ++n;
  }
  if (n == 0 || n % 4 == 1) {
    return 0;
  }
  text->remove_prefix(n);
  return n * 3 / 4;
}

// Screens an encoded hash before libargon2 sees it: only argon2id v=19, costs within the
// ceilings, so a corrupted or hostile string cannot make verify() allocate gigabytes or
// start dozens of threads.
bool parse(std::string_view text, Encoded* out) {
  return text.size() <= kMaxEncodedBytes && consume(&text, "$argon2id$v=19$m=") &&
         consumeNumber(&text, PasswordHasher::kMaxMemoryKib, &out->memory_kib) &&
         consume(&text, ",t=") &&
         consumeNumber(&text, PasswordHasher::kMaxIterations, &out->iterations) &&
         consume(&text, ",p=") &&
         consumeNumber(&text, PasswordHasher::kMaxParallelism, &out->parallelism) &&
         consume(&text, "$") && (out->salt_bytes = consumeBase64(&text)) != 0 &&
         consume(&text, "$") && (out->hash_bytes = consumeBase64(&text)) != 0 && text.empty();
}

// Runs argon2id over `password` with `salt`; returns libargon2's code, *encoded the PHC string.
int hashWith(const Argon2Params& params, std::string_view password, std::string_view salt,
             std::string* encoded) {
  size_t length = argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                                    params.salt_bytes, params.hash_bytes, Argon2_id);
  encoded->assign(length, '\0');  // length counts the terminating NUL
  int code = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                   password.data(), password.size(), salt.data(), salt.size(),
                                   params.hash_bytes, encoded->data(), encoded->size());
  encoded->resize(code == ARGON2_OK ? encoded->find('\0') : 0);
  return code;
}

std::string randomBytes(size_t count) {
  std::string bytes(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return bytes;
}

}  // namespace

PasswordHasher::PasswordHasher(Argon2Params params) : params_(params) {
  if (params_.memory_kib > kMaxMemoryKib || params_.iterations > kMaxIterations ||
      params_.parallelism > kMaxParallelism) {
    // verify() would refuse our own hashes.
    throw std::invalid_argument("argon2 parameters above PasswordHasher's ceilings");
  }
  // The dummy hash has the same parameters and salt length as real ones, so it costs the same.
  int code = hashWith(params_, randomBytes(16), randomBytes(params_.salt_bytes), &dummy_encoded_);
  if (code == ARGON2_MEMORY_ALLOCATION_ERROR) {
    throw std::runtime_error("argon2: out of memory");
  }
  if (code != ARGON2_OK) {
    throw std::invalid_argument(std::string("argon2 parameters: ") + argon2_error_message(code));
  }
}

std::string PasswordHasher::hash(std::string_view password) const {
  std::string encoded;
  int code = hashWith(params_, password, randomBytes(params_.salt_bytes), &encoded);
  if (code != ARGON2_OK) {
    throw std::runtime_error(std::string("argon2: ") + argon2_error_message(code));
  }
  return encoded;
}

bool PasswordHasher::verify(std::string_view encoded, std::string_view password) const {
  Encoded parsed;
  if (!parse(encoded, &parsed)) {
    return false;
  }
  std::string terminated(encoded);  // libargon2 wants a C string
  return argon2id_verify(terminated.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void PasswordHasher::dummyVerify(std::string_view password) const {
  // The same path as verify(), parse and copy included; the result is always false.
  static_cast<void>(verify(dummy_encoded_, password));
}

bool PasswordHasher::needsRehash(std::string_view encoded) const {
  Encoded parsed;
  return !parse(encoded, &parsed) || parsed.memory_kib != params_.memory_kib ||
         parsed.iterations != params_.iterations || parsed.parallelism != params_.parallelism ||
         parsed.salt_bytes != params_.salt_bytes || parsed.hash_bytes != params_.hash_bytes;
}

}  // namespace user_service
