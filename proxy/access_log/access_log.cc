// Per-worker access log buffer: whole lines only, flushed by size, by a loop timer, or on
// request; the write itself happens on the AccessLogFile's thread.
#include "proxy/access_log/access_log.h"

namespace ringway::proxy {

AccessLog::AccessLog(net::Loop& loop, std::shared_ptr<AccessLogFile> file, size_t buffer_bytes,
                     base::Millis flush_every)
    : loop_(loop),
      file_(std::move(file)),
      buffer_bytes_(buffer_bytes),
      flush_every_(flush_every),
      timer_([this] { on_timer(); }) {
  buffer_.reserve(buffer_bytes_ + 4096);
  loop_.add_timer(&timer_, flush_every_);
}

AccessLog::~AccessLog() {
  loop_.cancel_timer(&timer_);
  flush();
}

void AccessLog::write(const AccessEntry& entry) {
  append_access_line(buffer_, entry, time_);
  ++lines_;
  // A line is appended whole, so a buffer may exceed the size by one line; it never splits.
  if (buffer_.size() >= buffer_bytes_) flush();
}

void AccessLog::flush() {
  if (lines_ == 0) return;
  file_->submit(buffer_, lines_);
  lines_ = 0;
  if (buffer_.capacity() < buffer_bytes_) buffer_.reserve(buffer_bytes_ + 4096);
}

void AccessLog::on_timer() {
  flush();
  loop_.add_timer(&timer_, flush_every_);
}

}  // namespace ringway::proxy
