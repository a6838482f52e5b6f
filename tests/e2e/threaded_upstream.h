// End-to-end test support: a small thread-per-connection HTTP upstream with a short listen
// backlog and a fixed service time, that counts how many connections it holds at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"

namespace ringway::e2e {

// Like a classic pre-forked/threaded app server: every connection costs a thread, and what
// does not fit the backlog is refused. Answers every request "200 ok" after `service_ms`
// (503 while set unhealthy), keeps connections alive, and records the peak concurrency: at
// each accept, the connections whose peers have not closed yet, plus the new one.
class ThreadedUpstream {
 public:
  // Returns with the server listening on 127.0.0.1 (port()); port() == 0 on failure.
  ThreadedUpstream(base::Millis service_ms, int backlog = 128);
  ~ThreadedUpstream();
  ThreadedUpstream(const ThreadedUpstream&) = delete;
  ThreadedUpstream& operator=(const ThreadedUpstream&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int open_now() const { return open_.load(); }
  int peak() const { return peak_.load(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t accepted() const { return accepted_.load(); }
  // While false every request (health checks too) gets 503.
  void set_healthy(bool healthy) { healthy_ = healthy; }
  void set_service_ms(base::Millis ms) { service_ms_ = ms; }
  // Monotonic ms of every request answered 200, in order.
  std::vector<base::Millis> ok_times() const;

 private:
  void accept_loop();
  void serve(int fd);
  // Connections whose peer has not closed yet (caller holds mu_).
  int held_by_peers() const;

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<base::Millis> service_ms_;
  std::atomic<bool> healthy_{true};
  std::atomic<bool> stop_{false};
  std::atomic<int> open_{0};
  std::atomic<int> peak_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<base::Millis> ok_times_;
  std::vector<int> live_;  // fds of connections being served, for the peak
};

}  // namespace ringway::e2e
