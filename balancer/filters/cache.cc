#include "balancer/filters/cache.h"

#include <algorithm>
#include <chrono>

#include "balancer/cache/cache_control.h"
#include "balancer/cache/loop_poster.h"
#include "balancer/cache/object_response.h"
#include "balancer/cache/stored_answer.h"
#include "balancer/static_files/file_response.h"
#include "common/http/conditional.h"
#include "balancer/metrics/worker_metrics.h"

namespace balancer::filters {

static_assert(kCacheResults.size() == kCacheResultLabels.size(),
              "balancer_cache_requests_total has a result label for each X-Cache value");

using cache::CachedObject;
using cache::FillTable;

// One exchange's pass through the cache.
struct Cache::State final : FilterState {
  CacheZone* zone = nullptr;
  CacheResult result = CacheResult::kBypass;
  cache::Key primary;
  cache::CacheControl request_cc;
  int64_t request_ms = 0;
  std::shared_ptr<const CachedObject> stored;  // a stale object being revalidated
  bool added_validators = false;               // we asked the origin with the stored ones
  bool added_etag = false;                     // ...with its ETag in If-None-Match
  std::shared_ptr<CachedObject> filling;       // the response being stored
  uint64_t filled = 0;
  bool filler = false;  // holds the key's fill: must publish/abandon and finish it
  uint64_t wait_ticket = 0;
  bool unsafe = false;
  size_t lines_at_request = 0;  // response_headers' length when this filter saw the request

