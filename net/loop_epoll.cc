// epoll backend: edge-triggered readiness turned into the same completions as io_uring.
// Syscalls run when the fd is ready; results are delivered on the loop, never inline.
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "net/loop_backends.h"
#include "net/loop_socket.h"

namespace ringway::net {
namespace {

class EpollLoop final : public Loop {
 public:
  explicit EpollLoop(const LoopOptions& o) : options_(o), scratch_(o.recv_buffer_size) {}
  ~EpollLoop() override {
    if (epfd_ >= 0) ::close(epfd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  bool init(std::string* error) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epfd_ < 0 || wake_fd_ < 0) {
      *error = std::string("epoll_create1/eventfd: ") + strerror(errno);
      return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // null marks the wake-up eventfd
    epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    return true;
  }

  const char* backend_name() const override { return "epoll"; }
  unsigned recv_buffer_size() const override { return options_.recv_buffer_size; }

  Socket* add(int fd, SocketHandler* handler) override {
    Socket* s = pool_.get();
    s->fd = fd;
    s->handler = handler;
    // Registered once for both directions; edge-triggered so an idle connection costs
    // nothing and no epoll_ctl is needed per operation.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = s;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
    return s;
  }
  void set_handler(Socket* s, SocketHandler* handler) override { s->handler = handler; }
  int fd(const Socket* s) const override { return s->fd; }

  void start_accept(Socket* s) override {
    s->accepting = true;
    mark_ready(s);
  }
  void start_recv(Socket* s) override {
    if (s->closed || s->recv_ended) return;
    s->recv_wanted = true;
    // Bytes may have arrived while we were not reading: their edge is gone, so try now.
    mark_ready(s);
  }
  void pause_recv(Socket* s) override { s->recv_wanted = false; }

  void send(Socket* s, const iovec* iov, int iovcnt) override {
    copy_iov(pool_.op(s), iov, iovcnt);
    s->send_pending = true;
    try_send(s);
  }

  bool splice(Socket* from, Socket* to, uint64_t len) override {
    SpliceOp* op = splices_.start(from, to, len);
    // Bytes already waiting in `from` raised their edge long ago: pump now.
    if (op) run_splice(op);
    return op != nullptr;
  }
  uint64_t splice_progress(const Socket* from) const override { return SpliceTable::progress(from); }
  size_t splice_backlog(const Socket* from) const override { return SpliceTable::backlog(from); }

  void connect(Socket* s, const sockaddr* addr, socklen_t len) override {
    s->connect_pending = true;
    if (::connect(s->fd, addr, len) == 0) {
      complete(s, Done::kConnect, 0);
    } else if (errno != EINPROGRESS) {
      complete(s, Done::kConnect, -errno);
    }
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
    splices_.end_all(s);
    ::close(s->fd);  // also removes it from the epoll set
    // Events for it may still sit in this turn's batch: free the record after the turn.
    graveyard_.push_back(s);
  }

  void run() override {
    epoll_event events[256];
    while (!stopping()) {
      run_housekeeping();
      run_deferred();  // may give buffers back: arm their trim before sleeping
      int wait_ms = arm_trim_and_next_wait();
      if (stopping()) break;
      if (!ready_.empty() || !done_.empty() || splices_.has_done()) wait_ms = 0;
      ++stats_.turns;
      ++stats_.enters;
      int n = epoll_wait(epfd_, events, 256, wait_ms);
      refresh_clock();
      for (int i = 0; i < n; ++i) {
        ++stats_.completions;
        auto* s = static_cast<Socket*>(events[i].data.ptr);
        if (s == nullptr) {
          uint64_t v;
          ssize_t r = ::read(wake_fd_, &v, sizeof v);
          (void)r;
          continue;
        }
        if (s->closed) continue;
        const uint32_t e = events[i].events;
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(s);
        if (!s->closed && (e & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
          // With the peer's FIN already here no later edge will come: read to the end.
          on_readable(s, (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
        }
      }
      run_deferred();
    }
    run_deferred();
  }

 protected:
  void wake() override {
    uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof one);
    (void)n;
  }

 private:
  enum class Done : uint8_t { kSend, kConnect };
  struct Completion {
    Socket* s;
    Done what;
    ssize_t res;
  };

  void mark_ready(Socket* s) {
    if (!s->in_ready_list) {
      s->in_ready_list = true;
      ready_.push_back(s);
    }
  }

  void complete(Socket* s, Done what, ssize_t res) { done_.push_back({s, what, res}); }

  // Delivers queued completions and read attempts until nothing new is queued, then frees
  // records closed during the turn.
  void run_deferred() {
    while (!done_.empty() || !ready_.empty() || splices_.has_done()) {
      // Swap into member scratch vectors so no turn allocates once capacity is warm.
      std::vector<Completion>& batch = done_batch_;
      batch.clear();
      batch.swap(done_);
      for (const Completion& c : batch) {
        Socket* s = c.s;
        if (s->closed) continue;
        if (c.what == Done::kSend) {
          s->send_pending = false;
          if (s->shutdown_after_send) {
            s->shutdown_after_send = false;
            ::shutdown(s->fd, SHUT_WR);
          }
          if (s->handler) s->handler->on_sent(c.res);
        } else {
          s->connect_pending = false;
          if (s->handler) s->handler->on_connected(static_cast<int>(c.res));
        }
      }
      splices_.deliver_done();
      std::vector<Socket*>& ready = ready_batch_;
      ready.clear();
      ready.swap(ready_);
      for (Socket* s : ready) {
        s->in_ready_list = false;
        if (!s->closed) on_readable(s, true);
      }
    }
    for (Socket* s : graveyard_) pool_.put(s);
    graveyard_.clear();
  }

  // Edge-triggered: a pump that stops on EAGAIN resumes at that side's next edge.
  void run_splice(SpliceOp* op) { splices_.pump(op, &stats_.spliced_bytes); }

  void on_writable(Socket* s) {
    if (SpliceOp* op = SpliceTable::writing(s)) run_splice(op);
    if (s->connect_pending) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0 || err != EINPROGRESS) complete(s, Done::kConnect, -err);
      return;
    }
    if (s->send_pending && s->op && s->op->iovcnt > 0) try_send(s);
  }

  // The op state goes back as soon as the send is finished (the completion carries the
  // result); only a send waiting for EPOLLOUT keeps it.
  void try_send(Socket* s) {
    OpState* op = s->op;
    while (op->iovcnt > 0) {
      msghdr msg{};
      msg.msg_iov = op->iov;
      msg.msg_iovlen = static_cast<size_t>(op->iovcnt);
      ssize_t n = ::sendmsg(s->fd, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;  // EPOLLOUT will resume it
        const int err = errno;
        pool_.release_op(s);
        complete(s, Done::kSend, -err);
        return;
      }
      advance_iov(op, static_cast<size_t>(n));
    }
    const size_t total = op->send_total;
    pool_.release_op(s);  // epoll's connect is a plain syscall: only sends use the op state
    complete(s, Done::kSend, static_cast<ssize_t>(total));
  }

  // drain: read until EAGAIN/EOF even after a short read (the edge may not repeat).
  void on_readable(Socket* s, bool drain) {
    if (SpliceOp* op = SpliceTable::reading(s)) {
      run_splice(op);
      return;  // REQUIRES of splice(): nobody receives from it meanwhile
    }
    if (s->accepting) {
      accept_all(s);
      return;
    }
    while (s->recv_wanted && !s->closed && !s->recv_ended) {
      ssize_t n = ::recv(s->fd, scratch_.data(), scratch_.size(), 0);
      if (n > 0) {
        if (s->handler) s->handler->on_data(scratch_.data(), static_cast<size_t>(n));
        // A short read drained the socket; a later arrival raises a new edge. Saves the
        // EAGAIN read per request. Not when the FIN came with this edge: it is already
        // queued behind the data and will raise no new edge.
        if (!drain && static_cast<size_t>(n) < scratch_.size()) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      s->recv_ended = true;
      s->recv_wanted = false;
      if (s->handler) s->handler->on_recv_end(n == 0 ? 0 : -errno);
      return;
    }
  }

  void accept_all(Socket* s) {
    while (s->accepting && !s->closed) {
      int fd = ::accept4(s->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return;
        if (errno == ECONNABORTED) continue;
        if (s->handler) s->handler->on_accept(-errno);
        return;  // EMFILE etc.: the next connection's edge retries
      }
      if (s->handler) s->handler->on_accept(fd);
    }
  }

  LoopOptions options_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  std::vector<char> scratch_;
  SocketPool pool_;
  std::vector<Socket*> ready_;
  std::vector<Completion> done_;
  std::vector<Completion> done_batch_;
  std::vector<Socket*> ready_batch_;
  std::vector<Socket*> graveyard_;
  SpliceTable splices_;
};

}  // namespace

std::unique_ptr<Loop> make_epoll_loop(const LoopOptions& options, std::string* error) {
  auto loop = std::make_unique<EpollLoop>(options);
  if (!loop->init(error)) return nullptr;
  return loop;
}

}  // namespace ringway::net
