// One worker's FIFO of requests waiting for an upstream connection slot (max_connections),
// with the queue timeout. Intrusive, so joining and leaving allocate nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "base/clock.h"
#include "metrics/families.h"
#include "net/loop.h"
#include "net/timer.h"
#include "proxy/upstream/connection_limit.h"

namespace ringway::proxy {

class RequestQueue;

// A request that can wait in a RequestQueue (the proxy connection).
class QueueWaiter {
 public:
  QueueWaiter() = default;
  QueueWaiter(const QueueWaiter&) = delete;
  QueueWaiter& operator=(const QueueWaiter&) = delete;
  virtual ~QueueWaiter() { leave_queue(); }

  // Its turn at the head of the queue, already taken out of it. Returns: false when still no
  // server has a free slot and nothing else happened: it goes back to the head, keeping its
  // place and its wait time. True when it went on (took a slot, or answered in its own way).
  virtual bool on_queue_turn() = 0;
  // Waited queue.timeout without getting a slot; already out of the queue.
  virtual void on_queue_timeout() = 0;

  bool queued() const { return queue_ != nullptr; }
  // When it joined the queue (Clock::now_ns); still set during on_queue_turn/_timeout.
  int64_t queued_since_ns() const { return since_ns_; }
  // Leaves the queue it waits in, if any (client gone, request answered otherwise).
  void leave_queue();

 private:
  friend class RequestQueue;
  RequestQueue* queue_ = nullptr;
  QueueWaiter* prev_ = nullptr;
  QueueWaiter* next_ = nullptr;
  base::TimePoint since_;
  int64_t since_ns_ = 0;
};

struct QueueMetrics {
  metrics::Gauge depth;         // ringway_upstream_queue_depth{upstream}
  metrics::Histogram wait;      // ringway_upstream_queue_wait_seconds{upstream}
  metrics::Counter full;        // ringway_upstream_queue_overflows_total{reason="full"}
  metrics::Counter timeout;     // ... {reason="timeout"}
};

class RequestQueue {
 public:
  // `loop` may be null (unit tests drive poll() themselves). `starving` runs every
  // kStarvingEveryMs while waiters remain: the hook that asks other workers to give back idle
  // connections. Not at once: in a burst every worker queues for a moment, and its own
  // finishing requests hand it connections; trimming then would only churn connections
  // (each close-and-reopen briefly shows the server one connection too many).
  RequestQueue(net::Loop* loop, std::shared_ptr<UpstreamSlots> shared, size_t shard,
               QueueMetrics metrics, std::function<void()> starving);
  ~RequestQueue();

  // queue.size (all workers together) and queue.timeout; a reload changes them for waiters
  // already queued too, none of which is dropped.
  void configure(uint32_t size, base::Millis timeout);
  base::Millis timeout() const { return timeout_; }

  // Appends `w` (REQUIRES: not queued). Returns: false, counting an overflow, when queue.size
  // requests already wait in all workers together.
  bool push(QueueWaiter* w, base::TimePoint now);
  // Takes `w` out (REQUIRES: queued here) without a turn: it no longer waits.
  void remove(QueueWaiter* w);
  // A slot may have come free: offer turns on the next loop turn rather than from inside the
  // caller (which is in the middle of finishing its own request).
  void kick();
  // Expires waiters past the timeout, then offers turns from the head until one finds no slot.
  void poll(base::TimePoint now);

  bool empty() const { return head_ == nullptr; }
  size_t size() const { return size_; }

  // How often a worker with waiters looks for slots that other workers freed (they cannot
  // wake it directly without a cross-thread post per released connection).
  static constexpr base::Millis kPollEveryMs = 1;
  static constexpr base::Millis kStarvingEveryMs = 50;

 private:
  void link_back(QueueWaiter* w);
  void link_front(QueueWaiter* w);
  void unlink(QueueWaiter* w);
  void arm(base::Millis after);

  net::Loop* loop_;
  std::shared_ptr<UpstreamSlots> shared_;
  size_t shard_;
  QueueMetrics metrics_;
  std::function<void()> starving_;
  net::Timer timer_;
  QueueWaiter* head_ = nullptr;
  QueueWaiter* tail_ = nullptr;
  size_t size_ = 0;
  uint32_t capacity_ = 1024;
  base::Millis timeout_ = 5000;
  base::TimePoint last_starving_;
};

}  // namespace ringway::proxy
