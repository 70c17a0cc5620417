#include "balancer/access_log/access_log.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log/log.h"

namespace balancer {

namespace {

constexpr auto kFlushInterval = std::chrono::milliseconds(100);

int openLogFile(const std::string& path, std::string* error) {
  if (path == "stdout") {
    return STDOUT_FILENO;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0 && error != nullptr) {
    *error = path + ": " + strerror(errno);
  }
  return fd;
}

}  // namespace

void AccessLogSink::append(std::string_view lines) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.size() + lines.size() > kMaxPendingBytes) {
      log_->dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_.append(lines);
    if (pending_.size() >= kWakeBytes && !woke_writer_) {
      woke_writer_ = true;
      wake = true;
    }
  }
  if (wake) {
    log_->wake();
  }
}

std::unique_ptr<AccessLog> AccessLog::open(const std::string& path, std::string* error) {
  int fd = openLogFile(path, error);
  if (fd < 0) {
    return nullptr;
  }
  return std::unique_ptr<AccessLog>(new AccessLog(path, fd));
}

AccessLog::~AccessLog() {
  stop();
  if (fd_ > STDERR_FILENO) {
    ::close(fd_);
  }
}

AccessLogSink* AccessLog::addSink() {
  sinks_.push_back(std::make_unique<AccessLogSink>(this));
  batches_.emplace_back();
  return sinks_.back().get();
}

void AccessLog::start() {
  thread_ = std::thread([this] { run(); });
}

void AccessLog::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void AccessLog::reopen() {
  reopen_.store(true);
  wake();
}

void AccessLog::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_ = true;
  }
  wake_cv_.notify_one();
}

void AccessLog::run() {
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_cv_.wait_for(lock, kFlushInterval, [this] { return wake_ || stop_; });
      wake_ = false;
      stopping = stop_;
    }
    if (reopen_.exchange(false)) {
      reopenFile();
    }
    flush();
    if (stopping) {
      return;
    }
  }
}

void AccessLog::flush() {
  std::vector<iovec> iov;
  iov.reserve(sinks_.size());
  size_t total = 0;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    AccessLogSink& sink = *sinks_[i];
    std::string& batch = batches_[i];
    batch.clear();  // keeps its capacity: swapped back in, it takes the next lines
    {
      std::lock_guard<std::mutex> lock(sink.mutex_);
      batch.swap(sink.pending_);
      sink.woke_writer_ = false;
    }
    if (!batch.empty()) {
      iov.push_back({batch.data(), batch.size()});
      total += batch.size();
    }
  }
  if (total == 0 || fd_ < 0) {
    return;
  }
  // One writev for the whole batch; a short write (a full disk, a pipe) continues from where
  // it stopped.
  size_t first = 0;
  while (first < iov.size()) {
    ssize_t n = ::writev(fd_, iov.data() + first, static_cast<int>(iov.size() - first));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      LOG_ERROR("access_log: write to %s failed: %s", path_.c_str(), strerror(errno));
      return;
    }
    auto left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < iov.size()) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
}

void AccessLog::reopenFile() {
  if (path_ == "stdout") {
    return;
  }
  std::string error;
  int fd = openLogFile(path_, &error);
  if (fd < 0) {
    LOG_ERROR("access_log: cannot reopen %s; writing on to the old file", error.c_str());
    return;
  }
  ::close(fd_);
  fd_ = fd;
  LOG_INFO("access_log: reopened %s", path_.c_str());
}

}  // namespace balancer