  ~State() override {
    // An exchange that ends before its body did (client gone, upstream broken): readers of
    // the object see the failure; waiters go to the origin.
    if (filling && filling->body->state() == cache::GrowingBody::State::kGrowing) {
      filling->body->fail();
    }
    if (filler) {
      zone->fills.abandon(primary);
    }
    if (wait_ticket != 0) {
      zone->fills.leave(primary, wait_ticket);
    }
  }
};

namespace {

// Header lines ("Name: value\r\n"...) as stored fields, but the cache's own X-Cache.
void addFilterLines(std::string_view lines, cache::Fields* fields) {
  while (!lines.empty()) {
    size_t end = lines.find("\r\n");
    std::string_view line = lines.substr(0, end);
    lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    if (!http::equalsIgnoreCase(name, "x-cache")) {
      fields->push_back({std::string(name), std::string(value)});
    }
  }
}

int64_t systemMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view withoutQuestionMark(std::string_view query) {
  return !query.empty() && query.front() == '?' ? query.substr(1) : query;
}

bool isSafe(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE";
}

bool has(const http::HeaderList& headers, std::string_view name) {
  bool found = false;
  headers.find(name, &found);
  return found;
}

// Conditions an origin's answer would be for this client only (a 304, 412 or 206 is not
// stored): such a miss goes to the origin on its own rather than fill for others.
bool hasConditional(const http::HeaderList& headers) {
  for (const char* name : {"if-none-match", "if-modified-since", "if-match",
                           "if-unmodified-since", "if-range", "range"}) {
    if (has(headers, name)) {
      return true;
    }
  }
  return false;
}

// Whether a 304 to a revalidation (with the stored validators alone) may update the stored
// response (RFC 9111 4.3.4): without an ETag, or with one that matches the stored one
// (weakly, as If-None-Match compares).
bool validatesStored(const http::HeaderList& not_modified, std::string_view stored_etag,
                     bool added_etag) {
  if (!added_etag) {
    return true;  // only our If-Modified-Since went
  }
  bool found = false;
  std::string_view sent = not_modified.find("etag", &found);
  if (!found) {
    return true;
  }
  std::optional<http::EntityTag> got = http::parseEntityTag(http::trimOws(sent));
  std::optional<http::EntityTag> ours = http::parseEntityTag(stored_etag);
  return got && ours && http::weakMatch(*got, *ours);
}

}  // namespace

Cache::Cache(std::shared_ptr<CacheZone> zone, CacheOptions options, Clock clock)
    : zone_(std::move(zone)), options_(std::move(options)), clock_(std::move(clock)) {
  if (!clock_) {
    clock_ = systemMs;
  }
}

cache::Key Cache::secondaryFor(const FilterContext& ctx,
                               const std::vector<std::string>& vary) const {
  return zone_->keys.secondary(*ctx.request.headers, options_.key, vary);
}

std::shared_ptr<LocalResponse> Cache::responseFor(const FilterContext& ctx,
                                                  std::shared_ptr<const CachedObject> object,
                                                  CacheResult result) const {
  std::string extra = "X-Cache: ";
  extra += kCacheResults[static_cast<size_t>(result)];
  extra += "\r\n";
  const cache::StoredAnswer answer =
      cache::answerFromStore(*object, *ctx.request.headers, ctx.request.method == "GET");
  using Kind = cache::StoredAnswer::Kind;
  if (answer.kind == Kind::kNotModified || answer.kind == Kind::kPreconditionFailed ||
      answer.kind == Kind::kUnsatisfiable) {
    auto bodiless = std::make_shared<static_files::BufferedResponse>();
    if (answer.kind == Kind::kNotModified) {
      bodiless->status = 304;
      bodiless->content_length.reset();
      bodiless->headers = cache::notModifiedLines(*object, clock_()) + extra;
    } else {
      bodiless->status = answer.kind == Kind::kUnsatisfiable ? 416 : 412;
      if (answer.kind == Kind::kUnsatisfiable) {
        extra += "Content-Range: " + answer.content_range + "\r\n";
      }
      bodiless->headers = std::move(extra);
    }
    return bodiless;
  }
  if (answer.kind == Kind::kMultipart) {
    // Several ranges of a complete stored body: one multipart/byteranges 206, built in
    // memory (at most the body's bytes).
    static constexpr std::string_view kBoundary = "balancer-byteranges-7d3f1e";
    auto parts = std::make_shared<static_files::BufferedResponse>(
        cache::multipartBody(*object, answer.ranges, kBoundary));
    parts->status = 206;
    parts->headers = object->headLines(clock_(), [](const cache::Field& f) {
      return http::equalsIgnoreCase(f.name, "content-type");
    });
    parts->headers += "Content-Type: multipart/byteranges; boundary=";
    parts->headers += kBoundary;
    parts->headers += "\r\n" + extra;
    return parts;
  }
  std::optional<http::ByteRange> range;
  if (answer.kind == Kind::kPartial) {
    range = answer.range;
    extra += "Content-Range: " + answer.content_range + "\r\n";
  }
  const cache::Post* post = cache::threadPoster();
  return std::make_shared<cache::ObjectResponse>(std::move(object), post ? *post : nullptr,
                                                 clock_(), extra, range);
}

Verdict Cache::serve(const FilterContext& ctx, State& state,
                     std::shared_ptr<const CachedObject> object, CacheResult result) {
  state.result = result;
  return Verdict::respond(responseFor(ctx, std::move(object), result));
}

Verdict Cache::onRequestHead(FilterContext& ctx) {
  State& state = ctx.makeState<State>(this);
  state.zone = zone_.get();
  state.lines_at_request = ctx.out.response_headers ? ctx.out.response_headers->size() : 0;
  state.request_ms = clock_();
  const RequestTarget& target = ctx.request.target;
  state.primary = zone_->keys.primary(target.host, target.path,
                                      withoutQuestionMark(target.query), options_.key);
  const std::string_view method = ctx.request.method;
  if (method != "GET" && method != "HEAD") {
    state.unsafe = !method.empty() && !isSafe(method);
    return Verdict::next();
  }
  if (ctx.request.upgrade) {
    return Verdict::next();
  }
  state.request_cc = cache::requestCacheControl(*ctx.request.headers);
  return lookup(ctx, state);
}

// The background request that refreshes a stale-while-revalidate object: the client's
// request (its Vary'd fields pick the same variant) without its own conditions, asking
// no-cache, so the cache filter on its way revalidates the stored object (or stores the new
// one). One per key at a time (zone's RefreshSet), ended by that request's State.
void Cache::startRefresh(FilterContext& ctx, State& state) {
  if (ctx.host == nullptr || ctx.request.background ||
      !zone_->refreshes.begin(state.primary, clock_())) {
    return;
  }
  std::string head = "GET ";
  head += ctx.request.raw_target;
  head += " HTTP/1.1\r\n";
  const http::HeaderList& headers = *ctx.request.headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    const std::string_view name = headers.name(i);
    if (http::isHopByHop(headers.kind(i)) || headers.kind(i) == http::HeaderKind::kContentLength ||
        http::equalsIgnoreCase(name.substr(0, std::min<size_t>(name.size(), 3)), "if-") ||
        http::equalsIgnoreCase(name, "range") || http::equalsIgnoreCase(name, "cache-control") ||
        http::equalsIgnoreCase(name, "pragma") || http::equalsIgnoreCase(name, "expect") ||
        http::equalsIgnoreCase(name, "x-request-id")) {
      continue;
    }
    head.append(name).append(": ").append(headers.value(i)).append("\r\n");
  }
  head += "Cache-Control: no-cache\r\n\r\n";
  // Its end frees the key whatever became of it: answered, refused by a filter before the
  // cache saw it (a rate limit, an expired token), or dropped by a stopping worker.
  auto done = [zone = zone_, primary = state.primary] { zone->refreshes.end(primary); };
  if (!ctx.host->startBackground(std::move(head), std::move(done))) {
    zone_->refreshes.end(state.primary);
  }
}

