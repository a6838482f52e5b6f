// The access log's one writer per process: workers hand it whole buffers of lines, a thread
// of its own does the write(2) calls, so a slow or full disk never stalls an event loop.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "metrics/families.h"

namespace ringway::proxy {

class AccessLogFile {
 public:
  // `path` is a file or "stdout". `errors` is ringway_access_log_errors_total: it counts
  // lines lost, to a failed write (ENOSPC, EIO...) or to a full queue.
  AccessLogFile(std::string path, metrics::Counter errors);
  // Writes everything already queued (bounded by kSyncTimeoutMs), then stops the thread.
  ~AccessLogFile();
  AccessLogFile(const AccessLogFile&) = delete;
  AccessLogFile& operator=(const AccessLogFile&) = delete;

  // Opens the file (O_APPEND|O_CREAT, 0640) and starts the writer. Call once, before any
  // submit. Returns: false with *error when the file cannot be opened.
  bool start(std::string* error);
  const std::string& path() const { return path_; }

  // Any thread: queues `buffer` (whole lines, `lines` of them) for writing and leaves a
  // recycled empty buffer in its place. Never waits for I/O: when kMaxQueued buffers are
  // already waiting, the lines are dropped and counted instead.
  void submit(std::string& buffer, size_t lines);
  // Any thread: after everything submitted so far is written, reopen the path (SIGUSR1,
  // after logrotate renamed the file). Lines already queued go to the old file.
  void reopen();
  // Blocks (not on an event loop!) until everything submitted before the call is written,
  // at most kSyncTimeoutMs. Returns: false on timeout.
  bool sync();

  static constexpr size_t kMaxQueued = 64;
  static constexpr int kSyncTimeoutMs = 5000;

 private:
  struct Item {
    std::string data;
    size_t lines = 0;
    bool reopen = false;
  };
  void run();
  void write_item(Item& item);
  void do_reopen();

  const std::string path_;
  metrics::Counter errors_;
  int fd_ = -1;
  bool owns_fd_ = false;
  bool failing_ = false;  // log a write error once per episode, not once per buffer

  std::mutex mu_;
  std::condition_variable wake_, written_;
  std::deque<Item> queue_;
  std::vector<std::string> spares_;
  uint64_t submitted_ = 0, done_ = 0;  // items, for sync()
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ringway::proxy
