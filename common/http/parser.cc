#include "common/http/parser.h"

#include <cctype>
#include <cstring>

namespace http {

namespace {
Parser* self(llhttp_t* p) { return static_cast<Parser*>(p->data); }
}  // namespace

const llhttp_settings_t& Parser::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &Parser::onMessageBeginCb;
    s.on_url = &Parser::onUrlCb;
    s.on_status = &Parser::onStatusCb;
    s.on_header_field = &Parser::onHeaderFieldCb;
    s.on_header_value = &Parser::onHeaderValueCb;
    s.on_header_field_complete = [](llhttp_t* p) {
      Parser* parser = self(p);
      // llhttp reports no piece at all for an empty name (": value"); without this its value
      // would be taken as more of the previous header's.
      if (!parser->name_started_) {
        return parser->fail(ParseError::kMalformed, "empty header name");
      }
      parser->name_started_ = false;
      parser->head_->headers.endName();
      return 0;
    };
    s.on_headers_complete = &Parser::onHeadersCompleteCb;
    // Chunk extensions are read and thrown away; they count toward the head's size limit, so
    // a body of endless extensions is refused (431) instead of holding the connection.
    s.on_chunk_extension_name = [](llhttp_t* p, const char*, size_t len) {
      return self(p)->countHeadBytes(len);
    };
    s.on_chunk_extension_value = s.on_chunk_extension_name;
    s.on_body = &Parser::onBodyCb;
    s.on_message_complete = &Parser::onMessageCompleteCb;
    return s;
  }();
  return kSettings;
}

Parser::Parser(Kind kind, ParserListener* listener, const ParserLimits* limits)
    : listener_(listener), limits_(limits) {
  llhttp_init(&parser_, kind == Kind::kRequest ? HTTP_REQUEST : HTTP_RESPONSE, &settings());
  parser_.data = this;
}

void Parser::reset() {
  llhttp_reset(&parser_);
  error_ = ParseError::kNone;
  line_end_pending_ = false;
}

