// io_uring backend: multishot accept and recv with a provided-buffer ring, one
// io_uring_enter per loop turn (submit + wait), SINGLE_ISSUER|DEFER_TASKRUN rings.
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "net/loop_backends.h"
#include "net/loop_socket.h"

namespace ringway::net {
namespace {

// Operation tag packed into the low bits of user_data (Socket is 16-byte aligned).
enum Op : uint64_t {
  kAccept = 1, kRecv = 2, kSend = 3, kConnect = 4, kClose = 5, kCancel = 6, kWake = 7,
  kSpliceIn = 8,   // poll: the splice source has bytes (or EOF)
  kSpliceOut = 9,  // poll: the splice sink has room
};
constexpr uint64_t kOpMask = 0xf;
constexpr uint16_t kBufferGroup = 0;

uint64_t pack(Socket* s, Op op) { return reinterpret_cast<uint64_t>(s) | op; }

std::string errno_reason(int err, const char* what) {
  std::string name;
  switch (err) {
    case EPERM: name = "EPERM"; break;
    case ENOSYS: name = "ENOSYS"; break;
    case EINVAL: name = "EINVAL"; break;
    case ENOMEM: name = "ENOMEM"; break;
    case EACCES: name = "EACCES"; break;
    default: name = strerrorname_np(err) ? strerrorname_np(err) : std::to_string(err);
  }
  std::string reason = name + " from " + what;
  if (err == EPERM || err == EACCES) reason += " (seccomp?)";
  if (err == EINVAL) reason += " (kernel older than 6.1?)";
  if (err == ENOSYS) reason += " (kernel without io_uring)";
  return reason;
}

// Lets tests force the fallback path: RINGWAY_IO_URING_FAIL=EPERM behaves as if the kernel
// refused io_uring_setup with that errno.
int forced_failure() {
  const char* v = std::getenv("RINGWAY_IO_URING_FAIL");
  if (v == nullptr || *v == '\0') return 0;
  std::string s(v);
  if (s == "EPERM") return EPERM;
  if (s == "ENOSYS") return ENOSYS;
  if (s == "EINVAL") return EINVAL;
  return EPERM;
}

class UringLoop final : public Loop {
 public:
  explicit UringLoop(const LoopOptions& o) : options_(o) {}

  ~UringLoop() override {
    if (buf_ring_) {
      io_uring_unregister_buf_ring(&ring_, kBufferGroup);
      munmap(buf_ring_, ring_bytes_);
    }
    if (ring_ready_) io_uring_queue_exit(&ring_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    std::free(buffers_);
  }

  bool init(std::string* error) {
    if (int err = forced_failure()) {
      *error = errno_reason(err, "io_uring_setup") + " [forced by RINGWAY_IO_URING_FAIL]";
      return false;
    }
    io_uring_params p{};
    // Without SINGLE_ISSUER|DEFER_TASKRUN completions run as interrupting task work and a
    // relay measured ~30% slower than epoll; with them it matches epoll at a tenth of the
    // syscalls. A kernel that lacks them gets epoll instead.
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_CQSIZE;
    p.cq_entries = options_.queue_depth * 4;
    int ret = io_uring_queue_init_params(options_.queue_depth, &ring_, &p);
    if (ret < 0) {
      *error = errno_reason(-ret, "io_uring_setup");
      return false;
    }
    ring_ready_ = true;
    if (!(p.features & IORING_FEAT_EXT_ARG)) {
      *error = "io_uring lacks IORING_FEAT_EXT_ARG (kernel older than 5.11)";
      return false;
    }
    if (!probe_ops(error)) return false;
    io_uring_register_ring_fd(&ring_);  // optional speed-up; failure is harmless
    if (!setup_buffers(error)) return false;
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      *error = std::string("eventfd: ") + strerror(errno);
      return false;
    }
    arm_wake();
    return true;
  }

  const char* backend_name() const override { return "io_uring"; }
  unsigned recv_buffer_size() const override { return options_.recv_buffer_size; }

  Socket* add(int fd, SocketHandler* handler) override {
    Socket* s = pool_.get();
    s->fd = fd;
    s->handler = handler;
    return s;
  }
  void set_handler(Socket* s, SocketHandler* handler) override { s->handler = handler; }
  int fd(const Socket* s) const override { return s->fd; }

