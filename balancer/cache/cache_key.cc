#include "balancer/cache/cache_key.h"

#include <algorithm>
#include <random>

#include "common/http/query.h"

namespace balancer::cache {

namespace {

// Each part length-prefixed, so "a" + "bc" and "ab" + "c" differ.
void appendPart(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out.append(part);
}

constexpr std::string_view kAbsent = "\x01";  // a field that was not sent at all

// A varied request value as the key holds it: normalized lists; for the negotiation fields
// whose values are case-insensitive (language tags, content-codings, "q"), lowercased too, so
// "eN, De" selects what "en, de" stored. Member order is kept: an origin may read it.
std::string selectingValue(std::string_view name, std::string_view value) {
  std::string out = normalizeValue(value);
  if (name == "accept-language" || name == "accept-encoding") {
    out = toLower(out);
  }
  return out;
}

}  // namespace

KeyMaker::KeyMaker() {
  std::random_device random;
  k0_ = (static_cast<uint64_t>(random()) << 32) ^ random();
  k1_ = (static_cast<uint64_t>(random()) << 32) ^ random();
}

Key KeyMaker::primary(std::string_view host, std::string_view path, std::string_view query,
                      const KeyOptions& options) const {
  std::string canonical;
  canonical.reserve(host.size() + path.size() + query.size() + 32);
  appendPart(canonical, "GET");
  appendPart(canonical, toLower(host));
  appendPart(canonical, path);
  appendPart(canonical, options.ignore_query.empty() ? std::string(query)
                                                     : withoutParams(query, options.ignore_query));
  return sipHash128(k0_, k1_, canonical);
}

Key KeyMaker::secondary(const http::HeaderList& request, const KeyOptions& options,
                        const std::vector<std::string>& vary) const {
  std::string canonical;
  for (const std::string& name : options.headers) {
    bool found = false;
    std::string value = combinedValue(request, name, &found);
    appendPart(canonical, found ? std::string_view(normalizeValue(value)) : kAbsent);
  }
  if (!options.cookies.empty()) {
    std::string cookies = combinedValue(request, "cookie");
    for (const std::string& name : options.cookies) {
      bool found = false;
      std::string_view value = cookieValue(cookies, name, &found);
      appendPart(canonical, found ? value : kAbsent);
    }
  }
  for (const std::string& name : vary) {
    appendPart(canonical, name);
    bool found = false;
    std::string value = combinedValue(request, name, &found);
    appendPart(canonical, found ? std::string_view(selectingValue(name, value)) : kAbsent);
  }
  return sipHash128(k0_, k1_, canonical);
}

namespace {

std::vector<std::string> sortedUnique(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace

std::vector<std::string> varyNames(const Fields& response) {
  std::vector<std::string> names;
  const std::string value = combinedValue(response, "vary");  // the views below point into it
  for (std::string_view member : splitList(value)) {
    names.push_back(toLower(member));
  }
  return sortedUnique(std::move(names));
}

std::vector<std::string> varyNames(const http::HeaderList& response) {
  std::vector<std::string> names;
  const std::string value = combinedValue(response, "vary");  // the views below point into it
  for (std::string_view member : splitList(value)) {
    names.push_back(toLower(member));
  }
  return sortedUnique(std::move(names));
}

std::string withoutParams(std::string_view query, const std::vector<std::string>& names) {
  std::string out;
  for (const http::QueryParam& param : http::splitQuery(query)) {
    if (std::find(names.begin(), names.end(), param.name) != names.end()) {
      continue;
    }
    if (!out.empty()) {
      out += '&';
    }
    out.append(param.name);
    if (!param.value.empty()) {
      out += '=';
      out.append(param.value);
    }
  }
  return out;
}

std::string_view cookieValue(std::string_view cookie_field, std::string_view name, bool* found) {
  *found = false;
  while (!cookie_field.empty()) {
    size_t end = cookie_field.find_first_of(";,");
    std::string_view pair = cookie_field.substr(0, end);
    cookie_field = end == std::string_view::npos ? std::string_view{} : cookie_field.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') {
      pair.remove_prefix(1);
    }
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      *found = true;
      return pair.substr(eq + 1);
    }
  }
  return {};
}

}  // namespace balancer::cache
