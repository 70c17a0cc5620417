#include "common/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/rand.h>

#include <cstring>

namespace tls {

namespace {
int g_ex_index = -1;
std::once_flag g_ex_once;
}  // namespace

TicketKeys::TicketKeys() : current_(makeKey()), previous_() {}

TicketKeys::Key TicketKeys::makeKey() {
  Key k;
  RAND_bytes(k.name, sizeof k.name);
  RAND_bytes(k.aes, sizeof k.aes);
  RAND_bytes(k.hmac, sizeof k.hmac);
  return k;
}

void TicketKeys::rotate() {
  Key fresh = makeKey();
  std::lock_guard<std::mutex> lock(mutex_);
  previous_ = current_;
  has_previous_ = true;
  current_ = fresh;
}

void TicketKeys::install(SSL_CTX* ctx) {
  std::call_once(g_ex_once, [] {
    g_ex_index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  });
  SSL_CTX_set_ex_data(ctx, g_ex_index, this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::onTicket);
}

int TicketKeys::onTicket(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  // Every context of a listener carries the same keys, so whichever SNI chose will do.
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  auto* self = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(ctx, g_ex_index));
  if (self == nullptr) {
    return -1;
  }
  Key key;
  int result = 1;
  {
    std::lock_guard<std::mutex> lock(self->mutex_);
    if (encrypt) {
      key = self->current_;
    } else if (std::memcmp(key_name, self->current_.name, 16) == 0) {
      key = self->current_;
      // Renew even under the current key: OpenSSL sends a TLS 1.3 client no new ticket
      // after a resumption unless asked, leaving it a full handshake next time. Fresh
      // tickets also keep one client's connections from being linked by a reused ticket.
      result = 2;
    } else if (self->has_previous_ && std::memcmp(key_name, self->previous_.name, 16) == 0) {
      key = self->previous_;
      result = 2;  // valid, but issue a new ticket under the current key
    } else {
      return 0;  // unknown key: a full handshake
    }
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac, sizeof key.hmac),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  if (encrypt) {
    std::memcpy(key_name, key.name, 16);
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) <= 0 ||
        EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) {
      return -1;
    }
  } else if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes, iv) != 1) {
    return -1;
  }
  if (EVP_MAC_CTX_set_params(mac, params) != 1) {
    return -1;
  }
  return result;
}

}  // namespace tls
