// Per-shard storage behind every metric child: one cache-line-aligned row of counters per writer
// thread, so the hot path is a plain load and store that never bounces a line between cores.
#pragma once

#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>

namespace ringway::metrics {

// 64 bytes on every x86-64 and most ARM cores. Not std::hardware_destructive_interference_size:
// GCC warns that its value may differ between translation units compiled with other -mtune.
inline constexpr size_t kCacheLineBytes = 64;

// A (shards + 1) x words matrix of 64-bit atomics. Rows 0..shards-1 each have exactly one writer
// thread, which updates with a relaxed load + store (no lock prefix). The extra last row is the
// "shared" row that any thread may update with an atomic read-modify-write, for cold paths that
// have no shard of their own (config reloads, admin requests). Readers sum all rows with relaxed
// loads: a scrape may see one writer's update before another's, never a torn value.
//
// Every row starts on its own cache line, so writers on different shards never share a line.
class ShardedCells {
 public:
  using Cell = std::atomic<uint64_t>;
  static_assert(Cell::is_always_lock_free, "relaxed single-writer updates need lock-free atomics");

  ShardedCells(size_t shards, size_t words)
      : shards_(shards), words_(words), stride_(round_up_to_line(words)) {
    assert(shards > 0 && words > 0);
    const size_t n = (shards_ + 1) * stride_;
    void* raw = ::operator new (n * sizeof(Cell), std::align_val_t{kCacheLineBytes});
    cells_ = static_cast<Cell*>(raw);
    for (size_t i = 0; i < n; ++i) new (&cells_[i]) Cell(0);
  }
  ~ShardedCells() { ::operator delete (cells_, std::align_val_t{kCacheLineBytes}); }
  ShardedCells(const ShardedCells&) = delete;
  ShardedCells& operator=(const ShardedCells&) = delete;

  size_t shards() const { return shards_; }
  size_t words() const { return words_; }

  // REQUIRES: only the thread owning `shard` calls this (single writer), shard < shards().
  void add(size_t shard, size_t word, uint64_t n) const {
    Cell& c = at(shard, word);
    // Not fetch_add: with one writer a load + store cannot lose updates and avoids `lock xadd`.
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  // Same contract as add(); the word holds the bit pattern of a double (histogram sums).
  void add_double(size_t shard, size_t word, double d) const {
    Cell& c = at(shard, word);
    const double cur = std::bit_cast<double>(c.load(std::memory_order_relaxed));
    c.store(std::bit_cast<uint64_t>(cur + d), std::memory_order_relaxed);
  }

  // Any thread; costs an atomic RMW, so keep it off per-request paths.
  void add_shared(size_t word, uint64_t n) const {
    at(shards_, word).fetch_add(n, std::memory_order_relaxed);
  }
  void add_double_shared(size_t word, double d) const {
    Cell& c = at(shards_, word);
    uint64_t cur = c.load(std::memory_order_relaxed);
    while (!c.compare_exchange_weak(cur, std::bit_cast<uint64_t>(std::bit_cast<double>(cur) + d),
                                    std::memory_order_relaxed)) {
    }
  }

  // Sum over all rows; wraps modulo 2^64, which also makes signed (two's complement) deltas work.
  uint64_t sum(size_t word) const {
    uint64_t total = 0;
    for (size_t row = 0; row <= shards_; ++row)
      total += at(row, word).load(std::memory_order_relaxed);
    return total;
  }
  double sum_double(size_t word) const {
    double total = 0;
    for (size_t row = 0; row <= shards_; ++row) {
      total += std::bit_cast<double>(at(row, word).load(std::memory_order_relaxed));
    }
    return total;
  }

 private:
  static constexpr size_t kCellsPerLine = kCacheLineBytes / sizeof(Cell);
  static size_t round_up_to_line(size_t words) {
    return (words + kCellsPerLine - 1) / kCellsPerLine * kCellsPerLine;
  }
  Cell& at(size_t row, size_t word) const {
    assert(row <= shards_ && word < words_);
    return cells_[row * stride_ + word];
  }

  size_t shards_;
  size_t words_;
  size_t stride_;  // cells per row, a whole number of cache lines
  Cell* cells_;
};

}  // namespace ringway::metrics
