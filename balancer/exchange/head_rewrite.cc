#include "balancer/exchange/head_rewrite.h"

#include <charconv>

#include "common/http/header_list.h"
#include "common/http/status.h"

namespace balancer {

using namespace std::string_view_literals;  // appended literals: lengths known when compiled

namespace {

// The header names a message's Connection headers list, which makes them hop-by-hop too.
// close, keep-alive and upgrade are left out: those are hop-by-hop headers or none at all.
class ConnectionTokens {
 public:
  explicit ConnectionTokens(const http::HeaderList& headers) {
    for (size_t i = 0; i < headers.size(); ++i) {
      if (headers.kind(i) == http::HeaderKind::kConnection) {
        add(headers.value(i));
      }
    }
  }
  bool contains(std::string_view name) const {
    for (size_t i = 0; i < count_; ++i) {
      if (http::equalsIgnoreCase(tokens_[i], name)) {
        return true;
      }
    }
    return false;
  }

 private:
  void add(std::string_view value) {
    while (!value.empty()) {
      size_t comma = value.find(',');
      std::string_view token = value.substr(0, comma);
      while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
        token.remove_prefix(1);
      }
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
        token.remove_suffix(1);
      }
      if (!token.empty() && count_ < kMax && !http::equalsIgnoreCase(token, "close") &&
          http::classifyHeader(token) == http::HeaderKind::kOther) {
        tokens_[count_++] = token;
      }
      if (comma == std::string_view::npos) {
        break;
      }
      value.remove_prefix(comma + 1);
    }
  }
  static constexpr size_t kMax = 16;
  std::string_view tokens_[kMax];
  size_t count_ = 0;
};

template <typename Name>
bool dropped(std::span<const Name> names, std::string_view name) {
  for (const Name& n : names) {
    if (http::equalsIgnoreCase(n, name)) {
      return true;
    }
  }
  return false;
}

// Appends "?a=1&b=2" leaving out the parameter `drop` (all of it if nothing else is left).
void appendQuery(std::string_view query, std::string_view drop, std::string* out) {
  if (drop.empty() || query.empty()) {
    out->append(query);
    return;
  }
  std::string_view rest = query.substr(1);  // after '?'
  bool first = true;
  while (true) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    std::string_view name = pair.substr(0, pair.find('='));
    if (name != drop) {
      out->push_back(first ? '?' : '&');
      out->append(pair);
      first = false;
    }
    if (amp == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(amp + 1);
  }
}

void appendStatusLine(const http::Parser& response, std::string* out) {
  int status = response.status();
  out->append("HTTP/1.1 "sv).append(std::to_string(status)).append(" "sv);
  out->append(response.statusText().empty() ? http::reasonPhrase(status)
                                            : response.statusText());
  out->append("\r\n"sv);
}

}  // namespace

namespace {

// "Content-Length: N\r\n", formatted in place (std::to_string goes through a temporary).
void appendContentLength(uint64_t length, std::string* out) {
  char line[40] = "Content-Length: ";
  constexpr size_t kName = sizeof "Content-Length: " - 1;
  char* end = std::to_chars(line + kName, line + sizeof line - 2, length).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(line, static_cast<size_t>(end - line));
}

// Whether `name` is one of `names` (case-insensitive).
bool droppedView(std::span<const std::string_view> names, std::string_view name) {
  for (std::string_view n : names) {
    if (http::equalsIgnoreCase(n, name)) {
      return true;
    }
  }
  return false;
}

}  // namespace

