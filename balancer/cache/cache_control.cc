#include "balancer/cache/cache_control.h"

#include <algorithm>

#include "common/http/structured_field.h"

namespace balancer::cache {

namespace {

constexpr int64_t kMaxDelta = int64_t{1} << 31;

// The argument without its quotes and quoted-pair backslashes.
std::string unquote(std::string_view arg) {
  if (arg.size() < 2 || arg.front() != '"' || arg.back() != '"') {
    return std::string(arg);
  }
  std::string out;
  arg = arg.substr(1, arg.size() - 2);
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] == '\\' && i + 1 < arg.size()) {
      ++i;
    }
    out += arg[i];
  }
  return out;
}

DeltaSeconds parseDelta(bool has_arg, const std::string& arg) {
  DeltaSeconds d;
  d.present = true;
  if (!has_arg || arg.empty()) {
    return d;
  }
  int64_t value = 0;
  for (char c : arg) {
    if (c < '0' || c > '9') {
      return d;
    }
    value = value * 10 + (c - '0');
    if (value > kMaxDelta) {
      value = kMaxDelta;  // keeps going to check the rest are digits, without overflowing
    }
  }
  d.valid = true;
  d.seconds = value;
  return d;
}

// Sets a delta directive, keeping the first occurrence; a later one that differs marks the
// message conflicting.
void setDelta(DeltaSeconds& slot, DeltaSeconds value, bool& conflicting) {
  if (!slot.present) {
    slot = value;
    return;
  }
  if (slot.valid != value.valid || slot.seconds != value.seconds) {
    conflicting = true;
  }
}

void addFieldNames(const std::string& arg, std::vector<std::string>& names) {
  for (std::string_view name : splitList(arg)) {
    names.push_back(toLower(name));
  }
}

}  // namespace

CacheControl parseCacheControl(std::string_view value) {
  CacheControl cc;
  cc.present = true;
  for (std::string_view member : splitList(value)) {
    size_t eq = member.find('=');
    // No whitespace around '=' (RFC 9111 5.2): "max-age =5" is an unknown directive and
    // "max-age= 5" an invalid argument, as strict caches read them.
    std::string name = toLower(member.substr(0, eq));
    bool has_arg = eq != std::string_view::npos;
    std::string_view raw_arg = has_arg ? member.substr(eq + 1) : std::string_view{};
    std::string arg = unquote(raw_arg);
    if (name == "max-age") {
      setDelta(cc.max_age, parseDelta(has_arg, arg), cc.conflicting);
    } else if (name == "s-maxage") {
      setDelta(cc.s_maxage, parseDelta(has_arg, arg), cc.conflicting);
    } else if (name == "stale-while-revalidate") {
      setDelta(cc.stale_while_revalidate, parseDelta(has_arg, arg), cc.conflicting);
    } else if (name == "stale-if-error") {
      setDelta(cc.stale_if_error, parseDelta(has_arg, arg), cc.conflicting);
    } else if (name == "min-fresh") {
      setDelta(cc.min_fresh, parseDelta(has_arg, arg), cc.conflicting);
    } else if (name == "max-stale") {
      cc.max_stale = true;
      if (has_arg) {
        setDelta(cc.max_stale_limit, parseDelta(has_arg, arg), cc.conflicting);
      }
    } else if (name == "no-cache") {
      // The qualified form only restricts the named fields; the unqualified one the whole
      // response. An empty list is taken as unqualified (the conservative reading).
      if (has_arg && !splitList(arg).empty()) {
        addFieldNames(arg, cc.no_cache_fields);
      } else {
        cc.no_cache = true;
      }
    } else if (name == "private") {
      if (has_arg && !splitList(arg).empty()) {
        addFieldNames(arg, cc.private_fields);
      } else {
        cc.is_private = true;
      }
    } else if (name == "no-store") {
      cc.no_store = true;
    } else if (name == "no-transform") {
      cc.no_transform = true;
    } else if (name == "public") {
      cc.is_public = true;
    } else if (name == "must-revalidate") {
      cc.must_revalidate = true;
    } else if (name == "proxy-revalidate") {
      cc.proxy_revalidate = true;
    } else if (name == "must-understand") {
      cc.must_understand = true;
    } else if (name == "immutable") {
      cc.immutable = true;
    } else if (name == "only-if-cached") {
      cc.only_if_cached = true;
    }
    // Unknown extensions are ignored (RFC 9111 5.2.3).
  }
  return cc;
}

CacheControl requestCacheControl(const http::HeaderList& headers) {
  bool found = false;
  std::string value = combinedValue(headers, "cache-control", &found);
  if (found) {
    return parseCacheControl(value);
  }
  CacheControl cc;
  std::string pragma = combinedValue(headers, "pragma");
  for (std::string_view member : splitList(pragma)) {
    if (http::equalsIgnoreCase(member, "no-cache")) {
      cc.no_cache = true;
    }
  }
  return cc;
}

std::optional<CacheControl> parseTargetedCacheControl(std::string_view value) {
  std::optional<std::vector<http::SfMember>> members = http::parseSfDictionary(value);
  if (!members || members->empty()) {
    return std::nullopt;
  }
  CacheControl cc;
  cc.present = true;
  cc.targeted = true;
  using Type = http::SfItem::Type;
  for (const http::SfMember& member : *members) {
    const std::string& name = member.key;
    const http::SfItem& item = member.value;
    const bool flag = item.type == Type::kBoolean && item.boolean;
    DeltaSeconds* delta = name == "max-age"                  ? &cc.max_age
                          : name == "s-maxage"               ? &cc.s_maxage
                          : name == "stale-while-revalidate" ? &cc.stale_while_revalidate
                          : name == "stale-if-error"         ? &cc.stale_if_error
                                                             : nullptr;
    if (delta != nullptr) {
      if (item.type != Type::kInteger || item.integer < 0) {
        return std::nullopt;  // the wrong type: the field is not one this cache can follow
      }
      *delta = DeltaSeconds{true, true, std::min(item.integer, kMaxDelta)};
    } else if (name == "no-cache" || name == "private") {
      if (item.type == Type::kString) {
        addFieldNames(item.text, name == "private" ? cc.private_fields : cc.no_cache_fields);
      } else if (flag) {
        (name == "private" ? cc.is_private : cc.no_cache) = true;
      } else {
        return std::nullopt;
      }
    } else if (name == "no-store") {
      cc.no_store = flag;
    } else if (name == "public") {
      cc.is_public = flag;
    } else if (name == "must-revalidate") {
      cc.must_revalidate = flag;
    } else if (name == "proxy-revalidate") {
      cc.proxy_revalidate = flag;
    } else if (name == "must-understand") {
      cc.must_understand = flag;
    } else if (name == "immutable") {
      cc.immutable = flag;
    } else if (name == "no-transform") {
      cc.no_transform = flag;
    }
  }
  return cc;
}

namespace {

template <typename Headers>
CacheControl responseDirectives(const Headers& headers) {
  bool targeted = false;
  std::string cdn = combinedValue(headers, "cdn-cache-control", &targeted);
  if (targeted) {
    if (std::optional<CacheControl> cc = parseTargetedCacheControl(cdn)) {
      return *cc;
    }
  }
  bool found = false;
  std::string value = combinedValue(headers, "cache-control", &found);
  return found ? parseCacheControl(value) : CacheControl{};
}

}  // namespace

CacheControl responseCacheControl(const http::HeaderList& headers) {
  return responseDirectives(headers);
}

CacheControl responseCacheControl(const Fields& headers) { return responseDirectives(headers); }

}  // namespace balancer::cache
