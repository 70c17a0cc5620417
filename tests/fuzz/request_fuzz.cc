// libFuzzer target over the balancer's request path: http::Parser (request, strict, small
// limits) reads the input as a client connection would, in two reads split where the first
// byte says, pausing after each message and resuming as balancer::Session does (pipelining);
// each complete head goes through splitTarget, the Router and rewriteRequestHead.
//
// Besides the sanitizers, it aborts when
// - a head handed to the listener carries a smuggling shape (Content-Length with chunked,
//   Transfer-Encoding not ending in chunked, two Content-Lengths, an empty name or whitespace
//   in a name, CR, LF or NUL in a value, whitespace in the target);
// - the same bytes parse differently in one read and in two (what a client could play with
//   by choosing where its TCP segments end): heads, whole bodies, outcome;
// - the router picks a route that does not match;
// - the head written for the upstream is not one well-formed head with the framing the
//   parser saw, keeps a hop-by-hop or dropped header, or carries a bare CR or LF.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "balancer/config.h"
#include "balancer/exchange/head_rewrite.h"
#include "balancer/routing/router.h"
#include "common/http/header_list.h"
#include "common/http/parser.h"

namespace {

// REQUEST_FUZZ_KNOWN="text,text": a broken invariant whose message contains one of these is
// reported once and let go, so that a long run can look past a finding not yet fixed.
bool known(const char* what) {
  static const std::string kKnown = [] {
    const char* env = std::getenv("REQUEST_FUZZ_KNOWN");
    return env != nullptr ? std::string(env) : std::string();
  }();
  static std::set<std::string> reported;
  std::string_view list = kKnown;
  while (!list.empty()) {
    std::string_view item = list.substr(0, list.find(','));
    list.remove_prefix(std::min(list.size(), item.size() + 1));
    if (!item.empty() && std::string_view(what).find(item) != std::string_view::npos) {
      if (reported.insert(what).second) {
        std::fprintf(stderr, "request_fuzz: known finding, not stopping: %s\n", what);
      }
      return true;
    }
  }
  return false;
}

void check(bool ok, const char* what, std::string_view context = {}) {
  if (!ok && !known(what)) {
    std::fprintf(stderr, "request_fuzz: invariant broken: %s\n", what);
    if (!context.empty()) {
      std::fprintf(stderr, "---\n%.*s\n---\n", static_cast<int>(context.size()), context.data());
    }
    std::abort();
  }
}

balancer::RouteConfig route(std::string host, std::string path, std::string prefix,
                            std::vector<std::string> methods, std::string strip) {
  balancer::RouteConfig r;
  r.host = std::move(host);
  r.path = std::move(path);
  r.path_prefix = std::move(prefix);
  r.methods = std::move(methods);
  r.upstream = "app";
  r.strip_prefix = std::move(strip);
  return r;
}

// A few routes of each kind; no catch-all, so that "no route" happens too.
const std::vector<balancer::RouteConfig>& routes() {
  static const std::vector<balancer::RouteConfig> kRoutes = {
      route("", "", "/api", {}, "/api"),
      route("", "", "/api/orders", {"POST", "PUT"}, "/api/orders"),
      route("", "/health", "", {"GET", "HEAD"}, ""),
      route("shop.example.com", "", "/", {}, ""),
      route("*.example.com", "", "/static/", {"GET"}, "/static"),
      route("", "", "/ws", {"GET"}, ""),
  };
  return kRoutes;
}

const balancer::Router& router() {
  static const balancer::Router kRouter(routes());
  return kRouter;
}

const std::vector<std::string> kDropHeaders = {"X-User-Id", "X-User-Roles"};
constexpr std::string_view kExtraHeaders = "X-User-Id: 42\r\nX-User-Roles: admin\r\n";

http::ParserLimits limits() {
  http::ParserLimits l;
  l.max_header_bytes = 2048;
  l.max_headers = 24;
  l.max_body_size = 1024;
  return l;
}
const http::ParserLimits kLimits = limits();

bool isTokenChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
    return true;
  }
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool isToken(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!isTokenChar(c)) {
      return false;
    }
  }
  return true;
}

