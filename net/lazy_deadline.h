// A deadline that moves often but fires rarely (idle and header timeouts): pushing it later
// only updates a number; the timer heap is touched when it gets earlier or when it fires.
#pragma once

#include <functional>

#include "net/loop.h"
#include "net/timer.h"

namespace ringway::net {

class LazyDeadline {
 public:
  explicit LazyDeadline(std::function<void()> on_due) : timer_(std::move(on_due)) {}

  // Moves the deadline to now + after.
  void set(Loop& loop, base::Millis after) {
    deadline_ = loop.now() + after;
    if (!timer_.armed() || deadline_ < timer_.deadline()) loop.add_timer(&timer_, after);
  }
  // Call first thing in the callback. Returns: true when the deadline really passed; false
  // when it was pushed later since the timer was armed (the timer is re-armed for it).
  bool due(Loop& loop) {
    if (loop.now() < deadline_) {
      loop.add_timer(&timer_, deadline_ - loop.now());
      return false;
    }
    return true;
  }
  void cancel(Loop& loop) { loop.cancel_timer(&timer_); }

 private:
  Timer timer_;
  base::TimePoint deadline_;
};

}  // namespace ringway::net
