// balancer: an HTTP/1.1 reverse proxy and load balancer.
//   balancer -c FILE       run with a configuration
//   balancer -t -c FILE    check a configuration: exit 0, or 1 with FILE:LINE:COLUMN: message
//   balancer --version
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "balancer/config.h"
#include "balancer/server/server.h"
#include "balancer/snapshot.h"
#include "common/log/log.h"

#ifndef BALANCER_VERSION
#define BALANCER_VERSION "0.0.0"
#endif

namespace {

void usage(FILE* out) {
  fprintf(out,
          "usage: balancer -c FILE        run with the configuration in FILE\n"
          "       balancer -t -c FILE     check the configuration and exit\n"
          "       balancer --version\n");
}

// Each client and upstream connection is a descriptor; 10,000 clients need more than the
// usual soft limit of 1024.
void raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-c" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg == "-c") {
      fprintf(stderr, "balancer: -c needs the configuration file: -c FILE\n");
      usage(stderr);
      return 2;
    } else if (arg == "-t") {
      check_only = true;
    } else if (arg == "--version" || arg == "-v") {
      printf("balancer %s\n", BALANCER_VERSION);
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "balancer: unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (config_path.empty()) {
    usage(stderr);
    return 2;
  }

  balancer::ConfigResult result = balancer::loadConfigFile(config_path);
  for (const auto& error : result.errors) {
    fprintf(stderr, "%s\n", balancer::formatConfigError(config_path, error).c_str());
  }
  if (!result.config) {
    return 1;
  }
  if (check_only) {
    printf("%s: configuration ok\n", config_path.c_str());
    return 0;
  }

  signal(SIGPIPE, SIG_IGN);
  raiseFileLimit();
  auto snapshot = std::make_unique<balancer::Snapshot>(std::move(*result.config));
  balancer::Server server(std::move(snapshot));
  server.setConfigPath(config_path);
  return server.run();
}
