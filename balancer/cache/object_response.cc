#include "balancer/cache/object_response.h"

#include <algorithm>

namespace balancer::cache {

ObjectResponse::ObjectResponse(std::shared_ptr<const CachedObject> object, Post post,
                               int64_t now_ms, const std::string& extra_headers,
                               std::optional<http::ByteRange> range)
    : state_(std::make_shared<PullState>()) {
  status = object->status;
  headers = object->headLines(now_ms) + extra_headers;
  if (range) {
    status = 206;
    content_length = range->length();
    state_->offset = range->first;
    state_->end = range->last + 1;
  } else if (object->complete()) {
    content_length = object->body->size();
  } else {
    content_length = object->content_length;  // none: sent chunked while it fills
  }
  state_->object = std::move(object);
  state_->post = std::move(post);
}

std::optional<filters::FileRegion> ObjectResponse::fileRegion() const {
  const PullState& s = *state_;
  int fd = !s.pulled && content_length ? s.object->body->file() : -1;
  if (fd < 0 || s.offset + *content_length > s.object->body->size()) {
    return std::nullopt;
  }
  return filters::FileRegion{fd, s.offset, *content_length, /*in_page_cache=*/true};
}

ObjectResponse::~ObjectResponse() {
  state_->cancelled = true;
  if (state_->ticket != 0) {
    state_->object->body->cancelWait(state_->ticket);
  }
}

void ObjectResponse::pull(filters::LocalBodySink& sink, size_t max) {
  state_->pulled = true;
  pullFrom(state_, sink, max);
}

void ObjectResponse::pullFrom(const std::shared_ptr<PullState>& state,
                              filters::LocalBodySink& sink, size_t max) {
  const GrowingBody& body = *state->object->body;
  for (;;) {
    if (state->offset >= state->end) {
      sink.onEnd();  // a range's last byte is sent
      return;
    }
    std::string_view piece =
        body.read(state->offset, std::min<uint64_t>(max, state->end - state->offset));
    if (!piece.empty()) {
      state->offset += piece.size();
      sink.onBody(piece);
      return;
    }
    if (body.state() == GrowingBody::State::kFailed) {
      sink.onFailed();
      return;
    }
    if (body.state() == GrowingBody::State::kComplete && state->offset >= body.size()) {
      sink.onEnd();
      return;
    }
    // Wait for the filler. The wake-up runs on its thread: it only posts to ours.
    std::weak_ptr<PullState> weak = state;
    filters::LocalBodySink* target = &sink;
    state->ticket = body.waitBeyond(state->offset, [weak, target, max] {
      std::shared_ptr<PullState> alive = weak.lock();
      if (!alive) {
        return;
      }
      alive->post([alive, target, max] {
        if (alive->cancelled) {
          return;
        }
        alive->ticket = 0;
        pullFrom(alive, *target, max);
      });
    });
    if (state->ticket != 0) {
      return;
    }
    // It grew or ended between the read and the wait: read again.
  }
}

}  // namespace balancer::cache
