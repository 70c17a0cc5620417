// common/tls/connection: the server-side TLS transport over memory BIOs. A real OpenSSL
// client (memory BIOs too, no sockets) talks to a Connection made by ServerContext: what the
// client writes goes into Connection::read, and Connection::records() into the client.
#include <catch2/catch.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/tls/connection.h"
#include "common/tls/server_context.h"
#include "self_signed.h"
#include "common/tls/ticket_keys.h"

namespace tls {
namespace {

CertificateFiles writeSelfSigned() { return test::writeSelfSigned("tls_connection_test", "connection.test"); }

// One context for every test: loading it is the slow part.
const ServerContext& serverContext() {
  static const std::shared_ptr<ServerContext> context = [] {
    CertificateFiles files = writeSelfSigned();
    std::string error;
    auto loaded = ServerContext::load({{files}, TLS1_2_VERSION, "", ""},
                                      std::make_shared<TicketKeys>(), &error);
    std::remove(files.cert.c_str());
    std::remove(files.key.c_str());
    INFO(error);
    REQUIRE(loaded != nullptr);
    return loaded;
  }();
  return *context;
}

// Bytes that differ from offset to offset, so a reordered or lost piece shows.
std::string pattern(size_t n) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  }
  return out;
}

// The OpenSSL client on one side and the Connection under test on the other.
struct Pair {
  // version 0: whatever the client and server agree on.
  explicit Pair(int version = 0) : conn(serverContext().newConnection()) {
    client_ctx = SSL_CTX_new(TLS_client_method());
    if (version != 0) {
      SSL_CTX_set_min_proto_version(client_ctx, version);
      SSL_CTX_set_max_proto_version(client_ctx, version);
    }
    client = SSL_new(client_ctx);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(client, in, out);
    SSL_set_connect_state(client);
  }
  ~Pair() {
    SSL_free(client);
    SSL_CTX_free(client_ctx);
    ERR_clear_error();  // a failed handshake leaves its reasons on this thread
  }
  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // What the client wrote and the server has not read yet.
  std::string takeClientOutput() {
    std::string out;
    char buf[16384];
    int n;
    while ((n = BIO_read(SSL_get_wbio(client), buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // Feeds `bytes` to Connection::read in pieces of `piece` bytes into a `buf_len` plaintext
  // buffer, collecting the plaintext in `plain`; the status of the last read comes back.
  // Counts reads and the ones that said handshake_done_now.
  Connection::ReadStatus serverRead(const std::string& bytes, size_t piece = SIZE_MAX,
                                    size_t buf_len = 16384) {
    std::vector<char> buf(buf_len);
    Connection::ReadStatus status = Connection::ReadStatus::kOk;
    for (size_t at = 0; at < bytes.size(); at += piece) {
      size_t n = std::min(piece, bytes.size() - at);
      Connection::ReadResult r =
          conn.read(bytes.data() + at, n, buf.data(), buf.size(), [&](const char* d, size_t len) {
            plain.append(d, len);
            ++pieces;
            return true;
          });
      ++reads;
      handshakes_done += r.handshake_done_now ? 1 : 0;
      status = r.status;
      if (status != Connection::ReadStatus::kOk) {
        break;
      }
    }
    return status;
  }

  // The server's records into the client.
  void deliverRecords() {
    std::string_view records = conn.records();
    BIO_write(SSL_get_rbio(client), records.data(), static_cast<int>(records.size()));
    conn.clearRecords();
  }

  // Runs the handshake with every client flight cut into `piece`-byte reads. True when both
  // ends finished it.
  bool handshake(size_t piece = SIZE_MAX) {
    int done = 0;
    for (int i = 0; i < 20 && (done != 1 || !conn.handshakeDone()); ++i) {
      if (done != 1) {
        done = SSL_do_handshake(client);
      }
      std::string flight = takeClientOutput();
      if (!flight.empty() && serverRead(flight, piece) != Connection::ReadStatus::kOk) {
        return false;
      }
      deliverRecords();
    }
    return done == 1 && conn.handshakeDone();
  }

  // The client reads until the records it was given run out; its plaintext and the
  // SSL_get_error of its last SSL_read.
  int clientRead(std::string* out) {
    char buf[4096];
    for (;;) {
      int n = SSL_read(client, buf, sizeof buf);
      if (n <= 0) {
        return SSL_get_error(client, n);
      }
      out->append(buf, static_cast<size_t>(n));
    }
  }

  SSL_CTX* client_ctx = nullptr;
  SSL* client = nullptr;
  Connection conn;
  std::string plain;   // what Connection::read handed to the reader
  int pieces = 0;      // calls of the reader
  int reads = 0;       // calls of Connection::read
  int handshakes_done = 0;
};

}  // namespace

TEST_CASE("tls::Connection: the handshake completes, said once by read()", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  size_t piece = GENERATE(size_t{SIZE_MAX}, size_t{7});  // whole flights, or 7 bytes a read
  INFO("protocol 0x" << std::hex << version << std::dec << ", pieces of " << piece);
  Pair pair(version);
  CHECK(pair.conn.active());
  CHECK_FALSE(pair.conn.handshakeDone());

  REQUIRE(pair.handshake(piece));
  CHECK(pair.handshakes_done == 1);
  CHECK(pair.conn.version() == version);
  CHECK(pair.plain.empty());

  // Later reads (application data) do not say it again.
  int reads_before = pair.reads;
  REQUIRE(SSL_write(pair.client, "ping", 4) == 4);
  CHECK(pair.serverRead(pair.takeClientOutput(), piece) == Connection::ReadStatus::kOk);
  CHECK(pair.reads > reads_before);
  CHECK(pair.handshakes_done == 1);
  CHECK(pair.plain == "ping");
}

TEST_CASE("tls::Connection: data right behind the client's Finished comes out in that read",
          "[tls]") {
  // TLS 1.3 clients send their request with their Finished: often one TCP read.
  Pair pair(TLS1_3_VERSION);
  REQUIRE(SSL_do_handshake(pair.client) != 1);
  REQUIRE(pair.serverRead(pair.takeClientOutput()) == Connection::ReadStatus::kOk);
  pair.deliverRecords();
  REQUIRE(SSL_do_handshake(pair.client) == 1);
  REQUIRE(SSL_write(pair.client, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
  REQUIRE_FALSE(pair.conn.handshakeDone());
  int reads_before = pair.reads;
  CHECK(pair.serverRead(pair.takeClientOutput()) == Connection::ReadStatus::kOk);
  CHECK(pair.reads == reads_before + 1);
  CHECK(pair.handshakes_done == 1);
  CHECK(pair.plain == "GET / HTTP/1.1\r\n\r\n");
}

TEST_CASE("tls::Connection: an unrestricted client gets TLS 1.2 or 1.3", "[tls]") {
  Pair pair;
  REQUIRE(pair.handshake());
  CHECK(pair.handshakes_done == 1);
  int version = pair.conn.version();
  CHECK((version == TLS1_2_VERSION || version == TLS1_3_VERSION));
  CHECK(pair.conn.versionName() == std::string(SSL_get_version(pair.client)));
}

TEST_CASE("tls::Connection: client data comes out through the reader intact", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  INFO("protocol 0x" << std::hex << version);
  Pair pair(version);
  REQUIRE(pair.handshake());

  SECTION("a short message") {
    REQUIRE(SSL_write(pair.client, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
    CHECK(pair.serverRead(pair.takeClientOutput()) == Connection::ReadStatus::kOk);
    CHECK(pair.plain == "GET / HTTP/1.1\r\n\r\n");
  }

  SECTION("100 KiB over several records, cut across record boundaries, in order") {
    const std::string message = pattern(100 * 1024);
    REQUIRE(SSL_write(pair.client, message.data(), static_cast<int>(message.size())) ==
            static_cast<int>(message.size()));
    std::string records = pair.takeClientOutput();
    REQUIRE(records.size() > message.size());  // several records, each with its overhead
    // 1000-byte reads split records; a 4 KiB plaintext buffer splits their contents.
    CHECK(pair.serverRead(records, 1000, 4096) == Connection::ReadStatus::kOk);
    CHECK(pair.plain.size() == message.size());
    CHECK(pair.plain == message);
    CHECK(pair.pieces >= static_cast<int>(message.size() / 4096));
  }

  SECTION("several writes arriving in one read") {
    REQUIRE(SSL_write(pair.client, "one,", 4) == 4);
    REQUIRE(SSL_write(pair.client, "two,", 4) == 4);
    REQUIRE(SSL_write(pair.client, "three", 5) == 5);
    CHECK(pair.serverRead(pair.takeClientOutput()) == Connection::ReadStatus::kOk);
    CHECK(pair.plain == "one,two,three");
  }
}

TEST_CASE("tls::Connection: encrypt() makes records the client decrypts intact", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  INFO("protocol 0x" << std::hex << version);
  Pair pair(version);
  REQUIRE(pair.handshake());
  std::string ignored;
  pair.clientRead(&ignored);  // TLS 1.3 tickets
  REQUIRE(ignored.empty());
  REQUIRE(pair.conn.records().empty());

  const std::string body = pattern(100 * 1024);
  REQUIRE(pair.conn.encrypt("HTTP/1.1 200 OK\r\n\r\n", 19));
  REQUIRE(pair.conn.encrypt(body.data(), body.size()));
  CHECK(pair.conn.encrypt("", 0));
  CHECK(pair.conn.records().size() > 19 + body.size());
  pair.deliverRecords();
  CHECK(pair.conn.records().empty());  // clearRecords() forgot them

  std::string received;
  CHECK(pair.clientRead(&received) == SSL_ERROR_WANT_READ);
  CHECK(received.size() == 19 + body.size());
  CHECK(received == "HTTP/1.1 200 OK\r\n\r\n" + body);
}

TEST_CASE("tls::Connection: a reader returning false stops the read", "[tls]") {
  Pair pair;
  REQUIRE(pair.handshake());
  REQUIRE(SSL_write(pair.client, "first", 5) == 5);
  REQUIRE(SSL_write(pair.client, "second", 6) == 6);
  std::string records = pair.takeClientOutput();

  std::vector<std::string> seen;
  char buf[4096];
  Connection::ReadResult r =
      pair.conn.read(records.data(), records.size(), buf, sizeof buf,
                     [&](const char* d, size_t n) {
                       seen.emplace_back(d, n);
                       return false;
                     });
  CHECK(r.status == Connection::ReadStatus::kStopped);
  CHECK_FALSE(r.handshake_done_now);
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == "first");
}

TEST_CASE("tls::Connection: the client's close_notify reads as kPeerClosed", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  INFO("protocol 0x" << std::hex << version);
  Pair pair(version);
  REQUIRE(pair.handshake());
  REQUIRE(SSL_write(pair.client, "last words", 10) == 10);
  REQUIRE(SSL_shutdown(pair.client) >= 0);
  // Data before the close_notify, in the same read, still comes out first.
  CHECK(pair.serverRead(pair.takeClientOutput()) == Connection::ReadStatus::kPeerClosed);
  CHECK(pair.plain == "last words");
}

TEST_CASE("tls::Connection: a record that fails to decrypt reads as kError", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  INFO("protocol 0x" << std::hex << version);
  Pair pair(version);
  REQUIRE(pair.handshake());
  REQUIRE(SSL_write(pair.client, "tampered", 8) == 8);
  std::string records = pair.takeClientOutput();
  records[records.size() - 3] ^= 1;  // in the authentication tag
  CHECK(pair.serverRead(records) == Connection::ReadStatus::kError);
  CHECK(pair.plain.empty());
  CHECK(ERR_peek_error() == 0);  // read() leaves the thread's error queue clean
}

TEST_CASE("tls::Connection: bytes that are not TLS fail the handshake", "[tls]") {
  Pair pair;
  SECTION("plain HTTP on the TLS port") {
    CHECK(pair.serverRead("GET / HTTP/1.1\r\n\r\n") == Connection::ReadStatus::kHandshakeFailed);
  }
  SECTION("a handshake record that holds no ClientHello") {
    // Content type 22 (handshake), TLS 1.0, 5 bytes: a message of type 0xee.
    const std::string bad_hello("\x16\x03\x01\x00\x05\xee\x00\x00\x01\x00", 10);
    CHECK(pair.serverRead(bad_hello) == Connection::ReadStatus::kHandshakeFailed);
    // The alert that tells the client why waits in records(): content type 21.
    REQUIRE_FALSE(pair.conn.records().empty());
    CHECK(pair.conn.records()[0] == '\x15');
  }
  CHECK(pair.handshakes_done == 0);
  CHECK_FALSE(pair.conn.handshakeDone());
  CHECK(pair.plain.empty());
}

TEST_CASE("tls::Connection: shutdown() sends close_notify once the handshake is done", "[tls]") {
  int version = GENERATE(TLS1_2_VERSION, TLS1_3_VERSION);
  INFO("protocol 0x" << std::hex << version);
  Pair pair(version);

  SECTION("after the handshake: the client reads a clean end") {
    REQUIRE(pair.handshake());
    std::string received;
    REQUIRE(pair.clientRead(&received) == SSL_ERROR_WANT_READ);  // TLS 1.3 tickets
    REQUIRE(pair.conn.encrypt("bye", 3));
    pair.conn.shutdown();
    REQUIRE_FALSE(pair.conn.records().empty());
    pair.deliverRecords();
    CHECK(pair.clientRead(&received) == SSL_ERROR_ZERO_RETURN);
    CHECK(received == "bye");
  }

  SECTION("during the handshake: nothing is queued") {
    REQUIRE(SSL_do_handshake(pair.client) != 1);
    REQUIRE(pair.serverRead(pair.takeClientOutput()) == Connection::ReadStatus::kOk);
    REQUIRE_FALSE(pair.conn.handshakeDone());
    pair.conn.clearRecords();  // the server's flight
    ERR_clear_error();
    pair.conn.shutdown();
    CHECK(pair.conn.records().empty());
    // Not even attempted: OpenSSL's refusal would stay on this thread's error queue, where
    // the next SSL_get_error of any connection on the thread would take it for its own.
    CHECK(ERR_peek_error() == 0);
  }
}

}  // namespace tls