Verdict Cache::lookup(FilterContext& ctx, State& state) {
  const int64_t now = clock_();
  auto object = zone_->store.lookup(state.primary, [&](const std::vector<std::string>& vary) {
    return secondaryFor(ctx, vary);
  });
  if (object) {
    switch (object->reuseFor(state.request_cc, now)) {
      case cache::Reuse::kFresh:
        return serve(ctx, state, std::move(object), CacheResult::kHit);
      case cache::Reuse::kStaleWhileRevalidate:
        startRefresh(ctx, state);
        [[fallthrough]];
      case cache::Reuse::kStale:
        return serve(ctx, state, std::move(object), CacheResult::kStale);
      case cache::Reuse::kValidate:
        break;
    }
  }
  if (state.request_cc.only_if_cached) {
    return Verdict::reply(cache::kOnlyIfCachedStatus, "not in the cache (only-if-cached)");
  }
  if (object) {
    state.result = CacheResult::kMiss;
    state.stored = object;
    addValidators(ctx, state, *object);
    return Verdict::next();
  }
  state.result = CacheResult::kMiss;
  if (ctx.request.method != "GET" || state.request_cc.no_store) {
    return Verdict::next();  // a HEAD or no-store request fills nothing
  }
  // A conditional or Range miss follows a fill in progress (its answer comes from the object
  // as it fills: 304, 206...), else it is forwarded as it is (nginx's way) without filling
  // for others: a 200 is stored, a 304 or 206 only goes to this client.
  return joinFill(ctx, state, !hasConditional(*ctx.request.headers));
}

// Stale: ask the origin with the stored validators, in place of the client's If-None-Match
// and If-Modified-Since (left out of the forwarded request): a 304 is then always about the
// stored response, which it freshens, and the client's conditions are answered from that.
// With If-Match, If-Unmodified-Since, If-Range or Range, or without stored validators, the
// request goes as it is and the origin's answer is the client's alone.
void Cache::addValidators(FilterContext& ctx, State& state, const CachedObject& object) {
  const http::HeaderList& request = *ctx.request.headers;
  for (const char* name : {"if-match", "if-unmodified-since", "if-range", "range"}) {
    if (has(request, name)) {
      return;
    }
  }
  if (object.etag.empty() && object.last_modified.empty()) {
    return;
  }
  if (has(request, "if-none-match") || has(request, "if-modified-since")) {
    if (ctx.out.dropped_request_headers == nullptr) {
      return;  // the client's conditions cannot be left out: they go alone
    }
    static constexpr std::string_view kReplaced[] = {"If-None-Match", "If-Modified-Since"};
    ctx.out.dropped_request_headers->insert(ctx.out.dropped_request_headers->end(),
                                            std::begin(kReplaced), std::end(kReplaced));
  }
  std::string& lines = *ctx.out.identity_headers;
  if (!object.etag.empty()) {
    lines += "If-None-Match: " + object.etag + "\r\n";
    state.added_etag = true;
    state.added_validators = true;
  }
  if (!object.last_modified.empty()) {
    lines += "If-Modified-Since: " + object.last_modified + "\r\n";
    state.added_validators = true;
  }
}

