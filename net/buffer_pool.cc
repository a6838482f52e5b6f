// Thread-local free lists by block size over mmap/munmap.
#include "net/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <vector>

namespace ringway::net {
namespace {

struct SizeClass {
  size_t size = 0;
  size_t leased = 0;  // taken and not given back yet
  size_t peak = 0;       // most leased at once since the last trim()
  size_t prev_peak = 0;  // ... and in the window before it
  size_t keep() const { return std::max({BufferPool::kIdleFloor, peak, prev_peak}); }
  std::vector<char*> idle;
  void unmap_beyond(size_t keep, long* mapped) {
    while (idle.size() > keep) {
      munmap(idle.back(), size);
      idle.pop_back();
      --*mapped;
    }
  }
};

struct ThreadPool {
  std::vector<SizeClass> classes;  // a handful of sizes: a linear scan is fastest
  long mapped = 0;
  bool trim_wanted = false;  // some class holds more than kIdleFloor idle blocks
  ~ThreadPool() {
    for (SizeClass& c : classes) {
      for (char* b : c.idle) munmap(b, c.size);
    }
  }
  SizeClass& of(size_t size) {
    for (SizeClass& c : classes) {
      if (c.size == size) return c;
    }
    classes.push_back(SizeClass{size, 0, 0, 0, {}});
    return classes.back();
  }
};

thread_local ThreadPool t_pool;

}  // namespace

char* BufferPool::take(size_t size) {
  SizeClass& c = t_pool.of(size);
  c.peak = std::max(c.peak, ++c.leased);
  if (!c.idle.empty()) {
    char* b = c.idle.back();
    c.idle.pop_back();
    return b;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    --c.leased;
    return nullptr;
  }
  ++t_pool.mapped;
  return static_cast<char*>(p);
}

void BufferPool::give(char* block, size_t size) {
  if (block == nullptr) return;
  SizeClass& c = t_pool.of(size);
  if (c.leased > 0) --c.leased;  // a block taken on another thread is simply adopted
  c.idle.push_back(block);
  // The previous window's peak too: right after a trim, peak is what was leased at that
  // moment, and a turn that gives back before it takes would unmap what it takes next.
  c.unmap_beyond(c.keep(), &t_pool.mapped);
  if (c.idle.size() > kIdleFloor) t_pool.trim_wanted = true;
}

void BufferPool::trim() {
  bool wanted = false;
  for (SizeClass& c : t_pool.classes) {
    // The window ends: its peak becomes the previous one (leased <= it, so keep() is then
    // max(floor, that peak), what the window needed).
    c.prev_peak = c.peak;
    c.peak = c.leased;
    c.unmap_beyond(c.keep(), &t_pool.mapped);
    wanted = wanted || c.idle.size() > kIdleFloor;
  }
  t_pool.trim_wanted = wanted;
}

bool BufferPool::trim_wanted() { return t_pool.trim_wanted; }

long BufferPool::mapped() { return t_pool.mapped; }

}  // namespace ringway::net
