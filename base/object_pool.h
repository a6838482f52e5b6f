// A per-thread pool of connection objects: reuse instead of reallocating on every accept,
// with a bound on how many idle objects it keeps, and a live list for drain and shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace ringway::base {

// Objects carry their slot so release and the live list cost O(1).
class PoolSlot {
 public:
  uint32_t pool_slot() const { return pool_slot_; }

 private:
  template <class T>
  friend class ObjectPool;
  uint32_t pool_slot_ = 0;
};

// T derives from PoolSlot. Not thread-safe: one pool per worker loop.
template <class T>
class ObjectPool {
 public:
  // `max_idle`: released objects kept for reuse beyond which trim_idle() destroys them, so a
  // burst of connections does not pin its memory forever.
  explicit ObjectPool(size_t max_idle = SIZE_MAX) : max_idle_(max_idle) {}

  // Returns: a reused idle object, or a new one built by make() (a callable returning
  // std::unique_ptr<T>). The object counts as live until release().
  template <class Make>
  T* acquire(Make&& make) {
    uint32_t slot;
    if (!idle_.empty()) {
      slot = idle_.back();
      idle_.pop_back();
    } else if (!holes_.empty()) {
      slot = holes_.back();
      holes_.pop_back();
      slots_[slot] = make();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.push_back(make());
      live_pos_.push_back(0);
    }
    T* obj = slots_[slot].get();
    static_cast<PoolSlot*>(obj)->pool_slot_ = slot;
    live_pos_[slot] = static_cast<uint32_t>(live_.size());
    live_.push_back(slot);
    return obj;
  }

  // REQUIRES: obj came from acquire() and is live.
  void release(T* obj) {
    const uint32_t slot = static_cast<PoolSlot*>(obj)->pool_slot_;
    // Swap-remove from the live list.
    const uint32_t pos = live_pos_[slot];
    const uint32_t last = live_.back();
    live_[pos] = last;
    live_pos_[last] = pos;
    live_.pop_back();
    // Never destroyed here: release() is typically called from inside the object's own
    // member function (a connection closing itself), which goes on running afterwards.
    idle_.push_back(slot);
  }

  // Destroys idle objects beyond max_idle. Call where no pooled object is on the stack (the
  // owner's accept handler), so a burst's surplus memory goes back at the next accept.
  void trim_idle() {
    while (idle_.size() > max_idle_) {
      const uint32_t slot = idle_.back();
      idle_.pop_back();
      slots_[slot].reset();
      holes_.push_back(slot);
    }
  }

  size_t live() const { return live_.size(); }
  size_t idle() const { return idle_.size(); }
  // Snapshot of the live objects (callers may release while they walk it).
  std::vector<T*> live_objects() const {
    std::vector<T*> out;
    out.reserve(live_.size());
    for (uint32_t s : live_) out.push_back(slots_[s].get());
    return out;
  }
  // Destroys every object, live or idle (shutdown).
  void clear() {
    slots_.clear();
    live_.clear();
    live_pos_.clear();
    idle_.clear();
    holes_.clear();
  }

 private:
  size_t max_idle_;
  std::vector<std::unique_ptr<T>> slots_;
  std::vector<uint32_t> live_;      // slots in use
  std::vector<uint32_t> live_pos_;  // slot -> index in live_
  std::vector<uint32_t> idle_;      // slots holding a reusable object
  std::vector<uint32_t> holes_;     // slots whose object was destroyed
};

}  // namespace ringway::base
