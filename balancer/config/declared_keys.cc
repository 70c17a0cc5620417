#include "balancer/config/declared_keys.h"

#include "balancer/config/sections.h"

namespace balancer::config {

namespace {

void flatten(const std::vector<DeclaredKey>& keys, const std::string& parent,
             std::vector<DeclaredKey>* out) {
  for (const DeclaredKey& key : keys) {
    DeclaredKey flat = key;
    flat.name = parent.empty() ? key.name : parent + "." + key.name;
    flat.keys.clear();
    out->push_back(flat);
    if (key.section) {
      flatten(key.keys, flat.name + key.shape, out);
    }
  }
}

}  // namespace

std::vector<DeclaredKey> declaredConfigKeys() {
  std::vector<DeclaredKey> out;
  flatten(configKeys().declare(), "", &out);
  return out;
}

}  // namespace balancer::config
