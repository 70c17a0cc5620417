#include "common/metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace metrics {

namespace {

double residentBytes() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) {
    resident = 0;
  }
  std::fclose(f);
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

double openFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  int n = 0;
  while (readdir(dir) != nullptr) {
    ++n;
  }
  closedir(dir);
  return n > 3 ? n - 3 : 0;  // ".", ".." and the directory's own descriptor
}

// Seconds since the epoch at which the process started, from /proc/self/stat's starttime.
double startTime() {
  FILE* f = std::fopen("/proc/self/stat", "r");
  if (f == nullptr) {
    return 0;
  }
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const char* p = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (buf[i] == ')') {
      p = buf + i + 1;
    }
  }
  if (p == nullptr) {
    return 0;
  }
  unsigned long long start_ticks = 0;
  // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
  // cstime priority nice threads itrealvalue starttime
  if (std::sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
                     "%*d %llu",
                  &start_ticks) != 1) {
    return 0;
  }
  double boot = 0;
  if (FILE* s = std::fopen("/proc/stat", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, s) != nullptr) {
      unsigned long long btime = 0;
      if (std::sscanf(line, "btime %llu", &btime) == 1) {
        boot = static_cast<double>(btime);
        break;
      }
    }
    std::fclose(s);
  }
  return boot + static_cast<double>(start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

void writeProcessMetrics(Exposition& out) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
  out.sample("process_cpu_seconds_total", {}, cpu);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out.sample("process_resident_memory_bytes", {}, residentBytes());
  out.family("process_open_fds", "gauge", "Open file descriptors.");
  out.sample("process_open_fds", {}, openFds());
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.family("process_max_fds", "gauge", "Maximum number of open file descriptors.");
    out.sample("process_max_fds", {}, static_cast<double>(limit.rlim_cur));
  }
  out.family("process_start_time_seconds", "gauge",
             "Start time of the process since the Unix epoch in seconds.");
  out.sample("process_start_time_seconds", {}, std::floor(startTime()));
}

}  // namespace metrics
