// test-origin: a small backend on the shared http::Server, for integration tests and as a
// second origin for benchmarks.
//   test-origin --port P [--name NAME]
//   GET  /            "hello world\n"
//   GET  /health      200
//   ANY  /echo        the request body back
//   GET  /bytes?n=N   N bytes of a repeating pattern
//   GET  /slow?ms=N   answers after N ms (an asynchronous handler: pipelining keeps order)
//   GET  /status?code=N
#include <uv.h>

#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/http/query.h"
#include "common/http/server.h"
#include "common/log/log.h"

namespace {

long number(std::string_view text, long fallback) {
  long value = fallback;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

struct Delayed {
  uv_timer_t timer;
  http::Responder responder;
  http::Response response;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  std::string name = "origin";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) {
      port = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--name") == 0) {
      name = argv[i + 1];
    }
  }
  uv_loop_t* loop = uv_default_loop();
  http::ServerOptions options;
  options.limits.max_body_size = 256ull * 1024 * 1024;
  http::Server server(
      loop,
      [&](const http::Request& req, http::Responder responder) {
        http::Response res;
        res.content_type = "text/plain";
        res.headers.emplace_back("X-Backend", name);
        if (req.path == "/" || req.path == "/health") {
          res.body = req.path == "/" ? "hello world\n" : "ok\n";
        } else if (req.path == "/echo") {
          res.content_type = "application/octet-stream";
          res.body = req.body;
        } else if (req.path == "/bytes") {
          long n = number(http::queryParam(req.query, "n"), 0);
          res.body.resize(static_cast<size_t>(n > 0 ? n : 0));
          for (size_t i = 0; i < res.body.size(); ++i) {
            res.body[i] = static_cast<char>('a' + i % 26);
          }
        } else if (req.path == "/status") {
          res.status = static_cast<int>(number(http::queryParam(req.query, "code"), 200));
        } else if (req.path == "/slow") {
          auto* d = new Delayed{{}, std::move(responder), std::move(res)};
          d->response.body = "slow\n";
          uv_timer_init(loop, &d->timer);
          d->timer.data = d;
          uv_timer_start(
              &d->timer,
              [](uv_timer_t* t) {
                auto* dd = static_cast<Delayed*>(t->data);
                dd->responder.send(std::move(dd->response));
                uv_close(reinterpret_cast<uv_handle_t*>(t),
                         [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
              },
              static_cast<uint64_t>(number(http::queryParam(req.query, "ms"), 100)), 0);
          return;
        } else {
          res.status = 404;
          res.body = "no such path\n";
        }
        responder.send(std::move(res));
      },
      options);
  std::string error;
  auto address = util::parseSocketAddress("127.0.0.1:" + std::to_string(port), &error);
  if (!address || server.listen(*address) != 0) {
    fprintf(stderr, "test-origin: cannot listen on port %d\n", port);
    return 1;
  }
  printf("test-origin %s listening on %d\n", name.c_str(), server.port());
  fflush(stdout);
  uv_signal_t sigterm;
  uv_signal_init(loop, &sigterm);
  sigterm.data = &server;
  uv_signal_start(
      &sigterm,
      [](uv_signal_t* s, int) {
        static_cast<http::Server*>(s->data)->close();
        uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
      },
      SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
