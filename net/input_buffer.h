// A connection's receive buffer: fixed capacity, never reallocated, so slices handed out
// by the parser stay valid; compacted only at points where no slice is live. Its storage is
// leased from the thread's BufferPool on the first byte and given back by release().
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "net/buffer_pool.h"

namespace ringway::net {

class InputBuffer {
 public:
  explicit InputBuffer(size_t capacity = 0) : capacity_(capacity) {}
  ~InputBuffer() { BufferPool::give(data_, capacity_); }
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;

  void reset_capacity(size_t capacity) {
    BufferPool::give(data_, capacity_);
    data_ = nullptr;
    capacity_ = capacity;
    begin_ = end_ = 0;
    std::string().swap(stash_);
  }

  // Gives the storage back to the pool when no byte waits in it (between requests, when a
  // connection goes idle). REQUIRES: no slice into the buffer is live.
  void release() {
    if (begin_ != end_ || !stash_.empty()) return;
    BufferPool::give(data_, capacity_);
    data_ = nullptr;
    begin_ = end_ = 0;
    // A stash only grows past a pause; do not keep its peak for the rest of the connection.
    if (stash_.capacity() > 4096) std::string().swap(stash_);
  }
  bool leased() const { return data_ != nullptr; }

  // Forgets every byte (a new connection reuses the storage).
  void clear() {
    begin_ = end_ = 0;
    stash_.clear();
  }

  // Bytes received but not yet consumed.
  const char* data() const { return data_ ? data_ + begin_ : ""; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_ && stash_.empty(); }
  size_t capacity() const { return capacity_; }
  const char* base() const { return data_ ? data_ : ""; }

  // Marks n bytes as used. Their memory stays untouched until compact(): the parser's
  // slices of a half-received head point into consumed bytes.
  void consume(size_t n) { begin_ += n; }

  // Appends what fits after the live bytes; whatever does not fit waits in an overflow
  // stash (bytes still in flight after a pause). Never moves live bytes.
  void append(const char* p, size_t n) {
    if (!stash_.empty()) {
      stash_.append(p, n);
      return;
    }
    if (n == 0) return;
    if (!data_ && !lease()) {
      stash_.append(p, n);  // mmap failed: keep the bytes; compact() retries the lease
      return;
    }
    size_t room = capacity_ - end_;
    size_t take = n < room ? n : room;
    std::memcpy(data_ + end_, p, take);
    end_ += take;
    if (take < n) stash_.append(p + take, n - take);
  }

  // Moves live bytes to the front and pulls in stashed ones.
  // REQUIRES: no slice into the buffer is live (callers rebase their own copies by the
  // returned delta, which is <= 0). Returns: how far bytes moved.
  ptrdiff_t compact() {
    if (begin_ == end_ && stash_.empty()) {
      ptrdiff_t d = -static_cast<ptrdiff_t>(begin_);
      begin_ = end_ = 0;
      return d;
    }
    ptrdiff_t delta = -static_cast<ptrdiff_t>(begin_);
    if (begin_ > 0) {
      std::memmove(data_, data_ + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (!stash_.empty() && (data_ || lease())) {
      size_t room = capacity_ - end_;
      size_t take = stash_.size() < room ? stash_.size() : room;
      std::memcpy(data_ + end_, stash_.data(), take);
      end_ += take;
      stash_.erase(0, take);
    }
    return delta;
  }

  bool has_stash() const { return !stash_.empty(); }
  bool full() const { return end_ == capacity_; }

 private:
  bool lease() {
    if (capacity_ == 0) return false;
    data_ = BufferPool::take(capacity_);
    return data_ != nullptr;
  }

  char* data_ = nullptr;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string stash_;
};

}  // namespace ringway::net
