#include "balancer/filters/static_files.h"

#include <uv.h>

namespace balancer::filters {

namespace {

// One request's file lookup on the thread pool. It owns copies of all it reads there (the
// request may be gone when it runs) and is freed on the loop, in done().
struct Lookup {
  uv_work_t work{};
  std::shared_ptr<const static_files::FileServer> server;
  static_files::FileRequest request;
  uv_loop_t* loop = nullptr;
  Resumer resumer;
  Verdict verdict;

  static void run(uv_work_t* work) {
    auto* self = static_cast<Lookup*>(work->data);
    self->verdict = self->server->serve(self->request, self->loop);
  }
  // On the loop: the exchange goes on with the answer, unless the client left (then the
  // answer, an open file among it, is dropped here and closed).
  static void done(uv_work_t* work, int status) {
    std::unique_ptr<Lookup> self(static_cast<Lookup*>(work->data));
    if (status == 0) {
      self->resumer.resume(std::move(self->verdict));
    }
  }
};

}  // namespace

Verdict StaticFiles::onRequestHead(FilterContext& ctx) {
  std::string_view method = ctx.request.method;
  if (method != "GET" && method != "HEAD") {
    return Verdict::reply(405, "method not allowed: a static route serves GET and HEAD",
                          "Allow: GET, HEAD\r\n");
  }
  uv_loop_t* loop = ctx.services->loop();
  auto lookup = std::make_unique<Lookup>();
  lookup->work.data = lookup.get();
  lookup->server = server_;
  lookup->request = static_files::FileRequest::from(ctx.request);
  lookup->loop = loop;
  lookup->resumer = ctx.host->pauseExchange();
  if (uv_queue_work(loop, &lookup->work, &Lookup::run, &Lookup::done) != 0) {
    return server_->serve(lookup->request, loop);  // cannot happen with a live loop
  }
  lookup.release();  // done() frees it
  return Verdict::pause();
}

}  // namespace balancer::filters
