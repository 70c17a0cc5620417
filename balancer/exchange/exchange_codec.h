#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace http {
class Parser;
}

namespace balancer {

namespace filters {
struct FileRegion;
}

class UpstreamConnection;

// How a codec took a local response's file region (ExchangeCodec::sendFile).
enum class FileSendStart : uint8_t {
  kRefused,  // it cannot: the exchange pulls the bytes instead
  kSending,  // under way: Exchange::onFileSent answers
  kSent,     // all of it went out within the call
  kFailed,   // the connection broke within the call: the response cannot be finished
};

// A final response's head as the exchange decided it; the codec writes it in its protocol.
struct ResponseHead {
  int status = 0;
  // An upstream's response: its header fields go through (less hop-by-hop ones). Null for
  // a response the balancer makes, whose fields are `headers`.
  const http::Parser* upstream = nullptr;
  std::string_view headers;        // a local response's lines, each ending in CRLF
  std::string_view extra_headers;  // lines the filters add, each ending in CRLF
  // The body's length as it goes out; none: not known before its end (a body a filter
  // rewrites, an upstream's chunked one).
  std::optional<uint64_t> content_length;
  bool no_body = false;        // HEAD, 1xx, 204, 304: no body follows, whatever the length
  // A filter rewrites the body: the Content-Length (and Accept-Ranges) given no longer hold.
  bool length_changed = false;
  bool weaken_etag = false;    // a strong ETag goes out weak (the body was re-encoded)
  // An upstream's fields left out: a filter says them itself (the cache's X-Cache).
  std::span<const std::string_view> drop_headers;
  bool close = false;          // the connection closes after this response
};

// The downstream side of an exchange: the codec that read its request and writes its
// response. HTTP/1.1's (Session) carries one exchange at a time; HTTP/2's will carry many,
// one per stream, behind this same interface.
class ExchangeCodec {
 public:
  // --- the response, in order: interim heads, one final head, body pieces, the end
  virtual void sendInterim(const http::Parser& response) = 0;
  virtual void sendHead(const ResponseHead& head) = 0;
  // `stable`: the bytes stay valid until written (an upstream's read buffer, which is not
  // reused before the client drains); else they are copied.
  virtual void sendBody(std::string_view bytes, bool stable) = 0;
  virtual void sendEnd() = 0;
  // Optional: sends a local response's whole body, a file region, by the codec's own means
  // (HTTP/1.1 on plain TCP: sendfile), at once or answering Exchange::onFileSent later.
  // kRefused: it cannot (TLS, chunked framing; HTTP/2 will not), and the exchange pulls the
  // bytes instead.
  virtual FileSendStart sendFile(const filters::FileRegion& /*region*/) {
    return FileSendStart::kRefused;
  }
  // Writes what is queued.
  virtual void flush() = 0;
  // The client reads slower than the response comes: the exchange waits for
  // Exchange::onClientDrained (and the codec's client_write timeout watches the client).
  virtual bool outputFull() = 0;
  // The response cannot be finished (an upstream's body broke off, a file read failed):
  // the client must see it cut (HTTP/1.1 closes the connection).
  virtual void abort() = 0;
  // The exchange is over (its response written, its request read whole or abandoned): the
  // codec goes on with the next request, or closes.
  virtual void onExchangeDone(bool close) = 0;
  // The upstream takes more of the request body now (backpressure released).
  virtual void onRequestBodyWanted() = 0;
  // A 101: the connection becomes a tunnel to `conn`, `rest` its first bytes.
  virtual void enterTunnel(UpstreamConnection* conn, const char* rest, size_t len) = 0;
  virtual void onTunnelData(const char* data, size_t len) = 0;
  virtual void onTunnelClosed() = 0;
  // Whether the connection still carries the exchange (not closing, not closed).
  virtual bool open() const = 0;
  virtual bool closed() const = 0;

 protected:
  ~ExchangeCodec() = default;
};

}  // namespace balancer
