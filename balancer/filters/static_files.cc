#include "balancer/filters/static_files.h"

#include <uv.h>

#include "balancer/static_files/open_file_cache.h"

namespace balancer::filters {

namespace {

// One request's file lookup on the thread pool. It owns copies of all it reads there (the
// request may be gone when it runs) and is freed on the loop, in done().
struct Lookup {
  uv_work_t work{};
  std::shared_ptr<const static_files::FileServer> server;
  static_files::FileRequest request;
  std::string path;
  static_files::OpenFileCache* cache = nullptr;  // the worker's (lives as long as its loop)
  uint64_t cache_generation = 0;
  uv_loop_t* loop = nullptr;
  Resumer resumer;
  static_files::FileLookup found;

  static void run(uv_work_t* work) {
    auto* self = static_cast<Lookup*>(work->data);
    self->found = self->server->lookUp(self->path);
  }
  // On the loop: the worker's cache keeps what was found, and the exchange goes on with the
  // answer, unless the client left (then the answer, an open file among it, is dropped).
  static void done(uv_work_t* work, int status) {
    std::unique_ptr<Lookup> self(static_cast<Lookup*>(work->data));
    if (status != 0) {
      return;
    }
    if (self->cache != nullptr) {
      std::string key = self->server->cacheKey(self->path);
      if (self->found.outcome == static_files::ResolvedFile::Outcome::kFile) {
        self->cache->put(key, self->found.file, uv_now(self->loop), self->cache_generation);
      } else {
        self->cache->erase(key);
      }
    }
    if (self->resumer.alive()) {
      self->resumer.resume(self->server->answer(self->request, self->found, self->loop));
    }
  }
};

}  // namespace

Verdict StaticFiles::onRequestHead(FilterContext& ctx) {
  uv_loop_t* loop = ctx.services->loop();
  static_files::FileRequest request = static_files::FileRequest::from(ctx.request);
  std::string path;
  Verdict early;
  if (!server_->locate(request, &path, &early)) {
    return early;
  }
  // A file this worker found a moment ago, unchanged: answered now, on the loop.
  static_files::OpenFileCache* cache = ctx.services->openFiles();
  if (cache != nullptr) {
    static_files::FileLookup cached;
    cached.file = cache->find(server_->cacheKey(path), uv_now(loop));
    if (cached.file != nullptr) {
      cached.outcome = static_files::ResolvedFile::Outcome::kFile;
      return server_->answer(request, cached, loop);
    }
  }
  auto lookup = std::make_unique<Lookup>();
  lookup->work.data = lookup.get();
  lookup->server = server_;
  lookup->request = std::move(request);
  lookup->path = std::move(path);
  if (cache != nullptr) {
    lookup->cache = cache;
    lookup->cache_generation = cache->generation();
  }
  lookup->loop = loop;
  lookup->resumer = ctx.host->pauseExchange();
  if (uv_queue_work(loop, &lookup->work, &Lookup::run, &Lookup::done) != 0) {
    return server_->serve(lookup->request, loop);  // cannot happen with a live loop
  }
  lookup.release();  // done() frees it
  return Verdict::pause();
}

}  // namespace balancer::filters
