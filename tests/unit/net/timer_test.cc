// Tests for net/timer.*: TimerSet ordering, cancel, re-arm (earlier and later), callbacks that
// re-arm or cancel, next_wait, and a randomized heap check against a sorted model.
#include "net/timer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

namespace ringway::net {
namespace {

base::TimePoint at(base::Millis ms) {
  return base::TimePoint{ms};
}

// Timers that record their id into a shared log when they fire.
struct Timers {
  explicit Timers(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      t.push_back(std::make_unique<Timer>([this, i] { fired.push_back(static_cast<int>(i)); }));
    }
  }
  Timer* operator[](size_t i) { return t[i].get(); }
  std::vector<std::unique_ptr<Timer>> t;
  std::vector<int> fired;
};

TEST(TimerSet, EmptySetHasNoWait) {
  TimerSet set;
  EXPECT_EQ(set.next_wait(at(0)), -1);
  EXPECT_EQ(set.size(), 0u);
  set.fire_due(at(1000000));  // nothing to do
}

TEST(TimerSet, FiresDueTimersInDeadlineOrderOnlyOnce) {
  TimerSet set;
  Timers t(5);
  set.add(t[0], at(50));
  set.add(t[1], at(10));
  set.add(t[2], at(40));
  set.add(t[3], at(20));
  set.add(t[4], at(30));
  EXPECT_EQ(set.size(), 5u);
  EXPECT_TRUE(t[0]->armed());
  EXPECT_EQ(t[0]->deadline().ms, 50);
  set.fire_due(at(9));
  EXPECT_TRUE(t.fired.empty());
  set.fire_due(at(30));  // deadline <= now fires
  EXPECT_EQ(t.fired, (std::vector<int>{1, 3, 4}));
  EXPECT_FALSE(t[1]->armed());
  EXPECT_EQ(set.size(), 2u);
  set.fire_due(at(30));
  EXPECT_EQ(t.fired.size(), 3u);
  set.fire_due(at(1000));
  EXPECT_EQ(t.fired, (std::vector<int>{1, 3, 4, 2, 0}));
  EXPECT_EQ(set.size(), 0u);
  EXPECT_EQ(set.next_wait(at(1000)), -1);
}

TEST(TimerSet, NextWaitIsTimeToEarliestDeadline) {
  TimerSet set;
  Timers t(2);
  set.add(t[0], at(500));
  set.add(t[1], at(120));
  EXPECT_EQ(set.next_wait(at(100)), 20);
  EXPECT_EQ(set.next_wait(at(120)), 0);
  EXPECT_EQ(set.next_wait(at(300)), 0);  // overdue: never negative
  set.cancel(t[1]);
  EXPECT_EQ(set.next_wait(at(100)), 400);
}

TEST(TimerSet, CancelRemovesOnlyThatTimer) {
  TimerSet set;
  Timers t(4);
  for (size_t i = 0; i < 4; ++i) set.add(t[i], at(10 * static_cast<base::Millis>(i + 1)));
  set.cancel(t[1]);  // a middle slot
  EXPECT_FALSE(t[1]->armed());
  EXPECT_EQ(set.size(), 3u);
  set.cancel(t[1]);  // not armed: no-op
  EXPECT_EQ(set.size(), 3u);
  set.cancel(t[3]);  // the last slot
  set.fire_due(at(100));
  EXPECT_EQ(t.fired, (std::vector<int>{0, 2}));
}

TEST(TimerSet, CancelNeverArmedIsNoOp) {
  TimerSet set;
  Timers t(2);
  set.add(t[0], at(5));
  set.cancel(t[1]);
  EXPECT_EQ(set.size(), 1u);
  set.fire_due(at(5));
  EXPECT_EQ(t.fired, (std::vector<int>{0}));
}

TEST(TimerSet, ReArmMovesDeadlineEarlierAndLater) {
  TimerSet set;
  Timers t(3);
  set.add(t[0], at(10));
  set.add(t[1], at(20));
  set.add(t[2], at(30));
  set.add(t[2], at(5));   // earlier: now first
  set.add(t[0], at(40));  // later: now last
  EXPECT_EQ(set.size(), 3u);
  EXPECT_EQ(t[2]->deadline().ms, 5);
  EXPECT_EQ(set.next_wait(at(0)), 5);
  set.fire_due(at(100));
  EXPECT_EQ(t.fired, (std::vector<int>{2, 1, 0}));
}

TEST(TimerSet, FiredTimerCanBeArmedAgain) {
  TimerSet set;
  Timers t(1);
  set.add(t[0], at(10));
  set.fire_due(at(10));
  set.add(t[0], at(20));
  EXPECT_TRUE(t[0]->armed());
  set.fire_due(at(15));
  set.fire_due(at(20));
  EXPECT_EQ(t.fired, (std::vector<int>{0, 0}));
}

TEST(TimerSet, CallbackMayReArmItselfForLater) {
  TimerSet set;
  int count = 0;
  Timer periodic;
  periodic.set_callback([&] {
    ++count;
    set.add(&periodic, at(100 * (count + 1)));
  });
  set.add(&periodic, at(100));
  set.fire_due(at(100));
  EXPECT_EQ(count, 1);
  EXPECT_EQ(periodic.deadline().ms, 200);
  set.fire_due(at(350));  // due once at 200; the re-arm to 300 is due too
  EXPECT_EQ(count, 3);
  EXPECT_EQ(periodic.deadline().ms, 400);
  EXPECT_EQ(set.size(), 1u);
  set.cancel(&periodic);
}

TEST(TimerSet, CallbackMayCancelAnotherDueTimer) {
  TimerSet set;
  Timers t(1);
  Timer canceller([&] { set.cancel(t[0]); });
  set.add(&canceller, at(10));
  set.add(t[0], at(10 + 1));
  set.fire_due(at(20));
  EXPECT_TRUE(t.fired.empty());
  EXPECT_EQ(set.size(), 0u);
}

TEST(TimerSet, TimerWithoutCallbackJustDisarms) {
  TimerSet set;
  Timer bare;
  set.add(&bare, at(1));
  set.fire_due(at(1));
  EXPECT_FALSE(bare.armed());
}

TEST(TimerSet, EqualDeadlinesAllFire) {
  TimerSet set;
  Timers t(6);
  for (size_t i = 0; i < 6; ++i) set.add(t[i], at(7));
  set.fire_due(at(7));
  std::vector<int> got = t.fired;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(TimerSet, RandomizedAgainstSortedModel) {
  std::mt19937 rng(12345);
  constexpr size_t kN = 2000;
  TimerSet set;
  Timers t(kN);
  std::vector<base::Millis> deadline(kN, -1);  // model: -1 = not armed
  for (int op = 0; op < 20000; ++op) {
    size_t i = rng() % kN;
    if (rng() % 4 == 0) {
      set.cancel(t[i]);
      deadline[i] = -1;
    } else {
      base::Millis d = static_cast<base::Millis>(rng() % 100000);
      set.add(t[i], at(d));
      deadline[i] = d;
    }
  }
  size_t armed = 0;
  for (size_t i = 0; i < kN; ++i) {
    EXPECT_EQ(t[i]->armed(), deadline[i] >= 0) << i;
    armed += deadline[i] >= 0;
  }
  ASSERT_EQ(set.size(), armed);
  // Fire in steps: each step fires exactly the model's timers with deadline <= now, in
  // non-decreasing deadline order.
  std::vector<int> expect_all;
  for (base::Millis now = 0; now < 100000 + 997; now += 997) {
    t.fired.clear();
    set.fire_due(at(now));
    std::vector<int> expect;
    for (size_t i = 0; i < kN; ++i) {
      if (deadline[i] >= 0 && deadline[i] <= now) {
        expect.push_back(static_cast<int>(i));
        deadline[i] = -1;
      }
    }
    std::vector<int> got = t.fired;
    for (size_t k = 1; k < got.size(); ++k) {
      ASSERT_LE(t[static_cast<size_t>(got[k - 1])]->deadline().ms,
                t[static_cast<size_t>(got[k])]->deadline().ms);
    }
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, expect) << "now=" << now;
  }
  EXPECT_EQ(set.size(), 0u);
}

}  // namespace
}  // namespace ringway::net
