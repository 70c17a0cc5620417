#include "balancer/cache/loop_poster.h"

namespace balancer::cache {

namespace {
thread_local Post t_post;
}  // namespace

void setThreadPoster(Post post) { t_post = std::move(post); }

const Post* threadPoster() { return t_post ? &t_post : nullptr; }

}  // namespace balancer::cache
