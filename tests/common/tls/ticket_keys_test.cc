// common/tls/ticket_keys: session tickets and their rotation (README, Edge security: "rotated
// every 6 hours (the previous key still decrypts)"). The balancer rotates on a 6 h timer that
// no test can wait for, so rotate() is called here directly, on real TLS handshakes between
// an OpenSSL client and ServerContext over memory BIOs, for TLS 1.3 and TLS 1.2.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "common/tls/server_context.h"
#include "self_signed.h"
#include "common/tls/ticket_keys.h"

namespace tls {
namespace {

CertificateFiles writeSelfSigned() { return test::writeSelfSigned("ticket_keys_test", "tickets.test"); }

using Session = std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)>;

struct Outcome {
  bool connected = false;
  bool reused = false;
  Session session{nullptr, &SSL_SESSION_free};  // the last ticket the client received
};

void moveBytes(BIO* from, BIO* to) {
  char buf[16384];
  int n;
  while ((n = BIO_read(from, buf, sizeof buf)) > 0) {
    BIO_write(to, buf, n);
  }
}

// One connection from a client offering `resume` (or nothing) to a server SSL of `server`,
// run until both ends finished the handshake and the client has read the tickets that
// follow it (TLS 1.3 sends them after the handshake).
Outcome connect(const ServerContext& server, SSL_CTX* client_ctx, SSL_SESSION* resume) {
  Outcome out;
  SSL* s = server.newConnection();
  SSL* c = SSL_new(client_ctx);
  BIO* c_in = BIO_new(BIO_s_mem());
  BIO* c_out = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(c_in, -1);
  SSL_set_bio(c, c_in, c_out);
  SSL_set_connect_state(c);
  if (resume != nullptr) {
    SSL_set_session(c, resume);
  }
  auto pump = [&] {
    moveBytes(SSL_get_wbio(c), SSL_get_rbio(s));
    moveBytes(SSL_get_wbio(s), SSL_get_rbio(c));
  };
  int c_done = 0;
  int s_done = 0;
  for (int i = 0; i < 20 && (c_done != 1 || s_done != 1); ++i) {
    if (c_done != 1) {
      c_done = SSL_do_handshake(c);
    }
    if (s_done != 1) {
      s_done = SSL_do_handshake(s);
    }
    pump();
  }
  out.connected = c_done == 1 && s_done == 1;
  char byte;
  for (int i = 0; i < 3; ++i) {
    SSL_read(c, &byte, 1);  // no data comes: this only takes in the tickets
    pump();
  }
  out.reused = SSL_session_reused(c) == 1;
  out.session.reset(SSL_get1_session(c));
  // Closed cleanly: OpenSSL marks the session of an SSL freed without a shutdown as not
  // resumable.
  SSL_shutdown(c);
  SSL_free(c);
  SSL_free(s);
  return out;
}

// The ticket's first 16 bytes: the name of the key that encrypted it.
std::string keyName(const SSL_SESSION* session) {
  const unsigned char* ticket = nullptr;
  size_t length = 0;
  SSL_SESSION_get0_ticket(session, &ticket, &length);
  return length >= 16 ? std::string(reinterpret_cast<const char*>(ticket), 16) : std::string();
}

std::string ticketBytes(const SSL_SESSION* session) {
  const unsigned char* ticket = nullptr;
  size_t length = 0;
  SSL_SESSION_get0_ticket(session, &ticket, &length);
  return std::string(reinterpret_cast<const char*>(ticket), length);
}

}  // namespace

TEST_CASE("ticket keys: a ticket resumes until two rotations have passed") {
  static const CertificateFiles files = writeSelfSigned();
  int version = GENERATE(TLS1_3_VERSION, TLS1_2_VERSION);
  INFO("protocol version 0x" << std::hex << version);
  auto keys = std::make_shared<TicketKeys>();
  std::string error;
  auto server = ServerContext::load({{files}, TLS1_2_VERSION, "", ""}, keys, &error);
  REQUIRE(server != nullptr);
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(client_ctx, version);
  SSL_CTX_set_max_proto_version(client_ctx, version);

  Outcome first = connect(*server, client_ctx, nullptr);
  REQUIRE(first.connected);
  CHECK_FALSE(first.reused);
  const std::string first_key = keyName(first.session.get());
  REQUIRE(first_key.size() == 16);

  SECTION("before a rotation: resumed, and renewed under the same key") {
    Outcome again = connect(*server, client_ctx, first.session.get());
    CHECK(again.reused);
    CHECK(keyName(again.session.get()) == first_key);
    CHECK(ticketBytes(again.session.get()) != ticketBytes(first.session.get()));
  }

  SECTION("another context sharing the keys (another listener, a reload) resumes it") {
    auto other = ServerContext::load({{files}, TLS1_2_VERSION, "", ""}, keys, &error);
    REQUIRE(other != nullptr);
    CHECK(connect(*other, client_ctx, first.session.get()).reused);
  }

  SECTION("keys of another process (a restart) do not decrypt it: a full handshake") {
    auto other = ServerContext::load({{files}, TLS1_2_VERSION, "", ""},
                                     std::make_shared<TicketKeys>(), &error);
    REQUIRE(other != nullptr);
    Outcome there = connect(*other, client_ctx, first.session.get());
    CHECK(there.connected);
    CHECK_FALSE(there.reused);
    CHECK(keyName(there.session.get()) != first_key);
  }

  SECTION("after one rotation: resumed by the previous key, renewed under the new one") {
    keys->rotate();
    Outcome after = connect(*server, client_ctx, first.session.get());
    CHECK(after.reused);
    const std::string second_key = keyName(after.session.get());
    CHECK(second_key.size() == 16);
    CHECK(second_key != first_key);

    // A second rotation drops the first key: its ticket no longer resumes, while the one
    // issued under the second key (now the previous) still does.
    keys->rotate();
    Outcome dropped = connect(*server, client_ctx, first.session.get());
    CHECK(dropped.connected);
    CHECK_FALSE(dropped.reused);
    CHECK(keyName(dropped.session.get()) != first_key);
    CHECK(keyName(dropped.session.get()) != second_key);
    CHECK(connect(*server, client_ctx, after.session.get()).reused);
  }
  SSL_CTX_free(client_ctx);
}

}  // namespace tls
