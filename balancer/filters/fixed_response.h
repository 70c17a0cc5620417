#pragma once

#include <algorithm>
#include <string>
#include <utility>

#include "balancer/filters/filter.h"

namespace balancer::filters {

// A local response whose head and body are known at once (a CORS preflight's 204).
class FixedResponse final : public LocalResponse {
 public:
  FixedResponse(int status_code, std::string header_lines, std::string body = {})
      : body_(std::move(body)) {
    status = status_code;
    headers = std::move(header_lines);
    content_length = body_.size();
  }
  void pull(LocalBodySink& sink, size_t max) override {
    if (sent_ == body_.size()) {
      sink.onEnd();
      return;
    }
    size_t n = std::min(max, body_.size() - sent_);
    sent_ += n;
    sink.onBody(std::string_view(body_).substr(sent_ - n, n));
  }

 private:
  std::string body_;
  size_t sent_ = 0;
};

}  // namespace balancer::filters
