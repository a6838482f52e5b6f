// Worker threads, one event loop each (created on its own thread), and the signal plumbing
// the three binaries share: signals are blocked in workers and awaited by the main thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/loop.h"

namespace ringway::net {

class WorkerPool {
 public:
  // Runs on each worker thread after its loop exists. Returns: false with *error to abort
  // start-up (e.g. a listener that cannot bind).
  using Setup = std::function<bool(size_t index, Loop& loop, std::string* error)>;

  ~WorkerPool();

  // Starts n workers one after another, each after the previous one's `setup` finished. Returns: false with *error if a
  // loop could not be created or a setup failed (all started workers are stopped again).
  bool start(size_t n, const LoopOptions& options, Setup setup, std::string* error);

  // The backend every worker runs ("io_uring" / "epoll") and, when auto fell back, why.
  const std::string& backend() const { return backend_; }
  const std::string& fallback_reason() const { return fallback_reason_; }
  size_t size() const { return loops_.size(); }

  // Runs fn(index, loop) on every worker's loop thread (asynchronously).
  void post_all(const std::function<void(size_t, Loop&)>& fn);
  void stop();
  void join();

 private:
  std::vector<std::thread> threads_;
  std::vector<Loop*> loops_;
  std::vector<std::unique_ptr<Loop>> owned_;  // created on the worker threads
  std::string backend_;
  std::string fallback_reason_;
};

}  // namespace ringway::net
