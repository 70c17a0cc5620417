#pragma once

// Test-only EC keys for the token issuer tests. Never use them for anything else: the fixed
// one is published in RFC 7517.

#include <stdexcept>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace user_test {

// RFC 7517 Appendix A.2's EC P-256 private key (d, x, y) as PKCS#8 PEM, built from the RFC's
// values with `openssl asn1parse -genconf`.
inline const char* const kRfc7517Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg870MB6gfuTJ4HtUn\n"
    "UvYMyJpr5eUZNP4Bk43bVdj3eAGhRANCAAQwoEJM0hwpRIOKLXXJKzfnbqINnwCJ\n"
    "OjtO7oo8Cq/sPuBLZekkVtmIi1Kzeb371R7oae8fD8ZbZllpW2zOCBcj\n"
    "-----END PRIVATE KEY-----\n";
inline const char* const kRfc7517X = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
inline const char* const kRfc7517Y = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
// Its RFC 7638 thumbprint, computed apart from the code under test (Python hashlib):
// base64url(SHA-256('{"crv":"P-256","kty":"EC","x":"<x>","y":"<y>"}')).
inline const char* const kRfc7517Thumbprint = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

// The same private scalar with the public point of another key: only a consistency
// (pairwise) check notices.
inline const char* const kMismatchedPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg870MB6gfuTJ4HtUn\n"
    "UvYMyJpr5eUZNP4Bk43bVdj3eAGhRANCAATVV8oC/rs46/V9+R3cB4m7pLCp/brP\n"
    "7eU6SwOu/g0uiqUJt1++QUW97j6mYWdzugKaeCwOpMMxK6qI7+gBpmPA\n"
    "-----END PRIVATE KEY-----\n";

inline std::string toPem(EVP_PKEY* pkey, bool traditional = false) {
  BIO* bio = BIO_new(BIO_s_mem());
  int ok = traditional
               ? PEM_write_bio_PrivateKey_traditional(bio, pkey, nullptr, nullptr, 0, nullptr,
                                                      nullptr)
               : PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  std::string pem = ok == 1 ? std::string(data, static_cast<size_t>(length)) : "";
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  if (pem.empty()) {
    throw std::runtime_error("PEM_write failed");
  }
  return pem;
}

// A fresh EC private key on `curve` ("P-256", "P-384") as PEM (PKCS#8, or SEC1 when
// `traditional`).
inline std::string newEcPem(const char* curve = "P-256", bool traditional = false) {
  return toPem(EVP_EC_gen(curve), traditional);
}

inline std::string newRsaPem() { return toPem(EVP_RSA_gen(2048)); }

}  // namespace user_test
