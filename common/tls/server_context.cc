#include "common/tls/server_context.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <strings.h>

namespace tls {

std::string lastError() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? "unknown error" : out;
}

namespace {

// ALPN: this listener speaks HTTP/1.1 only; a client offering only h2 gets no ALPN and may
// still go on with HTTP/1.1.
int onAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  if (SSL_select_next_proto(const_cast<unsigned char**>(out), outlen, kHttp11, sizeof kHttp11,
                            in, inlen) == OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

std::vector<std::string> certificateNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr,
                                                            nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) {
        const unsigned char* data = ASN1_STRING_get0_data(name->d.dNSName);
        names.emplace_back(reinterpret_cast<const char*>(data),
                           static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
      }
    }
    GENERAL_NAMES_free(sans);
  }
  char cn[256];
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) > 0) {
    names.emplace_back(cn);
  }
  return names;
}

bool nameMatches(const std::string& pattern, const char* host) {
  if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
    const char* dot = strchr(host, '.');
    return dot != nullptr && strcasecmp(dot, pattern.c_str() + 1) == 0;
  }
  return strcasecmp(pattern.c_str(), host) == 0;
}

}  // namespace

std::shared_ptr<ServerContext> ServerContext::load(const ServerOptions& options,
                                                   std::shared_ptr<TicketKeys> ticket_keys,
                                                   std::string* error) {
  std::shared_ptr<ServerContext> out(new ServerContext());
  out->ticket_keys_ = std::move(ticket_keys);
  ERR_clear_error();
  for (const CertificateFiles& files : options.certificates) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
      *error = "cannot create a TLS context: " + lastError();
      return nullptr;
    }
    out->contexts_.push_back(ctx);
    if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
      *error = files.cert + ": cannot load the certificate: " + lastError();
      return nullptr;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      *error = files.key + ": cannot load the private key: " + lastError();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      *error = files.key + ": the key does not match " + files.cert;
      return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx, options.min_version);
    if (!options.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1) {
      *error = "invalid ciphers '" + options.ciphers + "': " + lastError();
      return nullptr;
    }
    if (!options.ciphersuites.empty() &&
        SSL_CTX_set_ciphersuites(ctx, options.ciphersuites.c_str()) != 1) {
      *error = "invalid ciphersuites '" + options.ciphersuites + "': " + lastError();
      return nullptr;
    }
    // Buffers are freed while a connection is idle: 10,000 idle TLS clients stay cheap.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Tickets only, no cache in memory; but the server side must be "on", or OpenSSL sends
    // no new ticket after a resumed TLS 1.3 handshake and every other reconnection is full.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    static const unsigned char kSessionContext[] = "balancer";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_alpn_select_cb(ctx, &onAlpn, nullptr);
    // The macros for these two cast in C style; the calls they stand for are spelled out.
    SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                          reinterpret_cast<void (*)()>(&ServerContext::onServerName));
    SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, out.get());
    out->ticket_keys_->install(ctx);
    out->names_.push_back(certificateNames(SSL_CTX_get0_certificate(ctx)));
  }
  if (out->contexts_.empty()) {
    *error = "a TLS listener needs at least one certificate";
    return nullptr;
  }
  return out;
}

ServerContext::~ServerContext() {
  for (SSL_CTX* ctx : contexts_) {
    SSL_CTX_free(ctx);  // connections still using it hold their own reference
  }
}

SSL* ServerContext::newConnection() const {
  SSL* ssl = SSL_new(contexts_[0]);
  if (ssl == nullptr) {
    return nullptr;
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_mem_eof_return(in, -1);  // an empty input BIO means "wait for more", not EOF
  SSL_set_bio(ssl, in, out);
  SSL_set_accept_state(ssl);
  return ssl;
}

int ServerContext::certificateFor(const char* server_name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    for (const std::string& name : names_[i]) {
      if (nameMatches(name, server_name)) {
        return static_cast<int>(i);
      }
    }
  }
  return 0;
}

int ServerContext::onServerName(SSL* ssl, int*, void* arg) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) {
    return SSL_TLSEXT_ERR_NOACK;  // no SNI: the default certificate
  }
  auto* self = static_cast<const ServerContext*>(arg);
  int i = self->certificateFor(name);
  if (i != 0) {
    SSL_set_SSL_CTX(ssl, self->contexts_[static_cast<size_t>(i)]);
  }
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace tls
