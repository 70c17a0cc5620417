// The HTTP/1.1 codec's response side: the exchange's head framed for the client (length or
// chunks, keep-alive or close), its body, its end, and what comes after it.
#include <algorithm>
#include <cerrno>
#include <string>

#include "balancer/downstream/session.h"
#include "balancer/exchange/head_rewrite.h"
#include "balancer/snapshot.h"
#include "balancer/worker/worker.h"
#include "common/http/status.h"

namespace balancer {

void Session::sendInterim(const http::Parser& response) {
  if (framing_.http10) {
    return;  // an HTTP/1.0 client knows no 1xx
  }
  std::string& head = worker_->headScratch();  // shared by the loop: used only in this call
  copyInterimHead(response, &head);
  out_.addCopy(head);
}

void Session::sendHead(const ResponseHead& response) {
  Framing& f = framing_;
  if (!response.no_body && !response.content_length) {
    if (f.http10) {
      f.close_after = true;  // the body ends when the connection does
    } else {
      f.rechunk = true;
    }
  }
  if (response.close) {
    f.close_after = true;
  }
  bool keep_alive = f.keep_alive && !f.close_after && !draining_;
  if (!keep_alive && response.status != 101) {
    f.close_after = true;
  }
  std::string& head = worker_->headScratch();
  const std::string& request_id = buffers().request_id;
  if (response.upstream != nullptr) {
    ResponseRewrite rewrite;
    rewrite.request_id = request_id;
    rewrite.extra_headers = response.extra_headers;
    rewrite.rechunk = f.rechunk;
    rewrite.body_rewritten = response.length_changed;
    rewrite.weaken_etag = response.weaken_etag;
    rewrite.keep_alive = keep_alive;
    rewrite.client_http10 = f.http10;
    rewrite.drop_headers = response.drop_headers;
    rewriteResponseHead(*response.upstream, rewrite, &head);
  } else {
    head.clear();
    head.append("HTTP/1.1 ").append(std::to_string(response.status)).append(" ");
    head.append(http::reasonPhrase(response.status)).append("\r\n");
    appendLocalHeaders(response.headers, response.weaken_etag, response.length_changed, &head);
    head.append(response.extra_headers);
    if (response.content_length && response.status >= 200 && response.status != 204) {
      head.append("Content-Length: ").append(std::to_string(*response.content_length));
      head.append("\r\n");
    } else if (f.rechunk) {
      head.append("Transfer-Encoding: chunked\r\n");
    }
    head.append("X-Request-Id: ").append(request_id).append("\r\n");
    if (!keep_alive) {
      head.append("Connection: close\r\n");
    } else if (f.http10) {
      head.append("Connection: keep-alive\r\n");
    }
    head.append("\r\n");
  }
  out_.addCopy(head);
  record().bytes_out += head.size();
}

void Session::sendBody(std::string_view bytes, bool stable) {
  if (bytes.empty()) {
    return;
  }
  if (framing_.rechunk) {
    if (stable) {
      out_.addChunkRef(bytes.data(), bytes.size());
      return;
    }
    char size_line[24];
    out_.addCopy(size_line, http::formatChunkHeader(size_line, bytes.size()));
    out_.addCopy(bytes);
    out_.addCopy("\r\n", 2);
  } else if (stable) {
    out_.addRef(bytes.data(), bytes.size());
  } else {
    out_.addCopy(bytes);
  }
}

FileSendStart Session::sendFile(const filters::FileRegion& region) {
  // sendfile puts the file's bytes on the wire as they are: plain TCP only (TLS encrypts
  // them here), a body with a length (no chunks), after everything written before it.
  if (tls_ != nullptr || framing_.rechunk || state_ != State::kOpen) {
    return FileSendStart::kRefused;
  }
  flushOut(/*more=*/true);  // the head goes out with the file's first bytes
  uv_os_fd_t fd;
  if (state_ != State::kOpen || out_.queuedBytes() > 0 ||
      uv_fileno(reinterpret_cast<const uv_handle_t*>(&tcp_), &fd) != 0) {
    return FileSendStart::kRefused;
  }
  uint64_t offset = region.offset;
  uint64_t length = region.length;
  uint64_t sent_now = 0;
  if (region.in_page_cache) {
    // Pages just read: sent on the loop now, most often whole; the sender takes the rest.
    ssize_t n = FileSender::sendNow(fd, region.fd, offset, length);
    if (n == 0 || (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK)) {
      return FileSendStart::kFailed;
    }
    if (n > 0) {
      sent_now = std::min(static_cast<uint64_t>(n), length);
      offset += sent_now;
      length -= sent_now;
    }
    if (length == 0) {
      return FileSendStart::kSent;
    }
  }
  file_sender_ = FileSender::start(worker_->loop(), fd, region.fd, offset, length, this,
                                   region.in_page_cache, sent_now);
  if (file_sender_ != nullptr) {
    return FileSendStart::kSending;
  }
  // Out of descriptors: what went out now cannot be taken back, the rest cannot follow.
  return sent_now > 0 ? FileSendStart::kFailed : FileSendStart::kRefused;
}

void Session::onFileWaiting() {
  // The client is not reading: it has timeouts.client_write to make room again.
  startTimer(snapshot_->config().timeouts.client_write);
  client_write_timer_ = true;
}

void Session::onFileSent(uint64_t sent, bool ok) {
  file_sender_ = nullptr;
  if (client_write_timer_) {
    stopTimer();
  }
  exchange_->onFileSent(sent, ok);
}

void Session::sendEnd() {
  if (framing_.rechunk) {
    out_.addCopy("0\r\n\r\n", 5);
  }
}

bool Session::outputFull() {
  if (!out_.aboveHighWater()) {
    return false;
  }
  if (state_ == State::kOpen) {
    // A client that leaves its response unread this long is closed; the timer is the
    // session's own while a response streams (no header or idle wait runs then).
    startTimer(snapshot_->config().timeouts.client_write);
    client_write_timer_ = true;
  }
  return true;
}

void Session::onExchangeDone(bool close) {
  if (state_ != State::kOpen || close_when_flushed_) {
    return;
  }
  if (close || framing_.close_after || draining_ || !framing_.keep_alive) {
    closeWhenFlushed();
    return;
  }
  processPending();
  updateReading();
}

}  // namespace balancer
