// Shared by runtime tests: every test that touches a loop runs on both backends, on a loop
// thread of its own (LoopThread).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "net/loop.h"

namespace ringway::net {

inline std::string backend_test_name(const ::testing::TestParamInfo<IoMode>& p) {
  return p.param == IoMode::kIoUring ? "IoUring" : "Epoll";
}

#define RINGWAY_INSTANTIATE_FOR_BACKENDS(Suite)                                            \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                \
                           ::testing::Values(::ringway::net::IoMode::kIoUring,             \
                                             ::ringway::net::IoMode::kEpoll),              \
                           ::ringway::net::backend_test_name)

// A loop running on its own thread. An io_uring ring with SINGLE_ISSUER belongs to the thread
// that created it, so the loop is created on the thread that runs it.
class LoopThread {
 public:
  ~LoopThread() { stop(); }

  // Returns: the loop, or nullptr (with a test failure) when the backend cannot start.
  // send_zc: LoopOptions::send_zc (io_uring zero-copy sends).
  Loop* start(IoMode mode, bool send_zc = false) {
    std::atomic<bool> ready{false};
    thread_ = std::thread([this, mode, send_zc, &ready] {
      LoopOptions o;
      o.mode = mode;
      o.send_zc = send_zc;
      o.recv_buffers = 64;
      o.recv_buffer_size = 4096;
      std::string fallback, error;
      loop_ = Loop::create(o, &fallback, &error);
      EXPECT_NE(loop_, nullptr) << error;
      if (loop_) {
        EXPECT_STREQ(loop_->backend_name(), io_mode_name(mode));
      }
      ready = true;
      if (loop_) loop_->run();
    });
    while (!ready) std::this_thread::yield();
    return loop_.get();
  }
  // Runs fn on the loop thread and waits for it.
  void on_loop(const std::function<void()>& fn) {
    std::atomic<bool> done{false};
    loop_->post([&] {
      fn();
      done = true;
    });
    while (!done) std::this_thread::yield();
  }
  bool running() const { return thread_.joinable(); }
  // Stops the loop and joins its thread (idempotent).
  void stop() {
    if (!thread_.joinable()) return;
    loop_->stop();
    thread_.join();
  }
  Loop* loop() { return loop_.get(); }

 private:
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace ringway::net
