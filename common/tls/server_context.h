#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/tls/ticket_keys.h"

namespace tls {

struct CertificateFiles {
  std::string cert;  // PEM chain: the certificate first, then intermediates
  std::string key;
};

struct ServerOptions {
  std::vector<CertificateFiles> certificates;  // chosen by SNI; the first is the default
  int min_version = TLS1_2_VERSION;            // TLS1_2_VERSION or TLS1_3_VERSION
  std::string ciphers;       // TLS 1.2 cipher list; empty: OpenSSL's default
  std::string ciphersuites;  // TLS 1.3 suites; empty: OpenSSL's default
};

// The TLS side of one listener: a context per certificate, the SNI choice between them,
// ALPN http/1.1, and session tickets with keys shared by every worker. Immutable once
// loaded and shared by the workers; a reload builds a new one, and connections keep the one
// they started with (they hold a shared_ptr).
class ServerContext {
 public:
  // Loads every certificate and key. Returns nullptr and sets *error (naming the file and
  // OpenSSL's reason) when one cannot be used.
  static std::shared_ptr<ServerContext> load(const ServerOptions& options,
                                             std::shared_ptr<TicketKeys> ticket_keys,
                                             std::string* error);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // A new server-side SSL over memory BIOs, or nullptr on failure.
  SSL* newConnection() const;

  // The names (CN and DNS SANs) certificate i answers for.
  const std::vector<std::string>& names(size_t i) const { return names_[i]; }

 private:
  ServerContext() = default;
  static int onServerName(SSL* ssl, int* alert, void* arg);
  int certificateFor(const char* server_name) const;

  std::vector<SSL_CTX*> contexts_;
  std::vector<std::vector<std::string>> names_;
  std::shared_ptr<TicketKeys> ticket_keys_;
};

// OpenSSL's error queue as one line, emptied.
std::string lastError();

}  // namespace tls
