#pragma once

#include <string>
#include <vector>

namespace balancer::config {

// One key of the configuration as its table declares it, for people (the README's reference
// table is checked against these) rather than for the reader.
struct DeclaredKey {
  std::string name;          // "client_idle"; a full path once flattened: "timeouts.client_idle"
  std::string type;          // as written in the file: "duration", "1..1000", "true|false", ...
  std::string default_text;  // the default as it would be written; empty: none (or required)
  std::string meaning;       // one line
  std::string shape;         // for a section: "" (one), "[]" (a list of them), ".NAME" (a map)
  bool section = false;      // its keys are `keys`
  std::vector<DeclaredKey> keys;
};

// Every key of the configuration with its full path ("upstreams.NAME.pool.max_idle",
// "listeners[].tls.min_version"); a section comes before its keys.
std::vector<DeclaredKey> declaredConfigKeys();

}  // namespace balancer::config