Verdict Cache::joinFill(FilterContext& ctx, State& state, bool may_fill) {
  const cache::Post* post = cache::threadPoster();
  // The wake-up may come from another worker as soon as join() returns: it only posts to this
  // loop, where the task runs after onRequestHead has returned and `resumer` is set.
  auto resumer = std::make_shared<Resumer>();
  FillTable::Wake wake = [](FillTable::Outcome, std::shared_ptr<const CachedObject>) {};
  if (post != nullptr && ctx.host != nullptr) {
    FilterContext* context = &ctx;
    wake = [this, post = *post, resumer, context](FillTable::Outcome outcome,
                                                  std::shared_ptr<const CachedObject> object) {
      post([this, resumer, context, outcome, object = std::move(object)] {
        if (!resumer->alive()) {
          return;  // the client left: the context is gone
        }
        State* st = context->stateOf<State>(this);
        if (st == nullptr) {
          return;
        }
        st->wait_ticket = 0;
        if (outcome == FillTable::Outcome::kObject && object &&
            object->secondary == secondaryFor(*context, object->vary)) {
          resumer->resume(serve(*context, *st, object, CacheResult::kHit));
        } else {
          resumer->resume(Verdict::next());  // uncacheable, or another variant: the origin
        }
      });
    };
  }
  FillTable::Join join = zone_->fills.join(state.primary, std::move(wake), may_fill);
  switch (join.role) {
    case FillTable::Role::kFiller:
      state.filler = true;
      return Verdict::next();
    case FillTable::Role::kAlone:
      return Verdict::next();
    case FillTable::Role::kFollow:
      if (post != nullptr && join.object->secondary == secondaryFor(ctx, join.object->vary)) {
        return serve(ctx, state, std::move(join.object), CacheResult::kHit);
      }
      return Verdict::next();
    case FillTable::Role::kWait:
      if (post == nullptr || ctx.host == nullptr) {
        zone_->fills.leave(state.primary, join.ticket);
        return Verdict::next();
      }
      // Bounded by the filler's exchange: its head, its upstream error or its end wakes us.
      state.wait_ticket = join.ticket;
      *resumer = ctx.host->pauseExchange();
      return Verdict::pause();
  }
  return Verdict::next();
}

void Cache::onResponseHead(FilterContext& ctx, const ResponseFacts& response) {
  State* state = ctx.stateOf<State>(this);
  if (state == nullptr || response.local || response.headers == nullptr ||
      ctx.request.upgrade) {
    return;
  }
  if (state->unsafe) {
    if (response.status >= 200 && response.status < 400) {
      invalidate(ctx, response);
    }
    return;
  }
  const int64_t now = clock_();
  if (state->stored) {
    if (response.status == 304 && state->added_validators &&
        validatesStored(*response.headers, state->stored->etag, state->added_etag)) {
      auto fresh = cache::freshenedBy304(*state->stored, *response.headers, state->request_ms,
                                         now, options_.store.heuristic);
      zone_->store.refresh(state->stored, fresh);
      state->result = CacheResult::kRevalidated;
      ctx.out.replacement = responseFor(ctx, std::move(fresh), CacheResult::kRevalidated);
      return;
    }
    if (response.status == 304 && state->added_validators) {
      // A 304 with another ETag than the stored one, to our own If-None-Match alone: it must
      // not update the stored response (RFC 9111 4.3.4), and it answers no condition of the
      // client's. The origin said the stored tag still matches: the stored response
      // answers (the client's conditions evaluated on it), unchanged.
      state->result = CacheResult::kRevalidated;
      ctx.out.replacement = responseFor(ctx, state->stored, CacheResult::kRevalidated);
      return;
    }
    if (response.status >= 500 && state->stored->usableOnErrorFor(state->request_cc, now)) {
      state->result = CacheResult::kStale;
      ctx.out.replacement = responseFor(ctx, state->stored, CacheResult::kStale);
      return;
    }
  }
  if (state->result == CacheResult::kMiss) {
    store(ctx, *state, response);
  }
  static constexpr std::string_view kOwn[] = {"X-Cache"};
  // An upstream's X-Cache (a service's) is not ours.
  ctx.out.replaced_response_headers->insert(ctx.out.replaced_response_headers->end(),
                                            std::begin(kOwn), std::end(kOwn));
  std::string& lines = *ctx.out.response_headers;
  lines += "X-Cache: ";
  lines += kCacheResults[static_cast<size_t>(state->result)];
  lines += "\r\n";
}

