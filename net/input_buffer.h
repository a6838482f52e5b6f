// A connection's receive buffer: fixed capacity, never reallocated, so slices handed out
// by the parser stay valid; compacted only at points where no slice is live.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace ringway::net {

class InputBuffer {
 public:
  explicit InputBuffer(size_t capacity = 0) { reset_capacity(capacity); }

  void reset_capacity(size_t capacity) {
    data_ = capacity ? std::make_unique<char[]>(capacity) : nullptr;
    capacity_ = capacity;
    begin_ = end_ = 0;
    stash_.clear();
  }

  // Forgets every byte (a new connection reuses the storage).
  void clear() {
    begin_ = end_ = 0;
    stash_.clear();
  }

  // Bytes received but not yet consumed.
  const char* data() const { return data_.get() + begin_; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_ && stash_.empty(); }
  size_t capacity() const { return capacity_; }
  const char* base() const { return data_.get(); }

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
    size_t room = capacity_ - end_;
    size_t take = n < room ? n : room;
    std::memcpy(data_.get() + end_, p, take);
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
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (!stash_.empty()) {
      size_t room = capacity_ - end_;
      size_t take = stash_.size() < room ? stash_.size() : room;
      std::memcpy(data_.get() + end_, stash_.data(), take);
      end_ += take;
      stash_.erase(0, take);
    }
    return delta;
  }

  bool has_stash() const { return !stash_.empty(); }
  bool full() const { return end_ == capacity_; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  std::string stash_;
};

}  // namespace ringway::net