  void start_accept(Socket* s) override {
    s->accepting = true;
    if (!s->accept_armed) arm_accept(s);
  }

  void start_recv(Socket* s) override {
    if (s->closed || s->recv_ended) return;
    s->recv_wanted = true;
    if (!s->recv_armed) arm_recv(s);
  }

  void pace_recv(Socket* s) override { s->recv_single_shot = true; }

  void pause_recv(Socket* s) override {
    s->recv_wanted = false;
    s->recv_single_shot = true;
    s->recv_poll_first = false;  // bytes likely wait in the socket when it resumes
    if (s->recv_armed && !s->recv_cancel_sent) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, pack(s, kRecv), 0);
      io_uring_sqe_set_data64(sqe, kCancel);
      s->recv_cancel_sent = true;
    }
  }

  void send(Socket* s, const iovec* iov, int iovcnt) override {
    OpState* op = pool_.op(s);
    copy_iov(op, iov, iovcnt);
    s->send_pending = true;
    if (op->iovcnt == 0) {
      // Nothing to send: complete through the normal path on the next turn.
      s->send_pending = false;
      if (!s->connect_pending) pool_.release_op(s);
      post_complete_empty_send(s);
      return;
    }
    submit_send(s);
  }

  // IORING_OP_SPLICE always runs in an io-wq thread (the kernel forces it async); splice(2)
  // with SPLICE_F_NONBLOCK on the loop thread, woken by single-shot polls, does not.
  bool splice(Socket* from, Socket* to, uint64_t len) override {
    SpliceOp* op = splices_.start(from, to, len);
    if (op) run_splice(op);  // pumps until a side would block, then polls for it
    return op != nullptr;
  }
  uint64_t splice_progress(const Socket* from) const override { return SpliceTable::progress(from); }
  size_t splice_backlog(const Socket* from) const override { return SpliceTable::backlog(from); }

  void connect(Socket* s, const sockaddr* addr, socklen_t len) override {
    OpState* op = pool_.op(s);
    memcpy(&op->peer, addr, len);
    op->peer_len = len;
    s->connect_pending = true;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_connect(sqe, s->fd, reinterpret_cast<sockaddr*>(&op->peer), op->peer_len);
    io_uring_sqe_set_data64(sqe, pack(s, kConnect));
    ++s->in_flight;
  }

  void shutdown_write(Socket* s) override {
    if (s->send_pending) {
      s->shutdown_after_send = true;
    } else {
      ::shutdown(s->fd, SHUT_WR);
    }
  }