void Cache::store(FilterContext& ctx, State& state, const ResponseFacts& response) {
  const http::HeaderList& headers = *response.headers;
  const cache::CacheControl response_cc = cache::responseCacheControl(headers);
  cache::StoreVerdict verdict =
      cache::mayStore(ctx.request.method, *ctx.request.headers, state.request_cc,
                      response.status, headers, response_cc, options_.store);
  const bool too_big =
      response.content_length && *response.content_length > zone_->store.maxObject();
  if (verdict != cache::StoreVerdict::kStore || too_big) {
    if (state.filler) {
      state.filler = false;
      zone_->fills.abandon(state.primary);
    }
    return;
  }
  cache::ObjectHead head;
  head.status = response.status;
  head.headers = cache::storedFields(headers, response_cc);
  // The body stored is what the filters after this one made of it (compress: response
  // phases run last to first), so a hit must say what they said: their lines (Content-Encoding,
  // Vary: Accept-Encoding, which keys the variant), a weak ETag, no length.
  if (ctx.out.response_headers != nullptr) {
    addFilterLines(std::string_view(*ctx.out.response_headers).substr(
                       std::min(state.lines_at_request, ctx.out.response_headers->size())),
                   &head.headers);
  }
  if (ctx.out.weaken_etag) {
    for (cache::Field& field : head.headers) {
      if (http::equalsIgnoreCase(field.name, "etag") && !field.value.starts_with("W/")) {
        field.value.insert(0, "W/");
      }
    }
  }
  head.content_length = ctx.out.response_body_rewritten ? std::nullopt : response.content_length;
  head.request_ms = state.request_ms;
  head.response_ms = clock_();
  head.primary = state.primary;
  head.secondary = secondaryFor(ctx, cache::varyNames(head.headers));
  head.host = std::string(ctx.request.target.host);
  head.path = std::string(ctx.request.target.path);
  state.filling = cache::makeObject(std::move(head), options_.store.heuristic);
  if (state.filler) {
    zone_->fills.publish(state.primary, state.filling);
  }
}

void Cache::onResponseBody(FilterContext& ctx, std::string_view piece, bool end,
                           BodySink& next) {
  next.write(piece);
  State* state = ctx.stateOf<State>(this);
  if (state == nullptr || !state->filling) {
    return;
  }
  state->filled += piece.size();
  if (state->filled > zone_->store.maxObject()) {
    // Larger than a zone keeps (no Content-Length said so): no new reader follows it, and
    // once no reader does, it is no longer kept at all.
    if (state->filler) {
      state->filler = false;
      zone_->fills.abandon(state->primary);
    }
    if (state->filling.use_count() == 1) {
      state->filling->body->fail();
      state->filling.reset();
      return;
    }
  }
  state->filling->body->append(piece);
  if (!end) {
    return;
  }
  state->filling->body->finish();
  if (state->filled <= zone_->store.maxObject()) {
    zone_->store.insert(state->filling);  // before finish(): see FillTable::finish
  }
  if (state->filler) {
    state->filler = false;
    zone_->fills.finish(state->primary);
  }
}

void Cache::onUpstreamError(FilterContext& ctx, const UpstreamErrorFacts& /*error*/) {
  State* state = ctx.stateOf<State>(this);
  if (state == nullptr) {
    return;
  }
  if (state->filler) {
    state->filler = false;
    zone_->fills.abandon(state->primary);
  }
  if (state->stored && state->stored->usableOnErrorFor(state->request_cc, clock_())) {
    state->result = CacheResult::kStale;
    ctx.out.replacement = responseFor(ctx, state->stored, CacheResult::kStale);
  }
}

void Cache::onLog(FilterContext& ctx, int /*status*/) {
  State* state = ctx.stateOf<State>(this);
  if (state == nullptr) {
    return;
  }
  const auto result = static_cast<size_t>(state->result);
  zone_->results[result].fetch_add(1, std::memory_order_relaxed);
  if (ctx.metrics != nullptr) {
    ctx.metrics->countCacheResult(ctx.request.route, result);
  }
}

void Cache::invalidate(FilterContext& ctx, const ResponseFacts& response) {
  State* state = ctx.stateOf<State>(this);
  const RequestTarget& target = ctx.request.target;
  zone_->store.invalidate(state->primary);
  // Location and Content-Location too, but only on the same host (RFC 9111 4.4): a response
  // must not be able to evict another origin's objects.
  for (const char* name : {"location", "content-location"}) {
    bool found = false;
    std::string_view uri = response.headers->find(name, &found);
    if (!found || uri.empty()) {
      continue;
    }
    std::string_view host = target.host;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (uri.size() > scheme.size() && http::equalsIgnoreCase(uri.substr(0, scheme.size()),
                                                               scheme)) {
        uri.remove_prefix(scheme.size());
        const size_t slash = uri.find('/');
        host = uri.substr(0, std::min(uri.find(':'), slash));
        uri = slash == std::string_view::npos ? std::string_view("/") : uri.substr(slash);
        break;
      }
    }
    if (uri.front() != '/' || !http::equalsIgnoreCase(host, target.host)) {
      continue;
    }
    const size_t question = uri.find('?');
    std::string_view path = uri.substr(0, question);
    std::string_view query =
        question == std::string_view::npos ? std::string_view{} : uri.substr(question + 1);
    zone_->store.invalidate(zone_->keys.primary(target.host, path, query, options_.key));
  }
}

}  // namespace balancer::filters
