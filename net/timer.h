// One-shot timers kept in a binary min-heap; each Timer knows its heap slot, so cancel
// and re-arm are O(log n) with no allocation.
#pragma once

#include <functional>
#include <vector>

#include "base/clock.h"

namespace ringway::net {

class Timer {
 public:
  Timer() = default;
  explicit Timer(std::function<void()> fire) : fire_(std::move(fire)) {}
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void set_callback(std::function<void()> fire) { fire_ = std::move(fire); }
  bool armed() const { return slot_ >= 0; }
  base::TimePoint deadline() const { return deadline_; }

 private:
  friend class TimerSet;
  std::function<void()> fire_;
  base::TimePoint deadline_;
  long slot_ = -1;
};

class TimerSet {
 public:
  // Arms (or re-arms) `t` to fire at `deadline`.
  void add(Timer* t, base::TimePoint deadline);
  void cancel(Timer* t);
  // Fires every timer whose deadline <= now (each exactly once; a callback may re-arm).
  void fire_due(base::TimePoint now);
  // Returns: ms until the earliest deadline (>= 0), or -1 when no timer is armed.
  long next_wait(base::TimePoint now) const;
  size_t size() const { return heap_.size(); }

 private:
  void sift_up(size_t i);
  void sift_down(size_t i);
  void place(size_t i, Timer* t);
  std::vector<Timer*> heap_;
};

}  // namespace ringway::net
