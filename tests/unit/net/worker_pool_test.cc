// Tests for net/worker_pool.*, on both loop backends: N workers each with its own loop and
// thread, setups run one after another, a failed setup names its worker and stops the others,
// post_all reaches every loop on its own thread, stop/join and the destructor end the threads.
#include "net/worker_pool.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/net/backend_param.h"

namespace ringway::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

struct SetupRecord {
  size_t index;
  Loop* loop;
  std::thread::id thread;
};

class WorkerPoolTest : public ::testing::TestWithParam<IoMode> {
 protected:
  LoopOptions options() const {
    LoopOptions o;
    o.mode = GetParam();
    o.recv_buffers = 16;
    o.recv_buffer_size = 4096;
    return o;
  }
  // A setup that records where it ran and fails for index `fail_at` (if any).
  WorkerPool::Setup recording_setup(long fail_at = -1) {
    return [this, fail_at](size_t index, Loop& loop, std::string* error) {
      std::lock_guard<std::mutex> lock(mu_);
      setups_.push_back({index, &loop, std::this_thread::get_id()});
      if (static_cast<long>(index) == fail_at) {
        *error = "bind 127.0.0.1:1: Permission denied";
        return false;
      }
      return true;
    };
  }
  std::vector<SetupRecord> setups() {
    std::lock_guard<std::mutex> lock(mu_);
    return setups_;
  }

  std::mutex mu_;
  std::vector<SetupRecord> setups_;
};

TEST_P(WorkerPoolTest, StartsWorkersInOrderEachWithItsOwnLoopAndThread) {
  WorkerPool pool;
  std::string error;
  ASSERT_TRUE(pool.start(3, options(), recording_setup(), &error)) << error;
  EXPECT_EQ(pool.size(), 3u);
  EXPECT_EQ(pool.backend(), io_mode_name(GetParam()));
  EXPECT_EQ(pool.fallback_reason(), "");
  std::vector<SetupRecord> s = setups();
  ASSERT_EQ(s.size(), 3u);
  std::set<Loop*> loops;
  std::set<std::thread::id> threads;
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].index, i);  // one after another
    EXPECT_STREQ(s[i].loop->backend_name(), io_mode_name(GetParam()));
    EXPECT_NE(s[i].thread, std::this_thread::get_id());
    loops.insert(s[i].loop);
    threads.insert(s[i].thread);
  }
  EXPECT_EQ(loops.size(), 3u);
  EXPECT_EQ(threads.size(), 3u);
  pool.stop();
  pool.join();
}

TEST_P(WorkerPoolTest, SetupFailureReportsWorkerIndexAndStopsTheOthers) {
  WorkerPool pool;
  std::string error;
  auto t0 = SteadyClock::now();
  EXPECT_FALSE(pool.start(4, options(), recording_setup(/*fail_at=*/1), &error));
  EXPECT_EQ(error, "worker 1: bind 127.0.0.1:1: Permission denied");
  std::vector<SetupRecord> s = setups();
  ASSERT_EQ(s.size(), 2u);  // worker 2 and 3 never started
  EXPECT_EQ(s[0].index, 0u);
  EXPECT_EQ(s[1].index, 1u);
  EXPECT_EQ(pool.size(), 0u);
  // The already-running worker 0 was stopped and joined inside start().
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count(),
            2000);
}

TEST_P(WorkerPoolTest, FirstWorkerFailureIsWorkerZero) {
  WorkerPool pool;
  std::string error;
  EXPECT_FALSE(pool.start(2, options(), recording_setup(/*fail_at=*/0), &error));
  EXPECT_EQ(error, "worker 0: bind 127.0.0.1:1: Permission denied");
  EXPECT_EQ(setups().size(), 1u);
}

TEST_P(WorkerPoolTest, PostAllRunsOnEveryLoopOnItsThread) {
  WorkerPool pool;
  std::string error;
  ASSERT_TRUE(pool.start(3, options(), recording_setup(), &error)) << error;
  std::vector<SetupRecord> s = setups();
  std::mutex mu;
  std::vector<SetupRecord> ran;
  pool.post_all([&](size_t index, Loop& loop) {
    std::lock_guard<std::mutex> lock(mu);
    ran.push_back({index, &loop, std::this_thread::get_id()});
  });
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (ran.size() == 3) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pool.stop();
  pool.join();
  ASSERT_EQ(ran.size(), 3u);
  std::set<size_t> seen;
  for (const SetupRecord& r : ran) {
    ASSERT_LT(r.index, 3u);
    seen.insert(r.index);
    EXPECT_EQ(r.loop, s[r.index].loop);
    EXPECT_EQ(r.thread, s[r.index].thread);
  }
  EXPECT_EQ(seen.size(), 3u);
}

TEST_P(WorkerPoolTest, StopAndJoinEndEveryThread) {
  WorkerPool pool;
  std::string error;
  ASSERT_TRUE(pool.start(2, options(), recording_setup(), &error)) << error;
  auto t0 = SteadyClock::now();
  pool.stop();
  pool.join();  // returns only when both run() calls returned
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count(),
            2000);
  pool.join();  // idempotent
  pool.stop();  // safe after join
}

TEST_P(WorkerPoolTest, DestructorStopsRunningWorkers) {
  std::atomic<int> ran{0};
  auto t0 = SteadyClock::now();
  {
    WorkerPool pool;
    std::string error;
    ASSERT_TRUE(pool.start(2, options(), recording_setup(), &error)) << error;
    pool.post_all([&](size_t, Loop&) { ++ran; });
    for (int i = 0; i < 400 && ran.load() < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  EXPECT_EQ(ran.load(), 2);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count(),
            3000);
}

RINGWAY_INSTANTIATE_FOR_BACKENDS(WorkerPoolTest);

TEST(WorkerPoolStart, LoopCreationFailureNamesTheWorker) {
  setenv("RINGWAY_IO_URING_FAIL", "EPERM", 1);
  WorkerPool pool;
  LoopOptions o;
  o.mode = IoMode::kIoUring;
  std::string error;
  bool setup_called = false;
  bool ok = pool.start(
      2, o, [&](size_t, Loop&, std::string*) { return setup_called = true; }, &error);
  unsetenv("RINGWAY_IO_URING_FAIL");
  EXPECT_FALSE(ok);
  EXPECT_FALSE(setup_called);
  EXPECT_EQ(error.rfind("worker 0: io_uring unavailable: ", 0), 0u) << error;
  EXPECT_NE(error.find("EPERM"), std::string::npos) << error;
}

TEST(WorkerPoolStart, AutoModeReportsFallbackReason) {
  setenv("RINGWAY_IO_URING_FAIL", "EPERM", 1);
  WorkerPool pool;
  LoopOptions o;
  o.mode = IoMode::kAuto;
  o.recv_buffers = 16;
  std::string error;
  bool ok = pool.start(
      2, o, [](size_t, Loop&, std::string*) { return true; }, &error);
  unsetenv("RINGWAY_IO_URING_FAIL");
  ASSERT_TRUE(ok) << error;
  EXPECT_EQ(pool.backend(), "epoll");
  EXPECT_NE(pool.fallback_reason().find("EPERM"), std::string::npos) << pool.fallback_reason();
  pool.stop();
  pool.join();
}

}  // namespace
}  // namespace ringway::net
