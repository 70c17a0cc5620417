#pragma once

// An ExchangeCodec with no connection behind it: it writes down what the exchange tells it,
// in order, and says what a test wants it to (writable or full, open or closed, whether it
// sends a file itself). The HTTP/1.1 session and the HTTP/2 codec stand on the same seam.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/exchange/exchange.h"
#include "balancer/filters/filter.h"

namespace exchange_test {

class FakeCodec final : public balancer::ExchangeCodec {
 public:
  // What the exchange called, one entry a call: "head 200", "body 65536", "end", "done",
  // "done close", "abort", "file 0+1000" (the flushes are counted, not listed).
  std::vector<std::string> calls;
  // The last head, its lines copied (the exchange's views end with the call).
  balancer::ResponseHead head;
  std::string head_lines;
  std::string extra_lines;
  std::string body;  // every piece, in order
  int flushes = 0;

  // outputFull() is !writable; with full_after_body each piece fills the output.
  bool writable = true;
  bool full_after_body = false;
  // sendFile() takes a region (as HTTP/1.1 on plain TCP does) when set.
  bool takes_files = false;
  bool sends_files_at_once = false;  // sendFile answers kSent: all of it went out in the call
  std::optional<balancer::filters::FileRegion> file;

  // The client went away: open() and closed() say so from now on.
  void close() { closed_ = true; }

  void sendInterim(const http::Parser& /*response*/) override { calls.push_back("interim"); }
  void sendHead(const balancer::ResponseHead& h) override {
    head = h;
    head_lines = h.headers;
    extra_lines = h.extra_headers;
    head.headers = head_lines;
    head.extra_headers = extra_lines;
    calls.push_back("head " + std::to_string(h.status));
  }
  void sendBody(std::string_view bytes, bool /*stable*/) override {
    body.append(bytes);
    calls.push_back("body " + std::to_string(bytes.size()));
    if (full_after_body) {
      writable = false;
    }
  }
  void sendEnd() override { calls.push_back("end"); }
  balancer::FileSendStart sendFile(const balancer::filters::FileRegion& region) override {
    if (!takes_files) {
      return balancer::FileSendStart::kRefused;
    }
    file = region;
    calls.push_back("file " + std::to_string(region.offset) + "+" +
                    std::to_string(region.length));
    return sends_files_at_once ? balancer::FileSendStart::kSent
                               : balancer::FileSendStart::kSending;
  }
  void flush() override { ++flushes; }
  bool outputFull() override { return !writable; }
  void abort() override { calls.push_back("abort"); }
  void onExchangeDone(bool close) override { calls.push_back(close ? "done close" : "done"); }
  void onRequestBodyWanted() override {}
  void enterTunnel(balancer::UpstreamConnection* /*conn*/, const char* /*rest*/,
                   size_t /*len*/) override {
    calls.push_back("tunnel");
  }
  void onTunnelData(const char* /*data*/, size_t /*len*/) override {}
  void onTunnelClosed() override {}
  bool open() const override { return !closed_; }
  bool closed() const override { return closed_; }

  // How many body pieces were sent.
  size_t pieces() const {
    size_t n = 0;
    for (const std::string& c : calls) {
      n += c.rfind("body ", 0) == 0 ? 1 : 0;
    }
    return n;
  }

 private:
  bool closed_ = false;
};

}  // namespace exchange_test