// What a connection's request heads must never look like once the parser accepted them.
void checkParsedHead(const http::Parser& p) {
  const http::HeaderList& headers = p.headers();
  check(!(p.chunked() && p.hasContentLength()), "Content-Length and chunked both accepted");
  size_t content_lengths = 0;
  size_t transfer_encodings = 0;
  for (size_t i = 0; i < headers.size(); ++i) {
    std::string_view name = headers.name(i);
    std::string_view value = headers.value(i);
    check(!name.empty(), "empty header name");
    check(name.find_first_of(" \t\r\n:") == std::string_view::npos,
          "whitespace, CR, LF or colon in a header name", name);
    check(value.find('\r') == std::string_view::npos, "CR in a header value", value);
    check(value.find('\n') == std::string_view::npos, "LF in a header value", value);
    check(value.find('\0') == std::string_view::npos, "NUL in a header value", value);
    content_lengths += headers.kind(i) == http::HeaderKind::kContentLength ? 1 : 0;
    transfer_encodings += headers.kind(i) == http::HeaderKind::kTransferEncoding ? 1 : 0;
  }
  check(content_lengths <= 1, "two Content-Length headers accepted");
  check(content_lengths == 0 || p.hasContentLength(), "Content-Length header not used");
  check(transfer_encodings == 0 || p.chunked(),
        "a Transfer-Encoding that does not end in chunked accepted");
  check(p.target().find_first_of(" \t\r\n") == std::string_view::npos,
        "whitespace in the request target", p.target());
}

void checkTarget(std::string_view target, const balancer::RequestTarget& t) {
  check(t.path.find('?') == std::string_view::npos, "'?' in the path");
  check(t.query.empty() || t.query.front() == '?', "query without its '?'");
  check(t.path.size() + t.query.size() <= target.size(), "path and query longer than target");
  // Normalizing is idempotent: what is matched and forwarded has nothing left to normalize.
  std::string again;
  check(balancer::normalizePath(t.path, &again) && again == t.path, "path not normalized", t.path);
}

void checkRoute(int index, const balancer::RequestTarget& t, std::string_view method) {
  if (index < 0) {
    return;
  }
  check(static_cast<size_t>(index) < routes().size(), "route index out of range");
  const balancer::RouteConfig& r = routes()[static_cast<size_t>(index)];
  if (!r.path.empty()) {
    check(t.path == r.path, "exact route chosen for another path", t.path);
  } else {
    check(balancer::Router::prefixMatches(r.path_prefix, t.path),
          "prefix route chosen for a path outside it", t.path);
  }
  if (!r.methods.empty()) {
    bool listed = false;
    for (const std::string& m : r.methods) {
      listed = listed || m == method;
    }
    check(listed, "route chosen for a method it does not list", method);
  }
  if (!r.host.empty() && r.host.front() != '*') {
    check(http::equalsIgnoreCase(r.host, t.host), "host route chosen for another host", t.host);
  }
}

