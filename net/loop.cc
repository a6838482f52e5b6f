// Backend selection (HAProxy-style: try the preferred poller, fall back with a reason) and
// the parts of Loop shared by both backends: posted tasks, stop, timers.
#include "net/loop.h"

#include <cstdlib>

#include "net/buffer_pool.h"
#include "net/loop_backends.h"

namespace ringway::net {

bool parse_io_mode(std::string_view text, IoMode* out) {
  if (text == "auto") {
    *out = IoMode::kAuto;
  } else if (text == "io_uring") {
    *out = IoMode::kIoUring;
  } else if (text == "epoll") {
    *out = IoMode::kEpoll;
  } else {
    return false;
  }
  return true;
}

const char* io_mode_name(IoMode mode) {
  switch (mode) {
    case IoMode::kAuto: return "auto";
    case IoMode::kIoUring: return "io_uring";
    case IoMode::kEpoll: return "epoll";
  }
  return "?";
}

std::unique_ptr<Loop> Loop::create(const LoopOptions& options, std::string* fallback_reason,
                                   std::string* error) {
  if (fallback_reason) fallback_reason->clear();
  std::string why;
  if (options.mode == IoMode::kIoUring || options.mode == IoMode::kAuto) {
    if (auto loop = make_uring_loop(options, &why)) return loop;
    if (options.mode == IoMode::kIoUring) {
      if (error) *error = "io_uring unavailable: " + why;
      return nullptr;
    }
    if (fallback_reason) *fallback_reason = why;
  }
  auto loop = make_epoll_loop(options, &why);
  if (!loop && error) *error = "epoll unavailable: " + why;
  return loop;
}

Loop::Loop() : now_(base::Clock::now()) {
  trim_buffers_.set_callback([] { BufferPool::trim(); });
}

void Loop::stop() {
  stop_.store(true, std::memory_order_release);
  wake();
}

void Loop::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(task));
    has_posted_.store(true, std::memory_order_release);
  }
  wake();
}

int Loop::run_housekeeping() {
  if (has_posted_.load(std::memory_order_acquire)) {
    {
      std::lock_guard<std::mutex> lock(post_mu_);
      running_.swap(posted_);
      has_posted_.store(false, std::memory_order_relaxed);
    }
    for (auto& task : running_) task();
    running_.clear();
  }
  refresh_clock();
  timers_.fire_due(now_);
  return arm_trim_and_next_wait();
}

int Loop::arm_trim_and_next_wait() {
  // Only while this thread's pool holds more idle blocks than its floor: an idle loop that
  // has nothing to give back sleeps without a timer.
  if (BufferPool::trim_wanted() && !trim_buffers_.armed()) {
    timers_.add(&trim_buffers_, now_ + base::Millis(1000));
  }
  return static_cast<int>(timers_.next_wait(now_));
}

}  // namespace ringway::net
