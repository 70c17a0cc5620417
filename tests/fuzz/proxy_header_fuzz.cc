// libFuzzer target over balancer::parseProxyHeader, the PROXY protocol header a
// proxy_protocol listener reads before anything else from a connection it cannot trust yet.
//
// Besides the sanitizers, it aborts when
// - a whole header is longer than the input, or than the spec's bounds (v1 107 bytes, v2 16
//   plus our payload cap);
// - a header found whole was not asked for more at every shorter prefix (a session gathering
//   it read by read must come to the same header), or ends elsewhere with bytes after it;
// - more is asked for past the bounds (a client could make us buffer without end);
// - a source address is neither IPv4 nor IPv6.
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "balancer/downstream/proxy_header.h"

namespace {

using balancer::ProxyHeader;
using Status = ProxyHeader::Status;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "proxy_header_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ProxyHeader header = balancer::parseProxyHeader(bytes);
  constexpr size_t kLongest = balancer::kProxyV2FixedLength + balancer::kProxyV2MaxPayload;
  switch (header.status) {
    case Status::kNeedMore:
      if (size >= kLongest) {
        fail("more asked for past the longest header");
      }
      return 0;
    case Status::kInvalid:
      return 0;
    case Status::kDone:
      break;
  }
  if (header.length == 0 || header.length > size || header.length > kLongest) {
    fail("a whole header of an impossible length");
  }
  if (header.source && header.source->ss_family != AF_INET &&
      header.source->ss_family != AF_INET6) {
    fail("a source that is not IPv4 or IPv6");
  }
  for (size_t n = 0; n < header.length; ++n) {
    if (balancer::parseProxyHeader(bytes.substr(0, n)).status != Status::kNeedMore) {
      fail("a prefix of a whole header was not asked for more");
    }
  }
  ProxyHeader alone = balancer::parseProxyHeader(bytes.substr(0, header.length));
  if (alone.status != Status::kDone || alone.length != header.length ||
      alone.source.has_value() != header.source.has_value()) {
    fail("the header alone parses differently than with bytes after it");
  }
  return 0;
}