// The head written for the upstream: one request line, header lines "Name: value", the empty
// line; no bare CR or LF; framing as parsed; nothing hop-by-hop or dropped except what the
// balancer adds itself.
void checkRewrittenHead(const http::Parser& p, std::string_view head) {
  check(head.size() >= 4 && head.substr(head.size() - 4) == "\r\n\r\n",
        "rewritten head does not end with CRLF CRLF", head);
  check(head.find("\r\n\r\n") == head.size() - 4, "rewritten head holds an empty line", head);
  check(head.find('\0') == std::string_view::npos, "NUL in the rewritten head", head);
  for (size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\r') {
      check(i + 1 < head.size() && head[i + 1] == '\n', "bare CR in the rewritten head", head);
    } else if (head[i] == '\n') {
      check(i > 0 && head[i - 1] == '\r', "bare LF in the rewritten head", head);
    }
  }

  std::string_view rest = head.substr(0, head.size() - 2);  // lines, each ending in CRLF
  size_t eol = rest.find("\r\n");
  std::string_view line = rest.substr(0, eol);
  rest.remove_prefix(eol + 2);
  std::string expected_start = std::string(p.methodName()) + " ";
  check(line.substr(0, expected_start.size()) == expected_start, "request line method", line);
  check(line.size() > expected_start.size() + 9 && line.substr(line.size() - 9) == " HTTP/1.1",
        "request line version", line);
  std::string_view forwarded =
      line.substr(expected_start.size(), line.size() - expected_start.size() - 9);
  check(!forwarded.empty() && forwarded.find_first_of(" \t") == std::string_view::npos,
        "forwarded target empty or with whitespace", line);

  size_t content_lengths = 0;
  size_t chunked = 0;
  size_t user_ids = 0;
  size_t user_roles = 0;
  size_t hosts = 0;
  size_t request_ids = 0;
  size_t forwarded_fors = 0;
  size_t forwarded_protos = 0;
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    line = rest.substr(0, eol);
    rest.remove_prefix(eol + 2);
    size_t colon = line.find(": ");
    check(colon != std::string_view::npos, "header line without ': '", line);
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 2);
    check(!name.empty(), "empty header name forwarded", line);
    check(name.empty() || isToken(name), "header name not a token", line);
    http::HeaderKind kind = http::classifyHeader(name);
    switch (kind) {
      case http::HeaderKind::kContentLength:
        ++content_lengths;
        check(value == std::to_string(p.contentLength()), "Content-Length changed", line);
        break;
      case http::HeaderKind::kTransferEncoding:
        ++chunked;
        check(value == "chunked", "Transfer-Encoding other than chunked forwarded", line);
        break;
      case http::HeaderKind::kConnection:
        check(p.upgrade() && value == "upgrade", "Connection forwarded", line);
        break;
      case http::HeaderKind::kUpgrade:
        check(p.upgrade(), "Upgrade forwarded on a request that does not upgrade", line);
        break;
      case http::HeaderKind::kHost:
        ++hosts;
        break;
      case http::HeaderKind::kXRequestId:
        ++request_ids;
        check(value == "fuzz-0001", "X-Request-Id not the balancer's", line);
        break;
      case http::HeaderKind::kXForwardedFor:
        ++forwarded_fors;
        break;
      case http::HeaderKind::kXForwardedProto:
        ++forwarded_protos;
        break;
      case http::HeaderKind::kForwarded:
      case http::HeaderKind::kXRealIp:
        break;  // a trusted peer's claims pass: the rewrite here keeps what a proxy sent
      case http::HeaderKind::kOther:
        if (http::equalsIgnoreCase(name, "x-user-id")) {
          ++user_ids;
          check(value == "42", "a client's X-User-Id forwarded", line);
        } else if (http::equalsIgnoreCase(name, "x-user-roles")) {
          ++user_roles;
          check(value == "admin", "a client's X-User-Roles forwarded", line);
        }
        break;
      default:
        check(false, "hop-by-hop header forwarded", line);
    }
  }
  check(content_lengths == (p.hasContentLength() ? 1u : 0u), "Content-Length framing", head);
  check(chunked == (p.chunked() ? 1u : 0u), "chunked framing", head);
  check(user_ids == 1 && user_roles == 1, "dropped headers kept or extra headers lost", head);
  check(hosts >= 1, "no Host forwarded", head);
  check(request_ids == 1 && forwarded_fors == 1 && forwarded_protos == 1,
        "X-Request-Id / X-Forwarded-For / X-Forwarded-Proto not exactly once", head);
}

// One client connection: a parser, and a record of everything it reported, so that two reads
// of the same bytes can be compared.
class Connection final : public http::ParserListener {
 public:
  Connection() : parser_(http::Parser::Kind::kRequest, this, &kLimits) {}

  // Lends the parser a head, as a Session does with its leased buffers.
  void lendHead() { parser_.attachHead(&lent_head_); }

  // Parses one read. Returns false once the connection is done (error or upgrade).
  bool read(const char* data, size_t len, size_t offset) {
    size_t used = 0;
    while (used < len) {
      http::Parser::Result r = parser_.execute(data + used, len - used);
      switch (r.status) {
        case http::Parser::Status::kOk:
          return true;
        case http::Parser::Status::kPaused:
          check(r.consumed <= len - used, "paused past the end of the read");
          used += r.consumed;
          parser_.resume();  // the answer went out: on with the next pipelined request
          break;
        case http::Parser::Status::kUpgrade:
          check(r.consumed <= len - used, "upgrade past the end of the read");
          log_ += "U@" + std::to_string(offset + used + r.consumed) + "\n";
          return false;
        case http::Parser::Status::kError:
          check(parser_.error() != http::ParseError::kNone, "error without a ParseError");
          log_ += "E" + std::to_string(static_cast<int>(parser_.error())) + "\n";
          return false;
      }
    }
    return true;
  }

