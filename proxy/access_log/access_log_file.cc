// Writer thread of the access log: a bounded queue of filled buffers, written in order with
// O_APPEND so each buffer's whole lines land contiguously; reopen requests ride the queue.
#include "proxy/access_log/access_log_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/log.h"

namespace ringway::proxy {
namespace {

int open_path(const std::string& path, int* err) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  *err = fd < 0 ? errno : 0;
  return fd;
}

}  // namespace

AccessLogFile::AccessLogFile(std::string path, metrics::Counter errors)
    : path_(std::move(path)), errors_(errors) {}

AccessLogFile::~AccessLogFile() {
  if (thread_.joinable()) {
    sync();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

bool AccessLogFile::start(std::string* error) {
  if (path_ == "stdout") {
    fd_ = STDOUT_FILENO;
  } else {
    int err = 0;
    fd_ = open_path(path_, &err);
    if (fd_ < 0) {
      *error = "access_log " + path_ + ": " + strerror(err);
      return false;
    }
    owns_fd_ = true;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void AccessLogFile::submit(std::string& buffer, size_t lines) {
  if (buffer.empty()) return;
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      dropped = true;  // the disk is far behind: losing lines beats blocking the loop
    } else {
      queue_.push_back(Item{std::move(buffer), lines, false});
      ++submitted_;
      if (!spares_.empty()) {
        buffer = std::move(spares_.back());
        spares_.pop_back();
      } else {
        buffer = std::string();
      }
    }
  }
  if (dropped) {
    errors_.inc_shared(lines);
    buffer.clear();
    return;
  }
  wake_.notify_one();
}

void AccessLogFile::reopen() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Item item;
    item.reopen = true;
    queue_.push_back(std::move(item));  // never dropped: it carries no lines
    ++submitted_;
  }
  wake_.notify_one();
}

bool AccessLogFile::sync() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t want = submitted_;
  return written_.wait_for(lock, std::chrono::milliseconds(kSyncTimeoutMs),
                           [&] { return done_ >= want; });
}

void AccessLogFile::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ with nothing left
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (item.reopen) {
      do_reopen();
    } else {
      write_item(item);
    }
    lock.lock();
    if (!item.reopen && spares_.size() < kMaxQueued) {
      item.data.clear();
      spares_.push_back(std::move(item.data));
    }
    ++done_;
    written_.notify_all();
  }
}

void AccessLogFile::write_item(Item& item) {
  const char* p = item.data.data();
  size_t left = item.data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : EIO;
      // A partial write leaves the unwritten lines (and the torn one) lost.
      const uint64_t lost = static_cast<uint64_t>(std::count(p, p + left, '\n'));
      errors_.inc_shared(lost == 0 ? 1 : lost);
      if (!failing_) {
        base::log_error("access log " + path_ + ": write failed: " + strerror(err) +
                        " (lines are dropped and counted in ringway_access_log_errors_total)");
        failing_ = true;
      }
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (failing_) {
    base::log_info("access log " + path_ + ": writing again");
    failing_ = false;
  }
}

void AccessLogFile::do_reopen() {
  if (!owns_fd_) return;  // stdout: nothing to reopen
  int err = 0;
  const int fd = open_path(path_, &err);
  if (fd < 0) {
    // Keep writing to the old (renamed) file rather than losing lines.
    errors_.inc_shared();
    base::log_error("access log: cannot reopen " + path_ + ": " + strerror(err) +
                    " (still writing to the previous file)");
    return;
  }
  ::close(fd_);
  fd_ = fd;
  base::log_info("access log reopened: " + path_);
}

}  // namespace ringway::proxy
