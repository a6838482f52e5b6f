// Internal: the per-socket record both loop backends keep behind the opaque Socket*.
// Not part of the public API; only loop_*.cc include it.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "net/loop.h"

namespace ringway::net {

struct alignas(16) Socket {
  int fd = -1;
  SocketHandler* handler = nullptr;

  // What the owner asked for.
  bool closed = false;         // close() called: deliver nothing more
  bool accepting = false;      // multishot accept wanted
  bool recv_wanted = false;    // start_recv() without a later pause_recv()
  bool send_pending = false;   // a send() is outstanding
  bool connect_pending = false;
  bool shutdown_after_send = false;
  bool recv_ended = false;     // EOF or error already delivered

  // io_uring bookkeeping.
  bool accept_armed = false;   // multishot accept SQE live in the kernel
  bool recv_armed = false;     // multishot recv SQE live in the kernel
  bool cancel_sent = false;    // close(): cancel-all already submitted
  bool recv_cancel_sent = false;  // pause_recv(): cancel of the multishot recv submitted
  // Paused once: from then on one recv SQE per buffer, so a pause stops the flow after at
  // most one more buffer (a multishot recv keeps posting until its cancel is processed).
  bool recv_single_shot = false;
  uint32_t in_flight = 0;      // SQEs that still reference this record

  // epoll bookkeeping.
  bool in_ready_list = false;  // queued for a read attempt this turn

  // Send state: a private copy of the caller's iovecs, advanced on partial sends.
  iovec iov[Loop::kMaxIov];
  int iovcnt = 0;
  size_t send_total = 0;
  msghdr msg{};

  sockaddr_storage peer{};     // connect() target (io_uring reads it asynchronously)
  socklen_t peer_len = 0;

  Socket* next_free = nullptr;
};

// Slab of Socket records with a free list: no allocation per connection after warm-up,
// and records never move (the kernel holds pointers to them in user_data).
class SocketPool {
 public:
  Socket* get() {
    if (free_ == nullptr) grow();
    Socket* s = free_;
    free_ = s->next_free;
    *s = Socket{};
    return s;
  }
  void put(Socket* s) {
    s->fd = -1;
    s->handler = nullptr;
    s->next_free = free_;
    free_ = s;
  }

 private:
  static constexpr size_t kChunk = 256;
  void grow() {
    chunks_.push_back(std::make_unique<Socket[]>(kChunk));
    Socket* c = chunks_.back().get();
    for (size_t i = 0; i < kChunk; ++i) put(&c[i]);
  }
  std::vector<std::unique_ptr<Socket[]>> chunks_;
  Socket* free_ = nullptr;
};

// Advances the socket's iovec copy past `n` sent bytes. Returns: true when all is sent.
inline bool advance_iov(Socket* s, size_t n) {
  int i = 0;
  while (i < s->iovcnt && n >= s->iov[i].iov_len) {
    n -= s->iov[i].iov_len;
    ++i;
  }
  if (i == s->iovcnt) {
    s->iovcnt = 0;
    return true;
  }
  s->iov[i].iov_base = static_cast<char*>(s->iov[i].iov_base) + n;
  s->iov[i].iov_len -= n;
  for (int j = i; j < s->iovcnt; ++j) s->iov[j - i] = s->iov[j];
  s->iovcnt -= i;
  return false;
}

inline void copy_iov(Socket* s, const iovec* iov, int iovcnt) {
  s->iovcnt = 0;
  s->send_total = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len == 0) continue;
    s->iov[s->iovcnt++] = iov[i];
    s->send_total += iov[i].iov_len;
  }
}

}  // namespace ringway::net
