// Internal: the per-socket record both loop backends keep behind the opaque Socket*.
// Not part of the public API; only loop_*.cc include it.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "net/loop.h"
#include "net/splice_pump.h"

namespace ringway::net {

// What an outstanding send or connect needs: a private copy of the caller's iovecs (advanced
// on partial sends), the msghdr and the connect address (io_uring reads both asynchronously).
struct OpState {
  iovec iov[Loop::kMaxIov];
  int iovcnt = 0;
  size_t send_total = 0;
  // io_uring zero-copy sends: notifications still to come, and the result they hold back.
  int zc_notifs = 0;
  bool zc_done = false;
  ssize_t zc_result = 0;
  msghdr msg{};
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  OpState* next_free = nullptr;
};

// 64 bytes: every open connection has one, so fields are ordered to leave no padding.
struct alignas(16) Socket {
  int fd = -1;
  uint32_t in_flight = 0;      // io_uring: SQEs that still reference this record
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
  // The last single-shot recv left the socket drained (it did not fill its buffer): the next
  // one waits for readiness first instead of trying a read the kernel would refuse (EAGAIN).
  bool recv_poll_first = false;
  // A poll for the splice through this socket is live (the kernel holds user_data).
  bool splice_poll_in_armed = false;
  bool splice_poll_out_armed = false;

  // epoll bookkeeping.
  bool in_ready_list = false;  // queued for a read attempt this turn

  // The splice this socket is the source (splice->from) or the sink (splice->to) of; one at
  // a time (Loop::splice).
  SpliceOp* splice = nullptr;

  // Only while a send or connect is outstanding (lent by the loop's OpStatePool): an idle
  // connection's record carries no iovecs, msghdr or address.
  struct OpState* op = nullptr;

  Socket* next_free = nullptr;
};
static_assert(sizeof(Socket) == 64, "a socket record per connection: keep it one cache line");

// Slab of records with a free list: no allocation per connection (or per send) after
// warm-up, and records never move (the kernel holds pointers to them in user_data).
// get() hands a record out as it was left: the caller initializes what it uses.
template <class T>
class SlabPool {
 public:
  T* get() {
    if (free_ == nullptr) grow();
    T* s = free_;
    free_ = s->next_free;
    return s;
  }
  void put(T* s) {
    s->next_free = free_;
    free_ = s;
  }

 private:
  static constexpr size_t kChunk = 256;
  void grow() {
    chunks_.push_back(std::make_unique<T[]>(kChunk));
    T* c = chunks_.back().get();
    for (size_t i = 0; i < kChunk; ++i) put(&c[i]);
  }
  std::vector<std::unique_ptr<T[]>> chunks_;
  T* free_ = nullptr;
};

class SocketPool {
 public:
  Socket* get() {
    Socket* s = sockets_.get();
    *s = Socket{};
    return s;
  }
  void put(Socket* s) {
    if (s->op) {
      ops_.put(s->op);  // a closed socket's last op has completed by now
      s->op = nullptr;
    }
    s->fd = -1;
    s->handler = nullptr;
    sockets_.put(s);
  }
  // The socket's op state, lent now if it has none. Its fields are whatever the last send
  // or connect left: send() and connect() set all they read.
  OpState* op(Socket* s) {
    if (!s->op) s->op = ops_.get();
    return s->op;
  }
  // Takes the op state back. REQUIRES: no send or connect that uses it is outstanding.
  void release_op(Socket* s) {
    if (s->op) {
      ops_.put(s->op);
      s->op = nullptr;
    }
  }

 private:
  SlabPool<Socket> sockets_;
  SlabPool<OpState> ops_;
};

// What a finished splice reports to its source's handler (delivered later in the turn).
struct SpliceDone {
  Socket* from;
  uint64_t moved;
  int err;
  bool sink_failed;
};

// The splices of one loop: their records, the pipes they borrow and the completions of those
// that ended, which the backend delivers later in the turn (never inside Loop::splice()).
class SpliceTable {
 public:
  // Returns: the new op, pointed at by from->splice and to->splice; nullptr when
  // Loop::splice's REQUIRES do not hold (a recv wanted or armed on `from`: it would take
  // bytes the splice must move; either socket already in a splice) or no pipe could be made.
  SpliceOp* start(Socket* from, Socket* to, uint64_t len) {
    if (from->recv_wanted || from->recv_armed || from->splice || to->splice || from == to) return nullptr;
    int r = -1, w = -1, err = 0;
    if (!pipes_.take(&r, &w, &err)) return nullptr;
    SpliceOp* op = ops_.get();
    *op = SpliceOp{};
    op->from = from;
    op->to = to;
    op->pipe_r = r;
    op->pipe_w = w;
    op->to_read = len;
    from->splice = op;
    to->splice = op;
    return op;
  }
  // Detaches both sockets and gives the pipe back (closed if bytes are left in it).
  void end(SpliceOp* op) {
    op->from->splice = nullptr;
    op->to->splice = nullptr;
    pipes_.give(op->pipe_r, op->pipe_w, op->in_pipe == 0);
    ops_.put(op);
  }
  // The splice `s` is the source of, or the sink of (nullptr if none).
  static SpliceOp* reading(const Socket* s) { return s->splice && s->splice->from == s ? s->splice : nullptr; }
  static SpliceOp* writing(const Socket* s) { return s->splice && s->splice->to == s ? s->splice : nullptr; }
  static uint64_t progress(const Socket* from) {
    const SpliceOp* op = reading(from);
    return op ? op->moved : 0;
  }
  static size_t backlog(const Socket* from) {
    const SpliceOp* op = reading(from);
    return op ? op->in_pipe : 0;
  }
  // close(s): cancels the splice through s.
  void end_all(Socket* s) {
    if (s->splice) end(s->splice);
  }
  // Moves what can be moved now (adding it to *spliced_bytes); an op that is complete is
  // ended and its completion queued. Returns: which side the op waits for, or kDone.
  PumpWait pump(SpliceOp* op, uint64_t* spliced_bytes) {
    int err = 0;
    bool sink_failed = false;
    const uint64_t before = op->moved;
    const PumpWait wait = pump_splice(op, op->from->fd, op->to->fd, &err, &sink_failed);
    *spliced_bytes += op->moved - before;
    if (wait == PumpWait::kDone) {
      done_.push_back({op->from, op->moved, err, sink_failed});
      end(op);
    }
    return wait;
  }
  bool has_done() const { return !done_.empty(); }
  // Delivers the queued completions (to sources still open); those their handlers cause
  // are queued for the next call.
  void deliver_done() {
    batch_.clear();
    batch_.swap(done_);
    for (const SpliceDone& d : batch_) {
      if (!d.from->closed && d.from->handler) d.from->handler->on_spliced(d.moved, d.err, d.sink_failed);
    }
  }

 private:
  SlabPool<SpliceOp> ops_;
  PipePool pipes_;
  std::vector<SpliceDone> done_;
  std::vector<SpliceDone> batch_;  // swapped with done_: no allocation once warm
};

// Advances the op's iovec copy past `n` sent bytes. Returns: true when all is sent.
inline bool advance_iov(OpState* s, size_t n) {
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

inline void copy_iov(OpState* s, const iovec* iov, int iovcnt) {
  s->iovcnt = 0;
  s->send_total = 0;
  s->zc_notifs = 0;  // a pooled op may come from a socket closed mid-send
  s->zc_done = false;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len == 0) continue;
    s->iov[s->iovcnt++] = iov[i];
    s->send_total += iov[i].iov_len;
  }
}

}  // namespace ringway::net
