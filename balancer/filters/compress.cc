#include "balancer/filters/compress.h"

#include <memory>
#include <optional>
#include <string>

#include "balancer/metrics/worker_metrics.h"
#include "common/compress/accept_encoding.h"
#include "common/compress/encoder.h"
#include "common/compress/encoder_pool.h"
#include "common/http/header_list.h"

namespace balancer::filters {

namespace {

using namespace std::string_view_literals;

// One exchange's part: what the request asked for, then the stream if there is one.
struct CompressState final : FilterState {
  std::optional<compression::Encoding> encoding;  // negotiated; none: the client gets it plain
  std::unique_ptr<compression::Encoder> encoder;  // set once the response is being compressed
  bool flush_each_piece = false;  // an event stream: each event goes out as it comes
  bool failed = false;            // the library failed: the rest is dropped
};

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::equalsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

bool endsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         http::equalsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

// Calls fn(value) for each field `name` of a response: an upstream's parsed head, or a local
// response's header lines.
template <typename Fn>
void forEachField(const ResponseFacts& response, std::string_view name, Fn fn) {
  if (response.headers != nullptr) {
    const http::HeaderList& headers = *response.headers;
    for (size_t i = 0; i < headers.size(); ++i) {
      if (http::equalsIgnoreCase(headers.name(i), name)) {
        fn(headers.value(i));
      }
    }
    return;
  }
  std::string_view rest = response.local_headers;
  while (!rest.empty()) {
    size_t eol = rest.find("\r\n"sv);
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && http::equalsIgnoreCase(line.substr(0, colon), name)) {
      fn(http::trimOws(line.substr(colon + 1)));
    }
  }
}

// Whether a comma-separated field of `response` lists `token` (before any '=').
bool listsToken(const ResponseFacts& response, std::string_view name, std::string_view token) {
  bool found = false;
  forEachField(response, name, [&](std::string_view value) {
    while (!found && !value.empty()) {
      size_t comma = value.find(',');
      std::string_view item = http::trimOws(value.substr(0, comma));
      value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      found = http::equalsIgnoreCase(http::trimOws(item.substr(0, item.find('='))), token);
    }
  });
  return found;
}

std::string_view firstField(const ResponseFacts& response, std::string_view name) {
  std::optional<std::string_view> first;
  forEachField(response, name, [&](std::string_view value) {
    if (!first) {
      first = value;
    }
  });
  return first.value_or(std::string_view());
}

// Writes on to the next filter, counting what it wrote.
class CountingSink final : public compression::EncoderSink {
 public:
  explicit CountingSink(BodySink& next) : next_(next) {}
  void write(std::string_view bytes) override {
    written += bytes.size();
    next_.write(bytes);
  }
  uint64_t written = 0;

 private:
  BodySink& next_;
};

}  // namespace

Verdict Compress::onRequestHead(FilterContext& ctx) {
  const RequestFacts& req = ctx.request;
  if (req.method == "HEAD"sv) {
    return Verdict::next();  // no body to compress; its head stays that of the plain GET
  }
  const http::HeaderList& headers = *req.headers;
  bool asked = false;
  std::string_view accept;
  std::string joined;  // several Accept-Encoding fields (rare): one list
  for (size_t i = 0; i < headers.size(); ++i) {
    std::string_view name = headers.name(i);
    if (http::equalsIgnoreCase(name, "Range"sv)) {
      return Verdict::next();  // the ranges are of the plain body
    }
    if (http::equalsIgnoreCase(name, "Accept-Encoding"sv)) {
      if (asked) {
        joined.assign(accept).append(", "sv).append(headers.value(i));
        accept = joined;
      } else {
        accept = headers.value(i);
      }
      asked = true;
    }
  }
  CompressState& state = ctx.makeState<CompressState>(this);
  if (asked) {
    state.encoding = compression::negotiateEncoding(accept, config_.encodings);
  }
  return Verdict::next();
}

void Compress::onResponseHead(FilterContext& ctx, const ResponseFacts& response) {
  auto* state = ctx.stateOf<CompressState>(this);
  if (state == nullptr) {
    return;
  }
  int status = response.status;
  if (status < 200 || status == 204 || status == 206 || status == 304) {
    return;  // no body, or a part of one
  }
  bool encoded = false;
  forEachField(response, "Content-Encoding"sv, [&](std::string_view value) {
    encoded = encoded || (!value.empty() && !http::equalsIgnoreCase(value, "identity"sv));
  });
  if (encoded || listsToken(response, "Cache-Control"sv, "no-transform"sv)) {
    return;
  }
  std::string_view type = firstField(response, "Content-Type"sv);
  if (!compressesType(type)) {
    return;
  }
  if (response.content_length && *response.content_length < config_.min_size) {
    return;  // too small to gain, and the same bytes for every client
  }
  std::string& headers = *ctx.out.response_headers;
  if (!listsToken(response, "Vary"sv, "Accept-Encoding"sv) &&
      !listsToken(response, "Vary"sv, "*"sv)) {
    headers.append("Vary: Accept-Encoding\r\n"sv);
  }
  if (!state->encoding) {
    return;
  }
  compression::Encoding encoding = *state->encoding;
  state->encoder = ctx.services->encoderPool().acquire(encoding, config_.levelOf(encoding));
  if (!state->encoder) {
    return;  // out of memory: sent plain
  }
  state->flush_each_piece = startsWithIgnoreCase(http::trimOws(type), "text/event-stream"sv);
  ctx.out.response_body_rewritten = true;
  ctx.out.weaken_etag = true;
  headers.append("Content-Encoding: "sv).append(compression::encodingName(encoding)).append("\r\n"sv);
}

void Compress::onResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                              BodySink& next) {
  auto* state = ctx.stateOf<CompressState>(this);
  if (state == nullptr || !state->encoder) {
    next.write(piece);
    return;
  }
  if (state->failed) {
    return;
  }
  compression::Encoder& encoder = *state->encoder;
  CountingSink out(next);
  bool ok = true;
  if (!piece.empty()) {
    ok = encoder.write(piece, out) && (!state->flush_each_piece || encoder.flush(out));
  }
  if (end && ok) {
    ok = encoder.finish(out);
  }
  ctx.metrics->countCompressed(ctx.request.route, encoder.encoding(), piece.size(), out.written);
  if (!ok) {
    // Cannot happen short of memory running out: the client's decoder sees a cut stream.
    state->failed = true;
    state->encoder.reset();
  } else if (end) {
    ctx.services->encoderPool().release(std::move(state->encoder));
  }
}

bool Compress::leavesResponseBody(FilterContext& ctx) const {
  auto* state = ctx.stateOf<CompressState>(this);
  return state == nullptr || !state->encoder;  // not encoding: onResponseBody passes it on
}

bool Compress::compressesType(std::string_view content_type) const {
  std::string_view media = http::trimOws(content_type.substr(0, content_type.find(';')));
  size_t slash = media.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == media.size()) {
    return false;  // no type given: unknown bytes are left alone
  }
  for (const std::string& type : config_.types) {
    if (type.front() == '+') {
      if (media.size() - slash - 1 > type.size() && endsWithIgnoreCase(media, type)) {
        return true;
      }
    } else if (type.size() >= 2 && type.compare(type.size() - 2, 2, "/*") == 0) {
      if (media.size() > type.size() - 1 &&
          startsWithIgnoreCase(media, std::string_view(type).substr(0, type.size() - 1))) {
        return true;
      }
    } else if (http::equalsIgnoreCase(media, type)) {
      return true;
    }
  }
  return false;
}

}  // namespace balancer::filters
