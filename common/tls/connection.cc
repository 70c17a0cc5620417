#include "common/tls/connection.h"

namespace tls {

Connection::~Connection() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);  // and its two memory BIOs
  }
}

bool Connection::takeRecords(const char* data, size_t len, bool* done_now) {
  *done_now = false;
  // The memory BIO copies the records, so the caller's buffer is free again for plaintext.
  BIO_write(SSL_get_rbio(ssl_), data, static_cast<int>(len));
  if (SSL_is_init_finished(ssl_)) {
    return true;
  }
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    *done_now = true;
    return true;
  }
  int e = SSL_get_error(ssl_, r);
  return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

bool Connection::encrypt(const char* data, size_t len) {
  if (len == 0 || SSL_write(ssl_, data, static_cast<int>(len)) > 0) {
    return true;
  }
  ERR_clear_error();  // see read(): nothing is left for the next connection on this thread
  return false;
}

void Connection::shutdown() {
  if (handshakeDone()) {
    SSL_shutdown(ssl_);
  }
}

std::string_view Connection::records() const {
  char* data = nullptr;
  long len = BIO_get_mem_data(SSL_get_wbio(ssl_), &data);
  return len > 0 ? std::string_view(data, static_cast<size_t>(len)) : std::string_view();
}

void Connection::clearRecords() { (void)BIO_reset(SSL_get_wbio(ssl_)); }

}  // namespace tls
