#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace http {

// Case-insensitive ASCII comparison, as header names require.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

// Without the optional whitespace (spaces and tabs, RFC 9110 5.6.3) at either end.
inline std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The header names a proxy acts on, recognised once per field so that the request path
// compares small integers rather than strings.
enum class HeaderKind : uint8_t {
  kOther,
  // hop-by-hop (RFC 9110 7.6.1): describe one connection, never forwarded
  kConnection,
  kKeepAlive,
  kProxyConnection,
  kTe,
  kTrailer,
  kTransferEncoding,
  kUpgrade,
  kProxyAuthorization,
  kProxyAuthenticate,
  // rewritten or read by the balancer
  kContentLength,
  kHost,
  kXForwardedFor,
  kXForwardedProto,
  kXRequestId,
  // claims about the client that only a trusted proxy may make (dropped from others)
  kForwarded,
  kXRealIp,
};

HeaderKind classifyHeader(std::string_view name);
inline bool isHopByHop(HeaderKind kind) {
  return kind >= HeaderKind::kConnection && kind <= HeaderKind::kProxyAuthenticate;
}

// The header fields of one message, in arrival order. llhttp hands names and values out in
// pieces that point into a read buffer which is reused, so the bytes are copied once into one
// string; clear() keeps its capacity, so a keep-alive connection stops allocating after its
// first request.
class HeaderList {
 public:
  void clear();

  // Called from llhttp's on_header_field / on_header_value, possibly several times per field.
  void appendName(const char* data, size_t len);
  // Called at the colon: the next name piece starts a new field, even if this one has an
  // empty value and so never sees appendValue.
  void endName() { in_value_ = true; }
  void appendValue(const char* data, size_t len);

  size_t size() const { return entries_.size(); }
  // Inline: the head rewriting calls these for every field of every message.
  std::string_view name(size_t i) const {
    const Entry& e = entries_[i];
    return {storage_.data() + e.name_offset, e.name_length};
  }
  std::string_view value(size_t i) const {
    const Entry& e = entries_[i];
    return {storage_.data() + e.value_offset, e.value_length};
  }
  HeaderKind kind(size_t i) const {
    const Entry& e = entries_[i];
    return e.classified ? e.kind : classify(e);
  }

  // Returns the first value of the named header, or an empty view with found=false.
  std::string_view find(std::string_view name, bool* found = nullptr) const;
  std::string_view find(HeaderKind kind, bool* found = nullptr) const;
  size_t bytes() const { return storage_.size(); }

 private:
  struct Entry {
    uint32_t name_offset = 0;
    uint32_t name_length = 0;
    uint32_t value_offset = 0;
    uint32_t value_length = 0;
    mutable HeaderKind kind = HeaderKind::kOther;
    mutable bool classified = false;
  };
  HeaderKind classify(const Entry& e) const;

  std::string storage_;
  std::vector<Entry> entries_;
  bool in_value_ = false;  // the current field's name is complete
};

}  // namespace http
