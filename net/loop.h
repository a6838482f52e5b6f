// The event-loop API every Ringway component uses: completion-shaped socket operations
// (accept, recv, send, connect, close) and timers, with io_uring and epoll backends behind it.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "net/timer.h"

namespace ringway::net {

enum class IoMode { kAuto, kIoUring, kEpoll };

// Returns: false on an unknown name. Accepts "auto", "io_uring", "epoll".
bool parse_io_mode(std::string_view text, IoMode* out);
const char* io_mode_name(IoMode mode);

// Receives completions for one socket. Callbacks run on the loop's thread, never
// re-entrantly from inside a Loop call, and never after Loop::close() for that socket.
class SocketHandler {
 public:
  virtual ~SocketHandler() = default;
  // Multishot accept: one call per accepted connection. fd >= 0 is a new non-blocking
  // socket the handler owns; fd < 0 is -errno (EMFILE etc.); accepting continues either way.
  virtual void on_accept(int fd) { (void)fd; }
  // Received bytes. `data` is valid only during the call: copy what must outlive it.
  virtual void on_data(const char* data, size_t len) { (void)data, (void)len; }
  // The receive side ended: err == 0 is an orderly EOF from the peer, err < 0 is -errno.
  // No more on_data follows.
  virtual void on_recv_end(int err) { (void)err; }
  // The send started with Loop::send finished: res is the total byte count (all of it)
  // or -errno. Exactly one completion per send.
  virtual void on_sent(ssize_t res) { (void)res; }
  // Non-blocking connect finished: 0 on success or -errno.
  virtual void on_connected(int res) { (void)res; }
  // The splice started with Loop::splice from this socket ended: `moved` bytes reached the
  // other socket. err == 0: all that was asked; kSpliceSourceEnded: this socket hit EOF
  // first; < 0: -errno, from the other socket when sink_failed, else from this one.
  virtual void on_spliced(uint64_t moved, int err, bool sink_failed) { (void)moved, (void)err, (void)sink_failed; }
};

// on_spliced's err when the source ended (orderly EOF) before the requested length.
constexpr int kSpliceSourceEnded = 1;

// Opaque per-socket record owned by the loop.
struct Socket;

// Statistics a loop keeps for benchmarks and metrics (per worker, no atomics needed).
struct LoopStats {
  uint64_t turns = 0;          // iterations of run()
  uint64_t enters = 0;         // io_uring_enter / epoll_wait calls
  uint64_t completions = 0;    // events processed
  uint64_t buffer_shortages = 0;  // io_uring provided-buffer ring ran dry (multishot re-armed)
  uint64_t spliced_bytes = 0;     // moved socket to socket by splice() (never in user space)
};

struct LoopOptions {
  IoMode mode = IoMode::kAuto;
  unsigned queue_depth = 4096;        // io_uring submission queue entries
  // Provided receive buffers (power of two). A buffer lives only from its CQE to the end of
  // that on_data, but the ring hands them out in turn, so all of them become resident: 256
  // x 16 KiB is 4 MiB per worker. A turn with more data-carrying completions than this
  // gets ENOBUFS for the rest, which re-arms and reads them next turn (buffer_shortages).
  unsigned recv_buffers = 256;
  unsigned recv_buffer_size = 16384;  // bytes per receive buffer / epoll read chunk
  // io_uring only: sends as IORING_OP_SENDMSG_ZC (the kernel reads the pages in place and
  // posts a second completion when it no longer needs them; on_sent waits for that). For
  // measuring it (bench/relay --send-zc); the proxy and services do not set it.
  bool send_zc = false;
};

class Loop {
 public:
  virtual ~Loop() = default;

  // Creates a loop for `options.mode`. kAuto tries io_uring (setup + op probe) and falls
  // back to epoll; the reason for a fallback is stored in *fallback_reason (else cleared).
  // Setting environment RINGWAY_IO_URING_FAIL=<errno name> (e.g. EPERM) makes the io_uring
  // probe fail as if the kernel had refused it: tests use it to exercise the fallback.
  // REQUIRES: called on the thread that will call run() (an io_uring ring set up with
  // SINGLE_ISSUER accepts submissions only from its creator).
  // Returns: nullptr only when the requested backend cannot start; *error says why.
  static std::unique_ptr<Loop> create(const LoopOptions& options, std::string* fallback_reason,
                                      std::string* error);

  // "io_uring" or "epoll".
  virtual const char* backend_name() const = 0;
  // Most bytes one on_data() delivers (LoopOptions::recv_buffer_size).
  virtual unsigned recv_buffer_size() const = 0;

  // Registers an fd (made non-blocking by the loop) with its handler. The loop owns the
  // fd from here on and closes it in close().
  virtual Socket* add(int fd, SocketHandler* handler) = 0;
  // Replaces the handler of a registered socket (e.g. an upstream connection moving
  // between pool and request).
  virtual void set_handler(Socket* s, SocketHandler* handler) = 0;

