// Tests for base/object_pool.h: reuse before allocation, the live list under release in any
// order, the max_idle bound (trim_idle destroys idle objects past it), and clear().
#include "base/object_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

namespace ringway::base {
namespace {

struct Conn : PoolSlot {
  explicit Conn(int* alive) : alive_(alive) { ++*alive_; }
  ~Conn() { --*alive_; }
  int* alive_;
};

class ObjectPoolTest : public ::testing::Test {
 protected:
  Conn* get(ObjectPool<Conn>& pool) {
    return pool.acquire([this] {
      ++made_;
      return std::make_unique<Conn>(&alive_);
    });
  }
  int alive_ = 0;
  int made_ = 0;
};

TEST_F(ObjectPoolTest, ReusesReleasedObjectsBeforeMakingNewOnes) {
  ObjectPool<Conn> pool;
  Conn* a = get(pool);
  Conn* b = get(pool);
  EXPECT_NE(a, b);
  EXPECT_EQ(pool.live(), 2u);
  pool.release(a);
  EXPECT_EQ(pool.live(), 1u);
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(get(pool), a);
  EXPECT_EQ(made_, 2);
}

TEST_F(ObjectPoolTest, LiveListStaysExactWhateverTheReleaseOrder) {
  ObjectPool<Conn> pool;
  std::vector<Conn*> all;
  for (int i = 0; i < 6; ++i) all.push_back(get(pool));
  pool.release(all[0]);
  pool.release(all[5]);
  pool.release(all[2]);
  std::vector<Conn*> live = pool.live_objects();
  std::sort(live.begin(), live.end());
  std::vector<Conn*> want = {all[1], all[3], all[4]};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(live, want);
  // Releasing everything that is live, while walking a snapshot, empties the list.
  for (Conn* c : pool.live_objects()) pool.release(c);
  EXPECT_EQ(pool.live(), 0u);
  EXPECT_TRUE(pool.live_objects().empty());
}

TEST_F(ObjectPoolTest, ObjectsReleasedPastMaxIdleAreDestroyedAndSlotsReused) {
  ObjectPool<Conn> pool(2);
  std::vector<Conn*> all;
  for (int i = 0; i < 5; ++i) all.push_back(get(pool));
  EXPECT_EQ(alive_, 5);
  for (Conn* c : all) pool.release(c);
  EXPECT_EQ(alive_, 5);  // release never destroys: the caller may be a member of the object
  pool.trim_idle();
  EXPECT_EQ(pool.idle(), 2u);
  EXPECT_EQ(alive_, 2);  // three destroyed: memory goes back after a burst
  for (int i = 0; i < 5; ++i) get(pool);
  EXPECT_EQ(pool.live(), 5u);
  EXPECT_EQ(alive_, 5);
  EXPECT_EQ(made_, 8);  // 2 reused, 3 rebuilt in the freed slots
}

TEST_F(ObjectPoolTest, ClearDestroysLiveAndIdleObjects) {
  ObjectPool<Conn> pool;
  Conn* a = get(pool);
  get(pool);
  pool.release(a);
  pool.clear();
  EXPECT_EQ(alive_, 0);
  EXPECT_EQ(pool.live(), 0u);
  EXPECT_EQ(pool.idle(), 0u);
}

}  // namespace
}  // namespace ringway::base
