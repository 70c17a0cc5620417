// balancer/access_log: the JSON line, and the writer that batches the workers' lines.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "balancer/access_log/access_log.h"
#include "balancer/access_log/exchange_record.h"
#include "balancer/config.h"

namespace balancer {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tempPath(const char* name) {
  return "/tmp/access_log_test_" + std::to_string(getpid()) + "_" + name;
}

}  // namespace

TEST_CASE("formatAccessLogLine writes every field, escaping strings and null for unknown") {
  ExchangeFacts f;
  f.status = 201;
  f.method = "POST";
  f.path = "/a\"b\\c\x01\xff/\xc3\xa9";
  f.request_id = "rid-1";
  f.client = "10.0.0.1";
  f.user = "user-7";
  f.tls_version = "TLSv1.3";
  std::string line;
  // 2024-05-01T12:00:00.123Z
  formatAccessLogLine(&line, 1714564800123000000ull, f, "public", "0:/api", "app",
                      "127.0.0.1:7101", 120, 450, 1234567, 1000000);
  CHECK(line ==
        "{\"time\":\"2024-05-01T12:00:00.123Z\",\"request_id\":\"rid-1\",\"client\":\"10.0.0.1\","
        "\"listener\":\"public\",\"method\":\"POST\",\"path\":\"/a\\\"b\\\\c\\u0001\xEF\xBF\xBD/"
        "\xc3\xa9\",\"status\":201,\"route\":\"0:/api\",\"upstream\":\"app\",\"backend\":"
        "\"127.0.0.1:7101\",\"bytes_in\":120,\"bytes_out\":450,\"duration_ms\":1.234,"
        "\"upstream_duration_ms\":1.000,\"tls\":\"TLSv1.3\",\"user\":\"user-7\"}\n");

  ExchangeFacts local;
  local.status = 404;
  local.method = "GET";
  local.path = "/x";
  std::string line2;
  formatAccessLogLine(&line2, 1714564800000000000ull, local, "public", "", "", "", 10, 20, 5000,
                      -1);
  CHECK(line2.find("\"route\":null,\"upstream\":null,\"backend\":null") != std::string::npos);
  CHECK(line2.find("\"duration_ms\":0.005,\"upstream_duration_ms\":null,\"tls\":null,"
                   "\"user\":null}\n") != std::string::npos);
}

TEST_CASE("an access_token in the query is logged redacted, other parameters as they are") {
  ExchangeFacts f;
  f.status = 101;
  f.method = "GET";
  f.path = "/ws/notifications?v=2&access_token=eyJhbGciOi.x.y&x_access_token=k";
  std::string line;
  formatAccessLogLine(&line, 1714564800000000000ull, f, "public", "", "", "", 1, 1, 1, -1);
  CHECK(line.find("\"path\":\"/ws/notifications?v=2&access_token=REDACTED&x_access_token=k\"") !=
        std::string::npos);
  CHECK(line.find("eyJ") == std::string::npos);

  f.path = "/a?access_token=";
  line.clear();
  formatAccessLogLine(&line, 1714564800000000000ull, f, "public", "", "", "", 1, 1, 1, -1);
  CHECK(line.find("\"path\":\"/a?access_token=REDACTED\"") != std::string::npos);
}

TEST_CASE("AccessLog writes every sink's lines, and all of them at stop") {
  std::string path = tempPath("batches");
  std::remove(path.c_str());
  std::string error;
  auto log = AccessLog::open(path, &error);
  REQUIRE(log);
  AccessLogSink* a = log->addSink();
  AccessLogSink* b = log->addSink();
  log->start();
  for (int i = 0; i < 1000; ++i) {
    a->append("{\"a\":" + std::to_string(i) + "}\n");
    b->append("{\"b\":" + std::to_string(i) + "}\n");
  }
  log->stop();
  std::string text = readFile(path);
  size_t lines = 0;
  for (char c : text) {
    lines += c == '\n';
  }
  CHECK(lines == 2000);
  CHECK(text.find("{\"a\":999}\n") != std::string::npos);
  CHECK(text.find("{\"b\":0}\n") != std::string::npos);
  CHECK(log->dropped() == 0);
  std::remove(path.c_str());
}

TEST_CASE("AccessLog::reopen starts a new file after the old one was renamed") {
  std::string path = tempPath("rotate");
  std::string rotated = path + ".1";
  std::remove(path.c_str());
  std::remove(rotated.c_str());
  std::string error;
  auto log = AccessLog::open(path, &error);
  REQUIRE(log);
  AccessLogSink* sink = log->addSink();
  log->start();
  sink->append("before\n");
  // Wait for the writer's flush (every 100 ms) to carry the first line out; up to 10 s, as a
  // busy machine may be slow, and the test is only meaningful once it happened.
  for (int i = 0; i < 1000 && readFile(path).empty(); ++i) {
    usleep(10000);
  }
  REQUIRE(readFile(path) == "before\n");
  REQUIRE(std::rename(path.c_str(), rotated.c_str()) == 0);
  log->reopen();
  for (int i = 0; i < 1000 && access(path.c_str(), F_OK) != 0; ++i) {
    usleep(10000);
  }
  REQUIRE(access(path.c_str(), F_OK) == 0);
  sink->append("after\n");
  log->stop();
  CHECK(readFile(rotated) == "before\n");
  CHECK(readFile(path) == "after\n");
  std::remove(path.c_str());
  std::remove(rotated.c_str());
}

TEST_CASE("AccessLog::open reports a path it cannot open") {
  std::string error;
  CHECK(AccessLog::open("/nonexistent-dir/access.log", &error) == nullptr);
  CHECK(error.find("/nonexistent-dir/access.log") != std::string::npos);
}

}  // namespace balancer

namespace balancer {

TEST_CASE("config: access_log at the top and per listener") {
  const char* base = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
  - { name: quiet, address: 127.0.0.1:0, access_log: false }
upstreams:
  app: { backends: [{ address: 127.0.0.1:7101 }] }
routes:
  - { match: { path_prefix: / }, upstream: app }
)";
  ConfigResult r = loadConfigString(std::string("access_log: { path: /var/log/lb.log }\n") + base);
  REQUIRE(r.config);
  REQUIRE(r.config->access_log);
  CHECK(r.config->access_log->path == "/var/log/lb.log");
  CHECK(r.config->listeners[0].access_log);
  CHECK_FALSE(r.config->listeners[1].access_log);

  r = loadConfigString(base);
  REQUIRE(r.config);
  CHECK_FALSE(r.config->access_log);  // off unless configured

  r = loadConfigString(std::string("access_log: { enabled: false, path: stdout }\n") + base);
  REQUIRE(r.config);
  CHECK_FALSE(r.config->access_log);

  r = loadConfigString(std::string("access_log: { format: text }\n") + base);
  CHECK_FALSE(r.config);
  r = loadConfigString(std::string("access_log: { paht: x }\n") + base);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].line == 1);
}

}  // namespace balancer
