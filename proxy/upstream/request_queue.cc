// The waiting room in front of a connection-limited upstream: FIFO turns, timeouts, and the
// depth/wait/overflow metrics. Runs on its worker's thread only.
#include "proxy/upstream/request_queue.h"

namespace ringway::proxy {

void QueueWaiter::leave_queue() {
  if (queue_) queue_->remove(this);
}

RequestQueue::RequestQueue(net::Loop* loop, std::shared_ptr<UpstreamSlots> shared, size_t shard,
                           QueueMetrics metrics, std::function<void()> starving)
    : loop_(loop),
      shared_(std::move(shared)),
      shard_(shard),
      metrics_(std::move(metrics)),
      starving_(std::move(starving)),
      timer_([this] { poll(loop_->now()); }) {}

RequestQueue::~RequestQueue() {
  if (loop_) loop_->cancel_timer(&timer_);
  while (head_) remove(head_);
}

void RequestQueue::configure(uint32_t size, base::Millis timeout) {
  capacity_ = size;
  timeout_ = timeout;
  if (head_) kick();  // a larger limit or a shorter timeout may settle waiters now
}

bool RequestQueue::push(QueueWaiter* w, base::TimePoint now) {
  if (!shared_->enter_queue(capacity_)) {
    if (metrics_.full) metrics_.full.inc(shard_);
    return false;
  }
  const bool was_empty = head_ == nullptr;
  w->since_ = now;
  w->since_ns_ = base::Clock::now_ns();
  link_back(w);
  if (was_empty) {
    last_starving_ = now;
    arm(kPollEveryMs);
  }
  return true;
}

void RequestQueue::remove(QueueWaiter* w) {
  unlink(w);
  shared_->leave_queue();
  if (metrics_.wait) {
    metrics_.wait.observe(shard_, static_cast<double>(base::Clock::now_ns() - w->since_ns_) * 1e-9);
  }
}

void RequestQueue::kick() {
  if (loop_ && head_) arm(0);
}

void RequestQueue::poll(base::TimePoint now) {
  while (head_ && now - head_->since_ >= timeout_) {
    QueueWaiter* w = head_;
    remove(w);
    if (metrics_.timeout) metrics_.timeout.inc(shard_);
    w->on_queue_timeout();
  }
  // Bounded by the length at the start: a waiter whose attempt failed at once may queue
  // again at the tail, and must not get a second turn in the same poll.
  for (size_t n = size_; n > 0 && head_; --n) {
    QueueWaiter* w = head_;
    const base::TimePoint since = w->since_;
    const int64_t since_ns = w->since_ns_;
    unlink(w);
    shared_->leave_queue();
    if (!w->on_queue_turn()) {
      // Still no slot anywhere: back to the head, same place in line, same wait so far. The
      // shared count is re-entered unconditionally: this waiter was admitted already.
      shared_->enter_queue(UINT32_MAX);
      w->since_ = since;
      w->since_ns_ = since_ns;
      link_front(w);
      break;
    }
    if (metrics_.wait) {
      metrics_.wait.observe(shard_, static_cast<double>(base::Clock::now_ns() - since_ns) * 1e-9);
    }
  }
  if (head_) {
    if (starving_ && now - last_starving_ >= kStarvingEveryMs) {
      last_starving_ = now;
      starving_();
    }
    arm(kPollEveryMs);
  }
}

void RequestQueue::link_back(QueueWaiter* w) {
  w->queue_ = this;
  w->prev_ = tail_;
  w->next_ = nullptr;
  if (tail_) {
    tail_->next_ = w;
  } else {
    head_ = w;
  }
  tail_ = w;
  ++size_;
  if (metrics_.depth) metrics_.depth.add(shard_, 1);
}

void RequestQueue::link_front(QueueWaiter* w) {
  w->queue_ = this;
  w->prev_ = nullptr;
  w->next_ = head_;
  if (head_) {
    head_->prev_ = w;
  } else {
    tail_ = w;
  }
  head_ = w;
  ++size_;
  if (metrics_.depth) metrics_.depth.add(shard_, 1);
}

void RequestQueue::unlink(QueueWaiter* w) {
  if (w->prev_) {
    w->prev_->next_ = w->next_;
  } else {
    head_ = w->next_;
  }
  if (w->next_) {
    w->next_->prev_ = w->prev_;
  } else {
    tail_ = w->prev_;
  }
  w->prev_ = w->next_ = nullptr;
  w->queue_ = nullptr;
  --size_;
  if (metrics_.depth) metrics_.depth.add(shard_, -1);
}

void RequestQueue::arm(base::Millis after) {
  if (!loop_) return;
  if (!timer_.armed() || loop_->now() + after < timer_.deadline()) loop_->add_timer(&timer_, after);
}

}  // namespace ringway::proxy
