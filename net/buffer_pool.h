// Per-thread pool of receive/relay buffers leased by connections only while bytes wait in them
// (a head spanning reads, a response under backpressure), so an idle connection holds none.
#pragma once

#include <cstddef>

namespace ringway::net {

// Blocks come from mmap: the kernel's pages are zero only when first touched, so a 32 KiB
// buffer that ever held a 300-byte head costs one resident page, not eight (new + memset or
// make_unique<char[]> would touch them all). A thread keeps up to kMaxIdle blocks of each
// size for reuse and unmaps the rest at once, so a burst does not pin its memory.
class BufferPool {
 public:
  static constexpr size_t kMaxIdle = 32;

  // Returns: a block of `size` bytes (contents undefined), or nullptr if mmap failed.
  static char* take(size_t size);
  // Returns a block from take(size); the returning thread keeps it (or unmaps it).
  static void give(char* block, size_t size);
  // Blocks mapped now by this thread (leased and idle), for tests.
  static long mapped();
};

}  // namespace ringway::net
