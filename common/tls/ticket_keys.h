#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <mutex>

namespace tls {

// Session ticket keys shared by every worker (and every certificate), so a client resumes on
// whichever worker its next connection lands. rotate() makes a new current key and keeps the
// previous one for decryption only: a key decrypts for at most two rotation periods, so a
// stolen key exposes at most that much traffic. A ticket itself lives as long as the session
// timeout (OpenSSL's default, 2 h), so keeping the previous key matters for tickets issued
// in the last 2 h before a rotation.
class TicketKeys {
 public:
  TicketKeys();
  void rotate();
  // Installs the key callback on ctx; `this` must outlive it.
  void install(SSL_CTX* ctx);

 private:
  struct Key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
  };
  static int onTicket(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt);
  static Key makeKey();

  // Taken only during handshakes that issue or present a ticket, never per request.
  std::mutex mutex_;
  Key current_;
  Key previous_;
  bool has_previous_ = false;
};

}  // namespace tls