void rewriteRequestHead(const http::Parser& request, const RequestTarget& target,
                        const RequestRewrite& rewrite, std::string* out) {
  std::string& h = *out;
  const http::HeaderList& headers = request.headers();
  h.clear();
  h.append(request.methodName());
  h.push_back(' ');
  std::string_view path = target.path;
  std::string_view prefix = rewrite.strip_prefix;
  if (!prefix.empty() && path.substr(0, prefix.size()) == prefix) {
    path.remove_prefix(prefix.size());
    if (path.empty() || path.front() != '/') {
      h.push_back('/');
    }
  }
  h.append(path);
  appendQuery(target.query, rewrite.drop_query_param, &h);
  h.append(" HTTP/1.1\r\n"sv);

  bool has_host = false;
  ConnectionTokens listed(headers);
  for (size_t i = 0; i < headers.size(); ++i) {
    http::HeaderKind kind = headers.kind(i);
    switch (kind) {
      case http::HeaderKind::kUpgrade:
        if (rewrite.upgrade) {
          break;  // forwarded: the upstream must see what to switch to
        }
        continue;
      case http::HeaderKind::kContentLength:  // re-added below with the framing
      case http::HeaderKind::kXForwardedProto:
      case http::HeaderKind::kXRequestId:
        continue;
      case http::HeaderKind::kXForwardedFor:  // written below
        continue;
      case http::HeaderKind::kForwarded:
      case http::HeaderKind::kXRealIp:
        if (!rewrite.keep_forwarded_for) {
          continue;  // a client's own claim of its address: believed from trusted_proxies only
        }
        break;
      case http::HeaderKind::kHost:
        if (!target.authority.empty()) {
          continue;  // an absolute-form target's authority is the Host (RFC 9112 3.2.2)
        }
        has_host = true;
        break;
      case http::HeaderKind::kOther:
        if (headers.name(i).find('_') != std::string_view::npos) {
          if (rewrite.dropped_underscore != nullptr) {
            ++*rewrite.dropped_underscore;
          }
          continue;
        }
        if (listed.contains(headers.name(i)) || dropped(rewrite.drop_headers, headers.name(i)) ||
            dropped(rewrite.filter_drop_headers, headers.name(i))) {
          continue;
        }
        break;
      default:
        if (http::isHopByHop(kind)) {
          continue;
        }
        break;
    }
    h.append(headers.name(i)).append(": "sv).append(headers.value(i)).append("\r\n"sv);
  }
  if (!target.authority.empty()) {
    h.append("Host: "sv).append(target.authority).append("\r\n"sv);
  } else if (!has_host) {
    h.append("Host: "sv).append(rewrite.default_host).append("\r\n"sv);
  }
  if (request.chunked()) {
    h.append("Transfer-Encoding: chunked\r\n"sv);
  } else if (request.hasContentLength()) {
    appendContentLength(request.contentLength(), &h);
  }
  h.append("X-Forwarded-For: "sv);
  if (rewrite.keep_forwarded_for) {
    for (size_t i = 0; i < headers.size(); ++i) {  // several fields are one list, in order
      if (headers.kind(i) == http::HeaderKind::kXForwardedFor && !headers.value(i).empty()) {
        h.append(headers.value(i)).append(", "sv);
      }
    }
  }
  h.append(rewrite.client_ip).append("\r\n"sv);
  h.append(rewrite.tls ? "X-Forwarded-Proto: https\r\n"sv : "X-Forwarded-Proto: http\r\n"sv);
  h.append("X-Request-Id: "sv).append(rewrite.request_id).append("\r\n"sv);
  h.append(rewrite.extra_headers);
  if (rewrite.upgrade) {
    h.append("Connection: upgrade\r\n"sv);
  }
  h.append("\r\n"sv);
}

