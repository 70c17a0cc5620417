#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/http/header_list.h"
#include "common/util/cidr.h"

namespace balancer {

// Who a request is from, for key: ip limits, allow/deny and the access log: the connection's
// peer (after the PROXY protocol), unless that peer is a trusted proxy.
// Then X-Forwarded-For is read from the right, past the trusted addresses: the first one not
// trusted is the client (all trusted: the leftmost). An entry that is not an IP address ends
// the walk, and the last address known good stays the client: a relay may pass on whatever
// its own client wrote, and a made-up word must not become an address.
class ClientAddress {
 public:
  ClientAddress() = default;
  ClientAddress(const ClientAddress&) = delete;  // ip() may point into the object
  ClientAddress& operator=(const ClientAddress&) = delete;

  // The client is `peer` (an IP address as text), its X-Forwarded-For not read (yet).
  // `peer` is not copied: it must outlive this object (the connection's address does).
  void reset(std::string_view peer) {
    ip_ = peer;
    peer_trusted_ = false;
  }
  // Sets the client from `peer` and the request's headers. Without trusted proxies (the
  // common case) that is `peer` itself, and nothing is parsed or copied.
  void resolve(std::string_view peer, const http::HeaderList& headers,
               std::span<const util::Cidr> trusted) {
    reset(peer);
    if (!trusted.empty()) {
      readForwardedFor(headers, trusted);
    }
  }
  // The client as text ("192.0.2.7", "2001:db8::1"); the peer as given when it is it.
  std::string_view ip() const { return ip_; }
  // Whether the peer is a trusted proxy: its X-Forwarded-For is kept on the way upstream.
  bool peerTrusted() const { return peer_trusted_; }

 private:
  // The peer (ip_) is trusted: the client is the first untrusted hop of X-Forwarded-For.
  void readForwardedFor(const http::HeaderList& headers, std::span<const util::Cidr> trusted);
  void set(const util::IpAddress& address);

  std::string_view ip_;  // the peer, or text_
  char text_[46];        // INET6_ADDRSTRLEN: a hop of X-Forwarded-For, written by set()
  bool peer_trusted_ = false;
};

}  // namespace balancer
