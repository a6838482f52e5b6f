// Cross-worker connection accounting per upstream server (max_connections) and the shared
// admission count of the upstream's request queue. Lock-free on the request path: atomics only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ringway::proxy {

// Open connections to one server, counted over all workers (a pooled idle connection holds
// its slot too: it is an open socket on the server).
class ServerSlots {
 public:
  // Takes a slot unless `limit` are open already (0 = unlimited, still counted).
  // Returns: true when the slot is taken; the caller owes one release().
  bool try_acquire(uint32_t limit) {
    uint32_t cur = open_.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && cur >= limit) return false;
    } while (!open_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel,
                                          std::memory_order_relaxed));
    return true;
  }
  void release() { open_.fetch_sub(1, std::memory_order_acq_rel); }
  uint32_t open() const { return open_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> open_{0};
};

// One upstream's shared state: its servers' slots and how many requests wait in the queues
// of all workers together (queue.size bounds the sum, as max_connections bounds the servers).
class UpstreamSlots {
 public:
  // The slots of server `label`, created on first use. Takes a mutex: call when membership
  // changes, never per request.
  std::shared_ptr<ServerSlots> server(const std::string& label);
  // Returns: the slots of `label` or nullptr (admin pages).
  std::shared_ptr<const ServerSlots> find(const std::string& label) const;

  // Queue admission. Returns: false (nothing taken) when `size` requests already wait.
  bool enter_queue(uint32_t size) {
    uint32_t cur = queued_.load(std::memory_order_relaxed);
    do {
      if (cur >= size) return false;
    } while (!queued_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel,
                                            std::memory_order_relaxed));
    return true;
  }
  void leave_queue() { queued_.fetch_sub(1, std::memory_order_acq_rel); }
  uint32_t queued() const { return queued_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint32_t> queued_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<ServerSlots>> servers_;
};

// The process-wide registry, owned by the proxy server and handed to every worker.
// Also the one cross-worker signal of the queue: a worker whose requests wait asks the others
// to close their idle connections to that upstream, because an idle connection parked in
// another worker holds a slot no waiter could otherwise ever get.
class ConnectionLimits {
 public:
  using TrimFn = std::function<void(const std::string& upstream)>;

  std::shared_ptr<UpstreamSlots> upstream(const std::string& name);
  std::shared_ptr<const UpstreamSlots> find(const std::string& name) const;

  // Worker `index` registers how to reach it (its trim posts to its own loop).
  void register_worker(size_t index, TrimFn trim);
  void unregister_worker(size_t index);
  // Asks every worker but `from` to close its idle connections to `upstream`.
  void request_trim(size_t from, const std::string& upstream);

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<UpstreamSlots>> upstreams_;
  std::vector<TrimFn> workers_;
};

}  // namespace ringway::proxy