void rewriteResponseHead(const http::Parser& response, const ResponseRewrite& rewrite,
                         std::string* out) {
  std::string& head = *out;
  const http::HeaderList& headers = response.headers();
  int status = response.status();
  head.clear();
  appendStatusLine(response, &head);
  bool has_id = false;
  ConnectionTokens listed(headers);
  for (size_t i = 0; i < headers.size(); ++i) {
    http::HeaderKind kind = headers.kind(i);
    if (kind == http::HeaderKind::kUpgrade && status == 101) {
      // forwarded: the client must see what was switched to
    } else if (http::isHopByHop(kind) || kind == http::HeaderKind::kContentLength) {
      continue;
    } else if (kind == http::HeaderKind::kOther && listed.contains(headers.name(i))) {
      continue;
    } else if (kind == http::HeaderKind::kOther && !rewrite.drop_headers.empty() &&
               droppedView(rewrite.drop_headers, headers.name(i))) {
      continue;
    } else if (rewrite.body_rewritten && kind == http::HeaderKind::kOther &&
               http::equalsIgnoreCase(headers.name(i), "Accept-Ranges"sv)) {
      continue;
    }
    has_id = has_id || kind == http::HeaderKind::kXRequestId;
    head.append(headers.name(i)).append(": "sv);
    std::string_view value = headers.value(i);
    if (rewrite.weaken_etag && !value.empty() && value.front() == '"' &&
        kind == http::HeaderKind::kOther && http::equalsIgnoreCase(headers.name(i), "ETag"sv)) {
      // "x" named the upstream's bytes; the client gets other (equivalent) bytes: W/"x"
      // (RFC 9110 8.8.3). Already weak ones stay as they are.
      head.append("W/"sv);
    }
    head.append(value).append("\r\n"sv);
  }
  // A 204 never has a body, and RFC 9110 section 8.6 forbids its Content-Length.
  if (response.hasContentLength() && status != 204 && status != 101 && !rewrite.body_rewritten) {
    appendContentLength(response.contentLength(), &head);
  } else if (rewrite.rechunk) {
    head.append("Transfer-Encoding: chunked\r\n"sv);
  }
  if (!has_id) {
    head.append("X-Request-Id: "sv).append(rewrite.request_id).append("\r\n"sv);
  }
  head.append(rewrite.extra_headers);
  if (status == 101) {
    head.append("Connection: upgrade\r\n"sv);
  } else if (!rewrite.keep_alive) {
    head.append("Connection: close\r\n"sv);
  } else if (rewrite.client_http10) {
    head.append("Connection: keep-alive\r\n"sv);
  }
  head.append("\r\n"sv);
}

void appendLocalHeaders(std::string_view lines, bool weaken_etag, bool body_rewritten,
                        std::string* out) {
  if (!weaken_etag && !body_rewritten) {
    out->append(lines);
    return;
  }
  while (!lines.empty()) {
    size_t eol = lines.find("\r\n"sv);
    size_t end = eol == std::string_view::npos ? lines.size() : eol + 2;
    std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end);
    size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    if (body_rewritten && colon != std::string_view::npos &&
        http::equalsIgnoreCase(name, "Accept-Ranges"sv)) {
      continue;
    }
    if (weaken_etag && colon != std::string_view::npos && http::equalsIgnoreCase(name, "ETag"sv)) {
      size_t value = line.find_first_not_of(" \t"sv, colon + 1);
      if (value != std::string_view::npos && line[value] == '"') {
        out->append(line.substr(0, value)).append("W/"sv).append(line.substr(value));
        continue;
      }
    }
    out->append(line);
  }
}

std::string_view queryParam(std::string_view query, std::string_view name, bool* found) {
  *found = false;
  if (!query.empty() && query.front() == '?') {
    query.remove_prefix(1);
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      *found = true;
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return {};
}

void copyInterimHead(const http::Parser& response, std::string* out) {
  const http::HeaderList& headers = response.headers();
  out->clear();
  appendStatusLine(response, out);
  ConnectionTokens listed(headers);
  for (size_t i = 0; i < headers.size(); ++i) {
    http::HeaderKind kind = headers.kind(i);
    // Hop-by-hop headers are the backend connection's, in an interim head as in a final one.
    if (http::isHopByHop(kind) || kind == http::HeaderKind::kContentLength ||
        (kind == http::HeaderKind::kOther && listed.contains(headers.name(i)))) {
      continue;
    }
    out->append(headers.name(i)).append(": "sv).append(headers.value(i)).append("\r\n"sv);
  }
  out->append("\r\n"sv);
}

}  // namespace balancer
