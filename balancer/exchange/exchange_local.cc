// The exchange's own answers: a filter's LocalResponse (a cached object, a file, a CORS
// preflight) framed by the codec and pulled piece by piece as the client drains, or handed
// over whole as a file region; and the balancer's JSON errors (reply, fail).
#include <uv.h>

#include "balancer/access_log/exchange_record.h"
#include "balancer/exchange/exchange.h"
#include "balancer/exchange/exchange_buffers.h"
#include "balancer/exchange/head_rewrite.h"
#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/log/log.h"

namespace balancer {

namespace {

// How much of a local response's body is asked for at once.
constexpr size_t kLocalPiece = 64 * 1024;

}  // namespace

void Exchange::startLocalResponse(std::shared_ptr<filters::LocalResponse> response,
                                  size_t below) {
  response_started_ = true;
  local_response_ = std::move(response);
  local_below_ = below;
  filters::LocalResponse& r = *local_response_;
  bool no_body = headOnly(r.status);
  if (filters_ != nullptr && filters_->wantsResponseHead()) {
    filters::ResponseFacts facts;
    facts.status = r.status;
    facts.local_headers = r.headers;
    facts.content_length = r.content_length;
    facts.local = true;
    filters_->runResponseHead(ctx_, facts, below);
  }
  ResponseHead head;
  head.status = r.status;
  head.headers = r.headers;
  head.extra_headers = env_->buffers->response_headers;
  head.no_body = no_body;
  bool rewritten = ctx_.out.response_body_rewritten && !no_body;
  if (!rewritten) {
    head.content_length = r.content_length;
  }
  head.length_changed = rewritten;
  head.weaken_etag = ctx_.out.weaken_etag;
  head.close = close_after_;
  env_->record->status = r.status;
  codec_->sendHead(head);
  if (no_body) {
    endLocalResponse();
    return;
  }
  if (!sendFileBody()) {
    pullLocal();
  }
}

bool Exchange::sendFileBody() {
  std::optional<filters::FileRegion> region = local_response_->fileRegion();
  if (!region || region->length == 0 ||
      (filters_ != nullptr && !filters_->leavesResponseBody(ctx_, local_below_))) {
    return false;
  }
  switch (codec_->sendFile(*region)) {
    case FileSendStart::kRefused:
      return false;
    case FileSendStart::kSending:
      pulling_ = true;  // answered by onFileSent; onClientDrained pulls nothing meanwhile
      return true;
    case FileSendStart::kSent:
      onFileSent(region->length, true);
      return true;
    case FileSendStart::kFailed:
      onFileSent(0, false);
      return true;
  }
  return false;
}

void Exchange::onFileSent(uint64_t sent, bool ok) {
  pulling_ = false;
  if (gone()) {
    return;
  }
  env_->record->bytes_out += sent;
  if (!ok) {
    local_body_.onFailed();  // logged, and the connection closed: the client sees it cut
    return;
  }
  body_done_ = true;
  endLocalResponse();
}

void Exchange::pullLocal() {
  if (in_pull_) {
    pull_again_ = true;  // a synchronous answer: the loop below asks again
    return;
  }
  in_pull_ = true;
  do {
    pull_again_ = false;
    pulling_ = true;
    local_response_->pull(local_body_, kLocalPiece);
  } while (pull_again_ && !body_done_ && codec_->open());
  in_pull_ = false;
  flushLocal();  // before returning: the queue may hold the response's bytes by reference
  if (body_done_) {
    endLocalResponse();  // only now that pull() has returned: the exchange may end here
  }
}

void Exchange::LocalBody::onBody(std::string_view piece) {
  Exchange& ex = *exchange_;
  ex.pulling_ = false;
  if (ex.gone()) {
    return;  // the connection closed while the piece was read: nothing to write it to
  }
  if (ex.filters_ != nullptr && !ex.filters_->leavesResponseBody(ex.ctx_, ex.local_below_)) {
    ClientBody client(&ex);
    ex.filters_->runResponseBody(ex.ctx_, piece, false, client, ex.local_below_);
    ex.codec_->flush();
  } else {
    // A cached object's piece, a view into one of its chunks (16 KiB at most), goes by
    // reference (flush copies only what the kernel does not take), and the pieces a pull loop
    // gets at once go out in one write rather than one syscall each.
    ex.env_->record->bytes_out += piece.size();
    ex.codec_->sendBody(piece, ex.local_response_->piecesStable());
    ex.local_unflushed_ += piece.size();
    if (!ex.in_pull_ || ex.local_unflushed_ >= kLocalPiece) {
      ex.flushLocal();
    }
  }
  if (!ex.codec_->open() || ex.codec_->outputFull()) {
    return;  // onClientDrained pulls again
  }
  ex.pullLocal();
}

void Exchange::flushLocal() {
  if (local_unflushed_ == 0) {
    return;
  }
  local_unflushed_ = 0;
  if (!gone()) {
    codec_->flush();
  }
}

void Exchange::LocalBody::onEnd() {
  Exchange& ex = *exchange_;
  ex.pulling_ = false;
  ex.body_done_ = true;
  if (ex.gone()) {
    return;
  }
  if (!ex.in_pull_) {
    ex.endLocalResponse();
  }
}

void Exchange::LocalBody::onFailed() {
  Exchange& ex = *exchange_;
  ex.pulling_ = false;
  ex.body_done_ = true;
  ex.local_ended_ = true;
  if (ex.gone()) {
    return;
  }
  LOG_WARN("request_id=%s local response body failed", ex.env_->buffers->request_id.c_str());
  ex.log(ex.env_->record->status);
  ex.codec_->abort();  // closes the connection; the exchange lives until the session goes
}

void Exchange::endLocalResponse() {
  if (local_ended_) {
    return;
  }
  local_ended_ = true;
  if (gone()) {
    return;  // closed while the body was read: nothing is written any more
  }
  if (filters_ != nullptr && filters_->wantsResponseBody() && !headOnly(local_response_->status)) {
    ClientBody client(this);
    filters_->runResponseBody(ctx_, {}, true, client, local_below_);
  }
  log(local_response_->status);
  codec_->sendEnd();
  codec_->flush();
  if (!codec_->open()) {
    return;
  }
  if (!request_complete_) {
    return;  // the codec drops the rest of the request body, then ends the exchange
  }
  complete();
}

void Exchange::reply(int status, std::string_view message, bool close,
                     std::string_view extra_headers) {
  if (response_started_) {
    codec_->abort();  // a second answer would be written into the first: the client sees it cut
    return;
  }
  local_ = true;
  response_started_ = true;
  if (close) {
    close_after_ = true;
  }
  const std::string& request_id = env_->buffers->request_id;
  std::string body;
  body.reserve(96);
  body.append("{\"error\":\"").append(message).append("\",\"request_id\":\"");
  body.append(request_id).append("\"}\n");
  std::string headers;
  headers.reserve(64 + extra_headers.size());
  headers.append("Content-Type: application/json\r\n").append(extra_headers);
  ResponseHead head;
  head.status = status;
  head.headers = headers;
  head.extra_headers = env_->buffers->response_headers;  // what filters that went on added (CORS)
  head.content_length = body.size();
  head.no_body = head_request_;
  head.close = close_after_;
  env_->record->status = status;
  codec_->sendHead(head);
  if (!head_request_) {
    env_->record->bytes_out += body.size();
    codec_->sendBody(body, false);
  }
  log(status);
  codec_->sendEnd();
  codec_->flush();
  if (close_after_ && codec_->open()) {
    // Closing with the body unread, or asked to: the exchange is over now, whatever the
    // client still sends is dropped.
    active_ = false;
    codec_->onExchangeDone(true);
  }
}

void Exchange::fail(int status, std::string_view message, std::string_view extra_headers) {
  if (response_started_) {
    codec_->abort();
    return;
  }
  bool body_unread = !request_complete_ && env_->request->hasBody();
  reply(status, message, close_after_ || body_unread, extra_headers);
  if (request_complete_ && active_ && codec_->open()) {
    complete();  // outside the parser: the next pipelined request may go on
  }
}

}  // namespace balancer