  void close(Socket* s) override {
    if (s->closed) return;
    s->closed = true;
    s->handler = nullptr;
    s->accepting = s->recv_wanted = false;
    splices_.end_all(s);
    if (s->in_flight == 0) {
      submit_close(s);
    } else if (!s->cancel_sent) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel_fd(sqe, s->fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, kCancel);
      s->cancel_sent = true;
    }
  }

  void run() override {
    while (!stopping()) {
      int wait_ms = run_housekeeping();
      // Before the enter: a socket closed meanwhile must not have its record reused (its
      // close CQE) while a completion for it still waits here.
      flush_spliced();
      if (stopping()) break;
      if (!empty_sends_.empty()) wait_ms = 0;
      ++stats_.turns;
      ++stats_.enters;
      io_uring_cqe* cqe = nullptr;
      if (wait_ms < 0) {
        io_uring_submit_and_wait(&ring_, 1);
      } else {
        __kernel_timespec ts{};
        ts.tv_sec = wait_ms / 1000;
        ts.tv_nsec = static_cast<long long>(wait_ms % 1000) * 1000000;
        io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      }
      refresh_clock();
      process_completions();
      flush_empty_sends();
      flush_spliced();
      // Only now: a queued completion for a socket closed this turn must find it closed, not
      // reused by an accept (a full SQ makes get_sqe() submit, and close CQEs can then
      // appear in this very batch).
      for (Socket* s : freed_) pool_.put(s);
      freed_.clear();
    }
    // Push out any close/cancel SQEs queued by the last callbacks.
    io_uring_submit(&ring_);
  }

 protected:
  void wake() override {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof one);
    (void)n;  // EAGAIN means a wake-up is already pending
  }

 private:
  bool probe_ops(std::string* error) {
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    if (probe == nullptr) {
      *error = "io_uring_register(PROBE) failed";
      return false;
    }
    struct Need { int op; const char* name; };
    const Need needs[] = {{IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_RECV, "RECV"},
                          {IORING_OP_SENDMSG, "SENDMSG"}, {IORING_OP_CONNECT, "CONNECT"},
                          {IORING_OP_CLOSE, "CLOSE"},     {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                          {IORING_OP_READ, "READ"},       {IORING_OP_POLL_ADD, "POLL_ADD"}};
    for (const Need& n : needs) {
      if (!io_uring_opcode_supported(probe, n.op)) {
        *error = std::string("io_uring op ") + n.name + " not supported by this kernel";
        io_uring_free_probe(probe);
        return false;
      }
    }
    io_uring_free_probe(probe);
    return true;
  }

  bool setup_buffers(std::string* error) {
    unsigned n = options_.recv_buffers;
    if (n == 0 || (n & (n - 1)) != 0 || n > 32768) {
      *error = "recv_buffers must be a power of two <= 32768";
      return false;
    }
    ring_bytes_ = n * sizeof(io_uring_buf);
    void* mem = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
      *error = std::string("mmap buffer ring: ") + strerror(errno);
      return false;
    }
    buf_ring_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(buf_ring_);
    reg.ring_entries = n;
    reg.bgid = kBufferGroup;
    int ret = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (ret < 0) {
      munmap(buf_ring_, ring_bytes_);
      buf_ring_ = nullptr;
      *error = errno_reason(-ret, "io_uring_register_buf_ring");
      return false;
    }
    buffers_ = static_cast<char*>(std::aligned_alloc(4096, size_t{n} * options_.recv_buffer_size));
    if (buffers_ == nullptr) {
      *error = "out of memory for receive buffers";
      return false;
    }
    buf_mask_ = io_uring_buf_ring_mask(n);
    io_uring_buf_ring_init(buf_ring_);
    for (unsigned i = 0; i < n; ++i) {
      io_uring_buf_ring_add(buf_ring_, buffer(i), options_.recv_buffer_size, i, buf_mask_, i);
    }
    io_uring_buf_ring_advance(buf_ring_, n);
    return true;
  }

  char* buffer(unsigned id) { return buffers_ + size_t{id} * options_.recv_buffer_size; }

  void recycle_buffer(unsigned id) {
    io_uring_buf_ring_add(buf_ring_, buffer(id), options_.recv_buffer_size,
                          static_cast<unsigned short>(id), buf_mask_, returned_++);
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
      // Submission queue full mid-turn: flush it and try again.
      io_uring_submit(&ring_);
      ++stats_.enters;
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void arm_wake() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, kWake);
  }

  void arm_accept(Socket* s) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_multishot_accept(sqe, s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, pack(s, kAccept));
    s->accept_armed = true;
    ++s->in_flight;
  }

  void arm_recv(Socket* s) {
    io_uring_sqe* sqe = get_sqe();
    // Length 0 with a provided buffer: up to one whole buffer.
    if (s->recv_single_shot) {
      io_uring_prep_recv(sqe, s->fd, nullptr, 0, 0);
      // POLL_FIRST (5.19) predates DEFER_TASKRUN (6.1), which init() requires.
      if (s->recv_poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    } else {
      io_uring_prep_recv_multishot(sqe, s->fd, nullptr, 0, 0);
    }
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, pack(s, kRecv));
    s->recv_armed = true;
    s->recv_cancel_sent = false;
    ++s->in_flight;
  }

  void submit_send(Socket* s) {
    OpState* op = s->op;
    op->msg = msghdr{};
    op->msg.msg_iov = op->iov;
    op->msg.msg_iovlen = static_cast<size_t>(op->iovcnt);
    io_uring_sqe* sqe = get_sqe();
    if (options_.send_zc) {
      io_uring_prep_sendmsg_zc(sqe, s->fd, &op->msg, MSG_NOSIGNAL);
    } else {
      io_uring_prep_sendmsg(sqe, s->fd, &op->msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(sqe, pack(s, kSend));
    ++s->in_flight;
  }

  void submit_close(Socket* s) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_close(sqe, s->fd);
    io_uring_sqe_set_data64(sqe, pack(s, kClose));
    ++s->in_flight;
  }

  // A zero-byte send completes without touching the kernel, still asynchronously.
  void post_complete_empty_send(Socket* s) { empty_sends_.push_back(s); }
  void flush_empty_sends() {
    while (!empty_sends_.empty()) {
      std::vector<Socket*>& batch = empty_batch_;
      batch.clear();
      batch.swap(empty_sends_);
      for (Socket* s : batch) {
        if (!s->closed && s->handler) s->handler->on_sent(0);
      }
    }
  }

  void run_splice(SpliceOp* op) {
    Socket* from = op->from;
    Socket* to = op->to;
    switch (splices_.pump(op, &stats_.spliced_bytes)) {
      case PumpWait::kReadable:
        if (!from->splice_poll_in_armed) arm_splice_poll(from, POLLIN, kSpliceIn);
        return;
      case PumpWait::kWritable:
        if (!to->splice_poll_out_armed) arm_splice_poll(to, POLLOUT, kSpliceOut);
        return;
      case PumpWait::kDone:
        return;  // ended; its completion waits in splices_
    }
  }

  void arm_splice_poll(Socket* s, unsigned events, Op tag) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, s->fd, events);
    io_uring_sqe_set_data64(sqe, pack(s, tag));
    (tag == kSpliceIn ? s->splice_poll_in_armed : s->splice_poll_out_armed) = true;
    ++s->in_flight;
  }

  // A poll of a splice fired (or was cancelled): pump again; errors show in splice(2) itself.
  void handle_splice_poll(Socket* s, Op tag) {
    (tag == kSpliceIn ? s->splice_poll_in_armed : s->splice_poll_out_armed) = false;
    op_done(s);
    if (s->closed) return;
    // The op may have ended since (its other socket closed): a stale poll wakes nothing.
    SpliceOp* op = tag == kSpliceIn ? SpliceTable::reading(s) : SpliceTable::writing(s);
    if (op) run_splice(op);
  }

  // Splice completions are delivered after the turn's CQEs, never inside Loop::splice().
  void flush_spliced() {
    while (splices_.has_done()) splices_.deliver_done();
  }

  // One op of `s` finished for good: once the last one is gone a closed socket's fd is closed.
  void op_done(Socket* s) {
    --s->in_flight;
    if (s->closed && s->in_flight == 0) submit_close(s);
  }

  void process_completions() {
    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    returned_ = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++count;
      dispatch(cqe);
    }
    if (returned_ > 0) io_uring_buf_ring_advance(buf_ring_, returned_);
    io_uring_cq_advance(&ring_, count);
    stats_.completions += count;
  }

  void dispatch(io_uring_cqe* cqe) {
    const uint64_t data = io_uring_cqe_get_data64(cqe);
    Socket* s = reinterpret_cast<Socket*>(data & ~kOpMask);
    const int res = cqe->res;
    const bool more = cqe->flags & IORING_CQE_F_MORE;
    switch (static_cast<Op>(data & kOpMask)) {
      case kAccept: return handle_accept(s, res, more);
      case kRecv: return handle_recv(s, res, more, cqe->flags);
      case kSend: return options_.send_zc ? handle_send_zc(s, res, cqe->flags) : handle_send(s, res);
      case kConnect: return handle_connect(s, res);
      case kClose: freed_.push_back(s); return;  // put back after this turn's deliveries
      case kCancel: return;
      case kWake: arm_wake(); return;
      case kSpliceIn:
      case kSpliceOut: return handle_splice_poll(s, static_cast<Op>(data & kOpMask));
    }
  }

  void handle_accept(Socket* s, int res, bool more) {
    if (!more) {
      s->accept_armed = false;
      op_done(s);
    }
    if (s->closed) {
      if (res >= 0) ::close(res);
      return;
    }
    if (res != -ECANCELED && s->handler) s->handler->on_accept(res);
    // EMFILE/ENFILE end the multishot: re-arm on the next turn, new connections wait in
    // the backlog meanwhile.
    if (!more && !s->closed && s->accepting && !s->accept_armed) arm_accept(s);
  }

  void handle_recv(Socket* s, int res, bool more, uint32_t flags) {
    if (!more) {
      s->recv_armed = false;
      s->recv_cancel_sent = false;
      op_done(s);
    }
    if (flags & IORING_CQE_F_BUFFER) {
      const unsigned id = flags >> IORING_CQE_BUFFER_SHIFT;
      // Before on_data: a pause_recv() inside it must get the last word.
      if (res > 0) s->recv_poll_first = static_cast<size_t>(res) < options_.recv_buffer_size;
      if (res > 0 && !s->closed && s->handler) s->handler->on_data(buffer(id), static_cast<size_t>(res));
      recycle_buffer(id);
      if (res > 0) {
        if (!more && !s->closed && s->recv_wanted && !s->recv_armed) arm_recv(s);
        return;
      }
    }
    if (s->closed) return;
    if (res == -ENOBUFS) {
      // Buffer ring ran dry: the buffers recycled in this batch are back before the next
      // submit, so re-arming now is safe.
      ++stats_.buffer_shortages;
      if (s->recv_wanted && !s->recv_armed) arm_recv(s);
      return;
    }
    if (res == -ECANCELED) {
      if (s->recv_wanted && !s->recv_armed) arm_recv(s);
      return;
    }
    if (res <= 0 && !s->recv_ended) {
      s->recv_ended = true;
      s->recv_wanted = false;
      if (s->handler) s->handler->on_recv_end(res);
      return;
    }
    if (!more && s->recv_wanted && !s->recv_armed) arm_recv(s);
  }

  void handle_send(Socket* s, int res) {
    op_done(s);
    if (s->closed) return;
    if (res > 0 && !advance_iov(s->op, static_cast<size_t>(res))) {
      submit_send(s);  // partial send: the socket buffer filled up, send the rest
      return;
    }
    const size_t total = s->op->send_total;
    s->send_pending = false;
    if (!s->connect_pending) pool_.release_op(s);
    if (s->shutdown_after_send) {
      s->shutdown_after_send = false;
      ::shutdown(s->fd, SHUT_WR);
    }
    ssize_t result = res > 0 ? static_cast<ssize_t>(total) : (res == 0 ? -EPIPE : res);
    if (s->handler) s->handler->on_sent(result);
  }

  // Zero-copy sends post the result (with F_MORE when a notification follows) and then a
  // notification (F_NOTIF) once the kernel is done with the pages: the caller's buffer may be
  // reused only then, so on_sent waits for the last notification.
  void handle_send_zc(Socket* s, int res, uint32_t flags) {
    OpState* op = s->op;
    if (flags & IORING_CQE_F_NOTIF) {
      op_done(s);
      --op->zc_notifs;
      if (!s->closed && op->zc_done && op->zc_notifs == 0) finish_send_zc(s);
      return;
    }
    if (flags & IORING_CQE_F_MORE) {
      ++op->zc_notifs;  // the SQE stays in flight until its notification
    } else {
      op_done(s);
    }
    if (s->closed) return;
    if (res > 0 && !advance_iov(op, static_cast<size_t>(res))) {
      submit_send(s);
      return;
    }
    op->zc_done = true;
    op->zc_result = res > 0 ? static_cast<ssize_t>(op->send_total) : (res == 0 ? -EPIPE : res);
    if (op->zc_notifs == 0) finish_send_zc(s);
  }

  void finish_send_zc(Socket* s) {
    const ssize_t result = s->op->zc_result;
    s->op->zc_done = false;
    s->send_pending = false;
    if (!s->connect_pending) pool_.release_op(s);
    if (s->shutdown_after_send) {
      s->shutdown_after_send = false;
      ::shutdown(s->fd, SHUT_WR);
    }
    if (s->handler) s->handler->on_sent(result);
  }

  void handle_connect(Socket* s, int res) {
    op_done(s);
    s->connect_pending = false;
    if (s->closed) return;
    if (!s->send_pending) pool_.release_op(s);
    if (s->handler) s->handler->on_connected(res);
  }

  LoopOptions options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t ring_bytes_ = 0;
  char* buffers_ = nullptr;
  int buf_mask_ = 0;
  int returned_ = 0;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  SocketPool pool_;
  std::vector<Socket*> empty_sends_;
  std::vector<Socket*> empty_batch_;
  std::vector<Socket*> freed_;  // records whose close completed this turn
  SpliceTable splices_;
};

}  // namespace

std::unique_ptr<Loop> make_uring_loop(const LoopOptions& options, std::string* error) {
  auto loop = std::make_unique<UringLoop>(options);
  if (!loop->init(error)) return nullptr;
  return loop;
}

}  // namespace ringway::net
