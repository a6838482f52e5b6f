// Binary min-heap of Timer pointers ordered by deadline.
// Each Timer records its heap slot, so cancel and re-arm never search.
#include "net/timer.h"

namespace ringway::net {

void TimerSet::place(size_t i, Timer* t) {
  heap_[i] = t;
  t->slot_ = static_cast<long>(i);
}

void TimerSet::sift_up(size_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!(t->deadline_ < heap_[parent]->deadline_)) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerSet::sift_down(size_t i) {
  Timer* t = heap_[i];
  const size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->deadline_ < heap_[child]->deadline_) ++child;
    if (!(heap_[child]->deadline_ < t->deadline_)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

void TimerSet::add(Timer* t, base::TimePoint deadline) {
  if (t->armed()) {
    const bool earlier = deadline < t->deadline_;
    t->deadline_ = deadline;
    if (earlier) {
      sift_up(static_cast<size_t>(t->slot_));
    } else {
      sift_down(static_cast<size_t>(t->slot_));
    }
    return;
  }
  t->deadline_ = deadline;
  heap_.push_back(t);
  sift_up(heap_.size() - 1);
}

void TimerSet::cancel(Timer* t) {
  if (!t->armed()) return;
  size_t i = static_cast<size_t>(t->slot_);
  t->slot_ = -1;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  place(i, last);
  sift_down(i);
  sift_up(static_cast<size_t>(last->slot_));
}

void TimerSet::fire_due(base::TimePoint now) {
  while (!heap_.empty() && heap_[0]->deadline_ <= now) {
    Timer* t = heap_[0];
    cancel(t);
    if (t->fire_) t->fire_();
  }
}

long TimerSet::next_wait(base::TimePoint now) const {
  if (heap_.empty()) return -1;
  base::Millis d = heap_[0]->deadline_ - now;
  return d < 0 ? 0 : static_cast<long>(d);
}

}  // namespace ringway::net