  // Starts multishot accept on a listening socket.
  virtual void start_accept(Socket* s) = 0;
  // Starts (or resumes) delivering received bytes through on_data.
  virtual void start_recv(Socket* s) = 0;
  // Stops delivering bytes (backpressure). On io_uring already-received chunks may still
  // arrive after this call (at most one buffer once the socket is paced); the handler must
  // accept them.
  virtual void pause_recv(Socket* s) = 0;
  // Paces a socket whose bytes may outrun their reader (an upstream streaming a response to
  // a slow client): io_uring arms one recv per buffer instead of a multishot recv, so a pause
  // takes effect after at most one more buffer. Sockets are paced after their first pause
  // anyway. epoll reads on demand and needs nothing.
  virtual void pace_recv(Socket* s) { (void)s; }
  // Sends all bytes of iov[0..iovcnt) (iovcnt <= kMaxIov); the memory must stay valid
  // until on_sent. REQUIRES: no other send outstanding on this socket.
  static constexpr int kMaxIov = 8;
  virtual void send(Socket* s, const iovec* iov, int iovcnt) = 0;
  // Moves exactly `len` bytes received on `from` to `to` inside the kernel: splice(2) through
  // a pipe the loop lends, so they are never copied to user space. Completes once through
  // from's on_spliced; closing either socket cancels it without a callback.
  // REQUIRES: no recv wanted or outstanding on `from` (a paced socket paused inside its
  // on_data has none), no send outstanding on `to`, and none started until on_spliced.
  // splice(2) cannot pass MSG_NOSIGNAL: the process must ignore SIGPIPE (every Ringway binary
  // does, base/process_signals.h), or a peer that reset kills it.
  // Returns: false, with nothing started, when no pipe can be had (EMFILE) or the REQUIRES
  // on `from` do not hold (a recv still armed): copy instead.
  virtual bool splice(Socket* from, Socket* to, uint64_t len) = 0;
  // Bytes the splice running from `from` has delivered so far (0 without one): progress for
  // a caller's timeouts, which see no data callbacks meanwhile.
  virtual uint64_t splice_progress(const Socket* from) const = 0;
  // Bytes that splice has read from `from` and `to` has not taken yet (0 without one): with
  // no progress, bytes waiting here mean the sink is the side that stalled.
  virtual size_t splice_backlog(const Socket* from) const = 0;
  // Starts a non-blocking connect; completes through on_connected.
  virtual void connect(Socket* s, const sockaddr* addr, socklen_t len) = 0;
  // Half-closes the write side (shutdown(SHUT_WR)) once outstanding sends are done.
  virtual void shutdown_write(Socket* s) = 0;
  // Cancels everything outstanding on the socket and closes its fd. After this call the
  // handler gets no more callbacks and may be destroyed; the Socket* is invalid.
  virtual void close(Socket* s) = 0;
  virtual int fd(const Socket* s) const = 0;

  // Timers: fire `timer` once at now + after (coarse, millisecond resolution).
  void add_timer(Timer* timer, base::Millis after) { timers_.add(timer, now() + after); }
  void cancel_timer(Timer* timer) { timers_.cancel(timer); }
  // The loop's cached clock, refreshed once per turn (cheap: no syscall per read).
  base::TimePoint now() const { return now_; }

  // Runs until stop(). Each turn: submit batched work, wait for completions or the next
  // timer, dispatch completions, fire due timers, run posted tasks.
  virtual void run() = 0;
  // Thread-safe: makes run() return after the current turn.
  void stop();
  // Lets run() be entered again after stop(): the exchange fuzzer drives one loop in rounds.
  void clear_stop() { stop_.store(false, std::memory_order_release); }
  // Thread-safe: runs `task` on the loop thread during its next turn.
  void post(std::function<void()> task);

  const LoopStats& stats() const { return stats_; }

 protected:
  Loop();
  // Backend hook: wakes a blocked wait from another thread.
  virtual void wake() = 0;
  // Runs posted tasks and due timers; returns the time until the next timer (or -1).
  int run_housekeeping();
  // Arms the once-a-second BufferPool::trim() if the pool wants it; returns the time until the
  // next timer (or -1). For a backend that gives buffers back between housekeeping and wait.
  int arm_trim_and_next_wait();
  void refresh_clock() { now_ = base::Clock::now(); }
  bool stopping() const { return stop_.load(std::memory_order_acquire); }

  LoopStats stats_;
  TimerSet timers_;

 private:
  base::TimePoint now_;
  std::mutex post_mu_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_;
  // Checked every turn without taking the mutex; set by other threads.
  std::atomic<bool> has_posted_{false};
  std::atomic<bool> stop_{false};
  Timer trim_buffers_;  // BufferPool::trim() once a second while it has work
};

}  // namespace ringway::net
