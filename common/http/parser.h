#pragma once

#include <llhttp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/http/header_list.h"

namespace http {

// Why a message was refused; each maps to one HTTP status.
enum class ParseError { kNone, kMalformed, kHeadersTooLarge, kBodyTooLarge };

struct ParserLimits {
  size_t max_header_bytes = 32 * 1024;  // request line or status line plus all header fields
  size_t max_headers = 100;
  uint64_t max_body_size = UINT64_MAX;
  bool operator==(const ParserLimits&) const = default;
};

// The head of one message as the parser collects it. A connection that keeps many idle
// clients can lend the parser a head only while a message is in progress (attachHead).
struct MessageHead {
  std::string target;
  std::string status_text;
  HeaderList headers;
  void clear() {
    target.clear();
    status_text.clear();
    headers.clear();
  }
};

// Receives one message's stages. Data pointers are only valid during the call.
class ParserListener {
 public:
  // Return 0 to read a body if the message has one, kSkipBody for none (a response to HEAD),
  // or -1 to stop with an error.
  virtual int onHeadersComplete() = 0;
  virtual int onBody(const char* data, size_t len) = 0;
  // Return 0 to go on with the next message in the buffer, or kPause to stop after this one.
  virtual int onMessageComplete() = 0;
  virtual int onMessageBegin() { return 0; }

  static constexpr int kSkipBody = 1;
  static constexpr int kPause = HPE_PAUSED;

 protected:
  ~ParserListener() = default;
};

// HTTP/1.1 parser over llhttp in its strict mode (no lenient flag is set). It keeps the head
// of the current message (method, target, status, headers) and enforces the size limits.
class Parser {
 public:
  enum class Kind { kRequest, kResponse };
  enum class Status { kOk, kPaused, kUpgrade, kError };
  struct Result {
    Status status;
    size_t consumed;  // bytes used; the rest belongs to the next message or the upgraded protocol
  };

  // `limits` must outlive the parser.
  Parser(Kind kind, ParserListener* listener, const ParserLimits* limits);
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  Result execute(const char* data, size_t len);
  // Call after execute() returned kPaused, before feeding the remaining bytes.
  void resume();
  // Call on EOF: completes a message whose body ends with the connection.
  Result finish();
  void reset();
  // Lends storage for message heads; without one the parser allocates its own on the first
  // message. Detach only between messages (the head is then gone).
  void attachHead(MessageHead* head) { head_ = head; }
  void detachHead() { head_ = nullptr; }

  // The head, valid from onHeadersComplete until the next message begins.
  llhttp_method_t method() const { return static_cast<llhttp_method_t>(parser_.method); }
  std::string_view methodName() const;
  std::string_view target() const { return head_->target; }
  // Whether a request target has one of the four forms RFC 9112 allows for its method.
  static bool isValidTarget(std::string_view target, llhttp_method_t method);
  int status() const { return parser_.status_code; }
  std::string_view statusText() const { return head_->status_text; }
  int versionMajor() const { return parser_.http_major; }
  int versionMinor() const { return parser_.http_minor; }
  const HeaderList& headers() const { return head_->headers; }
  bool chunked() const { return (parser_.flags & F_CHUNKED) != 0; }
  bool hasContentLength() const { return (parser_.flags & F_CONTENT_LENGTH) != 0; }
  uint64_t contentLength() const { return content_length_; }
  bool hasBody() const { return chunked() || (hasContentLength() && content_length_ > 0); }
  bool keepAlive() const { return llhttp_should_keep_alive(&parser_) != 0; }
  bool upgrade() const;
  // From onHeadersComplete: the request's Upgrade is not taken up, so the message is an
  // ordinary one (its body, the next request) and not the end of HTTP on this connection.
  void ignoreUpgrade() { parser_.upgrade = 0; }
  // True when the body of this message ends only when the connection closes.
  bool bodyEndsWithEof() const;

  ParseError error() const { return error_; }
  const char* errorReason() const;

 private:
  static int onMessageBeginCb(llhttp_t* p);
  static int onUrlCb(llhttp_t* p, const char* at, size_t len);
  static int onStatusCb(llhttp_t* p, const char* at, size_t len);
  static int onHeaderFieldCb(llhttp_t* p, const char* at, size_t len);
  static int onHeaderValueCb(llhttp_t* p, const char* at, size_t len);
  static int onHeadersCompleteCb(llhttp_t* p);
  static int onBodyCb(llhttp_t* p, const char* at, size_t len);
  static int onMessageCompleteCb(llhttp_t* p);
  static const llhttp_settings_t& settings();

  int countHeadBytes(size_t len);
  int fail(ParseError error, const char* reason);
  // llhttp 8.1 accepts a request line ended by a bare LF (RFC 9112 section 2.2 lets a server
  // refuse it, and a proxy must: a backend may split there differently). Looks for the line's
  // end in [from, execute_end_); false when it is a bare LF.
  bool requestLineEndsWithCrlf(const char* from);
  Result resultOf(llhttp_errno_t err, const char* data, size_t len);

  llhttp_t parser_;
  ParserListener* listener_;
  const ParserLimits* limits_;
  MessageHead* head_ = nullptr;
  std::unique_ptr<MessageHead> own_head_;
  size_t head_bytes_ = 0;
  uint64_t content_length_ = 0;
  uint64_t body_bytes_ = 0;
  ParseError error_ = ParseError::kNone;
  // Where the current execute() reads, and where the last header value piece ended: how a
  // folded value is told from one split by the end of a read (see onHeaderValueCb).
  uint64_t execute_count_ = 0;
  const char* execute_begin_ = nullptr;
  const char* execute_end_ = nullptr;
  size_t value_header_ = 0;  // 1-based index of the header the last value piece belonged to
  bool name_started_ = false;  // a piece of the current header's name has been seen
  // The request line's end is still to be read (its target has begun, its LF not seen), and
  // the last byte read before the current execute().
  bool line_end_pending_ = false;
  char last_byte_ = 0;
  const char* value_piece_end_ = nullptr;
  const char* value_piece_execute_end_ = nullptr;
  uint64_t value_piece_execute_ = 0;
};

}  // namespace http
