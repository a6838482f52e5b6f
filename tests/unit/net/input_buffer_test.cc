// Tests for net/input_buffer.h: appends that fit, overflow into the stash (in order), consume
// leaving consumed bytes untouched until compact, and compact's move and returned delta.
#include "net/input_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace ringway::net {
namespace {

std::string_view live(const InputBuffer& b) {
  return std::string_view(b.data(), b.size());
}

TEST(InputBuffer, StartsEmpty) {
  InputBuffer b(16);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 16u);
  EXPECT_FALSE(b.full());
  EXPECT_FALSE(b.has_stash());
  EXPECT_EQ(b.data(), b.base());
}

TEST(InputBuffer, AppendAndConsume) {
  InputBuffer b(16);
  b.append("hello ", 6);
  b.append("world", 5);
  EXPECT_EQ(live(b), "hello world");
  EXPECT_FALSE(b.empty());
  b.consume(6);
  EXPECT_EQ(live(b), "world");
  EXPECT_EQ(b.data(), b.base() + 6);
  b.consume(5);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
}

TEST(InputBuffer, AppendNeverMovesLiveBytes) {
  InputBuffer b(32);
  b.append("abc", 3);
  const char* p = b.data();
  b.consume(1);
  b.append("defgh", 5);
  EXPECT_EQ(b.data(), p + 1);
  EXPECT_EQ(live(b), "bcdefgh");
}

TEST(InputBuffer, ConsumedBytesStayUntouchedUntilCompact) {
  InputBuffer b(32);
  b.append("GET / HTTP/1.1\r\n", 16);
  std::string_view slice(b.data() + 4, 1);  // a parser slice of consumed bytes
  b.consume(16);
  b.append("Host: h\r\n", 9);
  EXPECT_EQ(slice, "/");
  EXPECT_EQ(std::string_view(b.base(), 16), "GET / HTTP/1.1\r\n");
  EXPECT_EQ(live(b), "Host: h\r\n");
}

TEST(InputBuffer, OverflowGoesToStashInOrder) {
  InputBuffer b(8);
  b.append("0123456789", 10);
  EXPECT_TRUE(b.full());
  EXPECT_TRUE(b.has_stash());
  EXPECT_EQ(live(b), "01234567");
  // Once something is stashed, later bytes queue behind it even if room appears.
  b.consume(4);
  b.append("ab", 2);
  EXPECT_EQ(live(b), "4567");
  EXPECT_FALSE(b.empty());
  ptrdiff_t delta = b.compact();
  EXPECT_EQ(delta, -4);
  EXPECT_EQ(b.data(), b.base());
  EXPECT_EQ(live(b), "456789ab");
  EXPECT_FALSE(b.has_stash());
  EXPECT_TRUE(b.full());
}

TEST(InputBuffer, CompactPullsOnlyWhatFits) {
  InputBuffer b(4);
  b.append("abcdefghij", 10);
  EXPECT_EQ(live(b), "abcd");
  b.consume(2);
  EXPECT_EQ(b.compact(), -2);
  EXPECT_EQ(live(b), "cdef");
  EXPECT_TRUE(b.has_stash());
  b.consume(4);
  EXPECT_FALSE(b.empty());  // stash still holds "ghij"
  EXPECT_EQ(b.compact(), -4);
  EXPECT_EQ(live(b), "ghij");
  EXPECT_FALSE(b.has_stash());
  b.consume(4);
  EXPECT_TRUE(b.empty());
}

TEST(InputBuffer, CompactWhenAllConsumedResetsToFront) {
  InputBuffer b(16);
  b.append("abcdef", 6);
  b.consume(6);
  EXPECT_EQ(b.compact(), -6);
  EXPECT_EQ(b.data(), b.base());
  EXPECT_TRUE(b.empty());
  b.append("0123456789abcdef", 16);  // the whole capacity is usable again
  EXPECT_TRUE(b.full());
  EXPECT_FALSE(b.has_stash());
}

TEST(InputBuffer, CompactDeltaRebasesSlices) {
  InputBuffer b(16);
  b.append("xxxxxxHost", 10);
  b.consume(6);
  const char* before = b.data();
  ptrdiff_t delta = b.compact();
  EXPECT_EQ(std::string_view(before + delta, 4), "Host");
  EXPECT_EQ(b.compact(), 0);  // already at the front
}

TEST(InputBuffer, ResetCapacityDropsEverything) {
  InputBuffer b(4);
  b.append("abcdefgh", 8);
  b.reset_capacity(8);
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.has_stash());
  EXPECT_EQ(b.capacity(), 8u);
  b.append("12345678", 8);
  EXPECT_EQ(live(b), "12345678");
  EXPECT_FALSE(b.has_stash());
}

TEST(InputBuffer, ExactFitIsNotStashed) {
  InputBuffer b(5);
  b.append("abcde", 5);
  EXPECT_TRUE(b.full());
  EXPECT_FALSE(b.has_stash());
  b.append("", 0);
  EXPECT_FALSE(b.has_stash());
}

}  // namespace
}  // namespace ringway::net

