#pragma once

#include <cstdint>
#include <string_view>

namespace balancer {

// Why an exchange ends with the balancer's own error answer, and whose fault it was: the
// status and message the client gets, the side that failed, and whether sending the request
// again (to another backend) could help. Retries, logs and the outlier detector read it.
struct UpstreamError {
  enum class Source : uint8_t {
    kDownstream,  // the client: a body past a limit, a reset mid-request
    kUpstream,    // a backend: refused, timed out, closed early, an invalid response
    kInternal,    // the balancer: no backend left to pick
  };
  int status = 502;
  std::string_view message;  // static text
  Source source = Source::kUpstream;
  bool retryable = false;

  static std::string_view sourceName(Source source) {
    switch (source) {
      case Source::kDownstream:
        return "downstream";
      case Source::kUpstream:
        return "upstream";
      case Source::kInternal:
        return "internal";
    }
    return "internal";
  }
};

}  // namespace balancer