  void end() {
    http::Parser::Result r = parser_.finish();
    log_ += "F" + std::to_string(static_cast<int>(r.status)) + "\n";
  }

  const std::string& log() const { return log_; }

  int onHeadersComplete() override {
    const http::Parser& p = parser_;
    checkParsedHead(p);
    const http::HeaderList& headers = p.headers();
    log_ += "H ";
    log_.append(p.methodName()).append(" ").append(p.target());
    log_ += " " + std::to_string(p.versionMajor()) + "." + std::to_string(p.versionMinor());
    log_ += p.chunked() ? " chunked" : "";
    log_ += p.hasContentLength() ? " cl=" + std::to_string(p.contentLength()) : "";
    log_ += p.keepAlive() ? " keep-alive" : "";
    log_ += p.upgrade() ? " upgrade" : "";
    log_ += "\n";
    for (size_t i = 0; i < headers.size(); ++i) {
      log_.append(headers.name(i)).append(": ").append(headers.value(i)).append("\n");
    }

    if (p.method() == HTTP_CONNECT) {
      return 0;  // the balancer answers 405 and forwards nothing
    }
    std::string_view method = p.methodName();
    std::string normalized;
    balancer::RequestTarget target =
        balancer::splitTarget(p.target(), headers.find(http::HeaderKind::kHost), &normalized);
    if (target.path_invalid) {
      return 0;  // the balancer answers 400 and forwards nothing
    }
    checkTarget(p.target(), target);
    int index = router().match(target.host, target.path, method);
    checkRoute(index, target, method);
    log_ += "R" + std::to_string(index) + "\n";

    balancer::RequestRewrite rewrite;
    if (index >= 0) {
      rewrite.strip_prefix = routes()[static_cast<size_t>(index)].strip_prefix;
    }
    rewrite.client_ip = "192.0.2.7";
    rewrite.keep_forwarded_for = true;  // the received list goes through the rewrite too
    rewrite.request_id = "fuzz-0001";
    rewrite.tls = p.versionMinor() == 0;
    rewrite.upgrade = p.upgrade();
    rewrite.default_host = "app";
    rewrite.drop_headers = kDropHeaders;
    rewrite.extra_headers = kExtraHeaders;
    if (rewrite.upgrade) {
      rewrite.drop_query_param = "access_token";
    }
    balancer::rewriteRequestHead(p, target, rewrite, &upstream_head_);
    checkRewrittenHead(p, upstream_head_);
    log_ += upstream_head_;
    return 0;
  }

  // Bodies are compared whole: how much of a body arrives before an error (413 from the
  // cumulative limit) depends on how the reads cut it, and is streamed upstream either way.
  int onBody(const char* data, size_t len) override {
    body_.append(data, len);
    return 0;
  }

  int onMessageComplete() override {
    log_ += body_;
    log_ += "\nM\n";
    body_.clear();
    // As Session: one request at a time; an upgrade stops by itself.
    return parser_.upgrade() ? 0 : kPause;
  }

 private:
  http::Parser parser_;
  http::MessageHead lent_head_;
  std::string upstream_head_;
  std::string body_;
  std::string log_;
};

// A read the size of its data, on the heap: ASan sees any byte read beyond it, and any use of
// it after the next read (a Session's read buffer is reused).
std::string runReads(std::string_view input, size_t split, bool lend) {
  Connection conn;
  if (lend) {
    conn.lendHead();
  }
  std::string_view reads[2] = {input.substr(0, split), input.substr(split)};
  size_t offset = 0;
  bool open = true;
  for (std::string_view piece : reads) {
    if (!open || piece.empty()) {
      continue;
    }
    // Exactly the piece's size (a vector from a range allocates no more): GCC 12 warns
    // falsely about make_unique<char[]> + memcpy here (-Wstringop-overflow).
    std::vector<char> buffer(piece.begin(), piece.end());
    open = conn.read(buffer.data(), buffer.size(), offset);
    offset += piece.size();
  }
  if (open) {
    conn.end();
  }
  return conn.log();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t split = data[0] < input.size() ? data[0] : input.size();
  std::string whole = runReads(input, input.size(), false);
  if (split == 0 || split == input.size()) {
    return 0;
  }
  std::string two_reads = runReads(input, split, true);
  check(whole == two_reads, "one read and two reads parse differently",
        "one read:\n" + whole + "\ntwo reads:\n" + two_reads);
  return 0;
}
