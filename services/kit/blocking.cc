#include "services/kit/blocking.h"

#include <memory>

namespace kit {

namespace {
struct BlockingJob {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void(std::exception_ptr)> done;
  std::exception_ptr error;
};
}  // namespace

void runBlocking(uv_loop_t* loop, std::function<void()> work,
                 std::function<void(std::exception_ptr)> done) {
  auto* job = new BlockingJob{{}, std::move(work), std::move(done), nullptr};
  job->req.data = job;
  int rc = uv_queue_work(
      loop, &job->req,
      [](uv_work_t* req) {
        auto* j = static_cast<BlockingJob*>(req->data);
        try {
          j->work();
        } catch (...) {
          j->error = std::current_exception();
        }
      },
      [](uv_work_t* req, int /*status*/) {
        std::unique_ptr<BlockingJob> j(static_cast<BlockingJob*>(req->data));
        j->done(j->error);
      });
  if (rc != 0) {
    std::unique_ptr<BlockingJob> j(job);
    j->done(std::make_exception_ptr(std::runtime_error(uv_strerror(rc))));
  }
}

}  // namespace kit
