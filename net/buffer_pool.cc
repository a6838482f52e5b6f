// Thread-local free lists by block size over mmap/munmap.
#include "net/buffer_pool.h"

#include <sys/mman.h>

#include <vector>

namespace ringway::net {
namespace {

struct SizeClass {
  size_t size = 0;
  std::vector<char*> idle;
};

struct ThreadPool {
  std::vector<SizeClass> classes;  // a handful of sizes: a linear scan is fastest
  long mapped = 0;
  ~ThreadPool() {
    for (SizeClass& c : classes) {
      for (char* b : c.idle) munmap(b, c.size);
    }
  }
  SizeClass& of(size_t size) {
    for (SizeClass& c : classes) {
      if (c.size == size) return c;
    }
    classes.push_back(SizeClass{size, {}});
    return classes.back();
  }
};

thread_local ThreadPool t_pool;

}  // namespace

char* BufferPool::take(size_t size) {
  SizeClass& c = t_pool.of(size);
  if (!c.idle.empty()) {
    char* b = c.idle.back();
    c.idle.pop_back();
    return b;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  ++t_pool.mapped;
  return static_cast<char*>(p);
}

void BufferPool::give(char* block, size_t size) {
  if (block == nullptr) return;
  SizeClass& c = t_pool.of(size);
  if (c.idle.size() < kMaxIdle) {
    c.idle.push_back(block);
    return;
  }
  munmap(block, size);
  --t_pool.mapped;
}

long BufferPool::mapped() { return t_pool.mapped; }

}  // namespace ringway::net
