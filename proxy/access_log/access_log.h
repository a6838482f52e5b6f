// A worker's side of the access log: lines go into a per-worker buffer (no locks on the
// request path) that is handed to the process's AccessLogFile when full, on a timer, and
// whenever the process asks (SIGUSR1, reload, shutdown).
#pragma once

#include <memory>
#include <string>

#include "net/loop.h"
#include "net/timer.h"
#include "proxy/access_log/access_line.h"
#include "proxy/access_log/access_log_file.h"

namespace ringway::proxy {

class AccessLog {
 public:
  // Starts the flush timer on `loop`. REQUIRES: runs on the loop's thread.
  AccessLog(net::Loop& loop, std::shared_ptr<AccessLogFile> file, size_t buffer_bytes,
            base::Millis flush_every);
  // Hands any buffered lines to the file.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  void write(const AccessEntry& entry);
  // Hands the buffered lines (if any) to the writer thread; never waits for I/O.
  void flush();
  const std::shared_ptr<AccessLogFile>& file() const { return file_; }

 private:
  void on_timer();

  net::Loop& loop_;
  std::shared_ptr<AccessLogFile> file_;
  size_t buffer_bytes_;
  base::Millis flush_every_;
  std::string buffer_;
  size_t lines_ = 0;
  TimeFormatter time_;
  net::Timer timer_;
};

}  // namespace ringway::proxy
