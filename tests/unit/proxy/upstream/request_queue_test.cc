// Tests for proxy/upstream/request_queue.* and connection_limit.*: FIFO turns, a waiter that
// finds no slot keeps its place, timeouts, the shared size bound, cancel, and the slot counter.
#include "proxy/upstream/request_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "proxy/proxy_metrics.h"

namespace ringway::proxy {
namespace {

struct Waiter final : QueueWaiter {
  Waiter(std::string n, std::vector<std::string>* log, int* slots) : name(std::move(n)), log(log), slots(slots) {}
  bool on_queue_turn() override {
    if (*slots == 0) return false;
    --*slots;
    log->push_back(name);
    return true;
  }
  void on_queue_timeout() override { log->push_back(name + ":timeout"); }
  std::string name;
  std::vector<std::string>* log;
  int* slots;
};

class RequestQueueTest : public ::testing::Test {
 protected:
  std::unique_ptr<RequestQueue> make(uint32_t size, base::Millis timeout) {
    auto q = std::make_unique<RequestQueue>(
        nullptr, shared_, 0,
        QueueMetrics{metrics_.queue_depth.with({"u"}), metrics_.queue_wait.with({"u"}),
                     metrics_.queue_overflows.with({"u", "full"}),
                     metrics_.queue_overflows.with({"u", "timeout"})},
        nullptr);
    q->configure(size, timeout);
    return q;
  }
  metrics::Registry registry_{1};
  ProxyMetrics metrics_{registry_};
  std::shared_ptr<UpstreamSlots> shared_ = std::make_shared<UpstreamSlots>();
  std::vector<std::string> log_;
  int slots_ = 0;
};

TEST_F(RequestQueueTest, TurnsAreFifoAndAWaiterWithoutASlotKeepsItsPlace) {
  RequestQueue q(nullptr, shared_, 0, QueueMetrics{}, nullptr);
  q.configure(10, 1000);
  Waiter a("a", &log_, &slots_), b("b", &log_, &slots_), c("c", &log_, &slots_);
  ASSERT_TRUE(q.push(&a, base::TimePoint{0}));
  ASSERT_TRUE(q.push(&b, base::TimePoint{1}));
  ASSERT_TRUE(q.push(&c, base::TimePoint{2}));
  EXPECT_EQ(shared_->queued(), 3u);
  q.poll(base::TimePoint{10});  // no slot: nobody moves
  EXPECT_TRUE(log_.empty());
  EXPECT_EQ(q.size(), 3u);
  slots_ = 2;
  q.poll(base::TimePoint{20});
  EXPECT_EQ(log_, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(c.queued());
  EXPECT_EQ(shared_->queued(), 1u);
  // c still waits since t=2: its timeout counts from then, not from its failed turns.
  q.poll(base::TimePoint{1002});
  EXPECT_EQ(log_.back(), "c:timeout");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(shared_->queued(), 0u);
}

TEST_F(RequestQueueTest, SizeIsSharedAcrossWorkersAndOverflowsAreCounted) {
  std::unique_ptr<RequestQueue> q0 = make(2, 1000);
  RequestQueue& w0 = *q0;
  RequestQueue w1(nullptr, shared_, 0, QueueMetrics{}, nullptr);
  w1.configure(2, 1000);
  Waiter a("a", &log_, &slots_), b("b", &log_, &slots_), c("c", &log_, &slots_);
  EXPECT_TRUE(w0.push(&a, base::TimePoint{0}));
  EXPECT_TRUE(w1.push(&b, base::TimePoint{0}));
  EXPECT_FALSE(w0.push(&c, base::TimePoint{0}));  // two wait in all workers together
  EXPECT_FALSE(c.queued());
  EXPECT_EQ(metrics_.queue_overflows.with({"u", "full"}).value(), 1u);
  EXPECT_EQ(metrics_.queue_depth.with({"u"}).value(), 1);
  // Cancel (client gone): frees the place.
  a.leave_queue();
  EXPECT_FALSE(a.queued());
  EXPECT_TRUE(w0.push(&c, base::TimePoint{0}));
  w0.poll(base::TimePoint{1000});
  EXPECT_EQ(log_, (std::vector<std::string>{"c:timeout"}));
  EXPECT_EQ(metrics_.queue_overflows.with({"u", "timeout"}).value(), 1u);
  EXPECT_EQ(metrics_.queue_wait.with({"u"}).count(), 2u);
  b.leave_queue();
}

TEST_F(RequestQueueTest, ReconfigureKeepsWaiters) {
  std::unique_ptr<RequestQueue> q1 = make(1, 100);
  RequestQueue& q = *q1;
  Waiter a("a", &log_, &slots_);
  ASSERT_TRUE(q.push(&a, base::TimePoint{0}));
  q.configure(0, 5000);  // a reload: smaller queue, longer timeout
  q.poll(base::TimePoint{200});
  EXPECT_TRUE(a.queued());
  slots_ = 1;
  q.poll(base::TimePoint{300});
  EXPECT_EQ(log_, (std::vector<std::string>{"a"}));
}

TEST(ServerSlots, CountsUpToTheLimitAndZeroIsUnlimited) {
  ServerSlots s;
  EXPECT_TRUE(s.try_acquire(2));
  EXPECT_TRUE(s.try_acquire(2));
  EXPECT_FALSE(s.try_acquire(2));
  EXPECT_TRUE(s.try_acquire(0));
  EXPECT_EQ(s.open(), 3u);
  s.release();
  s.release();
  EXPECT_TRUE(s.try_acquire(2));
}

TEST(ConnectionLimits, SameNamesShareSlotsAndTrimSkipsTheAsker) {
  ConnectionLimits limits;
  auto a = limits.upstream("u")->server("h:1");
  auto b = limits.upstream("u")->server("h:1");
  EXPECT_EQ(a, b);
  EXPECT_NE(limits.upstream("v")->server("h:1"), a);
  std::vector<std::string> trimmed;
  limits.register_worker(0, [&](const std::string& u) { trimmed.push_back("0:" + u); });
  limits.register_worker(1, [&](const std::string& u) { trimmed.push_back("1:" + u); });
  limits.request_trim(0, "u");
  EXPECT_EQ(trimmed, (std::vector<std::string>{"1:u"}));
  limits.unregister_worker(1);
  limits.request_trim(0, "u");
  EXPECT_EQ(trimmed.size(), 1u);
}

}  // namespace
}  // namespace ringway::proxy
