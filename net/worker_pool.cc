// Worker threads with one loop each; start-up waits for every worker's setup to succeed.
// Workers start one after another so a failed bind stops start-up before traffic.
#include "net/worker_pool.h"

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace ringway::net {

WorkerPool::~WorkerPool() {
  stop();
  join();
}

bool WorkerPool::start(size_t n, const LoopOptions& options, Setup setup, std::string* error) {
  struct StartState {
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;
    bool failed = false;
    std::string error;
  } state;
  loops_.assign(n, nullptr);
  owned_.resize(n);
  std::vector<std::string> backends(n), reasons(n);
  for (size_t i = 0; i < n; ++i) {
    threads_.emplace_back([&, i, options, setup] {
      std::string fallback, err;
      std::unique_ptr<Loop> loop = Loop::create(options, &fallback, &err);
      bool ok = loop != nullptr;
      if (ok) {
        backends[i] = loop->backend_name();
        reasons[i] = fallback;
        ok = setup(i, *loop, &err);
      }
      {
        std::lock_guard<std::mutex> lock(state.mu);
        if (ok) {
          loops_[i] = loop.get();
          owned_[i] = std::move(loop);  // outlives the thread: stop() may still reach it
        } else if (!state.failed) {
          state.failed = true;
          state.error = "worker " + std::to_string(i) + ": " + err;
        }
        ++state.done;
        // Notify under the lock: start() may return and destroy `state` right after.
        state.cv.notify_all();
      }
      if (!ok) return;
      loops_[i]->run();
    });
    // One worker at a time: a later setup may depend on an earlier one (e.g. joining the
    // port an ephemeral bind picked).
    std::unique_lock<std::mutex> lock(state.mu);
    state.cv.wait(lock, [&] { return state.done == i + 1; });
    if (state.failed) break;
  }
  std::unique_lock<std::mutex> lock(state.mu);
  if (state.failed) {
    if (error) *error = state.error;
    lock.unlock();
    stop();
    join();
    loops_.clear();
    owned_.clear();
    return false;
  }
  backend_ = backends.empty() ? "" : backends[0];
  fallback_reason_ = reasons.empty() ? "" : reasons[0];
  return true;
}

void WorkerPool::post_all(const std::function<void(size_t, Loop&)>& fn) {
  for (size_t i = 0; i < loops_.size(); ++i) {
    Loop* loop = loops_[i];
    if (loop) loop->post([fn, i, loop] { fn(i, *loop); });
  }
}

void WorkerPool::stop() {
  for (Loop* loop : loops_) {
    if (loop) loop->stop();
  }
}

void WorkerPool::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace ringway::net
