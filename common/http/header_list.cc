#include "common/http/header_list.h"

namespace http {

namespace {
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

HeaderKind classifyHeader(std::string_view name) {
  // By length first: most names are then compared with at most two candidates.
  switch (name.size()) {
    case 2:
      return equalsIgnoreCase(name, "te") ? HeaderKind::kTe : HeaderKind::kOther;
    case 4:
      return equalsIgnoreCase(name, "host") ? HeaderKind::kHost : HeaderKind::kOther;
    case 7:
      if (equalsIgnoreCase(name, "upgrade")) {
        return HeaderKind::kUpgrade;
      }
      return equalsIgnoreCase(name, "trailer") ? HeaderKind::kTrailer : HeaderKind::kOther;
    case 9:
      if (equalsIgnoreCase(name, "forwarded")) {
        return HeaderKind::kForwarded;
      }
      return equalsIgnoreCase(name, "x-real-ip") ? HeaderKind::kXRealIp : HeaderKind::kOther;
    case 10:
      if (equalsIgnoreCase(name, "connection")) {
        return HeaderKind::kConnection;
      }
      return equalsIgnoreCase(name, "keep-alive") ? HeaderKind::kKeepAlive : HeaderKind::kOther;
    case 12:
      return equalsIgnoreCase(name, "x-request-id") ? HeaderKind::kXRequestId
                                                     : HeaderKind::kOther;
    case 14:
      return equalsIgnoreCase(name, "content-length") ? HeaderKind::kContentLength
                                                       : HeaderKind::kOther;
    case 15:
      return equalsIgnoreCase(name, "x-forwarded-for") ? HeaderKind::kXForwardedFor
                                                        : HeaderKind::kOther;
    case 16:
      return equalsIgnoreCase(name, "proxy-connection") ? HeaderKind::kProxyConnection
                                                         : HeaderKind::kOther;
    case 17:
      if (equalsIgnoreCase(name, "transfer-encoding")) {
        return HeaderKind::kTransferEncoding;
      }
      return equalsIgnoreCase(name, "x-forwarded-proto") ? HeaderKind::kXForwardedProto
                                                          : HeaderKind::kOther;
    case 18:
      return equalsIgnoreCase(name, "proxy-authenticate") ? HeaderKind::kProxyAuthenticate
                                                           : HeaderKind::kOther;
    case 19:
      return equalsIgnoreCase(name, "proxy-authorization") ? HeaderKind::kProxyAuthorization
                                                            : HeaderKind::kOther;
    default:
      return HeaderKind::kOther;
  }
}

HeaderKind HeaderList::classify(const Entry& e) const {
  e.kind = classifyHeader(std::string_view(storage_.data() + e.name_offset, e.name_length));
  e.classified = true;
  return e.kind;
}

std::string_view HeaderList::find(HeaderKind wanted, bool* found) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (kind(i) == wanted) {
      if (found != nullptr) {
        *found = true;
      }
      return value(i);
    }
  }
  if (found != nullptr) {
    *found = false;
  }
  return {};
}

void HeaderList::clear() {
  storage_.clear();
  entries_.clear();
  in_value_ = false;
}

void HeaderList::appendName(const char* data, size_t len) {
  if (entries_.empty() || in_value_) {
    Entry e;
    e.name_offset = static_cast<uint32_t>(storage_.size());
    entries_.push_back(e);
    in_value_ = false;
  }
  storage_.append(data, len);
  entries_.back().name_length += static_cast<uint32_t>(len);
}

void HeaderList::appendValue(const char* data, size_t len) {
  if (entries_.empty()) {
    return;  // llhttp never sends a value before a name.
  }
  Entry& e = entries_.back();
  if (e.value_length == 0) {
    e.value_offset = static_cast<uint32_t>(storage_.size());
  }
  in_value_ = true;
  storage_.append(data, len);
  e.value_length += static_cast<uint32_t>(len);
}


std::string_view HeaderList::find(std::string_view wanted, bool* found) const {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (equalsIgnoreCase(name(i), wanted)) {
      if (found != nullptr) {
        *found = true;
      }
      return value(i);
    }
  }
  if (found != nullptr) {
    *found = false;
  }
  return {};
}

}  // namespace http