std::string_view Parser::methodName() const {
  // llhttp_method_name gives a C string (a strlen in every caller); the same names as views.
  switch (static_cast<llhttp_method_t>(parser_.method)) {
#define LB_METHOD_NAME(NUM, NAME, STRING) \
  case HTTP_##NAME:                       \
    return std::string_view(#STRING, sizeof(#STRING) - 1);
    HTTP_ALL_METHOD_MAP(LB_METHOD_NAME)
#undef LB_METHOD_NAME
  }
  return llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
}

bool Parser::upgrade() const {
  if (parser_.type == HTTP_RESPONSE) {
    return parser_.status_code == 101;
  }
  // llhttp decides this before on_headers_complete: Upgrade with Connection: upgrade, or CONNECT.
  return llhttp_get_upgrade(const_cast<llhttp_t*>(&parser_)) != 0;
}

bool Parser::bodyEndsWithEof() const {
  return parser_.type == HTTP_RESPONSE && !chunked() && !hasContentLength() &&
         parser_.status_code != 204 && parser_.status_code != 304 &&
         parser_.status_code >= 200;
}

const char* Parser::errorReason() const {
  const char* reason = llhttp_get_error_reason(&parser_);
  return reason != nullptr ? reason : llhttp_errno_name(llhttp_get_errno(&parser_));
}

Parser::Result Parser::resultOf(llhttp_errno_t err, const char* data, size_t len) {
  switch (err) {
    case HPE_OK:
      return {Status::kOk, len};
    case HPE_PAUSED:
      return {Status::kPaused, static_cast<size_t>(llhttp_get_error_pos(&parser_) - data)};
    case HPE_PAUSED_UPGRADE:
      return {Status::kUpgrade, static_cast<size_t>(llhttp_get_error_pos(&parser_) - data)};
    default:
      if (error_ == ParseError::kNone) {
        error_ = ParseError::kMalformed;
      }
      return {Status::kError, 0};
  }
}

Parser::Result Parser::execute(const char* data, size_t len) {
  ++execute_count_;
  execute_begin_ = data;
  execute_end_ = data + len;
  if (line_end_pending_ && len > 0 && !requestLineEndsWithCrlf(data)) {
    error_ = ParseError::kMalformed;
    llhttp_set_error_reason(&parser_, "request line ends with a bare LF");
    return {Status::kError, 0};
  }
  return resultOf(llhttp_execute(&parser_, data, len), data, len);
}

bool Parser::requestLineEndsWithCrlf(const char* from) {
  const auto* lf = static_cast<const char*>(
      std::memchr(from, '\n', static_cast<size_t>(execute_end_ - from)));
  if (lf == nullptr) {
    last_byte_ = execute_end_[-1];
    return true;  // not read yet
  }
  line_end_pending_ = false;
  char before = lf > execute_begin_ ? lf[-1] : last_byte_;
  return before == '\r';
}

void Parser::resume() { llhttp_resume(&parser_); }

Parser::Result Parser::finish() {
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (err != HPE_OK && err != HPE_PAUSED) {
    if (error_ == ParseError::kNone) {
      error_ = ParseError::kMalformed;
    }
    return {Status::kError, 0};
  }
  return {err == HPE_PAUSED ? Status::kPaused : Status::kOk, 0};
}

int Parser::fail(ParseError error, const char* reason) {
  error_ = error;
  llhttp_set_error_reason(&parser_, reason);
  return HPE_USER;
}

int Parser::countHeadBytes(size_t len) {
  head_bytes_ += len;
  if (head_bytes_ > limits_->max_header_bytes) {
    return fail(ParseError::kHeadersTooLarge, "header section too large");
  }
  return 0;
}

int Parser::onMessageBeginCb(llhttp_t* p) {
  Parser* s = self(p);
  // The listener may lend a head now (attachHead), so it is asked first.
  int r = s->listener_->onMessageBegin();
  if (s->head_ == nullptr) {
    if (!s->own_head_) {
      s->own_head_ = std::make_unique<MessageHead>();
    }
    s->head_ = s->own_head_.get();
  }
  s->head_->clear();
  s->value_header_ = 0;
  s->name_started_ = false;
  s->line_end_pending_ = false;
  s->head_bytes_ = 0;
  s->content_length_ = 0;
  s->body_bytes_ = 0;
  return r;
}

int Parser::onUrlCb(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  if (s->head_->target.empty() && len > 0) {
    s->line_end_pending_ = true;
  }
  if (s->line_end_pending_ && at + len < s->execute_end_) {
    // The target ended in this read. Mostly " HTTP/d.d\r\n" follows (llhttp takes no other
    // version form) and the line's end is at a known place: no scan. Anything else is judged
    // by the scan, which the next read's pre-scan repeats: the same bytes must give the same
    // answer however the reads cut them (bytes between the CR and the LF are a bare LF).
    const char* end = at + len;
    const char* line_end = *end == ' ' ? end + 9 : end;
    bool ok = true;
    if (line_end + 1 < s->execute_end_ && line_end[0] == '\r' && line_end[1] == '\n') {
      s->line_end_pending_ = false;
    } else {
      ok = s->requestLineEndsWithCrlf(end);  // another shape (two spaces, ...): look for it
    }
    if (!ok) {
      return s->fail(ParseError::kMalformed, "request line ends with a bare LF");
    }
  }
  s->head_->target.append(at, len);
  return s->countHeadBytes(len);
}

int Parser::onStatusCb(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  s->head_->status_text.append(at, len);
  return s->countHeadBytes(len);
}

int Parser::onHeaderFieldCb(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  // llhttp accepts "Name : value"; two parsers reading that differently is how requests are
  // smuggled, so it is refused.
  if (std::memchr(at, ' ', len) != nullptr || std::memchr(at, '\t', len) != nullptr) {
    return s->fail(ParseError::kMalformed, "whitespace in a header name");
  }
  s->name_started_ = s->name_started_ || len > 0;
  s->head_->headers.appendName(at, len);
  if (s->head_->headers.size() > s->limits_->max_headers) {
    return s->fail(ParseError::kHeadersTooLarge, "too many header fields");
  }
  return s->countHeadBytes(len);
}

int Parser::onHeaderValueCb(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  // llhttp hands a value over in two pieces in only two cases: the read buffer ended inside
  // it, or the value was folded onto a second line (obs-fold, refused as RFC 9112 allows).
  // A buffer split is a piece that ended at the end of one execute() and one that starts at
  // the beginning of the next.
  if (s->head_->headers.size() == s->value_header_ && s->value_header_ != 0) {
    bool split_by_buffer = s->value_piece_end_ == s->value_piece_execute_end_ &&
                           s->value_piece_execute_ != s->execute_count_ &&
                           at == s->execute_begin_;
    if (!split_by_buffer) {
      return s->fail(ParseError::kMalformed, "folded header value (obs-fold)");
    }
  }
  s->value_header_ = s->head_->headers.size();
  s->value_piece_end_ = at + len;
  s->value_piece_execute_end_ = s->execute_end_;
  s->value_piece_execute_ = s->execute_count_;
  s->head_->headers.appendValue(at, len);
  return s->countHeadBytes(len);
}

namespace {

// RFC 3986 reg-name and IPv6 literal characters, and a port: an authority we can route on.
bool isValidAuthority(std::string_view authority) {
  if (authority.empty()) {
    return false;
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) {
      return false;
    }
    for (char c : authority.substr(1, close - 1)) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return false;
      }
    }
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      port = rest.substr(1);
    }
    host = {};
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (host.empty()) {
      return false;
    }
  }
  for (char c : host) {
    // No '@': userinfo in an http(s) URI is an error (RFC 9110 4.2.4).
    if (!(std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-._~%!$&'()*+,;=", c))) {
      return false;
    }
  }
  return port.size() <= 5 && port.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

// The four request-target forms of RFC 9112 3.2: origin ("/path?q"), absolute
// ("http://host:port/path"), authority (CONNECT only) and asterisk (OPTIONS only). llhttp
// checks the characters; this checks the shape, so that no router or backend has to guess.
bool Parser::isValidTarget(std::string_view target, llhttp_method_t method) {
  if (method == HTTP_CONNECT) {
    return isValidAuthority(target);
  }
  if (!target.empty() && target.front() == '/') {
    return true;
  }
  if (target == "*") {
    return method == HTTP_OPTIONS;
  }
  size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0 ||
      !std::isalpha(static_cast<unsigned char>(target.front()))) {
    return false;
  }
  for (char c : target.substr(0, scheme_end)) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.')) {
      return false;
    }
  }
  std::string_view rest = target.substr(scheme_end + 3);
  return isValidAuthority(rest.substr(0, rest.find_first_of("/?#")));
}

