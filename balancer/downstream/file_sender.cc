#include "balancer/downstream/file_sender.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace balancer {

namespace {

int duplicate(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

}  // namespace

ssize_t FileSender::sendNow(int socket_fd, int file_fd, uint64_t offset, uint64_t length) {
  auto at = static_cast<off_t>(offset);
  size_t n = static_cast<size_t>(std::min<uint64_t>(length, SIZE_MAX >> 1));
  ssize_t sent;
  do {
    sent = ::sendfile(socket_fd, file_fd, &at, n);
  } while (sent < 0 && errno == EINTR);
  return sent < 0 ? -errno : sent;
}

FileSender* FileSender::start(uv_loop_t* loop, int socket_fd, int file_fd, uint64_t offset,
                              uint64_t length, Listener* listener, bool on_loop,
                              uint64_t sent_before) {
  int socket = duplicate(socket_fd);
  int file = socket < 0 ? -1 : duplicate(file_fd);
  auto* sender = new FileSender;
  if (file < 0 || uv_poll_init_socket(loop, &sender->poll_, socket) != 0) {
    if (socket >= 0) {
      ::close(socket);
    }
    if (file >= 0) {
      ::close(file);
    }
    delete sender;
    return nullptr;
  }
  sender->loop_ = loop;
  sender->socket_ = socket;
  sender->file_ = file;
  sender->offset_ = offset;
  sender->remaining_ = length;
  sender->listener_ = listener;
  sender->on_loop_ = on_loop;
  sender->sent_ = sent_before;
  sender->poll_.data = sender;
  sender->req_.data = sender;
  if (!(on_loop ? sender->waitWritable() : sender->send())) {
    sender->cancelled_ = true;
    sender->destroy();  // not started: the caller sends the bytes itself
    return nullptr;
  }
  return sender;
}

bool FileSender::send() {
  in_flight_ = uv_queue_work(loop_, &req_, &FileSender::work, &FileSender::onSent) == 0;
  return in_flight_;
}

void FileSender::work(uv_work_t* req) {
  auto* self = static_cast<FileSender*>(req->data);
  self->result_ = sendNow(self->socket_, self->file_, self->offset_, self->remaining_);
}

void FileSender::onSent(uv_work_t* req, int /*status*/) {
  auto* self = static_cast<FileSender*>(req->data);
  self->in_flight_ = false;
  if (self->cancelled_) {
    self->destroy();
    return;
  }
  self->onResult(self->result_);
}

void FileSender::onResult(ssize_t result) {
  if (result > 0) {
    auto n = std::min(static_cast<uint64_t>(result), remaining_);
    offset_ += n;
    remaining_ -= n;
    sent_ += n;
    if (remaining_ == 0) {
      finish(true);
      return;
    }
    // A part: the socket buffer is full (it is non-blocking), so the rest waits for room.
  } else if (result == 0 || (result != -EAGAIN && result != -EWOULDBLOCK)) {
    finish(false);  // the file ended early (it shrank), or the socket broke
    return;
  }
  if (!waitWritable()) {
    finish(false);
  }
}

bool FileSender::waitWritable() {
  if (uv_poll_start(&poll_, UV_WRITABLE, &FileSender::onWritable) != 0) {
    return false;
  }
  listener_->onFileWaiting();
  return true;
}

void FileSender::onWritable(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<FileSender*>(handle->data);
  uv_poll_stop(handle);
  if (status < 0) {
    self->finish(false);
  } else if (self->on_loop_) {
    self->onResult(sendNow(self->socket_, self->file_, self->offset_, self->remaining_));
  } else if (!self->send()) {
    self->finish(false);
  }
}

void FileSender::finish(bool ok) {
  Listener* listener = listener_;
  listener_ = nullptr;
  cancelled_ = true;  // whatever the listener does now, it hears no more
  destroy();          // the handle closes on the next loop turn; this lives until then
  if (listener != nullptr) {
    listener->onFileSent(sent_, ok);
  }
}

void FileSender::cancel() {
  if (cancelled_) {
    return;
  }
  cancelled_ = true;
  listener_ = nullptr;
  if (!in_flight_) {
    destroy();  // else onSent does, once the call is back
  }
}

void FileSender::destroy() {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&poll_)) != 0) {
    return;
  }
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), &FileSender::onPollClosed);
}

void FileSender::onPollClosed(uv_handle_t* handle) {
  auto* self = static_cast<FileSender*>(handle->data);
  ::close(self->socket_);
  ::close(self->file_);
  delete self;
}

}  // namespace balancer
