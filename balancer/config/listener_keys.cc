// listeners[]: where clients connect, with TLS when a listener has certificates.

#include "balancer/config/sections.h"

namespace balancer::config {

namespace {

const Section<TlsCertificateConfig>& certificateKeys() {
  using T = TlsCertificateConfig;
  static const Section<T> keys{"certificate", "", {
      file("cert", &T::cert, "PEM certificate chain").required("a cert"),
      file("key", &T::key, "PEM private key").required("a key"),
  }};
  return keys;
}

// At least one certificate: the first is the default when no SNI name matches.
Key<TlsConfig> certificates() {
  Key<TlsConfig> key = listOf("certificates", &TlsConfig::certificates, certificateKeys,
                              "{cert, key} PEM files chosen by SNI; the first is the default");
  key.read = [read = key.read](Reader& r, const YAML::Node& v, const At& at, TlsConfig& out) {
    if (v.IsSequence() && v.size() == 0) {
      r.error(v, "tls needs a list of certificates ({cert, key}); the first is the default");
      return;
    }
    read(r, v, at, out);
  };
  return key.required("a list of certificates ({cert, key}); the first is the default");
}

const Section<TlsConfig>& tlsKeys() {
  using T = TlsConfig;
  static const Section<T> keys{"tls", "tls.", {
      certificates(),
      choice<T, std::string>("min_version", &T::min_version, {{"1.2", "1.2"}, {"1.3", "1.3"}},
                             "the oldest TLS version accepted"),
      text("ciphers", &T::ciphers, "TLS 1.2 cipher list; empty: OpenSSL's"),
      text("ciphersuites", &T::ciphersuites, "TLS 1.3 suites; empty: OpenSSL's"),
  }};
  return keys;
}

// The address; also the listener's name when it has none.
Key<ListenerConfig> listenerAddress() {
  Key<ListenerConfig> key = address("address", &ListenerConfig::address,
                                    "IP:port or [v6]:port; port 0: the kernel picks one");
  key.read = [](Reader& r, const YAML::Node& v, const At& at, ListenerConfig& out) {
    if (auto a = r.address(v, at.label)) {
      out.address = *a;
      if (out.name.empty()) {
        out.name = a->text;
      }
    }
  };
  return key.required("an address");
}

}  // namespace

const Section<ListenerConfig>& listenerKeys() {
  using T = ListenerConfig;
  static const Section<T> keys{"listener", "listener ", {
      text("name", &T::name, "names the listener in logs and metrics; default: its address"),
      listenerAddress(),
      optionalSection("tls", &T::tls, tlsKeys, "serve TLS on this listener"),
      flag("redirect_to_https", &T::redirect_to_https,
           "answer every request with 308 to the TLS listener"),
      flag("access_log", &T::access_log, "false: requests on this listener are not logged"),
      flag("proxy_protocol", &T::proxy_protocol,
           "a PROXY protocol v1/v2 header first on every connection (else closed)"),
  }};
  return keys;
}

}  // namespace balancer::config