namespace ringway::net {
namespace {

TEST(InputBufferLease, StorageIsLeasedOnTheFirstByteAndReleasedWhenEmpty) {
  const long before = BufferPool::mapped();
  InputBuffer b(32768);
  EXPECT_FALSE(b.leased());  // an idle connection holds no buffer
  EXPECT_EQ(b.size(), 0u);
  b.append("GET / HTTP/1.1\r\n", 16);
  EXPECT_TRUE(b.leased());
  b.release();  // bytes wait: kept
  EXPECT_TRUE(b.leased());
  b.consume(16);
  b.release();
  EXPECT_FALSE(b.leased());
  b.append("x", 1);  // the block comes back from the thread's pool
  EXPECT_EQ(std::string_view(b.data(), b.size()), "x");
  EXPECT_LE(BufferPool::mapped() - before, 1);
}

// A burst's blocks stay idle for the trim after it (its peak is that window's) and are
// unmapped by the next one, down to the floor.
TEST(BufferPool, TrimsABurstDownToTheFloorByTheSecondTrim) {
  BufferPool::trim();
  BufferPool::trim();
  const long before = BufferPool::mapped();
  std::vector<char*> blocks;
  for (size_t i = 0; i < BufferPool::kIdleFloor * 3; ++i) blocks.push_back(BufferPool::take(12288));
  for (char* b : blocks) b[0] = 1;
  const long at_peak = BufferPool::mapped();
  for (char* b : blocks) BufferPool::give(b, 12288);
  EXPECT_TRUE(BufferPool::trim_wanted());
  EXPECT_EQ(BufferPool::mapped(), at_peak);
  BufferPool::trim();
  EXPECT_EQ(BufferPool::mapped(), at_peak);
  BufferPool::trim();
  EXPECT_LE(BufferPool::mapped() - before, static_cast<long>(BufferPool::kIdleFloor));
  EXPECT_FALSE(BufferPool::trim_wanted());
}

// 100 requests in flight, then all finish in one loop turn and 100 new ones start in the
// next: the blocks come back from the idle list, none is unmapped and mapped again (a fixed
// cap of 32 unmapped 68 of them each time).
TEST(BufferPool, KeepsThePeakLeasedIdleSoBatchedTurnsDoNotRemap) {
  BufferPool::trim();
  BufferPool::trim();
  const long before = BufferPool::mapped();
  std::vector<char*> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back(BufferPool::take(20480));
  const long at_peak = BufferPool::mapped();
  EXPECT_GE(at_peak - before, 100 - static_cast<long>(BufferPool::kIdleFloor));
  for (int i = 0; i < 40; ++i) {
    BufferPool::give(blocks.back(), 20480);
    blocks.pop_back();
  }
  EXPECT_EQ(BufferPool::mapped(), at_peak);  // 60 leased, 40 idle
  for (int i = 0; i < 40; ++i) blocks.push_back(BufferPool::take(20480));
  EXPECT_EQ(BufferPool::mapped(), at_peak);
  for (char* b : blocks) BufferPool::give(b, 20480);
  EXPECT_EQ(BufferPool::mapped(), at_peak);  // all 100 idle: the next turn takes them again
  for (int i = 0; i < 100; ++i) blocks[static_cast<size_t>(i)] = BufferPool::take(20480);
  EXPECT_EQ(BufferPool::mapped(), at_peak);
  for (char* b : blocks) BufferPool::give(b, 20480);
  BufferPool::trim();
  BufferPool::trim();
  EXPECT_LE(BufferPool::mapped() - before, static_cast<long>(BufferPool::kIdleFloor));
}

// Right after a trim the window's peak restarts from what is leased then (here nothing): the
// next turn's blocks must still come from the idle list, not from munmap and mmap again.
TEST(BufferPool, ATrimDoesNotUnmapWhatTheNextTurnTakesAgain) {
  BufferPool::trim();
  BufferPool::trim();
  std::vector<char*> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back(BufferPool::take(28672));
  for (char* b : blocks) BufferPool::give(b, 28672);
  const long steady = BufferPool::mapped();
  BufferPool::trim();  // keeps the window's peak of 100; the new window starts at 0
  EXPECT_EQ(BufferPool::mapped(), steady);
  for (int i = 0; i < 60; ++i) blocks[static_cast<size_t>(i)] = BufferPool::take(28672);
  for (int i = 0; i < 60; ++i) BufferPool::give(blocks[static_cast<size_t>(i)], 28672);
  EXPECT_EQ(BufferPool::mapped(), steady);
  for (int i = 0; i < 100; ++i) blocks[static_cast<size_t>(i)] = BufferPool::take(28672);
  EXPECT_EQ(BufferPool::mapped(), steady);
  for (char* b : blocks) BufferPool::give(b, 28672);
  BufferPool::trim();
  BufferPool::trim();
  BufferPool::trim();
}

}  // namespace
}  // namespace ringway::net
