// Per-thread pool of receive/relay buffers leased by connections only while bytes wait in them
// (a head spanning reads, a response under backpressure), so an idle connection holds none.
#pragma once

#include <cstddef>

namespace ringway::net {

// Blocks come from mmap: the kernel's pages are zero only when first touched, so a 32 KiB
// buffer that ever held a 300-byte head costs one resident page, not eight (new + memset or
// make_unique<char[]> would touch them all). A thread keeps idle blocks of a size for reuse
// up to max(kIdleFloor, the most of that size leased at once in this trim window or the one
// before; a window ends at each trim()): with
// 64 requests in flight, leased swings between a handful and 64 from one loop turn to the
// next, and the blocks returned in one turn are taken again in the next instead of going
// through munmap, mmap and a page fault each (a fixed cap of 32 did that for a quarter of
// all requests). The loop calls trim() once a second while trim_wanted(): a burst's blocks
// are unmapped within two seconds of its end.
class BufferPool {
 public:
  static constexpr size_t kIdleFloor = 32;

  // Returns: a block of `size` bytes (contents undefined), or nullptr if mmap failed.
  static char* take(size_t size);
  // Returns a block from take(size); the returning thread keeps it (or unmaps it).
  static void give(char* block, size_t size);
  // Unmaps idle blocks beyond max(kIdleFloor, the peak leased since the last trim), then
  // starts a new peak from what is leased now.
  static void trim();
  // True while some size holds more idle blocks than kIdleFloor: trim() has work to do.
  static bool trim_wanted();
  // Blocks mapped now by this thread (leased and idle), for tests.
  static long mapped();
};

}  // namespace ringway::net