int Parser::onHeadersCompleteCb(llhttp_t* p) {
  Parser* s = self(p);
  if (p->type == HTTP_REQUEST) {
    // Shapes llhttp lets through here that another server could read differently.
    if (p->http_major != 1) {
      return s->fail(ParseError::kMalformed, "unsupported HTTP version");
    }
    int hosts = 0;
    bool transfer_encoding = (p->flags & F_TRANSFER_ENCODING) != 0;
    const HeaderList& headers = s->head_->headers;
    for (size_t i = 0; i < headers.size(); ++i) {
      hosts += headers.kind(i) == HeaderKind::kHost ? 1 : 0;
      // Even an empty one, which llhttp does not flag.
      transfer_encoding = transfer_encoding || headers.kind(i) == HeaderKind::kTransferEncoding;
    }
    if (transfer_encoding && (p->flags & F_CHUNKED) == 0) {
      // Without a final chunked the body's end is unknowable (RFC 9112 6.3); llhttp says so
      // only after this callback, when the request would already be on its way.
      return s->fail(ParseError::kMalformed, "Transfer-Encoding does not end in chunked");
    }
    if (hosts > 1) {
      return s->fail(ParseError::kMalformed, "more than one Host header");
    }
    if (hosts == 0 && p->http_minor >= 1) {
      return s->fail(ParseError::kMalformed, "HTTP/1.1 request without Host");  // RFC 9112 3.2
    }
    if (!isValidTarget(s->head_->target, static_cast<llhttp_method_t>(p->method))) {
      return s->fail(ParseError::kMalformed, "invalid request target");
    }
  }
  s->content_length_ = s->hasContentLength() ? p->content_length : 0;
  if (s->content_length_ > s->limits_->max_body_size) {
    return s->fail(ParseError::kBodyTooLarge, "body too large");
  }
  return s->listener_->onHeadersComplete();
}

int Parser::onBodyCb(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  s->body_bytes_ += len;
  if (s->body_bytes_ > s->limits_->max_body_size) {
    return s->fail(ParseError::kBodyTooLarge, "body too large");
  }
  return s->listener_->onBody(at, len);
}

int Parser::onMessageCompleteCb(llhttp_t* p) { return self(p)->listener_->onMessageComplete(); }

}  // namespace http
