#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <string_view>

namespace tls {

// One server-side TLS connection over memory BIOs, as a transport layer: records read from
// the socket go in and plaintext comes out to the reader; plaintext from the writer goes in
// and records come out for the socket. The connection does no I/O of its own, so it sits
// under any loop's reads and writes (the balancer's sessions; http::OutputQueue encrypts
// through it).
class Connection {
 public:
  Connection() = default;
  explicit Connection(SSL* ssl) : ssl_(ssl) {}  // takes ownership (and of its BIOs)
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool active() const { return ssl_ != nullptr; }
  bool handshakeDone() const { return ssl_ != nullptr && SSL_is_init_finished(ssl_); }
  int version() const { return SSL_version(ssl_); }
  const char* versionName() const { return SSL_get_version(ssl_); }

  enum class ReadStatus {
    kOk,               // all records taken (the rest of a record waits for the next read)
    kHandshakeFailed,  // plain HTTP on the TLS port, a scanner, a bad hello; OpenSSL's reason
                       // stays on the error queue for the caller to log (tls::lastError())
    kPeerClosed,       // close_notify
    kError,
    kStopped,          // the reader said stop
  };
  struct ReadResult {
    ReadStatus status = ReadStatus::kOk;
    bool handshake_done_now = false;  // this read finished the handshake
  };
  // Takes `len` bytes of records (handshaking first) and hands each piece of plaintext to
  // on_plain(data, len), decrypted into `buf`; on_plain returns false to stop. What the
  // handshake or the reads produce to send (handshake, tickets, alerts) waits in records().
  template <typename OnPlain>
  ReadResult read(const char* data, size_t len, char* buf, size_t buf_len, OnPlain&& on_plain);

  // Encrypts plaintext into records. False on an error (the connection is then broken; the
  // error queue is cleared).
  bool encrypt(const char* data, size_t len);
  // Sends close_notify (into records()) once the handshake is done.
  void shutdown();
  // The records waiting to be sent, and forgetting them once they are.
  std::string_view records() const;
  void clearRecords();

 private:
  // Feeds the records in and handshakes. False when the handshake failed.
  bool takeRecords(const char* data, size_t len, bool* done_now);

  SSL* ssl_ = nullptr;
};

template <typename OnPlain>
Connection::ReadResult Connection::read(const char* data, size_t len, char* buf,
                                        size_t buf_len, OnPlain&& on_plain) {
  ReadResult result;
  // OpenSSL reads its thread's error queue after a failed call: one left over from another
  // connection on this thread would fail this one.
  ERR_clear_error();
  if (!takeRecords(data, len, &result.handshake_done_now)) {
    result.status = ReadStatus::kHandshakeFailed;
    return result;
  }
  if (!handshakeDone()) {
    return result;  // more of the handshake to come
  }
  for (;;) {
    int n = SSL_read(ssl_, buf, static_cast<int>(buf_len));
    if (n > 0) {
      if (!on_plain(buf, static_cast<size_t>(n))) {
        result.status = ReadStatus::kStopped;
        return result;
      }
      continue;
    }
    int e = SSL_get_error(ssl_, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      return result;
    }
    ERR_clear_error();
    result.status = e == SSL_ERROR_ZERO_RETURN ? ReadStatus::kPeerClosed : ReadStatus::kError;
    return result;
  }
}

}  // namespace tls
